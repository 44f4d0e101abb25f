// A daemon snapshot's writable disks (docs/snapshot.md "Through the daemon"). A restored VM starts
// from the snapshot's RAM, whose page cache and file systems expect the disks as they were at
// that instant, and many VMs may start from one snapshot: so the daemon keeps each writable
// disk's content with the snapshot in its store (`disk-N`, N the disk's place in the machine),
// copied sparse while the VM is paused, and gives every start of a restored VM a fresh copy of
// its own in its directory. `disks.json` records each kept disk's size, data ranges and digest,
// bound to the snapshot's manifest and sealed with the daemon's key; the digest is checked as
// each start's copy is made (the copy reads every byte anyway), so a changed disk is refused as
// a changed memory file is. Read-only disks are not kept: they are not written.
import { createHmac, timingSafeEqual } from "node:crypto";
import { closeSync, constants, fchownSync, fstatSync, fsyncSync, openSync } from "node:fs";
import { join } from "node:path";
import { closeFd, openPathNoLinks } from "../sys/libc.js";
import { SnapshotError, openRegular, readManifestFd } from "../vmm/snapshot-file.js";
import { dataExtents, sparseCopy } from "./disk-copy.js";
import { createVmFile } from "./vm-dir.js";

export const DISKS_FILE = "disks.json";
/** Bound: disks.json's size (each disk's extents, MAX_DISK_EXTENTS at most). */
const MAX_DISKS_FILE = 64 * 1024 * 1024;

/** A writable disk kept with a snapshot. */
export interface KeptDisk {
  /** Its place in the machine's disks. */
  index: number;
  /** Its size. */
  bytes: number;
  /** [offset, length] of the ranges holding data, in order, not touching. */
  extents: [number, number][];
  /** SHA-256 of those ranges' data, in order. */
  sha256: string;
}

/** The file a kept disk has in the store, and its copy in a restored VM's directory. */
export const keptFile = (index: number): string => `disk-${index}`;

/** Where a restored VM's copy of kept disk `index` is: its directory `vmDir`. */
export const copyPath = (vmDir: string, index: number): string => join(vmDir, keptFile(index));

/** Bytes of data of kept disks. */
export const keptBytes = (disks: readonly KeptDisk[]): number =>
  disks.reduce((n, d) => n + d.extents.reduce((m, [, len]) => m + len, 0), 0);

/** The writable disks of a machine: their places and paths (the daemon's checked real paths). */
export function writableDisks(machine: { disks?: unknown }): { index: number; path: string }[] {
  const disks = (machine.disks ?? []) as { path: string; read_only?: boolean }[];
  return disks.flatMap((d, index) => (d.read_only === true ? [] : [{ index, path: d.path }]));
}

/**
 * Opens a VM's disk for reading as root: no link in any component (openat2), then reopened
 * through that very file; a regular file only.
 */
export function openSource(path: string): { fd: number; size: number } {
  let p: number;
  try {
    p = openPathNoLinks(path);
  } catch (e) {
    throw new SnapshotError(`${path}: ${(e as Error).message} (a link, or gone since create)`);
  }
  let fd: number;
  try {
    fd = openSync(`/proc/self/fd/${p}`, constants.O_RDONLY | constants.O_NONBLOCK);
  } finally {
    closeFd(p);
  }
  const st = fstatSync(fd);
  if (!st.isFile()) {
    closeSync(fd);
    throw new SnapshotError(`${path}: not a regular file`);
  }
  // Another name of the file could be anywhere on its file system: a VM's uid that linked a
  // root-only file into its directory would have root copy it out (found in review).
  if (st.nlink !== 1) {
    closeSync(fd);
    throw new SnapshotError(
      `${path}: has ${st.nlink} names (hard links); copy it to a file of its own`,
    );
  }
  return { fd, size: st.size };
}

/**
 * Keeps the writable `disks` of a paused VM in the store directory `dest` (root's, made): their
 * data ranges are found first and `admit`ted (their bytes of data) before a byte is copied,
 * then each is copied sparse into `disk-N` (0600) and synced. Returns what disks.json records.
 */
export function keepDisks(
  dest: string,
  disks: readonly { index: number; path: string }[],
  admit: (dataBytes: number) => void,
): KeptDisk[] {
  const open: { index: number; path: string; fd: number; size: number }[] = [];
  try {
    for (const d of disks) open.push({ ...d, ...openSource(d.path) });
    const ranges = open.map((d) => dataExtents(d.fd, d.size));
    admit(ranges.flat().reduce((n, [, len]) => n + len, 0));
    return open.map((d, i) => {
      const create = constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
      const out = openSync(join(dest, keptFile(d.index)), create, 0o600);
      try {
        const extents = ranges[i]!;
        const sha256 = sparseCopy(d.fd, out, extents, d.size, `disk ${d.index} (${d.path})`);
        fsyncSync(out);
        return { index: d.index, bytes: d.size, extents, sha256 };
      } finally {
        closeSync(out);
      }
    });
  } finally {
    for (const d of open) closeSync(d.fd);
  }
}

