// The audit log's hash chain (src/host/audit-log.ts): a clean log verifies, and each way of
// tampering with a copy of it is reported at the line where the chain first breaks. Lines are
// edited here as text, with the test's own SHA-256, so the checks do not trust the module's
// canonical writer to judge itself. A write cut short is kept aside and the chain continues;
// a full file system (a real tmpfs, root) leaves no partial line.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import {
  AuditLog,
  AuditLogError,
  MAX_LINE_BYTES,
  RESERVE_BYTES,
  verifyAuditLog,
  type AuditEntry,
  type AuditHead,
  type VerifyResult,
} from "../src/host/audit-log.js";
import { mountTmpfs } from "./support/tmpfs.js";

const ZERO = "0".repeat(64);
const HASH_FIELD = /,"hash":"([0-9a-f]{64})"\}$/;

function sha256(s: string): string {
  return createHash("sha256").update(s).digest("hex");
}

function entry(i: number): AuditEntry {
  return {
    actor: i % 2 ? "alice" : "ops-token-3",
    role: i % 2 ? "tenant" : "operator",
    action: i % 3 ? "vm.create" : "vm.stop",
    vm: i === 4 ? null : `vm-${i}`,
    ok: i !== 7,
    // Unsorted, nested keys: the canonical text sorts them at every depth.
    detail: { zeta: i, alpha: { y: [1, { b: 2, a: "x\ny" }], x: "é" }, when: undefined },
  };
}

let dir: string;
let base: string; // 10 entries, never modified
let baseHead: AuditHead;
let copies = 0;

function copy(): string {
  const p = join(dir, `copy-${++copies}.log`);
  copyFileSync(base, p);
  return p;
}

function readLines(p: string): string[] {
  const lines = readFileSync(p, "utf8").split("\n");
  assert.equal(lines.pop(), "", "a log ends with a newline");
  return lines;
}

function writeLines(p: string, lines: string[]): void {
  writeFileSync(p, lines.map((l) => `${l}\n`).join(""));
}

/** The line with its own hash recomputed, as a forger who knows the format would. */
function rehash(line: string): string {
  const body = line.replace(HASH_FIELD, "}");
  return `${body.slice(0, -1)},"hash":"${sha256(body)}"}`;
}

function problemLines(r: VerifyResult): number[] {
  return r.problems.map((p) => p.line);
}

