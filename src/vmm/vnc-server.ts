// A VM's display over VNC (RFB 3.8) on a Unix socket (`moat run --display --vnc PATH`): owner-only
// (mode 0600; the socket's permissions are the authentication, as for the console and control
// sockets), or on a loopback TCP port (`--vnc 127.0.0.1:5901`, which needs a password: any local
// user can reach a port), at most MAX_CLIENTS viewers at once, each with a bounded send buffer: a viewer that
// does not read gets no more updates until it has (its damage accumulates, its memory does not).
// Keys and pointer go to the display's virtio-input keyboard and tablet.
import { createServer, isIP, type Server, type Socket } from "node:net";
import type { VirtioGpu, GpuRect } from "../devices/virtio/gpu.js";
import type { VirtioInput } from "../devices/virtio/input.js";
import { scanoutRgba } from "./display.js";
import { listenUnix } from "./unix-listen.js";
import type { Frame } from "./vnc-encode.js";
import { keysymToKeycode } from "./vnc-keysyms.js";
import { VncSession } from "./vnc-session.js";
import { MoatError } from "../base/moat-error.js";
import { textLog, type Log } from "./vmm-logger.js";

/** Bound: viewers connected at once. */
export const MAX_CLIENTS = 4;
/** Bound: bytes queued to one viewer before its updates wait. */
export const CLIENT_BUFFER = 8 << 20;

export class VncServerError extends MoatError {}

/** Where the server listens: a Unix socket path, or a loopback address and port. */
export type VncAddress = { path: string } | { host: string; port: number };

/**
 * Parses `--vnc`: `HOST:PORT` (HOST a loopback IP, `[::1]` for IPv6) or a socket path. Bound:
 * only loopback addresses: VNC Authentication is too weak to cross a network (use an SSH tunnel
 * or the daemon's web console, which is behind TLS and the API's tokens).
 */
export function parseVncAddress(s: string): VncAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):(\d{1,5})$/.exec(s);
  if (!m) {
    if (s === "" || /^[^/.].*:\d+$/.test(s))
      throw new VncServerError(
        `--vnc ${JSON.stringify(s)}: give a Unix socket path or a loopback HOST:PORT`,
      );
    return { path: s };
  }
  const host = m[1] ?? m[2]!;
  const port = Number(m[3]);
  if (isIP(host) === 0 || port < 1 || port > 65535)
    throw new VncServerError(`--vnc ${s}: not an IP address and port`);
  if (!(host === "::1" || /^127\./.test(host)))
    throw new VncServerError(
      `--vnc ${s}: VNC listens only on loopback (127.0.0.0/8 or [::1]); reach it from ` +
        "elsewhere through an SSH tunnel or the daemon's web console",
    );
  return { host, port };
}

export interface VncOptions {
  /** VNC Authentication with this password (required on TCP). */
  password?: Buffer;
  /** The VM process's log: a viewer's protocol errors as warnings, its comings and goings as info. */
  log?: Log;
}

export interface VncDisplay {
  gpu: VirtioGpu;
  keyboard: VirtioInput;
  tablet: VirtioInput;
}

export class VncServer {
  private readonly sessions = new Map<Socket, VncSession>();
  private frame: Frame;
  /** The ScanoutImage.serial `frame` shows. */
  private shown: number | null = null;

  private constructor(
    readonly address: VncAddress,
    private readonly server: Server,
    private readonly d: VncDisplay,
    private readonly log: Log,
    private readonly password: Buffer | undefined,
  ) {
    this.frame = blank(d.gpu.mode.width, d.gpu.mode.height);
    server.on("connection", (s) => this.accept(s));
  }

