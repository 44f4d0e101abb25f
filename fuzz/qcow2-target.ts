// qcow2 images as a fuzz target (issue 23): images qemu-img made (small clusters, data, zero and
// compressed clusters (zlib and zstd), a version 2 image, an overlay on a raw base), with bytes of their metadata replaced, opened
// read-only or to be written, then read, written, discarded and zeroed anywhere. Invariants:
// only a Qcow2Error (or a read-only disk's EROFS) comes out; an image moat opened to write
// opens again after moat's writes with its counts consistent; on a disk of at most 4 MiB, every
// read returns what a plain model of the disk holds; the file grows by a bounded amount.
import fc from "fast-check";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FuzzTarget } from "./targets.js";
import type { DiskReader, ImageFile } from "../src/disk/image-file.js";
import { Qcow2Error, parseQcow2Header } from "../src/disk/qcow2-header.js";
import { MetadataBudget, Qcow2Image } from "../src/disk/qcow2-image.js";

/** An image file in memory. */
function memFile(bytes: Uint8Array): ImageFile {
  let buf = Buffer.from(bytes);
  return {
    path: "fuzz.qcow2",
    get size() {
      return buf.length;
    },
    read(pos, len) {
      const out = new Uint8Array(len);
      if (pos < buf.length) out.set(buf.subarray(pos, Math.min(buf.length, pos + len)));
      return Promise.resolve(out);
    },
    write(pos, data) {
      if (pos + data.length > buf.length) {
        const grown = Buffer.alloc(pos + data.length);
        grown.set(buf);
        buf = grown;
      }
      buf.set(data, pos);
      return Promise.resolve();
    },
    datasync: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
}

const BASE_BYTES = 1 << 20;
const base: DiskReader = {
  path: "base.raw",
  sizeBytes: BASE_BYTES,
  // Each byte tells where it is (its 4 KiB page), so a read from the wrong place shows.
  read: (off, len) =>
    Promise.resolve(Uint8Array.from({ length: len }, (_, i) => ((off + i) >> 12) & 255)),
  close: () => Promise.resolve(),
};

interface Seed {
  bytes: Uint8Array;
  backing: boolean;
}
let seeds: Seed[] | undefined;

/** The images every input starts from, made once by qemu-img and qemu-io. */
function made(): Seed[] {
  if (seeds) return seeds;
  const dir = mkdtempSync(join(tmpdir(), "moat-fuzz-qcow2-"));
  try {
    const img = (name: string, ...args: string[]): string => {
      const p = join(dir, name);
      execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", ...args, p, "2M"]);
      return p;
    };
    const io = (p: string, ...cmds: string[]): void =>
      void execFileSync("qemu-io", ["-f", "qcow2", ...cmds.flatMap((c) => ["-c", c]), p]);
    const small = img("small.qcow2", "-o", "cluster_size=512,refcount_bits=4");
    io(small, "write -P 1 0 3000", "write -z 8192 4096", "write -P 2 1M 700");
    const big = img("big.qcow2");
    io(big, "write -P 3 65536 70000");
    const raw = join(dir, "src.raw");
    execFileSync("qemu-img", ["create", "-q", "-f", "raw", raw, "2M"]);
    execFileSync("qemu-io", ["-f", "raw", "-c", "write -P 4 0 200k", raw]);
    const compressed = (name: string, type: string): string => {
      const p = join(dir, name);
      const o = `cluster_size=4096,compression_type=${type}`;
      execFileSync("qemu-img", ["convert", "-c", "-O", "qcow2", "-o", o, raw, p]);
      return p;
    };
    const comp = compressed("comp.qcow2", "zlib");
    const zstd = compressed("zstd.qcow2", "zstd");
    const over = img("over.qcow2", "-o", "cluster_size=4096", "-b", raw, "-F", "raw");
    io(over, "write -P 5 5000 9000");
    const v2 = img("v2.qcow2", "-o", "compat=0.10,cluster_size=4096");
    io(v2, "write -P 6 0 20000", "write -P 7 1M 5000");
    seeds = [small, big, comp, v2, zstd].map((p) => ({ bytes: readFileSync(p), backing: false }));
    seeds.push({ bytes: readFileSync(over), backing: true });
    return seeds;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

type Op =
  | { op: "read" | "discard" | "zero"; at: number; len: number }
  | { op: "write"; at: number; len: number; fill: number };

interface Entry {
  table: "l1" | "l2" | "reftable" | "refblock";
  index: number;
  cluster: number;
  flags: bigint;
}

/** Writes entry `e` into the image: cluster `e.cluster` of the file, with `e.flags`. */
function plant(bytes: Uint8Array, e: Entry): void {
  let h;
  try {
    h = parseQcow2Header(bytes, bytes.length);
  } catch {
    return; // the edits already broke the header
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const cs = h.clusterSize;
  const entryAt = (table: number): number => table + e.index * 8;
  let table: number;
  if (e.table === "l1") table = h.l1Offset;
  else if (e.table === "reftable") table = h.refcountTableOffset;
  else {
    const first = Number(
      v.getBigUint64(e.table === "l2" ? h.l1Offset : h.refcountTableOffset) & 0xfffffffffe00n,
    );
    if (first === 0 || first + cs > bytes.length) return;
    if (e.table === "refblock") {
      // Refcount entries are narrower than 8 bytes: a count of 0 to 3 at the entry's place.
      const at = first + ((e.index * 2 ** h.refcountOrder) >> 3);
      if (at < bytes.length) bytes[at] = e.cluster & 3;
      return;
    }
    table = first;
  }
  const at = entryAt(table);
  if (at + 8 <= bytes.length) v.setBigUint64(at, BigInt(e.cluster * cs) | e.flags);
}

const allowed = (e: unknown): boolean =>
  e instanceof Qcow2Error || (e as { code?: string }).code === "EROFS";

export function qcow2Target(): FuzzTarget<{
  seed: number;
  edits: { at: number; bytes: number[] }[];
  entries: Entry[];
  readOnly: boolean;
  budget: number;
  ops: Op[];
}> {
  const span = fc.oneof(fc.nat({ max: 4 << 20 }), fc.nat());
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({
      op: fc.constantFrom("read", "discard", "zero"),
      at: span,
      len: fc.nat({ max: 200_000 }),
    }),
    fc.record({
      op: fc.constant("write"),
      at: span,
      len: fc.nat({ max: 200_000 }),
      fill: fc.integer({ min: 0, max: 255 }),
    }),
  ) as fc.Arbitrary<Op>;
  return {
    name: "qcow2",
    parses:
      "qcow2 images: header, extensions, backing name, L1/L2 tables, refcounts, compressed clusters",
    input: fc.record({
      seed: fc.nat({ max: 5 }),
      // Most edits land in the metadata: the header cluster and the first tables.
      edits: fc.array(
        fc.record({
          at: fc.oneof(fc.nat({ max: 600 }), fc.nat({ max: 0x50000 })),
          bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 8 }),
        }),
        { maxLength: 6 },
      ),
      // Table entries replaced by plausible ones: clusters of the file, with any flags, so that
      // tables alias each other, the header or data, as a crafted image's do.
      entries: fc.array(
        fc.record({
          table: fc.constantFrom("l1", "l2", "reftable", "refblock"),
          index: fc.nat({ max: 64 }),
          cluster: fc.nat({ max: 40 }),
          flags: fc.constantFrom(0n, 1n << 63n, 1n << 62n, 1n, (1n << 63n) | 1n),
        }),
        { maxLength: 3 },
      ),
      readOnly: fc.boolean(),
      // A metadata budget of a table or two (or none): tables dropped and read again.
      budget: fc.constantFrom(0, 4096, 8192, 1 << 20),
      ops: fc.array(op, { maxLength: 12 }),
    }),
    async run({ seed, edits, entries, readOnly, budget, ops }) {
      const s = made()[seed]!;
      const bytes = new Uint8Array(s.bytes);
      for (const { at, bytes: b } of edits)
        if (at < bytes.length) bytes.set(b.slice(0, bytes.length - at), at);
      for (const e of entries) plant(bytes, e);
      const file = memFile(bytes);
      const cache = new MetadataBudget(budget);
      const o = { readOnly, budget: cache, ...(s.backing ? { backing: base } : {}) };
      let img: Qcow2Image;
      try {
        img = await Qcow2Image.open(file, o);
      } catch (e) {
        if (allowed(e)) return;
        throw new Error(`open: ${String((e as Error).stack ?? e)}`);
      }
      const modelled = img.sizeBytes <= 4 << 20;
      let model: Uint8Array | undefined;
      if (modelled)
        try {
          model = await img.read(0, img.sizeBytes);
        } catch (e) {
          if (!allowed(e)) throw new Error(`read: ${String((e as Error).stack ?? e)}`);
        }
      let broken = model === undefined;
      for (const x of ops) {
        const len = Math.min(x.len, Math.max(0, img.sizeBytes - x.at));
        try {
          if (x.op === "read") {
            const got = await img.read(x.at, len);
            if (!broken && model && !Buffer.from(got).equals(model.subarray(x.at, x.at + len)))
              throw new Error(`read ${len} at ${x.at}: not what the model holds`);
          } else if (x.op === "write") {
            await img.write(x.at, new Uint8Array(len).fill(x.fill));
            model?.fill(x.fill, x.at, x.at + len);
          } else if (x.op === "zero") {
            await img.writeZeroes(x.at, len);
            model?.fill(0, x.at, x.at + len);
          } else {
            await img.discard(x.at, len);
            // Discard is a hint: whole clusters may now read as zeroes.
            broken = true;
          }
        } catch (e) {
          if (e instanceof Error && e.message.includes("not what the model holds")) throw e;
          if (!allowed(e)) throw new Error(`${x.op}: ${String((e as Error).stack ?? e)}`);
          broken = true; // a corrupt entry met: the model no longer says what the disk is
        }
      }
      if (cache.used > cache.limit) throw new Error(`${cache.used} bytes of tables kept`);
      await img.close();
      if (cache.used !== 0) throw new Error(`a closed image keeps ${cache.used} bytes`);
      // Bound: growth is at most what the writes allocate, plus tables.
      if (file.size > bytes.length + 64 * 1024 * 1024)
        throw new Error(`the image grew to ${file.size} bytes`);
      if (readOnly) return;
      // Written by moat, the image opens to be written again, its counts consistent.
      try {
        await (await Qcow2Image.open(file, o)).close();
      } catch (e) {
        throw new Error(`after moat's writes the image no longer opens: ${String(e)}`);
      }
    },
  };
}
