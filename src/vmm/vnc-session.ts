// One RFB 3.8 client (RFC 6143) of a VM's display: the handshake, the client's messages (each
// checked and bounded) and the framebuffer updates it asked for. The session owns no socket:
// the server (vnc-server.ts) feeds it bytes and gives it a write function.
import zlib from "node:zlib";
import {
  SERVER_FORMAT,
  decodePixelFormat,
  encodePixelFormat,
  encodeRaw,
  zrleTiles,
  type Frame,
  type PixelFormat,
  type Rect,
} from "./vnc-encode.js";
import { CHALLENGE_BYTES, checkVncResponse, newChallenge } from "./vnc-auth.js";

const ENC_RAW = 0;
const ENC_ZRLE = 16;
const ENC_DESKTOP_SIZE = -223;
/** Bound: encodings a client may list. */
const MAX_ENCODINGS = 64;
/** Bound: clipboard text a client may send (it is read and dropped). */
export const MAX_CUT_TEXT = 1 << 20;
/** Bound: bytes of client input held before they are parsed (the largest message is 4 + 4 * 64). */
const MAX_HELD = 4096;
/** ZRLE's tile side; bands of an update are whole rows of tiles. */
const TILE = 64;
/** Bound: pixels of an update encoded on one turn of the event loop (a band; at least a tile row). */
export const BAND_PIXELS = 256 * 1024;

export interface VncHooks {
  name: string;
  /** What the display shows now. */
  frame(): Frame;
  write(data: Buffer): void;
  /** Ends the connection; `why` is logged. */
  close(why: string): void;
  key(keysym: number, down: boolean): void;
  pointer(x: number, y: number, buttons: number): void;
  /** When set, viewers must pass VNC Authentication with this password (1 to 8 bytes). */
  password?: Buffer;
  /** A wrong password is answered after this long (slows guessing); default 1000 ms. */
  failDelayMs?: number;
  /** One log line (a failed authentication is logged when it happens). */
  warn?(line: string): void;
}

const SEC_NONE = 1;
const SEC_VNC_AUTH = 2;

type State = "version" | "security" | "auth" | "rejected" | "init" | "normal" | "closed";

export class VncSession {
  private state: State = "version";
  /** RFB 3.7 sends no SecurityResult for None and no reason with a failure. */
  private minor = 8;
  private challenge: Buffer | undefined;
  private held: Buffer = Buffer.alloc(0);
  private format: PixelFormat = SERVER_FORMAT;
  private encodings = new Set<number>([ENC_RAW]);
  /** The client's outstanding update request (an incremental one waits for damage). */
  private request: Rect | null = null;
  private damage: Rect | null = null;
  private size = { width: 0, height: 0 };
  private cutLeft = 0;
  private deflate: zlib.Deflate | undefined;
  /** Updates are encoded one after another (ZRLE's zlib stream is one per connection). */
  private sending: Promise<void> = Promise.resolve();
  private busy = false;
  /** Set by the server while the socket's buffer is full: updates wait. */
  throttled = false;

  constructor(private readonly h: VncHooks) {}

  start(): void {
    this.h.write(Buffer.from("RFB 003.008\n"));
  }

  end(): void {
    this.state = "closed";
    this.deflate?.close();
  }

  /** Bytes from the client. Bound: at most MAX_HELD bytes are kept between calls. */
  feed(data: Buffer): void {
    if (this.state === "closed") return;
    this.held = this.held.length ? Buffer.concat([this.held, data]) : data;
    for (;;) {
      if ((this.state as State) === "closed") return;
      const used = this.step(this.held);
      if (used === 0) break;
      this.held = this.held.subarray(used);
    }
    if (this.held.length > MAX_HELD) this.fail("a message larger than any RFB message");
  }

  /** The display changed inside `r` (or its size changed): send what the client waits for. */
  damaged(r: Rect): void {
    this.damage = this.damage ? union(this.damage, r) : { ...r };
    this.pump();
  }

  /** The socket drained: send what waited. */
  resume(): void {
    this.throttled = false;
    this.pump();
  }

  /** A failed SecurityResult (with its reason in 3.8), then the end of the connection. */
  private refuse(why: string): void {
    const reason = Buffer.from(why);
    const out = Buffer.alloc(this.minor >= 8 ? 8 + reason.length : 4);
    out.writeUInt32BE(1, 0);
    if (this.minor >= 8) {
      out.writeUInt32BE(reason.length, 4);
      reason.copy(out, 8);
    }
    this.h.write(out);
    this.fail(why);
  }

  private fail(why: string): void {
    if (this.state === "closed") return;
    this.end();
    this.h.close(why);
  }

