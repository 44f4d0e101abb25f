// A daemon snapshot's writable disks in its store (src/host/snapshot-disks.ts, disk-copy.ts):
// kept sparse (holes stay holes: the copies' allocated blocks are the data's, not the size), by
// descriptors, sealed with the snapshot; each start's copy is made in the VM's directory with
// no link followed (a link the VM's uid put at the copy's name is replaced, never written
// through) and checked against the sealed digest, so a changed stored disk is refused.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  closeSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  linkSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SnapshotStore, snapshotKey } from "../src/host/snapshot-store.js";
import { dataExtents } from "../src/host/disk-copy.js";
import { DISKS_FILE } from "../src/host/snapshot-disks.js";
import { SnapshotError, writeSnapshot } from "../src/vmm/snapshot-file.js";

const MiB = 1 << 20;
const machine = { accel: "soft", cpus: 1, memory_mib: 16 };
/** The uid a VM runs as (the daemon's pool starts higher; any non-root uid will do). */
const VM_UID = 61234;

/** A 64 MiB disk holding data in three places only: the rest holes. */
function sparseDisk(path: string): void {
  const fd = openSync(path, "w");
  try {
    writeSync(fd, Buffer.alloc(8192, 0xa1), 0, 8192, 0);
    writeSync(fd, Buffer.from("marker-in-the-middle"), 0, 20, 20 * MiB + 100);
    writeSync(fd, Buffer.alloc(4096, 0xb2), 0, 4096, 64 * MiB - 4096);
  } finally {
    closeSync(fd);
  }
}

/** A store with snapshot `id` of a VM whose disk 0 (writable) is `disk`, taken as the daemon does. */
function setUp(): { home: string; disk: string; store: SnapshotStore; done: () => void } {
  const home = mkdtempSync(join(tmpdir(), "moat-disks-"));
  const vmDir = join(home, "vm");
  mkdirSync(vmDir, { mode: 0o700 });
  const disk = join(home, "disk.img");
  sparseDisk(disk);
  writeSnapshot(join(vmDir, "snap"), {
    arch: "riscv64",
    accel: "soft",
    machine,
    cpu: {
      mtime: "0x1",
      harts: [{ record: null, mip: 0, mtimecmp: "0x0", hsm: 0, start_addr: "0x0", opaque: "0x0" }],
    },
    devices: {},
    ram: new Uint8Array(16 * MiB),
  });
  const store = new SnapshotStore(join(home, "snapshots"), snapshotKey(home));
  const kept = store.keepDisks("id1", [{ index: 0, path: disk }], () => {});
  store.take(vmDir, "snap", "id1", machine, () => {}, kept);
  return { home, disk, store, done: () => rmSync(home, { recursive: true, force: true }) };
}

const refused = (fn: () => unknown, message: RegExp): void =>
  assert.throws(fn, (e: unknown) => e instanceof Error && message.test(e.message), String(message));

test("a writable disk is kept sparse and sealed; each start's copy is sparse and the VM's", () => {
  const { home, disk, store, done } = setUp();
  try {
    const kept = join(store.pathOf("id1"), "disk-0");
    const src = statSync(disk);
    const st = statSync(kept);
    assert.equal(st.size, 64 * MiB);
    assert.equal(st.mode & 0o777, 0o600);
    assert.ok(readFileSync(kept).equals(readFileSync(disk)), "the same bytes");
    // Holes stay holes: three ranges of data (16 KiB in all), not 64 MiB.
    assert.ok(st.blocks * 512 <= 64 * 1024, `kept: ${st.blocks} blocks`);
    assert.ok(st.blocks <= src.blocks, `kept ${st.blocks} blocks, the disk ${src.blocks}`);
    const { disks } = store.checkSeal("id1");
    assert.deepEqual(
      disks.map((d) => [d.index, d.bytes, d.extents]),
      [
        [
          0,
          64 * MiB,
          [
            [0, 8192],
            [20 * MiB, 4096],
            [64 * MiB - 4096, 4096],
          ],
        ],
      ],
    );
    assert.ok(store.check("id1"), "the kept disk's digest checks");

    // A start's copy: in the VM's directory, its uid's, sparse, the kept bytes.
    const vmDir = join(home, "vms-1");
    mkdirSync(vmDir, { mode: 0o700 });
    const paths = store.copyDisks("id1", disks, vmDir, VM_UID);
    assert.equal(paths.get(0), join(vmDir, "disk-0"));
    const copy = statSync(join(vmDir, "disk-0"));
    assert.equal(copy.uid, VM_UID);
    assert.equal(copy.size, 64 * MiB);
    assert.ok(copy.blocks <= st.blocks, `copy: ${copy.blocks} blocks`);
    assert.ok(readFileSync(join(vmDir, "disk-0")).equals(readFileSync(disk)));
    // Made afresh at each start: what the VM wrote to its copy is gone.
    writeFileSync(join(vmDir, "disk-0"), "written by the guest");
    store.copyDisks("id1", disks, vmDir, VM_UID);
    assert.ok(readFileSync(join(vmDir, "disk-0")).equals(readFileSync(disk)));
  } finally {
    done();
  }
});

