// `npm run bench`'s guest workloads (bench/workloads.ts, bench/guest/wl): the committed program
// is the one its script builds, and in the shipped guest on the soft CPU every workload, run
// small, computes what QEMU's user-mode emulator computes running the same binary on this host.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO, moat } from "./support/moat-cli.js";
import { parseWl, workloadInitrd } from "../bench/workloads.js";

const WL = join(REPO, "bench/guest/wl");

test("bench/guest/wl rebuilds byte for byte from wl.c (bench/guest/build.sh --check)", () => {
  const r = spawnSync("bash", [join(REPO, "bench/guest/build.sh"), "--check"], {
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stderr, /wl is reproducible/);
});

/** The same binary under qemu-riscv64 (user mode) on the host: the reference. */
function qemuUser(args: string[]): Buffer {
  const r = spawnSync("qemu-riscv64", [WL, ...args], { maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, String(r.stderr));
  return r.stdout;
}

const hex = (algo: string, data: Uint8Array | string): string =>
  createHash(algo).update(data).digest("hex");

test(
  "the bench's workloads run in the shipped guest and compute what QEMU user mode computes",
  { timeout: 300_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "moat-wl-"));
    try {
      const initrd = join(dir, "wl.cpio");
      writeFileSync(initrd, workloadInitrd());
      const script = [
        "/bench/wl int 200000",
        "/bench/wl fp 100000",
        "/bench/wl syscall 2000",
        "/bench/wl forkexec 20",
        "/bench/wl pagefault 8 3",
        "/bench/wl lines 3000 1 >/tmp/in",
        "/bench/wl run sort /bin/sort -o /tmp/out /tmp/in",
        "echo SORTED $(md5sum </tmp/out)",
        "/bench/wl run sha256 /bin/sha256sum /tmp/in",
        "/bench/wl run false /bin/false",
      ].join("; ");
      const r = await moat(["run", "--initrd", initrd, "--", "sh", "-c", script], {
        timeoutMs: 280_000,
      });
      assert.equal(r.status, 0, r.stderr);
      const out = r.stdout;
      const ref = (args: string[], name: string): string =>
        parseWl(name, qemuUser(args).toString("latin1")).check;
      assert.equal(parseWl("int", out).check, ref(["int", "200000"], "int"));
      assert.equal(parseWl("fp", out).check, ref(["fp", "100000"], "fp"));
      assert.equal(parseWl("pagefault", out).check, ref(["pagefault", "8", "3"], "pagefault"));
      assert.equal(parseWl("syscall", out).check, "2000");
      assert.equal(parseWl("forkexec", out).check, "20");
      assert.equal(parseWl("sort", out).check, "0");
      assert.equal(parseWl("sha256", out).check, "0");
      assert.equal(parseWl("false", out).check, "1", "run reports the command's exit status");
      const lines = qemuUser(["lines", "3000", "1"]).toString("latin1");
      const sorted = lines.split("\n").slice(0, -1).sort().join("\n") + "\n";
      assert.match(out, new RegExp(`^SORTED ${hex("md5", sorted)}\\b`, "m"));
      assert.match(out, new RegExp(`^${hex("sha256", lines)}  /tmp/in$`, "m"));
      for (const name of ["int", "fp", "syscall", "forkexec", "pagefault", "sort", "sha256"])
        assert.ok(parseWl(name, out).ns > 0, `${name} timed`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
