// The host daemon (issue item 10): how fast VMs start through the API, how the API answers under
// load, and how many idle VMs fit in host memory. Compared with QEMU TCG (Debian's
// qemu-system-riscv64, the shipped kernel and initramfs, same as bench/boot.ts) in the same run
// where a peer exists.
//
//   npm run build:ts && npm run bench:host [-- --runs R --vms N --density N --only-start]
//
// 1. Start rate: N VMs of 64 MiB created, then at t0 POST /v1/vms/NAME/start for all at once;
//    a VM is in userspace when its shell answers `echo U$((6*7))K` typed on its console (the
//    API's console WebSocket, attached once the start returns) every 250 ms: the same probe
//    works for QEMU, which has no scrollback file.
//    Peer: N QEMU processes spawned at once, the same command typed on their serial (stdio).
//    R runs, interleaved; medians.
// 1b. The same N VMs created with `restore_from` a snapshot of a 64 MiB VM booted to its shell
//    (taken once through the API), started at once: a restored VM answers the probe without a
//    boot. Compared with QEMU TCG's cold boots of 1, as the issue asks.
// 2. API latency: with M=5 VMs idle, C=8 keep-alive clients on the Unix socket request
//    GET /v1/vms, GET /v1/vms/NAME and GET /v1/host in turn for 5 s. No peer (no libvirt here).
// 3. Density: idle 128 MiB VMs started one by one, each waited for in userspace; per VM: the
//    mean PSS of the VMM processes (/proc/PID/smaps_rollup) and the drop of MemAvailable.
//    "VMs that fit" = (MemTotal - 1 GiB) / PSS per VM. Peer: the same for QEMU processes.
//
// The daemon runs with the rate limit raised (the default, 100 requests/s per token, would
// make item 2 measure 429s) and a 120 s start timeout (N Node VMMs starting on a small host).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_CMDLINE, shippedInitrd, shippedKernel } from "../src/boot/shipped-guest.js";
import {
  adminToken,
  api,
  newHome,
  openConsole,
  startDaemon,
  type DaemonProc,
} from "../test/support/moatd.js";
import { median } from "./capture.js";
import { vmmProcess } from "../src/host/host-facts.js";

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const RUNS = arg("--runs", 3);
const VMS = arg("--vms", 10);
const DENSITY = arg("--density", 12);
/** --only-start: the start rates alone (1 and 1b). */
const ONLY_START = process.argv.includes("--only-start");
const LOAD_VMS = 5;
const CLIENTS = 8;
const LOAD_MS = 5000;
const PROBE = "echo U$((6*7))K\n";
const ANSWER = "U42K";
const TIMEOUT_MS = 600_000;
const CONFIG = {
  reclaim: { enabled: false },
  policy: { cpuOvercommit: 16, memoryReserveMiB: 512 },
  vmmOverheadMiB: 192,
  rateLimit: { max: 1_000_000, windowMs: 1000 },
  startTimeoutMs: 120_000,
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;
const f1 = (x: number): string => x.toFixed(1);
const f2 = (x: number): string => x.toFixed(2);
const raw = (xs: number[], d = 0): string => xs.map((x) => x.toFixed(d)).join(" ");

function meminfoKiB(field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(readFileSync("/proc/meminfo", "utf8"));
  return Number(m![1]);
}
function pssKiB(pid: number): number {
  const m = /^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
  return Number(m![1]);
}

// --- moat, through the daemon ---------------------------------------------------------------

const home = newHome(CONFIG);
let daemon: DaemonProc | undefined;
let token = "";
const vmIds = new Map<string, string>(); // name -> id, every VM this bench created
const vmPids = new Set<number>();

async function call(method: string, path: string, body?: unknown): Promise<unknown> {
  const r = await api(home.socket, token, method, path, body);
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
  return r.body;
}

async function createVm(name: string, memoryMiB: number, restoreFrom?: string): Promise<void> {
  const body = restoreFrom ? { name, restore_from: restoreFrom } : { name, memory_mib: memoryMiB };
  const v = (await call("POST", "/v1/vms", body)) as { id: string };
  vmIds.set(name, v.id);
}

/**
 * The snapshot VMs start from in 1b: a 64 MiB VM booted until its shell answers, then snapshotted
 * and stopped through the API (`POST /v1/vms/tpl/snapshot`).
 */
async function templateSnapshot(): Promise<string> {
  await createVm("tpl", 64);
  await startVm("tpl");
  await call("POST", "/v1/vms/tpl/snapshot", { name: "tpl", stop: true });
  return "tpl";
}

/**
 * Types PROBE on a console every 250 ms until the answer shows: only a running shell prints it
 * (the terminal's echo of the typed line does not contain it). Resolves with the time it did.
 */
async function answered(
  what: string,
  send: (s: string) => void,
  out: () => string,
  gone: () => boolean,
): Promise<number> {
  const end = Date.now() + TIMEOUT_MS;
  for (let next = 0; !out().includes(ANSWER); await sleep(10)) {
    if (gone() || Date.now() > end)
      throw new Error(`${what}: the guest's shell never answered:\n${out().slice(-1500)}`);
    if (Date.now() >= next) {
      send(PROBE);
      next = Date.now() + 250;
    }
  }
  return performance.now();
}

/** Starts one VM through the API; resolves with the time its shell first answers. */
async function startVm(name: string): Promise<number> {
  const v = (await call("POST", `/v1/vms/${name}/start`)) as { pid: number };
  vmPids.add(v.pid);
  const c = await openConsole(home.socket, token, name);
  try {
    return await answered(`VM ${name}`, c.send, c.out, () => c.ws.readyState > c.ws.OPEN);
  } finally {
    c.close();
  }
}

/** Starts the VMs at once; per-VM latency (ms) from t0 to its shell's answer. */
async function startAll(names: string[]): Promise<number[]> {
  const t0 = performance.now();
  const seen = await Promise.all(names.map((n) => startVm(n)));
  return seen.map((t) => t - t0);
}

async function deleteVms(): Promise<void> {
  for (const name of vmIds.keys()) {
    await api(home.socket, token, "DELETE", `/v1/vms/${name}?force=true`).catch(() => undefined);
    vmIds.delete(name);
  }
}

// --- QEMU --------------------------------------------------------------------------------------

const dir = mkdtempSync(join(tmpdir(), "moat-bench-host-"));
const kernel = join(dir, "Image");
const initrd = join(dir, "initramfs.cpio");
const qemus = new Set<ChildProcess>();

/** Spawns QEMU (bench/boot.ts's machine, no guest command), the serial console on stdio. */
function qemu(memoryMiB: number): { p: ChildProcess; seen: Promise<number> } {
  const args = ["-M", "virt", "-m", String(memoryMiB), "-smp", "1", "-nographic"];
  args.push("-bios", "default", "-kernel", kernel, "-initrd", initrd, "-append", DEFAULT_CMDLINE);
  const p = spawn("qemu-system-riscv64", args, { stdio: ["pipe", "pipe", "pipe"] });
  qemus.add(p);
  let out = "";
  let ended = false;
  p.on("close", () => {
    ended = true;
    qemus.delete(p);
  });
  p.stdout!.setEncoding("latin1").on("data", (d: string) => (out += d));
  p.stderr!.setEncoding("latin1").on("data", (d: string) => (out += d));
  p.stdin!.on("error", () => {});
  const send = (s: string): void => void p.stdin!.write(s);
  const gone = (): boolean => ended;
  return { p, seen: answered("qemu", send, () => out, gone) };
}

async function killQemus(): Promise<void> {
  const ends = [...qemus].map((p) => new Promise((r) => p.once("close", r)));
  for (const p of qemus) p.kill("SIGKILL");
  await Promise.all(ends);
}

// --- the three measurements --------------------------------------------------------------------

async function startRate(): Promise<void> {
  const moatTotal: number[] = [];
  const qemuTotal: number[] = [];
  const moatEach: number[] = [];
  const qemuEach: number[] = [];
  const snapTotal: number[] = [];
  const snapEach: number[] = [];
  const template = await templateSnapshot();
  for (let run = 0; run < RUNS; run++) {
    const names = Array.from({ length: VMS }, (_, i) => `s${run}-${i}`);
    for (const n of names) await createVm(n, 64);
    const lat = await startAll(names);
    moatTotal.push(Math.max(...lat));
    moatEach.push(median(lat));
    await deleteVms();

    const restored = Array.from({ length: VMS }, (_, i) => `r${run}-${i}`);
    for (const n of restored) await createVm(n, 64, template);
    const rlat = await startAll(restored);
    snapTotal.push(Math.max(...rlat));
    snapEach.push(median(rlat));
    await deleteVms();

    const t0 = performance.now();
    const seen = await Promise.all(Array.from({ length: VMS }, () => qemu(64).seen));
    const qlat = seen.map((t) => t - t0);
    qemuTotal.push(Math.max(...qlat));
    qemuEach.push(median(qlat));
    await killQemus();
    process.stderr.write(`start rate: run ${run + 1}/${RUNS} done\n`);
  }
  const mt = median(moatTotal);
  const qt = median(qemuTotal);
  console.log(
    `\n1. VMs started per second, API (or spawn) to guest userspace, ${VMS} VMs of 64 MiB`,
  );
  console.log(`   median of ${RUNS} runs:`);
  console.log(
    `   moat:     all ${VMS} in ${f1(mt / 1000)} s = ${f2((VMS * 1000) / mt)} VMs/s; per-VM latency median ${f1(median(moatEach) / 1000)} s`,
  );
  console.log(
    `   QEMU TCG: all ${VMS} in ${f1(qt / 1000)} s = ${f2((VMS * 1000) / qt)} VMs/s; per-VM latency median ${f1(median(qemuEach) / 1000)} s`,
  );
  console.log(`   ratio (moat VMs/s / QEMU VMs/s): ${f2(qt / mt)}`);
  console.log(`   raw total ms: moat ${raw(moatTotal)}; qemu ${raw(qemuTotal)}`);
  console.log(`   raw per-VM median ms: moat ${raw(moatEach)}; qemu ${raw(qemuEach)}`);
  const st = median(snapTotal);
  const cores = availableParallelism();
  console.log(
    `\n1b. VMs started per second from a snapshot (restore_from, a booted 64 MiB VM at its ` +
      `shell), API to the shell's answer, ${VMS} VMs, ${cores} host cores; median of ${RUNS} runs:`,
  );
  console.log(
    `   moat:     all ${VMS} in ${f1(st / 1000)} s = ${f2((VMS * 1000) / st)} VMs/s ` +
      `(${f2((VMS * 1000) / st / cores)} per core); per-VM latency median ${f1(median(snapEach) / 1000)} s`,
  );
  console.log(`   ratio to QEMU TCG's cold boots (VMs/s): ${f2(qt / st)}`);
  console.log(`   raw total ms: ${raw(snapTotal)}; raw per-VM median ms: ${raw(snapEach)}`);
}

async function apiLoad(): Promise<void> {
  const names = Array.from({ length: LOAD_VMS }, (_, i) => `load-${i}`);
  for (const n of names) await createVm(n, 64);
  await startAll(names);
  await sleep(2000);
  const lat: number[] = [];
  let errors = 0;
  const end = performance.now() + LOAD_MS;
  const client = async (c: number): Promise<void> => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = c; performance.now() < end; i++) {
      // The mix: the list, one VM, the host, in turn.
      const path = [`/v1/vms`, `/v1/vms/${names[i % LOAD_VMS]}`, `/v1/host`][i % 3]!;
      const t = performance.now();
      const status = await new Promise<number>((resolve, reject) => {
        const req = http.get(
          { socketPath: home.socket, path, agent, headers: { authorization: `Bearer ${token}` } },
          (res) => res.resume().on("end", () => resolve(res.statusCode ?? 0)),
        );
        req.on("error", reject);
      });
      lat.push(performance.now() - t);
      if (status !== 200) errors++;
    }
    agent.destroy();
  };
  await Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));
  console.log(
    `\n2. API latency under load: ${CLIENTS} keep-alive clients, ${LOAD_VMS} VMs running, ${LOAD_MS / 1000} s`,
  );
  console.log(
    `   moat: ${f1(lat.length / (LOAD_MS / 1000))} requests/s, median ${f2(median(lat))} ms, p99 ${f2(pct(lat, 99))} ms, ${errors} non-200`,
  );
  console.log("   peer: none (no libvirt on this machine)");
  await deleteVms();
}

