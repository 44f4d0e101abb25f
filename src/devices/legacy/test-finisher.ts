// moat's control register block at 0x10_0000, compatible with QEMU's sifive_test: the guest
// powers off (with an exit status), resets, or reports that its userspace has started.
import type { MmioDevice } from "../../bus/mmio-bus.js";

export const FINISHER_PASS = 0x5555;
export const FINISHER_FAIL = 0x3333;
export const FINISHER_RESET = 0x7777;
export const CTL_BOOT_MARK = 0x8;
export const CTL_INPUT_READY = 0xc;

export interface FinisherEvents {
  /** Power off; `status` 0..65535 (the guest's exit status). */
  powerOff(status: number): void;
  reset(): void;
  bootMark(): void;
  /** The guest's command has set up its terminal and may be sent input. */
  inputReady(): void;
}

export class TestFinisher implements MmioDevice {
  constructor(private readonly events: FinisherEvents) {}

  read(_offset: number, _size: number): bigint {
    return 0n;
  }

  /** Offset 0: 0x5555 pass, 0x7777 reset, (code << 16) | 0x3333 fail with code; other values ignored. */
  write(offset: number, _size: number, value: bigint): void {
    const v = Number(value & 0xffff_ffffn);
    if (offset === 0) {
      const kind = v & 0xffff;
      if (kind === FINISHER_PASS) this.events.powerOff(0);
      else if (kind === FINISHER_FAIL) this.events.powerOff(v >>> 16);
      else if (kind === FINISHER_RESET) this.events.reset();
    } else if (offset === CTL_BOOT_MARK) {
      this.events.bootMark();
    } else if (offset === CTL_INPUT_READY) {
      this.events.inputReady();
    }
  }
}
