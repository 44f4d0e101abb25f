// The daemon's side of a VM process's control socket: one JSON request, one JSON reply, with a
// timeout, over a fresh connection (a VMM that hangs or dies costs one failed call, nothing more).
import { connectVmSocket, type Peer } from "./vm-socket.js";
import type { ControlReply, ControlRequest } from "../vmm/control-protocol.js";
import { parseControlReply } from "../vmm/control-reply-check.js";
import { MoatError } from "../base/moat-error.js";

/** Bound: a reply larger than this is refused (a VMM's replies are a few KiB). */
const MAX_REPLY = 1024 * 1024;

export class VmmCallError extends MoatError {
  override readonly kind = "host";
}

/**
 * Sends `req` to the control socket at `path`, which must be served by `peer` (default: a
 * process of this uid; vm-socket.ts); resolves to the reply (ok or not), once it has been
 * checked to be a reply to `req`'s op (control-reply-check.ts).
 */
export function vmmCall<R extends ControlRequest>(
  path: string,
  req: R,
  timeoutMs = 5000,
  peer: Peer = { uid: process.getuid!() },
): Promise<ControlReply<R["op"]>> {
  return new Promise((resolve, reject) => {
    const s = connectVmSocket(path, peer);
    let buf = "";
    const fail = (why: string): void => {
      s.destroy();
      reject(new VmmCallError(why));
    };
    const timer = setTimeout(() => fail(`no reply from ${path} within ${timeoutMs} ms`), timeoutMs);
    s.setEncoding("utf8");
    s.on("connect", () => s.write(JSON.stringify(req) + "\n"));
    s.on("data", (d: string) => {
      buf += d;
      if (buf.length > MAX_REPLY) return fail("reply too large");
      const nl = buf.indexOf("\n");
      if (nl < 0) return;
      clearTimeout(timer);
      s.end();
      let reply: unknown;
      try {
        reply = JSON.parse(buf.slice(0, nl));
      } catch {
        return reject(new VmmCallError("reply is not JSON"));
      }
      try {
        resolve(parseControlReply(req.op, reply));
      } catch (e) {
        reject(new VmmCallError((e as Error).message));
      }
    });
    s.on("error", (e) => {
      clearTimeout(timer);
      fail(e.message);
    });
    s.on("close", () => {
      clearTimeout(timer);
      if (buf.indexOf("\n") < 0) reject(new VmmCallError("connection closed before a reply"));
    });
  });
}