  /** Parses one message at the start of `b`; returns the bytes it used (0: needs more). */
  private step(b: Buffer): number {
    switch (this.state) {
      case "version": {
        if (b.length < 12) return 0;
        const v = b.subarray(0, 12).toString("latin1");
        if (v !== "RFB 003.008\n" && v !== "RFB 003.007\n") {
          const why = Buffer.from("moat speaks RFB 3.7 and 3.8");
          const out = Buffer.alloc(5 + why.length);
          out.writeUInt32BE(why.length, 1); // zero security types, then the reason
          why.copy(out, 5);
          this.h.write(out);
          this.fail(`client version ${JSON.stringify(v.trim())}`);
          return 12;
        }
        this.minor = v === "RFB 003.007\n" ? 7 : 8;
        // One security type: VNC Authentication when there is a password, else None (the
        // socket's permissions are the lock).
        this.h.write(Buffer.from([1, this.h.password ? SEC_VNC_AUTH : SEC_NONE]));
        this.state = "security";
        return 12;
      }
      case "security": {
        if (b.length < 1) return 0;
        const offered = this.h.password ? SEC_VNC_AUTH : SEC_NONE;
        if (b[0] !== offered) {
          this.refuse(`security type ${b[0]} was not offered`);
          return 1;
        }
        if (offered === SEC_VNC_AUTH) {
          this.challenge = newChallenge();
          this.h.write(this.challenge);
          this.state = "auth";
          return 1;
        }
        if (this.minor >= 8) this.h.write(Buffer.alloc(4)); // SecurityResult: OK
        this.state = "init";
        return 1;
      }
      case "rejected":
        return b.length; // read and dropped until the refusal goes out
      case "auth": {
        if (b.length < CHALLENGE_BYTES) return 0;
        const ok = checkVncResponse(
          this.h.password!,
          this.challenge!,
          Buffer.from(b.subarray(0, CHALLENGE_BYTES)),
        );
        this.challenge = undefined;
        if (ok) {
          this.h.write(Buffer.alloc(4)); // SecurityResult: OK
          this.state = "init";
        } else {
          // Nothing more is read from this viewer; the answer comes late so that guessing
          // costs time (at most MAX_CLIENTS guesses at once).
          this.state = "rejected";
          this.h.warn?.("a VNC viewer gave a wrong password");
          setTimeout(() => {
            if (this.state === "rejected") this.refuse("wrong VNC password");
          }, this.h.failDelayMs ?? 1000).unref();
        }
        return CHALLENGE_BYTES;
      }
      case "init": {
        if (b.length < 1) return 0;
        const f = this.h.frame();
        this.size = { width: f.width, height: f.height };
        const name = Buffer.from(this.h.name);
        const out = Buffer.alloc(24 + name.length);
        out.writeUInt16BE(f.width, 0);
        out.writeUInt16BE(f.height, 2);
        encodePixelFormat(SERVER_FORMAT).copy(out, 4);
        out.writeUInt32BE(name.length, 20);
        name.copy(out, 24);
        this.h.write(out);
        this.state = "normal";
        return 1;
      }
      case "normal":
        return this.message(b);
      default:
        return 0;
    }
  }

  private message(b: Buffer): number {
    if (this.cutLeft > 0) {
      const n = Math.min(this.cutLeft, b.length);
      this.cutLeft -= n;
      return n;
    }
    if (b.length < 1) return 0;
    switch (b[0]) {
      case 0: {
        // SetPixelFormat
        if (b.length < 20) return 0;
        const f = decodePixelFormat(b.subarray(4, 20));
        if (typeof f === "string") this.fail(`the client asked for ${f}`);
        else this.format = f;
        return 20;
      }
      case 2: {
        // SetEncodings
        if (b.length < 4) return 0;
        const n = b.readUInt16BE(2);
        if (n > MAX_ENCODINGS) {
          this.fail(`${n} encodings (at most ${MAX_ENCODINGS})`);
          return 4;
        }
        if (b.length < 4 + 4 * n) return 0;
        this.encodings = new Set([ENC_RAW]);
        for (let i = 0; i < n; i++) this.encodings.add(b.readInt32BE(4 + 4 * i));
        return 4 + 4 * n;
      }
      case 3: {
        // FramebufferUpdateRequest
        if (b.length < 10) return 0;
        const r = {
          x: b.readUInt16BE(2),
          y: b.readUInt16BE(4),
          width: b.readUInt16BE(6),
          height: b.readUInt16BE(8),
        };
        this.request = r;
        if (b[1] === 0) this.damage = this.damage ? union(this.damage, r) : { ...r };
        this.pump();
        return 10;
      }
      case 4: {
        // KeyEvent
        if (b.length < 8) return 0;
        this.h.key(b.readUInt32BE(4), b[1] !== 0);
        return 8;
      }
      case 5: {
        // PointerEvent
        if (b.length < 6) return 0;
        this.h.pointer(b.readUInt16BE(2), b.readUInt16BE(4), b[1]!);
        return 6;
      }
      case 6: {
        // ClientCutText: read and dropped (moat has no clipboard channel into the guest)
        if (b.length < 8) return 0;
        const len = b.readUInt32BE(4);
        if (len > MAX_CUT_TEXT) {
          this.fail(`${len} bytes of clipboard text (at most ${MAX_CUT_TEXT})`);
          return 8;
        }
        this.cutLeft = len;
        return 8;
      }
      default:
        this.fail(`unknown message type ${b[0]}`);
        return 1;
    }
  }

