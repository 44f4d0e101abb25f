// qcow2's L1 and L2 entries: where a guest cluster's data is, decoded once (entry layouts from
// the format's specification). A reserved bit set, an offset not cluster-aligned or a
// compressed cluster reaching past its bound makes the entry corrupt: its read or write fails
// and nothing is guessed.
import { Qcow2Error } from "./qcow2-header.js";

/** Bits 9-55: a table's or a standard cluster's host offset. */
const OFFSET_HI = 0x00ff_ffff;
const OFFSET_LO = 0xffff_fe00;
/** L1: bits 1-8 and 56-62 reserved. L2 (standard): bits 1-8 and 56-61 reserved. */
const L1_RESERVED_HI = 0x7f00_0000;
const L1_RESERVED_LO = 0x0000_01fe;
const L2_RESERVED_HI = 0x3f00_0000;
const L2_RESERVED_LO = 0x0000_01fe;
const COPIED_HI = 0x8000_0000;
const COMPRESSED_HI = 0x4000_0000;
const ZERO_LO = 1;

export type Mapping =
  /** Not in this image: the backing file's, or zeroes. */
  | { kind: "unallocated" }
  /** Reads as zeroes; `host` is a cluster kept for it (0 if none). */
  | { kind: "zero"; host: number; copied: boolean }
  | { kind: "data"; host: number; copied: boolean }
  /** Deflated data at byte `host`, `bytes` long (to the end of its last sector). */
  | { kind: "compressed"; host: number; bytes: number };

// `>>> 0`: JavaScript's & gives a signed 32-bit result, which an offset with bit 31 set (2 to
// 4 GiB into the file, and every 4 GiB after) would turn negative.
const hostOf = (hi: number, lo: number): number =>
  (hi & OFFSET_HI) * 2 ** 32 + ((lo & OFFSET_LO) >>> 0);

/** An L1 entry at byte `at` of `l1`: its L2 table's host offset (0: none) and COPIED flag. */
export function l1Entry(l1: DataView, at: number): { l2: number; copied: boolean } {
  const hi = l1.getUint32(at);
  const lo = l1.getUint32(at + 4);
  if (hi & L1_RESERVED_HI || lo & (L1_RESERVED_LO | 1))
    throw new Qcow2Error(`L1 entry ${at / 8} has reserved bits set`);
  return { l2: hostOf(hi, lo), copied: (hi & COPIED_HI) !== 0 };
}

/**
 * The L2 entry at byte `at` of table `l2` of an image with header `h` (its cluster size and
 * version: zero clusters are version 3's). Bound: a compressed cluster's data is at most two
 * clusters long.
 */
export function l2Entry(
  l2: DataView,
  at: number,
  h: { clusterBits: number; version: number },
): Mapping {
  const clusterBits = h.clusterBits;
  const hi = l2.getUint32(at);
  const lo = l2.getUint32(at + 4);
  if (hi & COMPRESSED_HI) {
    // Bits 0..x-1 the byte offset, x..61 the sectors after the first (x = 62 - (bits - 8)).
    const raw = l2.getBigUint64(at) & ((1n << 62n) - 1n);
    const x = BigInt(62 - (clusterBits - 8));
    const host = Number(raw & ((1n << x) - 1n));
    const sectors = Number(raw >> x);
    const bytes = (sectors + 1) * 512 - (host % 512);
    if (bytes > 2 * 2 ** clusterBits || !Number.isSafeInteger(host))
      throw new Qcow2Error(`compressed cluster at ${host} of ${bytes} bytes is not valid`);
    return { kind: "compressed", host, bytes };
  }
  if (hi & L2_RESERVED_HI || lo & L2_RESERVED_LO)
    throw new Qcow2Error(`L2 entry ${at / 8} has reserved bits set`);
  const host = hostOf(hi, lo);
  const copied = (hi & COPIED_HI) !== 0;
  if (host % 2 ** clusterBits !== 0)
    throw new Qcow2Error(`L2 entry ${at / 8}: cluster offset ${host} is not cluster-aligned`);
  if (lo & ZERO_LO) {
    if (h.version < 3)
      throw new Qcow2Error(`L2 entry ${at / 8}: a zero cluster in a version 2 image`);
    return { kind: "zero", host, copied };
  }
  if (host === 0) return { kind: "unallocated" };
  return { kind: "data", host, copied };
}

/** The 8 bytes of an entry for a table or standard cluster at `host` (COPIED: refcount 1). */
export function entryBytes(host: number, flags: { copied: boolean; zero?: boolean }): Uint8Array {
  const e = new Uint8Array(8);
  const v = new DataView(e.buffer);
  v.setUint32(0, Math.floor(host / 2 ** 32) | (flags.copied ? COPIED_HI : 0));
  v.setUint32(4, (host % 2 ** 32) | (flags.zero ? ZERO_LO : 0));
  return e;
}
