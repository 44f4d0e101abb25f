// A qcow2 image as a disk: the guest's reads and writes mapped through its L1 and L2 tables,
// clusters allocated as the guest writes, copied from the backing disk where a write covers
// part of one, compressed clusters read (zlib), zero clusters, discard. The image is marked
// dirty (version 3) before its first change and clean once closed after a flush: an image a
// crash left dirty is checked, and its leaks freed, before moat writes it again.
import { inflateRawSync } from "node:zlib";
import type { DiskReader, ImageFile } from "./image-file.js";
import { inflateZstdCluster } from "./zstd-cluster.js";
import {
  COMPRESSION_ZSTD,
  INCOMPAT_CORRUPT,
  INCOMPAT_DIRTY,
  Qcow2Error,
  overlaps,
  parseQcow2Header,
  type Qcow2Header,
} from "./qcow2-header.js";
import { entryBytes, l1Entry, l2Entry, type Mapping } from "./qcow2-l2.js";
import { Refcounts } from "./qcow2-refcounts.js";
import { checkImage } from "./qcow2-check.js";

/**
 * Bound: L2 tables kept in memory, in bytes, by one VM over all its qcow2 files (each disk and
 * its backing files): the metadata cache limit. The images of a VM share one MetadataBudget.
 */
export const VM_METADATA_CACHE_BYTES = 32 * 1024 * 1024;

/** What the qcow2 images of one VM may keep of their tables in memory, and what they keep. */
export class MetadataBudget {
  used = 0;
  constructor(readonly limit = VM_METADATA_CACHE_BYTES) {}
}

export interface Qcow2OpenOptions {
  readOnly: boolean;
  /** The image's backing disk, opened read-only by the caller (who bounds and confines it). */
  backing?: DiskReader;
  /** The VM's metadata cache budget, shared with its other images (default: one of its own). */
  budget?: MetadataBudget;
}

/** What an open found and did: for logs and `moat image inspect`. */
export interface Qcow2OpenReport {
  /** Clusters counted but used by nothing, freed by this open (a crash's leftovers). */
  leaksFreed: number;
  wasDirty: boolean;
}

export class Qcow2Image {
  readonly sizeBytes: number;
  private readonly cs: number;
  private readonly l2Entries: number;
  private readonly l2Cache = new Map<number, Uint8Array>();
  private readonly l1: Uint8Array;
  private lock: Promise<unknown> = Promise.resolve();
  private dirty = false;
  private lastCompressed: { host: number; data: Uint8Array } | undefined;
  report: Qcow2OpenReport = { leaksFreed: 0, wasDirty: false };

  private constructor(
    private readonly budget: MetadataBudget,
    private readonly file: ImageFile,
    readonly header: Qcow2Header,
    l1: Uint8Array,
    private readonly refs: Refcounts | undefined,
    readonly readOnly: boolean,
    private readonly backing: DiskReader | undefined,
  ) {
    this.sizeBytes = header.size;
    this.cs = header.clusterSize;
    this.l2Entries = this.cs / 8;
    this.l1 = l1;
  }

  get path(): string {
    return this.file.path;
  }

  /** Reads and checks the header of `file` (for the caller to find the backing file). */
  static async header(file: ImageFile): Promise<Qcow2Header> {
    // Bound: the header and its extensions lie in the first cluster, at most 2 MiB.
    return parseQcow2Header(
      await file.read(0, Math.min(2 * 1024 * 1024, Math.max(512, file.size))),
      file.size,
    );
  }

