// The jail's own logic: the plan a jailed process accepts, the refusal to set up anywhere but
// in fresh namespaces (a stray --in-jail must never rearrange the host's mounts), what
// `moat run` says when unjailed, and a daemon configured to run VMs unjailed saying so.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseJailPlan } from "../src/jail/enter.js";
import { jailBinds, packageDirs, vmmCodeBinds } from "../src/jail/plan.js";
import { spawnSync } from "node:child_process";
import { MOAT, REPO, moat, startMoat, until } from "./support/moat-cli.js";
import { vmmProcess } from "../src/host/host-facts.js";
import { adminToken, api, newHome, openConsole, startDaemon, stopDaemon } from "./support/moatd.js";

const plan = {
  root: "/tmp/nowhere",
  hostMntNs: readlinkSync("/proc/self/ns/mnt"),
  hostname: "moat-x",
  cwd: "/",
  binds: [{ path: "/usr/bin/node", write: false, exec: true }],
  devices: ["/dev/null"],
};

test("a jail plan: accepted when well formed, refused otherwise", () => {
  assert.equal(parseJailPlan(JSON.stringify(plan)).hostname, "moat-x");
  for (const bad of [
    "not json",
    "null",
    JSON.stringify({ ...plan, root: "" }),
    JSON.stringify({ ...plan, binds: [{ path: "/x" }] }),
    JSON.stringify({ ...plan, devices: ["/etc/shadow"] }),
    JSON.stringify({ ...plan, kvmFd: 1 }),
    JSON.stringify({ ...plan, kvmKind: "fast" }),
    JSON.stringify({ ...plan, taps: [{ fd: 4 }] }),
  ])
    assert.throws(() => parseJailPlan(bad), /jail plan is (not JSON|malformed)/, bad);
  // Binds: node and its libraries executable, moat's code not; only plain absolute paths.
  const code = vmmCodeBinds();
  assert.ok(
    code.some((b) => b.exec && /libc\.so/.test(b.path)),
    "libc is bound",
  );
  assert.ok(
    code.every((b) => !b.write),
    "code is read-only",
  );
  for (const path of ["relative.img", "/", "/a/../etc/shadow"])
    assert.throws(
      () => jailBinds({ readFiles: [], disks: [{ path, readOnly: true }], writeDirs: [] }),
      /not a plain absolute path/,
    );
});

test("a jailed VMM gets its runtime packages where npm put them: its own node_modules or the one it sits in", () => {
  const repo = realpathSync(REPO);
  // A checkout: koffi resolves (to its real path) in the checkout's own node_modules.
  const koffi = join(realpathSync(join(repo, "node_modules")), "koffi/index.js");
  assert.deepEqual(packageDirs(`${repo}/`, koffi), [`${repo}/node_modules`]);
  // npm install --prefix X ./moat-vmm.tgz: moat in X/node_modules/moat-vmm, koffi beside it.
  const x = mkdtempSync(join(tmpdir(), "moat-hoisted-"));
  try {
    mkdirSync(join(x, "node_modules/moat-vmm"), { recursive: true });
    const dirs = packageDirs(`${x}/node_modules/moat-vmm/`, `${x}/node_modules/koffi/index.js`);
    assert.deepEqual(dirs, [`${x}/node_modules`]);
  } finally {
    rmSync(x, { recursive: true, force: true });
  }
});

test("--in-jail outside fresh namespaces is refused and the host's mounts stay as they were", async () => {
  const before = readFileSync("/proc/self/mountinfo", "utf8");
  const dir = mkdtempSync(join(tmpdir(), "moat-jail-config-"));
  const config = join(dir, "vm.json");
  writeFileSync(config, JSON.stringify({ accel: "soft", host: {} }), { mode: 0o600 });
  const r = await moat([
    "vmm",
    "--config",
    config,
    `--in-jail=${JSON.stringify(plan)}`,
    "--",
    "true",
  ]);
  rmSync(dir, { recursive: true, force: true });
  assert.equal(r.status, 125, r.stderr);
  assert.match(
    r.stderr,
    /the jail could not be set up: not the first process of a new PID namespace/,
  );
  assert.equal(readFileSync("/proc/self/mountinfo", "utf8"), before);
});

