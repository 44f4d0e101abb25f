// The API's operations on snapshots (docs/snapshot.md "Through the daemon"): taking one of a VM
// through its control socket into the daemon's store (snapshot-store.ts), listing and deleting
// them per trust domain, the spec of a VM restored from one, and the check before each start of
// such a VM.
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { ApiError } from "./api-error.js";
import { findRef } from "./find-ref.js";
import type { Caller } from "./auth.js";
import type { DaemonConfig } from "./config.js";
import { checkSnapshotQuota } from "./quota.js";
import type { SnapshotStore } from "./snapshot-store.js";
import type { SnapshotRecord, Store, VmRecord } from "./store.js";
import type { RestoreSource, Supervisor } from "./supervisor.js";
import { backingChainSync } from "../disk/qcow2-chain.js";
import { copyPath, keptBytes, writableDisks, type KeptDisk } from "./snapshot-disks.js";
import { removeVmDir } from "./vm-dir.js";
import { snapshotDirOf, vmMachine } from "./vmm-command.js";
import type { VmSpec } from "./vm-spec.js";
import { toApiError } from "./vm-ops.js";
import { parseVmConfig } from "../vmm/vm-config.js";

/** How long a VM process may take to write a snapshot (guest RAM up to 4 GiB). */
const SNAPSHOT_TIMEOUT_MS = 120_000;

/** The create fields a VM restored from a snapshot takes from the request: the rest is the snapshot's. */
export const RESTORE_FIELDS = ["name", "domain", "labels", "restart", "cpu", "restore_from"];

/** A snapshot as the API answers it. */
export function snapshotView(s: SnapshotRecord): Record<string, unknown> {
  return {
    id: s.id,
    name: s.name,
    domain: s.domain,
    vm: s.vmName,
    vm_id: s.vmId,
    bytes: s.bytes,
    path: s.path,
    created_at: s.createdAt,
  };
}

/** The machine a VM process of `spec` records in its snapshots, as it parses its config. */
function recordedMachine(spec: VmSpec): Record<string, unknown> {
  const parsed = parseVmConfig(structuredClone({ ...vmMachine(spec), host: {} }));
  const { host: _h, ...machine } = parsed;
  return machine;
}

/**
 * The spec of `vm` with the disks its VM process opens: a restored VM's writable disks are its
 * own copies in its directory `vmDir` (restorePath), not the files its spec names.
 */
function openedSpec(vm: VmRecord, vmDir: string): VmSpec {
  if (vm.restoredFrom === null) return vm.spec;
  const disks = vm.spec.disks.map((d, i) => (d.read_only ? d : { ...d, path: copyPath(vmDir, i) }));
  return { ...vm.spec, disks };
}

/**
 * The machine of a VM restored from a snapshot of `spec`: the spec less what is the host's
 * (domain, labels, policies, name), and less its NICs' MACs: every daemon restore is a clone,
 * and a clone's NICs get MACs of their own (a MAC named here would be taken as chosen).
 */
export function restoredMachine(spec: VmSpec): Record<string, unknown> {
  const { domain: _d, labels: _l, restart: _r, cpu: _c, name: _n, ...machine } = spec;
  return {
    ...machine,
    nics: machine.nics.map(({ mac: _m, ...nic }) => nic),
  };
}

/** Does the qcow2 image at `path` (a checked real path) have a backing file? Unreadable: yes. */
function hasBacking(path: string): boolean {
  try {
    return backingChainSync(path).length > 0;
  } catch {
    return true;
  }
}

export class SnapshotOps {
  constructor(
    private readonly store: Store,
    private readonly files: SnapshotStore,
    private readonly supervisor: Supervisor,
    private readonly cfg: DaemonConfig,
  ) {}

  /** Snapshots `caller` may see: a tenant its own domain's. */
  list(caller: Caller): SnapshotRecord[] {
    return this.store
      .snapshots()
      .filter((s) => caller.role !== "tenant" || s.domain === caller.domain);
  }