  /**
   * Opens the qcow2 image in `file`. Written (not `readOnly`): refused for an image marked
   * corrupt, or one with internal snapshots;
   * every open to write checks the image's reference counts (and frees leaked clusters),
   * refusing one whose tables are broken.
   */
  static async open(file: ImageFile, o: Qcow2OpenOptions): Promise<Qcow2Image> {
    const h = await Qcow2Image.header(file);
    if (h.backingFile !== undefined && !o.backing)
      throw new Qcow2Error(`it has a backing file (${h.backingFile}) that was not opened`);
    if (!o.readOnly) {
      if (h.incompatible & INCOMPAT_CORRUPT)
        throw new Qcow2Error("marked corrupt: repair it with qemu-img check -r all first");
      if (h.nbSnapshots > 0)
        throw new Qcow2Error(
          `it has ${h.nbSnapshots} internal snapshots, which moat does not write around: ` +
            "attach it ,ro, or remove them (qemu-img snapshot -d)",
        );
    }
    const l1 = await file.read(h.l1Offset, h.l1Size * 8);
    const reserved = (): [number, number][] => [
      [0, h.clusterSize],
      [h.l1Offset, h.l1Size * 8],
      [h.refcountTableOffset, h.refcountTableClusters * h.clusterSize],
    ];
    const refs = o.readOnly ? undefined : await Refcounts.open(file, h, reserved);
    const img = new Qcow2Image(
      o.budget ?? new MetadataBudget(),
      file,
      h,
      l1,
      refs,
      o.readOnly,
      o.backing,
    );
    if (refs) {
      const wasDirty = (h.incompatible & INCOMPAT_DIRTY) !== 0n;
      // Checked before anything is written: a refused image is left as it was.
      const found = await checkImage(file, h, l1, refs, { repairLeaks: false });
      if (found.errors.length > 0)
        throw new Qcow2Error(
          `its tables are inconsistent (${found.errors[0]}${found.errors.length > 1 ? `, and ${found.errors.length - 1} more` : ""}): ` +
            "repair it with qemu-img check -r all",
        );
      // A program that does not know an autoclear feature clears its bit when it writes, and
      // before it frees anything (a bitmap's clusters among the leaks must not look valid).
      if (h.autoclear !== 0n) {
        await img.writeFeatures(h.incompatible, 0n);
        await file.datasync();
      }
      if (found.leaks > 0) await checkImage(file, h, l1, refs, { repairLeaks: true });
      img.report = { leaksFreed: found.leaks, wasDirty };
      if (wasDirty) await img.writeFeatures(h.incompatible & ~INCOMPAT_DIRTY, 0n);
    }
    return img;
  }

  /** Runs `f` alone: metadata changes (and the reads that walk the tables) never interleave. */
  private serial<T>(f: () => Promise<T>): Promise<T> {
    const run = this.lock.then(f, f);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private async writeFeatures(incompatible: bigint, autoclear: bigint): Promise<void> {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, incompatible);
    await this.file.write(72, b);
    this.header.incompatible = incompatible;
    if (autoclear !== this.header.autoclear) {
      new DataView(b.buffer).setBigUint64(0, autoclear);
      await this.file.write(88, b);
      this.header.autoclear = autoclear;
    }
  }

  /** Before the first change since open or the last clean point: dirty, and durably so. */
  private async markDirty(): Promise<void> {
    if (this.dirty) return;
    // Version 2 has no dirty bit: the check at every writable open stands in for it.
    if (this.header.version === 3) {
      await this.writeFeatures(this.header.incompatible | INCOMPAT_DIRTY, this.header.autoclear);
      await this.file.datasync();
    }
    this.dirty = true;
  }

  private async l2Table(off: number): Promise<DataView> {
    let t = this.l2Cache.get(off);
    if (t) {
      this.l2Cache.delete(off);
      this.l2Cache.set(off, t);
    } else {
      if (off < this.cs) throw new Qcow2Error(`L2 table at ${off} overlaps the header`);
      if (off + this.cs > this.file.size)
        throw new Qcow2Error(`L2 table at ${off} lies past the file's end`);
      t = await this.file.read(off, this.cs);
      this.remember(off, t);
    }
    return new DataView(t.buffer, t.byteOffset, t.byteLength);
  }

  /**
   * Keeps L2 table `t` (at `off`) in memory if the VM's budget allows, dropping this image's
   * least recently used tables to make room; with no room left, it is used and not kept.
   */
  private remember(off: number, t: Uint8Array): void {
    this.forget(off);
    while (this.budget.used + this.cs > this.budget.limit && this.l2Cache.size > 0)
      this.forget(this.l2Cache.keys().next().value!);
    if (this.budget.used + this.cs > this.budget.limit) return;
    this.l2Cache.set(off, t);
    this.budget.used += this.cs;
  }

  private forget(off: number): void {
    if (this.l2Cache.delete(off)) this.budget.used -= this.cs;
  }

  /** Where guest cluster `gc` is. */
  private async mapping(gc: number): Promise<Mapping> {
    const i1 = Math.floor(gc / this.l2Entries);
    const { l2 } = l1Entry(new DataView(this.l1.buffer), i1 * 8);
    if (l2 === 0) return { kind: "unallocated" };
    const t = await this.l2Table(l2);
    return l2Entry(t, (gc % this.l2Entries) * 8, this.header);
  }

