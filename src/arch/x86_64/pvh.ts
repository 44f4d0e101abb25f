// The PVH boot protocol (Xen's, used by Linux's PVH entry and by Firecracker/Cloud Hypervisor):
// the vCPU starts in 32-bit protected mode, paging off, at the kernel's PHYS32_ENTRY note, with
// %ebx pointing at an hvm_start_info structure (command line, memory map, initrd module).
import type { GuestMemory } from "../../memory/guest-memory.js";
import type { VcpuFd } from "../../kvm/kvm.js";
import type { E820Entry } from "./e820.js";
import {
  CMDLINE_ADDR,
  CMDLINE_MAX,
  PVH_MEMMAP_ADDR,
  PVH_MODLIST_ADDR,
  PVH_START_INFO_ADDR,
  TRAMPOLINE_ADDR as TRAMPOLINE,
} from "./memory-map.js";

export const HVM_START_MAGIC = 0x336e_c578;
const PVH_GDT_ADDR = 0x520n;
/** Bound: entries of the memory map (they must fit in the page at PVH_MEMMAP_ADDR). */
const MEMMAP_MAX_ENTRIES = 128;

/**
 * Writes the NUL-terminated command line at CMDLINE_ADDR (both boot protocols point at it).
 * Bound: shorter than CMDLINE_MAX bytes and than `limit` (the kernel's cmdline_size).
 */
export function writeCmdline(mem: GuestMemory, cmdline: string, limit = CMDLINE_MAX - 1): void {
  const cmd = new TextEncoder().encode(cmdline);
  const max = Math.min(CMDLINE_MAX - 1, limit);
  if (cmd.length > max) throw new RangeError(`command line longer than ${max} bytes`);
  mem.write(CMDLINE_ADDR, Uint8Array.from([...cmd, 0]));
}

export interface PvhBoot {
  e820: E820Entry[];
  initrd?: { addr: bigint; size: number };
}

/**
 * Writes hvm_start_info (version 1), its memory map and module list; the command line must be
 * written already (writeCmdline). Returns the start_info address, for %ebx.
 * Bound: at most MEMMAP_MAX_ENTRIES memory map entries.
 */
export function writePvhStartInfo(mem: GuestMemory, b: PvhBoot): bigint {
  if (b.e820.length > MEMMAP_MAX_ENTRIES) throw new RangeError("too many memory map entries");
  b.e820.forEach(({ addr, size, type }, i) => {
    const o = PVH_MEMMAP_ADDR + BigInt(i * 24);
    mem.writeU64(o, addr);
    mem.writeU64(o + 8n, size);
    mem.writeU32(o + 16n, type);
    mem.writeU32(o + 20n, 0);
  });
  if (b.initrd) {
    mem.writeU64(PVH_MODLIST_ADDR, b.initrd.addr);
    mem.writeU64(PVH_MODLIST_ADDR + 8n, BigInt(b.initrd.size));
    mem.writeU64(PVH_MODLIST_ADDR + 16n, 0n);
    mem.writeU64(PVH_MODLIST_ADDR + 24n, 0n);
  }
  const s = PVH_START_INFO_ADDR;
  mem.zero(s, 56);
  mem.writeU32(s, HVM_START_MAGIC);
  mem.writeU32(s + 4n, 1); // version 1: has the memory map
  mem.writeU32(s + 12n, b.initrd ? 1 : 0);
  mem.writeU64(s + 16n, b.initrd ? PVH_MODLIST_ADDR : 0n);
  mem.writeU64(s + 24n, CMDLINE_ADDR);
  mem.writeU64(s + 40n, PVH_MEMMAP_ADDR);
  mem.writeU32(s + 48n, b.e820.length);
  return s;
}

const TRAMPOLINE_ADDR = Number(TRAMPOLINE);

/**
 * Real-mode code that switches to flat 32-bit protected mode and jumps to the PVH entry, as a
 * boot loader would. Used where KVM_SET_SREGS cannot put a vCPU straight into unpaged 32-bit
 * mode (measured: a PVM-nested host triple-faults on the first instruction).
 */
function trampoline(entry: number): Uint8Array {
  const gdtr = TRAMPOLINE_ADDR + 0x40;
  const pm32 = TRAMPOLINE_ADDR + 0x20;
  const t = new Uint8Array(0x48);
  // 16-bit: cli; lgdt [gdtr]; mov eax, cr0; or al, 1; mov cr0, eax; jmp dword 0x08:pm32
  t.set(
    [
      0xfa,
      0x0f,
      0x01,
      0x16,
      gdtr & 0xff,
      gdtr >> 8,
      0x0f,
      0x20,
      0xc0,
      0x0c,
      0x01,
      0x0f,
      0x22,
      0xc0,
    ],
    0,
  );
  t.set([0x66, 0xea, pm32 & 0xff, (pm32 >> 8) & 0xff, 0, 0, 0x08, 0x00], 14);
  // 32-bit at pm32: mov ax, 0x10; mov ds/es/ss/fs/gs, ax; mov eax, entry; jmp eax
  t.set([0x66, 0xb8, 0x10, 0x00, 0x8e, 0xd8, 0x8e, 0xc0, 0x8e, 0xd0, 0x8e, 0xe0, 0x8e, 0xe8], 0x20);
  t.set(
    [
      0xb8,
      entry & 0xff,
      (entry >> 8) & 0xff,
      (entry >> 16) & 0xff,
      (entry >>> 24) & 0xff,
      0xff,
      0xe0,
    ],
    0x2e,
  );
  // gdtr: limit 23, base PVH_GDT_ADDR
  const g = Number(PVH_GDT_ADDR);
  t.set([23, 0, g & 0xff, (g >> 8) & 0xff, 0, 0], 0x40);
  return t;
}

/**
 * Starts the vCPU in real mode on a trampoline that enters flat 32-bit protected mode and
 * jumps to `entry` with %ebx = start_info (the PVH register state).
 */
export function enterPvhViaTrampoline(
  mem: GuestMemory,
  vcpu: VcpuFd,
  entry: number,
  startInfo: bigint,
): void {
  mem.writeU64(PVH_GDT_ADDR, 0n);
  mem.writeU64(PVH_GDT_ADDR + 8n, 0x00cf_9b00_0000_ffffn);
  mem.writeU64(PVH_GDT_ADDR + 16n, 0x00cf_9300_0000_ffffn);
  mem.write(BigInt(TRAMPOLINE_ADDR), trampoline(entry));
  vcpu.editSregs((s) => {
    s.writeBigUInt64LE(0n, 0); // cs.base
    s.writeUInt16LE(0, 12); // cs.selector
  });
  vcpu.setRegs({ rip: BigInt(TRAMPOLINE_ADDR), rbx: startInfo, rflags: 2n });
}
