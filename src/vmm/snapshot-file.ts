// A VM snapshot on disk (docs/snapshot.md): a directory holding
//   memory         guest RAM as a sparse file: only the pages that are not all zero are written,
//                  the rest stay holes
//   snapshot.json  the manifest: format and version, the moat that wrote it, the machine's
//                  config, the harts' state, each device's state, which extents of `memory`
//                  hold data, and digests
// snapshot.json is written last and renamed into place: a directory without it is no snapshot.
// Everything in it is hostile input to the VMM that loads it: the manifest is schema-checked,
// bounded and its digest (and, for a daemon's snapshots, its HMAC) checked before any value is
// used; the memory's digest is checked as it is read.
import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { createHash, createHmac, timingSafeEqual, type Hash } from "node:crypto";
import { join } from "node:path";
import type { ValidateFunction } from "ajv";
import type { DeviceState } from "../devices/device-state.js";
import type { KvmCpuState } from "../accel/accel.js";
import { MoatError } from "../base/moat-error.js";
import { moatVersion } from "../base/moat-version.js";
import { validators, type SchemaSet } from "./schema-compiler.js";
import { MEMORY_MIB_MAX, VCPUS_MAX } from "./vm-limits.js";
import { HART_STATE_BYTES } from "../accel/soft/hart-state.js";
import { seekData } from "../sys/libc.js";

/** Bound: the most RAM any machine has (vm-limits.ts), a snapshot's memory at most that. */
const MAX_RAM_BYTES = Math.max(...Object.values(MEMORY_MIB_MAX)) * 2 ** 20;

export const SNAPSHOT_FORMAT = "moat-snapshot";
/** The manifest's layout; a snapshot of another version is refused. */
export const SNAPSHOT_VERSION = 1;
export const MANIFEST_FILE = "snapshot.json";
export const MEMORY_FILE = "memory";
/** The unit of the memory file's extents. */
export const SNAPSHOT_PAGE = 4096;
/** Bound: the manifest's size (harts and devices are a few KiB; extents the rest). */
export const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;
/** Bound: extents of data in the memory file (every other page of 4 GiB). */
export const MAX_EXTENTS = 1 << 19;
/** Bound: devices in a manifest. */
const MAX_DEVICES = 64;

/** A snapshot moat refuses to write or to read, and why. */
export class SnapshotError extends MoatError {
  constructor(message: string, kind: "invalid" | "conflict" | "not-found" | "host" = "invalid") {
    super(message, kind);
  }
}

/** One hart as the manifest keeps it (accel.ts RiscvHartState, u64s as "0x..."). */
export interface SnapshotHart {
  /** The core's state record (hart-state.ts), base64; null: the hart was stopped. */
  record: string | null;
  mip: number;
  mtimecmp: string;
  hsm: number;
  start_addr: string;
  opaque: string;
}

/** The soft CPU's harts in a manifest (snapshot-harts.ts). */
export interface SoftCpuState {
  mtime: string;
  harts: SnapshotHart[];
}

/** What a snapshot holds besides guest RAM. */
export interface SnapshotManifest {
  format: typeof SNAPSHOT_FORMAT;
  version: typeof SNAPSHOT_VERSION;
  /** The moat version that wrote it: another version's snapshot is refused. */
  moat: string;
  created_at: string;
  /** riscv64 on the soft CPU, x86_64 on KVM. */
  arch: "riscv64" | "x86_64";
  accel: "soft" | "kvm";
  /** The machine's config (vm-config.ts, without its host part), checked again at restore. */
  machine: Record<string, unknown>;
  /** The soft CPU's harts, or KVM's VM and vCPU records (checked by kvm/vcpu-state.ts). */
  cpu: SoftCpuState | KvmCpuState;
  devices: Record<string, DeviceState>;
  memory: {
    bytes: number;
    /** [first page, pages] of each run of data in the memory file, in order, not touching. */
    extents: [number, number][];
    /** SHA-256 of the extents' data, in order. */
    sha256: string;
  };
  /** SHA-256 of the manifest without this field and `hmac` (JSON as written). */
  sha256?: string;
  /** HMAC-SHA-256 of the same with the daemon's key: only for the daemon's own snapshots. */
  hmac?: string;
}

