// `moat host` for a person: the host's capacity, memory and policy as labelled lines, and each
// domain's use against its quota as a table (--json prints the API's answer instead).
import type { Capacity } from "../host/admission.js";
import type { DomainQuota, DomainUse } from "../host/quota.js";
import { sizeText, table } from "./text-table.js";

/** What `GET /v1/host` answers (vm-stats.ts host()), as far as the text shows it. */
export interface HostView {
  capacity: Capacity;
  memory: { total_bytes: number; available_bytes: number; pressure_some10: number | null };
  policy: { pinning: boolean; ksmDomain?: string };
  quotas: Record<string, { used: DomainUse; quota: DomainQuota | null }>;
  vm_seccomp: string;
  vm_jail: boolean;
  ksm: boolean;
  cgroups: string;
  vms: Record<string, number>;
  reclaim: { enabled: boolean };
}

const MiB = 1 << 20;

export function hostText(h: HostView): string {
  const c = h.capacity;
  const states = Object.entries(h.vms)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s}`);
  const pressure =
    h.memory.pressure_some10 === null ? "" : `, pressure ${h.memory.pressure_some10}% (10 s)`;
  const lines = table([
    ["host", `${c.host_cpus} CPUs, ${sizeText(c.host_memory_mib * MiB)} of memory`],
    ["vCPUs", `${c.vcpus_used} of ${c.vcpus_limit} admitted (${c.headroom.vcpus} free)`],
    [
      "memory",
      `${sizeText(c.memory_used_mib * MiB)} of ${sizeText(c.memory_limit_mib * MiB)} admitted ` +
        `(${sizeText(c.headroom.memory_mib * MiB)} free); ` +
        `${sizeText(h.memory.available_bytes)} available now${pressure}`,
    ],
    ["VMs", states.length > 0 ? states.join(", ") : "none"],
    ["pinning", h.policy.pinning ? "on" : "off"],
    ["KSM", h.ksm ? `on (domain ${h.policy.ksmDomain ?? "?"} only)` : "off"],
    ["reclaim", h.reclaim.enabled ? "on" : "off"],
    ["VM jail", h.vm_jail ? "on" : "off"],
    ["VM seccomp", h.vm_seccomp],
    ["cgroups", h.cgroups],
  ]);
  const domains = Object.entries(h.quotas);
  if (domains.length === 0) return lines;
  const of = (used: number, quota: number | undefined, text: (n: number) => string = String) =>
    `${text(used)}/${quota === undefined ? "-" : text(quota)}`;
  const mib = (n: number): string => sizeText(n * MiB);
  return (
    lines +
    "\n" +
    table([
      ["DOMAIN", "VCPUS", "MEMORY", "VMS", "DISKS", "SNAPSHOTS"],
      ...domains.map(([d, { used, quota }]) => [
        d,
        of(used.vcpus, quota?.vcpus),
        of(used.memoryMiB, quota?.memoryMiB, mib),
        of(used.vms, quota?.vms),
        of(used.diskBytes, quota?.diskBytes, sizeText),
        of(used.snapshots, quota?.snapshots),
      ]),
    ]) +
    "(used/quota; -: no quota)\n"
  );
}
