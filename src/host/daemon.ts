// moatd: the host daemon. Owns the VM records (SQLite), supervises one process per VM, admits
// VMs against host capacity and trust-domain policy, reclaims idle guest memory through
// balloons, and serves the API on a Unix socket (root:moat 0660) and, optionally, TCP with TLS.
// This file starts and stops it and answers the API by the part that does each job.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { buildApi } from "./api.js";
import type { ApiHost } from "./api-host.js";
import type { Caller } from "./auth.js";
import type { Peer } from "./vm-socket.js";
import { AuditTrail } from "./audit-trail.js";
import type { HomeLock } from "./home-lock.js";
import type { ImageRecord, SnapshotRecord, Store, VmRecord } from "./store.js";
import { SnapshotStore, snapshotKey } from "./snapshot-store.js";
import { SnapshotOps } from "./snapshot-ops.js";
import { ImageStore } from "./image-store.js";
import { ImageOps, type ImportBody } from "./image-ops.js";
import { Supervisor, type VmEvent } from "./supervisor.js";
import { ReclaimLoop } from "./reclaim-loop.js";
import type { DaemonConfig } from "./config.js";
import { chooseAccel, type KvmKind } from "../vmm/vm-limits.js";
import {
  DaemonError,
  checkJail,
  detectCgroups,
  listenUnix,
  openStore,
  prepareHome,
  setKsm,
} from "./daemon-setup.js";
import { Tokens } from "./tokens.js";
import { TokenStreams } from "./token-streams.js";
import { admitVm } from "./host-capacity.js";
import { VmOps } from "./vm-ops.js";
import { VmCalls } from "./vm-calls.js";
import { VmStats } from "./vm-stats.js";
import { backingFileAllowed } from "./vm-create.js";
import { imageRules, inside } from "./image-dirs.js";
import { silentLog, type Log } from "./log.js";
import type { RequestDone } from "./api-host.js";

export { DaemonError };

/** What the daemon is told of the host by the layer that starts it (host/ probes no KVM). */
export interface DaemonHost {
  /** What this host's KVM is: what `"accel": "auto"` picks, what a jailed VM is told. */
  kvmKind(): KvmKind;
}

export class Daemon implements ApiHost {
  private store!: Store;
  private trail!: AuditTrail;
  private supervisor!: Supervisor;
  private auth!: Tokens;
  private ops!: VmOps;
  private snaps!: SnapshotOps;
  private images!: ImageOps;
  private calls!: VmCalls;
  private report!: VmStats;
  private readonly streams = new TokenStreams();
  private apps: FastifyInstance[] = [];
  private reclaim: ReclaimLoop | undefined;
  readonly adminTokenFile: string;
  private homeLock: HomeLock | undefined;
  private log: Log = silentLog;

  private constructor(
    readonly cfg: DaemonConfig,
    private readonly hostEnv: DaemonHost,
  ) {
    this.adminTokenFile = join(cfg.home, "admin.token");
  }

  /**
   * Starts the daemon: state opened, VM processes taken over, API listening. If any step
   * fails, what was opened is closed again (the home's lock released, VMs left running).
   */
  static async start(cfg: DaemonConfig, host: DaemonHost, log: Log = silentLog): Promise<Daemon> {
    const d = new Daemon(cfg, host);
    try {
      await d.open(log);
    } catch (e) {
      await d.close().catch(() => {});
      throw e;
    }
    return d;
  }

