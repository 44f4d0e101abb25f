// The daemon's reclaim rounds (the policy itself is in reclaim.ts): every interval, read host
// memory, ask each running ballooned VM for fresh statistics, and move its balloon target as
// the policy says. Rounds never overlap; a VM that does not answer is skipped for the round.
import { hostMemory, type HostMemory } from "./host-facts.js";
import { nextTarget, underPressure, type ReclaimPolicy } from "./reclaim.js";
import type { VmRecord } from "./store.js";
import type { VmEvent } from "./supervisor.js";
import type { ControlReply, ControlRequest } from "../vmm/control-protocol.js";

export interface ReclaimDeps {
  vms(): VmRecord[];
  /** One request to the VM's control socket. */
  call<R extends ControlRequest>(
    id: string,
    req: R,
    timeoutMs: number,
  ): Promise<ControlReply<R["op"]>>;
  emit(e: VmEvent): void;
  /** Host memory readings (injectable for tests). */
  host?: () => HostMemory;
}

export class ReclaimLoop {
  private timer: NodeJS.Timeout | undefined;
  private busy = false;

  constructor(
    private readonly p: ReclaimPolicy,
    private readonly deps: ReclaimDeps,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.round(), this.p.intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One round; skipped while the previous one still runs. */
  async round(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      await this.roundOnce();
    } finally {
      this.busy = false;
    }
  }

  private async roundOnce(): Promise<void> {
    let pressed: boolean;
    try {
      pressed = underPressure((this.deps.host ?? hostMemory)(), this.p);
    } catch {
      return;
    }
    for (const vm of this.deps.vms()) {
      if (vm.state !== "running" || !vm.spec.balloon) continue;
      try {
        const r = await this.deps.call(vm.id, { op: "balloon-stats" }, 4000);
        if (r.ok !== true || r.stats.freeMemory === undefined) continue;
        const b = r.balloon;
        const freeMiB = r.stats.freeMemory / (1 << 20);
        const t = nextTarget(
          { memoryMiB: vm.spec.memory_mib, targetMiB: b.target_mib, freeMiB },
          pressed,
          this.p,
        );
        if (t === undefined) continue;
        await this.deps.call(vm.id, { op: "balloon", target_mib: t }, 2000);
        this.deps.emit({
          type: "vm.state",
          id: vm.id,
          name: vm.name,
          domain: vm.domain,
          state: vm.state,
          reason:
            `balloon ${b.target_mib} -> ${t} MiB (host ${pressed ? "under" : "out of"} ` +
            `pressure, guest free ${Math.round(freeMiB)} MiB)`,
          time: new Date().toISOString(),
        });
      } catch {
        // A VM that does not answer is skipped this round.
      }
    }
  }
}