test("moat run says at a terminal when a VM runs unjailed; --jail does not", async () => {
  // At a terminal (script(1) gives it one) it says so; a script's stderr stays clean.
  const atTty = (args: string): { status: number | null; out: string } => {
    const r = spawnSync(
      "script",
      ["-qec", `${process.execPath} ${MOAT} run ${args}`, "/dev/null"],
      {
        encoding: "utf8",
        timeout: 120_000,
      },
    );
    return { status: r.status, out: r.stdout };
  };
  const bareTty = atTty("-- true");
  assert.equal(bareTty.status, 0, bareTty.out);
  assert.match(bareTty.out, /this VM runs unjailed \(for development\); --jail confines it/);
  const jailedTty = atTty("--jail -- true");
  assert.equal(jailedTty.status, 0, jailedTty.out);
  assert.doesNotMatch(jailedTty.out, /unjailed/);
  const bare = await moat(["run", "--", "true"]);
  assert.equal(bare.status, 0, bare.stderr);
  assert.equal(bare.stderr, "");
  // What the jail cannot bind is said before anything starts.
  const missing = await moat(["run", "--jail", "--disk", "/nonexistent/d.img", "--", "true"]);
  assert.equal(missing.status, 125);
  assert.match(missing.stderr, /jail: \/nonexistent\/d\.img: no such file or directory/);
});

test("a daemon jails by default; with vmJail off it says so and its VMs report unjailed", async (t) => {
  const on = newHome({ reclaim: { enabled: false } });
  const off = newHome({ reclaim: { enabled: false }, vmJail: false });
  const d1 = await startDaemon(on);
  t.after(() => stopDaemon(on, d1));
  const d2 = await startDaemon(off);
  t.after(() => stopDaemon(off, d2));
  assert.equal(
    ((await api(on.socket, adminToken(on), "GET", "/v1/host")).body as { vm_jail: boolean })
      .vm_jail,
    true,
  );
  assert.doesNotMatch(d1.log(), /unjailed/);
  assert.match(d2.log(), /vmJail is off: VMs run unjailed \(development only\)/);
  const tok = adminToken(off);
  assert.equal(
    ((await api(off.socket, tok, "GET", "/v1/host")).body as { vm_jail: boolean }).vm_jail,
    false,
  );
  await api(off.socket, tok, "POST", "/v1/vms", { name: "bare", memory_mib: 48 });
  assert.equal((await api(off.socket, tok, "POST", "/v1/vms/bare/start")).status, 200);
  const con = await openConsole(off.socket, tok, "bare");
  await con.expect("echo up-$((1+1))", "up-2");
  con.close();
  const st = (await api(off.socket, tok, "GET", "/v1/vms/bare/stats")).body as {
    pid: number;
    vmm_pid: number;
    confinement: { jailed: boolean; seccomp: string };
  };
  assert.equal(st.confinement.jailed, false);
  assert.equal(st.confinement.seccomp, "kill", "the filter is on all the same");
  assert.equal(st.vmm_pid, st.pid, "no unshare in between");
  assert.equal(readlinkSync(`/proc/${st.vmm_pid}/ns/mnt`), readlinkSync("/proc/self/ns/mnt"));
  assert.equal((await api(off.socket, tok, "POST", "/v1/vms/bare/kill")).status, 200);
});

test("moat run --jail: a VMM killed by SIGKILL ends its launcher with 137, as an unjailed one would", async (t) => {
  // Between them is util-linux unshare, which before 2.40 exits 1 when its child is SIGKILLed.
  const dir = mkdtempSync(join(tmpdir(), "moat-kill-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const control = join(dir, "control.sock");
  const run = startMoat(["run", "--jail", "--control", control, "--", "sleep", "600"]);
  t.after(() => run.p.kill("SIGKILL"));
  await until(() => existsSync(control), "the jailed VMM's control socket", 60_000);
  const launcher = run.p.pid!;
  const unshare = Number(readFileSync(`/proc/${launcher}/task/${launcher}/children`, "utf8"));
  const vmm = vmmProcess(unshare);
  assert.ok(vmm !== undefined && vmm !== unshare, `the VMM under unshare ${unshare}`);
  process.kill(vmm, "SIGKILL");
  assert.equal(await run.done, 137, run.err());
});
