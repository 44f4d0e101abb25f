// The driver side of virtio-mmio set-up for device unit tests: negotiate VERSION_1 and bring
// the given queues up, as a guest driver would.
import type { VirtioMmio } from "../../src/devices/virtio/mmio-transport.js";

export interface TestQueue {
  index: number;
  size: number;
  desc: bigint;
  avail: bigint;
  used: bigint;
}

/**
 * Brings `t` to DRIVER_OK with VERSION_1, the device feature bits 0-31 in `lowFeatures` (none
 * by default) and `queues` set up; returns a register writer.
 */
export function driveUp(
  t: VirtioMmio,
  queues: TestQueue[],
  lowFeatures = 0,
): (off: number, v: number | bigint) => void {
  const w = (off: number, v: number | bigint) => t.write(off, 4, BigInt(v));
  w(0x70, 3);
  w(0x24, 0);
  w(0x20, lowFeatures);
  w(0x24, 1);
  w(0x20, 1);
  w(0x70, 11);
  for (const q of queues) {
    w(0x30, q.index);
    w(0x38, q.size);
    w(0x80, q.desc);
    w(0x90, q.avail);
    w(0xa0, q.used);
    w(0x44, 1);
  }
  w(0x70, 15);
  return w;
}
