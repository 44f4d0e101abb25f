// Just enough of the PC keyboard controller for a guest to reset the machine (Linux writes
// 0xfe, "pulse reset", to the command port 0x64). No keyboard: reads say "nothing here".
import type { MmioDevice } from "../../bus/mmio-bus.js";

export const I8042_DATA_PORT = 0x60;
export const I8042_COMMAND_PORT = 0x64;
const CMD_RESET = 0xfe;

/** Mapped at ports 0x60..0x64 (offset 0 = data, offset 4 = status/command). */
export class I8042 implements MmioDevice {
  constructor(private readonly onReset: () => void) {}

  read(_offset: number, _size: number): bigint {
    return 0n; // status: output and input buffers empty; data: 0
  }

  write(offset: number, _size: number, value: bigint): void {
    if (offset === 4 && (value & 0xffn) === BigInt(CMD_RESET)) this.onReset();
  }
}
