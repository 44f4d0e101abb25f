// A small tmpfs (root), for what a full file system does: mounted on a fresh directory, filled
// to the last page on demand, unmounted and removed at the end.
import { execFileSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Tmpfs {
  dir: string;
  /** Writes `<dir>/fill` until the file system refuses (ENOSPC). */
  fill(): void;
  /** Removes the fill. */
  unfill(): void;
  /** Unmounts (lazily: a process may still hold a file) and removes the directory. */
  remove(): void;
}

export function mountTmpfs(sizeMiB: number, mode = "0711"): Tmpfs {
  const dir = mkdtempSync(join(tmpdir(), "moatfs-"));
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${sizeMiB}m,mode=${mode}`, "tmpfs", dir]);
  const fill = join(dir, "fill");
  return {
    dir,
    fill: () => {
      const fd = openSync(fill, "a");
      const chunk = Buffer.alloc(64 << 10);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ENOSPC") throw e;
      } finally {
        closeSync(fd);
      }
    },
    unfill: () => rmSync(fill, { force: true }),
    remove: () => {
      execFileSync("umount", ["-l", dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
