// `npm run fuzz`: every target (or those named) for a while each; prints executions and speed
// per target and exits 1 if any invariant broke. `--seconds N` per target (default 60),
// `--runs N` at most, `--seed N` to replay, `--json` for a machine-readable report.
import { Command, InvalidArgumentError } from "commander";
import { TARGETS } from "./targets.js";
import { findTarget, fuzzTarget, targetNames, type FuzzResult } from "./fuzz-run.js";

const positive = (what: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${what} must be > 0`);
  return n;
};

const program = new Command("fuzz")
  .description("Fuzz every parser that takes guest bytes (docs/fuzzing.md)")
  .argument("[targets...]", `targets to run (default all): ${targetNames().join(", ")}`)
  .option("--seconds <n>", "time per target", positive("--seconds"), 60)
  .option("--runs <n>", "at most this many inputs per target", positive("--runs"))
  .option("--seed <n>", "fast-check seed, to replay a run", (v) => Number.parseInt(v, 10))
  .option("--json", "print the results as JSON")
  .action(
    async (
      names: string[],
      o: { seconds: number; runs?: number; seed?: number; json?: boolean },
    ) => {
      const unknown = names.filter((n) => !findTarget(n));
      if (unknown.length) program.error(`no fuzz target ${unknown.join(", ")}`);
      const targets = names.length ? names.map((n) => findTarget(n)!) : TARGETS;
      const results: FuzzResult[] = [];
      for (const t of targets) {
        const r = await fuzzTarget(t, o);
        results.push(r);
        if (!o.json)
          console.log(
            `${t.name.padEnd(16)} ${String(r.execs).padStart(9)} execs ` +
              `${(r.execs / r.seconds).toFixed(0).padStart(7)}/s  ` +
              `heap ${r.heapGrowthMiB >= 0 ? "+" : ""}${r.heapGrowthMiB.toFixed(1)} MiB  ` +
              (r.wrotePct !== undefined
                ? `wrote ${r.wrotePct.toFixed(0).padStart(2)}% reset ${r.failedPct!.toFixed(0).padStart(2)}%  `
                : "") +
              (r.failure ? `FAILED: ${r.failure}` : "ok"),
          );
      }
      if (o.json) console.log(JSON.stringify(results, null, 2));
      const failed = results.filter((r) => r.failure).length;
      console.log(`${results.length - failed} passed, ${failed} failed`);
      process.exitCode = failed ? 1 : 0;
    },
  );

await program.parseAsync();
