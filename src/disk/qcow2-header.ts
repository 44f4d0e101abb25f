// The qcow2 header (versions 2 and 3) and its extensions, read as hostile input: every field is
// checked against the file's size and moat's bounds before anything is read through it, and a
// feature moat does not implement is refused by name. Field offsets and meanings are those of
// the format's specification (QEMU's docs/interop/qcow2.txt); all integers are big-endian.
import { MoatError } from "../base/moat-error.js";

export class Qcow2Error extends MoatError {
  override readonly kind = "invalid";
}

export const QCOW2_MAGIC = 0x514649fb; // "QFI\xfb"
/** Bytes of the fixed header of a version 2 image; version 3 names its own length (>= 104). */
export const V2_HEADER_BYTES = 72;
const V3_HEADER_MIN = 104;

/** Bound: cluster sizes from 512 bytes to 2 MiB, as the format allows. */
export const CLUSTER_BITS_MIN = 9;
export const CLUSTER_BITS_MAX = 21;
/** Bound: a virtual disk of at most 64 TiB (every offset stays an exact JavaScript number). */
export const VIRTUAL_SIZE_MAX = 2 ** 46;
/** Bound: an L1 table of at most 32 MiB (4 Mi entries), QEMU's own limit. */
export const L1_BYTES_MAX = 32 * 1024 * 1024;
/** Bound: a refcount table of at most 8 MiB, QEMU's own limit. */
export const REFCOUNT_TABLE_BYTES_MAX = 8 * 1024 * 1024;
/** Bound: a backing file's name of at most 1023 bytes, the format's own limit. */
export const BACKING_NAME_MAX = 1023;
/** Bound: at most 65536 internal snapshots, the format's own limit. */
export const SNAPSHOTS_MAX = 65536;

/** Incompatible features (version 3). */
export const INCOMPAT_DIRTY = 1n << 0n;
export const INCOMPAT_CORRUPT = 1n << 1n;
const INCOMPAT_DATA_FILE = 1n << 2n;
const INCOMPAT_COMPRESSION = 1n << 3n;
const INCOMPAT_EXTL2 = 1n << 4n;
/** What each incompatible feature is, for a refusal. */
const INCOMPAT_NAMES: [bigint, string][] = [
  [INCOMPAT_DATA_FILE, "an external data file"],
  [INCOMPAT_EXTL2, "extended L2 entries (subclusters)"],
];

/** Header extension types. */
const EXT_END = 0;
const EXT_BACKING_FORMAT = 0xe2792aca;
const EXT_FEATURE_NAMES = 0x6803f857;

/** Compression types (the header's byte 104, with INCOMPAT_COMPRESSION). */
export const COMPRESSION_ZLIB = 0;
export const COMPRESSION_ZSTD = 1;

export interface Qcow2Header {
  version: 2 | 3;
  clusterBits: number;
  clusterSize: number;
  /** The guest's disk size in bytes. */
  size: number;
  l1Size: number;
  l1Offset: number;
  refcountTableOffset: number;
  refcountTableClusters: number;
  refcountOrder: number;
  nbSnapshots: number;
  snapshotsOffset: number;
  incompatible: bigint;
  compatible: bigint;
  autoclear: bigint;
  headerLength: number;
  backingOffset: number;
  backingSize: number;
  /** The backing file as the image names it (relative to the image's directory unless absolute). */
  backingFile?: string;
  /** The backing file's format, when the image says it (raw or qcow2). */
  backingFormat?: string;
  /** How compressed clusters are compressed: COMPRESSION_ZLIB or COMPRESSION_ZSTD. */
  compressionType: number;
}

const u32 = (v: DataView, at: number): number => v.getUint32(at);
/** A u64 that must be an exact number below 2^53 (a larger one is no offset moat reads). */
function u64(v: DataView, at: number, what: string): number {
  const x = v.getBigUint64(at);
  if (x > BigInt(Number.MAX_SAFE_INTEGER)) throw new Qcow2Error(`${what} ${x} is too large`);
  return Number(x);
}

/** Does [a, a+alen) overlap [b, b+blen)? */
export const overlaps = (a: number, alen: number, b: number, blen: number): boolean =>
  a < b + blen && b < a + alen;

