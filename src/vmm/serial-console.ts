// A VM's serial console: the 16550A model, the bounded queue of host input waiting for it, and
// the "hold input until the guest's command is ready" rule of `moat run CMD`. Shared by the
// riscv64 and x86-64 machines; the machine wires the UART's registers and interrupt line.
import { Uart16550 } from "../devices/legacy/uart16550.js";
import { InputQueue } from "../devices/input-queue.js";
import type { DeviceState, Snapshottable, StateReader } from "../devices/device-state.js";

/** Input below this many queued bytes resumes a paused producer. */
const RESUME_BELOW = 16 * 1024;

export class SerialConsole implements Snapshottable {
  readonly uart: Uart16550;
  private readonly input = new InputQueue();
  private resume: (() => void) | undefined;

  constructor(
    output: (bytes: Uint8Array) => void,
    setIrq: (level: boolean) => void,
    /** True while host input is held back (until the guest's command signals it is ready). */
    private held: boolean,
  ) {
    this.uart = new Uart16550(
      (b) => output(Uint8Array.of(b)),
      setIrq,
      () => this.feed(),
    );
  }

  /** Queues host input. Returns false when the producer should pause until `resume` runs. */
  sendInput(data: Uint8Array, resume: () => void): boolean {
    const more = this.input.push(data);
    this.feed();
    if (!more) this.resume = resume;
    return more;
  }

  /** The guest is ready for input: stop holding it back. */
  release(): void {
    this.held = false;
    this.feed();
  }

  /** One byte for a firmware console read (SBI getchar), or -1. */
  popByte(): number {
    if (this.held) return -1;
    const b = this.input.popByte();
    this.resumeIfLow();
    return b;
  }

  private feed(): void {
    if (this.held) return;
    this.input.drainInto((c) => this.uart.receive(c));
    this.resumeIfLow();
  }

  private resumeIfLow(): void {
    if (this.resume && this.input.size < RESUME_BELOW) {
      const r = this.resume;
      this.resume = undefined;
      r();
    }
  }

  /**
   * The UART and whether input is still held back (the guest's command had not said it was
   * ready). Host input queued here and not yet in the UART is the host's, not the guest's: it
   * is not saved (whoever typed it is not attached to the restored VM).
   */
  saveState(): DeviceState {
    return { uart: this.uart.saveState(), held: this.held };
  }

  loadState(r: StateReader): void {
    const held = r.bool("held");
    this.uart.loadState(r.obj("uart"));
    this.held = held;
  }
}
