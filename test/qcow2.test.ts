// qcow2 images (issue 23): moat's reader and writer against the real qemu-img and qemu-io.
// Every image is made by qemu-img; every write moat makes is checked by `qemu-img check` (no
// errors, no leaks) and `qemu-img compare` against a raw file given the same writes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, openSync, closeSync, readFileSync, symlinkSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openQcow2, BACKING_DEPTH_MAX } from "../src/disk/qcow2-chain.js";
import { parseQcow2Header } from "../src/disk/qcow2-header.js";
import { MetadataBudget, Qcow2Image } from "../src/disk/qcow2-image.js";
import type { ImageFile } from "../src/disk/image-file.js";

const dir = mkdtempSync(join(tmpdir(), "moat-qcow2-"));
let n = 0;
const path = (name: string): string => join(dir, `${n++}-${name}`);
const qemuImg = (...a: string[]): string => execFileSync("qemu-img", a, { encoding: "utf8" });
const qemuIo = (file: string, ...cmds: string[]): string =>
  execFileSync("qemu-io", ["-f", "qcow2", ...cmds.flatMap((c) => ["-c", c]), file], {
    encoding: "utf8",
  });

/** A new qcow2 image of `size` made by qemu-img with `options`. */
function qcow2(name: string, size: string, options: string): string {
  const f = path(name);
  qemuImg("create", "-q", "-f", "qcow2", "-o", options, f, size);
  return f;
}

