// The check of a qcow2 image's reference counts against what its tables reference, as
// `qemu-img check` makes it: a cluster referenced more often than it is counted is an error
// (writing could hand it out twice); one counted but referenced by nothing is a leak, which a
// crash between counting a new cluster and referencing it leaves, and which is freed here.
import type { ImageFile } from "./image-file.js";
import { Qcow2Error, type Qcow2Header } from "./qcow2-header.js";
import { l1Entry, l2Entry } from "./qcow2-l2.js";
import type { Refcounts } from "./qcow2-refcounts.js";

/** Bound: an image of at most 2^26 host clusters is checked (4 TiB of 64 KiB clusters). */
export const CHECK_CLUSTERS_MAX = 2 ** 26;
/** Bound: at most this many errors are listed. */
const ERRORS_MAX = 20;

export interface CheckResult {
  errors: string[];
  /** Clusters counted but referenced by nothing (freed when repairing). */
  leaks: number;
}

/**
 * Counts every reference the header, the L1 table, the L2 tables, the refcount table and its
 * blocks make, and compares each host cluster's count with it. With `repairLeaks`, a leaked
 * cluster's count is set to what references it.
 * Bound: each table is read once; CHECK_CLUSTERS_MAX host clusters.
 */
export async function checkImage(
  file: ImageFile,
  h: Qcow2Header,
  l1: Uint8Array,
  refs: Refcounts,
  o: { repairLeaks: boolean },
): Promise<CheckResult> {
  const cs = h.clusterSize;
  const n = Math.ceil(file.size / cs);
  if (n > CHECK_CLUSTERS_MAX)
    throw new Qcow2Error(`${n} host clusters: over the ${CHECK_CLUSTERS_MAX} moat checks`);
  const seen = new Uint16Array(n);
  const errors: string[] = [];
  const err = (m: string): void => void (errors.length < ERRORS_MAX && errors.push(m));
  const ref = (host: number, bytes: number, what: string): void => {
    const last = Math.floor((host + bytes - 1) / cs);
    if (last >= n) return err(`${what} at ${host} lies past the file's end`);
    for (let c = Math.floor(host / cs); c <= last; c++) if (seen[c]! < 0xffff) seen[c]!++;
  };
  if (h.nbSnapshots > 0) err("it has internal snapshots");
  ref(0, cs, "the header");
  ref(h.l1Offset, h.l1Size * 8, "the L1 table");
  ref(h.refcountTableOffset, h.refcountTableClusters * cs, "the refcount table");
  refs.table.forEach((off, b) => off !== 0 && ref(off, cs, `refcount block ${b}`));
  const l1v = new DataView(l1.buffer, l1.byteOffset, l1.byteLength);
  for (let i = 0; i < h.l1Size; i++) {
    let l2: number;
    try {
      l2 = l1Entry(l1v, i * 8).l2;
    } catch (e) {
      err((e as Error).message);
      continue;
    }
    if (l2 === 0) continue;
    if (l2 % cs !== 0 || l2 < cs || l2 + cs > file.size) {
      err(`L2 table ${i} at ${l2} is not a cluster of the file`);
      continue;
    }
    ref(l2, cs, `L2 table ${i}`);
    const t = await file.read(l2, cs);
    const tv = new DataView(t.buffer);
    for (let j = 0; j < cs / 8; j++) {
      try {
        const m = l2Entry(tv, j * 8, h.clusterBits);
        if ((m.kind === "data" || m.kind === "zero") && m.host !== 0) ref(m.host, cs, "a cluster");
        else if (m.kind === "compressed") ref(m.host, m.bytes, "a compressed cluster");
      } catch (e) {
        err(`L2 table ${i}: ${(e as Error).message}`);
      }
    }
  }
  const leaked: number[] = [];
  const covered = refs.table.length * refs.perBlock;
  for (let c = 0; c < covered; c++) {
    if (c >= n && refs.table[Math.floor(c / refs.perBlock)] === 0) {
      c = (Math.floor(c / refs.perBlock) + 1) * refs.perBlock - 1;
      continue;
    }
    const count = await refs.get(c);
    const want = c < n ? seen[c]! : 0;
    if (count < want) err(`cluster ${c} is referenced ${want} times but counted ${count}`);
    else if (count > want && want === 0) leaked.push(c);
  }
  if (o.repairLeaks && errors.length === 0) for (const c of leaked) await refs.set(c, 0);
  return { errors, leaks: leaked.length };
}
