// Admission control: whether the host can take one more VM, and where its vCPUs go. A VM is
// refused (with the figures) rather than started into a host that cannot carry it: guest memory
// beyond host memory x overcommit, vCPUs beyond host CPUs x overcommit, no physical core free of
// other trust domains when pinning is on, or another domain on a host that deduplicates pages.
import type { HostCpu } from "./host-facts.js";
import type { VmSpec } from "./vm-spec.js";
import { MoatError } from "../base/moat-error.js";

export interface CapacityPolicy {
  /** vCPUs per host CPU that may be admitted. */
  cpuOvercommit: number;
  /** Guest memory per byte of host memory that may be admitted. */
  memoryOvercommit: number;
  /** Host memory kept back for the host itself and the VMM processes, MiB. */
  memoryReserveMiB: number;
  /** Pin every vCPU thread to host CPUs, never sharing a physical core across trust domains. */
  pinning: boolean;
  /** KSM (page deduplication) on: only VMs of this one domain are admitted. */
  ksmDomain?: string;
}

export interface ActiveVm {
  name: string;
  domain: string;
  cpus: number;
  memoryMiB: number;
  pinned: number[] | null;
}

export interface HostShape {
  cpus: HostCpu[];
  memoryMiB: number;
}

export interface Capacity {
  host_cpus: number;
  host_memory_mib: number;
  vcpus_limit: number;
  vcpus_used: number;
  memory_limit_mib: number;
  memory_used_mib: number;
  headroom: { vcpus: number; memory_mib: number };
  /** Physical core -> the trust domain whose VMs are pinned to it. */
  core_domains: Record<string, string>;
}

export class AdmissionError extends MoatError {
  override readonly kind = "conflict";
}

/** Limits and what active VMs use of them. */
export function capacity(host: HostShape, active: ActiveVm[], p: CapacityPolicy): Capacity {
  const vcpusLimit = Math.floor(host.cpus.length * p.cpuOvercommit);
  const memLimit = Math.max(
    0,
    Math.floor(host.memoryMiB * p.memoryOvercommit - p.memoryReserveMiB),
  );
  const vcpusUsed = active.reduce((s, v) => s + v.cpus, 0);
  const memUsed = active.reduce((s, v) => s + v.memoryMiB, 0);
  return {
    host_cpus: host.cpus.length,
    host_memory_mib: host.memoryMiB,
    vcpus_limit: vcpusLimit,
    vcpus_used: vcpusUsed,
    memory_limit_mib: memLimit,
    memory_used_mib: memUsed,
    headroom: { vcpus: vcpusLimit - vcpusUsed, memory_mib: memLimit - memUsed },
    core_domains: coreDomains(host.cpus, active),
  };
}

function coreDomains(cpus: HostCpu[], active: ActiveVm[]): Record<string, string> {
  const coreOf = new Map(cpus.map((c) => [c.cpu, c.core]));
  const out: Record<string, string> = {};
  for (const v of active)
    for (const cpu of v.pinned ?? []) {
      const core = coreOf.get(cpu);
      if (core !== undefined) out[core] = v.domain;
    }
  return out;
}

/**
 * Admits `spec` next to `active` or throws AdmissionError saying which limit it would pass.
 * Returns the host CPUs its vCPUs are pinned to (vCPU i -> pinned[i % n]) when pinning is on.
 */
export function admit(
  spec: Pick<VmSpec, "name" | "domain" | "cpus" | "memory_mib">,
  active: ActiveVm[],
  host: HostShape,
  p: CapacityPolicy,
): { pinned: number[] | null } {
  if (p.ksmDomain !== undefined && spec.domain !== p.ksmDomain)
    throw new AdmissionError(
      `this host deduplicates memory (KSM) for trust domain '${p.ksmDomain}' only; ` +
        `'${spec.name}' is in domain '${spec.domain}' (page sharing across domains is a side channel)`,
    );
  const cap = capacity(host, active, p);
  if (spec.memory_mib > cap.headroom.memory_mib)
    throw new AdmissionError(
      `not enough memory for '${spec.name}': it wants ${spec.memory_mib} MiB, ` +
        `${Math.max(0, cap.headroom.memory_mib)} MiB are left (host ${host.memoryMiB} MiB x ` +
        `overcommit ${p.memoryOvercommit} - reserve ${p.memoryReserveMiB} MiB = ` +
        `${cap.memory_limit_mib} MiB, ${cap.memory_used_mib} MiB admitted)`,
    );
  if (spec.cpus > cap.headroom.vcpus)
    throw new AdmissionError(
      `not enough CPU for '${spec.name}': it wants ${spec.cpus} vCPUs, ` +
        `${Math.max(0, cap.headroom.vcpus)} are left (${host.cpus.length} host CPUs x ` +
        `overcommit ${p.cpuOvercommit} = ${cap.vcpus_limit}, ${cap.vcpus_used} admitted)`,
    );
  if (!p.pinning) return { pinned: null };
  return { pinned: place(spec, active, host.cpus, p.cpuOvercommit) };
}

/**
 * Chooses host CPUs for a pinned VM. A physical core belongs to at most one trust domain at a
 * time (SMT siblings share caches and execution units: the L1TF/MDS class of leaks). A VM packs
 * onto its own domain's cores while they have room, and otherwise takes one free core.
 */
function place(
  spec: Pick<VmSpec, "name" | "domain" | "cpus">,
  active: ActiveVm[],
  cpus: HostCpu[],
  overcommit: number,
): number[] {
  const owner = coreDomains(cpus, active);
  const coreOf = new Map(cpus.map((c) => [c.cpu, c.core]));
  // Each pinned VM sits on one core (place() gives it one): its vCPUs load that core.
  const load = new Map<string, number>();
  for (const v of active) {
    const core = v.pinned?.[0] === undefined ? undefined : coreOf.get(v.pinned[0]);
    if (core !== undefined) load.set(core, (load.get(core) ?? 0) + v.cpus);
  }
  const threads = (core: string): number[] => cpus.filter((c) => c.core === core).map((c) => c.cpu);
  const cores = [...new Set(cpus.map((c) => c.core))];
  const room = (core: string): boolean =>
    (load.get(core) ?? 0) + spec.cpus <= threads(core).length * overcommit;
  const own = cores
    .filter((c) => owner[c] === spec.domain && room(c))
    .sort((a, b) => (load.get(a) ?? 0) - (load.get(b) ?? 0));
  if (own.length > 0) return threads(own[0]!);
  const free = cores.filter((c) => owner[c] === undefined);
  if (free.length > 0) return threads(free[0]!);
  const held = [...new Set(Object.values(owner))].filter((d) => d !== spec.domain);
  throw new AdmissionError(
    `no physical core is free for trust domain '${spec.domain}' ('${spec.name}'): ` +
      `with pinning on, cores are not shared across domains, and domains ${held.join(", ")} ` +
      `hold them all`,
  );
}
