// moat's control block (the test finisher) wired to a VM's end, boot mark and console: the same
// on every machine.
import { TestFinisher } from "../devices/legacy/test-finisher.js";
import type { SerialConsole } from "./serial-console.js";
import type { VmExit } from "./vm-exit.js";

/** The control block: power-off with the guest's status, reset, boot mark, input ready. */
export function controlBlock(
  end: (e: VmExit) => void,
  console: SerialConsole,
  bootMark: () => void,
): TestFinisher {
  return new TestFinisher({
    powerOff: (status) => end({ reason: "poweroff", status }),
    reset: () => end({ reason: "reset", status: 0 }),
    bootMark,
    inputReady: () => console.release(),
  });
}
