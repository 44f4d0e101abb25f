// The rest of `npm test` runs the soft CPU on its default tier (test/jit.test.ts and
// test/tier-differential.test.ts hold the tiers to each other); this runs the CPU's own tests
// (the core's unit tests, the ISA programs, the differential test against QEMU) once more on
// every other tier, so both tiers pass in CI. Each file runs in a child `node --test` with
// MOAT_CPU_TIER set, as a developer would run it by hand.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { CPU_TIERS, DEFAULT_CPU_TIER } from "../src/accel/soft/cpu-tier.js";

const FILES = ["cpu-core", "isa", "differential"].map((f) =>
  fileURLToPath(new URL(`./${f}.test.js`, import.meta.url)),
);

for (const tier of CPU_TIERS.filter((t) => t !== DEFAULT_CPU_TIER)) {
  test(`the CPU's tests pass on the ${tier} tier too`, () => {
    // Without NODE_TEST_CONTEXT: a `node --test` started from a test file otherwise reports
    // to its parent's runner instead of running the files.
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    const r = spawnSync(process.execPath, ["--test", "--test-reporter=tap", ...FILES], {
      env: { ...env, MOAT_CPU_TIER: tier },
      encoding: "utf8",
      timeout: 20 * 60_000,
    });
    assert.equal(r.status, 0, `on ${tier}:\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-2000)}`);
    // The files ran (a child that ran nothing would also exit 0).
    const pass = Number(/^# pass (\d+)$/m.exec(r.stdout)?.[1] ?? 0);
    assert.ok(pass >= 150, `only ${pass} tests passed on ${tier}:\n${r.stdout.slice(-2000)}`);
  });
}
