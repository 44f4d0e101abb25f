// A raw disk image file as a virtio-blk backend: asynchronous reads and writes (libuv's thread
// pool, so no vCPU and not the VMM thread waits for the disk), flush as fdatasync, discard and
// write-zeroes through fallocate. The VMM opens it and holds QEMU's image lock on it while the
// VM runs; the device model only sees BlockBackend.
import { FORMAT_PROBE_BYTES, formatRefusal, knownImageFormat } from "./image-format.js";
import { statSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import type { BlockBackend } from "../devices/virtio/blk.js";
import {
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  FALLOC_FL_ZERO_RANGE,
  SysError,
  fallocate,
} from "../sys/libc.js";
import { lockImage } from "./image-lock.js";
import { MoatError } from "../base/moat-error.js";

export class DiskError extends MoatError {
  override readonly kind = "invalid";
}

/**
 * The first two of `disks` that are one file (by device and inode, so links too) where either
 * would write it, as indexes; QEMU refuses that too. Paths that cannot be read are left to
 * whoever opens them to report. Bound: n² comparisons of at most a VM's disks.
 */
export function writableTwice(
  disks: readonly { path: string; readOnly: boolean }[],
): [number, number] | undefined {
  const ids = disks.map((d) => {
    try {
      const st = statSync(d.path, { bigint: true });
      return `${st.dev}:${st.ino}`;
    } catch {
      return undefined;
    }
  });
  for (let j = 1; j < disks.length; j++)
    for (let i = 0; i < j; i++)
      if (ids[j] !== undefined && ids[i] === ids[j] && !(disks[i]!.readOnly && disks[j]!.readOnly))
        return [i, j];
  return undefined;
}

/** Bound: zeroes written by hand (when fallocate cannot) go in chunks of this size. */
const ZERO_CHUNK = 1 << 20;

export class DiskFile implements BlockBackend {
  private constructor(
    private readonly fh: FileHandle,
    readonly path: string,
    readonly sizeBytes: number,
    readonly readOnly: boolean,
  ) {}

  /**
   * Opens `path` read-write, or read-only (then the host refuses every write), and takes its
   * image lock: refused while another process (QEMU or moat) writes it, or reads it and lets
   * no writer in when this one would write. Unless `raw` (the caller says it is raw), a file
   * whose first sector names another image format is refused (image-format.ts).
   */
  static async open(path: string, readOnly: boolean, raw = false): Promise<DiskFile> {
    let fh: FileHandle;
    try {
      fh = await open(path, readOnly ? "r" : "r+");
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why: Record<string, string> = {
        ENOENT: "no such file",
        EACCES: "permission denied",
        EISDIR: "not a regular file (a raw image is expected)",
        EROFS: "on a read-only file system (add ,ro)",
      };
      throw new DiskError(`disk ${path}: ${why[code ?? ""] ?? (e as Error).message}`);
    }
    const st = await fh.stat();
    if (!st.isFile()) {
      await fh.close();
      throw new DiskError(`disk ${path}: not a regular file (a raw image is expected)`);
    }
    if (st.size < 512) {
      await fh.close();
      throw new DiskError(`disk ${path}: smaller than one 512-byte sector`);
    }
    if (!raw) {
      const head = new Uint8Array(FORMAT_PROBE_BYTES);
      await fh.read(head, 0, head.length, 0);
      const format = knownImageFormat(head);
      if (format !== undefined) {
        await fh.close();
        throw new DiskError(`disk ${path}: ${formatRefusal(path, format)}`);
      }
    }
    let inUse: string | undefined;
    try {
      inUse = lockImage(fh.fd, readOnly);
    } catch (e) {
      await fh.close();
      throw new DiskError(`disk ${path}: cannot take its image lock: ${(e as Error).message}`);
    }
    if (inUse !== undefined) {
      await fh.close();
      throw new DiskError(`disk ${path}: ${inUse}`);
    }
    return new DiskFile(fh, path, st.size, readOnly);
  }

  async read(offset: number, len: number): Promise<Uint8Array> {
    const buf = new Uint8Array(len);
    let done = 0;
    while (done < len) {
      const { bytesRead } = await this.fh.read(buf, done, len - done, offset + done);
      if (bytesRead === 0) break; // past the end of a file shorter than whole sectors: zeroes
      done += bytesRead;
    }
    return buf;
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    this.refuseIfReadOnly();
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.fh.write(data, done, data.length - done, offset + done);
      done += bytesWritten;
    }
  }

  async flush(): Promise<void> {
    if (!this.readOnly) await this.fh.datasync();
  }

  async discard(offset: number, len: number): Promise<void> {
    this.refuseIfReadOnly();
    try {
      fallocate(this.fh.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, len);
    } catch (e) {
      // Discard is a hint: a file system without hole punching just keeps the data.
      if (!(e instanceof SysError && e.code === "EOPNOTSUPP")) throw e;
    }
  }

  async writeZeroes(offset: number, len: number): Promise<void> {
    this.refuseIfReadOnly();
    try {
      fallocate(this.fh.fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, offset, len);
      return;
    } catch (e) {
      if (!(e instanceof SysError && e.code === "EOPNOTSUPP")) throw e;
    }
    const zero = new Uint8Array(Math.min(ZERO_CHUNK, len));
    for (let done = 0; done < len; done += zero.length) {
      await this.write(offset + done, zero.subarray(0, Math.min(zero.length, len - done)));
    }
  }

  async close(): Promise<void> {
    await this.fh.close();
  }

  private refuseIfReadOnly(): void {
    if (this.readOnly) {
      throw Object.assign(new Error(`disk ${this.path} is read-only`), { code: "EROFS" });
    }
  }
}
