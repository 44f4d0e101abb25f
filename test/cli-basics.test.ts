// The CLI basics users expect from docker, podman and virsh (issue 21): --version, starting a
// running VM as a no-op, create -f with the API's JSON, one name rule, errors naming flags,
// logs --tail/-f and ls -q/--format. Against a real `moat daemon` and real VM processes.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { moat } from "./support/moat-cli.js";
import {
  adminToken,
  cli,
  newHome,
  startDaemon,
  stopDaemon,
  vmState,
  type DaemonProc,
  type Home,
} from "./support/moatd.js";

let h: Home;
let d: DaemonProc;
before(async () => {
  h = newHome({ reclaim: { enabled: false } });
  d = await startDaemon(h);
});
after(() => stopDaemon(h, d));

test("moat --version and -V print package.json's version", async () => {
  const { version } = JSON.parse(readFileSync("package.json", "utf8")) as { version: string };
  for (const flag of ["--version", "-V"]) {
    const r = await moat([flag]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${version}\n`);
  }
});

test("moat start of a running VM is a no-op: exit 0, a note on stderr", async () => {
  const c = await cli(h, ["create", "--name", "up", "--memory", "64"]);
  assert.equal(c.status, 0, c.err);
  const s = await cli(h, ["start", "up"]);
  assert.equal(s.status, 0, s.err);
  const before = await vmState(h.socket, adminToken(h), "up", "running");
  const again = await cli(h, ["start", "up"]);
  assert.equal(again.status, 0, again.err);
  assert.equal(again.out, "up: running\n");
  assert.match(again.err, /^moat: up is already running\n$/);
  const still = await vmState(h.socket, adminToken(h), "up", "running");
  assert.equal(still.pid, before.pid, "the same VM process");
  assert.equal(still.restarts, before.restarts);
  const k = await cli(h, ["rm", "-f", "up"]);
  assert.equal(k.status, 0, k.err);
});
