// The daemon's snapshot store (`<home>/snapshots/<id>/`, root's, 0700, files 0600) and its seal.
// A VM process writes a snapshot into its own directory, which belongs to the VM's uid: a
// compromised VMM may put links, FIFOs or other files there, or change them while the daemon
// reads. So the daemon (root) never moves or trusts that directory: it opens the snapshot's
// directory and each of its two files through descriptors with no link followed, checks the
// manifest (schema, digest) and that its machine is the one the daemon gave the VM, and copies
// the memory file's data extents into the store, hashing the very bytes it writes: what it
// checked is what it keeps. Then it seals the store's manifest with an HMAC of a key only the
// daemon holds (`<home>/snapshot.key`), and checks that seal and the memory's digest again
// before each start of a VM restored from it. The key never goes to a VM process: a VMM that
// held it could seal a snapshot of its own making. A VM's writable disks are kept beside, sealed
// with it (snapshot-disks.ts).
import {
  closeSync,
  constants,
  existsSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { createHash, randomBytes } from "node:crypto";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import {
  MANIFEST_FILE,
  MEMORY_FILE,
  SNAPSHOT_PAGE,
  SnapshotError,
  checkManifest,
  checkMemoryFd,
  copyExtents,
  openRegular,
  readManifestFd,
  sealedManifest,
  type SnapshotManifest,
} from "../vmm/snapshot-file.js";
import {
  DISKS_FILE,
  copyKeptDisk,
  keepDisks,
  keptBytes,
  keptFile,
  readKeptDisks,
  sealedDisks,
  type KeptDisk,
} from "./snapshot-disks.js";

/** Bound: the key's size (HMAC-SHA-256). */
const KEY_BYTES = 32;
const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
const CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** The daemon's snapshot key: made once (0600), then read; a file of another size is refused. */
export function snapshotKey(home: string): Buffer {
  const path = join(home, "snapshot.key");
  try {
    const fd = openSync(path, CREATE, 0o600);
    try {
      writeSync(fd, randomBytes(KEY_BYTES));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  }
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  let key: Buffer;
  try {
    key = readFileSync(fd);
  } finally {
    closeSync(fd);
  }
  if (key.length !== KEY_BYTES)
    throw new SnapshotError(`${path}: ${key.length} bytes, not a snapshot key of ${KEY_BYTES}`);
  return key;
}

/** Runs `fn` with `path` opened as a directory (no link followed), its fd closed after. */
function withDir<T>(path: string, fn: (fd: number) => T): T {
  let fd: number;
  try {
    fd = openSync(path, DIR_FLAGS);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SnapshotError(
      `${path}: ${code === "ELOOP" || code === "ENOTDIR" ? "not a directory (a link?)" : (e as Error).message}`,
      code === "ENOENT" ? "not-found" : "invalid",
    );
  }
  try {
    return fn(fd);
  } finally {
    closeSync(fd);
  }
}

/** The manifest of the snapshot directory open at `dirFd`, checked (with `key`, its seal). */
function manifestAt(dirFd: number, where: string, key?: Buffer): SnapshotManifest {
  const { fd, size } = openRegular(`/proc/self/fd/${dirFd}`, MANIFEST_FILE);
  try {
    return checkManifest(readManifestFd(fd, size, `${where}/${MANIFEST_FILE}`), where, key);
  } finally {
    closeSync(fd);
  }
}

export class SnapshotStore {
  constructor(
    /** `<home>/snapshots`, root's. */
    readonly dir: string,
    private readonly key: Buffer,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  pathOf(id: string): string {
    return join(this.dir, id);
  }

  /**
   * Removes what the store holds that no record names: a copy a daemon killed mid-way left (it
   * is recorded only once whole). Returns the ids removed. The store is root's: nothing in it
   * is the VM's to place.
   */
  sweep(recorded: ReadonlySet<string>): string[] {
    const gone = readdirSync(this.dir).filter((id) => !recorded.has(id));
    for (const id of gone) rmSync(this.pathOf(id), { recursive: true, force: true });
    return gone;
  }

  /**
   * Keeps the writable `disks` of a VM, paused, for snapshot `id` (snapshot-disks.ts): the
   * store's directory for it is made here, and take() then adds the rest. `admit` is given
   * their bytes of data before a byte is copied. Nothing is left in the store on a refusal.
   */
  keepDisks(
    id: string,
    disks: readonly { index: number; path: string }[],
    admit: (dataBytes: number) => void,
  ): KeptDisk[] {
    const dest = this.pathOf(id);
    mkdirSync(dest, { mode: 0o700 });
    try {
      return keepDisks(dest, disks, admit);
    } catch (e) {
      rmSync(dest, { recursive: true, force: true });
      throw e;
    }
  }

  /**
   * Copies the snapshot `name` a VM process wrote in its directory `vmDir` into the store as
   * `id`, checked as it is copied and sealed; `machine` is what the daemon gave that VM, which
   * the manifest must name; `disks` were kept for it by keepDisks (sealed with it). Returns the
   * bytes of data kept. Nothing is left in the store on a refusal.
   */
  take(
    vmDir: string,
    name: string,
    id: string,
    machine: Record<string, unknown>,
    admit: (dataBytes: number) => void,
    disks: KeptDisk[] = [],
  ): number {
    const dest = this.pathOf(id);
    try {
      return withDir(vmDir, (vfd) =>
        withDir(`/proc/self/fd/${vfd}/${name}`, (sfd) =>
          this.copy(sfd, `snapshot ${name}`, dest, machine, admit, disks),
        ),
      );
    } catch (e) {
      rmSync(dest, { recursive: true, force: true });
      throw e;
    }
  }

  private copy(
    sfd: number,
    where: string,
    dest: string,
    machine: Record<string, unknown>,
    admit: (dataBytes: number) => void,
    disks: KeptDisk[],
  ): number {
    const m = manifestAt(sfd, where);
    if (!isDeepStrictEqual(m.machine, machine))
      throw new SnapshotError(`${where}: its machine is not the VM's as the daemon configured it`);
    // The VM process wrote it: its RAM must be the VM's, and its data is admitted (quota)
    // before a byte of it is copied, so a hostile VMM cannot make root copy gigabytes.
    if (m.memory.bytes !== Number(machine.memory_mib) * 1024 * 1024)
      throw new SnapshotError(
        `${where}: its RAM is not the VM's ${String(machine.memory_mib)} MiB`,
      );
    if (machine.accel !== "auto" && m.accel !== machine.accel)
      throw new SnapshotError(
        `${where}: a snapshot of a ${m.accel} VM, the VM's is ${String(machine.accel)}`,
      );
    admit(m.memory.extents.reduce((n, [, pages]) => n + pages * SNAPSHOT_PAGE, 0));
    // keepDisks made it, with the disks in it.
    if (disks.length === 0) mkdirSync(dest, { mode: 0o700 });
    const src = openRegular(`/proc/self/fd/${sfd}`, MEMORY_FILE);
    let data = 0;
    try {
      const out = openSync(join(dest, MEMORY_FILE), CREATE, 0o600);
      try {
        ftruncateSync(out, m.memory.bytes);
        checkMemoryFd(src.fd, m, where, out);
        fsyncSync(out);
      } finally {
        closeSync(out);
      }
    } finally {
      closeSync(src.fd);
    }
    for (const [, n] of m.memory.extents) data += n * SNAPSHOT_PAGE;
    const text = sealedManifest(m, this.key);
    let disksText = "";
    if (disks.length > 0) {
      disksText = sealedDisks(disks, m.sha256!, this.key);
      const dfd = openSync(join(dest, DISKS_FILE), CREATE, 0o600);
      try {
        writeSync(dfd, disksText);
        fsyncSync(dfd);
      } finally {
        closeSync(dfd);
      }
    }
    const tmp = join(dest, `${MANIFEST_FILE}.tmp`);
    const mfd = openSync(tmp, CREATE, 0o600);
    try {
      writeSync(mfd, text);
      fsyncSync(mfd);
    } finally {
      closeSync(mfd);
    }
    renameSync(tmp, join(dest, MANIFEST_FILE));
    return data + Buffer.byteLength(text) + keptBytes(disks) + Buffer.byteLength(disksText);
  }

  /**
   * Checks snapshot `id` in the store as it is now: its manifest's seal (the daemon's key), its
   * memory's digest and its kept disks'. A SnapshotError naming what changed.
   */
  check(id: string): SnapshotManifest {
    return withDir(this.pathOf(id), (fd) => {
      const where = `snapshot ${id}`;
      const m = manifestAt(fd, where, this.key);
      const mem = openRegular(`/proc/self/fd/${fd}`, MEMORY_FILE);
      try {
        checkMemoryFd(mem.fd, m, where);
      } finally {
        closeSync(mem.fd);
      }
      for (const d of readKeptDisks(fd, where, m.sha256!, this.key)) {
        const file = `${where}/${keptFile(d.index)}`;
        const f = openRegular(`/proc/self/fd/${fd}`, keptFile(d.index));
        const digest = createHash("sha256");
        try {
          if (f.size !== d.bytes)
            throw new SnapshotError(`${file}: ${f.size} bytes, not ${d.bytes}`);
          copyExtents(f.fd, d.extents, digest, file);
        } finally {
          closeSync(f.fd);
        }
        if (digest.digest("hex") !== d.sha256)
          throw new SnapshotError(`${file}: its digest does not match: changed since written`);
      }
      return m;
    });
  }

  /**
   * Before a start: the manifest's seal, and the memory file's size. The memory's data is not
   * hashed here: the VMM checks it against the sealed digest as it reads it (a changed byte
   * fails the start with that reason), and hashing it here too cost every start its RAM's data
   * once more.
   */
  checkSeal(id: string): { manifest: SnapshotManifest; disks: KeptDisk[] } {
    return withDir(this.pathOf(id), (fd) => {
      const where = `snapshot ${id}`;
      const m = manifestAt(fd, where, this.key);
      const mem = openRegular(`/proc/self/fd/${fd}`, MEMORY_FILE);
      closeSync(mem.fd);
      if (mem.size !== m.memory.bytes)
        throw new SnapshotError(
          `${where}/${MEMORY_FILE}: ${mem.size} bytes, not ${m.memory.bytes}`,
        );
      return { manifest: m, disks: readKeptDisks(fd, where, m.sha256!, this.key) };
    });
  }

  /** Whether snapshot `id` kept disks (a record made before disks were kept has none). */
  keptDisks(id: string): boolean {
    return existsSync(join(this.pathOf(id), DISKS_FILE));
  }

  /**
   * For a start of a VM restored from snapshot `id`: a fresh copy of each of its kept `disks`
   * (from checkSeal) in the VM's directory `vmDir`, the VM's `uid`'s, each checked against its
   * digest as it is copied. Returns their paths by disk place.
   */
  copyDisks(
    id: string,
    disks: readonly KeptDisk[],
    vmDir: string,
    uid: number | null,
  ): Map<number, string> {
    return withDir(this.pathOf(id), (fd) => {
      const out = new Map<number, string>();
      for (const d of disks) {
        const src = openRegular(`/proc/self/fd/${fd}`, keptFile(d.index));
        try {
          const where = `snapshot ${id}/${keptFile(d.index)}`;
          out.set(d.index, copyKeptDisk(src, d, where, vmDir, uid));
        } finally {
          closeSync(src.fd);
        }
      }
      return out;
    });
  }

  remove(id: string): void {
    rmSync(this.pathOf(id), { recursive: true, force: true });
  }
}