/**
 * Reads and checks a qcow2 header from the image's first cluster (`head`: at least the first
 * 512 bytes, up to the first cluster) of a file of `fileSize` bytes. Refuses, with the reason,
 * anything moat does not read: encryption, an external data file, extended L2 entries, zstd,
 * an unknown incompatible feature, and every table that lies outside the file, is not
 * cluster-aligned, or overlaps the header or another table.
 * Bound: the extensions and backing name are read within the first cluster only.
 */
export function parseQcow2Header(head: Uint8Array, fileSize: number): Qcow2Header {
  if (head.length < V2_HEADER_BYTES) throw new Qcow2Error("shorter than a qcow2 header");
  const v = new DataView(head.buffer, head.byteOffset, head.byteLength);
  if (u32(v, 0) !== QCOW2_MAGIC) throw new Qcow2Error("not a qcow2 image (no QFI\\xfb magic)");
  const version = u32(v, 4);
  if (version !== 2 && version !== 3)
    throw new Qcow2Error(`qcow2 version ${version}: moat reads versions 2 and 3`);
  const clusterBits = u32(v, 20);
  if (clusterBits < CLUSTER_BITS_MIN || clusterBits > CLUSTER_BITS_MAX)
    throw new Qcow2Error(
      `cluster_bits ${clusterBits}: not between ${CLUSTER_BITS_MIN} and ${CLUSTER_BITS_MAX}`,
    );
  const clusterSize = 2 ** clusterBits;
  const crypt = u32(v, 32);
  if (crypt !== 0)
    throw new Qcow2Error(`encrypted (crypt_method ${crypt}): moat reads unencrypted images only`);
  const h: Qcow2Header = {
    version,
    clusterBits,
    clusterSize,
    size: u64(v, 24, "size"),
    l1Size: u32(v, 36),
    l1Offset: u64(v, 40, "l1_table_offset"),
    refcountTableOffset: u64(v, 48, "refcount_table_offset"),
    refcountTableClusters: u32(v, 56),
    nbSnapshots: u32(v, 60),
    snapshotsOffset: u64(v, 64, "snapshots_offset"),
    incompatible: 0n,
    compatible: 0n,
    autoclear: 0n,
    refcountOrder: 4,
    headerLength: V2_HEADER_BYTES,
    backingOffset: u64(v, 8, "backing_file_offset"),
    backingSize: u32(v, 16),
    compressionType: COMPRESSION_ZLIB,
  };
  if (version === 3) {
    if (head.length < V3_HEADER_MIN) throw new Qcow2Error("shorter than a version 3 header");
    h.incompatible = v.getBigUint64(72);
    h.compatible = v.getBigUint64(80);
    h.autoclear = v.getBigUint64(88);
    h.refcountOrder = u32(v, 96);
    h.headerLength = u32(v, 100);
    if (h.headerLength < V3_HEADER_MIN || h.headerLength % 8 !== 0 || h.headerLength > clusterSize)
      throw new Qcow2Error(`header_length ${h.headerLength} is not valid`);
  }
  checkFeatures(h, head);
  if (h.refcountOrder > 5)
    throw new Qcow2Error(
      `refcount_bits ${2 ** h.refcountOrder}: moat reads refcounts of 1 to 32 bits`,
    );
  checkLayout(h, fileSize);
  readExtensions(h, v);
  return h;
}

function checkFeatures(h: Qcow2Header, head: Uint8Array): void {
  for (const [bit, name] of INCOMPAT_NAMES)
    if (h.incompatible & bit) throw new Qcow2Error(`uses ${name}, which moat does not read`);
  if (h.incompatible & INCOMPAT_COMPRESSION) {
    const type = h.headerLength > 104 && head.length > 104 ? head[104]! : -1;
    if (type !== COMPRESSION_ZLIB && type !== COMPRESSION_ZSTD)
      throw new Qcow2Error(`compression type ${type}: moat reads zlib and zstd clusters only`);
    h.compressionType = type;
  }
  const known = INCOMPAT_DIRTY | INCOMPAT_CORRUPT | INCOMPAT_COMPRESSION;
  const unknown = h.incompatible & ~known;
  if (unknown !== 0n)
    throw new Qcow2Error(
      `incompatible feature bits 0x${unknown.toString(16)} that moat does not know`,
    );
}

