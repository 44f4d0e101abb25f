// The PVH boot protocol (Xen's, used by Linux's PVH entry and by Firecracker/Cloud Hypervisor):
// the vCPU starts in 32-bit protected mode, paging off, at the kernel's PHYS32_ENTRY note, with
// %ebx pointing at an hvm_start_info structure (command line, memory map, initrd module).
import type { GuestMemory } from "../../memory/guest-memory.js";
import type { VcpuFd } from "../../kvm/kvm.js";

export const HVM_START_MAGIC = 0x336e_c578;
export const START_INFO_ADDR = 0x6000n;
const MEMMAP_ADDR = 0x7000n;
const MODLIST_ADDR = 0x7800n;
export const CMDLINE_ADDR = 0x2_0000n;
export const CMDLINE_MAX = 4096;
const PVH_GDT_ADDR = 0x520n;
const E820_RAM = 1;
const E820_RESERVED = 2;
/** Conventional memory ends here; the BIOS area up to 1 MiB is reserved. */
const LOW_RAM_END = 0x9_fc00n;
const HIGH_RAM_START = 0x10_0000n;

export interface PvhBoot {
  ramBytes: number;
  cmdline: string;
  initrd?: { addr: bigint; size: number };
}

/**
 * Writes hvm_start_info, the memory map and the command line. Returns the start_info address
 * (for %ebx). Bounds: command line < CMDLINE_MAX bytes; RAM at least 2 MiB.
 */
export function writePvhStartInfo(mem: GuestMemory, b: PvhBoot): bigint {
  const cmd = new TextEncoder().encode(b.cmdline);
  if (cmd.length >= CMDLINE_MAX)
    throw new RangeError(`command line longer than ${CMDLINE_MAX - 1} bytes`);
  if (b.ramBytes < 2 * 1024 * 1024) throw new RangeError("PVH guests need at least 2 MiB of RAM");
  mem.write(CMDLINE_ADDR, Uint8Array.from([...cmd, 0]));
  const map: [bigint, bigint, number][] = [
    [0n, LOW_RAM_END, E820_RAM],
    [LOW_RAM_END, HIGH_RAM_START - LOW_RAM_END, E820_RESERVED],
    [HIGH_RAM_START, BigInt(b.ramBytes) - HIGH_RAM_START, E820_RAM],
  ];
  map.forEach(([addr, size, type], i) => {
    const o = MEMMAP_ADDR + BigInt(i * 24);
    mem.writeU64(o, addr);
    mem.writeU64(o + 8n, size);
    mem.writeU32(o + 16n, type);
    mem.writeU32(o + 20n, 0);
  });
  if (b.initrd) {
    mem.writeU64(MODLIST_ADDR, b.initrd.addr);
    mem.writeU64(MODLIST_ADDR + 8n, BigInt(b.initrd.size));
    mem.writeU64(MODLIST_ADDR + 16n, 0n);
    mem.writeU64(MODLIST_ADDR + 24n, 0n);
  }
  const s = START_INFO_ADDR;
  mem.zero(s, 56);
  mem.writeU32(s, HVM_START_MAGIC);
  mem.writeU32(s + 4n, 1); // version 1: has the memory map
  mem.writeU32(s + 12n, b.initrd ? 1 : 0);
  mem.writeU64(s + 16n, b.initrd ? MODLIST_ADDR : 0n);
  mem.writeU64(s + 24n, CMDLINE_ADDR);
  mem.writeU64(s + 40n, MEMMAP_ADDR);
  mem.writeU32(s + 48n, map.length);
  return s;
}

const TRAMPOLINE_ADDR = 0x7000;

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
