// A daemon's start over VM processes a previous daemon left: those still running (the same PID
// with the same start time: a PID alone can be reused) are taken over, those that died meanwhile
// get their end recorded, pending restarts are re-armed, and VM processes of this home that no
// record claims (orphans) are killed. The supervisor gives the steps that touch its watches.
import { processStart, vmProcesses } from "./host-facts.js";
import type { ControlReply } from "../vmm/control-protocol.js";
import { signalPid } from "./process-end.js";
import type { VmRecord } from "./store.js";
import { isActive, type VmState } from "./vm-spec.js";
import type { Log } from "./log.js";

export interface Recovering {
  /** Where the VMs' files live: a VM process whose config or control socket is under it is this home's. */
  vmsDir: string;
  vms(): VmRecord[];
  /** The VMM under a VM's recorded process (its unshare when jailed). */
  vmmPid(vm: VmRecord): number | undefined;
  /** Watches a running VM process that is not the daemon's child. */
  adopt(vm: VmRecord, pid: number): void;
  /** The VM's status reply (its run state, vCPU threads), noted by the supervisor. */
  status(vm: VmRecord): Promise<ControlReply<"status">>;
  /** Records the end of a VM process that died while no daemon watched it. */
  lost(vm: VmRecord, pid: number): void;
  setState(vm: VmRecord, state: VmState, reason?: string): void;
  removeCgroup(vm: VmRecord): void;
  armRestart(id: string, delayMs: number): void;
  audit(action: string, vm: null, ok: boolean, detail: Record<string, unknown>): void;
  log: Log;
}

export async function recoverVms(
  s: Recovering,
): Promise<{ adopted: number; lost: number; orphans: number }> {
  let adopted = 0;
  let lost = 0;
  const claimed = new Set<number>();
  for (const vm of s.vms()) {
    if (vm.pid !== null) {
      if (vm.pidStart !== null && processStart(vm.pid) === vm.pidStart) {
        claimed.add(vm.pid);
        // A jailed VM's VMM (under its unshare) is ours too, not an orphan.
        const vmm = s.vmmPid(vm);
        if (vmm !== undefined) claimed.add(vmm);
        s.adopt(vm, vm.pid);
        adopted++;
        s.log.info(`VM '${vm.name}' taken over (pid ${vm.pid})`, {
          event: "adopt",
          vm: vm.name,
          id: vm.id,
          vm_pid: vm.pid,
        });
        try {
          const r = await s.status(vm);
          const state = r.ok === true && r.state === "paused" ? "paused" : "running";
          if (vm.state !== state) s.setState(vm, state);
        } catch {
          // It answers later or dies; the watch records either.
        }
      } else {
        lost++;
        s.log.warn(`VM '${vm.name}' ended while no daemon ran (pid ${vm.pid})`, {
          event: "lost",
          vm: vm.name,
          id: vm.id,
          vm_pid: vm.pid,
        });
        // Gone while no daemon watched: the same path as an exit seen live.
        s.lost(vm, vm.pid);
      }
    } else if (vm.cgroup && !isActive(vm.state)) {
      // A group its previous daemon had no time to remove.
      s.removeCgroup(vm);
    }
    if (vm.pid !== null) continue;
    if (vm.desired === "running" && vm.restartAt && !isActive(vm.state)) {
      s.armRestart(vm.id, Math.max(0, Date.parse(vm.restartAt) - Date.now()));
    } else if (isActive(vm.state)) {
      // Recorded active with no process (the daemon died between spawn and record).
      s.setState(vm, "crashed", "no process was recorded for it");
    }
  }
  let orphans = 0;
  for (const pid of ourProcesses(s.vmsDir)) {
    if (claimed.has(pid)) continue;
    signalPid(pid, "SIGKILL");
    orphans++;
    s.audit("vm.orphan-killed", null, true, { pid });
    s.log.warn(`killed VM process ${pid}: no VM record claims it (an orphan)`, {
      event: "orphan-killed",
      vm_pid: pid,
    });
  }
  return { adopted, lost, orphans };
}

/** PIDs of VM processes whose directory lies under this daemon's VM directory. */
function ourProcesses(vmsDir: string): number[] {
  const marker = `${vmsDir}/`;
  return vmProcesses()
    .filter((p) => p.path.startsWith(marker))
    .map((p) => p.pid);
}