  /** Sends an update when the client has asked and there is something to send. */
  private pump(): void {
    if (this.state !== "normal" || this.busy || this.throttled || !this.request) return;
    const f = this.h.frame();
    const resized = f.width !== this.size.width || f.height !== this.size.height;
    let r: Rect | null;
    if (resized) {
      this.size = { width: f.width, height: f.height };
      r = { x: 0, y: 0, width: f.width, height: f.height };
    } else {
      r = this.damage ? clip(intersect(this.damage, this.request), f) : null;
    }
    if (!r || r.width === 0 || r.height === 0) return;
    this.request = null;
    this.damage = null;
    this.busy = true;
    this.sending = this.sending
      .then(() => this.send(f, r, resized))
      .catch((e: Error) => this.fail(`encoding failed: ${e.message}`))
      .finally(() => {
        this.busy = false;
        this.pump();
      });
  }

  /**
   * One FramebufferUpdate for `r`, in bands of whole tile rows of at most BAND_PIXELS each (one
   * rectangle a band), the event loop turning between bands: a large noisy frame costs the VMM
   * thread a band's encoding at a time.
   */
  private async send(f: Frame, r: Rect, resized: boolean): Promise<void> {
    const rows = Math.max(TILE, Math.floor(BAND_PIXELS / r.width / TILE) * TILE);
    const bands = Math.ceil(r.height / rows);
    const desktop = resized && this.encodings.has(ENC_DESKTOP_SIZE);
    const head = Buffer.alloc(4);
    head.writeUInt16BE(bands + (desktop ? 1 : 0), 2);
    // The message's header goes out with its first band.
    const parts: Buffer[] = [head];
    if (desktop)
      parts.push(rectHeader({ x: 0, y: 0, width: f.width, height: f.height }, ENC_DESKTOP_SIZE));
    for (let i = 0; i < bands; i++) {
      if (i > 0) await new Promise((go) => setImmediate(go));
      if (this.state !== "normal") return;
      const y = r.y + i * rows;
      const band = { x: r.x, y, width: r.width, height: Math.min(rows, r.y + r.height - y) };
      if (this.encodings.has(ENC_ZRLE)) {
        const data = await this.deflated(zrleTiles(f, band, this.format));
        const len = Buffer.alloc(4);
        len.writeUInt32BE(data.length);
        parts.push(rectHeader(band, ENC_ZRLE), len, data);
      } else parts.push(rectHeader(band, ENC_RAW), encodeRaw(f, band, this.format));
      if (this.state !== "normal") return;
      this.h.write(Buffer.concat(parts.splice(0)));
    }
  }

  /** `data` through the connection's one zlib stream, flushed to a byte boundary. */
  private deflated(data: Buffer): Promise<Buffer> {
    const d = (this.deflate ??= zlib.createDeflate({ level: 6 }));
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      const onData = (c: Buffer) => chunks.push(c);
      d.on("data", onData);
      d.once("error", reject);
      d.write(data);
      d.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        d.off("data", onData);
        d.off("error", reject);
        resolve(Buffer.concat(chunks));
      });
    });
  }
}

function rectHeader(r: Rect, encoding: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16BE(r.x, 0);
  b.writeUInt16BE(r.y, 2);
  b.writeUInt16BE(r.width, 4);
  b.writeUInt16BE(r.height, 6);
  b.writeInt32BE(encoding, 8);
  return b;
}

function union(a: Rect, b: Rect): Rect {
  const x = Math.min(a.x, b.x);
  const y = Math.min(a.y, b.y);
  return {
    x,
    y,
    width: Math.max(a.x + a.width, b.x + b.width) - x,
    height: Math.max(a.y + a.height, b.y + b.height) - y,
  };
}

function intersect(a: Rect, b: Rect): Rect {
  const x = Math.max(a.x, b.x);
  const y = Math.max(a.y, b.y);
  return {
    x,
    y,
    width: Math.max(0, Math.min(a.x + a.width, b.x + b.width) - x),
    height: Math.max(0, Math.min(a.y + a.height, b.y + b.height) - y),
  };
}

/** Bound: a rectangle is clipped to the frame. */
function clip(r: Rect, f: Frame): Rect {
  return intersect(r, { x: 0, y: 0, width: f.width, height: f.height });
}
