// How a VM ends, the same on every machine: the first end wins, the accelerator (and whatever
// else the VM runs) is torn down, then `finished` resolves with the exit and the boot mark.
import type { VmExit } from "./vm-exit.js";

export class VmLifecycle {
  readonly finished: Promise<VmExit>;
  private done!: (e: VmExit) => void;
  private ended = false;
  private bootMarkMs: number | undefined;

  constructor() {
    this.finished = new Promise((r) => (this.done = r));
  }

  /** Whether the guest has said its userspace started. */
  get userspaceStarted(): boolean {
    return this.bootMarkMs !== undefined;
  }

  /** The guest's userspace has started (the first mark counts). */
  markBoot(): void {
    this.bootMarkMs ??= performance.now();
  }

  /** Ends the VM once: `extra` is taken before `teardown` runs, `finished` resolves after. */
  end(
    e: VmExit,
    teardown: () => Promise<unknown>,
    extra: () => Partial<VmExit> = () => ({}),
  ): void {
    if (this.ended) return;
    this.ended = true;
    const more = extra();
    void teardown().then(() =>
      this.done({
        ...e,
        ...more,
        ...(this.bootMarkMs !== undefined ? { bootMarkMs: this.bootMarkMs } : {}),
      }),
    );
  }
}
