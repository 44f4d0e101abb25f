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
import { startMoat, until } from "./support/moat-cli.js";
import { initrdWith } from "./support/guest-initrd.js";
import { bareImage } from "./support/guest-image.js";
import { control } from "./support/control-client.js";

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
      try {
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
        // to a stopped device adds nothing).
        const logged = (vm.err().match(/the device needs a reset/g) ?? []).length;
        assert.equal(logged, resets, vm.err());
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
      } finally {
        vm.p.kill("SIGKILL");
      }
    } finally {
      clearInterval(watch);
      neighbour.p.kill("SIGKILL");
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
