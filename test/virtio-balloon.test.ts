// virtio-balloon and the control socket, on the shipped riscv64 guest: a balloon target set
// through the control socket lowers the guest's free memory and the VMM's RSS; free page
// reporting releases memory the guest freed; statistics arrive; pause holds the guest; stop
// ends it; bad requests get an error reply and change nothing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { control } from "./support/control-client.js";
import { startMoat, until } from "./support/moat-cli.js";
import { driveUp } from "./support/virtio-driver.js";
import { GuestMemory } from "../src/memory/guest-memory.js";
import { VirtioBalloon } from "../src/devices/virtio/balloon.js";
import { STATUS_NEEDS_RESET, VirtioMmio } from "../src/devices/virtio/mmio-transport.js";

const rssMiB = (pid: number) =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;

test("balloon: a target set through the control socket lowers guest free memory and VMM RSS; pause holds the guest", async () => {
  const dir = mkdtempSync(join(tmpdir(), "moat-balloon-"));
  const sock = join(dir, "ctl.sock");
  const guest =
    // Touch 150 MiB (the VMM's RSS grows), free it, wait for the host to inflate the balloon.
    "dd if=/dev/zero of=/tmp/f bs=1M count=150 2>/dev/null; rm /tmp/f; " +
    "free0=$(awk '/MemFree/{print $2}' /proc/meminfo); echo READY; " +
    "while [ $(awk '/MemFree/{print $2}' /proc/meminfo) -gt $((free0 - 120000)) ]; do sleep 0.2; done; " +
    "echo INFLATED; for i in $(seq 100); do echo tick$i; sleep 0.1; done";
  const vm = startMoat([
    "run",
    "--memory",
    "256",
    "--balloon",
    "--control",
    sock,
    "--",
    "sh",
    "-c",
    guest,
  ]);
  try {
    let peak = 0;
    await until(() => {
      if (vm.p.exitCode === null) peak = Math.max(peak, rssMiB(vm.p.pid!));
      return vm.out().includes("READY") || vm.p.exitCode !== null;
    }, "READY");
    assert.equal(statSync(sock).mode & 0o777, 0o600, "the control socket is the owner's only");
    // Free page reporting: Linux reports the 150 MiB it freed about 2 s later, by itself.
    let reported = 0;
    for (let i = 0; i < 300 && reported === 0; i++) {
      const [st] = await control(sock, [{ op: "status" }]);
      reported = (st!.balloon as Record<string, number>).reported_mib!;
      if (reported === 0) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(reported > 0, "free page reporting released memory");
    const [stats, set, bad1, bad2, bad3] = await control(sock, [
      { op: "balloon-stats" },
      { op: "balloon", target_mib: 160 },
      { op: "balloon", target_mib: 4096 },
      "{not json",
      { op: "limits", device: "vdz", bps: 1 },
    ]);
    assert.equal(stats!.ok, true);
    assert.equal(stats!.fresh, true, JSON.stringify(stats));
    const s = stats!.stats as Record<string, number>;
    assert.ok(s.totalMemory! > 200 << 20 && s.freeMemory! > 0, JSON.stringify(s));
    assert.deepEqual((set!.balloon as Record<string, number>).target_mib, 160);
    assert.equal(bad1!.ok, false);
    assert.match(String(bad1!.error), /balloon target 4096 MiB: 0\.\.256/);
    assert.deepEqual(bad2, { ok: false, error: "not JSON" });
    assert.match(String(bad3!.error), /vda\.\.vdh or eth0\.\.eth3/);

    await until(() => vm.out().includes("INFLATED") || vm.p.exitCode !== null, "INFLATED");
    // The guest's free memory drops while it fills the balloon: wait until it is all there.
    for (let i = 0; i < 100; i++) {
      const [st] = await control(sock, [{ op: "status" }]);
      if ((st!.balloon as Record<string, number>).actual_mib === 160) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const [paused] = await control(sock, [{ op: "pause" }]);
    assert.deepEqual(paused, { ok: true, state: "paused" });
    const rss = rssMiB(vm.p.pid!);
    const held = vm.out().length;
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(vm.out().length, held, "a paused guest prints nothing");
    const [status] = await control(sock, [{ op: "status" }]);
    assert.equal(status!.state, "paused");
    const b = status!.balloon as Record<string, number>;
    assert.equal(b.actual_mib, 160, "the guest put 160 MiB in the balloon");
    // 160 MiB back to the host: the VMM is at least 100 MiB smaller than at its peak.
    assert.ok(rss < peak - 100, `RSS ${rss.toFixed(0)} MiB after, ${peak.toFixed(0)} MiB at peak`);
    await control(sock, [{ op: "resume" }]);
    assert.equal(await vm.done, 0, vm.err());
    assert.match(vm.out(), /tick100/);
  } finally {
    vm.p.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
});

test("control socket: stop ends the VM with status 143", async () => {
  const dir = mkdtempSync(join(tmpdir(), "moat-ctl-"));
  const sock = join(dir, "ctl.sock");
  const vm = startMoat(["run", "--control", sock, "--", "sh", "-c", "echo UP; sleep 100"]);
  try {
    await until(() => vm.out().includes("UP") || vm.p.exitCode !== null, "UP");
    const [r] = await control(sock, [{ op: "stop" }]);
    assert.deepEqual(r, { ok: true });
    assert.equal(await vm.done, 143);
  } finally {
    vm.p.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
});

test("virtio-balloon model: inflated pages are released, pages outside RAM skipped, hostile lists reset the device", async () => {
  const mem = new GuestMemory(0n, new Uint8Array(0x10_0000));
  const released: number[] = [];
  const dev = new VirtioBalloon("virtio-balloon", 0x10_0000, {
    release: (b) => released.push(b.length),
  });
  const t = new VirtioMmio(
    dev,
    mem,
    () => {},
    () => {},
  );
  const w = driveUp(t, [{ index: 0, size: 8, desc: 0x1000n, avail: 0x2000n, used: 0x3000n }]);
  const pfns = new Uint32Array([0x20, 0x21, 0xfffff]); // the last is outside RAM
  mem.write(0x8000n, new Uint8Array(pfns.buffer));
  const give = async (len: number, flags: number) => {
    const i = mem.readU16(0x2002n);
    mem.writeU64(0x1000n + BigInt(16 * i), 0x8000n);
    mem.writeU32(0x1008n + BigInt(16 * i), len);
    mem.writeU16(0x100cn + BigInt(16 * i), flags);
    mem.writeU16(0x2004n + BigInt(2 * i), i);
    mem.writeU16(0x2002n, i + 1);
    w(0x50, 0);
    for (let k = 0; k < 3; k++) await new Promise((r) => setImmediate(r));
  };
  await give(12, 0);
  assert.deepEqual(released, [4096, 4096]);
  assert.equal(dev.inflatedPages, 2);
  assert.throws(() => dev.setTarget(2), /0\.\.1/);
  await give(12, 2); // a writable page list
  assert.equal(Number(t.read(0x70, 4)) & STATUS_NEEDS_RESET, STATUS_NEEDS_RESET);
});

test("control socket: rate limits change at run time; bad values change nothing", async () => {
  const { ControlSocket } = await import("../src/vmm/control-socket.js");
  const dir = mkdtempSync(join(tmpdir(), "moat-ctl-"));
  const got: string[] = [];
  const fake = {
    blks: [
      {
        setLimits: (l: { bytes?: { rate: number }; ops?: { rate: number } }) =>
          got.push(`vda ${l.bytes?.rate} ${l.ops?.rate}`),
      },
    ],
    nets: [
      {
        setLimits: (l: { txBytes?: { rate: number }; rxOps?: { rate: number } }) =>
          got.push(`eth0 ${l.txBytes?.rate} ${l.rxOps?.rate}`),
        name: "eth0",
        counters: {},
      },
    ],
  };
  const ctl = await ControlSocket.listen(join(dir, "c.sock"), fake as never);
  try {
    const replies = await control(join(dir, "c.sock"), [
      { op: "limits", device: "vda", bps: 1048576, iops: 100 },
      { op: "limits", device: "eth0", bps: 65536, pps: null },
      { op: "limits", device: "vda", bps: -1 },
      { op: "limits", device: "eth1", bps: 1 },
      { op: "pause" },
    ]);
    assert.deepEqual(replies.slice(0, 2), [{ ok: true }, { ok: true }]);
    assert.match(String(replies[2]!.error), /bps: a positive whole number/);
    assert.match(String(replies[3]!.error), /no NIC eth1/);
    assert.match(String(replies[4]!.error), /not running yet/);
    assert.deepEqual(got, ["vda 1048576 100", "eth0 65536 undefined"]);
  } finally {
    await ctl.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
