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

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { DUMP_LINES, generateProgram, generateSegment, splitDump } from "./support/isa-diffgen.js";
import { buildSource, loadImage, type BuiltProgram } from "./support/isa-build.js";
import { loadRunBare } from "./support/isa-moat.js";
import { runQemu } from "./support/isa-qemu.js";

function chooseSeeds(): number[] {
  if (process.env.DIFF_SEEDS) {
    return process.env.DIFF_SEEDS.split(",")
      .map((s) => Number.parseInt(s.trim(), 10))
      .filter((n) => Number.isFinite(n) && n >= 0);
  }
  if (process.env.DIFF_RANDOM) {
    const n = Math.max(1, Number.parseInt(process.env.DIFF_RANDOM, 10) || 50);
    const base = (Date.now() ^ (process.pid << 12)) >>> 0;
    return Array.from({ length: n }, (_, i) => ((base + i * 0x9e3779b1) >>> 0) % 1_000_000_000);
  }
  return Array.from({ length: 50 }, (_, i) => i + 1);
}

const SEEDS = chooseSeeds();
const LENGTH = process.env.DIFF_LENGTH ? Number.parseInt(process.env.DIFF_LENGTH, 10) : 300;
const TIMEOUT_MS = 30_000;
const REPRO = (seed: number) =>
  `reproduce with DIFF_SEEDS=${seed} node --test dist/test/differential.test.js`;

let built: Promise<BuiltProgram> | undefined;
const build = () =>
  (built ??= buildSource(
    `diff-${SEEDS.length}x${LENGTH}`,
    generateProgram(SEEDS, { length: LENGTH }),
  ));

interface Dump {
  output: string;
  segments: Map<number, string[]>;
  problem?: string;
}

function finish(
  who: string,
  r: { exitCode: number; output: string; reason: string; message?: string },
): Dump {
  const segments = splitDump(r.output);
  const ok = r.reason === "finisher" && r.exitCode === 0 && /(^|\n)PASS\n?$/.test(r.output);
  const problem = ok
    ? undefined
    : `${who} did not finish cleanly: reason=${r.reason} exit=${r.exitCode}${r.message ? ` (${r.message})` : ""}; output tail:\n${r.output.slice(-1500)}`;
  return { output: r.output, segments, ...(problem ? { problem } : {}) };
}

let qemuRun: Promise<Dump> | undefined;
const qemu = () =>
  (qemuRun ??= build().then(async (p) =>
    finish("QEMU", await runQemu(p.bin, { timeoutMs: TIMEOUT_MS })),
  ));

let moatRun: Promise<Dump> | undefined;
const moat = () =>
  (moatRun ??= build().then(async (p) => {
    const runBare = await loadRunBare();
    return finish("moat", await runBare({ image: await loadImage(p), timeoutMs: TIMEOUT_MS * 4 }));
  }));

/** Description of the first differing dump line, or undefined if equal. */
function firstDifference(expected: readonly string[], got: readonly string[]): string | undefined {
  const i = expected.findIndex((l, k) => l !== got[k]);
  if (i < 0) return undefined;
  const [reg = "?", qv = "?"] = expected[i]!.split(" ");
  const mv = got[i]?.split(" ")[1] ?? "(missing)";
  const n = expected.filter((l, k) => l !== got[k]).length;
  return `first difference at ${reg}: QEMU ${qv}, moat ${mv} (${n} of ${expected.length} lines differ)`;
}

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

describe(`differential moat vs QEMU (${SEEDS.length} seeds, ${LENGTH} groups each)`, () => {
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
