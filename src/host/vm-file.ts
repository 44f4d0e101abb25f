// Reading files in a VM's directory. The VM process owns that directory (its own uid), so a
// compromised VMM can put anything there: a symlink to /etc/shadow, a FIFO, a huge file. The
// daemon, which is root, reads them only as regular files, never through a link, and bounded.
import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";

/**
 * The last `max` bytes of the regular file at `path` (not followed if a symlink), or undefined
 * if there is none. Bound: at most `max` bytes read.
 */
export function readVmFile(path: string, max: number): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return undefined;
    const len = Math.min(max, st.size);
    const buf = Buffer.alloc(len);
    const n = readSync(fd, buf, 0, len, st.size - len);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}
