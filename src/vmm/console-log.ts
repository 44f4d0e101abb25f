// The guest console's output appended to a file (`moat run --console-log`): scrollback that
// outlives the VM process. Bounded twice: on disk, the file is renamed to PATH.1 (replacing the
// old one) when it reaches max/2 bytes and a new one is started, so the two hold at most max
// bytes; in memory, output waits in a queue of at most QUEUE_LIMIT bytes for the file writes
// (which run off the VM's path), and beyond it is dropped and counted.
import { open, rename, type FileHandle } from "node:fs/promises";
import { constants } from "node:fs";
import { MoatError } from "../base/moat-error.js";

/** Bounds and default of the log's max (both files together). */
export const CONSOLE_LOG_MIN = 64 * 1024;
export const CONSOLE_LOG_MAX = 64 * 1024 * 1024;
export const CONSOLE_LOG_DEFAULT = 1024 * 1024;
/** Bound: output waiting to be written. */
const QUEUE_LIMIT = 1024 * 1024;

export class ConsoleLogError extends MoatError {}

export interface ConsoleLogSpec {
  path: string;
  /** Both files together: the log rotates at maxBytes / 2. */
  maxBytes: number;
}

// O_NONBLOCK: a FIFO put at PATH fails to open (ENXIO) instead of hanging moat until a reader
// comes; on a regular file it changes nothing.
const OPEN_FLAGS =
  constants.O_WRONLY |
  constants.O_APPEND |
  constants.O_CREAT |
  constants.O_NOFOLLOW |
  constants.O_NONBLOCK;

export class ConsoleLog {
  private queue: Uint8Array[] = [];
  private queued = 0;
  private pumping: Promise<void> | undefined;
  private failed = false;
  /** Guest output bytes that did not reach the file (queue full, or the file failed). */
  dropped = 0;

  private constructor(
    private readonly spec: ConsoleLogSpec,
    private fh: FileHandle,
    private size: number,
    private readonly onError: (message: string) => void,
  ) {}

  /**
   * Opens (creates, mode 0600) the log for appending. A symlink or anything but a regular file
   * at `path` is refused. `onError` hears once about a write that failed (logging stops).
   */
  static async open(spec: ConsoleLogSpec, onError: (message: string) => void): Promise<ConsoleLog> {
    const { fh, size } = await openLog(spec.path, false);
    return new ConsoleLog(spec, fh, size, onError);
  }

  /** Guest output: queued for the file, or dropped (and counted) past QUEUE_LIMIT. */
  write(bytes: Uint8Array): void {
    if (this.failed || this.queued + bytes.length > QUEUE_LIMIT) {
      this.dropped += bytes.length;
      return;
    }
    this.queue.push(bytes);
    this.queued += bytes.length;
    this.kick();
  }

  private kick(): void {
    if (this.pumping) return;
    this.pumping = this.pump().then(() => {
      this.pumping = undefined;
      // Output queued while the last write finished.
      if (this.queue.length > 0 && !this.failed) this.kick();
    });
  }

  private async pump(): Promise<void> {
    const half = Math.floor(this.spec.maxBytes / 2);
    try {
      while (this.queue.length > 0) {
        if (this.size >= half) await this.rotate();
        // One write of what is queued, cut where the file reaches max/2. The batch leaves the
        // queue first: output the guest writes while the write is in flight queues behind it.
        const batch = this.queue;
        this.queue = [];
        const all = batch.length === 1 ? batch[0]! : Buffer.concat(batch);
        const n = Math.min(all.length, half - this.size);
        let bytesWritten = 0;
        try {
          ({ bytesWritten } = await this.fh.write(all, 0, n));
        } finally {
          const rest = all.subarray(bytesWritten);
          if (rest.length > 0) this.queue.unshift(rest);
          this.queued -= bytesWritten;
        }
        if (bytesWritten === 0) throw new Error("the file takes no more data");
        this.size += bytesWritten;
      }
    } catch (e) {
      this.failed = true;
      this.dropped += this.queued;
      this.queue = [];
      this.queued = 0;
      this.onError(`console log ${this.spec.path}: ${(e as Error).message}`);
    }
  }

  /** PATH becomes PATH.1 (replacing it); a new, empty PATH takes the output. */
  private async rotate(): Promise<void> {
    await rename(this.spec.path, `${this.spec.path}.1`);
    const old = this.fh;
    const { fh } = await openLog(this.spec.path, true);
    this.fh = fh;
    this.size = 0;
    await old.close();
  }

  /** Writes out what is queued (at most QUEUE_LIMIT bytes), then closes the file. */
  async close(): Promise<void> {
    while (this.pumping) await this.pumping;
    await this.fh.close().catch(() => {});
  }
}

async function openLog(path: string, truncate: boolean): Promise<{ fh: FileHandle; size: number }> {
  let fh: FileHandle;
  try {
    fh = await open(path, OPEN_FLAGS | (truncate ? constants.O_TRUNC : 0), 0o600);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConsoleLogError(
      `console log ${path}: ${code === "ELOOP" ? "is a symbolic link" : (e as Error).message}`,
    );
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new ConsoleLogError(`console log ${path}: not a regular file`);
    // A hard link to a file elsewhere would have guest output appended to it, by root.
    if (st.nlink !== 1) throw new ConsoleLogError(`console log ${path}: has other hard links`);
    // An existing file keeps its contents but not laxer permissions: it holds guest output.
    if ((st.mode & 0o077) !== 0) await fh.chmod(0o600);
    return { fh, size: st.size };
  } catch (e) {
    await fh.close();
    if (e instanceof ConsoleLogError) throw e;
    throw new ConsoleLogError(`console log ${path}: ${(e as Error).message}`);
  }
}
