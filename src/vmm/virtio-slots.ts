// Puts a VM's virtio devices into its virtio-mmio slots: one transport per device, mapped at
// base + slot * stride on the MMIO bus, its interrupt line given by the machine.
import type { MmioBus } from "../bus/mmio-bus.js";
import type { GuestMemory } from "../memory/guest-memory.js";
import type { VirtioDevice } from "../devices/virtio/device.js";
import { VirtioMmio } from "../devices/virtio/mmio-transport.js";
import { limitedLog, type DeviceLogFields } from "../devices/log-limiter.js";
import { textLog } from "./vmm-logger.js";

export interface VirtioSlots {
  base: bigint;
  stride: bigint;
  /** Slots in all: the VM's own and the machine's (the power button). */
  slots: number;
  /** Drives slot `slot`'s interrupt line. */
  setIrq(slot: number, level: boolean): void;
}

/** Where a device's rate-limited lines go. */
export type DeviceLineSink = (line: string, fields: DeviceLogFields) => void;

/** A device in its slot. */
export interface SlotDevice {
  slot: number;
  device: VirtioDevice;
}

/**
 * The machine's slots: the VM's own devices from slot 0, then the machine's power button (when
 * it has one) in slot `ownSlots`, after all of theirs. Bound: at most `ownSlots` of the VM's own.
 */
export function slotTable(
  own: readonly VirtioDevice[],
  ownSlots: number,
  powerButton?: VirtioDevice,
): SlotDevice[] {
  if (own.length > ownSlots) {
    throw new RangeError(`at most ${ownSlots} virtio devices, not ${own.length}`);
  }
  const table = own.map((device, slot) => ({ slot, device }));
  if (powerButton) table.push({ slot: ownSlots, device: powerButton });
  return table;
}

/**
 * Maps each device in its slot; returns their transports, in the same order. Bound: slots
 * below `layout.slots`; each device's lines reach `log` rate-limited (LOG_BURST, then
 * LOG_PER_MINUTE per kind of line, on the clock `now`), whatever the guest makes it do. The
 * guest causes them (a device it broke): the VM process logs them as warnings.
 */
export function attachVirtio(
  bus: MmioBus,
  mem: GuestMemory,
  devices: readonly SlotDevice[],
  layout: VirtioSlots,
  log: DeviceLineSink = (line, fields) => textLog.warn(line, { ...fields }),
  now?: () => number,
): VirtioMmio[] {
  return devices.map(({ slot, device }) => {
    if (!Number.isInteger(slot) || slot < 0 || slot >= layout.slots)
      throw new RangeError(`virtio slot ${slot} does not exist (0..${layout.slots - 1})`);
    const transport = new VirtioMmio(
      device,
      mem,
      (level) => layout.setIrq(slot, level),
      limitedLog(device.name, log, now),
    );
    bus.map(layout.base + BigInt(slot) * layout.stride, layout.stride, device.name, transport);
    return transport;
  });
}
