// A WebSocket joined to a VM's Unix socket (its serial console or its VNC server), binary frames
// both ways, with backpressure each way so that neither a slow viewer nor a fast typist makes
// the daemon hold more than a bounded amount.
import { connectVmSocket, type Peer } from "./vm-socket.js";
import type { WebSocket } from "ws";

/** Bound: bytes a slow WebSocket client may have waiting before the socket is paused. */
export const WS_BACKLOG = 1024 * 1024;

/**
 * Joins `ws` to the Unix socket at `path`, which must be served by `peer` (vm-socket.ts); each
 * end's close closes the other.
 */
export function bridgeToSocket(ws: WebSocket, path: string, peer: Peer, what: string): void {
  const s = connectVmSocket(path, peer);
  s.on("data", (d: Buffer) => {
    ws.send(d);
    // A slow viewer pauses this connection, not the VM: its bytes wait in the VM's own
    // bounded per-client buffer.
    if (ws.bufferedAmount > WS_BACKLOG) {
      s.pause();
      const t = setInterval(() => {
        if (ws.bufferedAmount < WS_BACKLOG / 2 || ws.readyState !== ws.OPEN) {
          clearInterval(t);
          s.resume();
        }
      }, 20);
    }
  });
  s.on("error", () => ws.close(1011, `${what} unavailable`));
  s.on("close", () => ws.close(1000, `${what} closed`));
  // Input faster than the VM reads: stop reading the WebSocket until the socket drains, so the
  // daemon never holds more than one socket buffer of it.
  ws.on("message", (m: Buffer) => {
    if (!s.write(m)) {
      ws.pause();
      s.once("drain", () => ws.resume());
    }
  });
  ws.on("close", () => s.destroy());
}
