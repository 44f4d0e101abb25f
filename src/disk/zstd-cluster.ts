// One zstd-compressed qcow2 cluster (compression type 1): the first frame of the bytes its L2
// entry names (the bytes after it are the next cluster's), inflated by fzstd. qemu-img writes
// each cluster as one single-segment frame whose content size is the cluster's: anything else
// is refused before a byte is inflated, so no frame can ask for more memory than a cluster.
import { decompress } from "fzstd";
import { Qcow2Error } from "./qcow2-header.js";

const MAGIC = 0xfd2fb528; // little-endian 28 b5 2f fd

/**
 * The length of the zstd frame at the start of `b` whose content must be `size` bytes, or a
 * Qcow2Error. Bound: walks block headers (3 bytes each) within `b` only.
 */
export function zstdFrameLength(b: Uint8Array, size: number): number {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const need = (n: number): void => {
    if (n > b.length) throw new Qcow2Error("a zstd frame runs past its compressed cluster");
  };
  need(5);
  if (v.getUint32(0, true) !== MAGIC) throw new Qcow2Error("a compressed cluster is no zstd frame");
  const fhd = b[4]!;
  const single = (fhd >> 5) & 1;
  const checksum = (fhd >> 2) & 1;
  const dictBytes = [0, 1, 2, 4][fhd & 3]!;
  const fcsFlag = fhd >> 6;
  const fcsBytes = fcsFlag === 0 ? single : 1 << fcsFlag;
  if (!single || fcsBytes === 0 || dictBytes !== 0)
    throw new Qcow2Error(
      "a zstd cluster must be one single-segment frame with its size, no dictionary",
    );
  let at = 5;
  need(at + fcsBytes);
  let fcs = 0;
  for (let k = fcsBytes - 1; k >= 0; k--) fcs = fcs * 256 + b[at + k]!;
  if (fcsBytes === 2) fcs += 256;
  if (fcs !== size) throw new Qcow2Error(`a zstd cluster says ${fcs} bytes, not ${size}`);
  at += fcsBytes;
  for (let last = 0; !last;) {
    need(at + 3);
    const h = b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16);
    last = h & 1;
    const type = (h >> 1) & 3;
    if (type === 3) throw new Qcow2Error("a zstd block of the reserved type");
    at += 3 + (type === 1 ? 1 : h >>> 3);
    need(at);
  }
  at += checksum * 4;
  need(at);
  return at;
}

/** The cluster of `size` bytes that the zstd data at the start of `b` holds. */
export function inflateZstdCluster(b: Uint8Array, size: number): Uint8Array {
  const frame = b.subarray(0, zstdFrameLength(b, size));
  let out: Uint8Array;
  try {
    out = decompress(frame);
  } catch (e) {
    throw new Qcow2Error(`a zstd cluster does not inflate: ${(e as Error).message}`);
  }
  if (out.length !== size) throw new Qcow2Error(`a zstd cluster inflates to ${out.length} bytes`);
  return out;
}
