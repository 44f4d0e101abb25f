// virtio-blk in the shipped riscv64 guest through the real CLI (`moat run --disk`): a file
// system made, written and read back; several disks; a read-only disk the guest cannot write;
// data the guest wrote and synced is in the image after the VMM is killed with SIGKILL.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MOAT, REPO, moat } from "./support/moat-cli.js";

function tmp(): { dir: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "moat-blk-"));
  return { dir, done: () => rmSync(dir, { recursive: true, force: true }) };
}

function image(path: string, mib: number): string {
  writeFileSync(path, "");
  truncateSync(path, mib * 1024 * 1024);
  return path;
}

test("--disk: make a file system, write, read back and verify; the host sees the file", async () => {
  const t = tmp();
  try {
    const a = image(join(t.dir, "a.img"), 64);
    const b = image(join(t.dir, "b.img"), 8);
    const script =
      "mke2fs -q /dev/vda >/dev/null 2>&1 && mount -t ext4 /dev/vda /mnt && " +
      "yes moat-blk-test | head -c 1000000 > /mnt/data && sync && umount /mnt && " +
      "mount -t ext4 /dev/vda /mnt && md5sum < /mnt/data && " +
      "cat /sys/block/vda/size /sys/block/vdb/size /sys/block/vda/serial; echo";
    const r = await moat(["run", "--disk", a, "--disk", b, "--", "sh", "-c", script], {
      timeoutMs: 180_000,
    });
    assert.equal(r.status, 0, r.stderr + r.stdout);
    const expected = spawnSync("sh", ["-c", "yes moat-blk-test | head -c 1000000 | md5sum"], {
      encoding: "utf8",
    }).stdout.split(" ")[0]!;
    const lines = r.stdout.trim().split(/\r?\n/);
    assert.equal(lines[0]!.split(" ")[0], expected, "read back in the guest");
    assert.deepEqual(lines.slice(1), [`${64 * 2048}`, `${8 * 2048}`, "a.img"]);
    // The host reads the file out of the image with e2fsprogs' debugfs.
    const dump = spawnSync("debugfs", ["-R", "cat /data", a], { maxBuffer: 4 << 20 });
    assert.equal(dump.status, 0, String(dump.stderr));
    const md5 = spawnSync("md5sum", { input: dump.stdout, encoding: "utf8" }).stdout.split(" ")[0];
    assert.equal(md5, expected, "the host sees what the guest wrote");
  } finally {
    t.done();
  }
});

test("--disk PATH,ro: the guest cannot write, and the image is unchanged", async () => {
  const t = tmp();
  try {
    const a = image(join(t.dir, "ro.img"), 4);
    writeFileSync(a, "original contents", { flag: "r+" });
    const before = readFileSync(a);
    const r = await moat(
      [
        "run",
        "--disk",
        `${a},ro`,
        "--",
        "sh",
        "-c",
        "cat /sys/block/vda/ro; dd if=/dev/zero of=/dev/vda bs=512 count=1 conv=fsync 2>&1; echo dd=$?",
      ],
      { timeoutMs: 120_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^1\r?\n/, "the guest sees a read-only disk");
    assert.match(r.stdout, /dd=1/);
    assert.deepEqual(readFileSync(a), before);
  } finally {
    t.done();
  }
});

test("data the guest wrote and synced survives kill -9 of the VMM", async () => {
  const t = tmp();
  try {
    const a = image(join(t.dir, "k.img"), 4);
    const p = spawn(
      process.execPath,
      [
        MOAT,
        "run",
        "--disk",
        a,
        "--",
        "sh",
        "-c",
        "yes durable-data | head -c 65536 > /tmp/p && dd if=/tmp/p of=/dev/vda bs=4096 conv=fsync 2>/dev/null && echo SYNCED && sleep 600",
      ],
      { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no SYNCED: ${out}`)), 120_000);
      p.stdout.setEncoding("utf8").on("data", (d: string) => {
        out += d;
        if (out.includes("SYNCED")) {
          clearTimeout(timer);
          p.kill("SIGKILL");
          resolve();
        }
      });
    });
    await new Promise((r) => p.on("close", r));
    const want = Buffer.from("durable-data\n".repeat(6000)).subarray(0, 65536);
    assert.deepEqual(readFileSync(a).subarray(0, 65536), want);
  } finally {
    t.done();
  }
});

test("--disk refuses what it cannot use, with a clear message", async () => {
  const cases: [string, RegExp][] = [
    ["/nonexistent/disk.img", /disk \/nonexistent\/disk\.img: no such file/],
    ["/tmp", /not a regular file/],
    [`${REPO}/package.json,rx`, /unknown option 'rx'/],
  ];
  for (const [spec, re] of cases) {
    const r = await moat(["run", "--disk", spec, "--", "true"], { timeoutMs: 30_000 });
    assert.equal(r.status, 125, spec);
    assert.match(r.stderr, re);
  }
});