const hex64 = { type: "string", pattern: "^0x[0-9a-f]{1,16}$" } as const;
const sha256 = { type: "string", pattern: "^[0-9a-f]{64}$" } as const;
const u32 = { type: "integer", minimum: 0, maximum: 0xffff_ffff } as const;

/** The soft CPU's harts (their records are the core's to check). */
const SOFT_CPU_SCHEMA = {
  type: "object",
  additionalProperties: false,
  required: ["mtime", "harts"],
  properties: {
    mtime: hex64,
    harts: {
      type: "array",
      minItems: 1,
      maxItems: VCPUS_MAX,
      items: {
        type: "object",
        additionalProperties: false,
        required: ["record", "mip", "mtimecmp", "hsm", "start_addr", "opaque"],
        properties: {
          record: { type: ["string", "null"], maxLength: Math.ceil(HART_STATE_BYTES / 3) * 4 },
          mip: u32,
          mtimecmp: hex64,
          hsm: u32,
          start_addr: hex64,
          opaque: hex64,
        },
      },
    },
  },
} as const;

/** KVM's VM and vCPU records (each checked by kvm/vm-state.ts and vcpu-state.ts). */
const KVM_CPU_SCHEMA = {
  type: "object",
  additionalProperties: false,
  required: ["vm", "vcpus"],
  properties: {
    vm: { type: "object" },
    vcpus: { type: "array", minItems: 1, maxItems: VCPUS_MAX, items: { type: "object" } },
  },
} as const;

/** The manifest's shape (its values are each checked by what takes them). */
const manifestSchema = {
  type: "object",
  additionalProperties: false,
  required: [
    "format",
    "version",
    "moat",
    "created_at",
    "arch",
    "accel",
    "machine",
    "cpu",
    "devices",
    "memory",
    "sha256",
  ],
  properties: {
    format: { const: SNAPSHOT_FORMAT },
    version: { type: "integer" },
    moat: { type: "string", maxLength: 64 },
    created_at: { type: "string", maxLength: 64 },
    arch: { enum: ["riscv64", "x86_64"] },
    accel: { enum: ["soft", "kvm"] },
    machine: { type: "object" },
    cpu: { type: "object" },
    devices: { type: "object", maxProperties: MAX_DEVICES },
    memory: {
      type: "object",
      additionalProperties: false,
      required: ["bytes", "extents", "sha256"],
      properties: {
        bytes: { type: "integer", minimum: SNAPSHOT_PAGE, maximum: MAX_RAM_BYTES },
        extents: {
          type: "array",
          maxItems: MAX_EXTENTS,
          items: {
            type: "array",
            minItems: 2,
            maxItems: 2,
            items: { type: "integer", minimum: 0, maximum: MAX_RAM_BYTES / SNAPSHOT_PAGE },
          },
        },
        sha256,
      },
    },
    sha256,
    hmac: sha256,
  },
  // The cpu entry's shape is the accelerator's.
  if: { properties: { accel: { const: "soft" } } },
  then: { properties: { cpu: SOFT_CPU_SCHEMA } },
  else: { properties: { cpu: KVM_CPU_SCHEMA } },
} as const;

export const SNAPSHOT_SCHEMAS: SchemaSet = {
  file: "snapshot",
  options: {},
  schemas: { manifest: manifestSchema },
};

let validate: ValidateFunction | undefined;

