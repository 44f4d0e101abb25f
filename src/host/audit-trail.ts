// What the daemon writes to its audit log (audit-log.ts) and how: a change's intent before it is
// made (refused with 503 when the log cannot take it), its outcome, the daemon's own acts (never
// throwing), and the log's head kept in the database so a log cut or rewritten at its end shows.
import { join } from "node:path";
import { ApiError } from "./api-error.js";
import { AuditLog, verifyAuditLog, type AuditHead } from "./audit-log.js";
import type { Caller } from "./auth.js";
import type { Store, VmRecord } from "./store.js";
import type { Log } from "./log.js";

export class AuditTrail {
  private readonly path: string;
  private readonly log: AuditLog;

  constructor(
    home: string,
    private readonly store: Store,
    private readonly say: Log,
  ) {
    this.path = join(home, "audit.log");
    this.log = AuditLog.open(this.path);
  }

  /**
   * What the log's state at open tells: a torn line moved aside, or a database head that is not
   * the log's last line (a head write that failed, or a log cut or extended while no daemon
   * ran). Said on stderr and kept in the daemon.start entry, so the next head write does not
   * hide it.
   */
  found(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const torn = this.log.torn;
    if (torn) {
      this.say.warn(
        `the audit log's last line was cut short (${torn.bytes} bytes); moved to ` +
          `${torn.movedTo}, recorded at seq ${torn.seq}`,
      );
      out.audit_torn_seq = torn.seq;
    }
    const why = headMismatch(this.store.auditHead(), this.log.foundHead);
    if (why) {
      this.say.warn(`warning: ${why}; moat audit-log verify shows the log`);
      out.audit_head_mismatch = why;
    }
    return out;
  }

  /**
   * Records a change before it is made (write-ahead): the log must have room (ensureRoom) and
   * the line must be on disk, or the change is refused with 503 and never made. Returns the
   * line's seq, which the line recording the outcome names.
   */
  intent(
    caller: Caller | null,
    action: string,
    vm: VmRecord | null,
    detail: Record<string, unknown>,
  ): number {
    this.room("change");
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
      this.say.error(`audit log: '${action}' not recorded: ${(e as Error).message}`);
      throw auditRefusal("change", e);
    }
  }

  /** What the daemon did on its own (a restart made, an orphan killed): never throws. */
  note(...entry: Parameters<AuditTrail["audit"]>): void {
    try {
      this.audit(...entry);
    } catch {
      // Said on stderr by audit; what it records has happened already.
    }
  }

  /** Throws ApiError 503 unless the log has room to record a `what` (AuditLog.ensureRoom). */
  room(what: string): void {
    try {
      this.log.ensureRoom();
    } catch (e) {
      throw auditRefusal(what, e);
    }
  }

  /** Appends one entry and returns its seq; throws what the log throws. */
  record(...[caller, action, vm, ok, detail]: Parameters<AuditTrail["audit"]>): number {
    const head = this.log.append({
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
    // the next one succeeds, and a daemon started meanwhile says so (found).
    try {
      this.store.setAuditHead(head);
    } catch (e) {
      this.say.error(`audit seq ${head.seq} written, its head not: ${(e as Error).message}`);
    }
    return head.seq;
  }

  async verify(): Promise<Record<string, unknown>> {
    const r = await verifyAuditLog(this.path, this.store.auditHead());
    return { ...r };
  }

  close(): void {
    this.log.close();
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