test("a link the VM's uid put at the copy's name is not written through", () => {
  const { home, store, done } = setUp();
  try {
    const precious = join(home, "precious");
    writeFileSync(precious, "root's file");
    const vmDir = join(home, "vms-2");
    mkdirSync(vmDir, { mode: 0o700 });
    const link = join(vmDir, "disk-0");
    symlinkSync(precious, link);
    lchownSync(link, VM_UID, VM_UID);
    const { disks } = store.checkSeal("id1");
    store.copyDisks("id1", disks, vmDir, VM_UID);
    assert.equal(readFileSync(precious, "utf8"), "root's file", "the link's target untouched");
    assert.equal(statSync(precious).uid, 0, "and not given to the VM's uid");
    const copy = lstatSync(link);
    assert.ok(copy.isFile(), "the link replaced by the copy");
    assert.equal(copy.uid, VM_UID);
    // A directory tree in its place goes too, followed by no link in it.
    rmSync(link);
    mkdirSync(join(link, "sub"), { recursive: true });
    symlinkSync(precious, join(link, "sub", "x"));
    store.copyDisks("id1", disks, vmDir, VM_UID);
    assert.ok(lstatSync(link).isFile());
    assert.equal(readFileSync(precious, "utf8"), "root's file");
  } finally {
    done();
  }
});

test("a changed kept disk, or disks.json, is refused; a source disk that is a link is not kept", () => {
  const { home, disk, store, done } = setUp();
  try {
    const vmDir = join(home, "vms-3");
    mkdirSync(vmDir, { mode: 0o700 });
    const { disks } = store.checkSeal("id1");
    const kept = join(store.pathOf("id1"), "disk-0");
    const fd = openSync(kept, "r+");
    writeSync(fd, Buffer.from("X"), 0, 1, 20 * MiB + 103);
    closeSync(fd);
    refused(
      () => store.copyDisks("id1", disks, vmDir, VM_UID),
      /snapshot id1\/disk-0: its digest does not match: changed since written/,
    );
    refused(() => store.check("id1"), /disk-0: its digest does not match/);
    // disks.json changed (a digest made to match the changed disk): its seal.
    const jpath = join(store.pathOf("id1"), DISKS_FILE);
    const j = JSON.parse(readFileSync(jpath, "utf8")) as { disks: { sha256: string }[] };
    j.disks[0]!.sha256 = "0".repeat(64);
    writeFileSync(jpath, JSON.stringify(j));
    refused(() => store.checkSeal("id1"), /disks\.json: its seal does not match/);
    // The source disk a link (swapped in since create): not followed, nothing kept.
    const link = join(home, "link.img");
    symlinkSync(disk, link);
    assert.throws(
      () => store.keepDisks("id2", [{ index: 0, path: link }], () => {}),
      (e: unknown) => e instanceof SnapshotError && /link\.img: .*ELOOP/.test(e.message),
    );
    assert.throws(() => statSync(store.pathOf("id2")), /ENOENT/);
    // A second name of the disk (a hard link, which could be a root-only file's): not kept.
    const hard = join(home, "hard.img");
    linkSync(disk, hard);
    assert.throws(
      () => store.keepDisks("id4", [{ index: 0, path: hard }], () => {}),
      (e: unknown) =>
        e instanceof SnapshotError && /hard\.img: has 2 names \(hard links\)/.test(e.message),
    );
    assert.throws(() => statSync(store.pathOf("id4")), /ENOENT/);
    unlinkSync(hard);
    // The quota decides before a byte is copied, with the disk's bytes of data.
    let asked = -1;
    assert.throws(
      () =>
        store.keepDisks("id3", [{ index: 0, path: disk }], (n) => {
          asked = n;
          throw new Error("over quota");
        }),
      /over quota/,
    );
    assert.equal(asked, 16384);
    assert.throws(() => statSync(store.pathOf("id3")), /ENOENT/);
  } finally {
    done();
  }
});

test("a disk in more pieces than the bound is recorded in coarser ranges, covering all its data", () => {
  const home = mkdtempSync(join(tmpdir(), "moat-disks-"));
  try {
    const path = join(home, "scattered.img");
    const fd = openSync(path, "w+");
    try {
      // Ten 4 KiB pieces, one every 64 KiB.
      for (let i = 0; i < 10; i++) writeSync(fd, Buffer.alloc(4096, i + 1), 0, 4096, i * 65536);
      const fine = dataExtents(fd, 10 * 65536);
      assert.equal(fine.length, 10);
      const coarse = dataExtents(fd, 10 * 65536, 4);
      assert.ok(coarse.length <= 4, JSON.stringify(coarse));
      for (let i = 0; i < 10; i++)
        assert.ok(
          coarse.some(([s, n]) => s <= i * 65536 && i * 65536 + 4096 <= s + n),
          `piece ${i} covered`,
        );
    } finally {
      closeSync(fd);
    }
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
