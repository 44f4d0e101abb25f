// The check of a qcow2 image's reference counts against what its tables reference, as
// `qemu-img check` makes it: a cluster referenced more often than it is counted is an error
// (writing could hand it out twice); one counted but referenced by nothing is a leak, which a
// crash between counting a new cluster and referencing it leaves, and which is freed here.
import type { ImageFile } from "./image-file.js";
import { Qcow2Error, type Qcow2Header } from "./qcow2-header.js";
import { l1Entry, l2Entry } from "./qcow2-l2.js";
import type { Refcounts } from "./qcow2-refcounts.js";

/**
 * Bound: an image of at most 2^24 host clusters is checked (1 TiB of 64 KiB clusters; 48 MiB
 * of counters), reading at most CHECK_L2_BYTES of L2 tables: a file that is mostly holes
 * (cheap to make) cannot make the check read or count more than that.
 */
export const CHECK_CLUSTERS_MAX = 2 ** 24;
export const CHECK_L2_BYTES = 1024 * 1024 * 1024;
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
 * Bound: each L2 table is read once (a cluster named twice is an error, not read again), at most
 * CHECK_L2_BYTES of them; CHECK_CLUSTERS_MAX host clusters; refcount blocks compared only for
 * clusters of the file.
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
  // Clusters a table or an uncompressed data entry uses: those must have one user alone (only
  // compressed clusters share a host cluster, and internal snapshots, which are refused).
  const alone = new Uint8Array(n);
  const errors: string[] = [];
  const err = (m: string): void => void (errors.length < ERRORS_MAX && errors.push(m));
  const ref = (host: number, bytes: number, what: string, shared = false): void => {
    if (host < cs && what !== "the header") return err(`${what} at ${host} overlaps the header`);
    const last = Math.floor((host + bytes - 1) / cs);
    if (last >= n) return err(`${what} at ${host} lies past the file's end`);
    for (let c = Math.floor(host / cs); c <= last; c++) {
      if (seen[c]! < 0xffff) seen[c]!++;
      if (!shared) alone[c] = 1;
    }
  };
  if (h.nbSnapshots > 0) err("it has internal snapshots");
  ref(0, cs, "the header");
  ref(h.l1Offset, h.l1Size * 8, "the L1 table");
  ref(h.refcountTableOffset, h.refcountTableClusters * cs, "the refcount table");
  refs.table.forEach((off, b) => off !== 0 && ref(off, cs, `refcount block ${b}`));
  const l1v = new DataView(l1.buffer, l1.byteOffset, l1.byteLength);
  let l2Bytes = 0;
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
    if (seen[l2 / cs]! > 0) {
      // Used already (by another L1 entry or a table): an error, and not read again.
      err(`L2 table ${i} at ${l2} is a cluster used twice`);
      continue;
    }
    ref(l2, cs, `L2 table ${i}`);
    l2Bytes += cs;
    if (l2Bytes > CHECK_L2_BYTES)
      throw new Qcow2Error(
        `over ${CHECK_L2_BYTES} bytes of L2 tables: too large for moat to check`,
      );
    const t = await file.read(l2, cs);
    const tv = new DataView(t.buffer);
    for (let j = 0; j < cs / 8; j++) {
      try {
        const m = l2Entry(tv, j * 8, h);
        if ((m.kind === "data" || m.kind === "zero") && m.host !== 0) ref(m.host, cs, "a cluster");
        else if (m.kind === "compressed") ref(m.host, m.bytes, "a compressed cluster", true);
      } catch (e) {
        err(`L2 table ${i}: ${(e as Error).message}`);
      }
    }
  }
  // Aliases first: a table or block used twice makes every count read through it meaningless.
  for (let c = 0; c < n; c++)
    if (seen[c]! > 1 && alone[c])
      err(`cluster ${c} is used ${seen[c]} times (a table or data twice)`);
  if (errors.length > 0) return { errors, leaks: 0 };
  // Then every count against its references, block by block (each read once), and every
  // referenced cluster past the blocks' reach. Bound: the blocks are distinct clusters of the
  // file, so at most (file clusters + 1) x entries per block are compared.
  const per = refs.perBlock;
  const blocks = Math.max(refs.table.length, Math.ceil(n / per));
  const leakOf = (c: number, count: number): boolean => count > 0 && c < n && seen[c] === 0;
  let leaks = 0;
  for (let b = 0; b < blocks; b++) {
    // Ranges past the file's end are not compared: counts there are leaks at worst, and a
    // hostile table may name blocks for a sparse file's whole reach.
    if (b * per >= n) continue;
    const counts = b < refs.table.length ? await refs.counts(b) : undefined;
    for (let i = 0, c = b * per; i < per; i++, c++) {
      const count = counts ? counts(i) : 0;
      const want = c < n ? seen[c]! : 0;
      if (count < want) err(`cluster ${c} is referenced ${want} times but counted ${count}`);
      else if (leakOf(c, count)) leaks++;
    }
  }
  if (o.repairLeaks && errors.length === 0 && leaks > 0) {
    for (let b = 0; b < Math.min(refs.table.length, Math.ceil(n / per)); b++)
      await refs.rewrite(b, (i, count) => (leakOf(b * per + i, count) ? 0 : count));
    refs.forget();
  }
  return { errors, leaks };
}