/** `qemu-img check`'s verdict: no errors and no leaks (exit 0), or its output. */
function checkClean(file: string): void {
  const r = spawnSync("qemu-img", ["check", "-f", "qcow2", file], { encoding: "utf8" });
  assert.equal(r.status, 0, `qemu-img check ${file}:\n${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /No errors were found on the image/);
}

function sameAs(file: string, raw: string): void {
  const r = spawnSync("qemu-img", ["compare", "-f", "qcow2", "-F", "raw", file, raw], {
    encoding: "utf8",
  });
  assert.equal(r.status, 0, `qemu-img compare:\n${r.stdout}${r.stderr}`);
}

/** A raw file that takes the same writes as the image (the oracle of its content). */
function mirror(
  size: number,
  from?: string,
): { path: string; write(off: number, d: Uint8Array): void } {
  const p = path("mirror.raw");
  if (from) qemuImg("convert", "-O", "raw", from, p);
  else qemuImg("create", "-q", "-f", "raw", p, String(size));
  return {
    path: p,
    write(off, d) {
      const fd = openSync(p, "r+");
      writeSync(fd, d, 0, d.length, off);
      closeSync(fd);
    },
  };
}

/** Deterministic writes of every shape: within a cluster, across clusters, unaligned. */
async function writeMany(
  img: Qcow2Image,
  m: ReturnType<typeof mirror>,
  seed: number,
  count: number,
): Promise<void> {
  let x = seed;
  const rnd = (k: number): number => (x = (x * 1103515245 + 12345) >>> 0) % k;
  for (let i = 0; i < count; i++) {
    const len = 1 + rnd(3 * img.header.clusterSize);
    const off = rnd(img.sizeBytes - len);
    const d = new Uint8Array(len).fill(1 + (i % 250));
    await img.write(off, d);
    m.write(off, d);
  }
}

test("qcow2: moat reads what qemu-io wrote, at every cluster size and refcount width", async () => {
  for (const [cluster, bits] of [
    ["512", "16"],
    ["4096", "1"],
    ["65536", "16"],
    ["2M", "32"],
  ] as const) {
    const f = qcow2(`c${cluster}.qcow2`, "64M", `cluster_size=${cluster},refcount_bits=${bits}`);
    qemuIo(f, "write -P 0xab 0 100k", "write -P 0xcd 5M 3000", "write -z 6M 64k");
    const img = await openQcow2(f, { readOnly: true });
    assert.ok(
      (await img.read(0, 100 * 1024)).every((b) => b === 0xab),
      cluster,
    );
    assert.ok(
      (await img.read(5 * 1024 * 1024, 3000)).every((b) => b === 0xcd),
      cluster,
    );
    assert.ok(
      (await img.read(5 * 1024 * 1024 + 3000, 4096)).every((b) => b === 0),
      cluster,
    );
    assert.ok(
      (await img.read(6 * 1024 * 1024, 65536)).every((b) => b === 0),
      cluster,
    );
    await img.close();
  }
});

test("qcow2: moat's writes pass qemu-img check with no errors or leaks, and read back in QEMU as written", async () => {
  for (const options of [
    "cluster_size=65536,refcount_bits=16",
    "cluster_size=4096,refcount_bits=4",
    "cluster_size=512,refcount_bits=16", // small clusters: many tables and blocks
    "compat=0.10", // version 2: no dirty bit, no zero clusters
  ]) {
    const cluster = /cluster_size=(\d+)/.exec(options)?.[1] ?? "65536";
    const f = qcow2(`w${cluster}.qcow2`, "16M", options);
    const m = mirror(16 * 1024 * 1024);
    const img = await openQcow2(f, { readOnly: false });
    await writeMany(img, m, 7, cluster === "512" ? 400 : 150);
    // Discard and write-zeroes of whole clusters, and of parts (a hint; zeroes are written).
    await img.writeZeroes(1024 * 1024, 200_000);
    m.write(1024 * 1024, new Uint8Array(200_000));
    await img.discard(0, 16 * 1024 * 1024); // no backing: the whole disk reads as zeroes again
    for (const [o, l] of [[0, 16 * 1024 * 1024]]) m.write(o!, new Uint8Array(l!));
    await writeMany(img, m, 11, 50);
    await img.flush();
    await img.close();
    checkClean(f);
    sameAs(f, m.path);
    const h = parseQcow2Header(readFileSync(f).subarray(0, 512 * 4), Infinity);
    assert.equal(h.incompatible & 1n, 0n, "closed clean: the dirty bit is clear");
    assert.equal(h.version, options === "compat=0.10" ? 2 : 3);
  }
});

test("qcow2: an overlay on a raw and a qcow2 base reads through, copies partial clusters, and leaves its bases unchanged (versions 3 and 2)", async () => {
  for (const compat of ["1.1", "0.10"]) {
    const base = path("base.raw");
    qemuImg("create", "-q", "-f", "raw", base, "8M");
    execFileSync("qemu-io", ["-f", "raw", "-c", "write -P 0x5a 0 8M", base]);
    const mid = path("mid.qcow2");
    qemuImg("create", "-q", "-f", "qcow2", "-b", base, "-F", "raw", mid);
    qemuIo(mid, "write -P 0x6b 1M 100k");
    const top = path("top.qcow2");
    qemuImg("create", "-q", "-f", "qcow2", "-o", `compat=${compat}`, "-b", mid, "-F", "qcow2", top);
    const m = mirror(8 * 1024 * 1024, top);
    const img = await openQcow2(top, { readOnly: false });
    assert.ok((await img.read(0, 4096)).every((b) => b === 0x5a));
    assert.ok((await img.read(1024 * 1024, 4096)).every((b) => b === 0x6b));
    await writeMany(img, m, 3, 80);
    // Zeroes over a base: zero clusters (version 3) or zeroes written (version 2), never the
    // base's data showing through again.
    await img.writeZeroes(2 * 1024 * 1024, 128 * 1024);
    m.write(2 * 1024 * 1024, new Uint8Array(128 * 1024));
    if (compat === "1.1") {
      await img.discard(3 * 1024 * 1024, 128 * 1024); // zero clusters too
      m.write(3 * 1024 * 1024, new Uint8Array(128 * 1024));
    }
    await img.close();
    checkClean(top);
    checkClean(mid);
    sameAs(top, m.path);
    execFileSync("qemu-io", ["-f", "raw", "-c", "read -P 0x5a 0 8M", base]);
  }
});

test("qcow2: compressed clusters (zlib and zstd) read as written, and writing over them frees what they held", async () => {
  const src = path("src.raw");
  qemuImg("create", "-q", "-f", "raw", src, "4M");
  // Varied data: runs, and bytes that do not repeat, so the frames hold more than one block.
  execFileSync("qemu-io", [
    "-f",
    "raw",
    "-c",
    "write -P 0x11 0 1M",
    "-c",
    "write -P 0x22 2M 300k",
    src,
  ]);
  const noise = Buffer.alloc(200_000);
  for (let i = 0, x = 1; i < noise.length; i++)
    noise[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  const fd = openSync(src, "r+");
  writeSync(fd, noise, 0, noise.length, 3 * 1024 * 1024);
  closeSync(fd);
  for (const type of ["zlib", "zstd"]) {
    const c = path(`comp-${type}.qcow2`);
    qemuImg("convert", "-c", "-f", "raw", "-O", "qcow2", "-o", `compression_type=${type}`, src, c);
    assert.match(qemuImg("check", c), /compressed clusters/);
    assert.match(qemuImg("info", c), new RegExp(`compression type: ${type}`));
    const m = mirror(4 * 1024 * 1024, src);
    const img = await openQcow2(c, { readOnly: false });
    assert.ok(
      (await img.read(0, 1024 * 1024)).every((b) => b === 0x11),
      type,
    );
    assert.ok(
      (await img.read(2 * 1024 * 1024, 300 * 1024)).every((b) => b === 0x22),
      type,
    );
    assert.ok(Buffer.from(await img.read(3 * 1024 * 1024, noise.length)).equals(noise), type);
    await writeMany(img, m, 5, 60);
    await img.close();
    checkClean(c);
    sameAs(c, m.path);
  }
  // A zstd frame that is not one cluster's single segment is refused, not inflated.
  const z = path("bad-zstd.qcow2");
  qemuImg("convert", "-c", "-f", "raw", "-O", "qcow2", "-o", "compression_type=zstd", src, z);
  const b = readFileSync(z);
  const magic = b.indexOf(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), 65536);
  b[magic + 4] = 0x00; // frame header: no single segment, no size
  const w = openSync(z, "w");
  writeSync(w, b);
  closeSync(w);
  const img = await openQcow2(z, { readOnly: true });
  await assert.rejects(img.read(0, 512), /single-segment frame/);
  await img.close();
});

test("qcow2: a writer killed mid-write leaves a dirty image; moat's next open frees the leaks, and what was flushed is kept", async () => {
  const f = path("crash.qcow2");
  qemuImg("create", "-q", "-f", "qcow2", f, "64M");
  const script = `
    import { openQcow2 } from ${JSON.stringify(new URL("../src/disk/qcow2-chain.js", import.meta.url).href)};
    const img = await openQcow2(${JSON.stringify(f)}, { readOnly: false });
    await img.write(0, new Uint8Array(65536).fill(7));
    await img.flush();
    process.stdout.write("flushed\\n");
    for (let i = 1; ; i++) await img.write((i % 900) * 65536 + 512, new Uint8Array(70000).fill(i & 255));
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((ok) =>
    child.stdout!.on("data", (d: Buffer) => d.includes("flushed") && ok()),
  );
  // Let it allocate for a while: wait until the file has grown past 20 MiB.
  while (readFileSync(f).length < 20 * 1024 * 1024) await new Promise((r) => setTimeout(r, 20));
  child.kill("SIGKILL");
  await new Promise((r) => child.once("exit", r));
  const h = parseQcow2Header(readFileSync(f).subarray(0, 65536), Infinity);
  assert.equal(h.incompatible & 1n, 1n, "killed while writing: the image is marked dirty");
  const img = await openQcow2(f, { readOnly: false });
  assert.equal(img.report.wasDirty, true);
  assert.ok(
    (await img.read(0, 65536)).every((b) => b === 7),
    "the flushed write is kept",
  );
  await img.close();
  checkClean(f);
});

