// The daemon's home, as real `moat daemon` processes use it: one daemon per home (the kernel's
// flock decides between daemons started at the same instant), and an audit log that fails
// closed. On a full file system (a real tmpfs) a change is refused with 503 and not made; a
// last line cut short by a daemon that died mid-write is kept as evidence at the next start
// and the chain goes on; a daemon that cannot start says why in one line.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import {
  adminToken,
  api,
  cli,
  killVms,
  newHome,
  spawnDaemon,
  startDaemon,
  until,
  vmState,
  type DaemonProc,
  type Home,
} from "./support/moatd.js";
import { mountTmpfs } from "./support/tmpfs.js";

interface Entry {
  seq: number;
  action: string;
  ok: boolean;
  detail: { status?: number; phase?: string; intent_seq?: number; name?: string };
}

function auditEntries(h: Home): Entry[] {
  return readFileSync(join(h.dir, "audit.log"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Entry);
}

async function stop(d: DaemonProc | undefined): Promise<void> {
  if (d && d.p.exitCode === null) {
    d.p.kill("SIGTERM");
    await d.exited;
  }
}

/**
 * A daemon on a fresh 32 MiB tmpfs home (a file system the test can fill) running VM 'v';
 * everything is stopped and removed after the test. `daemon.d` is whichever daemon runs then.
 */
async function fullHomeWithVm(t: TestContext) {
  const base = newHome({ reclaim: { enabled: false } });
  const fs = mountTmpfs(32);
  const h: Home = { dir: fs.dir, socket: join(fs.dir, "moat.sock"), config: base.config };
  const daemon: { d: DaemonProc | undefined } = { d: await startDaemon(h) };
  t.after(async () => {
    await stop(daemon.d);
    await killVms(h);
    fs.remove();
    rmSync(base.dir, { recursive: true, force: true });
  });
  const admin = adminToken(h);
  const made = await api(h.socket, admin, "POST", "/v1/vms", { name: "v", memory_mib: 64 });
  assert.equal(made.status, 201, made.text);
  assert.equal((await api(h.socket, admin, "POST", "/v1/vms/v/start")).status, 200);
  const v = await vmState(h.socket, admin, "v", "running");
  return { h, fs, admin, v, daemon };
}

test("ten daemons started at once on one home: one runs, nine exit naming the home and its pid", async (t) => {
  const h = newHome({ reclaim: { enabled: false } });
  const ds = Array.from({ length: 10 }, () => spawnDaemon(h));
  t.after(async () => {
    await Promise.all(ds.map(stop));
    rmSync(h.dir, { recursive: true, force: true });
  });
  const decided = (d: DaemonProc): boolean =>
    d.p.exitCode !== null || d.log().includes("moatd: ready");
  await until("each of the ten daemons to run or exit", () => ds.every(decided), 240_000);
  const running = ds.filter((d) => d.p.exitCode === null);
  assert.equal(running.length, 1, ds.map((d) => d.log()).join("\n----\n"));
  const winner = running[0]!;
  for (const d of ds) {
    if (d === winner) continue;
    await d.exited;
    assert.notEqual(d.p.exitCode, 0);
    assert.equal(
      d.log(),
      `moat: another moat daemon (pid ${winner.p.pid}) holds ${h.dir} (its lock on ${h.dir}/moatd.pid)\n`,
    );
  }
  assert.equal(readFileSync(join(h.dir, "moatd.pid"), "utf8"), `${winner.p.pid}\n`);
  assert.equal((await api(h.socket, adminToken(h), "GET", "/v1/vms")).status, 200);
  // One daemon wrote the log: one start, one chain.
  assert.deepEqual(
    auditEntries(h).map((e) => e.action),
    ["daemon.start"],
  );
  const v = await cli(h, ["audit-log", "verify"]);
  assert.equal(v.status, 0, v.out + v.err);
});

test("a full home: create, pause and a new token get 503 and change nothing; a torn last line is kept at the next start", async (t) => {
  const { h, fs, admin, v, daemon } = await fullHomeWithVm(t);

  fs.fill();
  const seen = auditEntries(h).length;
  const changes: [string, string, unknown][] = [
    ["POST", "/v1/vms", { name: "w" }],
    ["POST", "/v1/vms/v/pause", undefined],
    ["POST", "/v1/tokens", { name: "x", role: "admin" }],
  ];
  for (const [method, path, body] of changes) {
    const r = await api(h.socket, admin, method, path, body);
    assert.equal(r.status, 503, `${method} ${path}: ${r.text}`);
    assert.match(
      (r.body as { error: string }).error,
      /^the audit log cannot record this change, so it was not made: .* has 0\.0 MiB free, under the 1\.0 MiB kept/,
    );
  }
  // Nothing was changed: no VM w, v still running, no token x.
  const vms = (await api(h.socket, admin, "GET", "/v1/vms")).body as { name: string }[];
  assert.deepEqual(
    vms.map((x) => x.name),
    ["v"],
  );
  assert.equal((await vmState(h.socket, admin, "v", "running")).pid, v.pid);
  const tokens = (await api(h.socket, admin, "GET", "/v1/tokens")).body as { name: string }[];
  assert.deepEqual(
    tokens.map((x) => x.name),
    ["admin"],
  );
  // The log holds the three refusals (in the room kept past its end), and no intent.
  assert.deepEqual(
    auditEntries(h)
      .slice(seen)
      .map((e) => [e.action, e.ok, e.detail.status, e.detail.phase]),
    [
      ["vm.create", false, 503, undefined],
      ["vm.pause", false, 503, undefined],
      ["token.create", false, 503, undefined],
    ],
  );

  // The daemon dies in the middle of a write: part of a line at the end of the log.
  daemon.d!.p.kill("SIGKILL");
  await daemon.d!.exited;
  daemon.d = undefined;
  const log = join(h.dir, "audit.log");
  const torn = '{"seq":999,"time":"2030-01-01T00:00:00.000Z","actor":"admin#';
  appendFileSync(log, torn);
  const tornLog = readFileSync(log);

  // Still full: the next daemon cannot keep the torn line aside, so it does not start, and
  // says why in one line (no stack trace); the log is as it was.
  const failed = spawnDaemon(h);
  await failed.exited;
  assert.notEqual(failed.p.exitCode, 0);
  assert.match(
    failed.log(),
    /^moat: [^\n]*audit\.log: its last line was cut short [^\n]*cannot be kept in [^\n]*audit\.log\.torn: ENOSPC[^\n]*\n$/,
  );
  assert.deepEqual(readFileSync(log), tornLog);

  fs.unfill();
  const d = (daemon.d = await startDaemon(h));
  assert.match(
    d.log(),
    /moatd: the audit log's last line was cut short \(\d+ bytes\); moved to audit\.log\.torn/,
  );
  assert.equal(readFileSync(`${log}.torn`, "utf8"), `${torn}\n`);
  // The VM ran on without a daemon and was taken over.
  assert.equal((await vmState(h.socket, admin, "v", "running")).pid, v.pid);
  const verify = await cli(h, ["audit-log", "verify"]);
  assert.equal(verify.status, 0, verify.out + verify.err);
  assert.match(verify.out, /chain intact, head matches the database/);
  assert.match(verify.out, /line \d+: note: the daemon found the log's last line cut short/);

  // With room again, a change is made, recorded before (intent) and after (outcome).
  assert.equal((await api(h.socket, admin, "POST", "/v1/vms/v/pause")).status, 200);
  const [intent, outcome] = auditEntries(h).slice(-2);
  assert.deepEqual(
    [intent!.action, intent!.ok, intent!.detail.phase],
    ["vm.pause", true, "intent"],
  );
  assert.deepEqual(
    [outcome!.action, outcome!.detail.status, outcome!.detail.intent_seq],
    ["vm.pause", 200, intent!.seq],
  );
  assert.equal((await api(h.socket, admin, "DELETE", "/v1/vms/v?force=true")).status, 204);
});

test("a full home: a VM that ends is still supervised (the daemon stays up) and its end is recorded once there is room", async (t) => {
  const { h, fs, admin, v, daemon } = await fullHomeWithVm(t);
  const d = daemon.d!;

  // The disk fills, then the VM process dies: the daemon must record what it can and stay up.
  fs.fill();
  process.kill(v.pid!, "SIGKILL");
  await until(
    "the daemon to keep v's record in memory",
    () => /VM 'v': its record was not saved/.test(d.log()),
    30000,
  );
  assert.equal(d.p.exitCode, null, `the daemon ended: ${d.log()}`);
  const seen = await vmState(h.socket, admin, "v", "crashed");
  assert.match(seen.last_exit!.reason, /killed by SIGKILL/);

  // Room again: the record catches up without another event.
  fs.unfill();
  await until(
    "v's record to be saved",
    () => /VM 'v': its record is saved again/.test(d.log()),
    30000,
  );
  const db = await cli(h, ["inspect", "v"]);
  assert.equal(db.status, 0, db.err);
  assert.match(db.out, /"state": "crashed"/);
});
