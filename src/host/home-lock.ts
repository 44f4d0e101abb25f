// One daemon per home: `moatd.pid` in the home, locked (flock) for the daemon's whole life, so the
// kernel decides between two daemons started at the same instant. The file also holds the
// holder's PID, for people; the lock, not the PID, is what is checked.
import {
  closeSync,
  constants,
  fstatSync,
  ftruncateSync,
  openSync,
  readFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { tryLockExclusive } from "../sys/libc.js";
import { MoatError } from "../base/moat-error.js";

export class HomeLockError extends MoatError {
  override readonly kind = "conflict";
}

/** The lock a running daemon holds on its home; released when the process ends, whatever way. */
export interface HomeLock {
  /** Clears the PID and lets go. The file stays: see lockHome. */
  release(): void;
}

/**
 * Takes `<home>/moatd.pid` or throws HomeLockError naming the home and, when the kernel's lock
 * table shows it, the holder's PID. The file is never removed: a daemon that unlinked it on
 * exit would let one starting daemon lock the old file and another a new one, both "alone".
 * Opened without following a link.
 */
export function lockHome(home: string): HomeLock {
  const path = join(home, "moatd.pid");
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o644);
  } catch (e) {
    throw new HomeLockError(`cannot open ${path}: ${(e as Error).message}`);
  }
  let taken: boolean;
  try {
    taken = tryLockExclusive(fd);
  } catch (e) {
    closeSync(fd);
    throw new HomeLockError(`cannot lock ${path}: ${(e as Error).message}`);
  }
  if (!taken) {
    const pid = lockHolder(fd);
    closeSync(fd);
    throw new HomeLockError(
      `another moat daemon${pid !== undefined ? ` (pid ${pid})` : ""} holds ${home} (its lock on ${path})`,
    );
  }
  ftruncateSync(fd, 0);
  writeSync(fd, `${process.pid}\n`, 0);
  return {
    release: () => {
      ftruncateSync(fd, 0);
      closeSync(fd);
    },
  };
}

/** How /proc/locks names a file: its device as hex major:minor, then its inode. */
export function procLocksId(st: { dev: bigint; ino: bigint }): string {
  const major = ((st.dev >> 8n) & 0xfffn) | ((st.dev >> 32n) & ~0xfffn);
  const minor = (st.dev & 0xffn) | ((st.dev >> 12n) & ~0xffn);
  return `${major.toString(16).padStart(2, "0")}:${minor.toString(16).padStart(2, "0")}:${st.ino}`;
}

/**
 * The PID holding a flock on the open file `fd`, from /proc/locks (the kernel's table: right
 * even while the holder has not yet written its PID into the file). Lines look like
 * `1: FLOCK  ADVISORY  WRITE 4242 00:2a:1234 0 EOF`, the device as hex major:minor.
 */
function lockHolder(fd: number): number | undefined {
  const id = procLocksId(fstatSync(fd, { bigint: true }));
  let table: string;
  try {
    table = readFileSync("/proc/locks", "utf8");
  } catch {
    return undefined;
  }
  for (const line of table.split("\n")) {
    const f = line.trim().split(/\s+/);
    const at = f.indexOf("FLOCK");
    if (at >= 0 && f[at - 1] !== "->" && f[at + 4] === id) return Number(f[at + 3]);
  }
  return undefined;
}