test("qcow2: hostile and unsupported images are refused with the reason", async () => {
  const good = path("good.qcow2");
  qemuImg("create", "-q", "-f", "qcow2", good, "16M");
  const bytes = readFileSync(good);
  const variant = (name: string, patch: (b: Buffer) => void): string => {
    const b = Buffer.from(bytes);
    patch(b);
    const p = path(name);
    const fd = openSync(p, "w");
    writeSync(fd, b);
    closeSync(fd);
    return p;
  };
  const cases: [string, (b: Buffer) => void, RegExp][] = [
    ["version", (b) => b.writeUInt32BE(4, 4), /qcow2 version 4: moat reads versions 2 and 3/],
    ["crypt", (b) => b.writeUInt32BE(1, 32), /encrypted/],
    ["cluster", (b) => b.writeUInt32BE(30, 20), /cluster_bits 30/],
    [
      "l1-past-end",
      (b) => b.writeBigUInt64BE(1n << 40n, 40),
      /the L1 table .* ends past the file's end/,
    ],
    ["l1-on-header", (b) => b.writeBigUInt64BE(0n, 40), /the L1 table at 0 overlaps the header/],
    ["l1-unaligned", (b) => b.writeBigUInt64BE(0x30200n, 40), /not cluster-aligned/],
    [
      "tables-overlap",
      (b) => b.writeBigUInt64BE(b.readBigUInt64BE(48), 40),
      /the L1 table and the refcount table overlap/,
    ],
    ["l1-small", (b) => b.writeUInt32BE(0, 36), /l1_size 0 cannot map a disk/],
    [
      "unknown-feature",
      (b) => b.writeBigUInt64BE(1n << 40n, 72),
      /incompatible feature bits 0x10000000000/,
    ],
    ["ext-l2", (b) => b.writeBigUInt64BE(1n << 4n, 72), /extended L2 entries/],
    ["data-file", (b) => b.writeBigUInt64BE(1n << 2n, 72), /an external data file/],
    ["corrupt", (b) => b.writeBigUInt64BE(1n << 1n, 72), /marked corrupt/],
    ["refcount-order", (b) => b.writeUInt32BE(6, 96), /refcount_bits 64/],
    ["size", (b) => b.writeBigUInt64BE(1n << 50n, 24), /virtual size .* is over moat's/],
    // Found by the fuzzer: a second refcount table entry naming the first block's cluster
    // made the leak repair write through the alias and zero live counts.
    [
      "refblock-alias",
      (b) => {
        const rt = Number(b.readBigUInt64BE(48));
        const block = Number(b.readBigUInt64BE(rt));
        b.writeBigUInt64BE(BigInt(block), rt + 8);
        // ... counted twice, so that its count matches the two references
        b.writeUInt16BE(2, block + 2 * (block / 2 ** b.readUInt32BE(20)));
      },
      /cluster \d+ is used 2 times \(a table or data twice\)/,
    ],
  ];
  for (const [name, patch, want] of cases)
    await assert.rejects(openQcow2(variant(name, patch), { readOnly: false }), want, name);
  // An L2 entry with reserved bits: that read fails, the image stays as it was.
  const l2bad = path("l2bad.qcow2");
  qemuImg("create", "-q", "-f", "qcow2", l2bad, "1M");
  qemuIo(l2bad, "write -P 1 0 4k");
  const b = readFileSync(l2bad);
  const l1 = Number(b.readBigUInt64BE(40));
  const l2 = Number(b.readBigUInt64BE(l1) & 0x00fffffffffffe00n);
  b.writeBigUInt64BE(b.readBigUInt64BE(l2) | 0x100n, l2);
  const fd = openSync(l2bad, "w");
  writeSync(fd, b);
  closeSync(fd);
  const ro = await openQcow2(l2bad, { readOnly: true });
  await assert.rejects(ro.read(0, 512), /L2 entry 0 has reserved bits set/);
  await ro.close();
  await assert.rejects(openQcow2(l2bad, { readOnly: false }), /inconsistent .*reserved bits/);
});

test("qcow2: backing chains are bounded: loops, escapes, unnamed formats and depth are refused", async () => {
  const sub = mkdtempSync(join(dir, "chain-"));
  const a = join(sub, "a.qcow2");
  const b = join(sub, "b.qcow2");
  qemuImg("create", "-q", "-f", "qcow2", a, "1M");
  qemuImg("create", "-q", "-f", "qcow2", "-b", a, "-F", "qcow2", b);
  // a -> b -> a, rewritten without QEMU (which refuses to make a loop)
  qemuImg("rebase", "-u", "-f", "qcow2", "-b", b, "-F", "qcow2", a);
  await assert.rejects(openQcow2(b, { readOnly: true }), /the backing chain loops back/);
  // a backing file outside the allowed directories (here: through a link)
  const outside = path("outside.raw");
  qemuImg("create", "-q", "-f", "raw", outside, "1M");
  const link = join(sub, "link.raw");
  symlinkSync(outside, link);
  const esc = join(sub, "escape.qcow2");
  qemuImg("create", "-q", "-f", "qcow2", "-b", link, "-F", "raw", esc);
  await assert.rejects(
    openQcow2(esc, { readOnly: true }),
    /lies outside the directories images may come from/,
  );
  // no backing format named
  const base = join(sub, "base.raw");
  qemuImg("create", "-q", "-f", "raw", base, "1M");
  const nofmt = join(sub, "nofmt.qcow2");
  qemuImg("create", "-q", "-f", "qcow2", "-b", base, "-F", "raw", nofmt);
  // QEMU no longer makes such images: the format's header extension becomes an unknown one.
  const img = readFileSync(nofmt);
  const at = img.indexOf(Buffer.from([0xe2, 0x79, 0x2a, 0xca]));
  assert.ok(at > 0 && at < 4096);
  img.writeUInt32BE(0x12345678, at);
  const fd = openSync(nofmt, "w");
  writeSync(fd, img);
  closeSync(fd);
  await assert.rejects(
    openQcow2(nofmt, { readOnly: true }),
    /names no format for its backing file/,
  );
  // depth: BACKING_DEPTH_MAX + 1 overlays on a base
  let below = base;
  let fmt = "raw";
  for (let i = 0; i <= BACKING_DEPTH_MAX; i++) {
    const p = join(sub, `d${i}.qcow2`);
    qemuImg("create", "-q", "-f", "qcow2", "-b", below, "-F", fmt, p);
    below = p;
    fmt = "qcow2";
  }
  await assert.rejects(
    openQcow2(below, { readOnly: true }),
    new RegExp(`deeper than ${BACKING_DEPTH_MAX}`),
  );
  const ok = await openQcow2(join(sub, `d${BACKING_DEPTH_MAX - 1}.qcow2`), { readOnly: true });
  await ok.close();
});

test("qcow2: one VM's images keep their tables within one shared budget, and read and write right beyond it", async () => {
  const budget = new MetadataBudget(3 * 4096);
  const m1 = mirror(64 * 1024 * 1024);
  const m2 = mirror(64 * 1024 * 1024);
  const opts = "cluster_size=4096";
  const f1 = qcow2("b1.qcow2", "64M", opts);
  const f2 = qcow2("b2.qcow2", "64M", opts);
  const a = await openQcow2(f1, { readOnly: false, budget });
  const b = await openQcow2(f2, { readOnly: false, budget });
  // Each 4 KiB L2 table maps 2 MiB: writes 3 MiB apart need a table each.
  for (let i = 0; i < 20; i++) {
    for (const [img, m] of [
      [a, m1],
      [b, m2],
    ] as const) {
      const d = new Uint8Array(5000).fill(i + 1);
      await img.write(i * 3 * 1024 * 1024 + 100, d);
      m.write(i * 3 * 1024 * 1024 + 100, d);
      assert.ok(budget.used <= budget.limit, `${budget.used} bytes of tables kept`);
    }
  }
  for (let i = 0; i < 20; i++) {
    const got = await a.read(i * 3 * 1024 * 1024 + 100, 5000);
    assert.ok(got.every((x) => x === i + 1));
    assert.ok(budget.used <= budget.limit);
  }
  await a.close();
  await b.close();
  assert.equal(budget.used, 0, "closed images keep nothing");
  checkClean(f1);
  checkClean(f2);
  sameAs(f1, m1.path);
  sameAs(f2, m2.path);
});

test("qcow2: host offsets past 2 GiB decode right (found in review: bit 31 made them negative); a writable open frees nothing live", async () => {
  // Metadata preallocated for 3 GiB, 2 MiB clusters: data clusters lie past 2 GiB in the file.
  const f = qcow2("big.qcow2", "3G", "cluster_size=2M,preallocation=metadata");
  qemuIo(f, "write -P 0x7e 2900M 4k", "write -P 0x3c 0 4k");
  const ro = await openQcow2(f, { readOnly: true });
  assert.ok((await ro.read(2900 * 1024 * 1024, 4096)).every((b) => b === 0x7e));
  await ro.close();
  const rw = await openQcow2(f, { readOnly: false });
  assert.equal(rw.report.leaksFreed, 0, "nothing live taken for a leak");
  await rw.write(2901 * 1024 * 1024, new Uint8Array(4096).fill(0x55));
  assert.ok((await rw.read(2900 * 1024 * 1024, 4096)).every((b) => b === 0x7e));
  await rw.close();
  checkClean(f);
  qemuIo(f, "read -P 0x55 2901M 4k", "read -P 0x7e 2900M 4k", "read -P 0x3c 0 4k");
});

test("qcow2: a refcount table that must grow goes past every cluster handed out (found in review: it landed on one)", async () => {
  for (const chunk of [65536, 512]) {
    // 512-byte clusters: one table cluster reaches 8 MiB of file.
    const f = qcow2(`grow-${chunk}.qcow2`, "16M", "cluster_size=512");
    const m = mirror(16 * 1024 * 1024);
    const img = await openQcow2(f, { readOnly: false });
    const total = chunk === 512 ? 9 * 1024 * 1024 : 12 * 1024 * 1024;
    for (let at = 0; at < total; at += chunk) {
      const d = new Uint8Array(chunk).fill(((at / chunk) % 250) + 1);
      await img.write(at, d);
      m.write(at, d);
    }
    await img.close();
    checkClean(f);
    sameAs(f, m.path);
    assert.ok(
      parseQcow2Header(readFileSync(f).subarray(0, 512), Infinity).refcountTableClusters > 1,
      "the table grew",
    );
  }
});

test("qcow2: the check reads each L2 table once, however many L1 entries name it (found in review: a cheap file made it read gigabytes)", async () => {
  // 512-byte clusters over 1 GiB: 32768 L1 entries, all pointed at one L2 table.
  const f = qcow2("alias.qcow2", "1G", "cluster_size=512");
  qemuIo(f, "write -P 1 0 512");
  const bytes = readFileSync(f);
  const h = parseQcow2Header(bytes.subarray(0, 512), bytes.length);
  const first = bytes.readBigUInt64BE(h.l1Offset);
  for (let i = 1; i < h.l1Size; i++) bytes.writeBigUInt64BE(first, h.l1Offset + i * 8);
  let reads = 0;
  const file: ImageFile = {
    path: "alias.qcow2",
    size: bytes.length,
    read: (pos, len) => {
      reads++;
      return Promise.resolve(new Uint8Array(bytes.subarray(pos, pos + len)));
    },
    write: () => Promise.resolve(),
    datasync: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
  await assert.rejects(Qcow2Image.open(file, { readOnly: false }), /is a cluster used twice/);
  assert.ok(reads < 100, `${reads} reads for ${h.l1Size} L1 entries`);
});
