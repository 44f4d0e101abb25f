// Runs VM processes and keeps their records true. Each VM is its own OS process (`moat vmm --config`),
// started detached with its output in files, so it outlives the daemon; the daemon records its
// PID with the process's start time (a PID alone can be reused), watches it — as its parent
// while it can, by polling /proc once adopted by a restarted daemon — records how it ended, and
// applies the VM's restart policy with exponential backoff.
import { spawn, type ChildProcess } from "node:child_process";
import { EventEmitter } from "node:events";
import { closeSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import type { Store, VmExitRecord, VmRecord } from "./store.js";
import { isActive, type VmState } from "./vm-spec.js";
import { vmConfigFor, vmFiles, vmmArgv, type VmFiles } from "./vmm-command.js";
import type { Peer } from "./vm-socket.js";
import { vmmCall } from "./vmm-client.js";
import type { ControlReply, ControlRequest, StatusReply } from "../vmm/control-protocol.js";
import { hostThreadIds, processStart, vmmProcess } from "./host-facts.js";
import { spawnJailed } from "../jail/launch.js";
import { JailError } from "../jail/drop.js";
import { TapError } from "../sys/tap.js";
import { jailDevices } from "../vmm/jail-needs.js";
import { chooseAccel, type KvmKind } from "../vmm/vm-limits.js";
import type { VmConfig } from "../vmm/vm-config.js";
import { readVmFileDated } from "./vm-file.js";
import { prepareVmDir, removeVmDir } from "./vm-dir.js";
import { VMM_LOG_CHECK_MS, VmmLogs } from "./vmm-log.js";
import { EndWatch, signalPid } from "./process-end.js";
import { askShutdown, endedWithin, shutDownReason, type AskedBy } from "./guest-shutdown.js";
import type { Cgroups, VmCgroup } from "./cgroup.js";
import { EXIT_MOAT_ERROR } from "../vmm/exit-status.js";
import { classifyExit } from "./exit-classify.js";
import { recoverVms } from "./recovery.js";
import type { Log } from "./log.js";
import type { LogFormat } from "../base/log.js";
import { MoatError, type ErrorKind } from "../base/moat-error.js";

export interface SupervisorOptions {
  /** Where each VM's directory lives: `<vmsDir>/<id>/`. */
  vmsDir: string;
  /** Root's directory for the VM processes' own output (vmm-log.ts). */
  logsDir: string;
  /** Extra memory cgroup room over guest RAM for the VMM process itself, MiB. */
  vmmOverheadMiB: number;
  /** KSM on for every VM (policy: one trust domain on the host). */
  ksm: boolean;
  /** The VM processes' seccomp mode. */
  seccomp: "kill" | "log" | "off";
  /** The VM processes' own logs (`<logsDir>/<id>.log`) in the daemon's log format. */
  logFormat: LogFormat;
  /** Each VM process in its own jail (jail/launch.ts); roots are mounted over `<jailsDir>/<id>`. */
  jail: boolean;
  jailsDir: string;
  restartBackoffMs: { initial: number; max: number };
  /** A VM that ran this long before failing starts its backoff afresh. */
  stableAfterMs: number;
  /** How long a VM may take to answer on its control socket after spawn. */
  startTimeoutMs: number;
  /** A stop's grace time: how long the guest has to shut down before it is powered off. */
  stopGraceMs: number;
  /** Then how long to wait after asking the VMM to stop, then after SIGTERM. */
  stopTimeoutMs: number;
  /** Parent of the VM cgroups (default: the daemon's own cgroup + /moat). */
  cgroupParent?: string;
  /** What this host's KVM is (told by whoever starts the daemon), which a jailed VM cannot see. */
  kvmKind: KvmKind;
  /** The daemon's log: every state change and supervision event (restarts, take-overs). */
  log: Log;
  /**
   * Before each start of a VM restored from a snapshot: the snapshot's directory, checked
   * (snapshot-store.ts); throws when it cannot be used.
   */
  restorePath?: (vm: VmRecord) => RestoreSource | undefined;
  /** Where a VM's qcow2 disks' backing files may lie (image-ops.ts), if not beside each. */
  backingDirs?: (vm: VmRecord) => string[] | undefined;
  /** Whether a backing file of one of `vm`'s qcow2 disks may be bound into its jail. */
  backingAllowed?: (vm: VmRecord, path: string) => boolean;
}

/** The snapshot a VM starts from (snapshot-ops.ts restorePath). */
export interface RestoreSource {
  /** Its directory in the store. */
  dir: string;
  /**
   * Once the VM's directory `vmDir` is made: the VM's own fresh copies of the snapshot's
   * writable disks there (its `uid`'s), and the paths of all its disks, in order.
   */
  disks(vmDir: string, uid: number | null): string[];
}

export interface VmEvent {
  type: "vm.state" | "vm.deleted";
  id: string;
  name: string;
  domain: string;
  state?: VmState;
  reason?: string;
  time: string;
}

/** Called before a VM (re)starts: throws AdmissionError or returns where its vCPUs go. */
export type Admit = (vm: VmRecord) => { pinned: number[] | null };
/** Appends to the audit log on the daemon's own behalf (restarts, orphans). */
/** Records what the daemon is about to do on its own; throws if the log cannot (no change then). */
export type DaemonIntent = (
  action: string,
  vm: VmRecord,
  detail: Record<string, unknown>,
) => number;

export type DaemonAudit = (
  action: string,
  vm: VmRecord | null,
  ok: boolean,
  detail?: Record<string, unknown>,
) => void;

interface Watch {
  pid: number;
  child: ChildProcess | undefined;
  poll: NodeJS.Timeout | undefined;
  exited: Promise<void>;
  done: () => void;
  /** Why the daemon powered it off, if it did (a stop's hard phase, a start that timed out). */
  requested?: string;
  /** A kill's reason: whatever a stop still running sets, the VM ended by it. */
  killed?: string;
  /** How a stop asked the guest to shut down: the reason if it then powers itself off. */
  asked: Set<AskedBy>;
  /** The VMM itself, once it answers (a jailed VM's child is its launcher). */
  vmmEnd?: EndWatch;
}

/** A refused or failed VM operation; its kind gives the API status (HTTP_STATUS). */
export class SupervisorError extends MoatError {
  constructor(message: string, kind: ErrorKind = "conflict") {
    super(message, kind);
  }
}

/**
 * The kind of failure of a VM that ended before it came up: invalid (422) when its VMM refused
 * the VM as defined (its own error status, 125: a kernel that is no kernel, an unusable file or
 * setting), which is the caller's to fix; the host's (500) for anything else.
 */
/** Writes root's file `path` (mode 0600) in a directory of root's, whole or not at all. */
function writeRootFile(path: string, data: string): void {
  writeFileSync(`${path}.tmp`, data, { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}

function startFailureKind(exit: VmExitRecord | null): ErrorKind {
  return exit?.status === EXIT_MOAT_ERROR && exit.signal === null ? "invalid" : "host";
}

export class Supervisor {
  readonly events = new EventEmitter();
  private readonly watches = new Map<string, Watch>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly locks = new Map<string, Promise<unknown>>();
  /** The Linux thread ids of each running VM's vCPUs (from its status reply), for CPU time. */
  readonly vcpuTids = new Map<string, number[]>();
  private closed = false;
  private readonly logs: VmmLogs;
  private readonly logCheck: NodeJS.Timeout;

  constructor(
    private readonly store: Store,
    private readonly cgroups: Cgroups,
    private readonly admit: Admit,
    private readonly audit: DaemonAudit,
    private readonly intent: DaemonIntent,
    private readonly o: SupervisorOptions,
  ) {
    this.events.setMaxListeners(0);
    this.logs = new VmmLogs(o.logsDir);
    this.logCheck = setInterval(() => {
      this.boundLogs();
      this.store.flushUnsaved();
    }, VMM_LOG_CHECK_MS);
    this.logCheck.unref();
  }

  /** Keeps each running VM's own log within its bound (vmm-log.ts). */
  private boundLogs(): void {
    for (const id of this.watches.keys()) {
      try {
        this.logs.bound(id);
      } catch {
        // A full disk, say: tried again at the next check.
      }
    }
  }

  files(id: string): VmFiles {
    return vmFiles(join(this.o.vmsDir, id));
  }

  /** Runs `fn` for one VM at a time: two start requests never both spawn a process. */
  private serial<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    this.locks.set(
      id,
      next.catch(() => {}),
    );
    return next;
  }

  private setState(vm: VmRecord, state: VmState, reason?: string): void {
    this.store.updateVm(vm.id, { state });
    vm.state = state;
    const ev: VmEvent = {
      type: "vm.state",
      id: vm.id,
      name: vm.name,
      domain: vm.domain,
      state,
      ...(reason !== undefined ? { reason } : {}),
      time: new Date().toISOString(),
    };
    const why = reason !== undefined ? `: ${reason}` : "";
    this.o.log[state === "crashed" ? "warn" : "info"](`VM '${vm.name}' ${state}${why}`, {
      event: "vm.state",
      vm: vm.name,
      id: vm.id,
      domain: vm.domain,
      state,
      ...(reason !== undefined ? { reason } : {}),
    });
    this.events.emit("event", ev);
  }

  emitDeleted(vm: VmRecord): void {
    const ev: VmEvent = {
      type: "vm.deleted",
      id: vm.id,
      name: vm.name,
      domain: vm.domain,
      time: new Date().toISOString(),
    };
    this.o.log.info(`VM '${vm.name}' deleted`, { event: "vm.deleted", vm: vm.name, id: vm.id });
    this.events.emit("event", ev);
  }

  /** Starts a created, stopped or crashed VM. Resolves once it answers on its control socket. */
  start(id: string): Promise<VmRecord> {
    return this.serial(id, async () => {
      const vm = this.mustGet(id);
      if (isActive(vm.state)) throw new SupervisorError(`VM '${vm.name}' is already ${vm.state}`);
      this.cancelRestart(vm);
      this.store.updateVm(vm.id, { desired: "running", failures: 0 });
      vm.desired = "running";
      await this.launch(vm);
      return this.mustGet(id);
    });
  }

  private async launch(vm: VmRecord): Promise<void> {
    const { pinned } = this.admit(vm);
    const restore = this.o.restorePath?.(vm);
    const f = this.files(vm.id);
    // The VM's own directory belongs to its own user: it rotates its console log and writes
    // its exit record there after dropping to that user; no other VM can enter it.
    prepareVmDir(f.dir, vm.uid, [basename(f.exitFile)]);
    const disks = restore?.disks(f.dir, vm.uid);
    const backingDirs = this.o.backingDirs?.(vm);
    const s = vm.spec;
    const cg = this.cgroups.create(
      `vm-${vm.id}`,
      {
        cpuWeight: s.cpu.weight,
        ...(s.cpu.max !== undefined ? { cpuMax: s.cpu.max } : {}),
        ...(pinned ? { cpus: pinned } : {}),
        memoryBytes: (s.memory_mib + this.o.vmmOverheadMiB) * 1024 * 1024,
      },
      this.o.cgroupParent,
    );
    const config = vmConfigFor(s, f, {
      pinned,
      ksm: this.o.ksm,
      seccomp: this.o.seccomp,
      uid: vm.uid,
      logFormat: this.o.logFormat,
      ...(restore !== undefined ? { restore: restore.dir } : {}),
      ...(disks !== undefined ? { disks } : {}),
      ...(backingDirs !== undefined ? { backingDirs } : {}),
    });
    let log: number;
    try {
      writeRootFile(f.config, JSON.stringify(config));
      log = this.logs.openForStart(vm.id);
    } catch (e) {
      cg.remove();
      throw e;
    }
    let child: ChildProcess;
    const argv = vmmArgv(f, s.name);
    try {
      // detached: its own session, so neither a terminal hang-up nor the daemon's process group
      // being signalled reaches it; stdio in files, so the daemon's death breaks no pipe.
      child = this.o.jail
        ? this.spawnJailed(vm, config, f, argv, log)
        : spawn(process.execPath, argv, { detached: true, stdio: ["ignore", log, log] });
    } catch (e) {
      cg.remove();
      if (e instanceof JailError || e instanceof TapError)
        throw new SupervisorError(`VM '${vm.name}': ${e.message}`, "host");
      throw e;
    } finally {
      closeSync(log);
    }
    const pid = child.pid;
    if (pid === undefined) {
      cg.remove();
      throw new SupervisorError("could not start the VM process", "host");
    }
    // Into its cgroup before Node has even loaded moat: the guest's first instruction is
    // tens of milliseconds away. A jailed VM's unshare goes first, then the VMM it forked:
    // a fork either precedes the move (and the child is listed) or follows it (and inherits).
    try {
      cg.addProcess(pid);
      const vmm = vmmProcess(pid);
      if (vmm !== undefined && vmm !== pid) cg.addProcess(vmm);
    } catch (e) {
      child.kill("SIGKILL");
      throw e;
    }
    const now = new Date().toISOString();
    this.store.updateVm(vm.id, {
      pid,
      pidStart: processStart(pid) ?? null,
      cgroup: cg.paths,
      pinned,
      startedAt: now,
      restartAt: null,
    });
    Object.assign(vm, { pid, cgroup: cg.paths, pinned, startedAt: now });
    this.setState(vm, "starting");
    this.watch(vm, pid, child);
    await this.awaitReady(vm, f);
  }

  /** The VM process in its jail: the VM's own files only, its TAPs and KVM fd handed in. */
  private spawnJailed(
    vm: VmRecord,
    config: VmConfig,
    f: VmFiles,
    argv: string[],
    log: number,
  ): ChildProcess {
    const kind = this.o.kvmKind;
    // The VM's own files were checked at their real paths: bound with no link followed.
    const allowed = this.o.backingAllowed;
    const devices = jailDevices(config, chooseAccel(config.accel, kind), {
      checked: true,
      ...(allowed ? { backingAllowed: (p: string) => allowed(vm, p) } : {}),
    });
    const root = join(this.o.jailsDir, vm.id);
    mkdirSync(root, { recursive: true, mode: 0o700 });
    return spawnJailed({
      ...devices,
      root,
      hostname: `moat-${vm.name}`.slice(0, 64),
      cwd: f.dir,
      kvmKind: kind,
      args: (plan) => [argv[0]!, argv[1]!, `--in-jail=${plan}`, ...argv.slice(2)],
      stdio: ["ignore", log, log],
      detached: true,
    });
  }

  /** The VMM process of a running VM (under its unshare when jailed), as the host sees it. */
  vmmPid(vm: VmRecord): number | undefined {
    return vm.pid === null ? undefined : vmmProcess(vm.pid);
  }

  private async awaitReady(vm: VmRecord, f: VmFiles): Promise<void> {
    const w = this.watches.get(vm.id)!;
    const end = Date.now() + this.o.startTimeoutMs;
    while (Date.now() < end) {
      if (this.watches.get(vm.id) !== w) {
        const now = this.mustGet(vm.id);
        throw new SupervisorError(
          `VM '${vm.name}' ended while starting: ${now.lastExit?.reason ?? "unknown"}`,
          startFailureKind(now.lastExit),
        );
      }
      try {
        const r = await vmmCall(f.control, { op: "status" }, 1000, this.vmPeer(vm.id));
        // The socket answers while the VM is still being made, which may yet fail: up means
        // the VM runs.
        if (r.ok === true && r.starting !== true) {
          this.noteTids(vm, r);
          this.holdVmmEnd(w);
          this.setState(vm, "running");
          return;
        }
      } catch {
        // Not listening yet.
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    w.requested = "did not answer on its control socket in time";
    process.kill(w.pid, "SIGKILL");
    await w.exited;
    throw new SupervisorError(
      `VM '${vm.name}' did not come up within ${this.o.startTimeoutMs} ms`,
      "host",
    );
  }

  /** A pidfd on the VMM under a jailed VM's launcher, whose end the launcher may misreport. */
  private holdVmmEnd(w: Watch): void {
    const vmm = vmmProcess(w.pid);
    if (vmm === undefined || vmm === w.pid) return;
    w.vmmEnd = EndWatch.hold(vmm, () => vmmProcess(w.pid) === vmm);
  }

  /**
   * A running VM's vCPU thread ids (host view), asked of its VMM until it has them: the threads
   * report their ids only after they start, later than the first status reply.
   */
  async vcpuThreadIds(vm: VmRecord): Promise<number[] | undefined> {
    const known = this.vcpuTids.get(vm.id);
    if (known || !this.watches.has(vm.id)) return known;
    try {
      const r = await this.call(vm.id, { op: "status" }, 2000);
      if (r.ok === true) this.noteTids(vm, r);
    } catch {
      // Not answering now: the next scrape asks again.
    }
    return this.vcpuTids.get(vm.id);
  }

  /** vCPU thread ids from a status reply; a jailed VMM's are its PID namespace's, mapped here. */
  private noteTids(vm: VmRecord, status: StatusReply): void {
    const t = status.vcpu_tids;
    // Empty until the vCPU threads have started (vm-process.ts): not known yet.
    if (!t || t.length === 0) return;
    const pid = this.vmmPid(vm);
    if (status.jailed === true && pid !== undefined)
      this.vcpuTids.set(vm.id, hostThreadIds(pid, t));
    else this.vcpuTids.set(vm.id, t);
  }

  private watch(vm: VmRecord, pid: number, child: ChildProcess | undefined): void {
    let done!: () => void;
    const exited = new Promise<void>((r) => (done = r));
    const w: Watch = { pid, child, poll: undefined, exited, done, asked: new Set() };
    this.watches.set(vm.id, w);
    if (child) {
      child.on("exit", (code, signal) => this.ended(vm.id, w, code, signal));
    } else {
      const start = this.mustGet(vm.id).pidStart;
      // Not our child: no exit notification. A gone /proc entry, or a new process behind the
      // same PID, means ours ended.
      w.poll = setInterval(() => {
        if (processStart(pid) !== start) this.ended(vm.id, w, null, null);
      }, 500);
    }
  }

  private ended(id: string, w: Watch, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.watches.get(id) !== w) return;
    this.watches.delete(id);
    this.vcpuTids.delete(id);
    if (w.poll) clearInterval(w.poll);
    // The VMM's own end, where its launcher's (code, signal) may not tell it.
    const vmmEnd = w.vmmEnd?.end();
    w.vmmEnd?.close();
    if (vmmEnd) ({ code, signal } = vmmEnd);
    const vm = this.store.vm(id);
    if (!vm) return w.done();
    const f = this.files(id);
    let record: { status?: number; reason?: string; detail?: string } | undefined;
    try {
      // Written by the VM process: read as data it controls (bounded, no links, one open).
      const file = readVmFileDated(f.exitFile, 64 * 1024);
      if (file && (!vm.startedAt || file.mtimeMs >= Date.parse(vm.startedAt) - 1000))
        record = JSON.parse(file.bytes.toString("utf8")) as typeof record;
      if (record && typeof record !== "object") record = undefined;
      if (record) {
        record = {
          ...(Number.isInteger(record.status) ? { status: record.status } : {}),
          ...(typeof record.reason === "string" ? { reason: record.reason.slice(0, 32) } : {}),
          ...(typeof record.detail === "string" ? { detail: record.detail.slice(0, 500) } : {}),
        };
      }
    } catch {
      // No record: killed, or it died before it could write one.
    }
    const status = code ?? record?.status ?? null;
    const { reason, crashed } = classifyExit({
      killed: w.killed,
      record,
      shutDown: shutDownReason(w.asked, record, status),
      requested: w.requested,
      signal,
      status,
      lastLogLine: status === EXIT_MOAT_ERROR ? this.logs.lastLine(id) : null,
    });
    const exit: VmExitRecord = {
      time: new Date().toISOString(),
      status,
      signal: signal ?? null,
      reason,
    };
    const ranMs = vm.startedAt ? Date.now() - Date.parse(vm.startedAt) : 0;
    const failures = crashed ? (ranMs > this.o.stableAfterMs ? 1 : vm.failures + 1) : 0;
    this.store.updateVm(id, { pid: null, pidStart: null, lastExit: exit, failures });
    this.removeCgroup(vm);
    vm.failures = failures;
    vm.lastExit = exit;
    this.setState(vm, crashed ? "crashed" : "stopped", reason);
    w.done();
    const restart =
      !this.closed &&
      vm.desired === "running" &&
      (vm.spec.restart === "always" || (vm.spec.restart === "on-failure" && crashed));
    if (restart) this.scheduleRestart(vm);
    else if (vm.desired === "running") {
      this.store.updateVm(id, { desired: "stopped" });
    }
  }

  private removeCgroup(vm: VmRecord): void {
    if (!vm.cgroup) return;
    const cg = this.cgroups.open(vm.cgroup);
    // The kernel takes a moment to empty a group whose last task just exited.
    const tryRemove = (left: number): void => {
      try {
        cg.remove();
        this.store.updateVm(vm.id, { cgroup: null });
      } catch {
        if (left > 0) setTimeout(() => tryRemove(left - 1), 200);
      }
    };
    tryRemove(10);
  }

  private scheduleRestart(vm: VmRecord): void {
    const { initial, max } = this.o.restartBackoffMs;
    const delay = Math.min(max, initial * 2 ** Math.max(0, vm.failures - 1));
    const at = new Date(Date.now() + delay).toISOString();
    this.store.updateVm(vm.id, { restartAt: at });
    this.o.log.info(`VM '${vm.name}' restarts in ${delay} ms (restart: ${vm.spec.restart})`, {
      event: "restart.scheduled",
      vm: vm.name,
      id: vm.id,
      delay_ms: delay,
    });
    this.armRestart(vm.id, delay);
  }

  private armRestart(id: string, delay: number): void {
    clearTimeout(this.timers.get(id));
    this.timers.set(
      id,
      setTimeout(() => {
        this.timers.delete(id);
        void this.serial(id, async () => {
          const vm = this.store.vm(id);
          if (!vm || vm.desired !== "running" || isActive(vm.state) || this.closed) return;
          try {
            // Recorded before it is made, like a change through the API: a restart the log
            // cannot record is not made (tried again later), and a daemon that dies during
            // the launch leaves the intent in the log.
            const intent = this.intent("vm.restart", vm, { restarts: vm.restarts + 1 });
            this.store.updateVm(id, { restarts: vm.restarts + 1, restartAt: null });
            vm.restarts += 1;
            await this.launch(vm);
            this.audit("vm.restart", vm, true, { restarts: vm.restarts, intent_seq: intent });
            this.o.log.info(`VM '${vm.name}' restarted (restart ${vm.restarts})`, {
              event: "restart",
              vm: vm.name,
              id,
              restarts: vm.restarts,
            });
          } catch (e) {
            this.audit("vm.restart", vm, false, { error: (e as Error).message });
            this.o.log.error(`VM '${vm.name}': restart failed: ${(e as Error).message}`, {
              event: "restart",
              vm: vm.name,
              id,
              error: (e as Error).message,
            });
            const now = this.store.vm(id);
            if (now && !isActive(now.state)) {
              // Refused (admission) or failed before a process ran: try again later.
              if (!this.watches.has(id) && now.state !== "crashed")
                this.setState(now, "crashed", (e as Error).message);
              if (now.desired === "running" && !this.timers.has(id)) {
                this.store.updateVm(id, { failures: now.failures + 1 });
                now.failures += 1;
                this.scheduleRestart(now);
              }
            }
          }
        });
      }, delay),
    );
    this.timers.get(id)!.unref?.();
  }

  private cancelRestart(vm: VmRecord): void {
    clearTimeout(this.timers.get(vm.id));
    this.timers.delete(vm.id);
    if (vm.restartAt) this.store.updateVm(vm.id, { restartAt: null });
  }

  /**
   * Stops a VM: asks the guest to shut down and gives it `graceMs` (default: the daemon's
   * stopGraceMs) to power itself off (guest-shutdown.ts), then ends it hard: asks its VMM to
   * stop, then SIGTERM, then SIGKILL, each after stopTimeoutMs.
   */
  stop(id: string, graceMs = this.o.stopGraceMs): Promise<VmRecord> {
    return this.serial(id, async () => {
      const { vm, w } = this.wantStopped(id);
      if (!w) {
        if (vm.state === "crashed" || vm.state === "stopped" || vm.state === "created") return vm;
        throw new SupervisorError(`VM '${vm.name}' has no process`, "host");
      }
      const paused = vm.state === "paused";
      this.setState(vm, "stopping");
      const f = this.files(vm.id);
      const call = <R extends ControlRequest>(req: R, ms: number) =>
        vmmCall(f.control, req, ms, this.vmPeer(id));
      const asked =
        graceMs > 0
          ? await askShutdown(
              {
                call,
                exited: w.exited,
                agent: vm.spec.agent !== undefined,
                paused,
                asked: w.asked,
              },
              graceMs,
            )
          : "no grace";
      if (asked === "ended") return this.mustGet(id);
      w.requested =
        asked === "waited"
          ? `stopped by the operator: the guest did not shut down within ${graceMs / 1000} s`
          : "stopped by the operator";
      try {
        await call({ op: "stop" }, this.o.stopTimeoutMs);
      } catch {
        // It may already be gone, or hung: the signals below decide.
      }
      if (!(await endedWithin(w.exited, this.o.stopTimeoutMs))) {
        // To the VMM itself: a jailed VM's unshare ignores SIGTERM.
        signalPid(vmmProcess(w.pid) ?? w.pid, "SIGTERM");
        if (!(await endedWithin(w.exited, this.o.stopTimeoutMs))) {
          signalPid(w.pid, "SIGKILL");
          await w.exited;
        }
      }
      return this.mustGet(id);
    });
  }

  /** Records that `id` is to stay down (no restart); its watch, if it has a process. */
  private wantStopped(id: string): { vm: VmRecord; w: Watch | undefined } {
    const vm = this.mustGet(id);
    this.store.updateVm(vm.id, { desired: "stopped" });
    vm.desired = "stopped";
    this.cancelRestart(vm);
    return { vm, w: this.watches.get(vm.id) };
  }

  /**
   * SIGKILL at once. A VM with a process is killed now, not after the requests queued for it:
   * a stop waiting out its grace time for a guest that hangs is what a kill is for.
   */
  kill(id: string): Promise<VmRecord> {
    const now = async (): Promise<VmRecord> => {
      const { vm, w } = this.wantStopped(id);
      if (!w) throw new SupervisorError(`VM '${vm.name}' is not running`);
      w.killed = "killed by the operator (SIGKILL)";
      signalPid(w.pid, "SIGKILL");
      await w.exited;
      return this.mustGet(id);
    };
    return this.watches.has(id) ? now() : this.serial(id, now);
  }

  pause(id: string): Promise<VmRecord> {
    return this.hold(id, "pause", "running", "paused");
  }

  resume(id: string): Promise<VmRecord> {
    return this.hold(id, "resume", "paused", "running");
  }

  /** Pause or resume through the VMM's control socket, from state `from` to `to`. */
  private hold(id: string, op: "pause" | "resume", from: VmState, to: VmState): Promise<VmRecord> {
    return this.serial(id, async () => {
      const vm = this.mustGet(id);
      if (vm.state !== from) throw new SupervisorError(`VM '${vm.name}' is ${vm.state}`);
      const r = await vmmCall(this.files(id).control, { op }, 5000, this.vmPeer(id));
      if (r.ok !== true) throw new SupervisorError(`${op}: ${String(r.error)}`, "host");
      this.setState(vm, to);
      return vm;
    });
  }

  /**
   * Has the VM's process write snapshot `name` into its directory (snapshotDirOf): paused for
   * it if it runs, and resumed after unless `stop`; `whilePaused` runs once it is written,
   * before the resume (the daemon's copy of the VM's disks). Returns whether it was running.
   */
  snapshot(
    id: string,
    name: string,
    timeoutMs: number,
    stop: boolean,
    whilePaused?: () => void,
  ): Promise<boolean> {
    return this.serial(id, async () => {
      const vm = this.mustGet(id);
      if (vm.state !== "running" && vm.state !== "paused")
        throw new SupervisorError(
          `VM '${vm.name}' is ${vm.state}: a snapshot is of a running or paused VM`,
        );
      const running = vm.state === "running";
      const call = <R extends ControlRequest>(req: R, ms = 5000) =>
        vmmCall(this.files(id).control, req, ms, this.vmPeer(id));
      if (running) {
        const p = await call({ op: "pause" });
        if (p.ok !== true) throw new SupervisorError(`pause: ${String(p.error)}`, "host");
        this.setState(vm, "paused");
      }
      let r: ControlReply<"snapshot"> | undefined;
      try {
        r = await call({ op: "snapshot", name }, timeoutMs);
        if (r.ok === true) whilePaused?.();
      } finally {
        // A VM to be stopped after its snapshot goes on if there is none.
        if (running && (!stop || r?.ok !== true)) {
          const g = await call({ op: "resume" });
          if (g.ok === true) this.setState(vm, "running");
        }
      }
      // The VMM's refusals are of this VM as it is (busy, a KVM VM): the caller's to change.
      if (r.ok !== true) throw new SupervisorError(`snapshot: ${String(r.error)}`);
      return running;
    });
  }

  /** Deletes a VM that has no process; its directory (console log included) goes with it. */
  remove(id: string): Promise<VmRecord> {
    return this.serial(id, async () => {
      const vm = this.mustGet(id);
      if (this.watches.has(id) || isActive(vm.state))
        throw new SupervisorError(`VM '${vm.name}' is ${vm.state}: stop it first (or force)`);
      this.cancelRestart(vm);
      // The directory first: a VM whose files cannot all be removed keeps its record.
      try {
        removeVmDir(this.files(id).dir);
      } catch (e) {
        throw new SupervisorError(`VM '${vm.name}': ${(e as Error).message}`, "host");
      }
      this.store.deleteVm(id);
      rmSync(this.files(id).config, { force: true });
      this.logs.remove(id);
      rmSync(join(this.o.jailsDir, id), { recursive: true, force: true });
      this.emitDeleted(vm);
      return vm;
    });
  }

  /** The live VMM call for a running VM (status, metrics, balloon...). */
  async call<R extends ControlRequest>(
    id: string,
    req: R,
    timeoutMs = 5000,
  ): Promise<ControlReply<R["op"]>> {
    if (!this.watches.has(id)) throw new SupervisorError("the VM is not running");
    return vmmCall(this.files(id).control, req, timeoutMs, this.vmPeer(id));
  }

  /** Who must serve a VM's sockets: its VMM process (pid 0, which none has, when unknown). */
  vmPeer(id: string): Peer {
    const vm = this.store.vm(id);
    return { pid: (vm && this.vmmPid(vm)) ?? 0 };
  }

  cgroupOf(vm: VmRecord): VmCgroup | undefined {
    return vm.cgroup ? this.cgroups.open(vm.cgroup) : undefined;
  }

  isWatched(id: string): boolean {
    return this.watches.has(id);
  }

  /** At daemon start: takes over what a previous daemon left (recovery.ts). */
  recover(): Promise<{ adopted: number; lost: number; orphans: number }> {
    return recoverVms({
      vmsDir: this.o.vmsDir,
      vms: () => this.store.vms(),
      vmmPid: (vm) => this.vmmPid(vm),
      adopt: (vm, pid) => this.watch(vm, pid, undefined),
      status: async (vm) => {
        const r = await vmmCall(
          this.files(vm.id).control,
          { op: "status" },
          3000,
          this.vmPeer(vm.id),
        );
        if (r.ok === true) this.noteTids(vm, r);
        return r;
      },
      lost: (vm, pid) => {
        const w: Watch = {
          pid,
          child: undefined,
          poll: undefined,
          exited: Promise.resolve(),
          done: () => {},
          asked: new Set(),
        };
        this.watches.set(vm.id, w);
        this.ended(vm.id, w, null, null);
      },
      setState: (vm, state, reason) => this.setState(vm, state, reason),
      removeCgroup: (vm) => this.removeCgroup(vm),
      armRestart: (id, delayMs) => this.armRestart(id, delayMs),
      audit: (action, vm, ok, detail) => this.audit(action, vm, ok, detail),
      log: this.o.log,
    });
  }

  /** Stops watching (the daemon is going down); VM processes keep running. */
  close(): void {
    this.closed = true;
    clearInterval(this.logCheck);
    for (const t of this.timers.values()) clearTimeout(t);
    for (const w of this.watches.values()) {
      if (w.poll) clearInterval(w.poll);
      w.vmmEnd?.close();
      w.child?.removeAllListeners("exit");
      w.child?.unref();
    }
    this.watches.clear();
  }

  private mustGet(id: string): VmRecord {
    const vm = this.store.vm(id);
    if (!vm) throw new SupervisorError(`no VM '${id}'`, "not-found");
    return vm;
  }
}
