// moat audit: each check against fixture trees (the checks read /proc, /sys and /dev under an
// injectable root), the daemon's own state from a real daemon's home (tokens, the audit log's
// chain, VM policies), and one run of the command on this host.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  appendFileSync,
  chmodSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { defaultConfig, type DaemonConfig } from "../src/host/config.js";
import type { VmRecord } from "../src/host/store.js";
import {
  audit,
  checkApi,
  checkCpuVulnerabilities,
  checkDevice,
  checkKsm,
  checkNested,
  checkNode,
  checkSmt,
  checkSwap,
  checkVmOrphans,
  checkVmProcess,
  checkVmIsolation,
} from "../src/host/host-audit.js";
import type { Finding } from "../src/host/audit-finding.js";
import {
  adminToken,
  api,
  newHome,
  startDaemon,
  stopDaemon,
  until,
  vmPids,
} from "./support/moatd.js";
import { moat } from "./support/moat-cli.js";

/** A fixture root with the given files (path -> content, or [content, mode]). */
function tree(files: Record<string, string | [string, number]>): string {
  const root = mkdtempSync(join(tmpdir(), "moat-audit-"));
  for (const [p, v] of Object.entries(files)) {
    const [text, mode] = typeof v === "string" ? [v, 0o644] : v;
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), text);
    chmodSync(join(root, p), mode);
  }
  return root;
}

const status = (f: Finding) => f.status;
const VULN = "sys/devices/system/cpu/vulnerabilities";

function config(patch: Partial<DaemonConfig["policy"]> = {}, more: Partial<DaemonConfig> = {}) {
  const c = defaultConfig("/nonexistent-moat-home");
  return { ...c, ...more, policy: { ...c.policy, ...patch } };
}