/** The digest (or, with `key`, the HMAC) of a manifest's body: itself without both fields. */
function seal(m: SnapshotManifest, key?: Buffer): string {
  const { sha256: _s, hmac: _h, ...body } = m;
  const text = JSON.stringify(body);
  return (key ? createHmac("sha256", key) : createHash("sha256")).update(text).digest("hex");
}

/** The runs of pages of `ram` that are not all zero. */
function dataExtents(ram: Uint8Array): [number, number][] {
  const zero = Buffer.alloc(SNAPSHOT_PAGE);
  const buf = Buffer.from(ram.buffer, ram.byteOffset, ram.length);
  const out: [number, number][] = [];
  const pages = ram.length / SNAPSHOT_PAGE;
  for (let p = 0; p < pages; p++) {
    const at = p * SNAPSHOT_PAGE;
    if (buf.compare(zero, 0, SNAPSHOT_PAGE, at, at + SNAPSHOT_PAGE) === 0) continue;
    const last = out[out.length - 1];
    if (last && last[0] + last[1] === p) last[1]++;
    else out.push([p, 1]);
  }
  return out;
}

/** What writeSnapshot records beside RAM. */
export interface SnapshotParts {
  arch: SnapshotManifest["arch"];
  accel: SnapshotManifest["accel"];
  machine: Record<string, unknown>;
  cpu: SnapshotManifest["cpu"];
  devices: Record<string, DeviceState>;
  /** Guest RAM (read while the VM is paused). */
  ram: Uint8Array;
}

/**
 * Writes a snapshot into `dir`, which must not exist (made 0700; files 0600). Returns the bytes
 * of data the memory file holds. With `key`, the manifest carries an HMAC only its holder can
 * make. Bound: RAM a whole number of pages.
 */
export function writeSnapshot(dir: string, parts: SnapshotParts, key?: Buffer): number {
  if (parts.ram.length % SNAPSHOT_PAGE !== 0)
    throw new SnapshotError(`guest RAM is not a whole number of ${SNAPSHOT_PAGE}-byte pages`);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SnapshotError(
      code === "EEXIST" ? `${dir}: already exists` : `${dir}: ${(e as Error).message}`,
      code === "EEXIST" ? "conflict" : "host",
    );
  }
  // A snapshot not finished (a full disk, an I/O error) leaves nothing behind: the name can be
  // used again.
  try {
    return writeInto(dir, parts, key);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    if (e instanceof SnapshotError) throw e;
    throw new SnapshotError(`${dir}: ${(e as Error).message}`, "host");
  }
}

