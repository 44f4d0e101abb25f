// A tamper-evident, append-only audit log: one JSON object per line, each naming the SHA-256 of
// the previous line's exact text (`prev`) and of its own canonical text (`hash`). Editing,
// inserting, removing or reordering lines breaks the chain at the first line touched; removing
// or rewriting the LAST line leaves an intact (shorter) chain, which only a head recorded
// elsewhere (the daemon's database) can catch, so verifyAuditLog takes that head.
//
// The text is canonical so a verifier can rebuild it from the parsed fields: fields in a fixed
// order, no whitespace, `detail` keys sorted at every depth. One writer per file: two AuditLog
// objects appending to the same path would fork the chain.
import { createHash } from "node:crypto";
import {
  appendFileSync,
  closeSync,
  createReadStream,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readSync,
  statfsSync,
} from "node:fs";
import { constants } from "node:os";
import { basename, dirname, join } from "node:path";
import { FALLOC_FL_KEEP_SIZE, SysError, fallocate } from "../sys/libc.js";
import { MoatError } from "../base/moat-error.js";

export interface AuditEntry {
  actor: string;
  role: string;
  action: string;
  vm?: string | null;
  ok: boolean;
  detail?: Record<string, unknown>;
}

/** The chain's tip: `hash` is the SHA-256 of the last line's exact text (64 zeros when empty). */
export interface AuditHead {
  seq: number;
  hash: string;
}

/** The database meta key under which the daemon keeps the log's last seq and hash. */
export const AUDIT_HEAD_META = "audit_head";

export interface VerifyResult {
  ok: boolean;
  lines: number;
  /** `reason` does not repeat the line number: render as `line ${line}: ${reason}`. */
  problems: { line: number; reason: string }[];
  /** What is not a problem but a reader should know (a torn line recovered), as `line: note`. */
  notes: { line: number; note: string }[];
}

/** A last line cut short (its write never finished), moved aside when the log was opened. */
export interface TornLine {
  bytes: number;
  sha256: string;
  /** The side file it was appended to, as one line of its own (`<log>.torn`). */
  movedTo: string;
  /** The seq of the entry that records the recovery. */
  seq: number;
}

/** The action of the entry that records a torn line moved aside. */
export const TORN_LINE_ACTION = "audit.torn-line";

export class AuditLogError extends MoatError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, "host", options);
  }
}

/** Longest line, in bytes without its newline, that append writes and verify accepts. */
export const MAX_LINE_BYTES = 1 << 20;
/**
 * Free space the log's file system must have before a change is let through (ensureRoom): the
 * change's own database write and its audit lines need it, and a full disk must refuse the
 * change, not half-record it.
 */
export const MIN_FREE_BYTES = 1 << 20;
/** Room kept allocated past the log's end (fallocate), so a change's outcome line always fits. */
export const RESERVE_BYTES = 64 << 10;

const ZERO_HASH = "0".repeat(64);
const ROLES = new Set(["admin", "operator", "tenant", "daemon"]);
const HEX64 = /^[0-9a-f]{64}$/;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;
const NEWLINE = 0x0a;
const EOPNOTSUPP = constants.errno.EOPNOTSUPP;

/** One line's fields, in their canonical order. */
interface Fields {
  seq: number;
  time: string;
  actor: string;
  role: string;
  action: string;
  vm: string | null;
  ok: boolean;
  detail: Record<string, unknown>;
  prev: string;
}

