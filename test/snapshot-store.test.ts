// The daemon's snapshot store (src/host/snapshot-store.ts): a snapshot a VM process wrote in its
// own directory (which its uid controls) is copied into the store only as checked: a link or a
// FIFO in place of a file or of the directory, a machine other than the VM's, memory that does
// not match its digest are refused and leave nothing in the store; what is kept is sparse,
// 0600, sealed with the daemon's key, and a change to it afterwards is refused by check().
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SnapshotStore, snapshotKey } from "../src/host/snapshot-store.js";
import { SnapshotError, writeSnapshot, type SnapshotParts } from "../src/vmm/snapshot-file.js";

const MiB = 1 << 20;
const machine = { accel: "soft", cpus: 1, memory_mib: 16 };

function parts(): SnapshotParts {
  const ram = new Uint8Array(16 * MiB);
  ram.fill(7, 4096, 3 * 4096);
  ram.fill(0xff, 16 * MiB - 4096);
  return {
    arch: "riscv64",
    accel: "soft",
    machine,
    cpu: {
      mtime: "0x1",
      harts: [
        {
          record: null,
          mip: 0,
          mtimecmp: "0x0",
          hsm: 0,
          start_addr: "0x0",
          opaque: "0x0",
        },
      ],
    },
    devices: {},
    ram,
  };
}

/** A daemon home with a store, and a VM directory holding snapshot `snap` as a VMM writes it. */
function setUp(): { home: string; vmDir: string; store: SnapshotStore; done: () => void } {
  const home = mkdtempSync(join(tmpdir(), "moat-store-"));
  const vmDir = join(home, "vm");
  mkdirSync(vmDir, { mode: 0o700 });
  writeSnapshot(join(vmDir, "snap"), parts());
  const store = new SnapshotStore(join(home, "snapshots"), snapshotKey(home));
  return { home, vmDir, store, done: () => rmSync(home, { recursive: true, force: true }) };
}

/** The quota's say, in a test that is not about it. */
const admitAll = (): void => {};

const refused = (fn: () => unknown, message: RegExp): void =>
  assert.throws(fn, (e: unknown) => e instanceof SnapshotError && message.test(e.message));

test("a VM's snapshot is copied into the store sparse, 0600, sealed; a change there is refused", () => {
  const { home, vmDir, store, done } = setUp();
  try {
    const key = readFileSync(join(home, "snapshot.key"));
    assert.equal(key.length, 32);
    assert.equal(statSync(join(home, "snapshot.key")).mode & 0o777, 0o600);
    assert.ok(snapshotKey(home).equals(key), "made once, then read");
    const bytes = store.take(vmDir, "snap", "id1", machine, admitAll);
    assert.ok(bytes >= 3 * 4096 && bytes < 4 * 4096 + 65536, String(bytes));
    const dir = store.pathOf("id1");
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    const mem = statSync(join(dir, "memory"));
    assert.equal(mem.mode & 0o777, 0o600);
    assert.equal(mem.size, 16 * MiB);
    assert.ok(mem.blocks * 512 < MiB, `sparse: ${mem.blocks} blocks`);
    const m = JSON.parse(readFileSync(join(dir, "snapshot.json"), "utf8")) as { hmac?: string };
    assert.match(m.hmac ?? "", /^[0-9a-f]{64}$/);
    assert.ok(store.check("id1"));
    // Another key (another daemon's store) does not accept the seal.
    const other = new SnapshotStore(store.dir, Buffer.alloc(32, 1));
    refused(() => other.check("id1"), /its seal does not match/);
    // Memory changed in the store: its digest.
    const f = join(dir, "memory");
    const data = readFileSync(f);
    data[4096] = 8;
    writeFileSync(f, data);
    refused(() => store.check("id1"), /memory: its digest does not match/);
  } finally {
    done();
  }
});

test("what the VM's uid could have put in its directory is refused, and nothing is kept", () => {
  const { vmDir, store, done } = setUp();
  const snap = join(vmDir, "snap");
  const nothingKept = (id: string): void => assert.ok(!existsSync(store.pathOf(id)), id);
  try {
    // Another machine than the one the daemon gave the VM.
    refused(
      () => store.take(vmDir, "snap", "a", { ...machine, memory_mib: 32 }, admitAll),
      /its machine is not the VM's as the daemon configured it/,
    );
    nothingKept("a");
    // The memory file a link (to a file of root's, say).
    renameSync(join(snap, "memory"), join(vmDir, "memory.real"));
    symlinkSync(join(vmDir, "memory.real"), join(snap, "memory"));
    refused(
      () => store.take(vmDir, "snap", "b", machine, admitAll),
      /memory: a symbolic link, refused/,
    );
    nothingKept("b");
    // A FIFO in its place: refused, not waited on.
    rmSync(join(snap, "memory"));
    execFileSync("mkfifo", [join(snap, "memory")]);
    refused(() => store.take(vmDir, "snap", "c", machine, admitAll), /memory: not a regular file/);
    nothingKept("c");
    // Memory changed after its manifest was written: the copy's digest.
    rmSync(join(snap, "memory"));
    const data = readFileSync(join(vmDir, "memory.real"));
    data[2 * 4096] = 1;
    writeFileSync(join(snap, "memory"), data);
    refused(
      () => store.take(vmDir, "snap", "d", machine, admitAll),
      /memory: its digest does not match/,
    );
    nothingKept("d");
    // A RAM the VM does not have (the manifest's machine says 32 MiB, its RAM is 16): a VMM
    // could otherwise make root copy gigabytes.
    const big = { ...machine, memory_mib: 32 };
    writeSnapshot(join(vmDir, "big"), { ...parts(), machine: big });
    refused(() => store.take(vmDir, "big", "f", big, admitAll), /its RAM is not the VM's 32 MiB/);
    nothingKept("f");
    // The quota decides before anything is copied: with the data's bytes from its manifest.
    writeSnapshot(join(vmDir, "snap2"), parts());
    let asked = -1;
    assert.throws(
      () =>
        store.take(vmDir, "snap2", "g", machine, (bytes) => {
          asked = bytes;
          throw new Error("over quota");
        }),
      /over quota/,
    );
    assert.equal(asked, 3 * 4096, "the data's bytes, from the manifest's extents");
    nothingKept("g");
    // The snapshot's directory itself a link (to another VM's snapshot, say).
    renameSync(snap, join(vmDir, "elsewhere"));
    symlinkSync(join(vmDir, "elsewhere"), snap);
    refused(
      () => store.take(vmDir, "snap", "e", machine, admitAll),
      /not a directory \(a link\?\)/,
    );
    nothingKept("e");
  } finally {
    done();
  }
});

test("a copy a daemon killed mid-way left in the store is swept at the next start; recorded ones stay", () => {
  const { vmDir, store, done } = setUp();
  try {
    store.take(vmDir, "snap", "kept", machine, admitAll);
    // What a copy interrupted before its record leaves: a directory, part of a memory file.
    mkdirSync(store.pathOf("half"), { mode: 0o700 });
    writeFileSync(join(store.pathOf("half"), "memory"), Buffer.alloc(4096));
    assert.deepEqual(store.sweep(new Set(["kept"])), ["half"]);
    assert.ok(!existsSync(store.pathOf("half")));
    assert.ok(store.check("kept"), "the recorded snapshot is whole");
    assert.deepEqual(store.sweep(new Set(["kept"])), [], "nothing more to sweep");
  } finally {
    done();
  }
});
