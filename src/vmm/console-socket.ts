// The host end of the guest's virtio console (/dev/hvc0): a Unix socket, owner-only, one
// client at a time. What the guest writes goes to the client (dropped and counted while none
// is connected, or while the client is more than OUTPUT_LIMIT behind); what the client writes
// goes to the guest, paused while the device's input queue is full.
import type { Server, Socket } from "node:net";
import { unlinkSync } from "node:fs";
import { listenUnix } from "./unix-listen.js";
import { MoatError } from "../base/moat-error.js";

/** Bound: guest output buffered for a slow client. */
const OUTPUT_LIMIT = 1024 * 1024;

export class ConsoleSocketError extends MoatError {}

export interface ConsoleInput {
  sendInput(data: Uint8Array, resume: () => void): boolean;
}

export class ConsoleSocket {
  private client: Socket | undefined;
  /** Where client input goes (the console device, once it exists). */
  target: ConsoleInput | undefined;
  /** Guest output bytes that reached no client. */
  dropped = 0;

  private constructor(
    readonly path: string,
    private readonly server: Server,
  ) {
    server.on("connection", (sock) => this.accept(sock));
  }

  /** Listens on `path` (a stale socket there is replaced; any other file is refused). */
  static async listen(path: string): Promise<ConsoleSocket> {
    return new ConsoleSocket(path, await listenUnix(path, "console socket", ConsoleSocketError));
  }

  private accept(sock: Socket): void {
    if (this.client) {
      sock.end("moat: the console already has a client\n");
      return;
    }
    this.client = sock;
    sock.on("data", (chunk: Buffer) => {
      const t = this.target;
      if (t && !t.sendInput(chunk, () => sock.resume())) sock.pause();
    });
    const gone = (): void => {
      if (this.client === sock) this.client = undefined;
    };
    sock.on("close", gone);
    sock.on("error", gone);
  }

  /** Guest output for the client. */
  write(bytes: Uint8Array): void {
    const c = this.client;
    if (!c || c.writableLength > OUTPUT_LIMIT) {
      this.dropped += bytes.length;
      return;
    }
    c.write(bytes);
  }

  async close(): Promise<void> {
    this.client?.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
    try {
      unlinkSync(this.path);
    } catch {
      /* already gone */
    }
  }
}
