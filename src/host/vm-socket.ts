// Connecting the daemon (root) to a VM process's Unix sockets (control, console, VNC). Their
// directory belongs to the VM's uid, so a compromised VMM could put a symbolic link there in
// place of its socket and have the daemon connect to any socket on the host (its own API, a
// container runtime's). The kernel's record of who made the other end (SO_PEERCRED) settles
// it: a socket not served by the VM's own process is closed before a byte is written to it.
// The daemon checks the process id: a jailed VMM listens before it drops to the VM's uid, so
// the uid recorded is root's, while the pid is the VMM's whatever it does afterwards.
import net from "node:net";
import { peerCredentials } from "../sys/libc.js";
import { MoatError } from "../base/moat-error.js";

export class VmSocketError extends MoatError {}

/** Who must serve the socket: a process id (the daemon's VMs) or a uid (a stand-alone VM's). */
export type Peer = { pid: number } | { uid: number };

/**
 * Connects to `path` and checks that `peer` serves it; on a mismatch the socket is destroyed
 * with a VmSocketError (listeners added after this call see only the error, and writes made
 * before the connection completed are never sent).
 */
export function connectVmSocket(path: string, peer: Peer): net.Socket {
  const s = net.connect(path);
  s.once("connect", () => {
    const fd = (s as unknown as { _handle?: { fd?: number } })._handle?.fd;
    let got: { pid: number; uid: number } | undefined;
    try {
      got = fd === undefined || fd < 0 ? undefined : peerCredentials(fd);
    } catch {
      got = undefined;
    }
    const ok = got !== undefined && ("pid" in peer ? got.pid === peer.pid : got.uid === peer.uid);
    if (!ok) {
      const want = "pid" in peer ? `the VM's process ${peer.pid}` : `uid ${peer.uid}`;
      const seen = got ? `process ${got.pid} (uid ${got.uid})` : "an unknown peer";
      s.destroy(new VmSocketError(`${path} is served by ${seen}, not ${want}`));
    }
  });
  return s;
}