  private async open(log: Log): Promise<void> {
    this.log = log;
    const c = this.cfg;
    checkJail(c, log);
    this.homeLock = prepareHome(c);
    this.store = openStore(c.home, log);
    this.trail = new AuditTrail(c.home, this.store, log);
    const found = this.trail.found();
    this.auth = new Tokens(this.store, this.trail, this.streams);
    this.auth.bootstrap(this.adminTokenFile, log);
    const cgroups = detectCgroups();
    const snapshotFiles = new SnapshotStore(join(c.home, "snapshots"), snapshotKey(c.home));
    for (const id of snapshotFiles.sweep(new Set(this.store.snapshots().map((s) => s.id))))
      log.warn(`snapshot store: removed ${id}, a copy left unfinished (no record of it)`);
    const imageFiles = new ImageStore(join(c.home, "images-store"));
    for (const p of imageFiles.sweep(new Set(this.store.images().map((i) => i.path))))
      log.warn(`image store: removed ${p}, an import left unfinished (no record of it)`);
    this.supervisor = new Supervisor(
      this.store,
      cgroups,
      (vm) => admitVm(vm, this.store, c, () => this.trail.room("start")),
      (action, vm, ok, detail) => this.trail.note(null, action, vm, ok, detail),
      (action, vm, detail) => this.trail.intent(null, action, vm, detail),
      {
        vmsDir: join(c.home, "vms"),
        logsDir: join(c.home, "logs"),
        vmmOverheadMiB: c.vmmOverheadMiB,
        ksm: c.policy.ksmDomain !== undefined,
        seccomp: c.vmSeccomp,
        logFormat: c.logFormat,
        kvmKind: this.hostEnv.kvmKind(),
        log,
        jail: c.vmJail,
        jailsDir: join(c.home, "jails"),
        restartBackoffMs: c.restartBackoffMs,
        stableAfterMs: c.stableAfterMs,
        startTimeoutMs: c.startTimeoutMs,
        stopGraceMs: c.stopGraceMs,
        stopTimeoutMs: c.stopTimeoutMs,
        ...(c.cgroupParent !== undefined ? { cgroupParent: c.cgroupParent } : {}),
        restorePath: (vm) => this.snaps.restorePath(vm),
        backingDirs: (vm) => this.images.backingDirs(vm),
        // A backing file is bound into a jail only if the VM's domain may use it now: its store
        // (for overlays on its images), or its image directories as at create.
        backingAllowed: (vm, path) =>
          (this.images.backingDirs(vm) ?? []).some((d) => inside(path, d)) ||
          backingFileAllowed(imageRules(c), path, vm.domain),
      },
    );
    this.snaps = new SnapshotOps(this.store, snapshotFiles, this.supervisor, c);
    this.images = new ImageOps(this.store, imageFiles, c, (id) => this.supervisor.files(id).dir);
    this.ops = new VmOps(
      this.store,
      this.supervisor,
      c,
      () => chooseAccel("auto", this.hostEnv.kvmKind()),
      this.images,
    );
    this.calls = new VmCalls(this.supervisor);
    this.report = new VmStats(this.store, this.supervisor, cgroups, c, () => this.auth.failedTotal);
    setKsm(c, log);
    const r = await this.supervisor.recover();
    try {
      this.trail.record(null, "daemon.start", null, true, { ...r, ...found, pid: process.pid });
    } catch (e) {
      throw new DaemonError(`cannot write the audit log: ${(e as Error).message}`);
    }
    log.info(
      `${r.adopted} running VMs taken over, ${r.lost} ended while no daemon ran, ` +
        `${r.orphans} orphan processes killed`,
    );
    const app = await buildApi(this, { rateLimit: c.rateLimit });
    await listenUnix(app, c, log);
    this.apps.push(app);
    if (c.tcp) {
      // The same routes over HTTPS: TCP is never served in the clear.
      const https = { key: readFileSync(c.tcp.key), cert: readFileSync(c.tcp.cert) };
      const tapp = await buildApi(this, { rateLimit: c.rateLimit, https });
      const host = c.tcp.host ?? "127.0.0.1";
      await tapp.listen({ port: c.tcp.port, host });
      this.apps.push(tapp);
      log.info(`API on https://${host}:${c.tcp.port}`);
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

  /** The routes the API serves. */
  routes(): { method: string; url: string }[] {
    return this.apps[0]?.moatRoutes ?? [];
  }

  /** Stops serving; VM processes keep running for the next daemon to take over. */
  async close(): Promise<void> {
    this.reclaim?.stop();
    this.supervisor?.close();
    for (const a of this.apps) await a.close();
    this.trail?.close();
    this.store?.close();
    this.homeLock?.release();
    this.homeLock = undefined;
  }

  // ---- ApiHost: each answered by the part that does its job ----

  caller(tokenHash: string): Caller | undefined {
    return this.auth.caller(tokenHash);
  }

  listVms(): VmRecord[] {
    return this.ops.list();
  }

  vm(ref: string, domain?: string): VmRecord | undefined {
    return this.ops.find(ref, domain);
  }

  createVm(body: Record<string, unknown>, caller: Caller): VmRecord {
    if (body.restore_from === undefined) return this.ops.create(body, caller);
    const r = this.snaps.restoreBody(body, caller);
    return this.ops.create(r.body, caller, r.snapshot.id);
  }

  snapshotVm(vm: VmRecord, name: string, stop: boolean): Promise<SnapshotRecord> {
    return this.snaps.take(vm, name, stop);
  }

  listSnapshots(caller: Caller): SnapshotRecord[] {
    return this.snaps.list(caller);
  }

  snapshot(ref: string, domain?: string): SnapshotRecord | undefined {
    return this.snaps.find(ref, domain);
  }

  deleteSnapshot(s: SnapshotRecord): void {
    this.snaps.delete(s);
  }

  importImage(b: ImportBody, caller: Caller): Promise<ImageRecord> {
    return this.images.import(b, caller);
  }

  listImages(caller: Caller): ImageRecord[] {
    return this.images.list(caller);
  }

  image(ref: string, domain?: string): ImageRecord | undefined {
    return this.images.find(ref, domain);
  }

  imageUsers(i: ImageRecord): VmRecord[] {
    return this.images.usedBy(i);
  }

  deleteImage(i: ImageRecord): void {
    this.images.delete(i);
  }

  lifecycle(
    vm: VmRecord,
    op: "start" | "stop" | "kill" | "pause" | "resume",
    graceS?: number,
  ): Promise<VmRecord> {
    return this.ops.lifecycle(vm, op, graceS);
  }

  deleteVm(vm: VmRecord, force: boolean): Promise<void> {
    return this.ops.delete(vm, force);
  }

  agentCall(...a: Parameters<ApiHost["agentCall"]>): Promise<Record<string, unknown>> {
    return this.calls.agent(...a);
  }

  guestInfo(...a: Parameters<ApiHost["guestInfo"]>): Promise<Record<string, unknown>> {
    return this.calls.guestInfo(...a);
  }

  setBalloon(vm: VmRecord, targetMiB: number): Promise<Record<string, unknown>> {
    return this.calls.setBalloon(vm, targetMiB);
  }

  screenshot(vm: VmRecord): Promise<Buffer> {
    return this.calls.screenshot(vm);
  }

  stats(vm: VmRecord): Promise<Record<string, unknown>> {
    return this.report.stats(vm);
  }

  logs(vm: VmRecord, bytes: number): string {
    return this.ops.logs(vm, bytes);
  }

  consolePath(vm: VmRecord): string {
    return this.ops.consolePath(vm);
  }

  vmPeer(vm: VmRecord): Peer {
    return this.ops.vmPeer(vm);
  }

  vncPath(vm: VmRecord): string {
    return this.ops.vncPath(vm);
  }

  host(): Record<string, unknown> {
    return this.report.host();
  }

  tokens(): Record<string, unknown>[] {
    return this.auth.list();
  }

  createToken(b: Parameters<ApiHost["createToken"]>[0]): Record<string, unknown> {
    return this.auth.create(b);
  }

  authFailed(peer: string): void {
    this.auth.authFailed(peer);
  }

  deleteToken(id: string): boolean {
    return this.auth.delete(id);
  }

  holdStream(caller: Caller, close: () => void): () => void {
    return this.streams.hold(caller, close);
  }

  verifyAudit(): Promise<Record<string, unknown>> {
    return this.trail.verify();
  }

  metrics(): Promise<{ contentType: string; body: string }> {
    return this.report.metrics();
  }

  countRequest(method: string, route: string, status: number): void {
    this.report.countRequest(method, route, status);
  }

  logRequest(r: RequestDone): void {
    const who = r.caller ? ` (${r.caller.name}, ${r.caller.role})` : "";
    const level = r.status >= 500 ? "error" : r.status >= 400 ? "warn" : "info";
    const why = r.error !== undefined ? `: ${r.error}` : "";
    this.log[level](`${r.method} ${r.route} ${r.status} ${r.ms} ms${who}${why}`, {
      event: "request",
      ...r,
    });
  }

  subscribe(fn: (e: VmEvent) => void): () => void {
    this.supervisor.events.on("event", fn);
    return () => this.supervisor.events.off("event", fn);
  }

  auditIntent(...a: Parameters<ApiHost["auditIntent"]>): number {
    return this.trail.intent(...a);
  }

  audit(...a: Parameters<ApiHost["audit"]>): number {
    return this.trail.audit(...a);
  }
}