function sha256(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

// JSON with object keys sorted at every depth. Takes data that has been through JSON already
// (no undefined, Dates or NaN left), so it and JSON.parse round-trip exactly.
function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  const o = v as Record<string, unknown>;
  const members = Object.keys(o)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`);
  return `{${members.join(",")}}`;
}

// The canonical text without `hash`: what `hash` is the SHA-256 of.
function renderBody(f: Fields): string {
  return (
    `{"seq":${f.seq},"time":${JSON.stringify(f.time)},"actor":${JSON.stringify(f.actor)},` +
    `"role":${JSON.stringify(f.role)},"action":${JSON.stringify(f.action)},` +
    `"vm":${f.vm === null ? "null" : JSON.stringify(f.vm)},"ok":${f.ok},` +
    `"detail":${canonicalJson(f.detail)},"prev":"${f.prev}"}`
  );
}

function renderLine(body: string): string {
  return `${body.slice(0, -1)},"hash":"${sha256(body)}"}`;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

// Why a parsed line's fields are unusable, or null when they have the right types.
function badField(o: Record<string, unknown>): string | null {
  if (!Number.isSafeInteger(o.seq) || (o.seq as number) < 1)
    return "field seq is missing or not a positive integer";
  if (typeof o.time !== "string" || !ISO_UTC.test(o.time))
    return "field time is missing or not an ISO-8601 UTC timestamp";
  for (const k of ["actor", "role", "action"]) {
    if (typeof o[k] !== "string") return `field ${k} is missing or not a string`;
  }
  if (o.vm !== null && typeof o.vm !== "string") return "field vm is missing or not a string/null";
  if (typeof o.ok !== "boolean") return "field ok is missing or not a boolean";
  if (!isPlainObject(o.detail)) return "field detail is missing or not an object";
  for (const k of ["prev", "hash"]) {
    if (typeof o[k] !== "string" || !HEX64.test(o[k] as string))
      return `field ${k} is missing or not 64 lowercase hex digits`;
  }
  return null;
}

interface CheckedLine {
  /** Usable fields (types right), even if canonical form or hash are wrong. */
  fields: (Fields & { hash: string }) | null;
  problems: string[];
}

// Everything that can be checked about one line on its own: parse, field types, canonical form,
// self-hash. Chain checks (seq, prev) need the neighbours and are the caller's.
function checkLine(raw: Buffer): CheckedLine {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString("utf8"));
  } catch {
    return { fields: null, problems: ["does not parse as JSON"] };
  }
  if (!isPlainObject(parsed)) return { fields: null, problems: ["is not a JSON object"] };
  const bad = badField(parsed);
  if (bad !== null) return { fields: null, problems: [bad] };
  const fields = parsed as unknown as Fields & { hash: string };
  const problems: string[] = [];
  const body = renderBody(fields);
  // Byte comparison: also catches whitespace, reordered or extra fields and invalid UTF-8, none
  // of which change the parsed fields the hash is rebuilt from.
  if (!Buffer.from(`${body.slice(0, -1)},"hash":"${fields.hash}"}`).equals(raw))
    problems.push("is not in canonical form (fields added, removed, reordered or reformatted)");
  if (sha256(body) !== fields.hash) problems.push("hash does not match its content (edited)");
  return { fields, problems };
}

/** Appends to one log file, continuing its hash chain. Not safe for two writers on one file. */
export class AuditLog {
  readonly #path: string;
  #fd: number;
  #head: AuditHead;
  readonly #found: AuditHead;
  #torn: TornLine | null = null;
  #broken: string | null = null;

  private constructor(path: string, fd: number, head: AuditHead) {
    this.#path = path;
    this.#fd = fd;
    this.#head = head;
    this.#found = { ...head };
  }

  /**
   * Opens the log at `path`, creating it (mode 0600) if missing, and continues the chain from its
   * last line. Reads only the end of the file, not the whole: run verifyAuditLog for the rest.
   * A last line cut short (no newline: a write that never finished) is moved to `<path>.torn`
   * and an entry recording it (TORN_LINE_ACTION) continues the chain. Refuses (AuditLogError) a
   * log whose last complete line is not a valid entry, or whose end holds more than
   * MAX_LINE_BYTES without a newline, rather than chaining onto it.
   */
  static open(path: string): AuditLog {
    let fd: number;
    let created = true;
    try {
      fd = openSync(path, "ax", 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      created = false;
      fd = openSync(path, "a+");
    }
    try {
      // A new file's directory entry is only durable once the directory is synced.
      if (created) syncDir(dirname(path));
      const tail = created ? undefined : tornTail(fd, path);
      if (tail) moveAside(fd, path, tail);
      const log = new AuditLog(
        path,
        fd,
        created ? { seq: 0, hash: ZERO_HASH } : readHead(fd, path),
      );
      if (tail) log.#torn = log.#recordTorn(tail.bytes, `${path}.torn`);
      return log;
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  #recordTorn(bytes: Buffer, side: string): TornLine {
    const t = { bytes: bytes.length, sha256: sha256(bytes), movedTo: basename(side) };
    const { seq } = this.append({
      actor: "moatd",
      role: "daemon",
      action: TORN_LINE_ACTION,
      ok: true,
      detail: { torn_bytes: t.bytes, torn_sha256: t.sha256, moved_to: t.movedTo },
    });
    return { ...t, seq };
  }

  /**
   * Appends one entry and fsyncs before returning, so a returned head is on disk. Bound: the
   * line must fit in MAX_LINE_BYTES. A failed write is undone (the file cut back to where it
   * was), so no partial line stays behind to break the chain; if even that fails, the log
   * refuses further appends until it is opened again (which moves the partial line aside).
   */
  append(e: AuditEntry): AuditHead {
    this.#usable();
    for (const k of ["actor", "action"] as const) {
      if (typeof e[k] !== "string" || e[k] === "")
        throw new AuditLogError(`${k} must be a non-empty string`);
    }
    if (!ROLES.has(e.role)) throw new AuditLogError(`unknown role ${JSON.stringify(e.role)}`);
    if (typeof e.ok !== "boolean") throw new AuditLogError("ok must be a boolean");
    const vm = e.vm ?? null;
    if (vm !== null && typeof vm !== "string") throw new AuditLogError("vm must be a string");
    let detail: unknown;
    try {
      // Through JSON once so what is hashed is exactly what a reader will parse back.
      detail = JSON.parse(JSON.stringify(e.detail ?? {}));
    } catch (err) {
      throw new AuditLogError("detail is not serialisable as JSON", { cause: err });
    }
    if (!isPlainObject(detail)) throw new AuditLogError("detail must be a plain object");

    const seq = this.#head.seq + 1;
    const time = new Date().toISOString();
    const line = renderLine(
      renderBody({
        seq,
        time,
        actor: e.actor,
        role: e.role,
        action: e.action,
        vm,
        ok: e.ok,
        detail,
        prev: this.#head.hash,
      }),
    );
    const bytes = Buffer.from(line);
    if (bytes.length > MAX_LINE_BYTES)
      throw new AuditLogError(`entry is ${bytes.length} bytes, over the ${MAX_LINE_BYTES} limit`);
    const size = fstatSync(this.#fd).size;
    try {
      appendFileSync(this.#fd, Buffer.concat([bytes, Buffer.from("\n")]));
      fsyncSync(this.#fd);
    } catch (err) {
      const why = (err as Error).message;
      try {
        ftruncateSync(this.#fd, size);
        fsyncSync(this.#fd);
      } catch (undo) {
        this.#broken = `${why}, and the partial line could not be cut off: ${(undo as Error).message}`;
      }
      try {
        this.#keepRoom(); // the cut freed the room kept past the end: take it back
      } catch {
        // ensureRoom refuses the next change instead.
      }
      throw new AuditLogError(`audit log write failed: ${why}`, { cause: err });
    }
    this.#head = { seq, hash: sha256(bytes) };
    return this.head;
  }

  /**
   * Throws AuditLogError unless a change may go ahead: the log takes appends, its file system
   * has MIN_FREE_BYTES free (for the daemon's uid), and RESERVE_BYTES past its end are
   * allocated (fallocate, where the file system can), so the line that records how the change
   * ended fits even if the disk fills meanwhile.
   */
  ensureRoom(): void {
    this.#usable();
    const dir = dirname(this.#path);
    const fs = statfsSync(dir);
    const free = (process.getuid?.() === 0 ? fs.bfree : fs.bavail) * fs.bsize;
    if (free < MIN_FREE_BYTES)
      throw new AuditLogError(
        `${dir} has ${mib(free)} free, under the ${mib(MIN_FREE_BYTES)} kept for the audit log and database`,
      );
    try {
      this.#keepRoom();
    } catch (e) {
      throw new AuditLogError(`cannot keep room past the audit log's end: ${(e as Error).message}`);
    }
  }

  /** Allocates RESERVE_BYTES past the end (a no-op where the file system cannot). */
  #keepRoom(): void {
    try {
      fallocate(this.#fd, FALLOC_FL_KEEP_SIZE, fstatSync(this.#fd).size, RESERVE_BYTES);
    } catch (e) {
      if (!(e instanceof SysError && e.errno === EOPNOTSUPP)) throw e;
    }
  }

  #usable(): void {
    if (this.#fd < 0) throw new AuditLogError("audit log is closed");
    if (this.#broken !== null) throw new AuditLogError(`audit log is broken: ${this.#broken}`);
  }

  /** The last line's seq and the SHA-256 of its text; {0, 64 zeros} for an empty log. */
  get head(): AuditHead {
    return { ...this.#head };
  }

  /** The head the file had when opened: its last complete line, before any entry of this run. */
  get foundHead(): AuditHead {
    return { ...this.#found };
  }

  /** The cut-short last line moved aside when the log was opened, if there was one. */
  get torn(): TornLine | null {
    return this.#torn;
  }

  /** Closes the file; idempotent. Appends after this throw AuditLogError. */
  close(): void {
    if (this.#fd >= 0) closeSync(this.#fd);
    this.#fd = -1;
  }
}

function mib(bytes: number): string {
  return `${(bytes / (1 << 20)).toFixed(1)} MiB`;
}

function syncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Reads `len` bytes at `pos`, all of them (a short read means the file shrank). */
function readAt(fd: number, len: number, pos: number, path: string): Buffer {
  const buf = Buffer.alloc(len);
  let got = 0;
  while (got < len) {
    const n = readSync(fd, buf, got, len - got, pos + got);
    if (n === 0) throw refuse(path, "the file shrank while being read");
    got += n;
  }
  return buf;
}

function refuse(path: string, why: string): AuditLogError {
  return new AuditLogError(`${path}: ${why}; refusing to append (run moat audit-log verify)`);
}

/**
 * The bytes after the log's last newline (a write cut short), with where they start; undefined
 * when the file ends with a newline or is empty. Bound: reads at most MAX_LINE_BYTES + 1 bytes;
 * more than MAX_LINE_BYTES without a newline is no line this writer left, and is refused.
 */
function tornTail(fd: number, path: string): { bytes: Buffer; at: number } | undefined {
  const size = fstatSync(fd).size;
  if (size === 0 || readAt(fd, 1, size - 1, path)[0] === NEWLINE) return undefined;
  const len = Math.min(size, MAX_LINE_BYTES + 1);
  const buf = readAt(fd, len, size - len, path);
  const bytes = buf.subarray(buf.lastIndexOf(NEWLINE) + 1);
  if (bytes.length > MAX_LINE_BYTES)
    throw refuse(path, `it ends with over ${MAX_LINE_BYTES} bytes without a newline`);
  return { bytes, at: size - bytes.length };
}

/**
 * Keeps a cut-short last line as evidence: appended, as a line of its own, to `<path>.torn`
 * (0600) and synced there before the log is cut back to its last complete line. A crash in
 * between leaves it in both, and the next open moves it again.
 */
function moveAside(fd: number, path: string, tail: { bytes: Buffer; at: number }): void {
  const side = `${path}.torn`;
  try {
    const sfd = openSync(side, "a", 0o600);
    try {
      appendFileSync(sfd, Buffer.concat([tail.bytes, Buffer.from("\n")]));
      fsyncSync(sfd);
    } finally {
      closeSync(sfd);
    }
    syncDir(dirname(side));
  } catch (e) {
    throw new AuditLogError(
      `${path}: its last line was cut short (a write that never finished) and cannot be ` +
        `kept in ${side}: ${(e as Error).message}`,
    );
  }
  ftruncateSync(fd, tail.at);
  fsyncSync(fd);
}

// The head of an existing log that ends with a newline, from its last line only.
function readHead(fd: number, path: string): AuditHead {
  const size = fstatSync(fd).size;
  if (size === 0) return { seq: 0, hash: ZERO_HASH };
  const end = size - 1; // offset of the final newline
  // One newline more than the longest line, so a too-long line is told from a first line.
  const len = Math.min(end, MAX_LINE_BYTES + 1);
  const buf = readAt(fd, len, end - len, path);
  const nl = buf.lastIndexOf(NEWLINE);
  if (nl < 0 && len < end)
    throw refuse(path, `the last line is longer than ${MAX_LINE_BYTES} bytes`);
  const raw = buf.subarray(nl + 1);
  if (raw.length > MAX_LINE_BYTES)
    throw refuse(path, `the last line is longer than ${MAX_LINE_BYTES} bytes`);
  const { fields, problems } = checkLine(raw);
  if (fields === null || problems.length > 0)
    throw refuse(path, `the last line ${problems.join("; ")}`);
  return { seq: fields.seq, hash: sha256(raw) };
}

/**
 * Checks every line of the log at `path`: it parses, is canonical, its hash matches its content,
 * its seq is the previous line's + 1 (starting at 1) and its prev is the SHA-256 of the previous
 * line's text (64 zeros for the first). With `expectedHead` (kept by the daemon in its database)
 * also checks the last line against it, which is what catches a removed or re-written last line.
 * Bounds: streams the file in 64 KiB chunks and buffers at most MAX_LINE_BYTES of one line, so a
 * multi-GB log or an overlong line is a problem reported, not memory exhausted. Rejects only if
 * the file cannot be read.
 */
export async function verifyAuditLog(
  path: string,
  expectedHead?: AuditHead,
): Promise<VerifyResult> {
  const problems: VerifyResult["problems"] = [];
  const notes: VerifyResult["notes"] = [];
  const torn: TornRecord[] = [];
  let n = 0;
  let prevRawHash = ZERO_HASH;
  let prevSeq: number | null = 0; // null: the previous line was unusable, its seq unknown
  let lastSeq: number | null = 0;
  let lastRawHash = ZERO_HASH;
  let recorded: { line: number; hash: string } | null = null; // the line with expectedHead.seq

  const finish = (raw: Buffer | null, rawHash: string, bytes: number, terminated: boolean) => {
    n += 1;
    const report = (reason: string) => problems.push({ line: n, reason });
    if (!terminated) report("has no newline at the end (a write was cut short)");
    let fields: CheckedLine["fields"] = null;
    if (raw === null) report(`is ${bytes} bytes, longer than the ${MAX_LINE_BYTES} limit`);
    else if (bytes === 0) report("is empty");
    else {
      const checked = checkLine(raw);
      fields = checked.fields;
      checked.problems.forEach(report);
    }
    if (fields !== null) {
      // After an unusable line the expected seq is unknown (inserted or replaced?); the prev
      // check below still flags the break.
      if (prevSeq !== null && fields.seq !== prevSeq + 1)
        report(`seq ${fields.seq}, expected ${prevSeq + 1}`);
      if (fields.prev !== prevRawHash)
        report(
          n === 1
            ? "prev is not 64 zeros, as the first line's must be (lines removed from the start)"
            : `prev does not match line ${n - 1} (a line was removed, inserted or edited)`,
        );
      if (expectedHead && recorded === null && fields.seq === expectedHead.seq)
        recorded = { line: n, hash: rawHash };
      const t = tornRecord(fields, n);
      if (t) {
        torn.push(t);
        notes.push({
          line: n,
          note:
            `the daemon found the log's last line cut short (a write that never finished, ` +
            `${String(fields.detail.torn_bytes)} bytes) when it opened it, moved it to ` +
            `${t.movedTo} as evidence, and continued the chain here`,
        });
      }
    }
    prevRawHash = lastRawHash = rawHash;
    prevSeq = lastSeq = fields?.seq ?? null;
  };

  await eachLine(path, finish);
  if (expectedHead) checkHead(expectedHead, n, lastSeq, lastRawHash, recorded, problems);
  await checkTornEvidence(dirname(path), torn, problems);
  return { ok: problems.length === 0, lines: n, problems, notes };
}

/**
 * Calls `each` for every line of the file at `path` with its text (null when over
 * MAX_LINE_BYTES), the SHA-256 of its text, its length, and whether a newline ended it.
 * Bounds: reads in 64 KiB chunks and buffers at most MAX_LINE_BYTES of one line; an overlong
 * line is still hashed as it streams, so the chain after it can be checked.
 */
async function eachLine(
  path: string,
  each: (raw: Buffer | null, rawHash: string, bytes: number, terminated: boolean) => void,
): Promise<void> {
  let parts: Buffer[] = [];
  let kept = 0;
  let bytes = 0;
  let tooLong = false;
  let hasher = createHash("sha256");
  const take = (seg: Buffer) => {
    hasher.update(seg);
    bytes += seg.length;
    if (tooLong) return;
    if (kept + seg.length > MAX_LINE_BYTES) {
      tooLong = true;
      parts = [];
      kept = 0;
    } else {
      parts.push(seg);
      kept += seg.length;
    }
  };
  const endLine = (terminated: boolean) => {
    each(tooLong ? null : Buffer.concat(parts, kept), hasher.digest("hex"), bytes, terminated);
    parts = [];
    kept = 0;
    bytes = 0;
    tooLong = false;
    hasher = createHash("sha256");
  };
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 16 })) {
    const buf = chunk as Buffer;
    let at = 0;
    for (let nl = buf.indexOf(NEWLINE, at); nl >= 0; nl = buf.indexOf(NEWLINE, at)) {
      take(buf.subarray(at, nl));
      endLine(true);
      at = nl + 1;
    }
    if (at < buf.length) take(buf.subarray(at));
  }
  if (bytes > 0) endLine(false);
}