  static async listen(where: VncAddress, d: VncDisplay, o: VncOptions = {}): Promise<VncServer> {
    const log = o.log ?? textLog;
    if ("path" in where)
      return new VncServer(
        where,
        await listenUnix(where.path, "VNC socket", VncServerError),
        d,
        log,
        o.password,
      );
    if (!o.password)
      throw new VncServerError(
        "a VNC port on TCP needs --vnc-password-file: every local user can reach a port",
      );
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", (e) =>
        reject(new VncServerError(`VNC on ${where.host}:${where.port}: ${e.message}`)),
      );
      server.listen(where.port, where.host, () => resolve());
    });
    const a = server.address();
    const port = a && typeof a === "object" ? a.port : where.port;
    return new VncServer({ host: where.host, port }, server, d, log, o.password);
  }

  get clientCount(): number {
    return this.sessions.size;
  }

  /** The guest flushed `rect` of its scanout: refresh that part and tell the viewers. */
  flushed(rect: GpuRect): void {
    if (this.sessions.size === 0) return; // converted on demand when a viewer comes
    const r = this.refresh(rect);
    for (const s of this.sessions.values()) s.damaged(r);
  }

  async close(): Promise<void> {
    for (const [sock, s] of this.sessions) {
      s.end();
      sock.destroy();
    }
    this.sessions.clear();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /**
   * Brings the RGBA frame up to date inside `rect` (all of it when the scanout shows another
   * resource or part of one: a page flip between two buffers of one size is a new frame).
   */
  private refresh(rect?: GpuRect): GpuRect {
    const img = this.d.gpu.scanoutImage();
    if (!img) {
      this.shown = null;
      this.frame = blank(this.d.gpu.mode.width, this.d.gpu.mode.height);
      return { x: 0, y: 0, ...this.d.gpu.mode };
    }
    const w = img.rect.width;
    const h = img.rect.height;
    if (!rect || this.shown !== img.serial) {
      const { rgba } = scanoutRgba(img);
      this.frame = { width: w, height: h, rgba };
      this.shown = img.serial;
      return { x: 0, y: 0, width: w, height: h };
    }
    // Only the flushed rows: the flush rectangle is in resource coordinates.
    const y0 = Math.max(rect.y - img.rect.y, 0);
    const y1 = Math.min(rect.y + rect.height - img.rect.y, h);
    if (y1 <= y0) return { x: 0, y: 0, width: 0, height: 0 };
    const part = scanoutRgba({
      ...img,
      rect: { x: img.rect.x, y: img.rect.y + y0, width: w, height: y1 - y0 },
    });
    this.frame.rgba.set(part.rgba, y0 * w * 4);
    return { x: 0, y: y0, width: w, height: y1 - y0 };
  }

  private accept(sock: Socket): void {
    if (this.sessions.size >= MAX_CLIENTS) {
      sock.destroy();
      return;
    }
    if (this.sessions.size === 0) this.refresh();
    let buttons = 0;
    const session = new VncSession({
      name: "moat",
      ...(this.password ? { password: this.password } : {}),
      warn: (line) => this.log.warn(line),
      frame: () => this.frame,
      write: (b) => {
        sock.write(b);
        if (sock.writableLength > CLIENT_BUFFER) session.throttled = true;
      },
      close: (why) => {
        this.log.info(`VNC viewer disconnected: ${why}`);
        // end() lets the refusal or the reason reach the viewer; one that does not read is
        // cut off a second later.
        sock.end();
        setTimeout(() => sock.destroy(), 1000).unref();
      },
      key: (keysym, down) => {
        const code = keysymToKeycode(keysym);
        if (code !== undefined) this.d.keyboard.key(code, down);
      },
      pointer: (x, y, mask) => {
        this.d.tablet.pointer(x, y, this.frame.width, this.frame.height, mask, buttons);
        buttons = mask;
      },
    });
    this.sessions.set(sock, session);
    sock.on("data", (b: Buffer) => session.feed(b));
    sock.on("drain", () => session.resume());
    sock.on("error", () => {});
    sock.on("close", () => {
      session.end();
      this.sessions.delete(sock);
    });
    session.start();
  }
}

function blank(width: number, height: number): Frame {
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 3; i < rgba.length; i += 4) rgba[i] = 255;
  return { width, height, rgba };
}
