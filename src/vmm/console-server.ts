// The guest's serial console served on a Unix socket (`moat run --console-socket`), for a host
// daemon that attaches and detaches terminals while the VM runs. Owner-only (mode 0600), at most
// MAX_CLIENTS clients at once. Guest output goes to every client; a client more than
// CLIENT_BACKLOG bytes behind loses output (dropped and counted) instead of growing moat's
// memory. Client input goes to the guest; while the guest's input queue is full, every client
// that sent input is paused. No escape keys here: the host side decides what ends a session.
import type { Server, Socket } from "node:net";
import { unlinkSync } from "node:fs";
import { listenUnix } from "./unix-listen.js";
import { MoatError } from "../base/moat-error.js";

/** Bound: clients connected at once. */
export const MAX_CLIENTS = 4;
/** Bound: guest output waiting for one slow client; beyond it that client's output is dropped. */
export const CLIENT_BACKLOG = 1024 * 1024;
/** Bound: how long close() lets clients take what is still queued for them. */
const CLOSE_GRACE_MS = 1000;

export class ConsoleServerError extends MoatError {}

/** Where client input goes: the VM's serial console. */
export interface ConsoleServerInput {
  /** false: pause the source until `resume` is called. */
  sendInput(data: Uint8Array, resume: () => void): boolean;
}

export class ConsoleServer {
  private readonly clients = new Set<Socket>();
  private readonly paused = new Set<Socket>();
  private target: ConsoleServerInput | undefined;
  /** Guest output bytes some client did not get because it was too far behind. */
  dropped = 0;

  private constructor(
    readonly path: string,
    private readonly server: Server,
  ) {}

  /**
   * Listens on `path`: a stale socket there is replaced; any other file in the way is an error.
   * Bound: MAX_CLIENTS clients.
   */
  static async listen(path: string): Promise<ConsoleServer> {
    const server = await listenUnix(path, "console socket", ConsoleServerError);
    const self = new ConsoleServer(path, server);
    server.on("connection", (s) => self.accept(s));
    return self;
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** Starts passing client input to `target` (until detach). */
  attach(target: ConsoleServerInput): void {
    this.target = target;
    this.resumeAll();
  }

  /** Stops passing input: clients are paused (the VM has ended). */
  detach(): void {
    this.target = undefined;
    for (const s of this.clients) s.pause();
  }

  private accept(s: Socket): void {
    if (this.clients.size >= MAX_CLIENTS) {
      s.on("error", () => {});
      s.end(`moat: the console has ${MAX_CLIENTS} clients already\r\n`);
      return;
    }
    this.clients.add(s);
    s.on("error", () => {});
    s.on("close", () => {
      this.clients.delete(s);
      this.paused.delete(s);
    });
    // Input that arrives before the VM exists waits in the socket.
    if (!this.target) s.pause();
    s.on("data", (chunk: Buffer) => {
      const t = this.target;
      if (!t) {
        s.pause();
        return;
      }
      if (!t.sendInput(chunk, () => this.resumeAll())) {
        this.paused.add(s);
        s.pause();
      }
    });
  }

  /** The guest took its input: every paused client may send again. */
  private resumeAll(): void {
    if (!this.target) return;
    for (const s of this.clients) if (!s.destroyed) s.resume();
    this.paused.clear();
  }

  /** Guest output (a batch): to every client that is not more than CLIENT_BACKLOG behind. */
  write(bytes: Uint8Array): void {
    for (const s of this.clients) {
      if (s.destroyed || !s.writable) continue;
      if (s.writableLength + bytes.length > CLIENT_BACKLOG) {
        this.dropped += bytes.length;
        continue;
      }
      s.write(bytes);
    }
  }

  /** Stops listening; clients get what is queued for them (up to a grace period), then go. */
  async close(): Promise<void> {
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    const clients = [...this.clients];
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(
        clients.map(
          (s) =>
            new Promise<void>((r) => {
              s.once("close", () => r());
              s.end();
            }),
        ),
      ),
      new Promise((r) => (timer = setTimeout(r, CLOSE_GRACE_MS))),
    ]);
    clearTimeout(timer);
    for (const s of clients) s.destroy();
    await closed;
    try {
      unlinkSync(this.path);
    } catch {
      /* already gone */
    }
  }
}
