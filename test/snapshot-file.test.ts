// A snapshot's directory on disk: guest RAM written sparse (holes where pages are zero) and read
// back exactly; a manifest or memory changed after writing is refused by its digest, a daemon's
// snapshot by its HMAC; links, foreign versions, extents out of order and an existing directory
// are refused by name.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  mkdirSync,
  renameSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  SnapshotError,
  readSnapshot,
  writeSnapshot,
  type SnapshotManifest,
  type SnapshotParts,
  type SoftCpuState,
} from "../src/vmm/snapshot-file.js";

const MiB = 1 << 20;

function parts(): SnapshotParts {
  const ram = new Uint8Array(16 * MiB);
  ram.fill(7, 4096, 3 * 4096); // pages 1-2
  ram[10 * MiB + 5] = 1; // one byte on one page
  ram.fill(0xff, 16 * MiB - 4096); // the last page
  return {
    arch: "riscv64",
    accel: "soft",
    machine: { accel: "soft", cpus: 1, memory_mib: 16 },
    cpu: {
      mtime: "0x1234",
      harts: [
        {
          record: "AAAA",
          mip: 0,
          mtimecmp: "0xffffffffffffffff",
          hsm: 0,
          start_addr: "0x0",
          opaque: "0x0",
        },
      ],
    },
    devices: { uart: { lcr: 3 } },
    ram,
  };
}

function withDir(fn: (dir: string) => void): void {
  const base = mkdtempSync(join(tmpdir(), "moat-snap-"));
  try {
    fn(join(base, "s1"));
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

const refused = (fn: () => unknown, message: RegExp): void =>
  assert.throws(fn, (e: unknown) => e instanceof SnapshotError && message.test(e.message));

/** Rewrites the manifest with `change` applied, its digest made to match again (no HMAC). */
function reseal(dir: string, change: (m: SnapshotManifest) => void): void {
  const path = join(dir, "snapshot.json");
  const m = JSON.parse(readFileSync(path, "utf8")) as SnapshotManifest;
  change(m);
  delete m.hmac; // whoever changed it cannot make the daemon's seal
  const { sha256: _s, hmac: _h, ...body } = m;
  m.sha256 = createHash("sha256").update(JSON.stringify(body)).digest("hex");
  writeFileSync(path, JSON.stringify(m));
}

test("RAM goes out sparse and comes back as it was", () => {
  withDir((dir) => {
    const p = parts();
    const data = writeSnapshot(dir, p);
    assert.equal(data, 4 * 4096, "three runs of data: pages 1-2, one page, the last page");
    const st = statSync(join(dir, "memory"));
    assert.equal(st.size, 16 * MiB);
    assert.ok(st.blocks * 512 < 1 * MiB, `the memory file is sparse: ${st.blocks} blocks`);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(join(dir, "snapshot.json")).mode & 0o777, 0o600);
    const s = readSnapshot(dir);
    assert.deepEqual(s.manifest.memory.extents, [
      [1, 2],
      [2560, 1],
      [4095, 1],
    ]);
    assert.deepEqual(s.manifest.devices, { uart: { lcr: 3 } });
    const ram = new Uint8Array(16 * MiB); // fresh, as a new VM's RAM is
    s.loadMemory(ram);
    assert.ok(Buffer.from(ram).equals(Buffer.from(p.ram)));
    refused(
      () => s.loadMemory(new Uint8Array(8 * MiB)),
      /holds 16777216 bytes of RAM, the VM has 8388608/,
    );
    refused(() => writeSnapshot(dir, p), /already exists/);
  });
});

test("a snapshot changed after it was written is refused", () => {
  withDir((dir) => {
    writeSnapshot(dir, parts());
    // One byte of guest RAM.
    const mem = readFileSync(join(dir, "memory"));
    mem[10 * MiB + 5] = 2;
    writeFileSync(join(dir, "memory"), mem);
    const ram = new Uint8Array(16 * MiB);
    refused(() => readSnapshot(dir).loadMemory(ram), /memory: its digest does not match/);
    // A device's state, digest not updated.
    const path = join(dir, "snapshot.json");
    writeFileSync(path, readFileSync(path, "utf8").replace('"lcr":3', '"lcr":4'));
    refused(() => readSnapshot(dir), /its digest does not match: changed since written/);
    // Re-sealed by hand: the digest matches, but it is no longer the daemon's.
    reseal(dir, () => {});
    assert.ok(readSnapshot(dir));
  });
  withDir((dir) => {
    const key = Buffer.alloc(32, 1);
    writeSnapshot(dir, parts(), key);
    assert.ok(readSnapshot(dir, key), "sealed with the key and read with it");
    refused(() => readSnapshot(dir, Buffer.alloc(32, 2)), /its seal does not match/);
    reseal(dir, (m) => (m.devices = { uart: { lcr: 4 } }));
    refused(() => readSnapshot(dir, key), /not sealed by this daemon/);
  });
});

test("what is not moat's snapshot of this version, or is malformed, is refused by name", () => {
  withDir((dir) => {
    writeSnapshot(dir, parts());
    reseal(dir, (m) => (m.moat = "0.0.1"));
    refused(
      () => readSnapshot(dir),
      /made by moat 0\.0\.1; this is moat .*, which restores only its own/,
    );
    reseal(dir, (m) => {
      m.moat = JSON.parse(readFileSync("package.json", "utf8")).version;
      (m as { version: number }).version = 2;
    });
    refused(() => readSnapshot(dir), /format version 2; this moat reads version 1/);
    reseal(dir, (m) => {
      (m as { version: number }).version = 1;
      m.memory.extents = [
        [5, 1],
        [3, 1],
      ];
    });
    refused(() => readSnapshot(dir), /extent \[3, 1\] out of order/);
    reseal(dir, (m) => (m.memory.extents = [[4095, 2]]));
    refused(() => readSnapshot(dir), /extent \[4095, 2\] out of order or past the end/);
    reseal(dir, (m) => (((m.cpu as SoftCpuState).harts[0] as { hsm: unknown }).hsm = "0"));
    refused(() => readSnapshot(dir), /\/cpu\/harts\/0\/hsm must be integer/);
    reseal(dir, (m) => {
      (m.cpu as SoftCpuState).harts[0]!.hsm = 0;
      m.arch = "x86_64";
    });
    refused(() => readSnapshot(dir), /an x86_64 snapshot on soft: moat makes none/);
    reseal(dir, (m) => {
      m.arch = "riscv64";
      m.accel = "kvm";
    });
    refused(() => readSnapshot(dir), /\/cpu must have required property 'vm'/);
    reseal(dir, (m) => {
      m.accel = "soft";
      (m as unknown as { extra: number }).extra = 1;
    });
    refused(() => readSnapshot(dir), /must NOT have additional properties/);
    writeFileSync(join(dir, "snapshot.json"), "{");
    refused(() => readSnapshot(dir), /not JSON/);
    // A link in the manifest's place is not followed.
    renameSync(join(dir, "snapshot.json"), join(dir, "real.json"));
    symlinkSync(join(dir, "real.json"), join(dir, "snapshot.json"));
    refused(() => readSnapshot(dir), /a symbolic link, refused/);
  });
  withDir((dir) => {
    mkdirSync(dir);
    refused(() => readSnapshot(dir), /no snapshot\.json \(not a snapshot, or an unfinished one\)/);
  });
});
