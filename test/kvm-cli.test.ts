// `moat run --accel ...` as a user types it: which accelerator `auto` picks on this host, and the
// clear refusals of bad input for KVM guests. Needs /dev/kvm: fails without it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { moat } from "./support/moat-cli.js";
import { kvmKind } from "../src/kvm/kvm-probe.js";

test("--accel auto picks KVM only with hardware virtualisation, the soft CPU elsewhere", async () => {
  const r = await moat(["run", "--accel", "auto", "--", "uname", "-m"], { timeoutMs: 300_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), kvmKind() === "hardware" ? "x86_64" : "riscv64");
});

test("--accel kvm refuses bad kernels and options with a clear message and status 125", async () => {
  assert.notEqual(kvmKind(), "none", "this test needs /dev/kvm");
  const dir = mkdtempSync(join(tmpdir(), "moat-kvm-cli-"));
  try {
    const junk = join(dir, "junk");
    writeFileSync(junk, "#!/bin/sh\necho not a kernel\n".repeat(100));
    const cases: [string[], RegExp][] = [
      [["--kernel", junk], /moat: junk|neither an ELF vmlinux nor a bzImage/],
      [["--bios", "opensbi"], /--bios is for riscv64 guests/],
      [["--memory", "4000"], /--memory must be between 32 and 3072/],
      [["--cpus", "9"], /--cpus must be between 1 and 8/],
    ];
    for (const [args, re] of cases) {
      const r = await moat(["run", "--accel", "kvm", ...args, "--", "true"], { timeoutMs: 60_000 });
      assert.equal(r.status, 125, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, re);
      if (kvmKind() === "pvm") assert.match(r.stderr, /PVM-nested/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
