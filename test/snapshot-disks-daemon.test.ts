// Snapshots of a VM with a writable disk through the daemon (docs/snapshot.md "Through the
// daemon", "Disks"): a real `moat daemon`, jailed VM processes on the soft CPU with the shipped
// riscv64 guest writing to its virtio-blk disk with dd. The disk as it was at the snapshot is
// kept in the store; every start of a VM restored from it gets a fresh copy of its own, so two
// clones see the snapshot's data (not what the source wrote since) and not each other's writes;
// a changed stored disk is refused at start; the copies go with their VMs, the stored disk with
// its snapshot.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import {
  adminToken,
  api,
  newHome,
  openConsole,
  startDaemon,
  stopDaemon,
  vmState,
  type ConsoleConn,
} from "./support/moatd.js";

const MiB = 1 << 20;

/** The first 16 bytes of the file at `path`, trailing spaces dropped. */
function head(path: string): string {
  const fd = openSync(path, "r");
  try {
    const b = Buffer.alloc(16);
    readSync(fd, b, 0, 16, 0);
    return b.toString("latin1").replace(/[ \0]+$/, "");
  } finally {
    closeSync(fd);
  }
}

const sha = (path: string): string => createHash("sha256").update(readFileSync(path)).digest("hex");

let asked = 0;

/** Has the guest write `tag` (space-padded to 16 bytes) at the start of its disk, synced. */
async function writeTag(con: ConsoleConn, tag: string, ms = 60000): Promise<void> {
  const n = ++asked;
  // The shell's arithmetic makes the answer differ from the echoed command line.
  await con.expect(
    `printf '%-16s' ${tag} | dd of=/dev/vda bs=16 count=1 conv=notrunc 2>/dev/null; sync; echo W${n}-$((1+1))-done`,
    new RegExp(`W${n}-2-done`),
    ms,
  );
}

/** What the guest reads at the start of its disk, from the disk (its page cache dropped first). */
async function readTag(con: ConsoleConn, ms = 60000): Promise<string> {
  const n = ++asked;
  const re = new RegExp(`R${n}-2-(\\w*)-X`);
  await con.expect(
    `sync; echo 3 > /proc/sys/vm/drop_caches; echo R${n}-$((1+1))-$(head -c 16 /dev/vda | tr -d ' ')-X`,
    re,
    ms,
  );
  return re.exec(con.out())![1]!;
}

