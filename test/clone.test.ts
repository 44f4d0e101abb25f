// Clones of one snapshot (docs/snapshot.md "Clones"): a guest whose clock was set far back
// (2001) waits on its console; it is snapshotted, and ten `moat run --restore --clone` of that
// snapshot each print 16 bytes of /dev/urandom read as soon as they get their line: all ten
// differ, each clone's kernel says once that it reseeded for a VM fork (the new VM generation
// ID), and each clone's clock is the host's (the vmgenid uevent made /init's listener run
// hwclock -s). Restores without --clone keep the 2001 clock and do not reseed: the test fails
// without the device, the kernel driver or the /init listener.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { moat, startMoat, until } from "./support/moat-cli.js";
import { snapshotAndKill } from "./support/snapshot-vm.js";

const OLD_CLOCK = 1_000_000_000; // 2001-09-09
// The guest: an old clock, and its RNG seeded (/dev/random blocks until then; a kernel that is
// not seeded yet only mixes a new VM generation ID into its pool). It waits for a line, then
// prints 16 random bytes at once, its clock once past 2017 (the uevent handler ran) or after 20
// tries of 0.1 s (it did not), and how often the kernel said it reseeded for a VM fork.
const GUEST =
  `date -s @${OLD_CLOCK} >/dev/null; head -c 1 /dev/random >/dev/null; echo ready; read x; ` +
  "head -c 16 /dev/urandom | od -An -tx1; " +
  'i=0; while [ "$(date +%s)" -lt 1500000000 ] && [ $i -lt 20 ]; do sleep 0.1; i=$((i+1)); done; ' +
  "echo \"clock=$(date +%s) forks=$(dmesg | grep -c 'reseeded due to virtual machine fork')\"";

interface Run {
  random: string;
  clock: number;
  /** The kernel's "crng reseeded due to virtual machine fork" messages. */
  forks: number;
  ms: number;
}

/** Restores `snap` (a clone with `clone`), gives the guest its line, and reads what it printed. */
async function restore(snap: string, clone: boolean): Promise<Run> {
  const t0 = performance.now();
  const vm = startMoat(["run", "--restore", snap, ...(clone ? ["--clone"] : [])], 120_000, true);
  vm.p.stdin!.write("go\n");
  const status = await vm.done;
  const out = vm.out();
  assert.equal(status, 0, `exit status; stderr: ${vm.err()}; output: ${out}`);
  const random = /^((?: [0-9a-f]{2}){16})\r?$/m.exec(out)?.[1]?.trim();
  const m = /^clock=(\d+) forks=(\d+)\r?$/m.exec(out);
  assert.ok(random !== undefined && m, `the guest printed: ${out}`);
  return { random, clock: Number(m[1]), forks: Number(m[2]), ms: performance.now() - t0 };
}

test("ten clones of one snapshot get different random bytes and the host's clock", async () => {
  const dir = mkdtempSync(join(tmpdir(), "moat-clone-"));
  try {
    const sock = join(dir, "control.sock");
    const snaps = join(dir, "snaps");
    mkdirSync(snaps);
    const first = startMoat(
      ["run", "--control", sock, "--snapshot-dir", snaps, "--", "sh", "-c", GUEST],
      150_000,
      true, // an open stdin: EOF would end the guest's read
    );
    await until(() => /^ready\r?$/m.test(first.out()), "the guest waiting on its line");
    const snap = await snapshotAndKill(first, sock, snaps);

    // Without --clone a restored guest is its parent again: the old clock, no reseed. (Its
    // random bytes do not reliably repeat: kernel users of randomness that run on timers, and the
    // kernel's own reseeds at a read in its first two minutes, depend on when the restore ran.)
    const plain = await restore(snap, false);
    assert.ok(plain.clock < OLD_CLOCK + 60, `plain restore's clock ${plain.clock}`);
    assert.equal(plain.forks, 0, "no VM fork reseed without --clone");

    const clones: Run[] = [];
    for (let i = 0; i < 10; i++) {
      const c = await restore(snap, true);
      const host = Date.now() / 1000;
      assert.ok(Math.abs(c.clock - host) < 5, `clone ${i}: clock ${c.clock}, host ${host}`);
      assert.equal(c.forks, 1, `clone ${i}: the kernel reseeded for the VM fork once`);
      clones.push(c);
    }
    const distinct = new Set(clones.map((c) => c.random));
    assert.equal(distinct.size, 10, `ten different: ${clones.map((c) => c.random).join(" / ")}`);
    const ms = clones.map((c) => Math.round(c.ms)).sort((a, b) => a - b);
    console.log(
      `# clone runs (restore, line, output, exit): median ${ms[5]} ms, all ${ms.join(" ")}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("--clone goes with --restore", async () => {
  const r = await moat(["run", "--clone", "--", "true"]);
  assert.equal(r.status, 125);
  assert.match(r.stderr, /--clone goes with --restore: a clone is of a snapshot/);
});

test("clones of a VM with a disk each write their own copy; the snapshot's disk is untouched", async () => {
  const dir = mkdtempSync(join(tmpdir(), "moat-clone-disk-"));
  try {
    const sock = join(dir, "control.sock");
    const snaps = join(dir, "snaps");
    mkdirSync(snaps);
    const disk = join(dir, "disk.img");
    writeFileSync(disk, Buffer.alloc(1 << 20));
    // The parent writes "parent" at the disk's start, then each clone writes its line there.
    const write = (what: string): string =>
      `printf ${what} | dd of=/dev/vda conv=fsync 2>/dev/null`;
    const guest = `${write("parent")}; echo ready; read x; ${write("$x")}; echo wrote $x`;
    const first = startMoat(
      ["run", "--disk", disk, "--control", sock, "--snapshot-dir", snaps, "--", "sh", "-c", guest],
      150_000,
      true,
    );
    await until(() => /^ready\r?$/m.test(first.out()), "the parent waiting on its line");
    const snap = await snapshotAndKill(first, sock, snaps);
    for (const who of ["one", "two"]) {
      copyFileSync(disk, join(dir, `${who}.img`));
      const vm = startMoat(
        ["run", "--restore", snap, "--disk", join(dir, `${who}.img`)],
        120_000,
        true,
      );
      vm.p.stdin!.write(`${who}\n`);
      assert.equal(await vm.done, 0, vm.err());
      assert.match(vm.out(), new RegExp(`^wrote ${who}\\r?$`, "m"));
    }
    const start = (f: string): string => readFileSync(join(dir, f)).subarray(0, 6).toString();
    assert.equal(start("disk.img"), "parent", "the snapshot's disk is as the parent left it");
    assert.equal(start("one.img"), "oneent");
    assert.equal(start("two.img"), "twoent");
    // Refused: another number of disks, or a writable disk given read-only.
    const twice = await moat(["run", "--restore", snap, "--disk", disk, "--disk", disk]);
    assert.equal(twice.status, 125);
    assert.match(
      twice.stderr,
      /--disk: the snapshot's VM has 1 disks; give as many, in order, or none/,
    );
    const ro = await moat(["run", "--restore", snap, "--disk", `${disk},ro`]);
    assert.equal(ro.status, 125);
    assert.match(ro.stderr, /--disk: disk 1 was writable in the snapshot's VM; give it so/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
