// What the daemon (root) does inside a VM's directory (`vms/<id>/`). That directory belongs to
// the VM's own uid, so a compromised VMM can put links, FIFOs and deep trees there, and swap them
// while the daemon works. The directory's own name cannot be swapped (`vms/` is root's), so the
// daemon opens it once, without following a link, and names every entry relative to that
// descriptor: `/proc/self/fd/N/NAME` is resolved by the kernel through N to that very
// directory, and unlink, rmdir and rename never follow their last component. A subdirectory is
// entered only through a descriptor opened with O_NOFOLLOW | O_DIRECTORY, so a link put in its
// place fails to open instead of leading out. Root's own files for a VM are not kept here at
// all (vmm-log.ts).
import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fstatSync,
  mkdirSync,
  openSync,
  opendirSync,
  renameSync,
  rmdirSync,
  unlinkSync,
} from "node:fs";
import { MoatError } from "../base/moat-error.js";

export class VmDirError extends MoatError {
  override readonly kind = "host";
}

const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
/** Bound: directory descriptors held at once while removing (deeper trees are moved up). */
const MAX_DEPTH = 16;
/**
 * Bound: passes over one directory that a live process of the VM's uid keeps adding to (the VM
 * directory itself, root's by then, only gets the subtrees moved up), and tries at one entry
 * that keeps being swapped.
 */
const MAX_PASSES = 64;

/** One removal: the VM directory's descriptor, and how many subtrees were moved up into it. */
interface Removal {
  top: number;
  moved: number;
}

/** `name` in the directory open at `fd`, resolved through the descriptor, not a path. */
function at(fd: number, name: string): string {
  return `/proc/self/fd/${fd}/${name}`;
}

function code(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException).code;
}

/** Opens the directory `path` without following a link; undefined if it does not exist. */
function openDir(path: string): number | undefined {
  try {
    return openSync(path, DIR_FLAGS);
  } catch (e) {
    if (code(e) === "ENOENT") return undefined;
    throw new VmDirError(`${path}: ${code(e) === "ELOOP" ? "is a link" : (e as Error).message}`);
  }
}

/**
 * Makes `dir` (if missing) the VM's own: owner `uid` (root when null), mode 0700, set through
 * a descriptor of the directory itself; then removes `stale` entries in it (an earlier run's
 * exit record) whatever they are, following no link.
 */
export function prepareVmDir(dir: string, uid: number | null, stale: readonly string[]): void {
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if (code(e) !== "EEXIST") throw e;
  }
  const fd = openDir(dir);
  if (fd === undefined) throw new VmDirError(`${dir}: vanished`);
  try {
    fchownSync(fd, uid ?? 0, uid ?? 0);
    fchmodSync(fd, 0o700);
    for (const name of stale) removeEntry({ top: fd, moved: 0 }, fd, name, 1);
  } finally {
    closeSync(fd);
  }
}

/**
 * Creates `name` afresh in the VM directory `dir` for root to write (O_RDWR), mode 0600:
 * whatever is there by that name (an earlier run's copy, or a link the VM's uid put there) is
 * removed first without following it, and the file is made with O_CREAT | O_EXCL |
 * O_NOFOLLOW through the directory's descriptor, so nothing put there meanwhile is opened or
 * written through: the create fails instead. The caller hands it to the VM's uid (fchown)
 * once written. Returns its descriptor.
 */
export function createVmFile(dir: string, name: string): number {
  const fd = openDir(dir);
  if (fd === undefined) throw new VmDirError(`${dir}: vanished`);
  try {
    removeEntry({ top: fd, moved: 0 }, fd, name, 1);
    const flags = constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
    try {
      return openSync(at(fd, name), flags, 0o600);
    } catch (e) {
      throw new VmDirError(`${dir}/${name}: ${(e as Error).message} (put there meanwhile?)`);
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Removes the VM directory `dir` and all in it, following no link out of it and crossing no
 * mount. It is made root's (mode 0700) first, so the VM's uid can add nothing to it by name.
 * Bound: at most MAX_DEPTH directories open at once; a deeper tree is moved up and removed in a
 * later pass.
 */
export function removeVmDir(dir: string): void {
  const fd = openDir(dir);
  if (fd === undefined) return;
  try {
    fchownSync(fd, 0, 0);
    fchmodSync(fd, 0o700);
    empty({ top: fd, moved: 0 }, fd, 1, dir);
  } finally {
    closeSync(fd);
  }
  rmdirSync(dir);
}

/** Removes everything in the directory open at `fd`. */
function empty(r: Removal, fd: number, depth: number, what: string): void {
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    // A pass over the VM directory that moved subtrees up into it is not counted: nothing else
    // can be added there, and a tree can only be so deep.
    if (fd === r.top) {
      if (r.moved > 0) pass = 0;
      r.moved = 0;
    }
    const d = opendirSync(at(fd, ""));
    let seen = 0;
    try {
      for (let e = d.readSync(); e !== null; e = d.readSync()) {
        seen++;
        removeEntry(r, fd, e.name, depth);
      }
    } finally {
      d.closeSync();
    }
    if (seen === 0) return;
  }
  throw new VmDirError(`${what}: still not empty after ${MAX_PASSES} passes`);
}

/** Removes `name` in the directory open at `fd`: a file, link, socket, FIFO or a whole tree. */
function removeEntry(r: Removal, fd: number, name: string, depth: number): void {
  const p = at(fd, name);
  for (let tries = 0; tries < MAX_PASSES; tries++) {
    try {
      unlinkSync(p);
      return;
    } catch (e) {
      if (code(e) === "ENOENT") return;
      if (code(e) !== "EISDIR") throw e;
    }
    if (depth >= MAX_DEPTH) {
      // Too deep to hold another descriptor: moved up into the VM directory, removed from there.
      renameSync(p, at(r.top, `.moat-rm-${process.hrtime.bigint()}`));
      r.moved++;
      return;
    }
    let sub: number;
    try {
      sub = openSync(p, DIR_FLAGS);
    } catch (e) {
      // Swapped for a link or a file since the unlink: that is removed on the next try.
      if (code(e) === "ELOOP" || code(e) === "ENOTDIR" || code(e) === "ENOENT") continue;
      throw e;
    }
    try {
      if (fstatSync(sub).dev !== fstatSync(fd).dev)
        throw new VmDirError(`${name}: a mount point in a VM directory; not removed`);
      empty(r, sub, depth + 1, name);
    } finally {
      closeSync(sub);
    }
    try {
      rmdirSync(p);
      return;
    } catch (e) {
      if (code(e) === "ENOENT") return;
      // Refilled, or swapped for another entry: removed again.
      if (code(e) !== "ENOTEMPTY" && code(e) !== "ENOTDIR") throw e;
    }
  }
  throw new VmDirError(`${name} keeps changing while it is removed`);
}
