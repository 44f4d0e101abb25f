// What the daemon reports of the host and its VMs: one VM's figures (its processes' CPU time
// and memory, its cgroup, its VMM's own metrics and confinement), the host's capacity, policy
// and VM counts, and the Prometheus metrics (metrics.ts).
import type { Cgroups } from "./cgroup.js";
import type { DaemonConfig } from "./config.js";
import { hostCapacity } from "./host-capacity.js";
import { hostMemory, processCpuSeconds, processRss } from "./host-facts.js";
import { metricsRegistry } from "./metrics.js";
import { quotaView } from "./quota.js";
import type { Store, VmRecord } from "./store.js";
import type { Supervisor } from "./supervisor.js";

type Usage = { cpuSeconds?: number; vcpuSeconds?: number; rssBytes?: number };

export class VmStats {
  private readonly registry: ReturnType<typeof metricsRegistry>;

  /** `authFailures`: requests refused for want of a valid token (tokens.ts). */
  constructor(
    private readonly store: Store,
    private readonly supervisor: Supervisor,
    private readonly cgroups: Cgroups,
    private readonly cfg: DaemonConfig,
    authFailures: () => number,
  ) {
    this.registry = metricsRegistry({
      vms: () => this.store.vms(),
      capacity: () => hostCapacity(this.store, this.cfg),
      vmmMetrics: async (vm) => {
        try {
          const r = await this.supervisor.call(vm.id, { op: "metrics" }, 2000);
          return r.ok === true ? r : undefined;
        } catch {
          return undefined;
        }
      },
      usage: (vm) => this.usage(vm),
      authFailures,
    });
  }

  async stats(vm: VmRecord): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = { id: vm.id, name: vm.name, state: vm.state };
    if (vm.pid === null) return out;
    Object.assign(out, { pid: vm.pid, vmm_pid: this.supervisor.vmmPid(vm) ?? null });
    Object.assign(out, await this.usageView(vm));
    try {
      const m = await this.supervisor.call(vm.id, { op: "metrics" }, 2000);
      if (m.ok === true) out.vmm = m;
      // How the VM process is confined, as the process itself reports it.
      const st = await this.supervisor.call(vm.id, { op: "status" }, 2000);
      // The tier the soft CPU runs (the spec's, or the VMM's default); none on KVM.
      if (st.ok === true && typeof st.cpu_tier === "string") out.cpu_tier = st.cpu_tier;
      if (st.ok === true)
        out.confinement = {
          jailed: st.jailed === true,
          seccomp: st.seccomp ?? "off",
          ksm: st.ksm === true,
          memory_locked: st.memory_locked === true,
          uid: st.uid ?? null,
        };
    } catch {
      out.vmm ??= null;
    }
    return out;
  }

  private async usageView(vm: VmRecord): Promise<Record<string, unknown>> {
    const u = await this.usage(vm);
    const cg = this.supervisor.cgroupOf(vm);
    let cgMem: number | undefined;
    let cgLimit: number | undefined;
    try {
      cgMem = cg?.memoryBytes();
      cgLimit = cg?.memoryLimitBytes();
    } catch {
      // The group is being removed.
    }
    return {
      cpu_seconds: u.cpuSeconds,
      vcpu_seconds: u.vcpuSeconds,
      rss_bytes: u.rssBytes,
      cgroup_memory_bytes: cgMem,
      cgroup_memory_limit_bytes: cgLimit,
    };
  }

  private async usage(vm: VmRecord): Promise<Usage> {
    // A jailed VM's own figures are its VMM's, not its unshare's.
    const pid = this.supervisor.vmmPid(vm);
    if (pid === undefined) return {};
    const cpu = processCpuSeconds(pid);
    const rss = processRss(pid);
    const tids = await this.supervisor.vcpuThreadIds(vm);
    const per = tids?.map((t) => processCpuSeconds(pid, "/", t));
    const vcpu =
      per && per.every((x) => x !== undefined) ? per.reduce((a, b) => a! + b!, 0) : undefined;
    return {
      ...(cpu !== undefined ? { cpuSeconds: cpu } : {}),
      ...(vcpu !== undefined ? { vcpuSeconds: vcpu } : {}),
      ...(rss !== undefined ? { rssBytes: rss } : {}),
    };
  }

  host(): Record<string, unknown> {
    const vms = this.store.vms();
    const byState: Record<string, number> = {};
    for (const v of vms) byState[v.state] = (byState[v.state] ?? 0) + 1;
    const mem = hostMemory();
    return {
      capacity: hostCapacity(this.store, this.cfg),
      memory: {
        total_bytes: mem.totalBytes,
        available_bytes: mem.availableBytes,
        pressure_some10: mem.pressureSome10 ?? null,
      },
      policy: this.cfg.policy,
      quotas: quotaView(
        this.store.vms(),
        this.cfg.domainQuotas,
        this.store.snapshots(),
        this.store.images(),
      ),
      image_dirs: {
        operators: this.cfg.imageDirs,
        tenants: this.cfg.tenantImageDirs,
        domains: this.cfg.domainImageDirs,
      },
      vm_seccomp: this.cfg.vmSeccomp,
      vm_jail: this.cfg.vmJail,
      ksm: this.cfg.policy.ksmDomain !== undefined,
      cgroups: this.cgroups.version,
      vms: byState,
      reclaim: this.cfg.reclaim,
    };
  }

  /** One answered API request, for moat_api_requests_total. */
  countRequest(method: string, route: string, status: number): void {
    this.registry.countRequest(method, route, status);
  }

  async metrics(): Promise<{ contentType: string; body: string }> {
    await this.registry.gather();
    const reg = this.registry.registry;
    return { contentType: reg.contentType, body: await reg.metrics() };
  }
}
