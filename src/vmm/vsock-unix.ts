// The host side of virtio-vsock, as Firecracker does it: a host process connects to the Unix
// socket PATH and writes "CONNECT <port>\n" to reach guest port <port> (moat answers
// "OK <host port>\n" once the guest accepts); a guest connecting to host port P reaches the
// Unix socket "PATH_P", if something listens there. Sockets are created mode 0600.
import net from "node:net";
import { lstatSync, unlinkSync } from "node:fs";
import { listenPrivate } from "./unix-listen.js";
import type { VirtioVsock, VsockBackend, VsockKey } from "../devices/virtio/vsock.js";

/** Bound: the CONNECT line a host client sends first. */
const MAX_LINE = 64;
/** Bound: a host client must send its CONNECT line within this time. */
const CONNECT_TIMEOUT_MS = 10_000;

export class VsockError extends Error {}

const keyOf = (k: VsockKey) => `${k.guestPort}:${k.hostPort}`;

export class VsockUnix implements VsockBackend {
  private server: net.Server | undefined;
  private readonly sockets = new Map<string, net.Socket>();
  /** Host clients waiting for the guest to accept. */
  private readonly waiting = new Map<string, net.Socket>();
  device: VirtioVsock | undefined;

  private constructor(readonly path: string) {}

  /** Listens on `path` (a stale socket there is replaced; any other file is an error). */
  static async listen(path: string): Promise<VsockUnix> {
    try {
      if (lstatSync(path).isSocket()) unlinkSync(path);
      else throw new VsockError(`vsock ${path}: exists and is not a socket`);
    } catch (e) {
      if (e instanceof VsockError) throw e;
    }
    const v = new VsockUnix(path);
    // Half-open: a client that ends its side still reads what the guest sends back.
    const server = net.createServer({ allowHalfOpen: true }, (s) => v.hostClient(s));
    await listenPrivate(server, path).catch((e: Error) => {
      throw new VsockError(`vsock ${path}: ${e.message}`);
    });
    v.server = server;
    return v;
  }

  private dev(): VirtioVsock {
    if (!this.device) throw new Error("vsock backend used before its device was attached");
    return this.device;
  }

  /** A host process connected to PATH: read its CONNECT line, then bridge. */
  private hostClient(s: net.Socket): void {
    let line = "";
    const timer = setTimeout(() => s.destroy(), CONNECT_TIMEOUT_MS);
    const onData = (d: Buffer): void => {
      line += d.toString("latin1");
      const nl = line.indexOf("\n");
      if (nl < 0) {
        if (line.length > MAX_LINE) s.destroy();
        return;
      }
      clearTimeout(timer);
      s.off("data", onData);
      s.pause();
      const m = /^CONNECT (\d{1,10})$/.exec(line.slice(0, nl).trimEnd());
      const port = m ? Number(m[1]) : NaN;
      const key = port <= 0xffff_ffff ? this.dev().hostConnect(port) : null;
      if (!key) {
        s.destroy();
        return;
      }
      this.waiting.set(keyOf(key), s);
      const rest = Buffer.from(line.slice(nl + 1), "latin1");
      if (rest.length > 0) s.unshift(rest);
      s.on("error", () => {});
      s.on("close", () => {
        if (this.waiting.delete(keyOf(key))) this.dev().hostClose(key, true);
      });
    };
    s.on("data", onData);
    s.on("error", () => clearTimeout(timer));
  }

  established(key: VsockKey): void {
    const s = this.waiting.get(keyOf(key));
    if (!s) return;
    this.waiting.delete(keyOf(key));
    s.removeAllListeners("close");
    s.write(`OK ${key.hostPort}\n`);
    this.bridge(key, s);
  }

  connect(key: VsockKey): void {
    const s = net.connect({ path: `${this.path}_${key.hostPort}`, allowHalfOpen: true });
    s.once("connect", () => {
      s.removeAllListeners("error");
      this.dev().accept(key);
      this.bridge(key, s);
    });
    s.once("error", () => this.dev().refuse(key));
  }

  /** Moves bytes both ways between a Unix socket and a vsock connection. */
  private bridge(key: VsockKey, s: net.Socket): void {
    const k = keyOf(key);
    this.sockets.set(k, s);
    s.on("data", (d: Buffer) => {
      if (!this.dev().send(key, d, () => s.resume())) s.pause();
    });
    let ended = false;
    s.on("end", () => {
      ended = true;
      this.dev().hostClose(key);
    });
    s.on("error", () => {});
    s.on("close", () => {
      // After a clean end the guest still gets what is pending, then SHUTDOWN.
      if (this.sockets.get(k) === s && !ended) {
        this.sockets.delete(k);
        this.dev().hostClose(key, true);
      }
    });
    s.resume();
  }

  data(key: VsockKey, bytes: Uint8Array): void {
    const s = this.sockets.get(keyOf(key));
    if (!s) return;
    // Credit goes back to the guest only once the bytes have left moat's buffer.
    s.write(bytes, () => this.device?.consumed(key, bytes.length));
  }

  closed(key: VsockKey, reset: boolean): void {
    const k = keyOf(key);
    const waiting = this.waiting.get(k);
    if (waiting) {
      this.waiting.delete(k);
      waiting.destroy();
      return;
    }
    const s = this.sockets.get(k);
    if (!s) return;
    // Either way the guest's last bytes are still in the socket's buffer: end, not destroy.
    s.end();
    if (reset) {
      this.sockets.delete(k);
      s.setTimeout(CONNECT_TIMEOUT_MS, () => s.destroy());
    }
  }

  async close(): Promise<void> {
    for (const s of [...this.sockets.values(), ...this.waiting.values()]) s.destroy();
    this.sockets.clear();
    this.waiting.clear();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }
}