/** A torn-line entry of the log: where it is, and what it says was moved aside. */
interface TornRecord {
  line: number;
  sha256: string;
  movedTo: string;
}

/**
 * Each torn line the log records must still be in its side file (beside the log, under the
 * name the entry gives): the evidence the recovery kept. One pass over each side file.
 */
async function checkTornEvidence(
  dir: string,
  torn: TornRecord[],
  problems: VerifyResult["problems"],
): Promise<void> {
  for (const file of new Set(torn.map((t) => t.movedTo))) {
    const wanted = new Set(torn.filter((t) => t.movedTo === file).map((t) => t.sha256));
    try {
      await eachLine(join(dir, file), (_raw, hash) => wanted.delete(hash));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    for (const t of torn)
      if (t.movedTo === file && wanted.has(t.sha256))
        problems.push({
          line: t.line,
          reason: `the torn line it records (sha256 ${t.sha256}) is not in ${file} (evidence removed or edited)`,
        });
  }
}

// The torn-line entry's record, if `f` is one the daemon wrote.
function tornRecord(f: Fields, line: number): TornRecord | undefined {
  if (f.action !== TORN_LINE_ACTION || f.role !== "daemon") return undefined;
  const { torn_sha256: sha, moved_to: to } = f.detail;
  if (typeof sha !== "string" || typeof to !== "string") return undefined;
  // A name beside the log, never a path elsewhere.
  return { line, sha256: sha, movedTo: basename(to) };
}

// The last line against the head the daemon recorded.
function checkHead(
  want: AuditHead,
  lines: number,
  lastSeq: number | null,
  lastRawHash: string,
  recorded: { line: number; hash: string } | null,
  problems: VerifyResult["problems"],
): void {
  const report = (reason: string) => problems.push({ line: lines, reason });
  if (lines === 0) {
    if (want.seq !== 0) report(`the log is empty but the daemon recorded seq ${want.seq}`);
    return;
  }
  if (lastSeq === null) {
    report(`last line is not a valid entry; the daemon recorded seq ${want.seq}`);
  } else if (lastSeq < want.seq) {
    report(
      `last line seq ${lastSeq} but the daemon recorded ${want.seq} (lines removed at the end)`,
    );
  } else if (lastSeq > want.seq) {
    report(
      `last line seq ${lastSeq} but the daemon recorded ${want.seq} ` +
        "(lines appended after the recorded head, or the database is stale)",
    );
    if (recorded === null) report(`no line has the recorded seq ${want.seq}`);
    else if (recorded.hash !== want.hash)
      problems.push({
        line: recorded.line,
        reason: `text does not match the daemon's recorded head for seq ${want.seq} (edited)`,
      });
  } else if (lastRawHash !== want.hash) {
    report("last line's text does not match the daemon's recorded head (edited or replaced)");
  }
}
