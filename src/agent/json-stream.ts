// Splits the byte stream a guest agent sends into JSON texts, treating every byte as hostile.
// qemu-guest-agent writes one JSON object per reply; guest-sync-delimited's reply comes after a
// 0xFF byte, which never occurs in UTF-8 JSON and so marks a clean start. The scanner tracks
// strings and nesting only; JSON.parse sees a text once it is complete and within bounds.

/** Bound: bytes of one reply (qemu-ga's biggest, guest-exec-status output, is cut to fit). */
export const MAX_REPLY_BYTES = 1024 * 1024;
/** Bound: nesting depth of one reply (qemu-ga's deepest, network interfaces, is 4). */
export const MAX_DEPTH = 32;

export type StreamEvent =
  | { kind: "value"; value: unknown }
  /** A reply that broke a bound or did not parse; the stream skips to the next 0xFF. */
  | { kind: "bad"; reason: string }
  /** A 0xFF byte: what follows starts afresh. */
  | { kind: "sync" };

// Not fatal: a reply with bad UTF-8 still parses (with U+FFFD) or fails that one call.
const UTF8 = new TextDecoder("utf-8", { fatal: false });

const enum S {
  /** Between values: whitespace is skipped, `{` starts one. */
  Idle,
  InValue,
  InString,
  StringEscape,
  /** After a bad reply, or anything but `{` between values: only 0xFF ends this. */
  Skip,
}

/**
 * Incremental: `push` bytes as they come, in any split; complete values are returned in order.
 * Bounds: MAX_REPLY_BYTES and MAX_DEPTH per value; memory held is at most one value's bytes.
 */
export class JsonStream {
  private state = S.Idle;
  private depth = 0;
  private chunks: Uint8Array[] = [];
  private size = 0;
  /** Bytes dropped while skipping (counted, never kept). */
  skipped = 0;

  push(bytes: Uint8Array): StreamEvent[] {
    const out: StreamEvent[] = [];
    // Where the part of the current value inside `bytes` begins (0: one began in an earlier push).
    let start = this.state === S.Idle || this.state === S.Skip ? -1 : 0;
    const keep = (end: number): void => {
      if (start >= 0 && end > start) {
        this.chunks.push(bytes.slice(start, end));
        this.size += end - start;
      }
      start = -1;
    };
    const bad = (reason: string): void => {
      this.chunks = [];
      this.size = 0;
      this.depth = 0;
      start = -1;
      this.state = S.Skip;
      out.push({ kind: "bad", reason });
    };
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      if (b === 0xff) {
        // Anything unfinished is abandoned: the sender asked for a clean start.
        this.chunks = [];
        this.size = 0;
        this.depth = 0;
        start = -1;
        this.state = S.Idle;
        out.push({ kind: "sync" });
        continue;
      }
      switch (this.state) {
        case S.Skip:
          this.skipped++;
          continue;
        case S.Idle:
          if (b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09) continue;
          if (b !== 0x7b) {
            this.skipped++;
            bad("not a JSON object");
            continue;
          }
          this.state = S.InValue;
          this.depth = 1;
          start = i;
          break;
        case S.InValue:
          if (b === 0x22) this.state = S.InString;
          else if (b === 0x7b || b === 0x5b) {
            if (++this.depth > MAX_DEPTH) {
              bad(`nested deeper than ${MAX_DEPTH}`);
              continue;
            }
          } else if (b === 0x7d || b === 0x5d) {
            if (--this.depth === 0) {
              keep(i + 1);
              const text = this.take();
              this.state = S.Idle;
              if (text === undefined) bad(`larger than ${MAX_REPLY_BYTES} bytes`);
              else out.push(parse(text));
              continue;
            }
          }
          break;
        case S.InString:
          if (b === 0x5c) this.state = S.StringEscape;
          else if (b === 0x22) this.state = S.InValue;
          break;
        case S.StringEscape:
          this.state = S.InString;
          break;
      }
      if (this.size + (start >= 0 ? i + 1 - start : 0) > MAX_REPLY_BYTES) {
        bad(`larger than ${MAX_REPLY_BYTES} bytes`);
      }
    }
    if (this.state !== S.Idle && this.state !== S.Skip) keep(bytes.length);
    return out;
  }

  /** Bytes of the value being read now (for tests of the bound). */
  get pending(): number {
    return this.size;
  }

  private take(): string | undefined {
    if (this.size > MAX_REPLY_BYTES) return undefined;
    const all = new Uint8Array(this.size);
    let n = 0;
    for (const c of this.chunks) {
      all.set(c, n);
      n += c.length;
    }
    this.chunks = [];
    this.size = 0;
    return UTF8.decode(all);
  }
}

function parse(text: string): StreamEvent {
  try {
    return { kind: "value", value: JSON.parse(text) as unknown };
  } catch (e) {
    return { kind: "bad", reason: `not JSON: ${(e as Error).message.slice(0, 100)}` };
  }
}
