// The host daemon end to end, as an operator uses it: `moat daemon` as its own process, the CLI
// against it, real VM processes on the soft CPU, real cgroups. Covers the supervisor (kill -9
// of a VM -> crashed + restart policy; kill -9 of the daemon -> VMs taken over, none lost or
// doubled), 20 VMs at once, a CPU cap measured by cgroup accounting, balloon reclaim.
import { moatOnTty } from "./support/tty.js";
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  writeFileSync,
} from "node:fs";
import { vmmProcess } from "../src/host/host-facts.js";
import { vmmCodeBinds } from "../src/jail/plan.js";
import { kvmKind } from "../src/kvm/kvm-probe.js";
import { CPU_TIERS, DEFAULT_CPU_TIER } from "../src/accel/soft/cpu-tier.js";
import { spawn } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MOAT } from "./support/moat-cli.js";
import {
  adminToken,
  cli,
  api,
  newHome,
  openConsole,
  startDaemon,
  stopDaemon,
  until,
  vmPids,
  vmState,
  type VmView,
} from "./support/moatd.js";

/** The top-level directories of what a daemon's jail binds: node, its libraries, moat, the VM's. */
function topDirs(): string[] {
  const paths = [...vmmCodeBinds().map((b) => b.path), tmpdir()];
  return [...new Set(paths.map((p) => p.split("/")[1]!))].sort();
}

/** A tier that is not the default, so that only a tier passed through gives it. */
const OTHER_TIER = CPU_TIERS.find((t) => t !== DEFAULT_CPU_TIER)!;

