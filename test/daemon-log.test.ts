// The daemon's log as an operator reads it: JSON lines with `--log-format json` (each request
// with its route, status and caller, never its token; each VM state change; supervision events
// such as a restart), text lines ("moatd: ...") by default. A real `moat daemon` process and
// real VM processes on the soft CPU.
import { test } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { makeLog } from "../src/host/log.js";
import {
  adminToken,
  api,
  newHome,
  spawnDaemon,
  startDaemon,
  stopDaemon,
  until,
  vmState,
  type DaemonProc,
  type VmView,
} from "./support/moatd.js";

type Line = Record<string, unknown>;

/** The daemon's output as JSON lines; fails on any line that is not one. */
function jsonLines(d: DaemonProc): Line[] {
  return d
    .log()
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => {
      try {
        return JSON.parse(l) as Line;
      } catch {
        throw new Error(`not a JSON line: ${l}`);
      }
    });
}

/** Waits for the daemon's JSON line that `match` picks. */
function line(d: DaemonProc, what: string, match: (l: Line) => boolean): Promise<Line> {
  return until(what, () => jsonLines(d).find(match), 60000);
}

test("moat daemon --log-format json: requests, VM states and a restart as JSON lines", async (t) => {
  const h = newHome({ reclaim: { enabled: false }, restartBackoffMs: { initial: 200, max: 1000 } });
  const d = spawnDaemon(h, ["--log-format", "json"]);
  t.after(() => stopDaemon(h, d));
  const ready = await line(d, "the ready line", (l) => String(l.msg).startsWith("ready"));
  assert.equal(ready.level, "info");
  assert.equal(ready.name, "moatd");
  assert.ok(!Number.isNaN(Date.parse(String(ready.time))), "an ISO time");
  const tok = adminToken(h);

  const created = await api(h.socket, tok, "POST", "/v1/vms", {
    name: "a",
    memory_mib: 48,
    restart: "always",
  });
  assert.equal(created.status, 201);
  assert.equal((await api(h.socket, tok, "POST", "/v1/vms/a/start")).status, 200);
  const req = await line(
    d,
    "the start request's line",
    (l) => l.event === "request" && l.method === "POST" && String(l.route).endsWith("/start"),
  );
  assert.equal(req.level, "info");
  assert.equal(req.route, "/v1/vms/:vm/start");
  assert.equal(req.status, 200);
  assert.equal(req.vm, "a");
  assert.deepEqual(req.caller, { name: "admin", role: "admin" });
  assert.equal(typeof req.ms, "number");
  assert.match(String(req.msg), /^POST \/v1\/vms\/:vm\/start 200 [\d.]+ ms \(admin, admin\)$/);
  for (const state of ["starting", "running"]) {
    const s = await line(
      d,
      `VM a ${state}`,
      (l) => l.event === "vm.state" && l.vm === "a" && l.state === state,
    );
    assert.equal(s.level, "info");
    assert.equal(s.msg, `VM 'a' ${state}`);
  }

  // A failure is a warning: no such VM.
  assert.equal((await api(h.socket, tok, "GET", "/v1/vms/nosuch")).status, 404);
  const missing = await line(d, "the 404's line", (l) => l.event === "request" && l.status === 404);
  assert.equal(missing.level, "warn");
  assert.equal(missing.route, "/v1/vms/:vm");
  // The line says why, as the reply did.
  assert.equal(missing.error, "no VM 'nosuch'");
  assert.match(String(missing.msg), /GET \/v1\/vms\/:vm 404 .*: no VM 'nosuch'$/);

  // Supervision: the VM killed, then crashed (a warning), then restarted by its policy.
  const vm = (await api(h.socket, tok, "GET", "/v1/vms/a")).body as VmView;
  process.kill(vm.pid!, "SIGKILL");
  const crashed = await line(
    d,
    "VM a crashed",
    (l) => l.event === "vm.state" && l.state === "crashed",
  );
  assert.equal(crashed.level, "warn");
  assert.equal(crashed.reason, "killed by SIGKILL");
  await line(d, "the restart scheduled", (l) => l.event === "restart.scheduled" && l.vm === "a");
  const restart = await line(d, "the restart", (l) => l.event === "restart" && l.vm === "a");
  assert.equal(restart.level, "info");
  assert.equal(restart.restarts, 1);
  await vmState(h.socket, tok, "a", "running", (v) => v.restarts === 1);

  assert.ok(!d.log().includes(tok), "the token is never logged");
  jsonLines(d); // every line, to the last, is JSON
});

test("moat daemon logs text lines by default, and refuses an unknown logFormat", async (t) => {
  const h = newHome({ reclaim: { enabled: false } });
  const d = await startDaemon(h);
  t.after(() => stopDaemon(h, d));
  assert.equal((await api(h.socket, adminToken(h), "GET", "/v1/vms")).status, 200);
  await until("the request's text line", () =>
    /^moatd: GET \/v1\/vms 200 [\d.]+ ms \(admin, admin\)$/m.test(d.log()),
  );
  for (const l of d
    .log()
    .split("\n")
    .filter((x) => x !== ""))
    assert.match(l, /^moatd: /, "every line is text");

  const bad = newHome({ logFormat: "xml" });
  t.after(() => rmSync(bad.dir, { recursive: true, force: true }));
  const b = spawnDaemon(bad);
  assert.notEqual(await b.exited, 0);
  assert.match(b.log(), /logFormat must be equal to one of the allowed values/);
});

test("a daemon that takes a running VM over logs it (adopt)", async (t) => {
  const h = newHome({ reclaim: { enabled: false } });
  const first = spawnDaemon(h, ["--log-format", "json"]);
  await line(first, "the first daemon ready", (l) => String(l.msg).startsWith("ready"));
  const tok = adminToken(h);
  assert.equal(
    (await api(h.socket, tok, "POST", "/v1/vms", { name: "b", memory_mib: 48 })).status,
    201,
  );
  assert.equal((await api(h.socket, tok, "POST", "/v1/vms/b/start")).status, 200);
  const pid = ((await api(h.socket, tok, "GET", "/v1/vms/b")).body as VmView).pid;
  first.p.kill("SIGKILL");
  await first.exited;
  const d = spawnDaemon(h, ["--log-format", "json"]);
  t.after(() => stopDaemon(h, d));
  const adopt = await line(d, "the take-over", (l) => l.event === "adopt" && l.vm === "b");
  assert.equal(adopt.level, "info");
  assert.equal(adopt.vm_pid, pid);
  assert.equal(adopt.pid, d.p.pid, "pid is the daemon's own");
  await line(d, "the second daemon ready", (l) => String(l.msg).startsWith("ready"));
  assert.equal(adopt.msg, `VM 'b' taken over (pid ${pid})`);
});

test("a text log line cannot be forged: control characters in a message are escaped", () => {
  const out: string[] = [];
  const log = makeLog("text", (l) => out.push(l));
  log.error("restart failed: bad\nmoatd: VM 'x' running\x1b[2J");
  assert.deepEqual(out, ["moatd: restart failed: bad\\x0amoatd: VM 'x' running\\x1b[2J\n"]);
  const json: string[] = [];
  makeLog("json", (l) => json.push(l)).error("bad\nline", { vm: "x" });
  assert.equal(json.length, 1);
  assert.deepEqual(
    [JSON.parse(json[0]!).level, JSON.parse(json[0]!).msg, JSON.parse(json[0]!).vm],
    ["error", "bad\nline", "x"],
  );
});
