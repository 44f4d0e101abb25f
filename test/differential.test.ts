// Differential testing of moat's RISC-V CPU against QEMU: random RV64IMAFDC
// instruction sequences (test/support/isa-diffgen.ts), one segment per seed,
// all assembled into one bare-metal program that dumps x1..x31, f0..f31,
// fcsr and a checksum of its scratch memory after every segment.  The same
// image runs under QEMU (oracle) and moat; the dumps must be identical.
//
// Seeds: a fixed set (1..50) by default, so CI is reproducible.
//   DIFF_SEEDS=3,17       run exactly these seeds
//   DIFF_RANDOM=200       run 200 fresh random seeds (printed on failure)
//   DIFF_LENGTH=600       instruction groups per segment (default 300)
//   MOAT_CPU_TIER=jit     moat's soft CPU on this tier (default: its default)

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { DUMP_LINES, generateProgram, generateSegment } from "./support/isa-diffgen.js";
import {
  chooseLength,
  chooseSeeds,
  firstDifference,
  readDump,
  type Dump,
} from "./support/isa-diff-run.js";
import { buildSource, loadImage, type BuiltProgram } from "./support/isa-build.js";
import { envCpuTier, loadRunBare } from "./support/isa-moat.js";
import { runQemu } from "./support/isa-qemu.js";

const SEEDS = chooseSeeds();
const LENGTH = chooseLength();
const TIMEOUT_MS = 30_000;
const TIER = envCpuTier();
const REPRO = (seed: number) =>
  `reproduce with ${TIER ? `MOAT_CPU_TIER=${TIER} ` : ""}DIFF_SEEDS=${seed} node --test dist/test/differential.test.js`;

let built: Promise<BuiltProgram> | undefined;
const build = () =>
  (built ??= buildSource(
    `diff-${SEEDS.length}x${LENGTH}`,
    generateProgram(SEEDS, { length: LENGTH }),
  ));

let qemuRun: Promise<Dump> | undefined;
const qemu = () =>
  (qemuRun ??= build().then(async (p) =>
    readDump("QEMU", await runQemu(p.bin, { timeoutMs: TIMEOUT_MS })),
  ));

let moatRun: Promise<Dump> | undefined;
const moat = () =>
  (moatRun ??= build().then(async (p) => {
    const runBare = await loadRunBare({ cpuTier: TIER });
    return readDump(
      "moat",
      await runBare({ image: await loadImage(p), timeoutMs: TIMEOUT_MS * 4 }),
    );
  }));

describe("differential generator", () => {
  it("is deterministic per seed and differs between seeds", () => {
    assert.equal(generateSegment(7).text, generateSegment(7).text);
    assert.equal(generateSegment(7).data, generateSegment(7).data);
    assert.notEqual(generateSegment(7).text, generateSegment(8).text);
  });

  it("comparison names the first differing register", () => {
    const a = ["x1 0000000000000001", "x2 0000000000000002", "f0 0000000000000003"];
    assert.equal(firstDifference(a, a), undefined);
    assert.equal(
      firstDifference(a, ["x1 0000000000000001", "x2 00000000000000ff", "f0 0000000000000004"]),
      "first difference at x2: QEMU 0000000000000002, moat 00000000000000ff (2 of 3 lines differ)",
    );
    assert.match(firstDifference(a, a.slice(0, 1)) ?? "", /at x2: .* moat \(missing\)/);
  });

  it(
    `program for ${SEEDS.length} seeds runs to PASS under QEMU and dumps every seed`,
    { timeout: TIMEOUT_MS + 120_000 },
    async () => {
      const q = await qemu();
      assert.equal(q.problem, undefined, q.problem);
      for (const seed of SEEDS) {
        assert.equal(
          q.segments.get(seed)?.length,
          DUMP_LINES,
          `seed ${seed}: QEMU dump incomplete`,
        );
      }
    },
  );
});

describe(`differential moat${TIER ? ` (${TIER} tier)` : ""} vs QEMU (${SEEDS.length} seeds, ${LENGTH} groups each)`, () => {
  for (const seed of SEEDS) {
    it(`seed ${seed}`, { timeout: TIMEOUT_MS * 4 + 120_000 }, async () => {
      const q = await qemu();
      const expected = q.segments.get(seed);
      assert.ok(
        expected && expected.length === DUMP_LINES,
        `seed ${seed}: no complete QEMU dump (${q.problem ?? "generator problem"})`,
      );
      const m = await moat();
      const got = m.segments.get(seed);
      if (!got || got.length !== DUMP_LINES) {
        assert.fail(
          `seed ${seed}: moat produced no complete dump for this seed (${got?.length ?? 0} lines). ${m.problem ?? ""}\n${REPRO(seed)}`,
        );
      }
      const diff = firstDifference(expected, got);
      if (diff) assert.fail(`seed ${seed}: ${diff}\n${REPRO(seed)}`);
    });
  }
});
