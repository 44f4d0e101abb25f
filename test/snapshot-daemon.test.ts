// Snapshots through the daemon (docs/snapshot.md "Through the daemon"): a real `moat daemon`,
// jailed VM processes of their own uids on the soft CPU with the shipped riscv64 guest. A guest
// counting on its console is snapshotted through the API and a VM restored from the snapshot
// counts on; trust domains keep their snapshots and their quota; a snapshot changed in the store is refused at
// restore with the reason; the audit log records snapshot, restore and deletion.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  adminToken,
  api,
  cli,
  newHome,
  openConsole,
  startDaemon,
  stopDaemon,
  until,
  vmState,
} from "./support/moatd.js";

interface Snap {
  id: string;
  name: string;
  domain: string;
  vm: string;
  bytes: number;
  path: string;
}

/** The counter's values in `text`, in order. */
const ticks = (text: string): number[] =>
  [...text.matchAll(/tick-(\d+)\r?\n/g)].map((m) => Number(m[1]));

/** The manifest's digest as snapshot-file.ts computes it: of itself without sha256 and hmac. */
function digest(m: Record<string, unknown>): string {
  const { sha256: _s, hmac: _h, ...body } = m;
  return createHash("sha256").update(JSON.stringify(body)).digest("hex");
}

test("snapshot and restore through the daemon: the guest counts on in a new VM; domains, seal and audit", async (t) => {
  const h = newHome({ reclaim: { enabled: false }, domainQuotas: { acme: { snapshots: 2 } } });
  const d = await startDaemon(h);
  t.after(() => stopDaemon(h, d));
  const admin = adminToken(h);
  const tenant = async (name: string, domain: string): Promise<string> => {
    const r = await api(h.socket, admin, "POST", "/v1/tokens", { name, role: "tenant", domain });
    assert.equal(r.status, 201, r.text);
    return (r.body as { token: string }).token;
  };
  const acme = await tenant("acme-1", "acme");
  const other = await tenant("other-1", "other");
  const call = (tok: string, method: string, path: string, body?: unknown) =>
    api(h.socket, tok, method, path, body);

  let r = await call(acme, "POST", "/v1/vms", { name: "counter", memory_mib: 64 });
  assert.equal(r.status, 201, r.text);
  assert.equal((r.body as { restored_from: string | null }).restored_from, null);
  r = await call(acme, "POST", "/v1/vms/counter/start");
  assert.equal(r.status, 200, r.text);
  const con = await openConsole(h.socket, acme, "counter");
  t.after(() => con.close());
  await con.expect(
    'i=0; while true; do i=$((i+1)); echo "tick-$i"; sleep 0.3; done',
    /tick-5\r?\n/,
    120000,
  );

  // Snapshot through the API: the VM is paused for it and runs on after.
  r = await call(acme, "POST", "/v1/vms/counter/snapshot", { name: "s1" });
  assert.equal(r.status, 201, r.text);
  const snap = r.body as Snap;
  assert.equal(snap.name, "s1");
  assert.equal(snap.domain, "acme");
  assert.equal(snap.vm, "counter");
  assert.ok(snap.bytes > 0 && snap.bytes < 64 * 1024 * 1024, String(snap.bytes));
  assert.equal(snap.path, join(h.dir, "snapshots", snap.id));
  // Root's store: the directory 0700, its files 0600, owned by root.
  assert.equal(statSync(snap.path).mode & 0o777, 0o700);
  for (const f of ["snapshot.json", "memory"]) {
    const st = statSync(join(snap.path, f));
    assert.equal(st.mode & 0o777, 0o600, f);
    assert.equal(st.uid, 0, f);
  }
  const manifest = JSON.parse(readFileSync(join(snap.path, "snapshot.json"), "utf8")) as Record<
    string,
    unknown
  >;
  assert.match(String(manifest.hmac), /^[0-9a-f]{64}$/, "sealed with the daemon's key");
  // Counted against its domain's quota (moat host's SNAPSHOTS column).
  const host = (await call(admin, "GET", "/v1/host")).body as {
    quotas: Record<string, { used: { snapshots: number; snapshotBytes: number } }>;
  };
  assert.deepEqual(host.quotas.acme!.used, {
    ...host.quotas.acme!.used,
    snapshots: 1,
    snapshotBytes: snap.bytes,
  });
  const at = Math.max(...ticks(con.out()));
  await until("the source VM counting on after its snapshot", () =>
    Math.max(...ticks(con.out())) > at + 2 ? true : undefined,
  );
  assert.equal((await vmState(h.socket, acme, "counter", "running")).state, "running");
  // What the VM process wrote in its own directory is gone once copied into the store.
  const src = (await call(acme, "GET", "/v1/vms/counter")).body as { id: string };
  assert.ok(!existsSync(join(h.dir, "vms", src.id, `snapshot-${snap.id}`)));

  // Listed for its domain only; another domain cannot see, restore or delete it.
  r = await call(acme, "GET", "/v1/snapshots");
  assert.deepEqual(
    (r.body as Snap[]).map((s) => s.name),
    ["s1"],
  );
  r = await call(other, "GET", "/v1/snapshots");
  assert.deepEqual(r.body, []);
  for (const ref of ["s1", snap.id]) {
    r = await call(other, "POST", "/v1/vms", { name: "thief", restore_from: ref });
    assert.equal(r.status, 404, r.text);
    assert.match(r.text, /no snapshot/);
  }
  r = await call(other, "DELETE", `/v1/snapshots/${snap.id}`);
  assert.equal(r.status, 403, r.text);
  // An admin cannot restore it into another domain either.
  r = await call(admin, "POST", "/v1/vms", { name: "x", domain: "other", restore_from: snap.id });
  assert.equal(r.status, 403, r.text);
  assert.match(r.text, /belongs to trust domain 'acme'/);
  // The machine is the snapshot's: a machine field with restore_from is refused by name.
  r = await call(acme, "POST", "/v1/vms", { name: "x", memory_mib: 128, restore_from: "s1" });
  assert.equal(r.status, 400, r.text);
  assert.equal((r.body as { field: string }).field, "memory_mib");

  // The source goes away; a VM restored from the snapshot counts on from where it was.
  r = await call(acme, "DELETE", "/v1/vms/counter?force=true");
  assert.equal(r.status, 204, r.text);
  // Restored through the CLI (moat restore creates and starts it): it shows where it came from.
  const restored = await cli(h, ["restore", "s1", "--name", "back", "--domain", "acme"]);
  assert.equal(restored.status, 0, restored.err);
  assert.match(restored.out, /^back [0-9a-f]{12} running$/m);
  r = await call(acme, "GET", "/v1/vms/back");
  const back = r.body as { restored_from: string; spec: { memory_mib: number } };
  assert.equal(back.restored_from, snap.id);
  assert.equal(back.spec.memory_mib, 64);
  // Started as a clone: a new VM generation ID (its RNG reseeded, its clock set from the RTC).
  const backId = (r.body as { id: string }).id;
  const config = JSON.parse(readFileSync(join(h.dir, "vms", `${backId}.json`), "utf8")) as {
    host: { restore?: string; clone?: boolean };
  };
  assert.equal(config.host.restore, snap.path);
  assert.equal(config.host.clone, true);
  const listed = (await call(acme, "GET", "/v1/vms")).body as {
    name: string;
    restored_from: string;
  }[];
  assert.equal(listed.find((v) => v.name === "back")!.restored_from, snap.id);
  const ls = await cli(h, ["ls"]);
  assert.match(ls.out, /\sFROM$/m);
  assert.match(ls.out, new RegExp(`^back\\s.*\\s${snap.id}$`, "m"));
  const log = await until(
    "the restored guest counting on in its console log",
    async () => {
      const l = (await call(acme, "GET", "/v1/vms/back/logs")).text;
      return ticks(l).length >= 3 ? l : undefined;
    },
    60000,
  );
  const seen = ticks(log);
  assert.ok(seen[0]! >= 5, `counts on from the snapshot, not from 1: ${seen.join(",")}`);
  assert.ok(
    seen.every((n, i) => i === 0 || n === seen[i - 1]! + 1),
    seen.join(","),
  );
  assert.doesNotMatch(log, /Linux version/, "no boot: it ran on from the snapshot");

  // A restored VM is snapshotted again, through the CLI; moat snapshots lists both.
  const again = await cli(h, ["snapshot", "back", "s2", "--stop"]);
  assert.equal(again.status, 0, again.err);
  assert.match(again.out, /^s2 [0-9a-f]{12} /);
  // --stop: stopped after its snapshot instead of resumed.
  await vmState(h.socket, acme, "back", "stopped");
  // The domain's quota of two snapshots holds a third back.
  r = await call(acme, "POST", "/v1/vms/back/snapshot", { name: "s3" });
  assert.equal(r.status, 409, r.text);
  assert.match(r.text, /domain acme: 3 snapshots would exceed its quota of 2/);
  const lsSnaps = await cli(h, ["snapshots"]);
  assert.match(lsSnaps.out, /^NAME\s+ID\s+DOMAIN\s+VM/m);
  assert.match(lsSnaps.out, /^s1\s+[0-9a-f]{12}\s+acme\s+counter\s/m);
  assert.match(lsSnaps.out, /^s2\s+[0-9a-f]{12}\s+acme\s+back\s/m);
  const rm = await cli(h, ["snapshots", "rm", "s2"]);
  assert.equal(rm.status, 0, rm.err);
  assert.doesNotMatch((await cli(h, ["snapshots"])).out, /^s2\s/m);

  // A snapshot in use is not deleted.
  r = await call(acme, "DELETE", "/v1/snapshots/s1");
  assert.equal(r.status, 409, r.text);

  // Changed in the store: a manifest whose own digest was made to match is refused by the
  // daemon's seal; changed memory by its digest. Each refused at the start, with the reason.
  const mpath = join(snap.path, "snapshot.json");
  const original = readFileSync(mpath);
  const changed: Record<string, unknown> = { ...manifest, created_at: "2000-01-01T00:00:00.000Z" };
  changed.sha256 = digest(changed);
  writeFileSync(mpath, JSON.stringify(changed));
  r = await call(acme, "POST", "/v1/vms", { name: "bad", restore_from: "s1" });
  assert.equal(r.status, 201, r.text);
  r = await call(acme, "POST", "/v1/vms/bad/start");
  assert.equal(r.status, 422, r.text);
  assert.match(r.text, /snapshot 's1' refused: .*its seal does not match: changed since written/);
  writeFileSync(mpath, original);
  const extents = (manifest.memory as { extents: [number, number][] }).extents;
  const mem = join(snap.path, "memory");
  const fd = (await import("node:fs")).openSync(mem, "r+");
  const b = Buffer.alloc(1);
  const off = extents[0]![0] * 4096 + 7;
  (await import("node:fs")).readSync(fd, b, 0, 1, off);
  b[0] = b[0]! ^ 0xff;
  (await import("node:fs")).writeSync(fd, b, 0, 1, off);
  r = await call(acme, "POST", "/v1/vms/bad/start");
  assert.equal(r.status, 422, r.text);
  assert.match(r.text, /memory: its digest does not match: changed since written/);
  b[0] = b[0]! ^ 0xff;
  (await import("node:fs")).writeSync(fd, b, 0, 1, off);
  (await import("node:fs")).closeSync(fd);

  // Deleted once no VM is restored from it: its files go with it.
  for (const vm of ["back", "bad"])
    assert.equal((await call(acme, "DELETE", `/v1/vms/${vm}?force=true`)).status, 204);
  r = await call(acme, "DELETE", "/v1/snapshots/s1");
  assert.equal(r.status, 204, r.text);
  assert.ok(!existsSync(snap.path));

  // On record: the snapshot, the restores, the deletion, each naming what it did.
  const entries = readFileSync(join(h.dir, "audit.log"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { action: string; ok?: boolean; detail?: Record<string, unknown> })
    .filter((e) => e.detail?.phase !== "intent");
  const of = (action: string) => entries.filter((e) => e.action === action);
  const taken = of("vm.snapshot").find((e) => e.detail?.status === 201);
  assert.ok(taken, "vm.snapshot recorded");
  assert.equal((taken.detail!.snapshot as { id: string }).id, snap.id);
  const restores = of("vm.restore").filter((e) => e.detail?.status === 201);
  assert.ok(
    restores.some((e) => e.detail!.restored_from === snap.id),
    "vm.restore recorded",
  );
  assert.ok(
    of("vm.restore").some((e) => e.detail?.status === 404),
    "the other domain's refused restore recorded too",
  );
  const deleted = of("snapshot.delete")
    .filter((e) => e.detail?.status === 204)
    .map((e) => (e.detail!.snapshot as { name: string }).name);
  assert.deepEqual(deleted, ["s2", "s1"], "snapshot.delete recorded, naming each");
});