  private async compressed(m: { host: number; bytes: number }): Promise<Uint8Array> {
    if (this.lastCompressed?.host === m.host) return this.lastCompressed.data;
    const input = await this.file.read(m.host, m.bytes);
    let data: Uint8Array;
    if (this.header.compressionType === COMPRESSION_ZSTD) {
      try {
        data = inflateZstdCluster(input, this.cs);
      } catch (e) {
        throw new Qcow2Error(`compressed cluster at ${m.host}: ${(e as Error).message}`);
      }
    } else {
      let out: Buffer;
      try {
        out = inflateRawSync(input, {
          maxOutputLength: this.cs,
          finishFlush: 2 /* Z_SYNC_FLUSH */,
        });
      } catch (e) {
        throw new Qcow2Error(`compressed cluster at ${m.host}: ${(e as Error).message}`);
      }
      if (out.length !== this.cs)
        throw new Qcow2Error(`compressed cluster at ${m.host} inflates to ${out.length} bytes`);
      data = new Uint8Array(out.buffer, out.byteOffset, out.length);
    }
    this.lastCompressed = { host: m.host, data };
    return data;
  }

  /** `len` bytes of guest cluster `gc` from byte `inner`, as its mapping `m` says. */
  private async readMapped(
    m: Mapping,
    gc: number,
    inner: number,
    len: number,
  ): Promise<Uint8Array> {
    switch (m.kind) {
      case "data":
        return this.file.read(m.host + inner, len);
      case "zero":
        return new Uint8Array(len);
      case "compressed":
        return (await this.compressed(m)).slice(inner, inner + len);
      case "unallocated":
        return this.fromBacking(gc * this.cs + inner, len);
    }
  }

  private async fromBacking(off: number, len: number): Promise<Uint8Array> {
    const out = new Uint8Array(len);
    const b = this.backing;
    if (!b || off >= b.sizeBytes) return out;
    out.set(await b.read(off, Math.min(len, b.sizeBytes - off)));
    return out;
  }

  private checkRange(offset: number, len: number): void {
    if (offset < 0 || len < 0 || offset + len > this.sizeBytes)
      throw new Qcow2Error(`${len} bytes at ${offset} lie outside the ${this.sizeBytes}-byte disk`);
  }

  /** Calls `f` for each guest cluster piece of [offset, offset+len). */
  private async pieces(
    offset: number,
    len: number,
    f: (gc: number, inner: number, n: number, done: number) => Promise<void>,
  ): Promise<void> {
    for (let done = 0; done < len;) {
      const at = offset + done;
      const gc = Math.floor(at / this.cs);
      const inner = at % this.cs;
      const n = Math.min(this.cs - inner, len - done);
      await f(gc, inner, n, done);
      done += n;
    }
  }

  /**
   * Reads [offset, offset+len): pieces that lie one after another in the image file, or in
   * the backing disk, are read in one call each.
   */
  read(offset: number, len: number): Promise<Uint8Array> {
    this.checkRange(offset, len);
    return this.serial(async () => {
      const out = new Uint8Array(len);
      let run: { file: boolean; from: number; at: number; len: number } | undefined;
      const flush = async (): Promise<void> => {
        if (!run) return;
        const r = run;
        run = undefined;
        out.set(
          r.file ? await this.file.read(r.from, r.len) : await this.fromBacking(r.from, r.len),
          r.at,
        );
      };
      await this.pieces(offset, len, async (gc, inner, n, done) => {
        const m = await this.mapping(gc);
        const file = m.kind === "data";
        if (!file && m.kind !== "unallocated") {
          await flush();
          if (m.kind === "compressed") out.set(await this.readMapped(m, gc, inner, n), done);
          return; // a zero cluster: out holds zeroes already
        }
        const from = file ? m.host + inner : gc * this.cs + inner;
        if (run && run.file === file && run.from + run.len === from) run.len += n;
        else {
          await flush();
          run = { file, from, at: done, len: n };
        }
      });
      await flush();
      return out;
    });
  }

