// Snapshot and restore of a whole VM, stand-alone (moat run): a guest counting on its console
// is paused and snapshotted through the control socket, its process killed, and a new process
// started with --restore goes on counting from where it stopped, without booting, to the end of
// its loop (exit status 0). Refusals: a running VM, no snapshot directory, a name that is not
// one, machine flags with --restore, a changed snapshot.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { control, okReply } from "./support/control-client.js";
import { moat, startMoat, until } from "./support/moat-cli.js";
import type { ControlReply } from "../src/vmm/control-protocol.js";
import { writeSnapshot } from "../src/vmm/snapshot-file.js";

/** The numbers the guest printed, in order. */
function counts(out: string): number[] {
  return [...out.matchAll(/^n=(\d+)\r?$/gm)].map((m) => Number(m[1]));
}

const LOOP = "i=0; while [ $i -lt 200 ]; do i=$((i+1)); echo n=$i; usleep 20000; done";

test("a VM snapshotted mid-loop goes on from where it was in a new process", async () => {
  const dir = mkdtempSync(join(tmpdir(), "moat-snapshot-"));
  try {
    const sock = join(dir, "control.sock");
    const snaps = join(dir, "snaps");
    mkdirSync(snaps);
    const first = startMoat([
      "run",
      "--control",
      sock,
      "--snapshot-dir",
      snaps,
      "--",
      "sh",
      "-c",
      LOOP,
    ]);
    await until(() => counts(first.out()).length >= 10, "the guest counting to 10");
    // A running VM is not snapshotted.
    const [running] = await control(sock, [{ op: "snapshot", name: "s1" }]);
    assert.equal(running!.ok, false);
    assert.equal(running!.kind, "state");
    const [paused, bad, made] = (await control(sock, [
      { op: "pause" },
      { op: "snapshot", name: "../out" },
      { op: "snapshot", name: "s1" },
    ])) as ControlReply<"snapshot">[];
    okReply(paused!);
    assert.equal(bad!.ok, false, "a name with a slash is refused");
    const snap = okReply(made!);
    assert.equal(snap.path, join(snaps, "s1"));
    assert.ok(snap.memory_bytes > 1 << 20, `${snap.memory_bytes} bytes of RAM data`);
    const before = counts(first.out());
    const last = before[before.length - 1]!;
    first.p.kill("SIGKILL");
    await first.done;
    assert.ok(last < 200, `the loop had not ended (${last})`);

    const again = startMoat(["run", "--restore", join(snaps, "s1")]);
    const status = await again.done;
    const after = counts(again.out());
    assert.equal(status, 0, `exit status; stderr: ${again.err()}`);
    assert.ok(!/Linux version/.test(again.out()), "no boot: the guest went on");
    assert.ok(after.length > 0, `the restored guest printed: ${again.out().slice(0, 500)}`);
    assert.equal(after[0], last + 1, `it went on from n=${last}: ${after.slice(0, 5)}`);
    assert.equal(after[after.length - 1], 200);
    assert.deepEqual(
      after,
      Array.from({ length: 200 - last }, (_, i) => last + 1 + i),
    );

    // The snapshot is refused once changed.
    const manifest = join(snaps, "s1", "snapshot.json");
    writeFileSync(
      manifest,
      readFileSync(manifest, "utf8").replace('"booted":true', '"booted":false'),
    );
    const changed = await moat(["run", "--restore", join(snaps, "s1")]);
    assert.equal(changed.status, 125);
    assert.match(changed.stderr, /its digest does not match: changed since written/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("--restore takes the machine from the snapshot; a VM without --snapshot-dir has no snapshots", async () => {
  const r = await moat(["run", "--restore", "/nonexistent", "--memory", "256", "--cpus", "2"]);
  assert.equal(r.status, 125);
  assert.match(r.stderr, /--restore takes the machine from the snapshot; drop --cpus, --memory/);
  const none = await moat(["run", "--restore", "/nonexistent"]);
  assert.equal(none.status, 125);
  assert.match(
    none.stderr,
    /\/nonexistent: no snapshot\.json \(not a snapshot, or an unfinished one\)/,
  );
  const dir = mkdtempSync(join(tmpdir(), "moat-snapshot-"));
  try {
    // A snapshot whose machine is not one (written and sealed by whoever made it): refused as
    // any bad config is, before a field of it is used.
    writeSnapshot(join(dir, "odd"), {
      arch: "riscv64",
      accel: "soft",
      machine: { accel: "soft", cpus: 1, memory_mib: 64, disks: [null] },
      cpu: {
        mtime: "0x0",
        harts: [
          { record: null, mip: 0, mtimecmp: "0x0", hsm: 1, start_addr: "0x0", opaque: "0x0" },
        ],
      },
      devices: {},
      ram: new Uint8Array(64 << 20),
    });
    const odd = await moat(["run", "--restore", join(dir, "odd"), "--disk", join(dir, "x.img")]);
    assert.equal(odd.status, 125);
    assert.match(odd.stderr, /odd: its machine: disks\.0 must be a JSON object/);
    const sock = join(dir, "c.sock");
    const vm = startMoat(["run", "--control", sock, "--", "sh", "-c", "echo up; sleep 30"]);
    await until(() => vm.out().includes("up"), "the guest");
    const [p, s] = await control(sock, [{ op: "pause" }, { op: "snapshot", name: "x" }]);
    assert.equal(p!.ok, true);
    assert.equal(s!.ok, false);
    assert.equal(s!.kind, "no-snapshots");
    assert.match(String(s!.error), /--snapshot-dir/);
    vm.p.kill("SIGKILL");
    await vm.done;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
