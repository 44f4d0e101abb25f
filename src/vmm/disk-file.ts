// A raw disk image file as a virtio-blk backend: asynchronous reads and writes (libuv's thread
// pool, so no vCPU and not the VMM thread waits for the disk), flush as fdatasync, discard and
// write-zeroes through fallocate. The VMM opens it; the device model only sees BlockBackend.
import { open, type FileHandle } from "node:fs/promises";
import type { BlockBackend } from "../devices/virtio/blk.js";
import {
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  FALLOC_FL_ZERO_RANGE,
  SysError,
  fallocate,
} from "../sys/libc.js";

export class DiskError extends Error {}

/** Bound: zeroes written by hand (when fallocate cannot) go in chunks of this size. */
const ZERO_CHUNK = 1 << 20;

export class DiskFile implements BlockBackend {
  private constructor(
    private readonly fh: FileHandle,
    readonly path: string,
    readonly sizeBytes: number,
    readonly readOnly: boolean,
  ) {}

  /** Opens `path` read-write, or read-only (then the host refuses every write). */
  static async open(path: string, readOnly: boolean): Promise<DiskFile> {
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
