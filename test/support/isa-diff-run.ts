// What the differential tests share (differential.test.ts: moat against QEMU;
// tier-differential.test.ts: moat's CPU tiers against each other): the seeds and segment length
// from the environment, a run's output read as per-seed dumps, and the first difference.
//
//   DIFF_SEEDS=3,17       run exactly these seeds
//   DIFF_RANDOM=200       run 200 fresh random seeds (printed on failure)
//   DIFF_LENGTH=600       instruction groups per segment (default 300)

import { splitDump } from "./isa-diffgen.js";

/** The seeds to run: a fixed set (1..50) unless the environment asks for others. */
export function chooseSeeds(): number[] {
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

/** Instruction groups per segment. */
export function chooseLength(): number {
  return process.env.DIFF_LENGTH ? Number.parseInt(process.env.DIFF_LENGTH, 10) : 300;
}

export interface Dump {
  output: string;
  segments: Map<number, string[]>;
  problem?: string;
}

/** A run's dumps; `problem` says why it did not end with PASS through the finisher. */
export function readDump(
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

/** Description of the first differing dump line, or undefined if equal. */
export function firstDifference(
  expected: readonly string[],
  got: readonly string[],
  names: [string, string] = ["QEMU", "moat"],
): string | undefined {
  const i = expected.findIndex((l, k) => l !== got[k]);
  if (i < 0) return undefined;
  const [reg = "?", qv = "?"] = expected[i]!.split(" ");
  const mv = got[i]?.split(" ")[1] ?? "(missing)";
  const n = expected.filter((l, k) => l !== got[k]).length;
  return `first difference at ${reg}: ${names[0]} ${qv}, ${names[1]} ${mv} (${n} of ${expected.length} lines differ)`;
}
