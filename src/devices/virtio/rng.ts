// virtio-rng (virtio 1.2, section 5.4): the guest's entropy source. Each request gets at most
// MAX_PER_REQUEST bytes, and all requests together at most the token bucket's rate; a request
// that finds the bucket empty waits for it to refill instead of being served. The bytes come
// from a source the VMM gives (the host's CSPRNG); the model owns no I/O.
import { scatter, type SplitQueue } from "./queue.js";
import { DeviceId, type VirtioContext, type VirtioDevice } from "./device.js";
import type { TokenBucket } from "../rate-limiter.js";
import type { DeviceState } from "../device-state.js";

/** Bound: bytes given for one request. */
export const MAX_PER_REQUEST = 4096;
const QUEUE_SIZE = 64;

export class VirtioRng implements VirtioDevice {
  readonly deviceId = DeviceId.Entropy;
  readonly features = 0n;
  readonly queueMaxSizes = [QUEUE_SIZE];
  readonly maxChainBytes = 1 << 20;
  private ctx: VirtioContext | undefined;
  private queue: SplitQueue | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private generation = 0;

  constructor(
    readonly name: string,
    private readonly bucket: TokenBucket,
    /** Fills a buffer with random bytes (the VMM passes crypto.randomFillSync). */
    private readonly random: (buf: Uint8Array) => void,
  ) {}

  configRead(): bigint {
    return 0n; // no config space
  }

  configWrite(): void {}

  /** Nothing of its own: the token bucket is the host's (a restored VM starts with it full). */
  saveState(): DeviceState {
    return {};
  }

  loadState(): void {}

  activate(ctx: VirtioContext, queues: readonly (SplitQueue | undefined)[]): void {
    this.ctx = ctx;
    this.queue = queues[0];
  }

  reset(): void {
    this.generation++;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.ctx = undefined;
    this.queue = undefined;
  }

  notify(q: number): void {
    if (q === 0 && !this.timer) this.serve();
  }

  private serve(): void {
    const ctx = this.ctx;
    const queue = this.queue;
    if (!ctx || !queue) return;
    try {
      for (;;) {
        if (!queue.hasAvailable()) return;
        const wait = this.bucket.msUntilNext();
        if (wait > 0) {
          // Empty bucket: come back when it has refilled; the requests stay in the ring.
          const gen = this.generation;
          this.timer = setTimeout(() => {
            this.timer = undefined;
            if (gen === this.generation) this.serve();
          }, wait);
          return;
        }
        const chain = queue.pop();
        if (!chain) return;
        if (chain.readable.length > 0)
          throw new Error(`request ${chain.head} has device-readable buffers`);
        const n = this.bucket.take(Math.min(MAX_PER_REQUEST, chain.writableBytes));
        const bytes = new Uint8Array(n);
        this.random(bytes);
        scatter(ctx.mem, chain.writable, 0, bytes);
        queue.push(chain.head, n);
        ctx.used(0);
      }
    } catch (e) {
      ctx.fail((e as Error).message);
    }
  }
}