  /** The snapshot `ref` (an id, or a name in `domain`) names; ApiError if a name is ambiguous. */
  find(ref: string, domain?: string): SnapshotRecord | undefined {
    return findRef(this.store.snapshots(), ref, domain, "snapshots");
  }

  /**
   * Takes snapshot `name` of `vm` into the store: the VM paused for it and resumed after (or,
   * with `stop`, stopped); counted against its domain's quota.
   */
  async take(vm: VmRecord, name: string, stop: boolean): Promise<SnapshotRecord> {
    const mine = this.store.snapshots().filter((s) => s.domain === vm.domain);
    if (mine.some((s) => s.name === name))
      throw new ApiError(409, `trust domain '${vm.domain}' has a snapshot named '${name}'`, "name");
    checkSnapshotQuota(vm.domain, mine, this.cfg.domainQuotas, 0);
    const id = randomBytes(6).toString("hex");
    const written = `snapshot-${id}`;
    const dir = snapshotDirOf(this.supervisor.files(vm.id));
    let bytes: number;
    // The quota is checked against the snapshots held now (others may have been taken while
    // this VM was being saved), before each copy and with nothing awaited until the insert.
    const admit = (data: number): void =>
      checkSnapshotQuota(
        vm.domain,
        this.store.snapshots().filter((s) => s.domain === vm.domain),
        this.cfg.domainQuotas,
        data,
      );
    const spec = openedSpec(vm, this.supervisor.files(vm.id).dir);
    const writable = writableDisks(spec);
    // A kept qcow2 overlay alone would name a backing file its copy cannot reach. (A restored
    // VM's disks are copies of kept ones: never overlays, and not read as root here.)
    for (const d of vm.restoredFrom === null ? vm.spec.disks : [])
      if (!d.read_only && d.format === "qcow2" && (d.image !== undefined || hasBacking(d.path)))
        throw new ApiError(
          409,
          `disks.${vm.spec.disks.indexOf(d)}: ${d.image !== undefined ? "an overlay on a stored image" : `${d.path} is a qcow2 overlay`}: ` +
            "snapshots keep a writable disk as one file, and one on a backing file cannot be " +
            'kept yet (docs/snapshot.md "Disks"); a VM whose disks are whole files (raw, or ' +
            "qcow2 without a backing file) can be snapshotted",
        );
    let kept: KeptDisk[] = [];
    try {
      // With stop, a VM whose snapshot is then refused stays paused: nothing of it is lost.
      // Its writable disks are copied while it is still paused: they are what its RAM expects.
      await this.supervisor.snapshot(vm.id, written, SNAPSHOT_TIMEOUT_MS, stop, () => {
        if (writable.length > 0) kept = this.files.keepDisks(id, writable, admit);
      });
      const disks = keptBytes(kept);
      bytes = this.files.take(
        dir,
        written,
        id,
        recordedMachine(spec),
        (memory) => admit(memory + disks),
        kept,
      );
    } catch (e) {
      this.files.remove(id);
      throw toApiError(e);
    } finally {
      try {
        // What the VM process wrote is its own: removed without following its links.
        removeVmDir(join(dir, written));
      } catch {
        // Left in the VM's directory, which goes with the VM.
      }
    }
    const s: SnapshotRecord = {
      id,
      name,
      domain: vm.domain,
      vmId: vm.id,
      vmName: vm.name,
      spec: vm.spec,
      bytes,
      path: this.files.pathOf(id),
      createdAt: new Date().toISOString(),
    };
    try {
      this.store.insertSnapshot(s);
    } catch (e) {
      // Another request took the same name meanwhile (the table's unique key).
      this.files.remove(id);
      if ((e as { code?: unknown }).code === "SQLITE_CONSTRAINT_UNIQUE")
        throw new ApiError(
          409,
          `trust domain '${vm.domain}' has a snapshot named '${name}'`,
          "name",
        );
      throw e;
    }
    if (stop) {
      try {
        await this.supervisor.stop(vm.id, 0);
      } catch (e) {
        throw toApiError(e);
      }
    }
    return s;
  }