  /**
   * Writes `data` at `offset`: in place where the clusters are the image's own (one call for
   * pieces that lie one after another), else into new clusters, whole ones of one L2 table
   * allocated together and their entries written in one call.
   */
  write(offset: number, data: Uint8Array): Promise<void> {
    this.refuseIfReadOnly();
    this.checkRange(offset, data.length);
    return this.serial(async () => {
      await this.markDirty();
      const cs = this.cs;
      let place: { host: number; from: number; len: number } | undefined;
      const flush = async (): Promise<void> => {
        if (!place) return;
        const p = place;
        place = undefined;
        await this.file.write(p.host, data.subarray(p.from, p.from + p.len));
      };
      for (let done = 0; done < data.length;) {
        const at = offset + done;
        const gc = Math.floor(at / cs);
        const inner = at % cs;
        const n = Math.min(cs - inner, data.length - done);
        const m = await this.mapping(gc);
        if (m.kind === "data" && m.copied) {
          this.refuseMetadata(m.host);
          const host = m.host + inner;
          if (place && place.host + place.len === host) place.len += n;
          else {
            await flush();
            place = { host, from: done, len: n };
          }
          done += n;
          continue;
        }
        await flush();
        if (n < cs) {
          await this.writeCluster(gc, inner, data.subarray(done, done + n));
          done += n;
          continue;
        }
        done += await this.allocateWhole(gc, data.subarray(done), m);
      }
      await flush();
    });
  }

  /**
   * Writes whole clusters from guest cluster `gc` on (as many of `data`'s as are whole, not the
   * image's own, and in `gc`'s L2 table) into new clusters: counted first, then their data, then
   * their L2 entries in one write, then what they replaced released. Returns the bytes written.
   */
  private async allocateWhole(gc: number, data: Uint8Array, first: Mapping): Promise<number> {
    const cs = this.cs;
    const olds: Mapping[] = [first];
    const tableEnd = (Math.floor(gc / this.l2Entries) + 1) * this.l2Entries;
    while ((olds.length + 1) * cs <= data.length && gc + olds.length < tableEnd) {
      const m = await this.mapping(gc + olds.length);
      if (m.kind === "data" && m.copied) break;
      olds.push(m);
    }
    const l2 = await this.writableL2(gc);
    const hosts: number[] = [];
    for (let k = 0; k < olds.length; k++) hosts.push(await this.refs!.alloc());
    // Data: one write for each run of clusters that lie one after another.
    for (let k = 0; k < hosts.length;) {
      let e = k + 1;
      while (e < hosts.length && hosts[e] === hosts[e - 1]! + cs) e++;
      await this.file.write(hosts[k]!, data.subarray(k * cs, e * cs));
      k = e;
    }
    const entries = new Uint8Array(8 * hosts.length);
    hosts.forEach((h, k) => entries.set(entryBytes(h, { copied: true }), 8 * k));
    const at = (gc % this.l2Entries) * 8;
    this.l2Cache.get(l2)?.set(entries, at);
    await this.file.write(l2 + at, entries);
    for (const m of olds) await this.release(m);
    return hosts.length * cs;
  }

  /** The L2 table for guest cluster `gc`, made (or copied, if shared) so it can be written. */
  private async writableL2(gc: number): Promise<number> {
    const refs = this.refs!;
    const i1 = Math.floor(gc / this.l2Entries);
    const l1v = new DataView(this.l1.buffer);
    const { l2, copied } = l1Entry(l1v, i1 * 8);
    if (l2 !== 0 && copied) return l2;
    const fresh = await refs.alloc();
    const content =
      l2 === 0 ? new Uint8Array(this.cs) : (await this.file.read(l2, this.cs)).slice();
    await this.file.write(fresh, content);
    this.remember(fresh, content);
    const e = entryBytes(fresh, { copied: true });
    this.l1.set(e, i1 * 8);
    await this.file.write(this.header.l1Offset + i1 * 8, e);
    if (l2 !== 0) {
      this.forget(l2);
      await refs.adjust(l2 / this.cs, -1);
    }
    return fresh;
  }

  private async setL2(l2: number, gc: number, e: Uint8Array): Promise<void> {
    const at = (gc % this.l2Entries) * 8;
    const t = this.l2Cache.get(l2);
    if (t) t.set(e, at);
    await this.file.write(l2 + at, e);
  }

