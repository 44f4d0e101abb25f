// An open image file as the disk formats see it: positioned reads (zeroes past its end) and
// writes, its size as moat last made it, durability. The VMM opens and locks the file; the
// format code only reads and writes through this.
import type { FileHandle } from "node:fs/promises";

export interface ImageFile {
  readonly path: string;
  /** Bytes in the file (grows as writes past its end land). */
  readonly size: number;
  /** `len` bytes at `pos`; bytes past the file's end read as zeroes. */
  read(pos: number, len: number): Promise<Uint8Array>;
  write(pos: number, data: Uint8Array): Promise<void>;
  /** Returns once everything written is on stable storage. */
  datasync(): Promise<void>;
  close(): Promise<void>;
}

/** What an overlay reads through for the clusters it does not hold: its backing disk. */
export interface DiskReader {
  readonly path: string;
  readonly sizeBytes: number;
  read(offset: number, len: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** An ImageFile over an open Node file handle of `size` bytes. */
export function handleFile(fh: FileHandle, path: string, size: number): ImageFile {
  let end = size;
  return {
    path,
    get size() {
      return end;
    },
    async read(pos, len) {
      const buf = new Uint8Array(len);
      for (let done = 0; done < len;) {
        const { bytesRead } = await fh.read(buf, done, len - done, pos + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return buf;
    },
    async write(pos, data) {
      for (let done = 0; done < data.length;) {
        const { bytesWritten } = await fh.write(data, done, data.length - done, pos + done);
        done += bytesWritten;
      }
      end = Math.max(end, pos + data.length);
    },
    datasync: () => fh.datasync(),
    close: () => fh.close(),
  };
}

/** A DiskReader over a raw image file (a raw backing file): the file's bytes as they are. */
export function rawReader(file: ImageFile): DiskReader {
  return {
    path: file.path,
    sizeBytes: file.size,
    read: (offset, len) => file.read(offset, len),
    close: () => file.close(),
  };
}
