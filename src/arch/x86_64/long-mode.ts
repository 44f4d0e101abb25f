// Puts an x86-64 vCPU straight into 64-bit long mode, the way a boot loader hands over to a
// 64-bit kernel (the Linux boot protocol's 64-bit entry): a flat GDT with the code segment at
// selector 0x10 and data at 0x18 (the kernel's __BOOT_CS/__BOOT_DS), identity-mapped page
// tables for the first 4 GiB (2 MiB pages), paging and long mode enabled. The tables live in
// the low megabyte (memory-map.ts: GDT_ADDR, PML4_ADDR, PDPT_ADDR, PD_ADDR).
import type { GuestMemory } from "../../memory/guest-memory.js";
import { VcpuFd, type Segment } from "../../kvm/kvm.js";
import { SREGS_CR0, SREGS_CR3, SREGS_CR4, SREGS_EFER, SREGS_GDT } from "../../kvm/abi.js";
import { GDT_ADDR, PD_ADDR, PDPT_ADDR, PML4_ADDR } from "./memory-map.js";

export const CODE64_SELECTOR = 0x10;
export const DATA_SELECTOR = 0x18;
/** Page directories, 1 GiB each: the identity map covers the 32-bit address space. */
const PD_COUNT = 4n;

const CR0_PE = 1n;
const CR0_ET = 1n << 4n;
const CR0_PG = 1n << 31n;
const CR4_PAE = 1n << 5n;
const EFER_LME = 1n << 8n;
const EFER_LMA = 1n << 10n;
const PTE_PRESENT = 1n;
const PTE_WRITE = 2n;
const PTE_HUGE = 1n << 7n;

// GDT descriptors: null, unused, 64-bit code (L=1), flat 4 GiB data.
const GDT = [0n, 0n, 0x00af_9b00_0000_ffffn, 0x00cf_9300_0000_ffffn];

/** Writes the GDT and the page tables into guest memory. Bound: needs RAM up to 0xf000. */
export function writeLongModeTables(mem: GuestMemory): void {
  GDT.forEach((d, i) => mem.writeU64(GDT_ADDR + BigInt(i * 8), d));
  mem.zero(PML4_ADDR, Number(0x2000n + PD_COUNT * 0x1000n));
  mem.writeU64(PML4_ADDR, PDPT_ADDR | PTE_PRESENT | PTE_WRITE);
  for (let d = 0n; d < PD_COUNT; d++) {
    const pd = PD_ADDR + d * 0x1000n;
    mem.writeU64(PDPT_ADDR + d * 8n, pd | PTE_PRESENT | PTE_WRITE);
    for (let i = 0n; i < 512n; i++) {
      const addr = ((d * 512n + i) << 21n) | PTE_PRESENT | PTE_WRITE | PTE_HUGE;
      mem.writeU64(pd + i * 8n, addr);
    }
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
