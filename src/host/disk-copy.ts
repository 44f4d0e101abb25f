// Sparse copies of disk files by descriptors, for the daemon's snapshot store (snapshot-disks.ts):
// a reflink (FICLONE) where the file system shares extents, otherwise only the ranges that hold
// data (SEEK_DATA/SEEK_HOLE) are read and written, so a hole stays a hole and a mostly empty
// disk costs its data, not its size. Every copy hashes the bytes it keeps.
import { createHash } from "node:crypto";
import { ftruncateSync } from "node:fs";
import { ficlone, seekData, seekHole } from "../sys/libc.js";
import { SnapshotError, copyExtents } from "../vmm/snapshot-file.js";

/** Bound: ranges recorded per disk (a guest can scatter its writes; coarser ranges past it). */
export const MAX_DISK_EXTENTS = 1 << 16;
/** The finest range recorded: a page (file systems allocate in blocks of at most this here). */
const GRAIN = 4096;

/** The runs of the file open at `fd` (of `size` bytes) that hold data, as the kernel says. */
function* dataRuns(fd: number, size: number): Generator<[number, number]> {
  let at = 0;
  while (at < size) {
    const start = seekData(fd, at);
    if (start === undefined || start >= size) return;
    const end = Math.min(seekHole(fd, start), size);
    yield [start, end - start];
    at = end;
  }
}

/**
 * The [offset, length] ranges of the file open at `fd` that hold data, in order, not touching,
 * each on a whole number of grains (clipped at `size`). Bound: `max` ranges; past it the grain
 * doubles and near ranges merge (holes between them are then copied as zeros).
 */
export function dataExtents(fd: number, size: number, max = MAX_DISK_EXTENTS): [number, number][] {
  let grain = GRAIN;
  const out: [number, number][] = [];
  const add = (start: number, end: number): void => {
    const a = Math.floor(start / grain) * grain;
    const b = Math.min(Math.ceil(end / grain) * grain, size);
    const last = out[out.length - 1];
    if (last && last[0] + last[1] >= a) last[1] = Math.max(last[1], b - last[0]);
    else out.push([a, b - a]);
  };
  for (const [start, length] of dataRuns(fd, size)) {
    add(start, start + length);
    while (out.length > max) {
      grain *= 2;
      const old = out.splice(0);
      for (const [s, n] of old) add(s, s + n);
    }
  }
  return out;
}

/** Whether every range of data in the file open at `fd` lies inside `extents`. */
function onlyIn(fd: number, size: number, extents: readonly [number, number][]): boolean {
  let i = 0;
  for (const [start, length] of dataRuns(fd, size)) {
    while (i < extents.length && extents[i]![0] + extents[i]![1] <= start) i++;
    const e = extents[i];
    if (!e || e[0] > start || e[0] + e[1] < start + length) return false;
  }
  return true;
}

/**
 * Copies `extents` of the file open at `src` (of `size` bytes) into the empty file open at
 * `dst` (read-write), the rest holes; returns the SHA-256 of the extents' data as copied.
 * A reflink first: then the clone is hashed, and refused if it holds data outside `extents`
 * (those bytes would not be covered by the digest). `where` names the source in errors.
 */
export function sparseCopy(
  src: number,
  dst: number,
  extents: readonly [number, number][],
  size: number,
  where: string,
): string {
  const digest = createHash("sha256");
  if (ficlone(dst, src)) {
    if (!onlyIn(dst, size, extents))
      throw new SnapshotError(`${where}: holds data outside its recorded extents`);
    copyExtents(dst, extents, digest, where);
  } else {
    ftruncateSync(dst, size);
    copyExtents(src, extents, digest, where, dst);
  }
  return digest.digest("hex");
}
