// pvpanic (QEMU's interface, Linux's pvpanic-mmio driver): the guest kernel reports that it
// panicked, so the VMM can end the VM with an error instead of waiting on a dead guest.
import type { MmioDevice } from "../bus/mmio-bus.js";

export const PVPANIC_PANICKED = 1;

export class PvPanic implements MmioDevice {
  constructor(private readonly onPanic: () => void) {}

  /** Reads the events the device supports: only "panicked". */
  read(_offset: number, _size: number): bigint {
    return BigInt(PVPANIC_PANICKED);
  }

  /** Offset 0, bit 0: the kernel panicked. Anything else is ignored. */
  write(offset: number, _size: number, value: bigint): void {
    if (offset === 0 && (value & BigInt(PVPANIC_PANICKED)) !== 0n) this.onPanic();
  }
}
