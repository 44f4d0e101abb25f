// A token bucket: `rate` tokens per second, holding at most `burst`. Device models use it to
// bound what a guest can take (bytes of entropy; later disk and network bandwidth and
// operations). Time comes from the caller's clock, so the arithmetic is testable.

export class TokenBucket {
  private tokens: number;
  private last: number;

  /** Bounds: rate > 0 and burst >= 1 (tokens per second; bucket size). */
  constructor(
    readonly rate: number,
    readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(rate > 0) || !(burst >= 1))
      throw new RangeError("a token bucket needs rate > 0 and burst >= 1");
    this.tokens = burst;
    this.last = now();
  }

  private refill(): void {
    const t = this.now();
    if (t > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.rate);
      this.last = t;
    }
  }

  /** Takes up to `want` whole tokens; returns how many it took (0 when empty). */
  take(want: number): number {
    this.refill();
    const n = Math.max(0, Math.min(Math.floor(want), Math.floor(this.tokens)));
    this.tokens -= n;
    return n;
  }

  /**
   * Takes `n` tokens even if fewer are there: the bucket goes into debt, which later refills
   * pay off first. For costs that can exceed the burst (one large disk request).
   */
  consume(n: number): void {
    this.refill();
    this.tokens -= n;
  }

  /** Milliseconds until the bucket is out of debt (0 if it is now). */
  msUntilPaid(): number {
    this.refill();
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.rate) * 1000);
  }

  /** Milliseconds until at least one token is there (0 if one is now). */
  msUntilNext(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.rate) * 1000);
  }
}