/** writeSnapshot's files, into `dir` just made. */
function writeInto(dir: string, parts: SnapshotParts, key?: Buffer): number {
  const extents = dataExtents(parts.ram);
  if (extents.length > MAX_EXTENTS)
    throw new SnapshotError(`guest RAM is in more than ${MAX_EXTENTS} pieces`);
  const digest = createHash("sha256");
  const create = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  const fd = openSync(join(dir, MEMORY_FILE), create, 0o600);
  let data = 0;
  try {
    ftruncateSync(fd, parts.ram.length);
    for (const [page, n] of extents) {
      const at = page * SNAPSHOT_PAGE;
      const len = n * SNAPSHOT_PAGE;
      const bytes = parts.ram.subarray(at, at + len);
      digest.update(bytes);
      for (let done = 0; done < len;) done += writeSync(fd, bytes, done, len - done, at + done);
      data += len;
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  const manifest: SnapshotManifest = {
    format: SNAPSHOT_FORMAT,
    version: SNAPSHOT_VERSION,
    moat: moatVersion(),
    created_at: new Date().toISOString(),
    arch: parts.arch,
    accel: parts.accel,
    machine: parts.machine,
    cpu: parts.cpu,
    devices: parts.devices,
    memory: { bytes: parts.ram.length, extents, sha256: digest.digest("hex") },
  };
  manifest.sha256 = seal(manifest);
  if (key) manifest.hmac = seal(manifest, key);
  const tmp = join(dir, `${MANIFEST_FILE}.tmp`);
  const mfd = openSync(tmp, create, 0o600);
  try {
    writeSync(mfd, JSON.stringify(manifest));
    fsyncSync(mfd);
  } finally {
    closeSync(mfd);
  }
  renameSync(tmp, join(dir, MANIFEST_FILE));
  const dfd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
  return data;
}

/**
 * Opens `name` in `dir` for reading: a regular file, not a link (nor a FIFO, which would hang
 * the open); its descriptor and size.
 */
export function openRegular(dir: string, name: string): { fd: number; size: number } {
  let fd: number;
  try {
    fd = openSync(
      join(dir, name),
      constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK,
    );
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SnapshotError(
      code === "ENOENT"
        ? `${dir}: no ${name} (not a snapshot, or an unfinished one)`
        : code === "ELOOP"
          ? `${dir}/${name}: a symbolic link, refused`
          : `${dir}/${name}: ${(e as Error).message}`,
      code === "ENOENT" ? "not-found" : "invalid",
    );
  }
  const st = fstatSync(fd);
  if (!st.isFile()) {
    closeSync(fd);
    throw new SnapshotError(`${dir}/${name}: not a regular file`);
  }
  return { fd, size: st.size };
}

/** A snapshot as read: its checked manifest, and the reader of its memory. */
export interface OpenSnapshot {
  dir: string;
  manifest: SnapshotManifest;
  /**
   * Reads guest RAM into `ram`, which must be fresh (all zero, as a new VM's is: the holes are
   * not written, so their pages are never touched), checking its digest; a SnapshotError if
   * the data is not what the manifest says. Bound: `ram` must be the manifest's size.
   */
  loadMemory(ram: Uint8Array): void;
  /**
   * Gives guest RAM the memory file's pages by mapping it (`map(fd)`, the accelerator's
   * private mapping over `ram`) instead of copying, then checks the digest through `ram`.
   * Mapped only when the file holds no data outside its extents (which the digest covers);
   * else, or where the file system cannot tell (no SEEK_DATA), copied as loadMemory does.
   * Returns which was done. Bound: `ram` must be the manifest's size.
   */
  mapMemory(ram: Uint8Array, map: (fd: number) => void): "mapped" | "copied";
  /** Closes the memory file without reading it (loadMemory closes it too). */
  close(): void;
}

/** Reads `fd` whole (a manifest's bytes). Bound: MAX_MANIFEST_BYTES. */
export function readManifestFd(fd: number, size: number, where: string): string {
  if (size > MAX_MANIFEST_BYTES)
    throw new SnapshotError(`${where}: larger than ${MAX_MANIFEST_BYTES} bytes`);
  const buf = Buffer.alloc(size);
  let got = 0;
  while (got < size) {
    const n = readSync(fd, buf, got, size - got, got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got).toString("utf8");
}

/**
 * Checks a manifest's text as read from `dir`: schema, format and version, the moat version
 * that wrote it, its digest, its HMAC with `key` (required then), and extents in order inside
 * the memory's size.
 */
export function checkManifest(text: string, dir: string, key?: Buffer): SnapshotManifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // Not the parser's words: they quote the file, which may not be what it says it is.
    throw new SnapshotError(`${dir}/${MANIFEST_FILE}: not JSON`);
  }
  validate ??= validators(SNAPSHOT_SCHEMAS)["manifest"]!;
  if (!validate(value)) {
    const e = validate.errors![0]!;
    throw new SnapshotError(
      `${dir}/${MANIFEST_FILE}: ${e.instancePath || "the manifest"} ${e.message ?? "is not valid"}`,
    );
  }
  const m = value as SnapshotManifest;
  if (m.version !== SNAPSHOT_VERSION)
    throw new SnapshotError(
      `${dir}: a snapshot of format version ${m.version}; this moat reads version ${SNAPSHOT_VERSION}`,
    );
  if (m.moat !== moatVersion())
    throw new SnapshotError(
      `${dir}: made by moat ${m.moat}; this is moat ${moatVersion()}, which restores only its own`,
    );
  const same = (a: string, b: string): boolean =>
    a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
  if (!same(m.sha256 ?? "", seal(m)))
    throw new SnapshotError(
      `${dir}/${MANIFEST_FILE}: its digest does not match: changed since written`,
    );
  if (key && (m.hmac === undefined || !same(m.hmac, seal(m, key))))
    throw new SnapshotError(
      `${dir}/${MANIFEST_FILE}: ${m.hmac === undefined ? "not sealed by this daemon" : "its seal does not match: changed since written"}`,
    );
  if ((m.arch === "riscv64") !== (m.accel === "soft"))
    throw new SnapshotError(`${dir}: an ${m.arch} snapshot on ${m.accel}: moat makes none`);
  const pages = m.memory.bytes / SNAPSHOT_PAGE;
  if (!Number.isInteger(pages))
    throw new SnapshotError(`${dir}: memory.bytes is not a whole number of pages`);
  let next = 0;
  for (const [first, n] of m.memory.extents) {
    if (n < 1 || first < next || first + n > pages)
      throw new SnapshotError(
        `${dir}: memory extent [${first}, ${n}] out of order or past the end`,
      );
    next = first + n + 1;
  }
  return m;
}

/**
 * Reads and checks the manifest of the snapshot in `dir` (checkManifest). Memory is read later
 * (loadMemory), from a descriptor opened now: a VMM that drops its privileges once guest RAM
 * exists still reads a memory file only root may open (a daemon's snapshot store).
 */
export function readSnapshot(dir: string, key?: Buffer): OpenSnapshot {
  const { fd, size } = openRegular(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = readManifestFd(fd, size, `${dir}/${MANIFEST_FILE}`);
  } finally {
    closeSync(fd);
  }
  const m = checkManifest(text, dir, key);
  const mem = openRegular(dir, MEMORY_FILE);
  let open = true;
  const close = (): void => {
    if (open) closeSync(mem.fd);
    open = false;
  };
  const usable = (ram: Uint8Array): void => {
    if (ram.length !== m.memory.bytes)
      throw new SnapshotError(
        `${dir}: the snapshot holds ${m.memory.bytes} bytes of RAM, the VM has ${ram.length}`,
      );
    if (!open) throw new SnapshotError(`${dir}: its memory was read already`);
  };
  return {
    dir,
    manifest: m,
    loadMemory: (ram) => {
      usable(ram);
      try {
        loadMemory(dir, m, ram, mem);
      } finally {
        close();
      }
    },
    mapMemory: (ram, map) => {
      usable(ram);
      try {
        if (mem.size !== m.memory.bytes || !onlyExtents(mem.fd, m)) {
          loadMemory(dir, m, ram, mem);
          return "copied";
        }
        map(mem.fd);
        checkDigest(dir, m, ram);
        return "mapped";
      } finally {
        close();
      }
    },
    close,
  };
}

/**
 * Reads the byte ranges `extents` ([offset, length], in order) of the file open at `fd` into
 * `digest`, and with `out` writes each piece there at its offset: the one copy by descriptors
 * the daemon's snapshot store makes of memory and disks, hashing the very bytes it writes.
 * `where` names the file in errors. Bound: `chunk` bytes held at once.
 */
export function copyExtents(
  fd: number,
  extents: Iterable<readonly [number, number]>,
  digest: Hash,
  where: string,
  out?: number,
  chunk = 1 << 20,
): void {
  const buf = Buffer.alloc(chunk);
  for (const [offset, length] of extents) {
    let at = offset;
    let left = length;
    while (left > 0) {
      const want = Math.min(left, chunk);
      let got = 0;
      while (got < want) {
        const r = readSync(fd, buf, got, want - got, at + got);
        if (r === 0) throw new SnapshotError(`${where}: shorter than its extents`);
        got += r;
      }
      digest.update(buf.subarray(0, want));
      if (out !== undefined)
        for (let w = 0; w < want;) w += writeSync(out, buf, w, want - w, at + w);
      at += want;
      left -= want;
    }
  }
}

/**
 * Checks the data of the memory file open at `fd` against manifest `m` (size, extents, digest)
 * without holding it all: read in pieces of `chunk` bytes. With `out`, each piece is also
 * written there at its offset (a copy made as it is checked: what was checked is what is kept).
 */
export function checkMemoryFd(
  fd: number,
  m: SnapshotManifest,
  where: string,
  out?: number,
  chunk = 1 << 20,
): void {
  const size = fstatSync(fd).size;
  if (size !== m.memory.bytes)
    throw new SnapshotError(`${where}/${MEMORY_FILE}: ${size} bytes, not ${m.memory.bytes}`);
  const digest = createHash("sha256");
  const bytes = m.memory.extents.map(
    ([first, n]) => [first * SNAPSHOT_PAGE, n * SNAPSHOT_PAGE] as const,
  );
  copyExtents(fd, bytes, digest, `${where}/${MEMORY_FILE}`, out, chunk);
  if (digest.digest("hex") !== m.memory.sha256)
    throw new SnapshotError(
      `${where}/${MEMORY_FILE}: its digest does not match: changed since written`,
    );
}

/** `m` sealed with `key` (its HMAC set), as the text of its manifest file. */
export function sealedManifest(m: SnapshotManifest, key: Buffer): string {
  return JSON.stringify({ ...m, hmac: seal(m, key) });
}

/**
 * Whether the memory file open at `fd` holds data only inside the manifest's extents, as the
 * file system tells (SEEK_DATA). False where it cannot tell, or finds data in a hole.
 * Bound: one lseek per gap between extents.
 */
function onlyExtents(fd: number, m: SnapshotManifest): boolean {
  const gaps: [number, number][] = [];
  let pos = 0;
  for (const [first, n] of m.memory.extents) {
    gaps.push([pos, first * SNAPSHOT_PAGE]);
    pos = (first + n) * SNAPSHOT_PAGE;
  }
  gaps.push([pos, m.memory.bytes]);
  try {
    for (const [from, to] of gaps) {
      if (to <= from) continue;
      const data = seekData(fd, from);
      if (data !== undefined && data < to) return false;
    }
  } catch {
    return false;
  }
  return true;
}

/** Checks the digest of `ram`'s extents against the manifest's (guest RAM given the file). */
function checkDigest(dir: string, m: SnapshotManifest, ram: Uint8Array): void {
  const digest = createHash("sha256");
  for (const [first, n] of m.memory.extents)
    digest.update(ram.subarray(first * SNAPSHOT_PAGE, (first + n) * SNAPSHOT_PAGE));
  if (digest.digest("hex") !== m.memory.sha256)
    throw new SnapshotError(
      `${dir}/${MEMORY_FILE}: its digest does not match: changed since written`,
    );
}

function loadMemory(
  dir: string,
  m: SnapshotManifest,
  ram: Uint8Array,
  { fd, size }: { fd: number; size: number },
): void {
  if (size !== m.memory.bytes)
    throw new SnapshotError(`${dir}/${MEMORY_FILE}: ${size} bytes, not ${m.memory.bytes}`);
  for (const [first, n] of m.memory.extents) {
    const at = first * SNAPSHOT_PAGE;
    const len = n * SNAPSHOT_PAGE;
    for (let got = 0; got < len;) {
      const r = readSync(fd, ram, at + got, len - got, at + got);
      if (r === 0) throw new SnapshotError(`${dir}/${MEMORY_FILE}: shorter than its extents`);
      got += r;
    }
  }
  checkDigest(dir, m, ram);
}
