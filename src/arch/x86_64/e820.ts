// The guest's physical memory map as both x86 boot protocols describe it (e820 entries): low
// RAM, the reserved BIOS area with the MP table, RAM from 1 MiB to the end (below the MMIO
// hole, which is simply absent from the map).
import { HIGH_RAM_START, LOW_RAM_END, RAM_MAX_BYTES } from "./memory-map.js";

export const E820_RAM = 1;
export const E820_RESERVED = 2;

export interface E820Entry {
  addr: bigint;
  size: bigint;
  type: number;
}

/** The map for `ramBytes` of RAM. Bounds: 2 MiB <= ramBytes <= RAM_MAX_BYTES. */
export function e820Map(ramBytes: number): E820Entry[] {
  if (ramBytes < 2 * 1024 * 1024) throw new RangeError("x86-64 guests need at least 2 MiB of RAM");
  if (ramBytes > RAM_MAX_BYTES) {
    throw new RangeError(
      `x86-64 guest RAM is limited to ${RAM_MAX_BYTES / 2 ** 20} MiB (the MMIO hole)`,
    );
  }
  return [
    { addr: 0n, size: LOW_RAM_END, type: E820_RAM },
    { addr: LOW_RAM_END, size: HIGH_RAM_START - LOW_RAM_END, type: E820_RESERVED },
    { addr: HIGH_RAM_START, size: BigInt(ramBytes) - HIGH_RAM_START, type: E820_RAM },
  ];
}
