// The cost of confining a VM process: `moat run -- echo MARK` unjailed, with only its own uid and
// the seccomp filter (--jail-user --seccomp), and fully jailed (--jail: namespaces, a root of its
// own, uid, filter: what the daemon does to every VM), interleaved, on the soft CPU. Prints the
// median time from spawn to the guest's output and to exit, and the ratio to unjailed.
// Then the daemon's path: POST /v1/vms/NAME/start until the VM's shell answers on its console,
// with the daemon's default (jailed) and with "vmJail": false, interleaved.
//
//   npm run build:ts && node dist/bench/jail.js [--runs N]      (as root)
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { rmSync } from "node:fs";
import { median } from "./capture.js";
import {
  adminToken,
  api,
  newHome,
  openConsole,
  startDaemon,
  type DaemonProc,
} from "../test/support/moatd.js";

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

const configs: [string, string[]][] = [
  ["unjailed", []],
  ["uid+seccomp", ["--jail-user", "1900999999:1900999999", "--seccomp"]],
  ["jail", ["--jail"]],
];
const mark = configs.map(() => [] as number[]);
const total = configs.map(() => [] as number[]);
for (let i = 0; i < RUNS; i++) {
  for (const [j, [, args]] of configs.entries()) {
    const r = await once(args);
    mark[j]!.push(r.markMs);
    total[j]!.push(r.totalMs);
  }
}
const f = (x: number): string => `${x.toFixed(0)} ms`;
console.log(`runs: ${RUNS}, interleaved; medians (ratio to unjailed)`);
for (const [what, xs] of [
  ["spawn -> guest output", mark],
  ["spawn -> exit", total],
] as const) {
  const base = median(xs[0]!);
  console.log(
    `${what}: ` +
      configs
        .map(([name], j) => {
          const m = median(xs[j]!);
          return `${name} ${f(m)} (${(m / base).toFixed(2)})`;
        })
        .join(", "),
  );
}
for (const [j, [name]] of configs.entries())
  console.log(`raw ${name}: ${mark[j]!.map((x) => x.toFixed(0)).join(" ")}`);

// --- through the daemon -----------------------------------------------------------------------

async function daemonStart(h: ReturnType<typeof newHome>, tok: string, i: number): Promise<number> {
  const name = `b${i}`;
  const ok = (r: { status: number; text: string }): void => {
    if (r.status >= 300) throw new Error(`${r.status} ${r.text}`);
  };
  ok(await api(h.socket, tok, "POST", "/v1/vms", { name, memory_mib: 64 }));
  const t0 = performance.now();
  ok(await api(h.socket, tok, "POST", `/v1/vms/${name}/start`));
  const c = await openConsole(h.socket, tok, name);
  try {
    await c.expect("echo U$((6*7))K", "U42K", 60000);
  } finally {
    c.close();
  }
  const ms = performance.now() - t0;
  ok(await api(h.socket, tok, "POST", `/v1/vms/${name}/kill`));
  ok(await api(h.socket, tok, "DELETE", `/v1/vms/${name}`));
  return ms;
}

const homes = [
  newHome({ reclaim: { enabled: false } }),
  newHome({ reclaim: { enabled: false }, vmJail: false }),
];
const daemons: DaemonProc[] = [];
try {
  for (const h of homes) daemons.push(await startDaemon(h));
  const toks = homes.map((h) => adminToken(h));
  const times: number[][] = [[], []];
  for (let i = 0; i < RUNS; i++)
    for (const j of [0, 1]) times[j]!.push(await daemonStart(homes[j]!, toks[j]!, i));
  const [jailedMs, bareMs] = times.map((t) => median(t));
  console.log(
    `daemon start -> shell answers: jailed ${f(jailedMs!)}, vmJail off ${f(bareMs!)}, ` +
      `ratio ${(jailedMs! / bareMs!).toFixed(2)}`,
  );
  console.log(`raw daemon jailed: ${times[0]!.map((x) => x.toFixed(0)).join(" ")}`);
  console.log(`raw daemon vmJail off: ${times[1]!.map((x) => x.toFixed(0)).join(" ")}`);
} finally {
  for (const d of daemons) {
    d.p.kill("SIGTERM");
    await d.exited;
  }
  for (const h of homes) rmSync(h.dir, { recursive: true, force: true });
}