test("audit: CPU vulnerabilities, SMT and KSM against the policy, swap, nested virtualisation", () => {
  const roots: string[] = [];
  const t = (f: Record<string, string | [string, number]>) => {
    const r = tree(f);
    roots.push(r);
    return r;
  };
  try {
    const ok = t({
      [`${VULN}/meltdown`]: "Not affected",
      [`${VULN}/spectre_v2`]: "Mitigation: Retpolines",
    });
    assert.equal(status(checkCpuVulnerabilities(ok)), "pass");
    const bad = t({
      [`${VULN}/meltdown`]: "Not affected",
      [`${VULN}/mds`]: "Vulnerable: Clear CPU buffers attempted, no microcode",
    });
    const f = checkCpuVulnerabilities(bad);
    assert.equal(f.status, "fail");
    assert.match(f.why, /mds \(Vulnerable: Clear CPU buffers/);
    assert.match(f.fix, /microcode/);
    assert.equal(status(checkCpuVulnerabilities(t({}))), "warn");

    const smtOn = t({
      "sys/devices/system/cpu/smt/control": "on",
      "sys/devices/system/cpu/smt/active": "1",
    });
    assert.equal(status(checkSmt(smtOn, config())), "warn");
    assert.equal(status(checkSmt(smtOn, config({ pinning: true }))), "pass");
    assert.equal(status(checkSmt(smtOn, config({ ksmDomain: "a" }))), "pass");
    assert.equal(
      status(checkSmt(t({ "sys/devices/system/cpu/smt/control": "off" }), config())),
      "pass",
    );
    // The kernel's words (notsupported, forceoff) said as words.
    const noSmt = checkSmt(t({ "sys/devices/system/cpu/smt/control": "notsupported" }), config());
    assert.equal(noSmt.why, "SMT is not supported by this CPU");
    const forced = checkSmt(t({ "sys/devices/system/cpu/smt/control": "forceoff" }), config());
    assert.equal(forced.why, "SMT is forced off");

    const ksmOn = t({ "sys/kernel/mm/ksm/run": "1" });
    assert.equal(status(checkKsm(ksmOn, config())), "fail");
    assert.equal(status(checkKsm(ksmOn, config({ ksmDomain: "a" }))), "pass");
    assert.equal(status(checkKsm(t({ "sys/kernel/mm/ksm/run": "0" }), config())), "pass");

    const header = "Filename\tType\tSize\tUsed\tPriority\n";
    assert.equal(status(checkSwap(t({ "proc/swaps": header }))), "pass");
    const swap = checkSwap(t({ "proc/swaps": header + "/swapfile file 1048572 0 -2\n" }));
    assert.equal(swap.status, "warn");
    assert.match(swap.why, /\/swapfile/);

    assert.equal(status(checkNested(t({ "sys/module/kvm_intel/parameters/nested": "Y" }))), "warn");
    assert.equal(status(checkNested(t({ "sys/module/kvm_amd/parameters/nested": "0" }))), "pass");
  } finally {
    for (const r of roots) rmSync(r, { recursive: true, force: true });
  }
});

test("audit: device nodes, the API socket and TLS key, VM isolation settings, the Node.js runtime", async () => {
  const root = tree({ "dev/kvm": ["", 0o666], "dev/net/tun": ["", 0o666] });
  try {
    assert.equal(status(checkDevice(root, "dev/kvm", "KVM")), "warn");
    chmodSync(join(root, "dev/kvm"), 0o660);
    assert.equal(status(checkDevice(root, "dev/kvm", "KVM")), "pass");
    assert.equal(status(checkDevice(root, "dev/net/tun", "TAP")), "pass");
    rmSync(join(root, "dev/kvm"));
    assert.equal(status(checkDevice(root, "dev/kvm", "KVM")), "warn");

    const sock = join(root, "api.sock");
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(sock, r));
    try {
      const c = config({}, { socket: sock });
      chmodSync(sock, 0o666);
      assert.equal(checkApi(c)[0]!.status, "fail");
      chmodSync(sock, 0o660);
      assert.equal(checkApi(c)[0]!.status, "pass");
      assert.equal(checkApi(config({}, { socket: join(root, "dev/net/tun") }))[0]!.status, "fail");
      const key = join(root, "key.pem");
      writeFileSync(key, "k");
      chmodSync(key, 0o644);
      const tcp = { host: "127.0.0.1", port: 8443, cert: key, key };
      const tls = checkApi(config({}, { socket: sock, tcp }))[1]!;
      assert.equal(tls.status, "fail");
      assert.match(tls.why, /mode 644: others can read it/);
      chmodSync(key, 0o600);
      assert.equal(checkApi(config({}, { socket: sock, tcp }))[1]!.status, "pass");
    } finally {
      srv.close();
    }

    const iso = (m: Partial<DaemonConfig>) => checkVmIsolation(config({}, m)).map(status);
    assert.deepEqual(iso({ vmJail: true, vmSeccomp: "kill", vmUsers: true }), [
      "pass",
      "pass",
      "pass",
    ]);
    assert.deepEqual(iso({ vmJail: false, vmSeccomp: "off", vmUsers: false }), [
      "fail",
      "fail",
      "warn",
    ]);
    assert.equal(iso({ vmSeccomp: "log" })[1], "warn");

    // A VM whose process is not confined: every gap is named.
    const p = tree({
      "proc/4242/comm": "node",
      "proc/4242/status": "Name:\tnode\nCapEff:\t000001ffffffffff\nNoNewPrivs:\t0\nSeccomp:\t0\n",
    });
    mkdirSync(join(p, "proc/4242/ns"), { recursive: true });
    mkdirSync(join(p, "proc/1/ns"), { recursive: true });
    for (const k of ["mnt", "pid"]) {
      symlinkSync(`${k}:[4026531841]`, join(p, "proc/4242/ns", k));
      symlinkSync(`${k}:[4026531841]`, join(p, "proc/1/ns", k));
    }
    const vm = { name: "loose", pid: 4242, state: "running" } as unknown as VmRecord;
    const loose = checkVmProcess(p, vm)!;
    assert.equal(loose.status, "fail");
    assert.match(
      loose.why,
      /no seccomp filter \(Seccomp 0\), capabilities 000001ffffffffff, may gain privileges/,
    );
    assert.match(loose.why, /the host's mnt namespace, the host's pid namespace/);
    rmSync(p, { recursive: true, force: true });

    const day = new Date("2026-11-27T12:00:00Z");
    assert.equal(checkNode("v20.20.2", day).status, "fail");
    assert.equal(checkNode("v20.20.2", new Date("2026-01-01T00:00:00Z")).status, "pass");
    assert.equal(checkNode("v22.1.0", day).status, "pass");
    assert.equal(checkNode("v23.0.0", day).status, "warn");
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("audit of a daemon's home: admin tokens, tenant token expiry, the audit log's chain, image directories and each VM's files in them, tenant domains' quotas, agent policies and rate limits per VM", async () => {
  const h = newHome({ reclaim: { enabled: false } });
  const d = await startDaemon(h);
  // Everything after the start in the try: a failure anywhere still ends the daemon and its VMs.
  try {
    const tok = adminToken(h);
    const mk = async (body: Record<string, unknown>) => {
      const r = await api(h.socket, tok, "POST", "/v1/vms", body);
      assert.equal(r.status, 201, r.text);
    };
    const disk = join(h.dir, "images", "d.img");
    mkdirSync(dirname(disk), { recursive: true });
    writeFileSync(disk, Buffer.alloc(1 << 20));
    await mk({
      name: "open",
      memory_mib: 48,
      agent: { allow: ["info", "exec"] },
      disks: [{ path: disk }],
    });
    await mk({ name: "tight", memory_mib: 48, agent: {}, disks: [{ path: disk, bps: 1 << 20 }] });
    // One VM running: its live process is checked too (the database is read beside the daemon).
    assert.equal((await api(h.socket, tok, "POST", "/v1/vms/tight/start")).status, 200);
    const env = { root: "/", nodeVersion: "v22.0.0", now: new Date("2026-11-27") };
    const cfg = { ...defaultConfig(h.dir), socket: h.socket };
    const byId = async () => new Map((await audit({ ...env, config: cfg })).map((f) => [f.id, f]));
    let f = await byId();
    assert.equal(f.get("api.admin-tokens")?.status, "pass");
    assert.equal(f.get("api.token-expiry")?.status, "pass", "no tenant tokens yet");
    const tenant = (name: string, expires?: number) =>
      api(h.socket, tok, "POST", "/v1/tokens", {
        name,
        role: "tenant",
        domain: "acme",
        ...(expires ? { expires_in_s: expires } : {}),
      });
    assert.equal((await tenant("brief", 86400)).status, 201);
    assert.equal((await byId()).get("api.token-expiry")?.status, "pass");
    assert.equal((await tenant("forever")).status, 201);
    f = await byId();
    assert.equal(f.get("api.token-expiry")?.status, "warn");
    assert.match(f.get("api.token-expiry")!.why, /tenant token forever never expires/);
    assert.equal(f.get("audit.chain")?.status, "pass", f.get("audit.chain")?.why);
    assert.equal(f.get("vm.open.agent")?.status, "warn");
    assert.match(f.get("vm.open.agent")!.why, /allows exec/);
    assert.equal(f.get("vm.open.rate-limits")?.status, "warn");
    assert.equal(f.get("vm.tight.agent")?.status, "pass");
    assert.equal(f.get("vm.tight.rate-limits")?.status, "pass");
    const proc = f.get("vm.tight.process");
    assert.equal(proc?.status, "pass", proc?.why);
    assert.match(proc!.why, /seccomp filter, no capabilities, its own mount and PID namespaces/);
    assert.equal(f.get("vm.open.process"), undefined, "a VM that never ran has no process");
    // Image directories, and each VM's files in them.
    assert.equal(f.get("images.dirs")?.status, "pass", f.get("images.dirs")?.why);
    assert.equal(f.get("vm.open.images")?.status, "pass", f.get("vm.open.images")?.why);
    const elsewhere = join(h.dir, "images", "other");
    const moved = await audit({
      ...env,
      config: { ...cfg, imageDirs: [elsewhere], tenantImageDirs: [elsewhere] },
    });
    const openImages = moved.find((x) => x.id === "vm.open.images")!;
    assert.equal(openImages.status, "fail");
    assert.match(openImages.why, /disks\.0\.path \S+\/d\.img: not in the image directories/);
    const etc = await audit({ ...env, config: { ...cfg, imageDirs: ["/etc/images"] } });
    const dirs = etc.find((x) => x.id === "images.dirs")!;
    assert.equal(dirs.status, "fail");
    assert.match(dirs.why, /imageDirs\.0 \/etc\/images lies in \/etc, a system directory/);
    // Quotas: tenant domain acme has none; then a whole one; then one domain over its quota.
    assert.equal(f.get("quota.domains")?.status, "warn");
    assert.match(f.get("quota.domains")!.why, /tenant domain acme has no quota/);
    const full = { vcpus: 4, memoryMiB: 1024, vms: 10, diskBytes: 1 << 30 };
    const quotas = async (domainQuotas: DaemonConfig["domainQuotas"]) =>
      (await audit({ ...env, config: { ...cfg, domainQuotas } })).find(
        (x) => x.id === "quota.domains",
      )!;
    assert.equal((await quotas({ acme: full })).status, "pass");
    const part = await quotas({ acme: { vcpus: 4 } });
    assert.equal(part.status, "warn");
    assert.match(part.why, /tenant domain acme has no memoryMiB, vms, diskBytes quota/);
    const over = await quotas({ acme: full, default: { vms: 1 } });
    assert.equal(over.status, "warn");
    assert.match(over.why, /domain default holds 2 vms, over its quota of 1/);
    // An appended line that is not part of the chain: the chain check fails.
    appendFileSync(join(h.dir, "audit.log"), '{"seq":999,"forged":true}\n');
    f = await byId();
    assert.equal(f.get("audit.chain")?.status, "fail");
    assert.match(f.get("audit.chain")!.why, /the audit log was changed: line \d+/);
  } finally {
    await stopDaemon(h, d);
  }
});

test("audit: VM processes whose directory is gone are named, a jailed one once (its unshare)", () => {
  const argv = (...a: string[]) => a.join("\0") + "\0";
  const vm = (name: string, dir: string) => [
    "run",
    "--name",
    name,
    "--control",
    `${dir}/control.sock`,
    "--console-socket",
    `${dir}/console.sock`,
  ];
  const root = tree({
    // A VM whose home is still there; one whose home was removed; a jailed one whose home was
    // removed (unshare 30, its VMM 31); a `moat run` with a relative control socket; moat run
    // through a link named moat, its directory gone; not moat.
    "home/vms/a/exit.json": "",
    "proc/10/cmdline": argv("node", "/m/bin/moat.js", ...vm("kept", "/home/vms/a")),
    "proc/20/cmdline": argv("node", "/m/bin/moat.js", ...vm("left", "/gone/vms/b")),
    "proc/30/cmdline": argv(
      "/usr/bin/unshare",
      "--pid",
      "--fork",
      "--",
      "node",
      "/m/bin/moat.js",
      "--in-jail={}",
      ...vm("jailed", "/gone/vms/c"),
    ),
    "proc/30/comm": "unshare\n",
    "proc/30/task/30/children": "31 ",
    "proc/31/cmdline": argv(
      "node",
      "/m/bin/moat.js",
      "--in-jail={}",
      ...vm("jailed", "/gone/vms/c"),
    ),
    "proc/31/status": "Name:\tnode\nPPid:\t30\n",
    "proc/40/cmdline": argv("node", "/m/bin/moat.js", "run", "--control", "vm.sock"),
    "proc/50/cmdline": argv(
      "/usr/bin/node",
      "/usr/local/bin/moat",
      "run",
      "--control",
      "/gone/vms/e/c",
    ),
    "proc/60/cmdline": argv("sleep", "run", "--control", "/gone/x"),
    // a daemon's VM as it runs now: its config beside its directory
    "proc/70/cmdline": argv(
      "node",
      "/m/bin/moat.js",
      "vmm",
      "--config",
      "/gone/vms/f.json",
      "--name",
      "f",
    ),
    "proc/80/cmdline": argv("node", "/m/bin/moat.js", "vmm", "--config", "/home/vms/g.json"),
  });
  try {
    const f = checkVmOrphans(root);
    assert.equal(f.status, "fail");
    assert.equal(
      f.why,
      "VM processes whose directory is gone, so no daemon supervises them: " +
        "process 20 (VM left): /gone/vms/b/control.sock; process 30 (VM jailed): " +
        "/gone/vms/c/control.sock; process 50: /gone/vms/e/c; process 70 (VM f): /gone/vms/f.json",
    );
    assert.match(f.fix, /^kill -KILL 20 30 50 70 /);
    // The unshare gone, its VMM is named itself.
    rmSync(join(root, "proc/30"), { recursive: true });
    assert.match(checkVmOrphans(root).why, /process 31 \(VM jailed\): \/gone\/vms\/c\//);
    for (const pid of ["20", "31", "50", "70"])
      rmSync(join(root, "proc", pid), { recursive: true });
    assert.equal(checkVmOrphans(root).status, "pass");
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("a daemon's home removed under its running VM: moat audit names the VM's process and how to end it", async (t) => {
  const h = newHome({ reclaim: { enabled: false } });
  const d = await startDaemon(h);
  // Kills the home's VM processes by their command line, so also once the home is gone.
  t.after(() => stopDaemon(h, d));
  const tok = adminToken(h);
  const made = await api(h.socket, tok, "POST", "/v1/vms", { name: "left", memory_mib: 48 });
  assert.equal(made.status, 201, made.text);
  assert.equal((await api(h.socket, tok, "POST", "/v1/vms/left/start")).status, 200);
  const pid = ((await api(h.socket, tok, "GET", "/v1/vms/left")).body as { pid: number }).pid;
  // What a careless clean-up does: the daemon stopped (its VMs run on, by design), its home gone.
  d.p.kill("SIGTERM");
  await d.exited;
  rmSync(h.dir, { recursive: true, force: true });
  const orphans = async () => {
    const r = await moat(["audit", "--json", "--home", h.dir]);
    const all = (JSON.parse(r.stdout) as { findings: Finding[] }).findings;
    return all.find((f) => f.id === "vm.orphans")!;
  };
  const f = await orphans();
  assert.equal(f.status, "fail");
  assert.match(f.why, new RegExp(`process ${pid} \\(VM left\\): ${h.dir}/vms/\\S+`));
  assert.match(f.fix, new RegExp(`^kill -KILL (\\d+ )*${pid}\\b`));
  // The fix as printed ends it (a jailed VM: its unshare, and the VMM with it).
  process.kill(pid, "SIGKILL");
  await until("the VM to end", () => vmPids(h).length === 0);
  assert.doesNotMatch((await orphans()).why, new RegExp(`process ${pid} `));
});

test("moat audit on this host prints its findings; --json has the same; exit 1 only with a failure", async () => {
  const text = await moat(["audit"]);
  assert.match(text.stdout, /^(PASS|WARN|FAIL) {2}cpu\.vulnerabilities /m);
  assert.match(text.stdout, /\n\d+ pass, \d+ warn, \d+ fail\n$/);
  const json = await moat(["audit", "--json"]);
  const r = JSON.parse(json.stdout) as {
    findings: Finding[];
    summary: { pass: number; warn: number; fail: number };
  };
  const ids = r.findings.map((f) => f.id);
  for (const id of [
    "cpu.vulnerabilities",
    "cpu.smt",
    "memory.ksm",
    "memory.swap",
    "dev.kvm",
    "kvm.nested",
    "api.socket",
    "audit.chain",
    "vm.seccomp",
    "images.dirs",
    "vm.orphans",
    "runtime.node",
  ])
    assert.ok(ids.includes(id), `${id} checked`);
  for (const f of r.findings) {
    assert.ok(["pass", "warn", "fail"].includes(f.status), f.id);
    assert.ok(f.why.length > 0, f.id);
    if (f.status !== "pass") assert.ok(f.fix.length > 0, `${f.id} says how to fix it`);
  }
  assert.equal(json.status, r.summary.fail > 0 ? 1 : 0);
  assert.equal(text.status, json.status);
  const bad = await moat(["audit", "--config", "/nonexistent/moat.json"]);
  assert.equal(bad.status, 125);
  assert.match(bad.stderr, /config \/nonexistent\/moat\.json/);
});

test("moat audit --home without --config judges the settings that home's daemon started with, and says which", async () => {
  const images = mkdtempSync(join(tmpdir(), "moat-audit-imgs-"));
  const h = newHome({ imageDirs: [images], reclaim: { enabled: false } });
  const disk = join(images, "d.img");
  writeFileSync(disk, Buffer.alloc(1 << 20));
  const d = await startDaemon(h);
  try {
    const r = await api(h.socket, adminToken(h), "POST", "/v1/vms", {
      name: "v",
      memory_mib: 48,
      disks: [{ path: disk }],
    });
    assert.equal(r.status, 201, r.text);
    const run = async (args: string[]) => {
      const out = await moat(["audit", "--json", "--home", h.dir, ...args]);
      return new Map(
        (JSON.parse(out.stdout) as { findings: Finding[] }).findings.map((f) => [f.id, f]),
      );
    };
    // The daemon's own settings: its image directory holds the disk.
    let f = await run([]);
    assert.equal(f.get("settings")?.status, "pass");
    assert.match(f.get("settings")!.why, /settings\.json/);
    assert.equal(f.get("vm.v.images")?.status, "pass", f.get("vm.v.images")?.why);
    // An explicit --config still wins (here: the defaults, where the disk lies outside).
    const empty = join(h.dir, "empty.json");
    writeFileSync(empty, "{}");
    f = await run(["--config", empty]);
    assert.equal(f.get("vm.v.images")?.status, "fail");
  } finally {
    await stopDaemon(h, d);
    rmSync(images, { recursive: true, force: true });
  }
  // A home no daemon recorded settings in: the defaults, and a warning that says so.
  const bare = mkdtempSync(join(tmpdir(), "moat-audit-bare-"));
  const out = await moat(["audit", "--json", "--home", bare]);
  const s = (JSON.parse(out.stdout) as { findings: Finding[] }).findings.find(
    (x) => x.id === "settings",
  );
  assert.equal(s?.status, "warn");
  assert.match(s!.why, /no daemon has started with \S+ as its home .*moat's defaults/);
  rmSync(bare, { recursive: true, force: true });
});
