// The cost of confining a VM process: `moat run -- echo MARK` plain, and with its own uid and
// the seccomp filter (--jail-user, --seccomp: what the daemon does to every VM), interleaved,
// on the soft CPU. Prints the median time from spawn to the guest's output and to exit.
//
//   npm run build:ts && node dist/bench/jail.js [--runs N]
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { median } from "./capture.js";

const MOAT = fileURLToPath(new URL("../../bin/moat.js", import.meta.url));
const runsArg = process.argv.indexOf("--runs");
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 7;

function once(extra: string[]): Promise<{ markMs: number; totalMs: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let markMs = -1;
    let out = "";
    const p = spawn(process.execPath, [
      MOAT,
      "run",
      "--accel",
      "soft",
      ...extra,
      "--",
      "echo",
      "MARK",
    ]);
    p.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      if (markMs < 0 && out.includes("MARK")) markMs = performance.now() - t0;
    });
    p.on("error", reject);
    p.on("close", (code) => {
      if (code !== 0 || markMs < 0) reject(new Error(`moat run ${extra.join(" ")}: exit ${code}`));
      else resolve({ markMs, totalMs: performance.now() - t0 });
    });
  });
}

const plain: number[][] = [[], []];
const jailed: number[][] = [[], []];
const JAIL = ["--jail-user", "1900999999:1900999999", "--seccomp"];
for (let i = 0; i < RUNS; i++) {
  const a = await once([]);
  const b = await once(JAIL);
  plain[0]!.push(a.markMs);
  plain[1]!.push(a.totalMs);
  jailed[0]!.push(b.markMs);
  jailed[1]!.push(b.totalMs);
}
const f = (x: number): string => `${x.toFixed(0)} ms`;
console.log(`runs: ${RUNS}, interleaved; medians`);
console.log(
  `spawn -> guest output: plain ${f(median(plain[0]!))}, jailed ${f(median(jailed[0]!))}, ` +
    `ratio ${(median(jailed[0]!) / median(plain[0]!)).toFixed(2)}`,
);
console.log(
  `spawn -> exit:         plain ${f(median(plain[1]!))}, jailed ${f(median(jailed[1]!))}, ` +
    `ratio ${(median(jailed[1]!) / median(plain[1]!)).toFixed(2)}`,
);
console.log(`raw plain: ${plain[0]!.map((x) => x.toFixed(0)).join(" ")}`);
console.log(`raw jailed: ${jailed[0]!.map((x) => x.toFixed(0)).join(" ")}`);
