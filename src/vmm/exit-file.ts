// How the VM ended, as a small JSON file for whoever started moat and may not be its parent any
// more (`moat run --exit-file`): {"status":N,"reason":...,"detail":...,"time":ISO}. Written
// atomically (a temporary file in the same directory, then rename), so a reader sees the whole
// record or none; a stale one from an earlier run is removed at start.
import {
  closeSync,
  constants,
  fsyncSync,
  lstatSync,
  openSync,
  renameSync,
  statSync,
  unlinkSync,
} from "node:fs";
import { writeSync } from "node:fs";
import { dirname } from "node:path";
import type { VmExit } from "./vm-exit.js";
import { MoatError } from "../base/moat-error.js";

export class ExitFileError extends MoatError {}

/** What the exit file holds: a VM's end, or "error" for a VM that could not start (status 125). */
export interface ExitRecord {
  status: number;
  reason: VmExit["reason"] | "error";
  detail: string;
}

/**
 * Checks that the exit file can be written at `path` (its directory exists, nothing but a
 * regular file is in the way) and removes a stale one.
 */
export function prepareExitFile(path: string): void {
  if (path === "") throw new ExitFileError("exit file: empty path");
  const dir = dirname(path);
  let st;
  try {
    st = statSync(dir);
  } catch {
    throw new ExitFileError(`exit file ${path}: no directory ${dir}`);
  }
  if (!st.isDirectory()) throw new ExitFileError(`exit file ${path}: ${dir} is not a directory`);
  try {
    if (!lstatSync(path).isFile())
      throw new ExitFileError(
        `exit file ${path}: something that is not a regular file is in the way`,
      );
    unlinkSync(path);
  } catch (e) {
    if (e instanceof ExitFileError) throw e;
    if ((e as NodeJS.ErrnoException).code !== "ENOENT")
      throw new ExitFileError(`exit file ${path}: ${(e as Error).message}`);
  }
}

/** Writes `r` (with the time now) to `path` atomically, mode 0600. Throws on failure. */
export function writeExitFile(path: string, r: ExitRecord): void {
  const json =
    JSON.stringify({
      status: r.status,
      reason: r.reason,
      detail: r.detail,
      time: new Date().toISOString(),
    }) + "\n";
  const tmp = `${path}.${process.pid}.tmp`;
  // Created afresh, never opened through what is there: this may run as root (a VM that fails
  // before its uid drop) in a directory the VM's uid can write, and a jailed VMM's pid (1) makes
  // the name one a compromised VMM could plant a link at. Unlinking takes no link's target.
  try {
    unlinkSync(tmp);
  } catch {
    /* none there */
  }
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    writeSync(fd, json);
    // On disk before the rename makes it visible: a host crash leaves the old state or this one.
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      /* nothing to clean */
    }
    throw e;
  }
}
