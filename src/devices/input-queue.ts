// Host input waiting for the guest. Bounded: the producer is told to pause above the high-water
// mark and resumed when the guest has drained it, so a fast pipe cannot grow host memory.

export const INPUT_HIGH_WATER = 64 * 1024;

export class InputQueue {
  private chunks: Uint8Array[] = [];
  private bytes = 0;

  get size(): number {
    return this.bytes;
  }

  /** Queues `data`; returns false when the producer should pause. */
  push(data: Uint8Array): boolean {
    if (data.length > 0) {
      this.chunks.push(data);
      this.bytes += data.length;
    }
    return this.bytes < INPUT_HIGH_WATER;
  }

  /** Hands queued bytes to `take`, which returns how many it accepted; stops when it takes fewer. */
  drainInto(take: (b: Uint8Array) => number): void {
    while (this.chunks.length > 0) {
      const c = this.chunks[0]!;
      const n = take(c);
      this.bytes -= n;
      if (n < c.length) {
        this.chunks[0] = c.subarray(n);
        return;
      }
      this.chunks.shift();
    }
  }

  /** Up to `max` queued bytes, removed from the queue (empty when there are none). */
  take(max: number): Uint8Array {
    const out = new Uint8Array(Math.min(max, this.bytes));
    let n = 0;
    this.drainInto((c) => {
      const k = Math.min(c.length, out.length - n);
      out.set(c.subarray(0, k), n);
      n += k;
      return k;
    });
    return out;
  }

  /** One byte, or -1 when empty. */
  popByte(): number {
    const c = this.chunks[0];
    if (!c) return -1;
    const b = c[0]!;
    if (c.length === 1) this.chunks.shift();
    else this.chunks[0] = c.subarray(1);
    this.bytes -= 1;
    return b;
  }
}
