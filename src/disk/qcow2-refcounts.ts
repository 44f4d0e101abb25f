// A qcow2 image's reference counts: how many tables point at each host cluster, kept in
// refcount blocks that a refcount table lists. moat allocates a cluster by finding one whose
// count is zero and counting it before anything points at it, so a crash between the two
// leaks a cluster (found and freed by the check at the next open) and never leaves a
// cluster in use with a count of zero.
import type { ImageFile } from "./image-file.js";
import { Qcow2Error, overlaps, type Qcow2Header } from "./qcow2-header.js";

/** Bound: refcount blocks kept in memory per image (each one cluster). */
const BLOCK_CACHE_MAX = 64;

export class Refcounts {
  /** Entries per refcount block. */
  readonly perBlock: number;
  private readonly bits: number;
  private readonly max: number;
  private readonly cache = new Map<number, Uint8Array>();
  /** Where the search for a free cluster starts: every cluster below it is taken. */
  private cursor = 1;
  /**
   * The first cluster past every cluster this image has handed out or placed a table in since
   * it was opened: those may lie past the file's end, not written yet, so the file's size
   * alone does not say where free space starts.
   */
  private end = 0;

  constructor(
    private readonly file: ImageFile,
    private readonly h: Qcow2Header,
    /** The refcount table: each entry a block's host offset, or 0. */
    public table: number[],
    /** Host ranges never handed out, whatever their counts say (the header, the tables). */
    private readonly reserved: () => [number, number][],
  ) {
    this.bits = 2 ** h.refcountOrder;
    this.perBlock = (h.clusterSize * 8) / this.bits;
    this.max = 2 ** this.bits - 1;
  }

  /** Reads the refcount table of `h` and checks each block's offset against the file. */
  static async open(
    file: ImageFile,
    h: Qcow2Header,
    reserved: () => [number, number][],
  ): Promise<Refcounts> {
    const bytes = await file.read(h.refcountTableOffset, h.refcountTableClusters * h.clusterSize);
    const v = new DataView(bytes.buffer);
    const table: number[] = [];
    for (let i = 0; i < bytes.length / 8; i++) {
      const off = Number(v.getBigUint64(i * 8) & 0x00ff_ffff_ffff_fe00n);
      if (v.getBigUint64(i * 8) & 0xff00_0000_0000_01ffn)
        throw new Qcow2Error(`refcount table entry ${i} has reserved bits set`);
      if (off !== 0 && (off < h.clusterSize || off + h.clusterSize > file.size))
        throw new Qcow2Error(`refcount block ${i} at ${off} lies outside the file`);
      table.push(off);
    }
    return new Refcounts(file, h, table, reserved);
  }

  private async block(b: number): Promise<Uint8Array | undefined> {
    const off = this.table[b] ?? 0;
    if (off === 0) return undefined;
    let blk = this.cache.get(off);
    if (blk) {
      this.cache.delete(off);
      this.cache.set(off, blk); // most recently used last
      return blk;
    }
    blk = await this.file.read(off, this.h.clusterSize);
    if (this.cache.size >= BLOCK_CACHE_MAX) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(off, blk);
    return blk;
  }

  private entry(blk: Uint8Array, i: number): number {
    const w = this.bits;
    if (w < 8) return (blk[(i * w) >> 3]! >> ((i * w) & 7)) & this.max;
    let x = 0;
    for (let k = 0; k < w / 8; k++) x = x * 256 + blk[i * (w / 8) + k]!;
    return x;
  }

  /** Sets entry `i` of `blk`; returns the byte range changed. */
  private setEntry(blk: Uint8Array, i: number, value: number): [number, number] {
    const w = this.bits;
    if (w < 8) {
      const at = (i * w) >> 3;
      const shift = (i * w) & 7;
      blk[at] = (blk[at]! & ~(this.max << shift)) | (value << shift);
      return [at, 1];
    }
    const n = w / 8;
    for (let k = n - 1, x = value; k >= 0; k--, x = Math.floor(x / 256)) blk[i * n + k] = x & 255;
    return [i * n, n];
  }

  /** The count of host cluster `c` (0 where no block covers it). */
  async get(c: number): Promise<number> {
    const blk = await this.block(Math.floor(c / this.perBlock));
    return blk ? this.entry(blk, c % this.perBlock) : 0;
  }

  /** Sets the count of host cluster `c`, adding a refcount block (or a larger table) if needed. */
  async set(c: number, value: number): Promise<void> {
    if (value < 0 || value > this.max)
      throw new Qcow2Error(`cluster ${c}: refcount ${value} outside 0..${this.max}`);
    const b = Math.floor(c / this.perBlock);
    if (b >= this.table.length) await this.grow(b + 1, c);
    if (this.table[b] === 0) {
      if (value === 0) return;
      await this.addBlock(b, c);
    }
    const blk = (await this.block(b))!;
    const [at, n] = this.setEntry(blk, c % this.perBlock, value);
    await this.file.write(this.table[b]! + at, blk.subarray(at, at + n));
    if (value === 0 && c < this.cursor) this.cursor = Math.max(1, c);
  }

  async adjust(c: number, delta: number): Promise<void> {
    await this.set(c, (await this.get(c)) + delta);
  }

  /** A free host cluster, counted as used (1) before it is returned: its byte offset. */
  async alloc(): Promise<number> {
    const c = await this.findFree();
    await this.set(c, 1);
    this.cursor = c + 1;
    this.end = Math.max(this.end, c + 1);
    return c * this.h.clusterSize;
  }

