// A split virtqueue at fixed places in a small guest RAM, for device-model tests that play the
// driver by hand: descriptor table at DESC, available ring at AVAIL, used ring at USED.
import { GuestMemory } from "../../src/memory/guest-memory.js";
import { SplitQueue } from "../../src/devices/virtio/queue.js";

export const DESC = 0x1000n;
export const AVAIL = 0x2000n;
export const USED = 0x3000n;

/**
 * Guest RAM of `ramBytes` at address 0 (or `mem`, its rings zeroed: a driver setting the queue up
 * again after a reset) and a queue of `size` entries (no EVENT_IDX, no indirect).
 */
export function queueInRam(
  ramBytes: number,
  size: number,
  maxChainBytes: number,
  mem = new GuestMemory(0n, new Uint8Array(ramBytes)),
): { mem: GuestMemory; q: SplitQueue } {
  mem.write(DESC, new Uint8Array(Number(USED - DESC) + 0x1000));
  const q = new SplitQueue(mem, {
    size,
    desc: DESC,
    avail: AVAIL,
    used: USED,
    eventIdx: false,
    indirect: false,
    maxChainBytes,
  });
  return { mem, q };
}
