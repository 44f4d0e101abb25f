// Connects a VM's console to the host terminal or pipes: raw mode on a TTY (restored on every
// exit path), the Ctrl-A escape (x quits, as in QEMU), piped input with end-of-file passed on as
// ^D, and bounded output buffering.

import type { TerminalFilter } from "./terminal-filter.js";

export const ESCAPE = 0x01; // Ctrl-A
/** Guest output waiting for a slow stdout beyond this is dropped (and counted). */
export const OUTPUT_LIMIT = 4 * 1024 * 1024;

export interface ConsoleTarget {
  sendInput(data: Uint8Array, resume: () => void): boolean;
  stop(status: number, detail: string): void;
}

export class HostConsole {
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private flushQueued = false;
  private dropped = 0;
  private waitingDrain = false;
  private escape = false;
  private rawMode = false;
  private target: ConsoleTarget | undefined;
  private readonly onData = (chunk: Buffer): void => this.input(chunk);
  private readonly onEnd = (): void => {
    // Canonical-mode readers in the guest see ^D at the start of a line as end of file.
    this.target?.sendInput(Uint8Array.of(0x04), () => {});
  };
  private readonly restore = (): void => this.restoreTerminal();
  private outputClosed = false;
  // The reader of our stdout went away (`moat run ... | head -1`): like a program that gets
  // SIGPIPE, the VM stops with 128 + 13, and nothing more is written.
  private readonly onOutputError = (e: NodeJS.ErrnoException): void => {
    this.outputClosed = true;
    this.pending = [];
    this.pendingBytes = 0;
    this.target?.stop(141, `stdout: ${e.code ?? e.message}`);
  };

  /** `filter`: what of the guest's output may reach stdout (a terminal), if not every byte. */
  constructor(
    private readonly stdin: NodeJS.ReadStream = process.stdin,
    private readonly stdout: NodeJS.WriteStream = process.stdout,
    private readonly filter?: TerminalFilter,
  ) {}

  get interactive(): boolean {
    return this.stdin.isTTY === true;
  }

  /** Guest output: batched per tick, bounded by OUTPUT_LIMIT while stdout is slow. */
  write(guest: Uint8Array): void {
    if (this.outputClosed) return;
    const bytes = this.filter ? this.filter.write(guest) : guest;
    if (bytes.length === 0) return;
    if (this.pendingBytes + bytes.length > OUTPUT_LIMIT) {
      this.dropped += bytes.length;
      return;
    }
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
    if (!this.flushQueued) {
      this.flushQueued = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushQueued = false;
    if (this.outputClosed) return;
    if (this.waitingDrain || this.pending.length === 0) return;
    const data = Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    if (!this.stdout.write(data)) {
      this.waitingDrain = true;
      this.stdout.once("drain", () => {
        this.waitingDrain = false;
        this.flush();
      });
    }
  }

  /** Writes out whatever is still buffered (at VM exit). */
  async drain(): Promise<void> {
    this.flush();
    if (this.outputClosed) return;
    if (this.waitingDrain || this.stdout.writableNeedDrain) {
      await new Promise<void>((r) => this.stdout.once("drain", () => r()));
      this.waitingDrain = false;
      this.flush();
    }
  }

  get droppedBytes(): number {
    return this.dropped;
  }

  /** Starts passing host input to `target`. */
  attach(target: ConsoleTarget): void {
    this.target = target;
    this.stdout.on("error", this.onOutputError);
    if (this.interactive) {
      this.stdin.setRawMode(true);
      this.rawMode = true;
      process.on("exit", this.restore);
    }
    this.stdin.on("data", this.onData);
    this.stdin.on("end", this.onEnd);
    this.stdin.resume();
  }

  detach(): void {
    this.stdin.off("data", this.onData);
    this.stdin.off("end", this.onEnd);
    this.stdin.pause();
    // Keep swallowing late EPIPEs from writes still in flight.
    this.restoreTerminal();
    process.off("exit", this.restore);
    this.target = undefined;
  }

  private restoreTerminal(): void {
    if (this.rawMode) {
      this.stdin.setRawMode(false);
      this.rawMode = false;
    }
  }

  private input(chunk: Buffer): void {
    const t = this.target;
    if (!t) return;
    let data: Uint8Array = chunk;
    if (this.interactive) {
      const out: number[] = [];
      for (const b of chunk) {
        if (this.escape) {
          this.escape = false;
          if (b === 0x78 /* x */ || b === 0x58) {
            this.stdout.write("\r\nmoat: terminated (Ctrl-A x)\r\n");
            t.stop(0, "Ctrl-A x");
            return;
          }
          if (b === 0x68 /* h */) {
            this.stdout.write("\r\nCtrl-A x  quit\r\nCtrl-A a  send Ctrl-A\r\n");
            continue;
          }
          if (b === ESCAPE || b === 0x61 /* a */) out.push(ESCAPE);
          else out.push(ESCAPE, b);
          continue;
        }
        if (b === ESCAPE) this.escape = true;
        else out.push(b);
      }
      data = Uint8Array.from(out);
    }
    if (data.length === 0) return;
    if (!t.sendInput(data, () => this.stdin.resume())) this.stdin.pause();
  }
}