function reasonsAt(r: VerifyResult, line: number): string {
  return r.problems
    .filter((p) => p.line === line)
    .map((p) => p.reason)
    .join(" | ");
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), "moat-audit-"));
  base = join(dir, "base.log");
  const log = AuditLog.open(base);
  for (let i = 1; i <= 10; i++) baseHead = log.append(entry(i));
  log.close();
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe("audit log: writing", () => {
  test("10 appends give a canonical chain that verifies, with and without the head", async () => {
    assert.equal(statSync(base).mode & 0o777, 0o600);
    assert.deepEqual(baseHead.seq, 10);
    const lines = readLines(base);
    assert.equal(lines.length, 10);
    assert.equal(baseHead.hash, sha256(lines[9]));
    lines.forEach((l, i) => {
      const o = JSON.parse(l) as Record<string, unknown>;
      assert.deepEqual(Object.keys(o), [
        ...["seq", "time", "actor", "role", "action", "vm", "ok", "detail", "prev", "hash"],
      ]);
      assert.equal(o.seq, i + 1);
      assert.equal(o.prev, i === 0 ? ZERO : sha256(lines[i - 1]));
      assert.equal(o.hash, sha256(l.replace(HASH_FIELD, "}")));
      assert.ok(!Number.isNaN(Date.parse(o.time as string)));
    });
    assert.ok(
      lines[0].includes(
        `"detail":{"alpha":{"x":"é","y":[1,{"a":"x\\ny","b":2}]},"zeta":1},"prev":"${ZERO}"`,
      ),
      lines[0],
    );
    assert.ok(lines[3].includes(`"vm":null,`), "vm omitted is written as null");

    assert.deepEqual(await verifyAuditLog(base), { ok: true, lines: 10, problems: [], notes: [] });
    assert.deepEqual(await verifyAuditLog(base, baseHead), {
      ok: true,
      lines: 10,
      problems: [],
      notes: [],
    });
  });

  test("an empty log verifies; its head is seq 0 and 64 zeros", async () => {
    const p = join(dir, "empty.log");
    const log = AuditLog.open(p);
    assert.deepEqual(log.head, { seq: 0, hash: ZERO });
    log.close();
    assert.deepEqual(await verifyAuditLog(p, { seq: 0, hash: ZERO }), {
      ok: true,
      lines: 0,
      problems: [],
      notes: [],
    });
    const r = await verifyAuditLog(p, baseHead);
    assert.deepEqual(problemLines(r), [0]);
    assert.match(r.problems[0].reason, /empty but the daemon recorded seq 10/);
  });

  test("reopening continues the chain and it still verifies", async () => {
    const p = copy();
    const log = AuditLog.open(p);
    assert.deepEqual(log.head, baseHead);
    let head = log.head;
    for (let i = 11; i <= 15; i++) head = log.append(entry(i));
    log.close();
    assert.deepEqual(head.seq, 15);
    const lines = readLines(p);
    assert.equal(lines.length, 15);
    assert.equal((JSON.parse(lines[10]) as { prev: string }).prev, sha256(lines[9]));
    assert.equal(head.hash, sha256(lines[14]));
    assert.deepEqual(await verifyAuditLog(p, head), {
      ok: true,
      lines: 15,
      problems: [],
      notes: [],
    });
    // Reopened once more, the head is read back from the last line alone.
    const again = AuditLog.open(p);
    assert.deepEqual(again.head, head);
    again.close();
  });

  test("append refuses bad entries and use after close", () => {
    const p = join(dir, "refuse.log");
    const log = AuditLog.open(p);
    assert.throws(() => log.append({ ...entry(1), role: "root" }), AuditLogError);
    assert.throws(() => log.append({ ...entry(1), actor: "" }), AuditLogError);
    const big = { blob: "x".repeat(MAX_LINE_BYTES) };
    assert.throws(() => log.append({ ...entry(1), detail: big }), /over the 1048576 limit/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.throws(() => log.append({ ...entry(1), detail: cyclic }), AuditLogError);
    assert.deepEqual(log.head, { seq: 0, hash: ZERO }, "refused entries do not advance the head");
    log.close();
    log.close();
    assert.throws(() => log.append(entry(1)), /closed/);
    assert.equal(readFileSync(p, "utf8"), "");
  });

  test("open refuses a log whose last complete line is garbage or edited", () => {
    const garbage = copy();
    writeLines(garbage, [...readLines(garbage), "not json at all"]);
    assert.throws(() => AuditLog.open(garbage), AuditLogError);

    const edited = copy();
    const lines = readLines(edited);
    lines[9] = lines[9].replace('"vm-10"', '"vm-99"');
    writeLines(edited, lines);
    assert.throws(() => AuditLog.open(edited), /hash does not match/);

    const endless = copy();
    writeFileSync(endless, "y".repeat(MAX_LINE_BYTES + 1), { flag: "a" });
    assert.throws(() => AuditLog.open(endless), /over 1048576 bytes without a newline/);
  });
});

describe("audit log: a write cut short", () => {
  test("open keeps a torn last line in <log>.torn, records it, and the chain continues; verify explains it", async () => {
    const p = copy();
    const whole = readFileSync(p, "utf8");
    // What a daemon killed in the middle of its 11th write leaves: part of a line.
    const torn = '{"seq":11,"time":"2030-01-01T00:00:00.000Z","actor":"mall';
    writeFileSync(p, whole + torn);
    const log = AuditLog.open(p);
    assert.deepEqual(log.foundHead, baseHead, "the head is the last complete line's");
    assert.deepEqual(log.torn, {
      bytes: torn.length,
      sha256: sha256(torn),
      movedTo: "copy-" + copies + ".log.torn",
      seq: 11,
    });
    const head = log.append(entry(12));
    log.close();
    assert.equal(readFileSync(`${p}.torn`, "utf8"), torn + "\n", "the torn bytes are kept");
    assert.equal(statSync(`${p}.torn`).mode & 0o777, 0o600);
    const lines = readLines(p);
    assert.equal(lines.length, 12);
    assert.equal(lines.slice(0, 10).join("\n") + "\n", whole, "the complete lines are untouched");
    const rec = JSON.parse(lines[10]) as Record<string, unknown>;
    assert.equal(rec.action, "audit.torn-line");
    assert.equal(rec.role, "daemon");
    assert.equal(rec.prev, baseHead.hash, "chained onto the last complete line");
    assert.deepEqual(rec.detail, {
      moved_to: `copy-${copies}.log.torn`,
      torn_bytes: torn.length,
      torn_sha256: sha256(torn),
    });

    const r = await verifyAuditLog(p, head);
    assert.equal(r.ok, true, JSON.stringify(r.problems));
    assert.equal(r.lines, 12);
    assert.deepEqual(
      r.notes.map((n) => n.line),
      [11],
    );
    assert.match(r.notes[0]!.note, /cut short .*moved it to copy-\d+\.log\.torn as evidence/);

    // The evidence is part of the record: removing it from the side file is found.
    writeFileSync(`${p}.torn`, "");
    const gone = await verifyAuditLog(p, head);
    assert.deepEqual(problemLines(gone), [11]);
    assert.match(reasonsAt(gone, 11), /is not in copy-\d+\.log\.torn \(evidence removed/);
  });

  test("a whole log that is one torn line: moved aside, the chain starts again at seq 1", async () => {
    const p = join(dir, "first-torn.log");
    writeFileSync(p, '{"seq":1,"ti');
    const log = AuditLog.open(p);
    assert.deepEqual(log.foundHead, { seq: 0, hash: ZERO });
    assert.equal(log.torn?.seq, 1);
    const head = log.head;
    log.close();
    assert.equal(readFileSync(`${p}.torn`, "utf8"), '{"seq":1,"ti\n');
    const r = await verifyAuditLog(p, head);
    assert.equal(r.ok, true, JSON.stringify(r.problems));
    assert.deepEqual(
      r.notes.map((n) => n.line),
      [1],
    );
  });
});

describe("audit log: tampering is found at the line where the chain breaks", () => {
  test("a field of line 5 edited, hash not recomputed: line 5", async () => {
    const p = copy();
    const lines = readLines(p);
    lines[4] = lines[4].replace('"vm-5"', '"vm-6"');
    writeLines(p, lines);
    const r = await verifyAuditLog(p);
    assert.equal(r.ok, false);
    assert.equal(r.lines, 10);
    // Line 6 names line 5's old text, so it breaks too; line 5 is the first.
    assert.deepEqual(problemLines(r), [5, 6]);
    assert.match(reasonsAt(r, 5), /hash does not match its content \(edited\)/);
    assert.match(reasonsAt(r, 6), /prev does not match line 5/);
  });

  test("line 5 edited and its own hash recomputed: line 6", async () => {
    const p = copy();
    const lines = readLines(p);
    lines[4] = rehash(lines[4].replace('"ok":true', '"ok":false'));
    writeLines(p, lines);
    const r = await verifyAuditLog(p);
    assert.deepEqual(problemLines(r), [6]);
    assert.match(
      reasonsAt(r, 6),
      /prev does not match line 5 \(a line was removed, inserted or edited\)/,
    );
  });

  test("a forged line inserted after line 5, chained onto it: line 7", async () => {
    const p = copy();
    const lines = readLines(p);
    const body =
      `{"seq":6,"time":"2024-01-01T00:00:00.000Z","actor":"mallory","role":"admin",` +
      `"action":"vm.delete","vm":"vm-1","ok":true,"detail":{},"prev":"${sha256(lines[4])}"}`;
    lines.splice(5, 0, rehash(`${body.slice(0, -1)},"hash":"${ZERO}"}`));
    writeLines(p, lines);
    const r = await verifyAuditLog(p);
    assert.equal(r.lines, 11);
    // The forged line 6 is self-consistent; the old line 6, now line 7, no longer fits.
    assert.deepEqual(problemLines(r), [7, 7]);
    assert.match(reasonsAt(r, 7), /seq 6, expected 7/);
    assert.match(reasonsAt(r, 7), /prev does not match line 6/);
  });

  test("line 5 removed: line 5", async () => {
    const p = copy();
    const lines = readLines(p);
    lines.splice(4, 1);
    writeLines(p, lines);
    const r = await verifyAuditLog(p);
    assert.equal(r.lines, 9);
    assert.deepEqual(problemLines(r), [5, 5]);
    assert.match(reasonsAt(r, 5), /seq 6, expected 5/);
    assert.match(reasonsAt(r, 5), /prev does not match line 4/);
  });

  test("the first line removed: line 1", async () => {
    const p = copy();
    writeLines(p, readLines(p).slice(1));
    const r = await verifyAuditLog(p);
    assert.deepEqual(problemLines(r), [1, 1]);
    assert.match(reasonsAt(r, 1), /seq 2, expected 1/);
    assert.match(reasonsAt(r, 1), /prev is not 64 zeros/);
  });

  test("the last line removed: found only with the daemon's head, at line 9", async () => {
    const p = copy();
    writeLines(p, readLines(p).slice(0, 9));
    assert.deepEqual(await verifyAuditLog(p), { ok: true, lines: 9, problems: [], notes: [] });
    const r = await verifyAuditLog(p, baseHead);
    assert.equal(r.ok, false);
    assert.deepEqual(r.problems, [
      { line: 9, reason: "last line seq 9 but the daemon recorded 10 (lines removed at the end)" },
    ]);
  });

  test("the last line re-written with its hash recomputed: found only with the head", async () => {
    const p = copy();
    const lines = readLines(p);
    lines[9] = rehash(lines[9].replace('"vm-10"', '"vm-99"'));
    writeLines(p, lines);
    assert.equal((await verifyAuditLog(p)).ok, true);
    const r = await verifyAuditLog(p, baseHead);
    assert.deepEqual(problemLines(r), [10]);
    assert.match(reasonsAt(r, 10), /does not match the daemon's recorded head/);
  });

  test("lines appended past the head: reported, and the recorded line's text is checked", async () => {
    const p = copy();
    const lines = readLines(p);
    lines[9] = rehash(lines[9].replace('"vm-10"', '"vm-99"'));
    writeLines(p, lines);
    const log = AuditLog.open(p);
    log.append(entry(11));
    log.close();
    const r = await verifyAuditLog(p, baseHead);
    assert.deepEqual(problemLines(r), [11, 10]);
    assert.match(reasonsAt(r, 11), /last line seq 11 but the daemon recorded 10/);
    assert.match(reasonsAt(r, 10), /recorded head for seq 10 \(edited\)/);
  });

  test("lines 4 and 5 swapped: lines 4, 5 and 6", async () => {
    const p = copy();
    const lines = readLines(p);
    [lines[3], lines[4]] = [lines[4], lines[3]];
    writeLines(p, lines);
    const r = await verifyAuditLog(p);
    assert.equal(r.problems[0].line, 4);
    assert.deepEqual([...new Set(problemLines(r))], [4, 5, 6]);
    assert.match(reasonsAt(r, 4), /seq 5, expected 4/);
    assert.match(reasonsAt(r, 4), /prev does not match line 3/);
    assert.match(reasonsAt(r, 5), /seq 4, expected 6/);
    assert.match(reasonsAt(r, 6), /prev does not match line 5/);
  });

  test("a garbage line inserted after line 5: line 6, then line 7's prev; no throw", async () => {
    const p = copy();
    const lines = readLines(p);
    lines.splice(5, 0, "{this is not json");
    writeLines(p, lines);
    const r = await verifyAuditLog(p);
    assert.equal(r.lines, 11);
    assert.deepEqual(problemLines(r), [6, 7]);
    assert.match(reasonsAt(r, 6), /does not parse as JSON/);
    assert.match(reasonsAt(r, 7), /prev does not match line 6/);
  });

  test("whitespace added to line 3 (same fields): line 3 not canonical, line 4's prev", async () => {
    const p = copy();
    const lines = readLines(p);
    lines[2] = lines[2].replace('"seq":3,', '"seq": 3,');
    writeLines(p, lines);
    const r = await verifyAuditLog(p);
    assert.deepEqual(problemLines(r), [3, 4]);
    assert.match(reasonsAt(r, 3), /not in canonical form/);
    assert.match(reasonsAt(r, 4), /prev does not match line 3/);
  });

  test("a line over 1 MiB: reported at its line, the chain after it still checked", async () => {
    const p = copy();
    const lines = readLines(p);
    lines.splice(5, 0, "x".repeat(MAX_LINE_BYTES + 10));
    writeLines(p, lines);
    const r = await verifyAuditLog(p);
    assert.equal(r.lines, 11);
    assert.deepEqual(problemLines(r), [6, 7]);
    assert.match(reasonsAt(r, 6), /1048586 bytes, longer than the 1048576 limit/);
    assert.match(reasonsAt(r, 7), /prev does not match line 6/);
  });

  test("a last line cut short (no newline): reported at its line", async () => {
    const p = copy();
    writeFileSync(p, readFileSync(p, "utf8").slice(0, -30));
    const r = await verifyAuditLog(p);
    assert.equal(r.lines, 10);
    assert.deepEqual(problemLines(r), [10, 10]);
    assert.match(reasonsAt(r, 10), /no newline at the end/);
    assert.match(reasonsAt(r, 10), /does not parse as JSON/);
  });
});

describe("audit log: a full file system (a 4 MiB tmpfs)", () => {
  test("a write that finds no room leaves no partial line, ensureRoom refuses changes first, and the chain goes on", async () => {
    const fs = mountTmpfs(4);
    try {
      const p = join(fs.dir, "audit.log");
      const log = AuditLog.open(p);
      for (let i = 1; i <= 3; i++) log.append(entry(i));
      log.ensureRoom();
      fs.fill();
      assert.throws(() => log.ensureRoom(), /has 0\.0 MiB free, under the 1\.0 MiB kept/);
      const before = readFileSync(p);
      // Larger than the room kept past the end: its write runs out of space part way.
      const big = { ...entry(4), detail: { blob: "z".repeat(RESERVE_BYTES * 2) } };
      assert.throws(() => log.append(big), /audit log write failed: ENOSPC/);
      assert.deepEqual(readFileSync(p), before, "no partial line is left behind");
      assert.equal(log.head.seq, 3);
      // The line recording how an earlier change ended still fits the room kept.
      const head = log.append(entry(5));
      assert.equal(head.seq, 4);
      log.close();
      assert.deepEqual(await verifyAuditLog(p, head), {
        ok: true,
        lines: 4,
        problems: [],
        notes: [],
      });
      fs.unfill();
      const again = AuditLog.open(p);
      again.ensureRoom();
      assert.equal(again.torn, null);
      again.close();
    } finally {
      fs.remove();
    }
  });
});