/** The HMAC of disks.json's body with the daemon's key. */
function sealOf(body: { snapshot: string; disks: KeptDisk[] }, key: Buffer): string {
  return createHmac("sha256", key).update(JSON.stringify(body)).digest("hex");
}

/** disks.json's text: `disks`, bound to the manifest whose digest is `snapshot`, sealed. */
export function sealedDisks(disks: KeptDisk[], snapshot: string, key: Buffer): string {
  const body = { snapshot, disks };
  return JSON.stringify({ ...body, hmac: sealOf(body, key) });
}

const isInt = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** One entry of disks.json, checked: shape, extents in order inside its size. */
function checkDisk(v: unknown, where: string): KeptDisk {
  const d = v as Partial<KeptDisk>;
  const ok =
    isInt(d.index) &&
    isInt(d.bytes) &&
    typeof d.sha256 === "string" &&
    /^[0-9a-f]{64}$/.test(d.sha256) &&
    Array.isArray(d.extents);
  if (!ok) throw new SnapshotError(`${where}: a disk entry is not valid`);
  let next = 0;
  for (const e of d.extents!) {
    if (!Array.isArray(e) || e.length !== 2 || !isInt(e[0]) || !isInt(e[1]) || e[1] < 1)
      throw new SnapshotError(`${where}: disk ${d.index}: an extent is not valid`);
    if (e[0] < next || e[0] + e[1] > d.bytes!)
      throw new SnapshotError(`${where}: disk ${d.index}: extents out of order or past its end`);
    next = e[0] + e[1];
  }
  return d as KeptDisk;
}

/**
 * The kept disks of the store's snapshot directory open at `dirFd` whose manifest's digest is
 * `snapshot`: disks.json read (no link followed, bounded), its seal and its binding to that
 * manifest checked. None when the snapshot kept none.
 */
export function readKeptDisks(
  dirFd: number,
  where: string,
  snapshot: string,
  key: Buffer,
): KeptDisk[] {
  let f: { fd: number; size: number };
  try {
    f = openRegular(`/proc/self/fd/${dirFd}`, DISKS_FILE);
  } catch (e) {
    if (e instanceof SnapshotError && e.kind === "not-found") return [];
    throw e;
  }
  let text: string;
  try {
    if (f.size > MAX_DISKS_FILE)
      throw new SnapshotError(`${where}/${DISKS_FILE}: larger than ${MAX_DISKS_FILE} bytes`);
    text = readManifestFd(f.fd, f.size, `${where}/${DISKS_FILE}`);
  } finally {
    closeSync(f.fd);
  }
  let v: { snapshot?: unknown; disks?: unknown; hmac?: unknown };
  try {
    v = JSON.parse(text) as typeof v;
  } catch {
    throw new SnapshotError(`${where}/${DISKS_FILE}: not JSON`);
  }
  const body = { snapshot: v.snapshot, disks: v.disks } as { snapshot: string; disks: KeptDisk[] };
  const seal = Buffer.from(sealOf(body, key));
  const hmac = Buffer.from(typeof v.hmac === "string" ? v.hmac : "");
  if (hmac.length !== seal.length || !timingSafeEqual(hmac, seal))
    throw new SnapshotError(
      `${where}/${DISKS_FILE}: its seal does not match: changed since written`,
    );
  if (v.snapshot !== snapshot || !Array.isArray(v.disks))
    throw new SnapshotError(`${where}/${DISKS_FILE}: not this snapshot's`);
  return v.disks.map((d) => checkDisk(d, `${where}/${DISKS_FILE}`));
}

/**
 * A fresh copy of kept disk `d` (its file open at `src`) as `disk-N` in the VM directory
 * `vmDir`, made by root with no link followed (vm-dir.ts createVmFile), checked against its
 * digest as it is copied, then handed to the VM's `uid`. Returns its path.
 */
export function copyKeptDisk(
  src: { fd: number; size: number },
  d: KeptDisk,
  where: string,
  vmDir: string,
  uid: number | null,
): string {
  if (src.size !== d.bytes)
    throw new SnapshotError(`${where}: ${src.size} bytes, not ${d.bytes}: changed since written`);
  const out = createVmFile(vmDir, keptFile(d.index));
  try {
    if (sparseCopy(src.fd, out, d.extents, d.bytes, where) !== d.sha256)
      throw new SnapshotError(`${where}: its digest does not match: changed since written`);
    fchownSync(out, uid ?? 0, uid ?? 0);
  } finally {
    closeSync(out);
  }
  return copyPath(vmDir, d.index);
}
