// moat's own writer of empty qcow2 images and overlays (src/disk/qcow2-create.ts), against the
// real qemu-img (check, info, compare) and qemu-io, and moat's own reader and writer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { newQcow2 } from "../src/disk/qcow2-create.js";
import { openQcow2 } from "../src/disk/qcow2-chain.js";

const qemuImg = (...a: string[]): string => execFileSync("qemu-img", a, { encoding: "utf8" });

function checkClean(file: string): void {
  const r = spawnSync("qemu-img", ["check", "-f", "qcow2", file], { encoding: "utf8" });
  assert.equal(r.status, 0, `qemu-img check ${file}:\n${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /No errors were found on the image/);
}

type Info = {
  format: string;
  "virtual-size": number;
  "cluster-size": number;
  "backing-filename"?: string;
  "backing-filename-format"?: string;
  "format-specific": { data: { compat: string; "refcount-bits": number } };
};
const info = (f: string): Info => JSON.parse(qemuImg("info", "--output=json", f)) as Info;

test("newQcow2: an empty image and overlays on raw and qcow2 bases pass qemu-img check; qemu-img info reads their size, cluster size and backing; data shows through and writes land in the overlay", async () => {
  const dir = mkdtempSync(join(tmpdir(), "moat-qcow2-create-"));
  try {
    // Plain, at sizes around the L1 table's cluster boundaries (one entry maps 512 MiB).
    for (const size of [512, 1 << 20, 512 * 2 ** 20 + 512, 2 ** 40 + 12345 * 512]) {
      const f = join(dir, `empty-${size}.qcow2`);
      writeFileSync(f, newQcow2({ size }));
      checkClean(f);
      const i = info(f);
      assert.equal(i.format, "qcow2");
      assert.equal(i["virtual-size"], size);
      assert.equal(i["cluster-size"], 65536);
      assert.equal(i["format-specific"].data.compat, "1.1");
      assert.equal(i["format-specific"].data["refcount-bits"], 16);
      assert.equal(i["backing-filename"], undefined);
    }
    for (const format of ["raw", "qcow2"] as const) {
      const base = join(dir, `base.${format}`);
      qemuImg("create", "-q", "-f", format, base, "16M");
      execFileSync("qemu-io", ["-f", format, "-c", "write -P 0x5a 0 64k", base]);
      const top = join(dir, `top-${format}.qcow2`);
      writeFileSync(top, newQcow2({ size: 16 << 20, backing: { file: base, format } }));
      checkClean(top);
      const i = info(top);
      assert.equal(i["backing-filename"], base);
      assert.equal(i["backing-filename-format"], format);
      assert.equal(i["virtual-size"], 16 << 20);
      // QEMU reads the base through it, and writes into it.
      execFileSync("qemu-io", ["-f", "qcow2", "-c", "read -P 0x5a 0 64k", top]);
      // moat's reader and writer take it, and what moat writes QEMU reads, the base untouched.
      const img = await openQcow2(top, { readOnly: false, backingDirs: [dir] });
      assert.ok((await img.read(0, 4096)).every((b) => b === 0x5a));
      await img.write(1 << 20, new Uint8Array(4096).fill(0x77));
      await img.flush();
      await img.close();
      checkClean(top);
      execFileSync("qemu-io", ["-f", "qcow2", "-c", "read -P 0x77 1M 4k", top]);
      execFileSync("qemu-io", ["-f", format, "-c", "read -P 0 1M 4k", base]);
    }
    assert.throws(() => newQcow2({ size: 0 }), /virtual size 0/);
    assert.throws(() => newQcow2({ size: 1000 }), /virtual size 1000: .*512/);
    assert.throws(() => newQcow2({ size: 2 ** 47 }), /virtual size/);
    assert.throws(
      () => newQcow2({ size: 512, backing: { file: "x".repeat(1024), format: "raw" } }),
      /at most 1023 bytes/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