test("moat daemon, then create, start, ls, console, logs, inspect, top, stop, rm through the CLI", async (t) => {
  const h = newHome({ reclaim: { enabled: false } });
  const d = await startDaemon(h);
  t.after(() => stopDaemon(h, d));
  const mode = (await import("node:fs")).statSync(h.socket);
  assert.equal(mode.mode & 0o777, 0o660, "API socket is 0660");
  const group = readFileSync("/etc/group", "utf8")
    .split("\n")
    .find((l) => l.startsWith("moat:"));
  assert.ok(group, "the daemon made the group 'moat'");
  assert.equal(mode.gid, Number(group.split(":")[2]), "socket group is moat");

  const c = await cli(h, [
    "create",
    "--name",
    "a",
    "--memory",
    "64",
    "--label",
    "tier=web",
    "--lock-memory",
    "--cpu-tier",
    OTHER_TIER,
  ]);
  assert.equal(c.status, 0, c.err);
  assert.match(c.out, /^a [0-9a-f]{12} created/);
  const s = await cli(h, ["start", "a"]);
  assert.equal(s.status, 0, s.err);
  assert.match(s.out, /a: running/);
  const ls = await cli(h, ["ls"]);
  assert.match(ls.out, /^NAME\s+ID\s+DOMAIN\s+STATE/m);
  assert.match(ls.out, /^a\s+[0-9a-f]{12}\s+default\s+running\s+1\s+64M\s+\d+/m);
  const lsj = JSON.parse((await cli(h, ["ls", "--json"])).out) as VmView[];
  assert.equal(lsj.length, 1);
  assert.equal(lsj[0]!.state, "running");

  // The console through the CLI: piped input goes to the guest's shell, its answer comes back.
  let con = { status: null as number | null, out: "", err: "" };
  await until(
    "the guest's shell answers on moat console",
    async () => {
      con = await cli(h, ["console", "a"], "echo hello-$((6*7))\n");
      return /hello-42/.test(con.out);
    },
    60000,
  );
  assert.equal(con.status, 0, con.err);
  const logs = await cli(h, ["logs", "a"]);
  assert.match(logs.out, /hello-42/, "scrollback holds what the console showed");
  // A hostile guest's escapes (an OSC 52 clipboard write) do not reach a terminal running
  // moat console or moat logs; SGR colours do; a pipe, or --raw, gets every byte.
  const env = { MOAT_HOME: h.dir };
  const onTty = await moatOnTty(["console", "a"], env, {
    after: /attached/,
    text: "printf 'x\\033]52;c;QUFB\\007\\033[1my\\033[0m\\n'\r",
    until: /x.\[1my/,
  });
  assert.equal(onTty.status, 0, onTty.out);
  assert.ok(onTty.out.includes("x\x1b[1my\x1b[0m"), JSON.stringify(onTty.out));
  assert.ok(!onTty.out.includes("\x1b]52"), JSON.stringify(onTty.out));
  const osc = "x\x1b]52;c;QUFB\x07\x1b[1my";
  assert.ok((await cli(h, ["logs", "a"])).out.includes(osc), "a pipe gets every byte");
  const logsTty = await moatOnTty(["logs", "a"], env);
  assert.equal(logsTty.status, 0, logsTty.out);
  assert.ok(logsTty.out.includes("x\x1b[1my") && !logsTty.out.includes("\x1b]52"), logsTty.out);
  assert.match(logsTty.out, /moat: \d+ escape sequences? or controls? from the guest not shown/);
  assert.ok((await moatOnTty(["logs", "--raw", "a"], env)).out.includes(osc), "--raw: every byte");
  const insp = JSON.parse((await cli(h, ["inspect", "a"])).out) as {
    state: string;
    spec: { cpu_tier?: string };
    stats: { rss_bytes: number; cgroup_memory_limit_bytes: number; cpu_tier?: string };
  };
  assert.equal(insp.state, "running");
  // The tier asked for at create: in the record, and what the running VMM reports.
  assert.equal(insp.spec.cpu_tier, OTHER_TIER);
  assert.equal(insp.stats.cpu_tier, OTHER_TIER);
  // Confined: its own uid (no capabilities), no_new_privs, the seccomp filter.
  const conf = (
    insp.stats as unknown as {
      confinement: {
        jailed: boolean;
        seccomp: string;
        ksm: boolean;
        memory_locked: boolean;
        uid: number;
      };
    }
  ).confinement;
  assert.equal(conf.jailed, true);
  assert.equal(conf.seccomp, "kill");
  assert.equal(conf.ksm, false);
  // --lock-memory: locked in the jail as root, before the drop; none of its RAM reaches swap.
  assert.equal(conf.memory_locked, true);
  assert.ok(conf.uid >= 1_900_000_000, JSON.stringify(conf));
  const vmmPid = (insp.stats as unknown as { vmm_pid: number }).vmm_pid;
  assert.equal(vmmPid, vmmProcess((insp as unknown as { pid: number }).pid));
  const lck = Number(
    /^VmLck:\s+(\d+) kB/m.exec(readFileSync(`/proc/${vmmPid}/status`, "utf8"))![1],
  );
  assert.ok(lck >= 64 * 1024, `VmLck ${lck} kB`);
  // In namespaces of its own, with a root holding its own files and moat's code only.
  for (const ns of ["mnt", "pid", "net", "ipc", "uts"])
    assert.notEqual(readlinkSync(`/proc/${vmmPid}/ns/${ns}`), readlinkSync(`/proc/self/ns/${ns}`));
  assert.deepEqual(
    readdirSync(`/proc/${vmmPid}/root`).sort(),
    ["dev", "proc", ...topDirs()].sort(),
  );
  const status = readFileSync(`/proc/${vmmPid}/status`, "utf8");
  assert.match(status, new RegExp(`^Uid:\\s+${conf.uid}\\s+${conf.uid}\\s+${conf.uid}`, "m"));
  assert.match(status, /^CapEff:\s+0+$/m);
  assert.match(status, /^NoNewPrivs:\s+1$/m);
  assert.match(status, /^Seccomp:\s+2$/m);
  assert.ok(insp.stats.rss_bytes > 20 << 20, JSON.stringify(insp.stats));
  assert.equal(
    insp.stats.cgroup_memory_limit_bytes,
    (64 + 256) * 1024 * 1024,
    "guest RAM + overhead",
  );
  const top = JSON.parse((await cli(h, ["top", "--json"])).out) as {
    name: string;
    rss_mib: number;
  }[];
  assert.equal(top[0]!.name, "a");
  assert.ok(top[0]!.rss_mib > 20);

  assert.equal((await cli(h, ["stop", "a"])).status, 0);
  const v = await vmState(h.socket, adminToken(h), "a", "stopped");
  assert.equal(v.last_exit!.reason, "shut down by the operator (power button)");
  assert.equal(vmPids(h).length, 0, "no VM process left");
  const bad = await cli(h, ["create", "--name", "b", "--memory", "10"]);
  assert.equal(bad.status, 1);
  assert.match(bad.err, /^moat: --memory must be >= 32\n$/);
  assert.equal((await cli(h, ["rm", "a"])).status, 0);
  assert.deepEqual(JSON.parse((await cli(h, ["ls", "--json"])).out), []);
  const audit = await cli(h, ["audit-log", "verify"]);
  assert.equal(audit.status, 0, audit.out + audit.err);
  assert.match(audit.out, /chain intact, head matches the database/);
});

test("kill -9 of a VM process: crashed with its reason, then the restart policy", async (t) => {
  const h = newHome({ reclaim: { enabled: false }, restartBackoffMs: { initial: 500, max: 4000 } });
  const d = await startDaemon(h);
  t.after(() => stopDaemon(h, d));
  const tok = adminToken(h);
  for (const [name, restart] of [
    ["once", "no"],
    ["again", "on-failure"],
    ["jailed", "no"],
  ] as const) {
    assert.equal(
      (await api(h.socket, tok, "POST", "/v1/vms", { name, memory_mib: 48, restart })).status,
      201,
    );
    assert.equal((await api(h.socket, tok, "POST", `/v1/vms/${name}/start`)).status, 200);
  }
  const events: string[] = [];
  const sse = await import("node:http");
  const req = sse.request(
    { socketPath: h.socket, path: "/v1/events", headers: { authorization: `Bearer ${tok}` } },
    (res) => {
      res.setEncoding("utf8").on("data", (x: string) => events.push(x));
    },
  );
  req.end();
  const once = (await api(h.socket, tok, "GET", "/v1/vms/once")).body as VmView;
  const again = (await api(h.socket, tok, "GET", "/v1/vms/again")).body as VmView;
  // The VMM itself, under its jail's launcher (unshare), as the OOM killer would kill it.
  const jailed = (await api(h.socket, tok, "GET", "/v1/vms/jailed/stats")).body as {
    pid: number;
    vmm_pid: number;
  };
  assert.notEqual(jailed.vmm_pid, jailed.pid);
  process.kill(once.pid!, "SIGKILL");
  process.kill(again.pid!, "SIGKILL");
  process.kill(jailed.vmm_pid, "SIGKILL");
  const o = await vmState(h.socket, tok, "once", "crashed");
  assert.equal(o.last_exit!.signal, "SIGKILL");
  assert.equal(o.last_exit!.reason, "killed by SIGKILL");
  const j = await vmState(h.socket, tok, "jailed", "crashed");
  assert.deepEqual(
    { status: j.last_exit!.status, signal: j.last_exit!.signal, reason: j.last_exit!.reason },
    { status: null, signal: "SIGKILL", reason: "killed by SIGKILL" },
  );
  const a = await vmState(h.socket, tok, "again", "running", (v) => v.restarts === 1);
  assert.notEqual(a.pid, again.pid);
  assert.equal(a.last_exit!.reason, "killed by SIGKILL");
  // The restart was recorded before it was made, and its outcome names that record.
  const restarts = await until("the restart's outcome in the audit log", () => {
    const lines = readFileSync(join(h.dir, "audit.log"), "utf8")
      .trim()
      .split("\n")
      .map(
        (l) =>
          JSON.parse(l) as {
            seq: number;
            action: string;
            detail?: { vm_name?: string; phase?: string; intent_seq?: number };
          },
      )
      .filter((e) => e.action === "vm.restart" && e.detail?.vm_name === "again");
    return lines.length >= 2 ? lines : undefined;
  });
  assert.equal(restarts[0]!.detail!.phase, "intent");
  assert.equal(restarts[1]!.detail!.intent_seq, restarts[0]!.seq);
  // "no" stays down.
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(((await api(h.socket, tok, "GET", "/v1/vms/once")).body as VmView).state, "crashed");
  req.destroy();
  const all = events.join("");
  assert.match(all, /event: vm.state\ndata: \{[^\n]*"name":"again"[^\n]*"state":"crashed"/);
  assert.match(all, /"name":"again"[^\n]*"state":"running"/);
});

test("a daemon killed with VMs running: the next one takes them over, none lost, none doubled", async (t) => {
  const h = newHome({ reclaim: { enabled: false }, restartBackoffMs: { initial: 500, max: 4000 } });
  let d = await startDaemon(h);
  t.after(() => stopDaemon(h, d));
  const tok = adminToken(h);
  for (const name of ["p", "q", "r"]) {
    await api(h.socket, tok, "POST", "/v1/vms", { name, memory_mib: 48, restart: "on-failure" });
    assert.equal((await api(h.socket, tok, "POST", `/v1/vms/${name}/start`)).status, 200);
  }
  assert.equal((await api(h.socket, tok, "POST", "/v1/vms/q/pause")).status, 200);
  const before = (await api(h.socket, tok, "GET", "/v1/vms")).body as VmView[];
  d.p.kill("SIGKILL");
  await d.exited;
  // While no daemon runs, r's process dies.
  const r = before.find((v) => v.name === "r")!;
  process.kill(r.pid!, "SIGKILL");
  // And a VM process of this home that no record claims (as if a daemon died between spawning
  // it and recording it): the next daemon must not leave it running.
  mkdirSync(`${h.dir}/vms/orphan`, { recursive: true });
  const orphan = spawn(
    process.execPath,
    [
      MOAT,
      "run",
      "--memory",
      "40",
      "--control",
      `${h.dir}/vms/orphan/control.sock`,
      "--console-socket",
      `${h.dir}/vms/orphan/console.sock`,
    ],
    { detached: true, stdio: "ignore" },
  );
  const orphanGone = new Promise((res) => orphan.on("exit", res));
  await until("the orphan to listen", () => existsSync(`${h.dir}/vms/orphan/control.sock`));
  d = await startDaemon(h);
  assert.match(
    d.log(),
    /2 running VMs taken over, 1 ended while no daemon ran, 1 orphan processes killed/,
  );
  await orphanGone;
  const after = (await api(h.socket, tok, "GET", "/v1/vms")).body as VmView[];
  for (const name of ["p", "q"]) {
    const b = before.find((v) => v.name === name)!;
    const a = after.find((v) => v.name === name)!;
    assert.equal(a.pid, b.pid, `${name} kept its process`);
  }
  assert.equal(after.find((v) => v.name === "q")!.state, "paused");
  // r: recorded as crashed, then restarted by its policy.
  const rr = await vmState(h.socket, tok, "r", "running", (v) => v.restarts === 1);
  assert.match(rr.last_exit!.reason, /left no exit record/);
  // The adopted VMs are still managed: their console answers, a kill is seen and acted on.
  const con = await openConsole(h.socket, tok, "p");
  await con.expect("echo adopted-$((2+3))", "adopted-5");
  con.close();
  const p = after.find((v) => v.name === "p")!;
  process.kill(p.pid!, "SIGKILL");
  const p2 = await vmState(
    h.socket,
    tok,
    "p",
    "running",
    (v) => v.restarts === 1 && v.pid !== p.pid,
  );
  assert.match(p2.last_exit!.reason, /left no exit record/);
  assert.equal((await api(h.socket, tok, "POST", "/v1/vms/q/resume")).status, 200);
  // Exactly one process per VM.
  assert.equal(vmPids(h).length, 3);
});

test("20 small VMs at once on this host, each answering on its console", async (t) => {
  const h = newHome({
    reclaim: { enabled: false },
    policy: { cpuOvercommit: 16, memoryReserveMiB: 512 },
    vmmOverheadMiB: 192,
  });
  const d = await startDaemon(h);
  t.after(() => stopDaemon(h, d));
  const tok = adminToken(h);
  const names = Array.from({ length: 20 }, (_, i) => `small${i}`);
  for (const name of names)
    assert.equal(
      (await api(h.socket, tok, "POST", "/v1/vms", { name, memory_mib: 40 })).status,
      201,
    );
  const started = await Promise.all(
    names.map((n) => api(h.socket, tok, "POST", `/v1/vms/${n}/start`)),
  );
  for (const s of started) assert.equal(s.status, 200, s.text);
  for (const n of names) {
    const con = await openConsole(h.socket, tok, n);
    await con.expect(`echo $((7*6))-${n}`, `42-${n}`, 120000);
    con.close();
  }
  const host = (await api(h.socket, tok, "GET", "/v1/host")).body as {
    vms: Record<string, number>;
  };
  assert.equal(host.vms.running, 20);
  assert.equal(vmPids(h).length, 20);
});

test("a VM capped at 20% of a core gets about that (cgroup CPU accounting)", async (t) => {
  const h = newHome({ reclaim: { enabled: false } });
  const d = await startDaemon(h);
  t.after(() => stopDaemon(h, d));
  const tok = adminToken(h);
  await api(h.socket, tok, "POST", "/v1/vms", {
    name: "capped",
    memory_mib: 64,
    cpu: { max: 0.2, weight: 200 },
  });
  assert.equal((await api(h.socket, tok, "POST", "/v1/vms/capped/start")).status, 200);
  const con = await openConsole(h.socket, tok, "capped");
  await con.expect("echo ready-$((1+1))", "ready-2", 120000);
  con.send("while :; do :; done &\n");
  await new Promise((r) => setTimeout(r, 1500));
  const vm = (await api(h.socket, tok, "GET", "/v1/vms/capped")).body as VmView;
  const dir = readdirSync("/sys/fs/cgroup/cpuacct", { recursive: true }) as string[];
  const grp = dir.find((p) => p.endsWith(`vm-${vm.id}/cpuacct.usage`));
  assert.ok(grp, "the VM has a cpuacct group");
  // The jailed VMM itself (not only the unshare it runs under) is in the VM's CPU and memory
  // groups.
  const vmm = String(vmmProcess(vm.pid!));
  for (const c of ["cpu", "memory"]) {
    // Each hierarchy has the group under the daemon's own place in it.
    const rel = (readdirSync(`/sys/fs/cgroup/${c}`, { recursive: true }) as string[]).find((p) =>
      p.endsWith(`vm-${vm.id}/cgroup.procs`),
    );
    assert.ok(rel, `a ${c} group for the VM`);
    const procs = readFileSync(`/sys/fs/cgroup/${c}/${rel}`, "utf8");
    assert.ok(procs.split("\n").includes(vmm), `${c}: ${procs} has ${vmm}`);
  }
  const usage = (): number => Number(readFileSync(`/sys/fs/cgroup/cpuacct/${grp}`, "utf8"));
  const quota = readFileSync(
    `/sys/fs/cgroup/cpu/${grp.replace("cpuacct.usage", "cpu.cfs_quota_us")}`,
    "utf8",
  );
  assert.equal(quota.trim(), "20000");
  const shares = readFileSync(
    `/sys/fs/cgroup/cpu/${grp.replace("cpuacct.usage", "cpu.shares")}`,
    "utf8",
  );
  assert.equal(shares.trim(), "2048", "weight 200 = twice the default share");
  const u0 = usage();
  const t0 = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, 5000));
  const share = (usage() - u0) / Number(process.hrtime.bigint() - t0);
  t.diagnostic(`capped VM used ${(share * 100).toFixed(1)}% of a CPU`);
  assert.ok(share > 0.12 && share < 0.28, `share ${share}`);
  con.close();
});

