// The daemon's Prometheus metrics from a real `moat daemon` process and a real VM on the soft
// CPU: the vCPU threads' CPU time, and the daemon's own process, build and request series.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  adminToken,
  api,
  newHome,
  startDaemon,
  stopDaemon,
  until,
  type DaemonProc,
  type Home,
} from "./support/moatd.js";
import { REPO } from "./support/moat-cli.js";

let h: Home;
let d: DaemonProc;
let admin: string;

before(async () => {
  h = newHome({ reclaim: { enabled: false } });
  d = await startDaemon(h);
  admin = adminToken(h);
});

after(async () => {
  await stopDaemon(h, d);
});

/** The value of the first series of `name` whose labels include `label`, or undefined. */
function sample(text: string, name: string, label: string): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) || !line.includes(label)) continue;
    return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return undefined;
}

test("vcpu_seconds reads the vCPU threads' CPU time of a running VM", async () => {
  const made = await api(h.socket, admin, "POST", "/v1/vms", { name: "busy", memory_mib: 40 });
  assert.equal(made.status, 201, made.text);
  const started = await api(h.socket, admin, "POST", "/v1/vms/busy/start");
  assert.equal(started.status, 200, started.text);
  // Booting Linux keeps the hart busy: its thread's CPU time grows past zero.
  const m = await until("a vCPU time above zero", async () => {
    const x = (await api(h.socket, admin, "GET", "/metrics")).text;
    const v = sample(x, "moat_vm_vcpu_seconds_total", 'name="busy"');
    return v !== undefined && v > 0 ? x : undefined;
  });
  const vcpu = sample(m, "moat_vm_vcpu_seconds_total", 'name="busy"')!;
  const cpu = sample(m, "moat_vm_cpu_seconds_total", 'name="busy"')!;
  assert.ok(vcpu <= cpu, `vCPU threads ${vcpu} s within the process's ${cpu} s`);
  const st = await api(h.socket, admin, "GET", "/v1/vms/busy/stats");
  assert.ok((st.body as { vcpu_seconds: number }).vcpu_seconds > 0, st.text);
  await api(h.socket, admin, "POST", "/v1/vms/busy/kill");
});

test("the daemon's own process, its build, and API requests by route and status", async () => {
  const before = sample(
    (await api(h.socket, admin, "GET", "/metrics")).text,
    "moat_api_requests_total",
    'route="/v1/vms/:vm",status="404"',
  );
  for (let i = 0; i < 3; i++)
    assert.equal((await api(h.socket, admin, "GET", "/v1/vms/nosuch")).status, 404);
  assert.equal((await api(h.socket, undefined, "GET", "/v1/host")).status, 401);
  assert.equal((await api(h.socket, admin, "GET", "/v1/no/such/route")).status, 404);
  const m = (await api(h.socket, admin, "GET", "/metrics")).text;
  const n = sample(m, "moat_api_requests_total", 'route="/v1/vms/:vm",status="404"');
  assert.equal(n, (before ?? 0) + 3, m);
  assert.match(m, /^moat_api_requests_total\{method="GET",route="\/v1\/host",status="401"\} 1$/m);
  assert.match(m, /^moat_api_requests_total\{method="GET",route="unmatched",status="404"\} 1$/m);
  const version = (
    JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { version: string }
  ).version;
  assert.match(
    m,
    new RegExp(
      `^moat_build_info\\{version="${version}",node_version="${process.versions.node}"\\} 1$`,
      "m",
    ),
  );
  // The daemon's own figures (a separate process: not this test's).
  assert.match(m, /^process_cpu_seconds_total [0-9.e-]+$/m);
  assert.ok(Number(/^process_resident_memory_bytes (\d+)$/m.exec(m)?.[1]) > 1 << 20, m);
  assert.ok(Number(/^process_open_fds (\d+)$/m.exec(m)?.[1]) > 3, m);
});
