// How a VM's VMM process ended, as the kernel recorded it. The daemon's child is not always the
// VMM: a jailed VM's is util-linux unshare, which before util-linux 2.40 exits with status 1
// when the VMM under it is killed by SIGKILL (it cannot reset SIGKILL's disposition, so fails
// to re-raise it on itself), and the daemon recorded "exited with status 1" for a kill -9 or an
// OOM kill. A pidfd held on the VMM keeps its wait status after its parent reaps it
// (PIDFD_INFO_EXIT, Linux 6.15 and later); where the kernel keeps none, the daemon goes by its
// child's status, which util-linux 2.40 and later passes on right.
// Also the signal that ends a process the daemon means to end (a stop's, a kill's, an orphan's).
import { constants } from "node:os";
import { closeFd, pidfdExitStatus, pidfdOpen } from "../sys/libc.js";

export interface ProcessEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const signalNames = new Map<number, NodeJS.Signals>(
  Object.entries(constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]),
);

/** A wait status as Node reports a child's end: an exit code, or the signal that ended it. */
export function fromWaitStatus(ws: number): ProcessEnd {
  const sig = ws & 0x7f;
  if (sig === 0) return { code: (ws >> 8) & 0xff, signal: null };
  return { code: null, signal: signalNames.get(sig) ?? (`SIG${sig}` as NodeJS.Signals) };
}

/** A pidfd on one process, whose end can be read once it has been reaped. */
export class EndWatch {
  private constructor(private fd: number | undefined) {}

  /**
   * Watches `pid` if, once a pidfd names it, `same()` still says it is the process meant (a PID
   * is reused once its process is reaped); undefined if it is not, or is gone.
   */
  static hold(pid: number, same: () => boolean): EndWatch | undefined {
    let fd: number;
    try {
      fd = pidfdOpen(pid);
    } catch {
      return undefined;
    }
    if (same()) return new EndWatch(fd);
    closeFd(fd);
    return undefined;
  }

  /** How the process ended, if it has and the kernel can tell. */
  end(): ProcessEnd | undefined {
    if (this.fd === undefined) return undefined;
    const ws = pidfdExitStatus(this.fd);
    return ws === undefined ? undefined : fromWaitStatus(ws);
  }

  close(): void {
    if (this.fd !== undefined) closeFd(this.fd);
    this.fd = undefined;
  }
}

/** Sends `sig` to `pid` if it is still there. */
export function signalPid(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}
