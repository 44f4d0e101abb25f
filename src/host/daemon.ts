// moatd: the host daemon. Owns the VM records (SQLite), supervises one process per VM, admits
// VMs against host capacity and trust-domain policy, reclaims idle guest memory through
// balloons, and serves the API on a Unix socket (root:moat 0660) and, optionally, TCP with TLS.
import { connect } from "node:net";
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { createHash, randomBytes } from "node:crypto";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { ApiError, buildApi } from "./api.js";
import type { ApiHost } from "./api-host.js";
import { hashToken, newToken, type Caller, type Role } from "./auth.js";
import type { Peer } from "./vm-socket.js";
import { AuditLog, verifyAuditLog, type AuditHead } from "./audit-log.js";
import { lockHome, type HomeLock } from "./home-lock.js";
import { Store, type VmRecord } from "./store.js";
import { Supervisor, SupervisorError, type VmEvent } from "./supervisor.js";
import { jailUnavailable } from "../jail/launch.js";
import { DEFAULT_AGENT_ALLOW, agentPolicy, isAgentCommand } from "../agent/agent-commands.js";
import { Cgroups, CgroupError } from "./cgroup.js";
import { AdmissionError, admit, capacity, type ActiveVm, type Capacity } from "./admission.js";
import { hostCpus, hostMemory, processCpuSeconds, processRss } from "./host-facts.js";
import { isActive } from "./vm-spec.js";
import { ReclaimLoop } from "./reclaim-loop.js";
import { newVmRecord, recheckVm } from "./vm-create.js";
import { defaultImageDir, imageDirsProblem } from "./image-dirs.js";
import { checkQuota, quotaView } from "./quota.js";
import { readVmFile } from "./vm-file.js";
import { metricsRegistry } from "./metrics.js";
import type { DaemonConfig } from "./config.js";
import { kvmKind } from "../kvm/kvm-probe.js";

/** KSM's switch: 0 stopped, 1 running, 2 stopped with every merged page unmerged. */
const KSM_RUN = "/sys/kernel/mm/ksm/run";

/** Whether a process accepts connections on the Unix socket at `path`. */
function answers(path: string): Promise<boolean> {
  return new Promise((res) => {
    const s = connect(path);
    s.once("connect", () => {
      s.destroy();
      res(true);
    });
    s.once("error", () => res(false));
  });
}

export class DaemonError extends Error {}

export class Daemon implements ApiHost {
  private store!: Store;
  private auditLog!: AuditLog;
  private supervisor!: Supervisor;
  private cgroups!: Cgroups;
  private apps: FastifyInstance[] = [];
  private reclaim: ReclaimLoop | undefined;
  private readonly registry = metricsRegistry({
    vms: () => this.store.vms(),
    capacity: () => this.capacity(),
    vmmMetrics: async (vm) => {
      try {
        const r = await this.supervisor.call(vm.id, { op: "metrics" }, 2000);
        return r.ok === true ? r : undefined;
      } catch {
        return undefined;
      }
    },
    usage: (vm) => this.usage(vm),
    authFailures: () => this.authFailures.total,
  });
  /** Refused requests: counted, and audited at most once a minute with the count since. */
  private readonly authFailures = { total: 0, sinceAudit: 0, lastAudit: 0 };
  readonly adminTokenFile: string;
  private homeLock: HomeLock | undefined;
  private log: (s: string) => void = () => {};
  /** Streams open per token id (consoles, displays, events), closed when it is revoked. */
  private readonly streams = new Map<string, Set<() => void>>();

  private constructor(readonly cfg: DaemonConfig) {
    this.adminTokenFile = join(cfg.home, "admin.token");
  }

  /**
   * Starts the daemon: state opened, VM processes taken over, API listening. If any step
   * fails, what was opened is closed again (the home's lock released, VMs left running).
   */
  static async start(cfg: DaemonConfig, log: (s: string) => void = () => {}): Promise<Daemon> {
    const d = new Daemon(cfg);
    d.log = log;
    try {
      await d.open(log);
    } catch (e) {
      await d.close().catch(() => {});
      throw e;
    }
    return d;
  }

