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
    // [arguments, error, whether the command line itself is accepted]
    const cases: [string[], RegExp, boolean][] = [
      [["--kernel", junk], /moat: junk|neither an ELF vmlinux nor a bzImage/, true],
      [["--bios", "opensbi"], /--bios is for riscv64 guests/, false],
      [["--memory", "4000"], /--memory must be between 32 and 3072/, false],
      [["--cpus", "9"], /--cpus must be between 1 and 8/, false],
    ];
    for (const [args, re, accepted] of cases) {
      const r = await moat(["run", "--accel", "kvm", ...args, "--", "true"], { timeoutMs: 60_000 });
      assert.equal(r.status, 125, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, re);
      // On PVM the note on what its guests can do comes once the options are accepted, not
      // beside a mistake in them.
      if (kvmKind() === "pvm") {
        if (accepted) assert.match(r.stderr, /PVM-nested/);
        else assert.doesNotMatch(r.stderr, /PVM-nested/, args.join(" "));
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