test("a VM's writable disk is kept with its snapshot; each restored VM starts on a fresh copy of its own", async (t) => {
  const h = newHome({ reclaim: { enabled: false } });
  const d = await startDaemon(h);
  t.after(() => stopDaemon(h, d));
  const admin = adminToken(h);
  const call = (method: string, path: string, body?: unknown) =>
    api(h.socket, admin, method, path, body);
  const consoles: ConsoleConn[] = [];
  t.after(() => consoles.forEach((c) => c.close()));
  const open = async (vm: string): Promise<ConsoleConn> => {
    const c = await openConsole(h.socket, admin, vm);
    consoles.push(c);
    return c;
  };
  const idOf = async (vm: string): Promise<string> =>
    ((await call("GET", `/v1/vms/${vm}`)).body as { id: string }).id;

  const disk = join(h.dir, "images", "data.img");
  mkdirSync(join(h.dir, "images"), { recursive: true });
  writeFileSync(disk, "");
  truncateSync(disk, 8 * MiB);
  let r = await call("POST", "/v1/vms", { name: "src", memory_mib: 64, disks: [{ path: disk }] });
  assert.equal(r.status, 201, r.text);
  r = await call("POST", "/v1/vms/src/start");
  assert.equal(r.status, 200, r.text);
  const src = await open("src");
  await writeTag(src, "mkA", 180000);
  assert.equal(head(disk), "mkA");

  // The snapshot keeps the disk as it is now, in the store, sealed and counted.
  r = await call("POST", "/v1/vms/src/snapshot", { name: "s1" });
  assert.equal(r.status, 201, r.text);
  const snap = r.body as { id: string; bytes: number; path: string };
  const kept = join(snap.path, "disk-0");
  const st = statSync(kept);
  assert.equal(st.mode & 0o777, 0o600);
  assert.equal(st.uid, 0);
  assert.equal(st.size, 8 * MiB);
  assert.ok(st.blocks * 512 < MiB, `kept sparse: ${st.blocks} blocks`);
  assert.equal(head(kept), "mkA");
  const keptSha = sha(kept);
  const sealed = JSON.parse(readFileSync(join(snap.path, "disks.json"), "utf8")) as {
    disks: { index: number; extents: [number, number][] }[];
    hmac: string;
  };
  assert.equal(sealed.disks[0]!.index, 0);
  assert.match(sealed.hmac, /^[0-9a-f]{64}$/);
  const diskData = sealed.disks[0]!.extents.reduce((n, [, len]) => n + len, 0);
  assert.ok(snap.bytes > diskData, `the disk's data counted in the snapshot's ${snap.bytes} bytes`);

  // The source goes on and writes over it.
  await writeTag(src, "mkB");
  assert.equal(await readTag(src), "mkB");
  assert.equal(head(disk), "mkB");

  // Two VMs restored from the snapshot: each reads the snapshot's disk, not the source's.
  const clones: Record<string, ConsoleConn> = {};
  for (const name of ["c1", "c2"]) {
    r = await call("POST", "/v1/vms", { name, restore_from: "s1" });
    assert.equal(r.status, 201, r.text);
    r = await call("POST", `/v1/vms/${name}/start`);
    assert.equal(r.status, 200, r.text);
    clones[name] = await open(name);
  }
  for (const name of ["c1", "c2"]) assert.equal(await readTag(clones[name]!), "mkA", name);
  // Each writes its own; neither sees the other's, nor the source the clones'.
  await writeTag(clones.c1!, "mkC1");
  await writeTag(clones.c2!, "mkC2");
  assert.equal(await readTag(clones.c1!), "mkC1");
  assert.equal(await readTag(clones.c2!), "mkC2");
  assert.equal(await readTag(src), "mkB");
  // On the host: each clone's copy in its own directory, its uid's; the stored disk unchanged.
  const c1 = await idOf("c1");
  const copy1 = join(h.dir, "vms", c1, "disk-0");
  assert.equal(head(copy1), "mkC1");
  assert.equal(head(join(h.dir, "vms", await idOf("c2"), "disk-0")), "mkC2");
  assert.notEqual(statSync(copy1).uid, 0, "the copy is the VM's uid's");
  assert.ok(statSync(copy1).blocks * 512 < MiB, "the copy is sparse");
  const config = JSON.parse(readFileSync(join(h.dir, "vms", `${c1}.json`), "utf8")) as {
    disks: { path: string }[];
  };
  assert.deepEqual(
    config.disks.map((x) => x.path),
    [copy1],
    "the VM process opens its copy",
  );
  assert.equal(head(disk), "mkB");
  assert.equal(sha(kept), keptSha, "the stored disk is unchanged");

  // A restored VM is snapshotted in turn: what is kept is its own copy, as it wrote it.
  r = await call("POST", "/v1/vms/c2/snapshot", { name: "s2" });
  assert.equal(r.status, 201, r.text);
  const snap2 = r.body as { path: string };
  assert.equal(head(join(snap2.path, "disk-0")), "mkC2");
  r = await call("POST", "/v1/vms", { name: "c4", restore_from: "s2" });
  assert.equal(r.status, 201, r.text);
  r = await call("POST", "/v1/vms/c4/start");
  assert.equal(r.status, 200, r.text);
  assert.equal(await readTag(await open("c4")), "mkC2");
  assert.equal(await readTag(clones.c2!), "mkC2", "the snapshotted clone runs on");

  // A restart starts from the snapshot again: on a fresh copy.
  r = await call("POST", "/v1/vms/c1/stop");
  assert.equal(r.status, 200, r.text);
  await vmState(h.socket, admin, "c1", "stopped");
  r = await call("POST", "/v1/vms/c1/start");
  assert.equal(r.status, 200, r.text);
  clones.c1 = await open("c1");
  assert.equal(await readTag(clones.c1), "mkA");

  // A stored disk changed in the store is refused at start, with the reason.
  r = await call("POST", "/v1/vms", { name: "bad", restore_from: "s1" });
  assert.equal(r.status, 201, r.text);
  const fd = openSync(kept, "r+");
  writeSync(fd, Buffer.from("Z"), 0, 1, 1);
  r = await call("POST", "/v1/vms/bad/start");
  assert.equal(r.status, 422, r.text);
  assert.match(
    r.text,
    /snapshot 's1' refused: .*disk-0: its digest does not match: changed since written/,
  );
  writeSync(fd, Buffer.from("k"), 0, 1, 1);
  closeSync(fd);
  assert.equal(sha(kept), keptSha);

  // The snapshot stands on its own: with its source VM and the source's disk gone, a VM
  // restored from it still starts, on a copy of the kept disk.
  assert.equal(head(disk), "mkB", "the source's disk was its own throughout");
  r = await call("DELETE", "/v1/vms/src?force=true");
  assert.equal(r.status, 204, r.text);
  rmSync(disk);
  r = await call("POST", "/v1/vms", { name: "c3", restore_from: "s1" });
  assert.equal(r.status, 201, r.text);
  r = await call("POST", "/v1/vms/c3/start");
  assert.equal(r.status, 200, r.text);
  assert.equal(await readTag(await open("c3")), "mkA");

  // A VM's copies go with it; the stored disk goes with its snapshot.
  for (const vm of ["c1", "c2", "c3", "c4", "bad"]) {
    r = await call("DELETE", `/v1/vms/${vm}?force=true`);
    assert.equal(r.status, 204, r.text);
  }
  assert.ok(!existsSync(copy1));
  for (const s of ["s1", "s2"]) {
    r = await call("DELETE", `/v1/snapshots/${s}`);
    assert.equal(r.status, 204, r.text);
  }
  assert.ok(!existsSync(snap.path));
});