  private free(c: number): boolean {
    const cs = this.h.clusterSize;
    return c > 0 && !this.reserved().some(([off, len]) => overlaps(c * cs, cs, off, len));
  }

  /** Bound: the search walks the clusters from the cursor once; past the table it grows. */
  private async findFree(avoid = -1): Promise<number> {
    for (let c = this.cursor; ; c++) {
      const b = Math.floor(c / this.perBlock);
      const blk = b < this.table.length ? await this.block(b) : undefined;
      if ((!blk || this.entry(blk, c % this.perBlock) === 0) && this.free(c) && c !== avoid)
        return c;
    }
  }

  /**
   * Makes the refcount block of range `b` (which has none: no cluster of it is counted, so
   * none is in use) in the range's first free cluster other than `avoid`; it counts itself.
   */
  private async addBlock(b: number, avoid: number): Promise<void> {
    const cs = this.h.clusterSize;
    let at = -1;
    for (let c = Math.max(b * this.perBlock, 1); c < (b + 1) * this.perBlock; c++)
      if (this.free(c) && c !== avoid) {
        at = c;
        break;
      }
    if (at < 0) throw new Qcow2Error(`no room for refcount block ${b}`);
    const blk = new Uint8Array(cs);
    this.setEntry(blk, at % this.perBlock, 1);
    this.end = Math.max(this.end, at + 1);
    await this.file.write(at * cs, blk);
    this.cache.set(at * cs, blk);
    this.table[b] = at * cs;
    await this.writeTableEntry(b);
  }

  private async writeTableEntry(b: number): Promise<void> {
    const e = new Uint8Array(8);
    new DataView(e.buffer).setBigUint64(0, BigInt(this.table[b]!));
    await this.file.write(this.h.refcountTableOffset + b * 8, e);
  }

  /**
   * Moves the refcount table to a larger one of at least `entries` entries past the end of
   * the file and of every cluster handed out (`avoid`, the one being counted, among them),
   * then points the header at it (one write) and frees the old one.
   */
  private async grow(entries: number, avoid: number): Promise<void> {
    const cs = this.h.clusterSize;
    const per = cs / 8;
    const want = Math.max(entries, this.table.length * 2);
    const clusters = Math.ceil(want / per);
    if (clusters * cs > 8 * 1024 * 1024)
      throw new Qcow2Error("the refcount table would outgrow moat's bound");
    const start = Math.max(Math.ceil(this.file.size / cs), this.end, avoid + 1);
    const table = [...this.table, ...new Array<number>(clusters * per - this.table.length).fill(0)];
    // The new table's clusters, and the blocks that count them, go past the file's end.
    const counted: number[] = [];
    for (let k = 0; k < clusters; k++) counted.push(start + k);
    let next = start + clusters;
    for (let i = 0; i < counted.length; i++) {
      const b = Math.floor(counted[i]! / this.perBlock);
      if (table[b] === 0) {
        table[b] = next * cs;
        counted.push(next++);
      }
    }
    this.end = Math.max(this.end, next);
    const blocks = new Map<number, Uint8Array>();
    for (const c of counted) {
      const b = Math.floor(c / this.perBlock);
      const old = this.table[b] ?? 0;
      if (old !== 0) {
        await this.set(c, 1); // an existing block (within the old table's reach)
        continue;
      }
      const blk = blocks.get(b) ?? new Uint8Array(cs);
      blocks.set(b, blk);
      this.setEntry(blk, c % this.perBlock, 1);
    }
    for (const [b, blk] of blocks) {
      await this.file.write(table[b]!, blk);
      this.cache.set(table[b]!, blk);
    }
    const bytes = new Uint8Array(clusters * cs);
    const v = new DataView(bytes.buffer);
    table.forEach((off, i) => v.setBigUint64(i * 8, BigInt(off)));
    await this.file.write(start * cs, bytes);
    const head = new Uint8Array(12);
    const hv = new DataView(head.buffer);
    hv.setBigUint64(0, BigInt(start * cs));
    hv.setUint32(8, clusters);
    const oldOffset = this.h.refcountTableOffset;
    const oldClusters = this.h.refcountTableClusters;
    await this.file.write(48, head);
    this.h.refcountTableOffset = start * cs;
    this.h.refcountTableClusters = clusters;
    this.table = table;
    for (let k = 0; k < oldClusters; k++) await this.set(oldOffset / cs + k, 0);
  }

  /** The counts block `b` holds, by entry; undefined where there is no block. */
  async counts(b: number): Promise<((i: number) => number) | undefined> {
    const blk = await this.block(b);
    return blk && ((i: number) => this.entry(blk, i));
  }

  /** Rewrites block `b`'s counts through `f` in one write (a repair). */
  async rewrite(b: number, f: (i: number, count: number) => number): Promise<void> {
    const blk = await this.block(b);
    if (!blk) return;
    for (let i = 0; i < this.perBlock; i++) {
      const count = this.entry(blk, i);
      const want = f(i, count);
      if (want !== count) this.setEntry(blk, i, want);
    }
    await this.file.write(this.table[b]!, blk);
  }

  /** Drops cached blocks (after a repair rewrote them on disk). */
  forget(): void {
    this.cache.clear();
    this.cursor = 1;
  }
}
