// Reading files in a VM's directory. The VM process owns that directory (its own uid), so a
// compromised VMM can put anything there: a symlink to /etc/shadow, a hard link to a file it
// cannot read, a FIFO, a huge file. The daemon, which is root, reads them only as regular files
// with one link, never through a symlink, and bounded.
import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";

/**
 * The last `max` bytes of the regular file at `path` (not followed if a symlink, refused if
 * hard-linked elsewhere) with its modification time, or undefined if there is none. Both come
 * from one open file, so the file cannot be swapped between them. Bound: at most `max` bytes.
 */
export function readVmFileDated(
  path: string,
  max: number,
): { bytes: Buffer; mtimeMs: number } | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.nlink !== 1) return undefined;
    const len = Math.min(max, st.size);
    const buf = Buffer.alloc(len);
    const n = readSync(fd, buf, 0, len, st.size - len);
    return { bytes: buf.subarray(0, n), mtimeMs: st.mtimeMs };
  } finally {
    closeSync(fd);
  }
}

/** The last `max` bytes of the file at `path`, as readVmFileDated reads it. Bound: `max` bytes. */
export function readVmFile(path: string, max: number): Buffer | undefined {
  return readVmFileDated(path, max)?.bytes;
}