async function density(): Promise<void> {
  const memTotal = meminfoKiB("MemTotal");
  const fit = (pss: number): number => Math.floor((memTotal - 1024 * 1024) / pss);

  await sleep(3000);
  let avail0 = meminfoKiB("MemAvailable");
  const pids: number[] = [];
  for (let i = 0; i < DENSITY; i++) {
    const n = `d-${i}`;
    await createVm(n, 128);
    await startVm(n);
    pids.push(((await call("GET", `/v1/vms/${n}`)) as { pid: number }).pid);
  }
  await sleep(5000);
  // A jailed VM is two processes: unshare (small) and the VMM under it; both count.
  const vmPss = (p: number): number => {
    const vmm = vmmProcess(p);
    return pssKiB(p) + (vmm !== undefined && vmm !== p ? pssKiB(vmm) : 0);
  };
  const moatPss = pids.reduce((s, p) => s + vmPss(p), 0) / pids.length;
  const moatDrop = (avail0 - meminfoKiB("MemAvailable")) / DENSITY;
  await deleteVms();

  await sleep(3000);
  avail0 = meminfoKiB("MemAvailable");
  const procs: ChildProcess[] = [];
  for (let i = 0; i < DENSITY; i++) {
    const q = qemu(128);
    await q.seen;
    procs.push(q.p);
  }
  await sleep(5000);
  const qemuPss = procs.reduce((s, p) => s + pssKiB(p.pid!), 0) / procs.length;
  const qemuDrop = (avail0 - meminfoKiB("MemAvailable")) / DENSITY;
  await killQemus();

  const mib = (k: number): string => f1(k / 1024);
  console.log(`\n3. Density: ${DENSITY} idle VMs of 128 MiB, host MemTotal ${mib(memTotal)} MiB`);
  console.log(
    `   moat:     PSS ${mib(moatPss)} MiB/VM, MemAvailable drop ${mib(moatDrop)} MiB/VM, fit ${fit(moatPss)} VMs`,
  );
  console.log(
    `   QEMU TCG: PSS ${mib(qemuPss)} MiB/VM, MemAvailable drop ${mib(qemuDrop)} MiB/VM, fit ${fit(qemuPss)} VMs`,
  );
  console.log(`   ratio (moat PSS / QEMU PSS): ${f2(moatPss / qemuPss)}`);
}

// --- cleanup, even on error --------------------------------------------------------------------

async function cleanup(): Promise<void> {
  if (daemon) {
    await deleteVms();
    daemon.p.kill("SIGTERM");
    await Promise.race([daemon.exited, sleep(15000)]);
    daemon.p.kill("SIGKILL");
  }
  // A VM whose delete failed outlives the daemon: kill it if the PID is still one of ours.
  for (const pid of vmPids) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, "latin1").includes(home.dir))
        process.kill(pid, "SIGKILL");
    } catch {
      // Gone.
    }
  }
  await killQemus();
  rmSync(home.dir, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
}

process.once("SIGINT", () => void cleanup().finally(() => process.exit(130)));
try {
  writeFileSync(kernel, shippedKernel());
  writeFileSync(initrd, shippedInitrd());
  daemon = await startDaemon(home);
  token = adminToken(home);
  await startRate();
  if (!ONLY_START) {
    await apiLoad();
    await density();
  }
} finally {
  await cleanup();
}
