// A new, empty qcow2 version 3 image, optionally a thin overlay on a backing file (the daemon's
// `--disk image=N`, docs/disks.md): the header with the backing format extension and the
// backing file's name in the first cluster, then one cluster of refcount table, one refcount
// block (16-bit counts) and the L1 table, all zero but the counts of these clusters themselves.
// Every guest read falls through to the backing file until the guest writes. Field offsets are
// the format specification's (QEMU's docs/interop/qcow2.txt); all integers big-endian.
import {
  BACKING_NAME_MAX,
  L1_BYTES_MAX,
  QCOW2_MAGIC,
  Qcow2Error,
  VIRTUAL_SIZE_MAX,
} from "./qcow2-header.js";

/** 64 KiB clusters, QEMU's default. */
const CLUSTER_BITS = 16;
const CLUSTER = 1 << CLUSTER_BITS;
const HEADER_BYTES = 104;
const EXT_BACKING_FORMAT = 0xe2792aca;
/** 16-bit refcounts (refcount_order 4): one block counts CLUSTER / 2 clusters. */
const REFCOUNT_ORDER = 4;

export interface NewQcow2 {
  /** The guest's disk size in bytes (a backing file's own size, for an overlay). */
  size: number;
  /** The backing file as the image will name it (an absolute path here), and its format. */
  backing?: { file: string; format: "raw" | "qcow2" };
}

/** The bytes of the image `o` describes: write them at offset 0 of an empty file. */
export function newQcow2(o: NewQcow2): Buffer {
  // Whole sectors: QEMU rounds a disk's size down to one.
  if (!Number.isSafeInteger(o.size) || o.size <= 0 || o.size > VIRTUAL_SIZE_MAX || o.size % 512)
    throw new Qcow2Error(
      `virtual size ${o.size}: not a whole number of 512-byte sectors up to ${VIRTUAL_SIZE_MAX}`,
    );
  const name = o.backing ? Buffer.from(o.backing.file, "utf8") : Buffer.alloc(0);
  if (name.length > BACKING_NAME_MAX || name.includes(0))
    throw new Qcow2Error(`backing file name: at most ${BACKING_NAME_MAX} bytes, no NUL`);
  // Each L2 table (one cluster of 8-byte entries) maps CLUSTER / 8 clusters.
  const perL1 = (CLUSTER / 8) * CLUSTER;
  const l1Size = Math.ceil(o.size / perL1);
  const l1Clusters = Math.max(1, Math.ceil((l1Size * 8) / CLUSTER));
  if (l1Size * 8 > L1_BYTES_MAX) throw new Qcow2Error("L1 table too large");
  const rtOffset = CLUSTER;
  const rbOffset = 2 * CLUSTER;
  const l1Offset = 3 * CLUSTER;
  const clusters = 3 + l1Clusters;
  const out = Buffer.alloc(clusters * CLUSTER);
  // Extensions: the backing format (its data padded to 8 bytes), then the end marker.
  let at = HEADER_BYTES;
  if (o.backing) {
    const fmt = Buffer.from(o.backing.format, "ascii");
    out.writeUInt32BE(EXT_BACKING_FORMAT, at);
    out.writeUInt32BE(fmt.length, at + 4);
    fmt.copy(out, at + 8);
    at += 8 + Math.ceil(fmt.length / 8) * 8;
  }
  at += 8; // end of extensions: type 0, length 0
  const backingOffset = o.backing ? at : 0;
  name.copy(out, at);
  out.writeUInt32BE(QCOW2_MAGIC, 0);
  out.writeUInt32BE(3, 4);
  out.writeBigUInt64BE(BigInt(backingOffset), 8);
  out.writeUInt32BE(name.length, 16);
  out.writeUInt32BE(CLUSTER_BITS, 20);
  out.writeBigUInt64BE(BigInt(o.size), 24);
  out.writeUInt32BE(0, 32); // no encryption
  out.writeUInt32BE(l1Size, 36);
  out.writeBigUInt64BE(BigInt(l1Offset), 40);
  out.writeBigUInt64BE(BigInt(rtOffset), 48);
  out.writeUInt32BE(1, 56); // refcount table clusters
  // 60: no snapshots; 72, 80, 88: no incompatible, compatible or autoclear features.
  out.writeUInt32BE(REFCOUNT_ORDER, 96);
  out.writeUInt32BE(HEADER_BYTES, 100);
  out.writeBigUInt64BE(BigInt(rbOffset), rtOffset);
  for (let c = 0; c < clusters; c++) out.writeUInt16BE(1, rbOffset + c * 2);
  return out;
}
