// The API's operations on VM records: finding one by id or name, creating one (vm-create.ts
// checks it), its lifecycle through the supervisor, deleting it, and where its console log and
// sockets are; and the API status of each refusal they meet.
import { ApiError } from "./api-error.js";
import type { Caller } from "./auth.js";
import { CgroupError } from "./cgroup.js";
import type { DaemonConfig } from "./config.js";
import { checkQuota } from "./quota.js";
import type { Store, VmRecord } from "./store.js";
import type { Supervisor, VmEvent } from "./supervisor.js";
import { newVmRecord } from "./vm-create.js";
import type { ImageOps } from "./image-ops.js";
import { removeVmDir } from "./vm-dir.js";
import { readVmFile } from "./vm-file.js";
import type { Peer } from "./vm-socket.js";
import { MoatError } from "../base/moat-error.js";

export class VmOps {
  /** `autoAccel`: what `"accel": "auto"` means on this host, asked at each create. */
  constructor(
    private readonly store: Store,
    private readonly supervisor: Supervisor,
    private readonly cfg: DaemonConfig,
    private readonly autoAccel: () => "kvm" | "soft",
    /** The image store's operations: disks `{ "image": N }` get overlays on its images. */
    private readonly images?: ImageOps,
  ) {}

  list(): VmRecord[] {
    return this.store.vms();
  }

  /** The VM `ref` (an id or a name) names, among `domain`'s if given; ApiError if ambiguous. */
  find(ref: string, domain?: string): VmRecord | undefined {
    const found = this.store.find(ref, domain);
    if (found.length > 1)
      throw new ApiError(
        409,
        `'${ref}' names ${found.length} VMs (trust domains ${found.map((v) => v.domain).join(", ")}): use the VM's id (moat ls)`,
      );
    return found[0];
  }

  /** `restoredFrom`: the snapshot (its id) the VM starts from instead of booting. */
  create(body: Record<string, unknown>, caller: Caller, restoredFrom?: string): VmRecord {
    const vm = newVmRecord(body, caller, this.cfg, {
      ...(restoredFrom !== undefined ? { restoredFrom } : {}),
      nameTaken: (n, domain) => this.store.vms().some((v) => v.domain === domain && v.name === n),
      checkQuota: (v) =>
        checkQuota(v, this.store.vms(), this.cfg.domainQuotas, "create", this.store.images()),
      autoAccel: this.autoAccel(),
      ...(this.cfg.vmUsers
        ? { allocateUid: () => this.store.allocateUid(this.cfg.vmUidBase) }
        : {}),
      ...(this.images ? { overlay: this.images.overlayFor.bind(this.images) } : {}),
    });
    const now = vm.createdAt;
    this.images?.makeOverlays(vm);
    try {
      this.store.insertVm(vm);
    } catch (e) {
      removeVmDir(this.supervisor.files(vm.id).dir);
      throw e;
    }
    this.supervisor.events.emit("event", {
      type: "vm.state",
      id: vm.id,
      name: vm.name,
      domain: vm.domain,
      state: "created",
      time: now,
    } satisfies VmEvent);
    return vm;
  }

  async lifecycle(
    vm: VmRecord,
    op: "start" | "stop" | "kill" | "pause" | "resume",
    graceS?: number,
  ): Promise<VmRecord> {
    try {
      if (op === "stop" && graceS !== undefined)
        return await this.supervisor.stop(vm.id, graceS * 1000);
      return await this.supervisor[op](vm.id);
    } catch (e) {
      throw toApiError(e);
    }
  }

  async delete(vm: VmRecord, force: boolean): Promise<void> {
    try {
      if (force && this.supervisor.isWatched(vm.id)) await this.supervisor.kill(vm.id);
      await this.supervisor.remove(vm.id);
    } catch (e) {
      throw toApiError(e);
    }
  }

  logs(vm: VmRecord, bytes: number): string {
    const f = this.supervisor.files(vm.id);
    const parts = [readVmFile(`${f.consoleLog}.1`, bytes), readVmFile(f.consoleLog, bytes)];
    const all = Buffer.concat(parts.filter((b): b is Buffer => b !== undefined));
    return all.subarray(Math.max(0, all.length - bytes)).toString("utf8");
  }

  consolePath(vm: VmRecord): string {
    return this.supervisor.files(vm.id).console;
  }

  vncPath(vm: VmRecord): string {
    return this.supervisor.files(vm.id).vnc;
  }

  vmPeer(vm: VmRecord): Peer {
    return this.supervisor.vmPeer(vm.id);
  }
}

/** What the API answers for an error a VM operation met; others pass as they are (a 500). */
export function toApiError(e: unknown): Error {
  if (e instanceof CgroupError) return new ApiError(500, `cgroups: ${e.message}`);
  return e instanceof MoatError ? ApiError.of(e) : (e as Error);
}
