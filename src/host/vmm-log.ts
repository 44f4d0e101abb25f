// Each VM process's own output (the VMM's stdout and stderr: its errors, device resets, its
// launcher's last words), in `<logsDir>/<id>.log`: root's directory, out of the VM's reach. It
// used to live in the VM's own directory, which belongs to the VM's uid, where a link put in
// its place had the daemon truncate any host file at the next start. The VM process holds the
// file open for appending (O_APPEND, so a truncation here moves its next write to the start);
// the daemon keeps it bounded as the console log is: at each check a file past half the bound
// has its last half-bound of bytes kept as `<id>.log.1` and is emptied (copy and truncate,
// since the VM process keeps writing to its descriptor), and each start moves the last run's
// log there.
import {
  chmodSync,
  closeSync,
  constants,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { readVmFile } from "./vm-file.js";

/** Bound: a VM's log and its rotated copy together, after each check. */
export const VMM_LOG_MAX = 1024 * 1024;
/**
 * How often running VMs' logs are checked. Between checks a log grows by what its VMM writes
 * in that time (a guest's share is bounded by the VMM's per-device log rate limit).
 */
export const VMM_LOG_CHECK_MS = 1000;

const NOFOLLOW = constants.O_NOFOLLOW | constants.O_NONBLOCK;

export class VmmLogs {
  /** `dir` is made root's and private (0700). */
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
  }

  path(id: string): string {
    return join(this.dir, `${id}.log`);
  }

  /**
   * A descriptor for a starting VM process's stdout and stderr (the caller closes it once the
   * process has it): a fresh log, the last run's kept as the rotated copy.
   */
  openForStart(id: string): number {
    this.rotate(id, 0);
    return openSync(
      this.path(id),
      constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_TRUNC | NOFOLLOW,
      0o600,
    );
  }

  /** Keeps `id`'s log and its rotated copy within VMM_LOG_MAX (every VMM_LOG_CHECK_MS). */
  bound(id: string): void {
    this.rotate(id, VMM_LOG_MAX / 2);
  }

  /** If the log holds more than `over` bytes: its last VMM_LOG_MAX/2 become the rotated copy. */
  private rotate(id: string, over: number): void {
    const live = this.path(id);
    let fd: number;
    try {
      fd = openSync(live, constants.O_RDWR | NOFOLLOW);
    } catch {
      return;
    }
    let tail: Buffer;
    try {
      const size = fstatSync(fd).size;
      if (size <= over) return;
      const keep = Math.min(size, VMM_LOG_MAX / 2);
      tail = Buffer.alloc(keep);
      tail = tail.subarray(0, readSync(fd, tail, 0, keep, size - keep));
      // Emptied at once: what the VMM writes between the read and this is all that is lost.
      ftruncateSync(fd, 0);
      // A tail cut mid-line starts at its next line.
      const nl = tail.indexOf(10);
      if (keep < size && nl >= 0) tail = tail.subarray(nl + 1);
    } finally {
      closeSync(fd);
    }
    const tmp = `${live}.1.tmp`;
    const out = openSync(
      tmp,
      constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | NOFOLLOW,
      0o600,
    );
    try {
      writeSync(out, tail);
    } finally {
      closeSync(out);
    }
    renameSync(tmp, `${live}.1`);
  }

  /**
   * The last line the VM process wrote (in the log, or the rotated copy if it is empty): a JSON
   * line's message (host.log_format json), a text line as it is.
   */
  lastLine(id: string): string | undefined {
    for (const p of [this.path(id), `${this.path(id)}.1`]) {
      const text = readVmFile(p, 64 * 1024)
        ?.toString("utf8")
        .trim();
      if (text) return messageOf(text.slice(text.lastIndexOf("\n") + 1)).slice(0, 500);
    }
    return undefined;
  }

  /** Removes a deleted VM's logs. */
  remove(id: string): void {
    for (const p of [this.path(id), `${this.path(id)}.1`]) rmSync(p, { force: true });
  }
}

/** A JSON log line's `msg`; any other line (text, or what the VM process made of it) itself. */
function messageOf(line: string): string {
  if (!line.startsWith("{")) return line;
  try {
    const msg = (JSON.parse(line) as { msg?: unknown }).msg;
    return typeof msg === "string" ? msg : line;
  } catch {
    return line;
  }
}
