// The daemon's durable state in one SQLite file: VM records (spec, state, the process that runs
// them), API tokens (hashes only) and the audit log's head. Every write is a single statement or
// a transaction, so a daemon killed at any point leaves a consistent file (WAL journal).
import { AUDIT_HEAD_META, type AuditHead } from "./audit-log.js";
import Database from "better-sqlite3";
import type { VmSpec, VmState } from "./vm-spec.js";

/** How a VM process ended, as the daemon recorded it. */
export interface VmExitRecord {
  time: string;
  status: number | null;
  signal: string | null;
  reason: string;
}

export interface VmRecord {
  id: string;
  name: string;
  domain: string;
  spec: VmSpec;
  state: VmState;
  /** What the operator last asked for: the supervisor restarts only a VM meant to run. */
  desired: "running" | "stopped";
  pid: number | null;
  /** The process's start time (field 22 of /proc/PID/stat): a reused PID does not match it. */
  pidStart: string | null;
  cgroup: Record<string, string> | null;
  pinned: number[] | null;
  startedAt: string | null;
  lastExit: VmExitRecord | null;
  restarts: number;
  failures: number;
  restartAt: string | null;
  /** The uid (and gid) its VM process runs as; null: the daemon's own (vmUsers off). */
  uid: number | null;
  /** The snapshot (its id) it starts from instead of booting; null: it boots. */
  restoredFrom: string | null;
  createdAt: string;
  updatedAt: string;
}

/** A snapshot the daemon took and keeps in its store (snapshot-store.ts). */
export interface SnapshotRecord {
  id: string;
  /** Unique in its trust domain. */
  name: string;
  domain: string;
  /** The VM it was taken of (its id and name then; the VM may be gone since). */
  vmId: string;
  vmName: string;
  /** The source VM's spec: the machine a VM restored from it has. */
  spec: VmSpec;
  /** Bytes of data its files hold (the memory file's extents and the manifest). */
  bytes: number;
  /** Its directory in the store. */
  path: string;
  createdAt: string;
}

/** A disk image the daemon keeps in its image store (image-store.ts). */
export interface ImageRecord {
  id: string;
  /** Unique in its trust domain. */
  name: string;
  domain: string;
  format: "raw" | "qcow2";
  /** The guest's disk size in bytes. */
  virtualSize: number;
  /** Bytes of data its file holds (its apparent size's data ranges). */
  bytes: number;
  /** qcow2's cluster size; null for raw. */
  clusterSize: number | null;
  /** The host file it was imported from. */
  source: string;
  /** Its file in the store. */
  path: string;
  createdAt: string;
}

export interface TokenRecord {
  id: string;
  name: string;
  hash: string;
  role: "admin" | "operator" | "tenant";
  domain: string | null;
  createdAt: string;
  /** When the token stops working (ISO time); null: never. */
  expiresAt: string | null;
}

interface VmRow {
  id: string;
  name: string;
  domain: string;
  spec: string;
  state: string;
  desired: string;
  pid: number | null;
  pid_start: string | null;
  cgroup: string | null;
  pinned: string | null;
  started_at: string | null;
  last_exit: string | null;
  restarts: number;
  failures: number;
  restart_at: string | null;
  uid: number | null;
  restored_from: string | null;
  created_at: string;
  updated_at: string;
}

/** The VM table's columns; a name is unique within its trust domain, not across domains. */
const vmsTable = (table: string): string => `
create table if not exists ${table} (
  id text primary key, name text not null, domain text not null, spec text not null,
  state text not null, desired text not null, pid integer, pid_start text, cgroup text,
  pinned text, started_at text, last_exit text, restarts integer not null default 0,
  failures integer not null default 0, restart_at text, created_at text not null,
  updated_at text not null, uid integer, restored_from text, unique (domain, name));`;

const VMS_COLUMNS =
  "id, name, domain, spec, state, desired, pid, pid_start, cgroup, pinned, started_at, " +
  "last_exit, restarts, failures, restart_at, created_at, updated_at, uid, restored_from";

