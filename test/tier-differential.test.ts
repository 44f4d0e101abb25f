// moat's soft-CPU tiers against each other: random RV64GC programs (test/support/isa-diffgen.ts,
// as in differential.test.ts, plus isa-diffgen-extra.ts's self-modifying code, traps and CSR
// writes) run through runBare() on every tier of CPU_TIERS. Each run must reach PASS (a
// self-modifying block CHECKs that its rewritten instructions ran, so a stale translation fails
// it), and every segment's dump (x1..x31, f0..f31, fcsr, a checksum of its scratch memory) and
// the number of traps taken must be the same as on the first tier, the interpreter. No QEMU: what
// the extra groups record may differ between two correct implementations, not between two tiers.
//
// Seeds: a fixed set (1..50) by default; DIFF_SEEDS, DIFF_RANDOM and DIFF_LENGTH as for
// differential.test.ts.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { CPU_TIERS, type CpuTier } from "../src/accel/soft/cpu-tier.js";
import {
  DUMP_LINES,
  generateProgram,
  generateSegment,
  type SegmentOptions,
} from "./support/isa-diffgen.js";
import {
  chooseLength,
  chooseSeeds,
  firstDifference,
  readDump,
  type Dump,
} from "./support/isa-diff-run.js";
import { buildSource, explainOutput, loadImage, type BuiltProgram } from "./support/isa-build.js";
import { loadRunBare } from "./support/isa-moat.js";

const SEEDS = chooseSeeds();
const LENGTH = chooseLength();
const EXTRAS: SegmentOptions = { selfModifying: true, traps: true, csrWrites: true };
const TIMEOUT_MS = 120_000;
// Every page is translated at its first entry (hart-worker.ts), so the translator sees all the
// code the interpreter does.
process.env.MOAT_JIT_HOT ??= "1";
const [REFERENCE, ...OTHERS] = CPU_TIERS;
const REPRO = (seed: number) =>
  `reproduce with DIFF_SEEDS=${seed} node --test dist/test/tier-differential.test.js`;

let built: Promise<BuiltProgram> | undefined;
const build = () =>
  (built ??= buildSource(
    `tier-diff-${SEEDS.length}x${LENGTH}`,
    generateProgram(SEEDS, { length: LENGTH, ...EXTRAS }),
  ));

const runs = new Map<CpuTier, Promise<Dump>>();
function onTier(tier: CpuTier): Promise<Dump> {
  let run = runs.get(tier);
  if (!run) {
    run = build().then(async (p) => {
      const runBare = await loadRunBare({ cpuTier: tier });
      const r = await runBare({ image: await loadImage(p), timeoutMs: TIMEOUT_MS });
      if (tier === "jit") {
        // The translator must have run the program, not left it all to the interpreter.
        assert.ok((r.jit?.translations ?? 0) > 0, `jit tier translated nothing: ${JSON.stringify(r.jit)}`);
        console.log(`# jit: ${JSON.stringify(r.jit)}`);
      }
      // A failed CHECK names its pc: say which source line that is.
      return readDump(tier, { ...r, output: await explainOutput(p, r.output) });
    });
    runs.set(tier, run);
  }
  return run;
}

/** The program's own count of the traps its handler took ("traps N" before PASS). */
function trapsTaken(d: Dump): bigint | undefined {
  const m = /^traps ([0-9a-f]{16})$/m.exec(d.output);
  return m ? BigInt(`0x${m[1]}`) : undefined;
}

describe("tier-differential generator", () => {
  it("adds its groups only when asked: the QEMU test's segments stay as they were", () => {
    assert.equal(generateSegment(7).text, generateSegment(7, {}).text);
    const plain = generateSegment(7).text;
    assert.doesNotMatch(plain, /fence\.i|ARM_TRAP|CHECK /);
    const extra = generateSegment(7, EXTRAS);
    assert.equal(extra.text, generateSegment(7, EXTRAS).text, "deterministic per seed");
    assert.notEqual(extra.text, plain);
  });

  it("the program holds self-modifying code, traps and CSR writes", () => {
    const text = generateProgram(SEEDS, { length: LENGTH, ...EXTRAS });
    const count = (re: RegExp) => text.match(re)?.length ?? 0;
    // A store over a site, then fence.i, then a CHECK of what only the new code computes.
    assert.ok(count(/^\s+fence\.i$/gm) >= SEEDS.length, "fence.i after rewrites");
    assert.ok(
      count(/^\s+CHECK x\d+, 0x[0-9a-f]{16}$/gm) >= SEEDS.length / 2,
      "CHECKs of rewritten code",
    );
    assert.ok(count(/^\s+ARM_TRAP /gm) >= SEEDS.length / 2, "armed traps");
    assert.ok(
      count(/^\s+csrr[wsc]i? x\d+, (mscratch|sscratch|fflags|fcsr|frm|satp|medeleg|mstatus)/gm) > 0,
      "CSR writes",
    );
  });
});

describe(`tier against tier (${CPU_TIERS.join(", ")}; ${SEEDS.length} seeds, ${LENGTH} groups each)`, () => {
  for (const tier of CPU_TIERS) {
    it(
      `the ${tier} tier runs the program to PASS and dumps every seed`,
      { timeout: TIMEOUT_MS * 2 },
      async () => {
        const d = await onTier(tier);
        assert.equal(d.problem, undefined, d.problem);
        for (const seed of SEEDS)
          assert.equal(d.segments.get(seed)?.length, DUMP_LINES, `seed ${seed}: dump incomplete`);
        assert.ok(
          (trapsTaken(d) ?? 0n) > 0n,
          `no trap count, or no trap taken:\n${d.output.slice(-300)}`,
        );
      },
    );
  }

  for (const tier of OTHERS) {
    it(`${tier} took the same traps as ${REFERENCE}`, { timeout: TIMEOUT_MS * 2 }, async () => {
      assert.equal(trapsTaken(await onTier(tier)), trapsTaken(await onTier(REFERENCE!)));
    });
  }

  for (const seed of SEEDS) {
    it(`seed ${seed}`, { timeout: TIMEOUT_MS * 2 }, async () => {
      const ref = await onTier(REFERENCE!);
      const expected = ref.segments.get(seed);
      assert.ok(
        expected && expected.length === DUMP_LINES,
        `seed ${seed}: no complete ${REFERENCE} dump (${ref.problem ?? "generator problem"})`,
      );
      for (const tier of OTHERS) {
        const got = (await onTier(tier)).segments.get(seed);
        if (!got || got.length !== DUMP_LINES)
          assert.fail(
            `seed ${seed}: ${tier} produced no complete dump (${got?.length ?? 0} lines)\n${REPRO(seed)}`,
          );
        const diff = firstDifference(expected, got, [REFERENCE!, tier]);
        if (diff) assert.fail(`seed ${seed}: ${diff}\n${REPRO(seed)}`);
      }
    });
  }
});