  /** Deletes a snapshot no VM is restored from. */
  delete(s: SnapshotRecord): void {
    const users = this.store.vms().filter((v) => v.restoredFrom === s.id);
    if (users.length > 0)
      throw new ApiError(
        409,
        `snapshot '${s.name}': ${users.length === 1 ? "VM" : "VMs"} ${users.map((v) => v.name).join(", ")} ${users.length === 1 ? "starts" : "start"} from it; delete ${users.length === 1 ? "it" : "them"} first`,
      );
    this.files.remove(s.id);
    this.store.deleteSnapshot(s.id);
  }

  /**
   * The create body of a VM restored from the snapshot `body.restore_from` names: the request's
   * name, domain, labels and policies, the snapshot's machine. The snapshot must be of the VM's
   * trust domain; a tenant is told of no other domain's.
   */
  restoreBody(
    body: Record<string, unknown>,
    caller: Caller,
  ): { body: Record<string, unknown>; snapshot: SnapshotRecord } {
    const ref = String(body.restore_from);
    const domain = (body.domain as string | undefined) ?? caller.domain ?? "default";
    const s = this.find(ref, caller.role === "tenant" ? domain : undefined);
    if (!s) throw new ApiError(404, `restore_from: no snapshot '${ref}'`, "restore_from");
    if (s.domain !== domain)
      throw new ApiError(
        403,
        `restore_from: snapshot '${ref}' belongs to trust domain '${s.domain}'; a VM of '${domain}' cannot be restored from it`,
        "restore_from",
      );
    const machine = restoredMachine(s.spec);
    // Each start of a restored VM gets its own copy of the writable disks kept with the
    // snapshot (restorePath): a snapshot that kept none (taken before they were kept) has
    // nothing its RAM's file systems match.
    const writable = writableDisks(machine);
    if (writable.length > 0 && !this.files.keptDisks(s.id))
      throw new ApiError(
        409,
        `restore_from: snapshot '${ref}' has writable disks (${writable.map((d) => d.path).join(", ")}) ` +
          "but was taken before the daemon kept disks with its snapshots; take it again",
        "restore_from",
      );
    const own = Object.fromEntries(
      RESTORE_FIELDS.filter((k) => k !== "restore_from" && body[k] !== undefined).map((k) => [
        k,
        body[k],
      ]),
    );
    return { body: structuredClone({ ...machine, ...own }), snapshot: s };
  }

  /**
   * Before a start of `vm`: its snapshot's directory, checked (its seal, its memory's size), and
   * how its own copies of the snapshot's writable disks are made (each checked as it is copied).
   */
  restorePath(vm: VmRecord): RestoreSource | undefined {
    if (vm.restoredFrom === null) return undefined;
    const s = this.store.snapshots().find((x) => x.id === vm.restoredFrom);
    if (!s)
      throw new ApiError(
        409,
        `VM '${vm.name}' is restored from snapshot ${vm.restoredFrom}, which is gone`,
      );
    const refused = (e: unknown): ApiError =>
      e instanceof ApiError
        ? e
        : new ApiError(422, `snapshot '${s.name}' refused: ${(e as Error).message}`);
    let kept: KeptDisk[];
    try {
      kept = this.files.checkSeal(s.id).disks;
    } catch (e) {
      throw refused(e);
    }
    const writable = writableDisks(vm.spec);
    const missing = writable.filter((w) => !kept.some((k) => k.index === w.index));
    if (missing.length > 0)
      throw new ApiError(
        409,
        `snapshot '${s.name}' kept no copy of disks ${missing.map((m) => m.index).join(", ")}; take it again`,
      );
    return {
      dir: s.path,
      disks: (vmDir, uid) => {
        let copies: Map<number, string>;
        try {
          copies = this.files.copyDisks(s.id, kept, vmDir, uid);
        } catch (e) {
          throw refused(e);
        }
        return vm.spec.disks.map((d, i) => copies.get(i) ?? d.path);
      },
    };
  }
}
