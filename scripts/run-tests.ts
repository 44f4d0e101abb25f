// `npm test`'s runner: `node --test` with the arguments given, then a check that no process the
// run started outlives it. Every process of the run carries MOAT_TEST_RUN=<this run's id> in its
// environment: node --test passes it to the test files, they to the daemons and VMs they start
// (a VM started by a daemon, jailed or not, keeps its daemon's environment). Once node --test has
// ended, a process still carrying it was left behind (a VM whose daemon and home are gone runs on
// with nothing to supervise it): each is named and killed, and the run fails, also when tests
// failed before. Ctrl-C ends the tests, not this check.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import { constants } from "node:os";

const VAR = "MOAT_TEST_RUN";
const id = randomBytes(8).toString("hex");
const marker = `${VAR}=${id}`;

/** Live processes whose environment carries this run's marker: pid -> command line. */
function leftovers(): Map<number, string> {
  const out = new Map<number, string>();
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      // A zombie's environment reads empty: it has ended already.
      if (!readFileSync(`/proc/${e}/environ`, "latin1").split("\0").includes(marker)) continue;
      const argv = readFileSync(`/proc/${e}/cmdline`, "utf8").split("\0");
      // A jailed VM's plan is long JSON: its name is enough.
      const shown = argv.map((a) => (a.startsWith("--in-jail=") ? "--in-jail=..." : a));
      out.set(Number(e), shown.join(" ").trim().slice(0, 300));
    } catch {
      // Gone, or not ours to read.
    }
  }
  return out;
}

/** Waits until no process of the run is left, or `ms` have passed; returns those left. */
async function settle(ms: number): Promise<Map<number, string>> {
  const end = Date.now() + ms;
  for (;;) {
    const left = leftovers();
    if (left.size === 0 || Date.now() > end) return left;
    await new Promise((r) => setTimeout(r, 200));
  }
}

const child = spawn(process.execPath, ["--test", ...process.argv.slice(2)], {
  stdio: "inherit",
  env: { ...process.env, [VAR]: id },
});
// Ctrl-C reaches the whole process group: node --test ends its files, this process checks.
process.on("SIGINT", () => {});
process.on("SIGTERM", () => child.kill("SIGTERM"));
const status = await new Promise<number>((resolve) =>
  child.on("close", (code, signal) =>
    resolve(code ?? 128 + (signal ? constants.signals[signal] : 0)),
  ),
);
// A process already on its way out (a VM killed as its test ended) gets a few seconds.
const left = await settle(5000);
for (const pid of left.keys()) {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // Ended meanwhile.
  }
}
if (left.size > 0) {
  const still = await settle(30000);
  const lines = [...left].map(([pid, cmd]) => `  pid ${pid}: ${cmd}`);
  process.stderr.write(
    `run-tests: ${left.size} process(es) started by the tests outlived them; killed:\n` +
      `${lines.join("\n")}\n` +
      (still.size > 0 ? `run-tests: still running after SIGKILL: ${[...still.keys()]}\n` : ""),
  );
}
process.exitCode = status !== 0 ? status : left.size > 0 ? 1 : 0;
