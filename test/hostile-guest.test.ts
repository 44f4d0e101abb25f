// A hostile guest against every virtio device of a VM (test/guest/hostile.c, built with Debian's
// riscv64 cross compiler and added to the shipped initramfs): as root in the guest it unbinds
// the kernel's drivers, drives the devices' registers through /dev/mem and builds malicious
// rings in its own locked memory. Afterwards: the VMM is alive and answers, its memory stayed
// bounded, each attack the guest saw stop a device was logged exactly once, and a second VM on
// the host kept printing its workload's ticks throughout.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import net from "node:net";
import { readdirSync } from "node:fs";
import { startMoat, until, type RunningMoat } from "./support/moat-cli.js";
import { initrdWith } from "./support/guest-initrd.js";
import { control } from "./support/control-client.js";
import { MAX_CONNECTIONS } from "../src/devices/virtio/vsock.js";
import { LOG_BURST, LOG_PER_MINUTE } from "../src/devices/log-limiter.js";
import { VMM_LIMITS } from "../src/jail/drop.js";

/** Resident memory of a process, MiB (VmRSS). */
function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

test("a hostile guest attacks every virtio device: the VMM survives bounded, each stop is logged once, a neighbour VM runs on", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "moat-hostile-"));
  try {
    const initrd = initrdWith(dir, ["hostile"]);
    const disk = join(dir, "disk.img");
    writeFileSync(disk, Buffer.alloc(1 << 20));
    const ctl = join(dir, "ctl.sock");
    const vsockHost = await vsockService(join(dir, "vsock"));
    // The neighbour: a workload that prints a tick every 100 ms, timestamped as it arrives.
    const ticks: number[] = [];
    const neighbour = startMoat(
      ["run", "--", "sh", "-c", "i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.1; done"],
      600_000,
    );
    let seen = 0;
    const watch = setInterval(() => {
      const n = (neighbour.out().match(/tick \d+/g) ?? []).length;
      for (; seen < n; seen++) ticks.push(Date.now());
    }, 20);
    try {
      await until(() => neighbour.out().includes("tick 5"), "the neighbour's workload");
      const vm = startMoat(
        [
          "run",
          "--memory",
          "160",
          "--initrd",
          initrd,
          "--disk",
          disk,
          "--rng",
          "--balloon",
          "--vsock",
          join(dir, "vsock"),
          "--display",
          "--agent",
          "--control",
          ctl,
          "--",
          "sh",
          "-c",
          // Free the devices from the kernel's drivers, then attack them.
          "for d in /sys/bus/virtio/drivers/*/virtio*; do echo ${d##*/} > ${d%/*}/unbind; done; " +
            "/bin/hostile; echo HOSTILE-EXIT $?; sleep 600",
        ],
        600_000,
      );
      const fds = fdWatch(vm.p.pid!);
      try {
        const vsockSeen = await checkVsockAttacks(vm, ctl, vsockHost, fds);
        await until(() => vm.out().includes("HOSTILE-EXIT"), "the hostile program", 400_000);
        const done = /HOSTILE DONE devices=(\d+) attacks=(\d+) resets=(\d+)/.exec(vm.out());
        assert.ok(done, `the hostile program finished:\n${vm.out()}\n${vm.err()}`);
        assert.match(vm.out(), /HOSTILE-EXIT 0/);
        const [devices, attacks, resets] = done.slice(1).map(Number) as [number, number, number];
        // blk, rng, balloon, vsock, gpu, keyboard, tablet, serial (agent): eight devices.
        assert.equal(devices, 8, vm.out());
        assert.equal(attacks, devices * 10);
        for (const name of [
          "desc-loop",
          "outside-ram",
          "huge-length",
          "avail-ahead",
          "nested-indirect",
        ])
          assert.equal(
            (vm.out().match(new RegExp(`name=${name} reset=1`, "g")) ?? []).length,
            devices,
            `${name} stops every device:\n${vm.out()}`,
          );
        // Each stop the guest saw is one line in the VMM's log, no more (a storm of notifies
        // to a stopped device adds nothing); the rng's reset loop adds a bounded few.
        const logSeen = checkDeviceLog(vm, resets);
        // Every stop had a device's own reason, never an engine error a bound let through.
        assert.doesNotMatch(
          vm.err(),
          /TypeError|RangeError|Cannot read properties|is not a function/,
        );
        // The VMM is alive and answers; its memory stayed bounded.
        const [status] = await control(ctl, [{ op: "status" }]);
        assert.equal((status as { ok: boolean }).ok, true);
        const rss = rssMiB(vm.p.pid!);
        assert.ok(rss < 160 + 400, `the VMM holds ${rss.toFixed(0)} MiB`);
        // The neighbour kept ticking the whole time (2 cores shared by two soft CPUs: a tick
        // may come late, never stop).
        let gap = 0;
        for (let i = 1; i < ticks.length; i++) gap = Math.max(gap, ticks[i]! - ticks[i - 1]!);
        assert.ok(gap < 5000, `the neighbour stalled for ${gap} ms`);
        assert.equal(neighbour.p.exitCode, null, "the neighbour still runs");
        t.diagnostic(
          `hostile guest: ${attacks} attacks on ${devices} devices, ${resets} stops logged once each, VMM RSS ${rss.toFixed(0)} MiB, neighbour's longest gap ${gap} ms`,
        );
        t.diagnostic(`${vsockSeen}; ${logSeen}`);
      } finally {
        fds.stop();
        vm.p.kill("SIGKILL");
      }
    } finally {
      clearInterval(watch);
      neighbour.p.kill("SIGKILL");
      await vsockHost.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- Issue 17: the vsock REQUEST+RST flood and held connections; the virtio-rng reset loop
// (test/guest/hostile.c, vsock_attacks and rng_reset_loop) ----

/** The host's service on the guest's host port 5000 (PATH_5000): holds what it accepts. */
async function vsockService(path: string) {
  const open = new Set<net.Socket>();
  let peak = 0;
  // It closes a connection once moat ends it (the guest dropped it or was reset).
  const server = net.createServer((s) => {
    open.add(s);
    peak = Math.max(peak, open.size);
    s.on("error", () => {});
    s.on("close", () => open.delete(s));
    s.resume();
  });
  await new Promise<void>((r) => server.listen({ path: `${path}_5000`, backlog: 4096 }, r));
  return {
    open,
    get peak() {
      return peak;
    },
    close: () => {
      for (const s of open) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const fdCount = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

/** The VMM's open descriptors, sampled every 50 ms: the highest seen. */
function fdWatch(pid: number) {
  let peak = 0;
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, fdCount(pid));
    } catch {
      // the process has ended
    }
  }, 50);
  return {
    get peak() {
      return peak;
    },
    stop: () => clearInterval(timer),
  };
}

/**
 * After a REQUEST+RST flood five times the connection bound, and while the guest holds
 * connections past it: the VMM answers its control socket, holds at most the bound of host
 * sockets and stays under the jail's descriptor limit; when the guest lets go, they all close.
 */
async function checkVsockAttacks(
  vm: RunningMoat,
  ctl: string,
  svc: Awaited<ReturnType<typeof vsockService>>,
  fds: ReturnType<typeof fdWatch>,
): Promise<string> {
  await until(() => vm.out().includes("ATTACK slot="), "the first attack", 400_000);
  const baseline = fdCount(vm.p.pid!);
  await until(() => vm.out().includes("VSOCK HOLDING"), "the vsock attacks", 400_000);
  const flood = /VSOCK FLOOD pairs=(\d+) took=(\d+)/.exec(vm.out());
  assert.ok(flood && flood[1] === flood[2], `the device took every pair: ${flood?.[0]}`);
  const hold = /VSOCK HOLD accepted=(\d+) refused=(\d+)/.exec(vm.out());
  assert.ok(hold, vm.out());
  const [accepted, refused] = [Number(hold[1]), Number(hold[2])];
  // The flood left nothing counted: the whole bound is there for new connections, no more.
  assert.equal(accepted, MAX_CONNECTIONS, hold[0]);
  assert.equal(accepted + refused, 1100, hold[0]);
  await until(() => svc.open.size >= accepted, "the service holding each connection");
  assert.equal(svc.open.size, accepted, "host sockets open: only those the guest holds");
  const [status] = await control(ctl, [{ op: "status" }]);
  assert.equal((status as { ok: boolean }).ok, true, "the VMM answers while at the bound");
  const held = fdCount(vm.p.pid!);
  assert.ok(held <= baseline + MAX_CONNECTIONS + 16, `${baseline} -> ${held} descriptors`);
  assert.ok(svc.peak <= MAX_CONNECTIONS, `the service saw ${svc.peak} connections at once`);
  assert.ok(fds.peak < VMM_LIMITS.nofile, `${fds.peak} descriptors: past the jail's limit`);
  // A byte on one connection tells the guest to let go (a device reset drops them all).
  [...svc.open][0]!.write("go");
  await until(() => vm.out().includes("VSOCK RELEASED"), "the guest letting go");
  assert.match(vm.out(), /VSOCK RELEASED go=[1-9]/);
  await until(() => svc.open.size === 0, "every host socket closed");
  await until(() => fdCount(vm.p.pid!) <= baseline + 16, "the VMM's descriptors back");
  return `vsock: ${flood[1]} REQUEST+RST, then ${accepted} held and ${refused} refused; VMM descriptors ${baseline} -> ${held} (peak ${fds.peak}) -> ${fdCount(vm.p.pid!)}`;
}

/**
 * Each stop of a device other than the rng is one log line; the rng's also, and its reset loop
 * adds at most a burst and the rate's lines, with a count of those left out.
 */
function checkDeviceLog(vm: RunningMoat, resets: number): string {
  const lines = vm.err().match(/^moat: .*the device needs a reset$/gm) ?? [];
  const rngLines = lines.filter((l) => l.startsWith("moat: virtio-rng: ")).length;
  const rngResets = (vm.out().match(/dev=4 name=\S+ reset=1/g) ?? []).length;
  assert.equal(lines.length - rngLines, resets - rngResets, vm.err());
  const loop = /RNGLOOP cycles=(\d+) stops=(\d+) ms=(\d+)/.exec(vm.out());
  assert.ok(loop, vm.out());
  const [stops, ms] = [Number(loop[2]), Number(loop[3])];
  assert.ok(stops > 4 * LOG_BURST, `the loop stopped the device ${stops} times`);
  const suppressed = [...vm.err().matchAll(/virtio-rng: (\d+) similar lines suppressed/g)].reduce(
    (n, m) => n + Number(m[1]),
    0,
  );
  const loopLines = rngLines - rngResets;
  const bound = LOG_BURST + Math.ceil((ms / 60_000) * LOG_PER_MINUTE) + 1;
  assert.ok(loopLines >= 0 && loopLines <= bound, `${loopLines} lines for ${stops} stops`);
  assert.ok(suppressed > 0, "the count of lines left out is logged");
  assert.ok(loopLines + suppressed <= stops, `${loopLines} + ${suppressed} of ${stops} stops`);
  assert.ok(vm.err().length < 64 << 10, `the VMM logged ${vm.err().length} bytes`);
  return `rng loop: ${stops} stops in ${ms} ms, ${loopLines} lines and ${suppressed} counted as suppressed; VMM log ${vm.err().length} bytes`;
}