function checkLayout(h: Qcow2Header, fileSize: number): void {
  const cs = h.clusterSize;
  if (h.size > VIRTUAL_SIZE_MAX)
    throw new Qcow2Error(`virtual size ${h.size} is over moat's ${VIRTUAL_SIZE_MAX}`);
  const l2Entries = cs / 8;
  const needL1 = Math.ceil(h.size / (cs * l2Entries));
  if (h.l1Size < needL1)
    throw new Qcow2Error(`l1_size ${h.l1Size} cannot map a disk of ${h.size} bytes`);
  if (h.l1Size * 8 > L1_BYTES_MAX)
    throw new Qcow2Error(`l1_size ${h.l1Size} is over moat's ${L1_BYTES_MAX / 8} entries`);
  const table = (what: string, offset: number, bytes: number): void => {
    if (bytes === 0) return;
    if (offset % cs !== 0) throw new Qcow2Error(`${what} at ${offset} is not cluster-aligned`);
    if (offset < cs) throw new Qcow2Error(`${what} at ${offset} overlaps the header`);
    if (offset + bytes > fileSize)
      throw new Qcow2Error(`${what} at ${offset} (${bytes} bytes) ends past the file's end`);
  };
  const l1Bytes = h.l1Size * 8;
  const rtBytes = h.refcountTableClusters * cs;
  if (rtBytes === 0) throw new Qcow2Error("has no refcount table");
  if (rtBytes > REFCOUNT_TABLE_BYTES_MAX)
    throw new Qcow2Error(`refcount table of ${rtBytes} bytes is over moat's bound`);
  table("the L1 table", h.l1Offset, l1Bytes);
  table("the refcount table", h.refcountTableOffset, rtBytes);
  if (overlaps(h.l1Offset, l1Bytes, h.refcountTableOffset, rtBytes))
    throw new Qcow2Error("the L1 table and the refcount table overlap");
  if (h.nbSnapshots > SNAPSHOTS_MAX)
    throw new Qcow2Error(`${h.nbSnapshots} snapshots: over the format's ${SNAPSHOTS_MAX}`);
  if (h.nbSnapshots > 0) table("the snapshot table", h.snapshotsOffset, 1);
}

function readExtensions(h: Qcow2Header, v: DataView): void {
  const end = Math.min(h.clusterSize, v.byteLength);
  const text = (at: number, len: number): string =>
    new TextDecoder("utf-8", { fatal: false }).decode(
      new Uint8Array(v.buffer, v.byteOffset + at, len),
    );
  // Bound: each extension is at least 8 bytes, and all lie within the first cluster.
  for (let at = h.headerLength; ;) {
    if (at + 8 > end) break; // no end marker before the cluster ends: nothing more to read
    const type = u32(v, at);
    const len = u32(v, at + 4);
    if (type === EXT_END) break;
    const data = at + 8;
    const next = data + Math.ceil(len / 8) * 8;
    if (next > end) throw new Qcow2Error(`header extension 0x${type.toString(16)} overruns`);
    if (type === EXT_BACKING_FORMAT) {
      if (len > 16) throw new Qcow2Error("the backing format's name is too long");
      h.backingFormat = text(data, len);
    } else if (type === EXT_FEATURE_NAMES) {
      // Names of features: moat's refusals name them itself.
    }
    at = next;
  }
  if (h.backingOffset !== 0) {
    if (h.backingSize === 0 || h.backingSize > BACKING_NAME_MAX)
      throw new Qcow2Error(`backing file name of ${h.backingSize} bytes is not valid`);
    if (h.backingOffset + h.backingSize > end)
      throw new Qcow2Error("the backing file name lies outside the first cluster");
    const name = text(h.backingOffset, h.backingSize);
    if (name.includes("\0")) throw new Qcow2Error("the backing file name holds a NUL");
    h.backingFile = name;
  }
  if (h.backingFormat !== undefined && !["raw", "qcow2"].includes(h.backingFormat))
    throw new Qcow2Error(
      `backing format '${h.backingFormat}': moat reads raw and qcow2 backing files only`,
    );
}