  private async open(log: (s: string) => void): Promise<void> {
    const c = this.cfg;
    // Jailed by default; a daemon that cannot jail refuses to start rather than run VMs bare.
    if (c.vmJail) {
      const why = jailUnavailable() ?? (c.vmUsers ? null : "the jail needs vmUsers (a uid per VM)");
      if (why)
        throw new DaemonError(
          `VMs are jailed (vmJail) and ${why}; set "vmJail": false in the config to run ` +
            "them unjailed (development only)",
        );
    } else log("moatd: vmJail is off: VMs run unjailed (development only)");
    const badDirs = imageDirsProblem(c);
    if (badDirs) throw new DaemonError(badDirs);
    try {
      mkdirSync(c.home, { recursive: true, mode: 0o711 });
      // Group moat must be able to pass through to the socket (traverse, not list).
      const m = statSync(c.home).mode & 0o777;
      if ((m & 0o011) !== 0o011) chmodSync(c.home, m | 0o011);
    } catch (e) {
      throw new DaemonError(
        `cannot create ${c.home}: ${(e as Error).message} (run as root, or set MOAT_HOME)`,
      );
    }
    // Everything the daemon writes (database, WAL, logs) is private unless it says otherwise.
    process.umask(0o077);
    try {
      this.homeLock = lockHome(c.home);
    } catch (e) {
      throw new DaemonError((e as Error).message);
    }
    // 0711: a VM process (its own uid) passes through to its own directory, lists none.
    mkdirSync(join(c.home, "vms"), { recursive: true, mode: 0o711 });
    chmodSync(join(c.home, "vms"), 0o711);
    // The default image directory (the quick start's disks go there): root's alone.
    const images = defaultImageDir(c);
    if (images) mkdirSync(images, { recursive: true, mode: 0o700 });
    this.store = new Store(join(c.home, "moat.db"));
    this.store.onUnsaved = (id, e) => {
      const name = this.store.vm(id)?.name ?? id;
      log(
        e
          ? `moatd: VM '${name}': its record was not saved (${e.message}); kept in memory and written when there is room`
          : `moatd: VM '${name}': its record is saved again`,
      );
    };
    // Token hashes and the audit head: for root alone.
    for (const f of ["moat.db", "moat.db-wal", "moat.db-shm"])
      if (existsSync(join(c.home, f))) chmodSync(join(c.home, f), 0o600);
    this.auditLog = AuditLog.open(join(c.home, "audit.log"));
    const found = this.auditFound(log);
    this.bootstrapToken(log);
    try {
      this.cgroups = Cgroups.detect();
    } catch (e) {
      throw new DaemonError(`cgroups: ${(e as Error).message}`);
    }
    this.supervisor = new Supervisor(
      this.store,
      this.cgroups,
      (vm) => this.admitVm(vm),
      (action, vm, ok, detail) => this.noteAudit(null, action, vm, ok, detail),
      (action, vm, detail) => this.auditIntent(null, action, vm, detail),
      {
        vmsDir: join(c.home, "vms"),
        logsDir: join(c.home, "logs"),
        vmmOverheadMiB: c.vmmOverheadMiB,
        ksm: c.policy.ksmDomain !== undefined,
        seccomp: c.vmSeccomp,
        jail: c.vmJail,
        jailsDir: join(c.home, "jails"),
        restartBackoffMs: c.restartBackoffMs,
        stableAfterMs: c.stableAfterMs,
        startTimeoutMs: c.startTimeoutMs,
        stopGraceMs: c.stopGraceMs,
        stopTimeoutMs: c.stopTimeoutMs,
        ...(c.cgroupParent !== undefined ? { cgroupParent: c.cgroupParent } : {}),
      },
    );
    if (c.policy.ksmDomain !== undefined) this.enableKsm(log);
    else this.stopKsm(log);
    const r = await this.supervisor.recover();
    try {
      this.record(null, "daemon.start", null, true, { ...r, ...found, pid: process.pid });
    } catch (e) {
      throw new DaemonError(`cannot write the audit log: ${(e as Error).message}`);
    }
    log(
      `moatd: ${r.adopted} running VMs taken over, ${r.lost} ended while no daemon ran, ` +
        `${r.orphans} orphan processes killed`,
    );
    const app = await buildApi(this, { rateLimit: c.rateLimit });
    await this.listenUnix(app, log);
    this.apps.push(app);
    if (c.tcp) {
      // The same routes over HTTPS: TCP is never served in the clear.
      const https = { key: readFileSync(c.tcp.key), cert: readFileSync(c.tcp.cert) };
      const tapp = await buildApi(this, { rateLimit: c.rateLimit, https });
      const host = c.tcp.host ?? "127.0.0.1";
      await tapp.listen({ port: c.tcp.port, host });
      this.apps.push(tapp);
      log(`moatd: API on https://${host}:${c.tcp.port}`);
    }
    if (c.reclaim.enabled) {
      this.reclaim = new ReclaimLoop(c.reclaim, {
        vms: () => this.store.vms(),
        call: (id, req, ms) => this.supervisor.call(id, req, ms),
        emit: (e) => this.supervisor.events.emit("event", e),
      });
      this.reclaim.start();
    }
  }

