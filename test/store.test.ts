// The daemon's SQLite file across versions: a database written before per-VM uids, token expiry
// and VM names per domain opens, gains the columns and the per-domain names, and keeps every
// record as it was.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { Store } from "../src/host/store.js";

test("a database from before per-VM uids, token expiry and names per domain opens, read-only too; its VMs and tokens are kept, old tokens never expire, names become per domain", () => {
  const dir = mkdtempSync(join(tmpdir(), "moat-store-"));
  const path = join(dir, "moat.db");
  try {
    // The tables as the first daemon wrote them.
    const old = new Database(path);
    old.exec(`
      create table vms (
        id text primary key, name text unique not null, domain text not null, spec text not null,
        state text not null, desired text not null, pid integer, pid_start text, cgroup text,
        pinned text, started_at text, last_exit text, restarts integer not null default 0,
        failures integer not null default 0, restart_at text, created_at text not null,
        updated_at text not null);
      create table tokens (
        id text primary key, name text unique not null, hash text unique not null,
        role text not null, domain text, created_at text not null);
      create table meta (key text primary key, value text not null);`);
    old
      .prepare(
        "insert into vms (id, name, domain, spec, state, desired, created_at, updated_at) values (?, ?, ?, ?, ?, ?, ?, ?)",
      )
      .run(
        "0123456789ab",
        "old-vm",
        "default",
        '{"name":"old-vm"}',
        "stopped",
        "stopped",
        "t0",
        "t0",
      );
    old
      .prepare(
        "insert into tokens (id, name, hash, role, domain, created_at) values (?, ?, ?, ?, ?, ?)",
      )
      .run("t1", "old-admin", "h".repeat(64), "admin", null, "t0");
    old.close();

    // moat audit reads it as it is, before any daemon has migrated it.
    const looked = new Store(path, { readOnly: true });
    assert.equal(looked.tokens()[0]?.expiresAt, null);
    assert.equal(looked.vm("old-vm")?.uid, null);
    looked.close();

    const s = new Store(path);
    const vm = s.vm("old-vm");
    assert.equal(vm?.id, "0123456789ab");
    assert.equal(vm?.uid, null);
    assert.deepEqual(s.tokenByHash("h".repeat(64)), {
      id: "t1",
      name: "old-admin",
      hash: "h".repeat(64),
      role: "admin",
      domain: null,
      createdAt: "t0",
      expiresAt: null,
    });
    // New tokens keep their expiry; the file opens again unchanged.
    s.insertToken({
      id: "t2",
      name: "brief",
      hash: "k".repeat(64),
      role: "operator",
      domain: null,
      createdAt: "t1",
      expiresAt: "2026-11-27T12:00:00.000Z",
    });
    const again = new Store(path);
    assert.equal(again.tokenByHash("k".repeat(64))?.expiresAt, "2026-11-27T12:00:00.000Z");
    assert.deepEqual(
      again.tokens().map((t) => t.name),
      ["old-admin", "brief"],
    );
    // Names were unique on the host; now within a domain: another domain may use one.
    const twin = { ...vm!, id: "ba9876543210", domain: "other", uid: 7 };
    again.insertVm(twin);
    assert.throws(() => again.insertVm({ ...twin, id: "cccccccccccc" }), /UNIQUE/);
    assert.deepEqual(
      again.find("old-vm").map((v) => [v.id, v.domain, v.uid]),
      [
        ["0123456789ab", "default", null],
        ["ba9876543210", "other", 7],
      ],
    );
    assert.deepEqual(
      again.find("old-vm", "other").map((v) => v.id),
      ["ba9876543210"],
    );
    assert.deepEqual(
      again.find("0123456789ab").map((v) => v.name),
      ["old-vm"],
    );
    assert.deepEqual(again.find("0123456789ab", "other"), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
