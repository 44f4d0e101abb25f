// The VM process gives up who it was: its own uid and gid (no groups, so no capabilities left),
// small resource limits, no core dumps. Done after set-up (files, devices and sockets are open)
// and before the seccomp filter goes on.
import { readFileSync } from "node:fs";
import {
  RLIMIT_CORE,
  RLIMIT_NOFILE,
  RLIMIT_NPROC,
  becomeUser,
  setNotDumpable,
  setParentDeathSignal,
  setRlimit,
} from "../sys/libc.js";
import { MAX_CONNECTIONS } from "../devices/virtio/vsock.js";
import { MoatError } from "../base/moat-error.js";

export class JailError extends MoatError {
  override readonly kind = "host";
}

/**
 * Bounds a VMM lives within: open files, threads of its uid, core size. Open files leave room
 * for a guest's every vsock connection (one host socket each) beside the VMM's own files and
 * clients (about 25 for a VM with every device), so a guest at its bound cannot starve them.
 */
export const VMM_LIMITS = { nofile: MAX_CONNECTIONS + 1024, nproc: 256, core: 0 };

/**
 * Drops to uid:gid (each > 0) on every thread and checks the result: no capability left in
 * any set the kernel reports. Bound: the limits above.
 */
export function dropPrivileges(uid: number, gid: number, o: { jailed?: boolean } = {}): void {
  if (!(uid > 0 && gid > 0))
    throw new JailError(`a VM runs as a uid and gid above 0, not ${uid}:${gid}`);
  setRlimit(RLIMIT_CORE, VMM_LIMITS.core);
  setRlimit(RLIMIT_NOFILE, VMM_LIMITS.nofile);
  setRlimit(RLIMIT_NPROC, VMM_LIMITS.nproc);
  setNotDumpable();
  becomeUser(uid, gid);
  // A jailed VM dies with the unshare it runs under (--kill-child); the uid change above
  // cleared that.
  if (o.jailed) setParentDeathSignal(9);
  const status = readFileSync("/proc/thread-self/status", "utf8");
  for (const set of ["CapInh", "CapPrm", "CapEff", "CapAmb"]) {
    const m = new RegExp(`^${set}:\\s+([0-9a-f]+)`, "m").exec(status);
    if (m && BigInt(`0x${m[1]}`) !== 0n)
      throw new JailError(`${set} is ${m[1]} after dropping to ${uid}`);
  }
}

/** Parses `--jail-user UID:GID`. Bound: each 1..2^31-2. */
export function parseJailUser(v: string): { uid: number; gid: number } {
  const m = /^(\d{1,10}):(\d{1,10})$/.exec(v);
  const uid = Number(m?.[1]);
  const gid = Number(m?.[2]);
  if (!m || uid < 1 || gid < 1 || uid > 2 ** 31 - 2 || gid > 2 ** 31 - 2)
    throw new JailError(`--jail-user wants UID:GID, both above 0 (not '${v}')`);
  return { uid, gid };
}
