// Puts an x86-64 vCPU straight into 64-bit long mode, the way a boot loader hands over to a
// 64-bit kernel: a flat GDT, identity-mapped page tables for the first 1 GiB (2 MiB pages),
// paging and long mode enabled. Layout in guest memory (all below 1 MiB):
//   0x0500 GDT (null, code64, data)   0x9000 PML4   0xa000 PDPT   0xb000 PD
import type { GuestMemory } from "../../memory/guest-memory.js";
import { VcpuFd, type Segment } from "../../kvm/kvm.js";
import { SREGS_CR0, SREGS_CR3, SREGS_CR4, SREGS_EFER, SREGS_GDT } from "../../kvm/abi.js";

export const GDT_ADDR = 0x500n;
export const PML4_ADDR = 0x9000n;
export const PDPT_ADDR = 0xa000n;
export const PD_ADDR = 0xb000n;
export const CODE64_SELECTOR = 0x08;
export const DATA_SELECTOR = 0x10;

const CR0_PE = 1n;
const CR0_ET = 1n << 4n;
const CR0_PG = 1n << 31n;
const CR4_PAE = 1n << 5n;
const EFER_LME = 1n << 8n;
const EFER_LMA = 1n << 10n;
const PTE_PRESENT = 1n;
const PTE_WRITE = 2n;
const PTE_HUGE = 1n << 7n;

// GDT descriptors: 64-bit code (L=1) and flat 4 GiB data.
const GDT = [0n, 0x00af_9b00_0000_ffffn, 0x00cf_9300_0000_ffffn];

/** Writes the GDT and the page tables into guest memory. Bound: needs RAM up to 0xc000. */
export function writeLongModeTables(mem: GuestMemory): void {
  GDT.forEach((d, i) => mem.writeU64(GDT_ADDR + BigInt(i * 8), d));
  mem.zero(PML4_ADDR, 0x3000);
  mem.writeU64(PML4_ADDR, PDPT_ADDR | PTE_PRESENT | PTE_WRITE);
  mem.writeU64(PDPT_ADDR, PD_ADDR | PTE_PRESENT | PTE_WRITE);
  for (let i = 0n; i < 512n; i++) {
    mem.writeU64(PD_ADDR + i * 8n, (i << 21n) | PTE_PRESENT | PTE_WRITE | PTE_HUGE);
  }
}

const code64: Segment = {
  base: 0n,
  limit: 0xfffff,
  selector: CODE64_SELECTOR,
  type: 0xb,
  present: 1,
  dpl: 0,
  db: 0,
  s: 1,
  l: 1,
  g: 1,
};
const data: Segment = {
  base: 0n,
  limit: 0xfffff,
  selector: DATA_SELECTOR,
  type: 0x3,
  present: 1,
  dpl: 0,
  db: 1,
  s: 1,
  l: 0,
  g: 1,
};

/** Loads long-mode control registers and segments into the vCPU (tables must be written). */
export function enterLongMode(vcpu: VcpuFd): void {
  vcpu.editSregs((s) => {
    VcpuFd.putSegment(s, "cs", code64);
    for (const seg of ["ds", "es", "fs", "gs", "ss"] as const) VcpuFd.putSegment(s, seg, data);
    s.writeBigUInt64LE(GDT_ADDR, SREGS_GDT);
    s.writeUInt16LE(GDT.length * 8 - 1, SREGS_GDT + 8);
    s.writeBigUInt64LE(CR0_PE | CR0_ET | CR0_PG, SREGS_CR0);
    s.writeBigUInt64LE(PML4_ADDR, SREGS_CR3);
    s.writeBigUInt64LE(CR4_PAE, SREGS_CR4);
    s.writeBigUInt64LE(EFER_LME | EFER_LMA, SREGS_EFER);
  });
}