const SCHEMA = `${vmsTable("vms")}
create table if not exists tokens (
  id text primary key, name text unique not null, hash text unique not null, role text not null,
  domain text, created_at text not null, expires_at text);
create table if not exists meta (key text primary key, value text not null);
create table if not exists snapshots (
  id text primary key, name text not null, domain text not null, vm_id text not null,
  vm_name text not null, spec text not null, bytes integer not null, path text not null,
  created_at text not null, unique (domain, name));
create table if not exists images (
  id text primary key, name text not null, domain text not null, format text not null,
  virtual_size integer not null, bytes integer not null, cluster_size integer,
  source text not null, path text not null, created_at text not null,
  unique (domain, name));
`;

const IMAGE_COLUMNS =
  "id, name, domain, format, virtual_size as virtualSize, bytes, cluster_size as clusterSize, " +
  "source, path, created_at as createdAt";

const SNAPSHOT_COLUMNS =
  "id, name, domain, vm_id as vmId, vm_name as vmName, spec, bytes, path, created_at as createdAt";

const TOKEN_COLUMNS =
  "id, name, hash, role, domain, created_at as createdAt, expires_at as expiresAt";

function fromRow(r: VmRow): VmRecord {
  return {
    id: r.id,
    name: r.name,
    domain: r.domain,
    spec: JSON.parse(r.spec) as VmSpec,
    state: r.state as VmState,
    desired: r.desired as "running" | "stopped",
    pid: r.pid,
    pidStart: r.pid_start,
    cgroup: r.cgroup ? (JSON.parse(r.cgroup) as Record<string, string>) : null,
    pinned: r.pinned ? (JSON.parse(r.pinned) as number[]) : null,
    startedAt: r.started_at,
    lastExit: r.last_exit ? (JSON.parse(r.last_exit) as VmExitRecord) : null,
    restarts: r.restarts,
    failures: r.failures,
    restartAt: r.restart_at,
    uid: r.uid ?? null,
    restoredFrom: r.restored_from ?? null,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** The fields of a VM record that change after create. */
export type VmFields = Partial<Omit<VmRecord, "id" | "name" | "domain" | "spec" | "createdAt">>;

/** SQLite's answer when the disk (or the file system's quota) has no room for a write. */
function isNoRoom(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return typeof code === "string" && (code === "SQLITE_FULL" || code.startsWith("SQLITE_IOERR"));
}

export class Store {
  private readonly db: Database.Database;
  /** The tokens' columns as selected: a database opened read-only may predate expires_at. */
  private tokenColumns = TOKEN_COLUMNS;
  private readonly unsaved = new Map<string, VmFields>();
  /** Told when a VM's fields are first kept in memory for want of room (error), and when they are saved again (null). */
  onUnsaved?: (id: string, e: Error | null) => void;

  /**
   * `readOnly`: an existing database, looked at and never changed (moat audit), read as it is
   * even if it predates a column (it is not migrated).
   */
  constructor(path: string, o: { readOnly?: boolean } = {}) {
    if (o.readOnly) {
      this.db = new Database(path, { readonly: true, fileMustExist: true });
      if (!this.hasColumn("tokens", "expires_at"))
        this.tokenColumns = TOKEN_COLUMNS.replace("expires_at as", "null as");
      return;
    }
    this.db = new Database(path);
    this.db.pragma("journal_mode = WAL");
    // FULL: a VM record the API acknowledged survives a power cut, not only a crash.
    this.db.pragma("synchronous = FULL");
    this.db.exec(SCHEMA);
    // Databases from before per-VM users get the column.
    if (!this.hasColumn("vms", "uid")) this.db.exec("alter table vms add column uid integer");
    // And from before snapshots, the snapshot a VM is restored from.
    if (!this.hasColumn("vms", "restored_from"))
      this.db.exec("alter table vms add column restored_from text");
    // And databases from before token expiry get theirs (null: the old tokens never expire).
    if (!this.hasColumn("tokens", "expires_at"))
      this.db.exec("alter table tokens add column expires_at text");
    if (this.namesHostWide()) this.namesPerDomain();
  }

  /** Whether the VM table is from before names per domain (a name unique on the whole host). */
  private namesHostWide(): boolean {
    const indexes = this.db.prepare("pragma index_list(vms)").all() as {
      name: string;
      unique: number;
    }[];
    return indexes.some((ix) => {
      if (!ix.unique) return false;
      const cols = this.db.prepare(`pragma index_info("${ix.name}")`).all() as { name: string }[];
      return cols.length === 1 && cols[0]!.name === "name";
    });
  }

  /** SQLite cannot drop a column's unique constraint: the table is copied, in one transaction. */
  private namesPerDomain(): void {
    this.db.transaction(() => {
      this.db.exec(vmsTable("vms_new"));
      this.db.exec(`insert into vms_new (${VMS_COLUMNS}) select ${VMS_COLUMNS} from vms`);
      this.db.exec("drop table vms");
      this.db.exec("alter table vms_new rename to vms");
    })();
  }

  private hasColumn(table: "vms" | "tokens", column: string): boolean {
    const cols = this.db.prepare(`pragma table_info(${table})`).all() as { name: string }[];
    return cols.some((c) => c.name === column);
  }

  /** The next unused VM uid at or above `base` (one transaction: never handed out twice). */
  allocateUid(base: number): number {
    return this.db.transaction(() => {
      const next = Math.max(base, Number(this.meta("next_uid") ?? base));
      this.setMeta("next_uid", String(next + 1));
      return next;
    })();
  }

  close(): void {
    this.db.close();
  }

  vms(): VmRecord[] {
    return (this.db.prepare("select * from vms order by created_at, name").all() as VmRow[]).map(
      (r) => this.withUnsaved(fromRow(r)),
    );
  }

  /** A VM by id, or else the first by that name. */
  vm(ref: string): VmRecord | undefined {
    return this.find(ref)[0];
  }

  /**
   * The VMs `ref` names: the one with that id, else every one with that name (a name is unique
   * only within a domain); with `domain`, only that domain's.
   */
  find(ref: string, domain?: string): VmRecord[] {
    const only = domain === undefined ? "" : " and domain = ?";
    const args = domain === undefined ? [ref] : [ref, domain];
    const byId = this.db.prepare(`select * from vms where id = ?${only}`).all(...args) as VmRow[];
    const rows = byId.length
      ? byId
      : (this.db
          .prepare(`select * from vms where name = ?${only} order by domain`)
          .all(...args) as VmRow[]);
    return rows.map((r) => this.withUnsaved(fromRow(r)));
  }

  insertVm(v: VmRecord): void {
    this.db
      .prepare(
        `insert into vms (id, name, domain, spec, state, desired, restarts, failures, uid,
         restored_from, created_at, updated_at) values (?, ?, ?, ?, ?, ?, 0, 0, ?, ?, ?, ?)`,
      )
      .run(
        v.id,
        v.name,
        v.domain,
        JSON.stringify(v.spec),
        v.state,
        v.desired,
        v.uid,
        v.restoredFrom,
        v.createdAt,
        v.updatedAt,
      );
  }

  /**
   * Writes the changed fields of a VM record. What the disk has no room for (a VM that ends
   * while the home is full) is kept in memory, shown by every read, and written by the next
   * write of that VM or by flushUnsaved(), so the supervisor goes on supervising instead of
   * failing in an exit handler. Bound: one merged set of fields per VM.
   */
  updateVm(id: string, f: VmFields): void {
    const all = { ...this.unsaved.get(id), ...f };
    try {
      this.writeVm(id, all);
    } catch (e) {
      if (!isNoRoom(e)) throw e;
      const first = !this.unsaved.has(id);
      this.unsaved.set(id, all);
      if (first) this.onUnsaved?.(id, e as Error);
      return;
    }
    if (this.unsaved.delete(id)) this.onUnsaved?.(id, null);
  }

  /**
   * Tries again every VM write that found no room. Called from a timer: any other failure (a
   * database gone read-only) leaves the fields kept and is tried again next time.
   */
  flushUnsaved(): void {
    for (const id of [...this.unsaved.keys()]) {
      try {
        this.updateVm(id, {});
      } catch {
        // Kept in memory as before; the next call tries again.
      }
    }
  }

  /** A record with what is kept in memory for it laid over. */
  private withUnsaved(vm: VmRecord): VmRecord {
    const u = this.unsaved.get(vm.id);
    return u ? { ...vm, ...u } : vm;
  }

  private writeVm(id: string, f: VmFields): void {
    const cols: string[] = [];
    const vals: unknown[] = [];
    const set = (col: string, v: unknown): void => {
      cols.push(`${col} = ?`);
      vals.push(v);
    };
    if (f.state !== undefined) set("state", f.state);
    if (f.desired !== undefined) set("desired", f.desired);
    if (f.pid !== undefined) set("pid", f.pid);
    if (f.pidStart !== undefined) set("pid_start", f.pidStart);
    if (f.cgroup !== undefined) set("cgroup", f.cgroup ? JSON.stringify(f.cgroup) : null);
    if (f.pinned !== undefined) set("pinned", f.pinned ? JSON.stringify(f.pinned) : null);
    if (f.startedAt !== undefined) set("started_at", f.startedAt);
    if (f.lastExit !== undefined) set("last_exit", f.lastExit ? JSON.stringify(f.lastExit) : null);
    if (f.restarts !== undefined) set("restarts", f.restarts);
    if (f.failures !== undefined) set("failures", f.failures);
    if (f.restartAt !== undefined) set("restart_at", f.restartAt);
    set("updated_at", new Date().toISOString());
    vals.push(id);
    this.db.prepare(`update vms set ${cols.join(", ")} where id = ?`).run(...vals);
  }

  deleteVm(id: string): void {
    this.unsaved.delete(id);
    this.db.prepare("delete from vms where id = ?").run(id);
  }

  snapshots(): SnapshotRecord[] {
    const rows = this.db
      .prepare(`select ${SNAPSHOT_COLUMNS} from snapshots order by created_at, name`)
      .all() as (Omit<SnapshotRecord, "spec"> & { spec: string })[];
    return rows.map((r) => ({ ...r, spec: JSON.parse(r.spec) as VmSpec }));
  }

  insertSnapshot(s: SnapshotRecord): void {
    this.db
      .prepare(
        `insert into snapshots (id, name, domain, vm_id, vm_name, spec, bytes, path, created_at)
         values (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        s.id,
        s.name,
        s.domain,
        s.vmId,
        s.vmName,
        JSON.stringify(s.spec),
        s.bytes,
        s.path,
        s.createdAt,
      );
  }

  deleteSnapshot(id: string): void {
    this.db.prepare("delete from snapshots where id = ?").run(id);
  }

  images(): ImageRecord[] {
    return this.db
      .prepare(`select ${IMAGE_COLUMNS} from images order by created_at, name`)
      .all() as ImageRecord[];
  }

  insertImage(i: ImageRecord): void {
    this.db
      .prepare(
        `insert into images (id, name, domain, format, virtual_size, bytes, cluster_size,
         source, path, created_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        i.id,
        i.name,
        i.domain,
        i.format,
        i.virtualSize,
        i.bytes,
        i.clusterSize,
        i.source,
        i.path,
        i.createdAt,
      );
  }

  deleteImage(id: string): void {
    this.db.prepare("delete from images where id = ?").run(id);
  }

  tokens(): TokenRecord[] {
    return this.db
      .prepare(`select ${this.tokenColumns} from tokens order by created_at`)
      .all() as TokenRecord[];
  }

  tokenByHash(hash: string): TokenRecord | undefined {
    return this.db.prepare(`select ${this.tokenColumns} from tokens where hash = ?`).get(hash) as
      TokenRecord | undefined;
  }

  insertToken(t: TokenRecord): void {
    this.db
      .prepare(
        "insert into tokens (id, name, hash, role, domain, created_at, expires_at) values (?, ?, ?, ?, ?, ?, ?)",
      )
      .run(t.id, t.name, t.hash, t.role, t.domain, t.createdAt, t.expiresAt);
  }

  deleteToken(id: string): boolean {
    return this.db.prepare("delete from tokens where id = ?").run(id).changes > 0;
  }

  /** The audit log's last seq and hash as the daemon recorded them, if it has. */
  auditHead(): AuditHead | undefined {
    const h = this.meta(AUDIT_HEAD_META);
    return h ? (JSON.parse(h) as AuditHead) : undefined;
  }

  setAuditHead(head: AuditHead): void {
    this.setMeta(AUDIT_HEAD_META, JSON.stringify(head));
  }

  meta(key: string): string | undefined {
    const r = this.db.prepare("select value from meta where key = ?").get(key) as
      { value: string } | undefined;
    return r?.value;
  }

  setMeta(key: string, value: string): void {
    this.db
      .prepare(
        "insert into meta (key, value) values (?, ?) on conflict(key) do update set value = ?",
      )
      .run(key, value, value);
  }
}
