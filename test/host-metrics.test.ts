// The daemon's Prometheus metrics from a real `moat daemon` process and a real VM on the soft
// CPU: the vCPU threads' CPU time, and the daemon's own process, build and request series.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
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
