// A hostile guest against every virtio device of a VM (test/guest/hostile.c, built with Debian's
// riscv64 cross compiler and added to the shipped initramfs): as root in the guest it unbinds
// the kernel's drivers, drives the devices' registers through /dev/mem and builds malicious
// rings in its own locked memory. Afterwards: the VMM is alive and answers, its memory stayed
// bounded, each attack the guest saw stop a device was logged exactly once, and a second VM on
// the host kept printing its workload's ticks throughout. The gpu section (host memory and
// work a guest can make the VMM spend) is watched from the control socket while it runs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import net from "node:net";
import { startMoat, until, type RunningMoat } from "./support/moat-cli.js";
import { initrdWith } from "./support/guest-initrd.js";
import { bareImage } from "./support/guest-image.js";
import { control, type Reply } from "./support/control-client.js";
import { MAX_CONNECTIONS } from "../src/devices/virtio/vsock.js";
import { LOG_BURST, LOG_PER_MINUTE } from "../src/devices/log-limiter.js";
import { VMM_LIMITS } from "../src/jail/drop.js";

/** Resident memory of a process, MiB (VmRSS). */
function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

// ---- virtio-gpu (issue 17, items 11, 15, 16) ------------------------------------------------

/** Control-socket round trips, measured the whole run: when each was asked, how long it took. */
function watchControl(ctl: string) {
  const samples: { at: number; ms: number }[] = [];
  let on = true;
  const done = (async () => {
    while (on) {
      const at = Date.now();
      try {
        await control(ctl, [{ op: "status" }]);
        samples.push({ at, ms: Date.now() - at });
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    samples,
    stop: async () => {
      on = false;
      await done;
    },
  };
}

/** When each gpu marker first appeared on the guest's console. */
function gpuMarkers(vm: RunningMoat) {
  const seen = new Map<string, number>();
  const watch = setInterval(() => {
    for (const m of ["GPU-BEGIN", "GPU-SCANOUT-READY", "GPU-END"])
      if (!seen.has(m) && vm.out().includes(m)) seen.set(m, Date.now());
  }, 20);
  return { seen, stop: () => clearInterval(watch) };
}

/**
 * While the guest shows its largest scanout of random pixels: a screenshot is refused (too big
 * a PNG) and status requests are answered while it is encoded; then a key lets the guest go on.
 */
async function screenshotTheNoise(
  ctl: string,
): Promise<{ shot: Reply; answeredMeanwhile: number }> {
  let pending = true;
  const shot = control(ctl, [{ op: "screenshot" }]).then(([r]) => {
    pending = false;
    return r!;
  });
  let answeredMeanwhile = 0;
  while (pending) {
    await control(ctl, [{ op: "status" }]);
    if (pending) answeredMeanwhile++;
    await new Promise((r) => setTimeout(r, 20));
  }
  await control(ctl, [{ op: "key", code: 30 }]);
  return { shot: await shot, answeredMeanwhile };
}

/** The gpu section's lines: name -> its key=value fields. */
function gpuResults(out: string): Map<string, Record<string, number>> {
  const results = new Map<string, Record<string, number>>();
  for (const m of out.matchAll(/^GPU name=(\S+)((?: \w+=\d+)*)/gm))
    results.set(
      m[1]!,
      Object.fromEntries([...m[2]!.matchAll(/(\w+)=(\d+)/g)].map((f) => [f[1]!, Number(f[2])])),
    );
  return results;
}

/** What the gpu section must have seen: every attack refused or bounded, the work all done. */
function checkGpu(out: string): Map<string, Record<string, number>> {
  const r = gpuResults(out);
  const get = (name: string) => {
    const f = r.get(name);
    assert.ok(f, `the gpu section's ${name} line:\n${out}`);
    return f;
  };
  const meta = get("backing-meta");
  assert.ok(meta.entries! > 17, `a long list was sent (${meta.entries} entries)`);
  assert.deepEqual([meta.attached, meta.refused], [0, 300], "every over-long list refused");
  const cap = get("backing-cap");
  assert.equal(cap.oom, 1, "the cap refused more");
  assert.ok(
    cap.created! >= 50 && cap.created! < 64,
    `${cap.created} 4 MiB resources under 256 MiB`,
  );
  assert.deepEqual([get("many-transfers").attached, get("many-transfers").ok], [1, 128]);
  assert.equal(get("attach-detach").ok, 102);
  const scanout = get("scanout");
  assert.deepEqual([scanout.big_refused, scanout.shown, scanout.key], [2, 1, 1]);
  return r;
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
      const latency = watchControl(ctl);
      const markers = gpuMarkers(vm);
      const fds = fdWatch(vm.p.pid!);
      try {
        // The guest's gpu section comes first, then its vsock and rng sections.
        await until(() => vm.out().includes("GPU-SCANOUT-READY"), "the gpu's scanout", 400_000);
        const { shot, answeredMeanwhile } = await screenshotTheNoise(ctl);
        const vsockSeen = await checkVsockAttacks(vm, ctl, vsockHost, fds);
        await until(() => vm.out().includes("HOSTILE-EXIT"), "the hostile program", 400_000);
        await latency.stop();
        markers.stop();
        const done = /HOSTILE DONE devices=(\d+) attacks=(\d+) resets=(\d+)/.exec(vm.out());
        assert.ok(done, `the hostile program finished:\n${vm.out()}\n${vm.err()}`);
        assert.match(vm.out(), /HOSTILE-EXIT 0/);
        const [devices, attacks, resets] = done.slice(1).map(Number) as [number, number, number];
        // blk, rng, balloon, vsock, gpu, keyboard, tablet, serial (agent): eight devices.
        assert.equal(devices, 8, vm.out());
        assert.equal(attacks, devices * 10);
        // The guest waits (with a bound) for each of these stops before it resets the device.
        assert.doesNotMatch(vm.out(), /ATTACK-TIMEOUT/, "a stop the guest waited for never came");
        for (const name of [
          "desc-loop",
          "outside-ram",
          "huge-length",
          "avail-ahead",
          "nested-indirect",
          "features-after-ok",
        ])
          assert.equal(
            (vm.out().match(new RegExp(`name=${name} reset=1`, "g")) ?? []).length,
            devices,
            `${name} stops every device:\n${vm.out()}`,
          );
        // Each stop the guest counted (by ConfigGeneration across the reset that ends the
        // device's life, so also one that came after its last look) is one line in the VMM's
        // log, no more (a storm of notifies to a stopped device adds nothing); the rng's reset
        // loop adds a bounded few.
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
        // The gpu section: each attack refused or bounded, the control socket answering
        // throughout, the noisy screenshot refused without stopping it.
        const gpu = checkGpu(vm.out());
        assert.equal(shot.ok, false);
        assert.match(String(shot.error), /passed 786432 bytes as a PNG \(3840x2160\)/);
        assert.ok(answeredMeanwhile >= 1, "no status answered while the screenshot was encoded");
        const begin = markers.seen.get("GPU-BEGIN")!;
        const end = markers.seen.get("GPU-END")!;
        const during = latency.samples.filter((x) => x.at >= begin && x.at <= end);
        const worst = Math.max(...during.map((x) => x.ms));
        assert.ok(during.length >= 5, `${during.length} control requests during the gpu section`);
        assert.ok(worst < 3000, `a control request took ${worst} ms during the gpu section`);
        t.diagnostic(
          `gpu: ${during.length} control requests during the attacks, the slowest ${worst} ms; ` +
            `128 transfers in ${gpu.get("many-transfers")!.ms} ms, 51 attach/detach pairs in ` +
            `${gpu.get("attach-detach")!.ms} ms (guest clock); ${answeredMeanwhile} answered ` +
            "while the screenshot was encoded",
        );
        t.diagnostic(`${vsockSeen}; ${logSeen}`);
      } finally {
        await latency.stop();
        markers.stop();
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

// ---- the SBI: a bare S-mode guest (test/guest/hostile-sbi.c) on 8 harts -------------------------

test("a hostile S-mode guest calls the SBI with hostile arguments: each is refused, every hart starts, a fetch past RAM ends the VM cleanly", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "moat-hostile-sbi-"));
  try {
    const kernel = bareImage(dir, "hostile-sbi", 64);
    const ctl = join(dir, "ctl.sock");
    const vm = startMoat(
      ["run", "--kernel", kernel, "--cpus", "8", "--memory", "64", "--control", ctl],
      300_000,
      true,
    );
    let exited = false;
    void vm.done.then(() => (exited = true));
    try {
      await until(
        () => vm.out().includes("SBI HOSTILE DONE") || exited,
        "the hostile SBI program",
        240_000,
      );
      const out = vm.out();
      assert.ok(!exited, `the VM ended early:\n${out}\n${vm.err()}`);
      // The boot hart's first HSM calls, before any other hart ran: each one STOPPED.
      for (let h = 1; h < 8; h++)
        assert.match(out, new RegExp(`SBI STATUS hart=${h} value=1 error=0`), out);
      // Every attack, three times, answered with its error and no hart left STOPPED.
      const attacks = [...out.matchAll(/SBI ATTACK name=(\S+) runs=(\d+) ok=(\d+)/g)];
      assert.ok(attacks.length >= 25, out);
      for (const [, name, runs, ok] of attacks) assert.equal(ok, runs, `${name}:\n${out}`);
      // Then every hart starts (hart 7 at RAM's last halfword), runs and stops again.
      for (let h = 1; h < 8; h++) assert.match(out, new RegExp(`SBI START hart=${h} error=0\n`));
      assert.match(out, /SBI STARTED ran=7 opaque-ok=7 stopped-again=7/);
      const done = /SBI HOSTILE DONE attacks=(\d+) ok=(\d+) started=7/.exec(out);
      assert.ok(done && done[1] === done[2], out);
      // The VMM is alive and answers.
      const [status] = await control(ctl, [{ op: "status" }]);
      assert.equal((status as { ok: boolean }).ok, true);
      // A hart started where its first (32-bit) instruction crosses RAM's end: an instruction
      // access fault, then (stvec 0) a trap loop, which ends the VM with the guest's own fault,
      // never an error of the CPU core.
      vm.p.stdin!.write("g");
      assert.equal(await vm.done, 125, vm.err());
      assert.match(vm.out(), /SBI CROSSING/);
      assert.match(
        vm.err(),
        /hart 1: stuck in a trap loop at pc 0x0, cause 1 \(instruction access fault\)/,
      );
      assert.doesNotMatch(vm.err(), /internal error/);
      t.diagnostic(`hostile SBI guest: ${done[1]} attacks refused, 7 harts started`);
    } finally {
      vm.p.kill("SIGKILL");
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
  // The whole line: the console may deliver it in pieces.
  await until(() => /VSOCK RELEASED go=\d+\r?\n/.test(vm.out()), "the guest letting go");
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
