// Prometheus metrics (prom-client): gathered on each scrape from the VM records, /proc and each
// running VMM's `metrics` reply. A VMM that does not answer in time costs its own series only.
// Also the daemon's own process (prom-client's default metrics), its build, and API requests.
import { Gauge, Counter, Registry, collectDefaultMetrics } from "prom-client";
import { moatVersion } from "../base/moat-version.js";
import type { VmRecord } from "./store.js";
import { VM_STATES } from "./vm-spec.js";
import type { Capacity } from "./admission.js";
import type { MetricsReply } from "../vmm/control-protocol.js";

export interface MetricsSource {
  vms(): VmRecord[];
  capacity(): Capacity;
  /** The VMM's metrics reply (exits, disks, nets, balloon), or undefined if it did not answer. */
  vmmMetrics(vm: VmRecord): Promise<MetricsReply | undefined>;
  /** CPU seconds of the VM process (all threads) and of its vCPU threads, and RSS bytes. */
  usage(vm: VmRecord): Promise<{ cpuSeconds?: number; vcpuSeconds?: number; rssBytes?: number }>;
  /** API requests refused for want of a valid token, since the daemon started. */
  authFailures(): number;
}

type Labels = Record<string, string>;

function counter(reg: Registry, name: string, help: string, labelNames: string[]): Counter<string> {
  return new Counter({ name, help, labelNames, registers: [reg] });
}

/**
 * A registry and the function that refreshes it from the live figures (values are set, not
 * accumulated): call gather() before reading the registry.
 */
export function metricsRegistry(src: MetricsSource): {
  registry: Registry;
  gather: () => Promise<void>;
  /** Counts one answered API request (kept across scrapes, unlike the gathered figures). */
  countRequest: (method: string, route: string, status: number) => void;
} {
  const reg = new Registry();
  // The daemon's CPU, RSS, open fds, heap and event-loop lag (process_*, nodejs_*).
  collectDefaultMetrics({ register: reg });
  new Gauge({
    name: "moat_build_info",
    help: "The running daemon's moat version and Node.js version (always 1)",
    labelNames: ["version", "node_version"],
    registers: [reg],
  }).set({ version: moatVersion(), node_version: process.versions.node }, 1);
  const requests = counter(reg, "moat_api_requests_total", "API requests answered", [
    "method",
    "route",
    "status",
  ]);
  const vmL = ["vm", "name", "domain"];
  const state = new Gauge({
    name: "moat_vms",
    help: "VMs by state",
    labelNames: ["state"],
    registers: [reg],
  });
  const headVcpu = new Gauge({
    name: "moat_admission_headroom_vcpus",
    help: "vCPUs that may still be admitted",
    registers: [reg],
  });
  const headMem = new Gauge({
    name: "moat_admission_headroom_memory_bytes",
    help: "Guest memory that may still be admitted",
    registers: [reg],
  });
  const cpu = counter(
    reg,
    "moat_vm_cpu_seconds_total",
    "CPU time of the VM process, all threads",
    vmL,
  );
  const vcpu = counter(reg, "moat_vm_vcpu_seconds_total", "CPU time of the VM's vCPU threads", vmL);
  const exits = counter(reg, "moat_vm_exits_total", "vCPU exits to the VMM by reason", [
    ...vmL,
    "reason",
  ]);
  const diskBytes = counter(reg, "moat_vm_disk_bytes_total", "Disk bytes", [...vmL, "disk", "op"]);
  const diskOps = counter(reg, "moat_vm_disk_ops_total", "Disk requests", [...vmL, "disk", "op"]);
  const netBytes = counter(reg, "moat_vm_net_bytes_total", "Network bytes", [...vmL, "nic", "dir"]);
  const netFrames = counter(reg, "moat_vm_net_frames_total", "Network frames", [
    ...vmL,
    "nic",
    "dir",
  ]);
  const balloon = new Gauge({
    name: "moat_vm_balloon_bytes",
    help: "Memory in the VM's balloon",
    labelNames: vmL,
    registers: [reg],
  });
  const rss = new Gauge({
    name: "moat_vm_rss_bytes",
    help: "Resident memory of the VM process",
    labelNames: vmL,
    registers: [reg],
  });
  const mem = new Gauge({
    name: "moat_vm_memory_bytes",
    help: "Guest RAM configured",
    labelNames: vmL,
    registers: [reg],
  });

  const authFailures = counter(
    reg,
    "moat_api_auth_failures_total",
    "API requests refused for want of a valid token",
    [],
  );

  const gather = async (): Promise<void> => {
    for (const m of [
      authFailures,
      state,
      cpu,
      vcpu,
      exits,
      diskBytes,
      diskOps,
      netBytes,
      netFrames,
      balloon,
      rss,
      mem,
    ])
      m.reset();
    authFailures.inc(src.authFailures());
    const vms = src.vms();
    for (const s of VM_STATES) state.set({ state: s }, vms.filter((v) => v.state === s).length);
    const cap = src.capacity();
    headVcpu.set(cap.headroom.vcpus);
    headMem.set(cap.headroom.memory_mib * 1024 * 1024);
    await Promise.all(
      vms.map(async (v) => {
        const l: Labels = { vm: v.id, name: v.name, domain: v.domain };
        mem.set(l, v.spec.memory_mib * 1024 * 1024);
        if (v.pid === null) return;
        const u = await src.usage(v);
        if (u.cpuSeconds !== undefined) cpu.inc(l, u.cpuSeconds);
        if (u.vcpuSeconds !== undefined) vcpu.inc(l, u.vcpuSeconds);
        if (u.rssBytes !== undefined) rss.set(l, u.rssBytes);
        const m = await src.vmmMetrics(v);
        if (!m) return;
        for (const [reason, n] of Object.entries(m.exits)) exits.inc({ ...l, reason }, n);
        for (const d of m.disks) {
          const dl = { ...l, disk: d.name };
          diskBytes.inc({ ...dl, op: "read" }, d.read_bytes);
          diskBytes.inc({ ...dl, op: "write" }, d.write_bytes);
          diskOps.inc({ ...dl, op: "read" }, d.read_ops);
          diskOps.inc({ ...dl, op: "write" }, d.write_ops);
          diskOps.inc({ ...dl, op: "flush" }, d.flush_ops);
        }
        for (const n of m.nets) {
          const nl = { ...l, nic: n.name };
          netBytes.inc({ ...nl, dir: "rx" }, n.rx_bytes);
          netBytes.inc({ ...nl, dir: "tx" }, n.tx_bytes);
          netFrames.inc({ ...nl, dir: "rx" }, n.rx_frames);
          netFrames.inc({ ...nl, dir: "tx" }, n.tx_frames);
        }
        if (m.balloon) balloon.set(l, m.balloon.actual_mib * 1024 * 1024);
      }),
    );
  };
  const countRequest = (method: string, route: string, status: number): void =>
    requests.inc({ method, route, status: String(status) });
  return { registry: reg, gather, countRequest };
}