  /**
   * What the log's state at open tells: a torn line moved aside, or a database head that is not
   * the log's last line (a head write that failed, or a log cut or extended while no daemon
   * ran). Said on stderr and kept in the daemon.start entry, so the next head write does not
   * hide it.
   */
  private auditFound(log: (s: string) => void): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const torn = this.auditLog.torn;
    if (torn) {
      log(
        `moatd: the audit log's last line was cut short (${torn.bytes} bytes); moved to ` +
          `${torn.movedTo}, recorded at seq ${torn.seq}`,
      );
      out.audit_torn_seq = torn.seq;
    }
    const why = headMismatch(this.store.auditHead(), this.auditLog.foundHead);
    if (why) {
      log(`moatd: warning: ${why}; moat audit-log verify shows the log`);
      out.audit_head_mismatch = why;
    }
    return out;
  }

  /**
   * KSM merges identical pages across processes: a side channel between VMs (an attacker can
   * time copy-on-write faults on pages it guesses another guest holds), so it is turned on only
   * under the one-domain policy, and VMs mark their RAM mergeable only then (--ksm).
   */
  private enableKsm(log: (s: string) => void): void {
    try {
      writeFileSync(KSM_RUN, "1");
      log(`moatd: KSM on: every VM on this host is in trust domain '${this.cfg.policy.ksmDomain}'`);
    } catch (e) {
      throw new DaemonError(
        `policy.ksmDomain is set but KSM cannot be turned on: ${(e as Error).message}`,
      );
    }
  }

  /**
   * Without the one-domain policy KSM must not run (an earlier daemon under that policy, or
   * another program, may have left it on): it is stopped and its merged pages unmerged.
   */
  private stopKsm(log: (s: string) => void): void {
    let on: boolean;
    try {
      on = readFileSync(KSM_RUN, "utf8").trim() === "1";
    } catch {
      return; // no KSM in this kernel
    }
    if (!on) return;
    try {
      writeFileSync(KSM_RUN, "2");
      log(
        "moatd: KSM was on; stopped and unmerged (no policy.ksmDomain: merging pages across trust domains is a side channel)",
      );
    } catch (e) {
      log(
        `moatd: warning: KSM is on and cannot be stopped (${(e as Error).message}); moat audit reports it`,
      );
    }
  }

  /** The routes the API serves. */
  routes(): { method: string; url: string }[] {
    return this.apps[0]?.moatRoutes ?? [];
  }

  private bootstrapToken(log: (s: string) => void): void {
    if (this.store.tokens().some((t) => t.role === "admin")) return;
    const token = newToken();
    this.store.insertToken({
      id: randomBytes(6).toString("hex"),
      name: "admin",
      hash: hashToken(token),
      role: "admin",
      domain: null,
      createdAt: new Date().toISOString(),
      expiresAt: null,
    });
    writeFileSync(this.adminTokenFile, token + "\n", { mode: 0o600 });
    chmodSync(this.adminTokenFile, 0o600);
    log(`moatd: first start: an admin token is in ${this.adminTokenFile} (mode 0600)`);
  }

  private async listenUnix(app: FastifyInstance, log: (s: string) => void): Promise<void> {
    const path = this.cfg.socket;
    // The home's lock keeps out a second daemon on this home; one on another home configured
    // with the same socket would take this one's API over, so a socket that answers is kept.
    if (await answers(path))
      throw new DaemonError(`something already serves ${path} (a daemon with another home?)`);
    try {
      if (lstatSync(path).isSocket()) unlinkSync(path);
      else throw new DaemonError(`${path} exists and is not a socket`);
    } catch (e) {
      if (e instanceof DaemonError) throw e;
    }
    await app.listen({ path });
    chmodSync(path, 0o660);
    const gid = this.socketGid(log);
    if (gid !== undefined) chownSync(path, 0, gid);
    log(`moatd: API on ${path} (root:${gid !== undefined ? this.cfg.socketGroup : "root"} 0660)`);
  }

  /** The gid of the socket group, created (as a system group) when root and it is missing. */
  private socketGid(log: (s: string) => void): number | undefined {
    const find = (): number | undefined => {
      const line = readFileSync("/etc/group", "utf8")
        .split("\n")
        .find((l) => l.startsWith(`${this.cfg.socketGroup}:`));
      return line ? Number(line.split(":")[2]) : undefined;
    };
    let gid = find();
    if (gid === undefined && process.getuid?.() === 0) {
      try {
        execFileSync("groupadd", ["--system", this.cfg.socketGroup], { stdio: "ignore" });
        log(`moatd: created the system group '${this.cfg.socketGroup}' for API socket access`);
        gid = find();
      } catch {
        log(
          `moatd: group '${this.cfg.socketGroup}' is missing and could not be created; socket is root-only`,
        );
      }
    }
    return gid;
  }

  /** Stops serving; VM processes keep running for the next daemon to take over. */
  async close(): Promise<void> {
    this.reclaim?.stop();
    this.supervisor?.close();
    for (const a of this.apps) await a.close();
    this.auditLog?.close();
    this.store?.close();
    this.homeLock?.release();
    this.homeLock = undefined;
  }

  // ---- ApiHost ----

  /** The token's holder, unless there is no such token or it has expired. */
  caller(tokenHash: string): Caller | undefined {
    const t = this.store.tokenByHash(tokenHash);
    if (!t) return undefined;
    const expiresAt = t.expiresAt !== null ? Date.parse(t.expiresAt) : undefined;
    if (expiresAt !== undefined && !(expiresAt > Date.now())) return undefined;
    return {
      id: t.id,
      name: t.name,
      role: t.role,
      domain: t.domain,
      ...(expiresAt !== undefined ? { expiresAt } : {}),
    };
  }

  listVms(): VmRecord[] {
    return this.store.vms();
  }

  vm(ref: string, domain?: string): VmRecord | undefined {
    const found = this.store.find(ref, domain);
    if (found.length > 1)
      throw new ApiError(
        409,
        `'${ref}' names ${found.length} VMs (trust domains ${found.map((v) => v.domain).join(", ")}): use the VM's id (moat ls)`,
      );
    return found[0];
  }

  createVm(body: Record<string, unknown>, caller: Caller): VmRecord {
    const vm = newVmRecord(body, caller, this.cfg, {
      nameTaken: (n, domain) => this.store.vms().some((v) => v.domain === domain && v.name === n),
      checkQuota: (v) => checkQuota(v, this.store.vms(), this.cfg.domainQuotas, "create"),
      autoAccel: kvmKind() === "hardware" ? "kvm" : "soft",
      ...(this.cfg.vmUsers
        ? { allocateUid: () => this.store.allocateUid(this.cfg.vmUidBase) }
        : {}),
    });
    const now = vm.createdAt;
    this.store.insertVm(vm);
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

  async deleteVm(vm: VmRecord, force: boolean): Promise<void> {
    try {
      if (force && this.supervisor.isWatched(vm.id)) await this.supervisor.kill(vm.id);
      await this.supervisor.remove(vm.id);
    } catch (e) {
      throw toApiError(e);
    }
  }

  /**
   * One guest-agent call: refused (403) unless the VM's agent policy allows `command`. The
   * reply is what the guest said, labelled informational: nothing here acts on it. `note`
   * receives what the audit entry records (the command, a digest of its arguments, the outcome).
   */
  async agentCall(
    vm: VmRecord,
    command: string,
    args: Record<string, unknown> | undefined,
    timeoutMs: number,
    note: (detail: Record<string, unknown>) => void,
  ): Promise<Record<string, unknown>> {
    const digest = createHash("sha256")
      .update(JSON.stringify(args ?? {}))
      .digest("hex");
    const audit = (outcome: string): void => note({ command, args_sha256: digest, outcome });
    if (!vm.spec.agent) {
      audit("no agent");
      throw new ApiError(
        409,
        `VM '${vm.name}' has no guest agent channel (create it with --agent, the API's "agent": {})`,
      );
    }
    if (!isAgentCommand(command)) {
      audit("unknown command");
      throw new ApiError(400, `'${command}' is not a guest-agent command`, "command");
    }
    if (!agentPolicy(vm.spec.agent.allow ?? DEFAULT_AGENT_ALLOW).has(command)) {
      audit("refused by policy");
      throw new ApiError(
        403,
        `VM '${vm.name}''s agent policy does not allow '${command}'`,
        "command",
      );
    }
    let r: Record<string, unknown>;
    try {
      r = await this.supervisor.call(
        vm.id,
        { op: "agent", command, ...(args ? { arguments: args } : {}), timeout_ms: timeoutMs },
        timeoutMs + 5000,
      );
    } catch (e) {
      audit("failed");
      throw toApiError(e);
    }
    if (r.ok !== true) {
      audit(`failed: ${String(r.kind ?? "error")}`);
      const status =
        r.kind === "timeout" ? 504 : r.kind === "policy" ? 403 : r.kind === "request" ? 400 : 502;
      throw new ApiError(status, `guest agent: ${String(r.error).slice(0, 500)}`);
    }
    audit("ok");
    const { ok: _ok, ...rest } = r;
    return { command, informational: true, ...rest };
  }

  /** What the guest agent reports about the guest: each allowed informational command. */
  async guestInfo(
    vm: VmRecord,
    note: (detail: Record<string, unknown>) => void,
  ): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {
      informational: true,
      note: "reported by the guest's agent: the guest's word, never used for a decision",
    };
    const errors: Record<string, string> = {};
    const allow = agentPolicy(vm.spec.agent?.allow ?? DEFAULT_AGENT_ALLOW);
    for (const c of [
      "ping",
      "info",
      "osinfo",
      "hostname",
      "time",
      "interfaces",
      "users",
    ] as const) {
      if (!allow.has(c)) continue;
      try {
        const r = await this.agentCall(vm, c, undefined, 5000, () => {});
        out[c] =
          c === "info" ? { version: (r.return as { version?: unknown })?.version } : r.return;
      } catch (e) {
        if (e instanceof ApiError && (e.statusCode === 409 || e.statusCode === 404)) {
          note({ command: "guest-info", outcome: "failed" });
          throw e;
        }
        errors[c] = (e as Error).message;
      }
    }
    if (Object.keys(errors).length > 0) out.errors = errors;
    note({ command: "guest-info", outcome: Object.keys(errors).length > 0 ? "partial" : "ok" });
    return out;
  }

  async setBalloon(vm: VmRecord, targetMiB: number): Promise<Record<string, unknown>> {
    if (!vm.spec.balloon) throw new ApiError(409, `VM '${vm.name}' has no balloon`);
    const r = await this.callVm(vm, { op: "balloon", target_mib: targetMiB });
    if (r.ok !== true) throw new ApiError(400, String(r.error), "target_mib");
    return r;
  }

  /** What the VM's display shows, as PNG bytes. */
  async screenshot(vm: VmRecord): Promise<Buffer> {
    if (!vm.spec.display) throw new ApiError(409, `VM '${vm.name}' has no display`);
    const r = await this.callVm(vm, { op: "screenshot" });
    if (r.ok !== true) throw new ApiError(409, String(r.error));
    return Buffer.from(String(r.png), "base64");
  }

  async stats(vm: VmRecord): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = { id: vm.id, name: vm.name, state: vm.state };
    if (vm.pid === null) return out;
    Object.assign(out, { pid: vm.pid, vmm_pid: this.supervisor.vmmPid(vm) ?? null });
    Object.assign(out, this.usageView(vm));
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

  private usageView(vm: VmRecord): Record<string, unknown> {
    const u = this.usage(vm);
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

  private usage(vm: VmRecord): { cpuSeconds?: number; vcpuSeconds?: number; rssBytes?: number } {
    // A jailed VM's own figures are its VMM's, not its unshare's.
    const pid = this.supervisor.vmmPid(vm);
    if (pid === undefined) return {};
    const cpu = processCpuSeconds(pid);
    const rss = processRss(pid);
    const tids = this.supervisor.vcpuTids.get(vm.id);
    const per = tids?.map((t) => processCpuSeconds(pid, "/", t));
    const vcpu =
      per && per.every((x) => x !== undefined) ? per.reduce((a, b) => a! + b!, 0) : undefined;
    return {
      ...(cpu !== undefined ? { cpuSeconds: cpu } : {}),
      ...(vcpu !== undefined ? { vcpuSeconds: vcpu } : {}),
      ...(rss !== undefined ? { rssBytes: rss } : {}),
    };
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

  vmPeer(vm: VmRecord): Peer {
    return this.supervisor.vmPeer(vm.id);
  }

  vncPath(vm: VmRecord): string {
    return this.supervisor.files(vm.id).vnc;
  }

  private active(exclude?: string): ActiveVm[] {
    return this.store
      .vms()
      .filter((v) => isActive(v.state) && v.id !== exclude)
      .map((v) => ({
        name: v.name,
        domain: v.domain,
        cpus: v.spec.cpus,
        memoryMiB: v.spec.memory_mib,
        pinned: v.pinned,
      }));
  }

  private hostShape(): { cpus: ReturnType<typeof hostCpus>; memoryMiB: number } {
    return { cpus: hostCpus(), memoryMiB: Math.floor(hostMemory().totalBytes / (1 << 20)) };
  }

  private capacity(): Capacity {
    return capacity(this.hostShape(), this.active(), this.cfg.policy);
  }

  /**
   * Before each launch (a start, a restart): networks and image directories may have been
   * reassigned since the VM was created, and a path swapped for a link, so both are checked
   * again; then the host must be able to carry it.
   */
  private admitVm(vm: VmRecord): { pinned: number[] | null } {
    // A restart is a change like any other: not made when the log cannot record it.
    this.auditRoom("start");
    recheckVm(vm.spec, vm.domain, this.cfg);
    checkQuota(vm, this.store.vms(), this.cfg.domainQuotas, "start");
    return admit(
      { ...vm.spec, domain: vm.domain },
      this.active(vm.id),
      this.hostShape(),
      this.cfg.policy,
    );
  }

  host(): Record<string, unknown> {
    const vms = this.store.vms();
    const byState: Record<string, number> = {};
    for (const v of vms) byState[v.state] = (byState[v.state] ?? 0) + 1;
    const mem = hostMemory();
    return {
      capacity: this.capacity(),
      memory: {
        total_bytes: mem.totalBytes,
        available_bytes: mem.availableBytes,
        pressure_some10: mem.pressureSome10 ?? null,
      },
      policy: this.cfg.policy,
      quotas: quotaView(this.store.vms(), this.cfg.domainQuotas),
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

  tokens(): Record<string, unknown>[] {
    return this.store.tokens().map((t) => ({
      id: t.id,
      name: t.name,
      role: t.role,
      domain: t.domain,
      created_at: t.createdAt,
      expires_at: t.expiresAt,
    }));
  }

  createToken(b: {
    name: string;
    role: string;
    domain?: string;
    expires_in_s?: number;
  }): Record<string, unknown> {
    if (b.role === "tenant" && !b.domain)
      throw new ApiError(400, "body: domain is required for a tenant token", "domain");
    if (b.role !== "tenant" && b.domain)
      throw new ApiError(400, "body: domain is only for tenant tokens", "domain");
    if (this.store.tokens().some((t) => t.name === b.name))
      throw new ApiError(409, `a token named '${b.name}' exists`, "name");
    const token = newToken();
    const rec = {
      id: randomBytes(6).toString("hex"),
      name: b.name,
      hash: hashToken(token),
      role: b.role as Role,
      domain: b.domain ?? null,
      createdAt: new Date().toISOString(),
      expiresAt:
        b.expires_in_s !== undefined
          ? new Date(Date.now() + b.expires_in_s * 1000).toISOString()
          : null,
    };
    this.store.insertToken(rec);
    return {
      id: rec.id,
      name: rec.name,
      role: rec.role,
      domain: rec.domain,
      expires_at: rec.expiresAt,
      token,
    };
  }

  authFailed(peer: string): void {
    const a = this.authFailures;
    a.total++;
    a.sinceAudit++;
    const now = Date.now();
    // One line a minute at most: a flood of bad tokens must not flood the audit log.
    if (now - a.lastAudit < 60_000) return;
    this.noteAudit(null, "api.auth.failed", null, false, { peer, count: a.sinceAudit });
    a.sinceAudit = 0;
    a.lastAudit = now;
  }

  /** Revokes a token; the consoles, displays and event streams it opened are closed too. */
  deleteToken(id: string): boolean {
    if (!this.store.deleteToken(id)) return false;
    const open = this.streams.get(id);
    this.streams.delete(id);
    for (const close of open ?? []) close();
    return true;
  }

  holdStream(caller: Caller, close: () => void): () => void {
    let set = this.streams.get(caller.id);
    if (!set) this.streams.set(caller.id, (set = new Set()));
    set.add(close);
    // A stream ends when its token expires, as when it is revoked.
    let timer: NodeJS.Timeout | undefined;
    const expire = (): void => {
      const left = caller.expiresAt! - Date.now();
      if (left > 0) timer = setTimeout(expire, Math.min(left, 2 ** 31 - 1)).unref();
      else close();
    };
    if (caller.expiresAt !== undefined) expire();
    return () => {
      clearTimeout(timer);
      set.delete(close);
      if (set.size === 0 && this.streams.get(caller.id) === set) this.streams.delete(caller.id);
    };
  }

  async verifyAudit(): Promise<Record<string, unknown>> {
    const r = await verifyAuditLog(join(this.cfg.home, "audit.log"), this.store.auditHead());
    return { ...r };
  }

  async metrics(): Promise<{ contentType: string; body: string }> {
    await this.registry.gather();
    const reg = this.registry.registry;
    return { contentType: reg.contentType, body: await reg.metrics() };
  }

  subscribe(fn: (e: VmEvent) => void): () => void {
    this.supervisor.events.on("event", fn);
    return () => this.supervisor.events.off("event", fn);
  }

  /**
   * Records a change before it is made (write-ahead): the log must have room (ensureRoom) and
   * the line must be on disk, or the change is refused with 503 and never made. Returns the
   * line's seq, which the line recording the outcome names.
   */
  auditIntent(
    caller: Caller | null,
    action: string,
    vm: VmRecord | null,
    detail: Record<string, unknown>,
  ): number {
    this.auditRoom("change");
    return this.audit(caller, action, vm, true, { ...detail, phase: "intent" });
  }

  /** Appends one entry and returns its seq; throws ApiError 503 (said on stderr) if it cannot. */
  audit(
    caller: Caller | null,
    action: string,
    vm: VmRecord | null,
    ok: boolean,
    detail?: Record<string, unknown>,
  ): number {
    try {
      return this.record(caller, action, vm, ok, detail);
    } catch (e) {
      this.log(`moatd: audit log: '${action}' not recorded: ${(e as Error).message}`);
      throw auditRefusal("change", e);
    }
  }

  /** What the daemon did on its own (a restart made, an orphan killed): never throws. */
  private noteAudit(...entry: Parameters<Daemon["audit"]>): void {
    try {
      this.audit(...entry);
    } catch {
      // Said on stderr by audit; what it records has happened already.
    }
  }

  /** Throws ApiError 503 unless the log has room to record a `what` (AuditLog.ensureRoom). */
  private auditRoom(what: string): void {
    try {
      this.auditLog.ensureRoom();
    } catch (e) {
      throw auditRefusal(what, e);
    }
  }

  private record(...[caller, action, vm, ok, detail]: Parameters<Daemon["audit"]>): number {
    const head = this.auditLog.append({
      actor: caller ? `${caller.name}#${caller.id}` : "moatd",
      role: caller?.role ?? "daemon",
      action,
      vm: vm?.id ?? null,
      ok,
      ...(detail
        ? { detail: { ...detail, ...(vm ? { vm_name: vm.name, domain: vm.domain } : {}) } }
        : vm
          ? { detail: { vm_name: vm.name, domain: vm.domain } }
          : {}),
    });
    // The head in the database catches a log cut or rewritten at its end. The line is the
    // record and is on disk: a head write that fails (a full disk) leaves the head behind until
    // the next one succeeds, and a daemon started meanwhile says so (auditFound).
    try {
      this.store.setAuditHead(head);
    } catch (e) {
      this.log(`moatd: audit seq ${head.seq} written, its head not: ${(e as Error).message}`);
    }
    return head.seq;
  }

  private async callVm(
    vm: VmRecord,
    req: Record<string, unknown>,
  ): Promise<Record<string, unknown>> {
    try {
      return await this.supervisor.call(vm.id, req);
    } catch (e) {
      throw toApiError(e);
    }
  }
}

/** The 503 for a `what` the audit log cannot record: it is not made. */
function auditRefusal(what: string, e: unknown): ApiError {
  return new ApiError(
    503,
    `the audit log cannot record this ${what}, so it was not made: ${(e as Error).message}`,
  );
}

/** Why the database's head is not the log's last line, or undefined when it is (or is unset). */
function headMismatch(db: AuditHead | undefined, log: AuditHead): string | undefined {
  if (db === undefined || (db.seq === log.seq && db.hash === log.hash)) return undefined;
  const more =
    db.seq < log.seq
      ? "a head write failed, or lines were added while no daemon ran"
      : db.seq > log.seq
        ? "lines were removed from the end of the log"
        : "the last line was rewritten";
  return `the database records audit seq ${db.seq} but the log ends at seq ${log.seq} (${more})`;
}

function toApiError(e: unknown): Error {
  if (e instanceof ApiError) return e;
  if (e instanceof SupervisorError) return new ApiError(e.status, e.message);
  if (e instanceof AdmissionError) return new ApiError(409, e.message);
  if (e instanceof CgroupError) return new ApiError(500, `cgroups: ${e.message}`);
  return e as Error;
}
