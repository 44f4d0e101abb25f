// The rest of `npm test` runs the soft CPU on its default tier (test/jit.test.ts and
// test/tier-differential.test.ts hold the tiers to each other); this runs the CPU's own tests
// (the core's unit tests, the ISA programs, the differential test against QEMU) once more on
// every other tier, so both tiers pass in CI. Each file runs in a child `node --test` with
// MOAT_CPU_TIER set, as a developer would run it by hand. And the shipped Linux guest boots
// and runs the same work on every tier, with the same output.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { CPU_TIERS, DEFAULT_CPU_TIER } from "../src/accel/soft/cpu-tier.js";
import { moat } from "./support/moat-cli.js";

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

test("the shipped guest boots and computes the same on every tier (moat run --cpu-tier)", async () => {
  // Integer, floating-point (awk's numbers are doubles) and hashing work, in a loop long
  // enough that the jit tier translates some of it.
  const work =
    "i=0; s=0; while [ $i -lt 3000 ]; do s=$((s + i * i % 7)); i=$((i + 1)); done; echo int $s; " +
    "awk 'BEGIN { x = 0; for (i = 1; i <= 20000; i++) x += 1 / i + i / (i + 0.5); printf \"fp %.9f\\n\", x }'; " +
    "seq 1 20000 | md5sum";
  const outputs = new Map<string, string>();
  for (const tier of CPU_TIERS) {
    const r = await moat(["run", "--cpu-tier", tier, "--", "sh", "-c", work], {
      timeoutMs: 300_000,
    });
    assert.equal(r.status, 0, `${tier}: ${r.stderr}`);
    assert.match(r.stdout, /int \d+\s+fp \d+\.\d{9}\s+[0-9a-f]{32}/, `${tier}: ${r.stdout}`);
    outputs.set(tier, r.stdout.trim());
  }
  const [first, ...rest] = [...outputs.values()];
  for (const o of rest) assert.equal(o, first);
});
