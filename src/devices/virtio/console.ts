// virtio-console with one port (virtio 1.2, section 5.3; no MULTIPORT: the guest sees
// /dev/hvc0). Guest output goes to a sink the VMM gives; host input waits in a bounded queue
// until the guest offers receive buffers. The model owns no I/O.
import { gather, scatter, type SplitQueue } from "./queue.js";
import { DeviceId, type VirtioContext, type VirtioDevice } from "./device.js";
import { InputQueue } from "../input-queue.js";
import type { DeviceState } from "../device-state.js";

const RECEIVEQ = 0;
const TRANSMITQ = 1;
const QUEUE_SIZE = 64;
/** Bound: bytes of one transmit chain (Linux sends at most a page at a time). */
const MAX_CHAIN = 64 * 1024;

export class VirtioConsole implements VirtioDevice {
  readonly deviceId = DeviceId.Console;
  readonly features = 0n;
  readonly queueMaxSizes = [QUEUE_SIZE, QUEUE_SIZE];
  readonly maxChainBytes = MAX_CHAIN;
  private ctx: VirtioContext | undefined;
  private queues: readonly (SplitQueue | undefined)[] = [];
  private readonly input = new InputQueue();
  private resume: (() => void) | undefined;

  constructor(
    readonly name: string,
    /** Receives what the guest writes to the port. */
    private readonly sink: (bytes: Uint8Array) => void,
  ) {}

  configRead(): bigint {
    return 0n; // cols/rows/max_nr_ports are not offered (no SIZE, no MULTIPORT)
  }

  configWrite(): void {}

  /**
   * Nothing of its own: input queued here and not yet in a guest buffer is the host's (its
   * sender is not attached to the restored VM) and is not saved.
   */
  saveState(): DeviceState {
    return {};
  }

  loadState(): void {}

  activate(ctx: VirtioContext, queues: readonly (SplitQueue | undefined)[]): void {
    this.ctx = ctx;
    this.queues = queues;
    this.deliver();
  }

  reset(): void {
    this.ctx = undefined;
    this.queues = [];
  }

  notify(q: number): void {
    if (q === TRANSMITQ) this.transmit();
    else if (q === RECEIVEQ) this.deliver();
  }

  /**
   * Host input for the guest. Returns false when the producer should pause until `resume`
   * runs (the queue holds 64 KiB at most, as the serial console's).
   */
  sendInput(data: Uint8Array, resume: () => void): boolean {
    const more = this.input.push(data);
    if (!more) this.resume = resume;
    this.deliver();
    return more;
  }

  private transmit(): void {
    const ctx = this.ctx;
    const q = this.queues[TRANSMITQ];
    if (!ctx || !q) return;
    for (let chain = q.pop(); chain; chain = q.pop()) {
      if (chain.writableBytes > 0)
        throw new Error(`transmit chain ${chain.head} has writable buffers`);
      this.sink(gather(ctx.mem, chain.readable, 0, chain.readableBytes));
      q.push(chain.head, 0);
    }
    ctx.used(TRANSMITQ);
  }

  /** Moves queued host input into the receive buffers the guest has offered. */
  private deliver(): void {
    const ctx = this.ctx;
    const q = this.queues[RECEIVEQ];
    if (!ctx || !q) return;
    let delivered = false;
    try {
      while (this.input.size > 0 && q.hasAvailable()) {
        const chain = q.pop()!;
        if (chain.readableBytes > 0) {
          throw new Error(`receive chain ${chain.head} has readable buffers`);
        }
        const bytes = this.input.take(chain.writableBytes);
        scatter(ctx.mem, chain.writable, 0, bytes);
        q.push(chain.head, bytes.length);
        delivered = true;
      }
    } catch (e) {
      // Also reached from host input, outside the transport's guard.
      ctx.fail((e as Error).message);
      return;
    }
    if (delivered) ctx.used(RECEIVEQ);
    if (this.resume && this.input.size < 16 * 1024) {
      const r = this.resume;
      this.resume = undefined;
      r();
    }
  }
}
