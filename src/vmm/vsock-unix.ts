// The host side of virtio-vsock, as Firecracker does it: a host process connects to the Unix
// socket PATH and writes "CONNECT <port>\n" to reach guest port <port> (moat answers
// "OK <host port>\n" once the guest accepts); a guest connecting to host port P reaches the
// Unix socket "PATH_P", if something listens there. Sockets are created mode 0600. Every host
// socket of a connection counts against the device's connection bound until it has closed:
// a connect the guest gave up on (RST, shutdown, device reset) is abandoned, never bridged.
import net from "node:net";
import { clearStaleSocket, listenPrivate } from "./unix-listen.js";
import type { VirtioVsock, VsockBackend, VsockKey } from "../devices/virtio/vsock.js";
import { MoatError } from "../base/moat-error.js";

/** Bound: the CONNECT line a host client sends first. */
const MAX_LINE = 64;
/** Bound: a host client must send its CONNECT line within this time. */
const CONNECT_TIMEOUT_MS = 10_000;
/** Bound: a socket the guest reset has this long to take the guest's last bytes. */
const LINGER_MS = 10_000;

export class VsockError extends MoatError {}

/**
 * The host socket of one connection: a host client waiting for the guest to accept, a connect
 * to PATH_P under way, a bridge, or (closing) a bridge the guest reset, taking its last bytes.
 */
interface Link {
  s: net.Socket;
  phase: "waiting" | "connecting" | "open" | "closing";
  /** The host end finished sending (end): the guest still gets what is pending. */
  ended: boolean;
}

export class VsockUnix implements VsockBackend {
  private server: net.Server | undefined;
  /**
   * Every host socket that belongs to a connection, by the device's key object. Bound: the
   * device counts each against MAX_CONNECTIONS until released() (when the socket has closed).
   */
  private readonly links = new Map<VsockKey, Link>();
  device: VirtioVsock | undefined;

  private constructor(readonly path: string) {}

  /** Listens on `path` (a stale socket there is replaced; any other file is an error). */
  static async listen(path: string): Promise<VsockUnix> {
    clearStaleSocket(path, "vsock", "exists and is not a socket", VsockError);
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
      const rest = Buffer.from(line.slice(nl + 1), "latin1");
      if (rest.length > 0) s.unshift(rest);
      this.track(key, s, "waiting");
    };
    s.on("data", onData);
    s.on("error", () => clearTimeout(timer));
  }

  /**
   * Makes `s` the host socket of `key` until it closes; then the device is told, once: the
   * connection is reset if the socket went without a clean end, and released in any case.
   */
  private track(key: VsockKey, s: net.Socket, phase: Link["phase"]): Link {
    const link: Link = { s, phase, ended: false };
    this.links.set(key, link);
    s.on("error", () => {});
    s.once("close", () => {
      if (this.links.get(key) === link) this.links.delete(key);
      const dev = this.device;
      if (!dev) return;
      if (link.phase === "connecting") dev.refuse(key);
      else if (link.phase !== "closing" && !link.ended) dev.hostClose(key, true);
      dev.released(key);
    });
    return link;
  }

  established(key: VsockKey): void {
    const link = this.links.get(key);
    if (link?.phase !== "waiting") return;
    link.s.write(`OK ${key.hostPort}\n`);
    this.bridge(key, link);
  }

  connect(key: VsockKey): void {
    const s = net.connect({ path: `${this.path}_${key.hostPort}`, allowHalfOpen: true });
    const link = this.track(key, s, "connecting");
    s.once("connect", () => {
      // The guest dropped the connection meanwhile: closed() destroyed the socket, so this
      // does not run; should it, the socket is not bridged but closed.
      if (link.phase !== "connecting") {
        s.destroy();
        return;
      }
      this.dev().accept(key);
      this.bridge(key, link);
    });
  }

  /** Moves bytes both ways between a Unix socket and a vsock connection. */
  private bridge(key: VsockKey, link: Link): void {
    const s = link.s;
    link.phase = "open";
    // After a reset (closing) the socket is read only to see its end; the bytes go nowhere.
    s.on("data", (d: Buffer) => {
      if (!this.dev().send(key, d, () => s.resume())) s.pause();
    });
    s.on("end", () => {
      link.ended = true;
      this.dev().hostClose(key);
    });
    s.resume();
  }

  data(key: VsockKey, bytes: Uint8Array): void {
    const link = this.links.get(key);
    if (link?.phase !== "open") {
      // The host end is gone: the bytes are dropped, and the guest's credit comes back.
      this.device?.consumed(key, bytes.length);
      return;
    }
    // Credit goes back to the guest only once the bytes have left moat's buffer.
    link.s.write(bytes, () => this.device?.consumed(key, bytes.length));
  }

  closed(key: VsockKey, reset: boolean): void {
    const link = this.links.get(key);
    if (!link || link.phase === "closing") return;
    if (link.phase !== "open") {
      // Not bridged yet: no bytes to deliver, and a connect under way is abandoned.
      link.phase = "closing";
      link.s.destroy();
      return;
    }
    // Either way the guest's last bytes are still in the socket's buffer: end, not destroy.
    link.s.end();
    if (reset) {
      link.phase = "closing";
      const timer = setTimeout(() => link.s.destroy(), LINGER_MS);
      link.s.once("close", () => clearTimeout(timer));
    }
  }

  async close(): Promise<void> {
    for (const link of this.links.values()) link.s.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }
}