test("balloon reclaim: idle guest memory goes back to the host under pressure, and back to the guest when it needs it", async (t) => {
  // First without reclaim, so the guest can touch memory before any balloon takes it.
  const h = newHome({ reclaim: { enabled: false } });
  let d = await startDaemon(h);
  t.after(() => stopDaemon(h, d));
  const tok = adminToken(h);
  await api(h.socket, tok, "POST", "/v1/vms", {
    name: "idle",
    memory_mib: 256,
    balloon: { free_page_reporting: false },
  });
  assert.equal((await api(h.socket, tok, "POST", "/v1/vms/idle/start")).status, 200);
  const vm = (await api(h.socket, tok, "GET", "/v1/vms/idle")).body as VmView;
  const rss = (): number =>
    Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${vmmProcess(vm.pid!)}/status`, "utf8"))![1]) /
    1024;
  let con = await openConsole(h.socket, tok, "idle");
  // Touch 180 MiB (dd's one buffer), then free it (dd exits): the host keeps those pages
  // until a balloon takes them.
  await con.expect(
    "dd if=/dev/zero of=/dev/null bs=180M count=1 2>/dev/null; echo filled-$((1+2))",
    "filled-3",
    120000,
  );
  con.close();
  const peak = rss();
  assert.ok(peak > 180, `RSS ${peak} MiB after the guest touched 180 MiB`);
  // Now a daemon whose host is always under pressure (hostLowPercent 100) takes the VM over.
  d.p.kill("SIGTERM");
  await d.exited;
  writeFileSync(
    h.config,
    JSON.stringify({
      reclaim: {
        enabled: true,
        intervalMs: 1000,
        hostLowPercent: 100,
        guestKeepPercent: 10,
        guestKeepMinMiB: 24,
      },
    }),
  );
  d = await startDaemon(h);
  await until(
    "the balloon to grow",
    async () => {
      const s = (await api(h.socket, tok, "GET", "/v1/vms/idle/stats")).body as {
        vmm: { balloon: { actual_mib: number } };
      };
      return s.vmm.balloon.actual_mib >= 150 ? s.vmm.balloon.actual_mib : undefined;
    },
    60000,
  );
  // The policy moves a step a round until the guest keeps just its reserve: wait for it to settle.
  let last = -1;
  const settled = await until(
    "the balloon to settle",
    async () => {
      const s = (await api(h.socket, tok, "GET", "/v1/vms/idle/stats")).body as {
        vmm: { balloon: { actual_mib: number; target_mib: number } };
      };
      const b = s.vmm.balloon;
      const done = b.actual_mib === b.target_mib && b.target_mib === last;
      last = b.target_mib;
      await new Promise((r) => setTimeout(r, 1500));
      return done ? b.actual_mib : undefined;
    },
    60000,
  );
  const low = rss();
  t.diagnostic(`RSS ${peak.toFixed(0)} -> ${low.toFixed(0)} MiB, balloon ${settled} MiB`);
  assert.ok(peak - low > 100, `RSS fell by ${peak - low} MiB`);
  // The guest needs memory again: its free memory falls below what it keeps, the daemon deflates.
  con = await openConsole(h.socket, tok, "idle");
  con.send("dd if=/dev/zero of=/tmp/need bs=1M count=40 2>/dev/null; echo needed-$((2+2))\n");
  await until(
    "the balloon to deflate",
    async () => {
      const s = (await api(h.socket, tok, "GET", "/v1/vms/idle/stats")).body as {
        vmm: { balloon: { target_mib: number } };
      };
      return s.vmm.balloon.target_mib < settled - 20;
    },
    60000,
  );
  con.close();
});

test("trust domains: pinned vCPUs never share a core across domains; KSM only under the one-domain policy", async (t) => {
  const h = newHome({
    reclaim: { enabled: false },
    policy: { pinning: true, ksmDomain: "acme", cpuOvercommit: 4 },
  });
  const d = await startDaemon(h);
  t.after(async () => {
    await stopDaemon(h, d);
    (await import("node:fs")).writeFileSync("/sys/kernel/mm/ksm/run", "0");
  });
  const tok = adminToken(h);
  assert.match(d.log(), /KSM on: every VM on this host is in trust domain 'acme'/);
  assert.equal(readFileSync("/sys/kernel/mm/ksm/run", "utf8").trim(), "1");
  await api(h.socket, tok, "POST", "/v1/vms", { name: "a1", memory_mib: 48, domain: "acme" });
  assert.equal((await api(h.socket, tok, "POST", "/v1/vms/a1/start")).status, 200);
  const a1 = (await api(h.socket, tok, "GET", "/v1/vms/a1")).body as VmView;
  assert.ok(a1.pinned_cpus && a1.pinned_cpus.length > 0, JSON.stringify(a1));
  const vmm = vmmProcess(a1.pid!)!;
  // The vCPU thread runs only on the pinned CPUs; guest RAM is marked mergeable.
  const hart = await until("the hart thread", () =>
    readdirSync(`/proc/${vmm}/task`).find((tid) =>
      readFileSync(`/proc/${vmm}/task/${tid}/comm`, "utf8").startsWith("moat-hart0"),
    ),
  );
  assert.ok(hart, "the hart thread is named");
  const allowed = /Cpus_allowed_list:\s+(\S+)/.exec(
    readFileSync(`/proc/${vmm}/task/${hart}/status`, "utf8"),
  )![1];
  assert.equal(allowed, a1.pinned_cpus.join(","));
  assert.match(readFileSync(`/proc/${vmm}/smaps`, "utf8"), /^VmFlags:.* mg/m);
  // Another domain: refused while KSM is on for acme.
  await api(h.socket, tok, "POST", "/v1/vms", { name: "b1", memory_mib: 48, domain: "other" });
  const b = await api(h.socket, tok, "POST", "/v1/vms/b1/start");
  assert.equal(b.status, 409);
  assert.match((b.body as { error: string }).error, /KSM\) for trust domain 'acme' only/);
});

test("pinning without KSM: a second domain gets the other core, a third is refused", async (t) => {
  const h = newHome({ reclaim: { enabled: false }, policy: { pinning: true, cpuOvercommit: 4 } });
  // KSM left on (by an earlier daemon under the one-domain policy): this policy stops it.
  writeFileSync("/sys/kernel/mm/ksm/run", "1");
  const d = await startDaemon(h);
  t.after(async () => {
    await stopDaemon(h, d);
    writeFileSync("/sys/kernel/mm/ksm/run", "0");
  });
  assert.match(d.log(), /KSM was on; stopped and unmerged/);
  assert.equal(
    readFileSync("/sys/kernel/mm/ksm/run", "utf8").trim(),
    "2",
    "stopped, pages unmerged",
  );
  const tok = adminToken(h);
  const pins: Record<string, number[]> = {};
  for (const [name, domain] of [
    ["x1", "x"],
    ["y1", "y"],
    ["x2", "x"],
  ]) {
    await api(h.socket, tok, "POST", "/v1/vms", { name, memory_mib: 40, domain });
    const r = await api(h.socket, tok, "POST", `/v1/vms/${name}/start`);
    assert.equal(r.status, 200, r.text);
    pins[name!] = (r.body as VmView).pinned_cpus!;
  }
  assert.notDeepEqual(pins.x1, pins.y1, "two domains, two cores");
  assert.deepEqual(pins.x2, pins.x1, "a domain packs onto its own core");
  await api(h.socket, tok, "POST", "/v1/vms", { name: "z1", memory_mib: 40, domain: "z" });
  const z = await api(h.socket, tok, "POST", "/v1/vms/z1/start");
  assert.equal(z.status, 409);
  assert.match(
    (z.body as { error: string }).error,
    /no physical core is free for trust domain 'z'/,
  );
  // Once y's VM stops, its core is free for z.
  await api(h.socket, tok, "POST", "/v1/vms/y1/stop");
  assert.equal((await api(h.socket, tok, "POST", "/v1/vms/z1/start")).status, 200);
});

test("a KVM VM is managed like any other: started, counted, stopped through the daemon", async (t) => {
  // Fails without /dev/kvm, as every KVM test does. On this PVM-nested host the guest never
  // reaches userspace, but the VMM runs, answers and counts KVM exits.
  assert.ok(existsSync("/dev/kvm"), "this test needs /dev/kvm");
  const h = newHome({ reclaim: { enabled: false } });
  const d = await startDaemon(h);
  t.after(() => stopDaemon(h, d));
  const tok = adminToken(h);
  await api(h.socket, tok, "POST", "/v1/vms", { name: "k", accel: "kvm", memory_mib: 128 });
  const s = await api(h.socket, tok, "POST", "/v1/vms/k/start");
  assert.equal(s.status, 200, s.text);
  const exits = await until("KVM exits", async () => {
    const st = (await api(h.socket, tok, "GET", "/v1/vms/k/stats")).body as {
      vmm: { exits: Record<string, number> } | null;
    };
    const e = st.vmm?.exits ?? {};
    return Object.values(e).reduce((a, b) => a + b, 0) > 0 ? e : undefined;
  });
  assert.ok("io" in exits && "hlt" in exits, JSON.stringify(exits));
  // Under PVM its userspace never starts: a stop powers it off at once. Elsewhere, once its
  // shell answers, its /init shuts it down on the power button.
  const pvm = kvmKind() === "pvm";
  if (!pvm) {
    const con = await openConsole(h.socket, tok, "k");
    try {
      await con.expect("echo UP-$((40+2))", "UP-42");
    } finally {
      con.close();
    }
  }
  assert.equal((await api(h.socket, tok, "POST", "/v1/vms/k/stop")).status, 200);
  const v = await vmState(h.socket, tok, "k", "stopped");
  assert.equal(
    v.last_exit!.reason,
    pvm ? "stopped by the operator" : "shut down by the operator (power button)",
  );
});