  /** Drops the references mapping `m` held (a replaced or discarded cluster). */
  private async release(m: Mapping): Promise<void> {
    const refs = this.refs!;
    if ((m.kind === "data" || m.kind === "zero") && m.host !== 0)
      await refs.adjust(m.host / this.cs, -1);
    if (m.kind === "compressed") {
      const first = Math.floor(m.host / this.cs);
      const last = Math.floor((m.host + m.bytes - 1) / this.cs);
      for (let c = first; c <= last; c++) await refs.adjust(c, -1);
      if (this.lastCompressed?.host === m.host) this.lastCompressed = undefined;
    }
  }

  private async writeCluster(gc: number, inner: number, piece: Uint8Array): Promise<void> {
    const m = await this.mapping(gc);
    if (m.kind === "data" && m.copied) {
      this.refuseMetadata(m.host);
      await this.file.write(m.host + inner, piece);
      return;
    }
    // A new cluster: what the piece does not cover comes from where the cluster was.
    let content: Uint8Array;
    if (piece.length === this.cs) content = piece;
    else {
      content = await this.readMapped(m, gc, 0, this.cs);
      content = content.slice();
      content.set(piece, inner);
    }
    const l2 = await this.writableL2(gc);
    const host = await this.refs!.alloc();
    await this.file.write(host, content);
    await this.setL2(l2, gc, entryBytes(host, { copied: true }));
    await this.release(m);
  }

  /** A guest write never lands on the header or the image's own tables, whatever L2 says. */
  private refuseMetadata(host: number): void {
    const h = this.header;
    if (
      host < this.cs ||
      overlaps(host, this.cs, h.l1Offset, h.l1Size * 8) ||
      overlaps(host, this.cs, h.refcountTableOffset, h.refcountTableClusters * this.cs)
    )
      throw new Qcow2Error(`a data cluster at ${host} overlaps the image's metadata`);
  }

  /** Whole clusters of [offset, offset+len) become zero clusters; other bytes are written. */
  writeZeroes(offset: number, len: number): Promise<void> {
    return this.unmap(offset, len, true);
  }

  /**
   * Whole clusters of the range stop holding data: unallocated with no backing disk, zero
   * clusters over one (so the backing's data does not show through again). Partial clusters
   * are left as they are: discard is a hint.
   */
  discard(offset: number, len: number): Promise<void> {
    return this.unmap(offset, len, false);
  }

  private unmap(offset: number, len: number, zeroes: boolean): Promise<void> {
    this.refuseIfReadOnly();
    this.checkRange(offset, len);
    return this.serial(async () => {
      await this.markDirty();
      await this.pieces(offset, len, async (gc, inner, n) => {
        if (n < this.cs) {
          if (zeroes) await this.writeCluster(gc, inner, new Uint8Array(n));
          return;
        }
        const m = await this.mapping(gc);
        if (m.kind === "zero" && m.host === 0) return;
        if (m.kind === "unallocated" && !this.backing) return;
        if (this.header.version === 2 && this.backing) {
          // No zero clusters in version 2: zeroes over a backing disk are written as data.
          if (zeroes) await this.writeCluster(gc, 0, new Uint8Array(this.cs));
          return;
        }
        const l2 = await this.writableL2(gc);
        // Version 2 has no zero clusters: here there is no backing disk, so unallocated reads
        // as zeroes.
        const zero = this.header.version === 3 && (this.backing !== undefined || zeroes);
        await this.setL2(
          l2,
          gc,
          zero ? entryBytes(0, { copied: false, zero: true }) : new Uint8Array(8),
        );
        await this.release(m);
      });
    });
  }

  /** Durable: everything written is on stable storage. */
  flush(): Promise<void> {
    if (this.readOnly) return Promise.resolve();
    return this.serial(() => this.file.datasync());
  }

  /** Flushes, marks the image clean, closes it and its backing disk. */
  close(): Promise<void> {
    return this.serial(async () => {
      if (!this.readOnly && this.dirty) {
        await this.file.datasync();
        if (this.header.version === 3) {
          await this.writeFeatures(
            this.header.incompatible & ~INCOMPAT_DIRTY,
            this.header.autoclear,
          );
          await this.file.datasync();
        }
        this.dirty = false;
      }
      for (const off of [...this.l2Cache.keys()]) this.forget(off);
      await this.file.close();
      await this.backing?.close();
    });
  }

  private refuseIfReadOnly(): void {
    if (this.readOnly)
      throw Object.assign(new Error(`disk ${this.path} is read-only`), { code: "EROFS" });
  }
}
