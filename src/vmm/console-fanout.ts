// Guest console output for several consumers (the console socket, the console log, the
// terminal): the UART hands it over a byte at a time, so it is gathered in a staging buffer and
// handed on once per event-loop turn, or whenever STAGE_BYTES have gathered, as one chunk that
// every consumer shares (and must not modify).

/** Bound: bytes gathered before they are handed on. */
const STAGE_BYTES = 64 * 1024;

export class ConsoleFanout {
  private stage = new Uint8Array(STAGE_BYTES);
  private used = 0;
  private queued = false;

  constructor(private readonly sinks: readonly ((chunk: Uint8Array) => void)[]) {}

  /** Guest output; handed on within this event-loop turn. */
  write(bytes: Uint8Array): void {
    let off = 0;
    while (off < bytes.length) {
      const n = Math.min(bytes.length - off, STAGE_BYTES - this.used);
      this.stage.set(bytes.subarray(off, off + n), this.used);
      this.used += n;
      off += n;
      if (this.used === STAGE_BYTES) this.flush();
    }
    if (this.used > 0 && !this.queued) {
      this.queued = true;
      setImmediate(() => {
        this.queued = false;
        this.flush();
      });
    }
  }

  /** Hands on what has gathered now (also at VM exit). */
  flush(): void {
    if (this.used === 0) return;
    const chunk = this.stage.slice(0, this.used);
    this.used = 0;
    for (const sink of this.sinks) sink(chunk);
  }
}
