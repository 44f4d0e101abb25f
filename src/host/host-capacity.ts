// What the host's VMs hold of its capacity (admission.ts does the arithmetic), and the checks a
// VM passes before each launch, a start or a restart: its files and networks, its domain's quota,
// the host's room.
import { admit, capacity, type ActiveVm, type Capacity, type HostShape } from "./admission.js";
import { hostCpus, hostMemory } from "./host-facts.js";
import { checkQuota } from "./quota.js";
import type { Store, VmRecord } from "./store.js";
import { recheckVm } from "./vm-create.js";
import { isActive } from "./vm-spec.js";
import type { DaemonConfig } from "./config.js";

/** The VMs holding host resources now (starting, running, paused...), but `exclude`. */
function active(vms: VmRecord[], exclude?: string): ActiveVm[] {
  return vms
    .filter((v) => isActive(v.state) && v.id !== exclude)
    .map((v) => ({
      name: v.name,
      domain: v.domain,
      cpus: v.spec.cpus,
      memoryMiB: v.spec.memory_mib,
      pinned: v.pinned,
    }));
}

function hostShape(): HostShape {
  return { cpus: hostCpus(), memoryMiB: Math.floor(hostMemory().totalBytes / (1 << 20)) };
}

/** The host's limits and what its active VMs use of them. */
export function hostCapacity(store: Store, cfg: DaemonConfig): Capacity {
  return capacity(hostShape(), active(store.vms()), cfg.policy);
}

/**
 * Before each launch (a start, a restart): networks and image directories may have been
 * reassigned since the VM was created, and a path swapped for a link, so both are checked
 * again; then the host must be able to carry it. `auditRoom` throws unless the audit log can
 * record it: a restart is a change like any other, not made when the log cannot record it.
 */
export function admitVm(
  vm: VmRecord,
  store: Store,
  cfg: DaemonConfig,
  auditRoom: () => void,
): { pinned: number[] | null } {
  auditRoom();
  recheckVm(vm.spec, vm.domain, cfg, vm.restoredFrom !== null);
  checkQuota(vm, store.vms(), cfg.domainQuotas, "start", store.images());
  return admit(
    { ...vm.spec, domain: vm.domain },
    active(store.vms(), vm.id),
    hostShape(),
    cfg.policy,
  );
}
