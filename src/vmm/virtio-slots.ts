// Puts a VM's virtio devices into its virtio-mmio slots: one transport per device, mapped at
// base + slot * stride on the MMIO bus, its interrupt line given by the machine.
import type { MmioBus } from "../bus/mmio-bus.js";
import type { GuestMemory } from "../memory/guest-memory.js";
import type { VirtioDevice } from "../devices/virtio/device.js";
import { VirtioMmio } from "../devices/virtio/mmio-transport.js";
import { limitedLog } from "../devices/log-limiter.js";

export interface VirtioSlots {
  base: bigint;
  stride: bigint;
  slots: number;
  /** Drives slot `slot`'s interrupt line. */
  setIrq(slot: number, level: boolean): void;
}

/**
 * Maps `devices` in slot order; returns their transports. Bound: at most `layout.slots`; each
 * device's lines reach `log` rate-limited (LOG_BURST, then LOG_PER_MINUTE per kind of line,
 * on the clock `now`), whatever the guest makes it do.
 */
export function attachVirtio(
  bus: MmioBus,
  mem: GuestMemory,
  devices: readonly VirtioDevice[],
  layout: VirtioSlots,
  log: (line: string) => void = (line) => process.stderr.write(`moat: ${line}\n`),
  now?: () => number,
): VirtioMmio[] {
  if (devices.length > layout.slots) {
    throw new RangeError(`at most ${layout.slots} virtio devices, not ${devices.length}`);
  }
  return devices.map((dev, slot) => {
    const transport = new VirtioMmio(
      dev,
      mem,
      (level) => layout.setIrq(slot, level),
      limitedLog(dev.name, log, now),
    );
    bus.map(layout.base + BigInt(slot) * layout.stride, layout.stride, dev.name, transport);
    return transport;
  });
}
