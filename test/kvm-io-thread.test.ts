// One I/O thread per VM: an x86-64 VM on KVM with a NIC (a TAP device the I/O thread reads
// when the guest has room) and a disk (queue notifies arriving through ioeventfds, interrupts
// re-asserted on irqfd resamples, all watched by the I/O thread) runs one epoll thread for
// both, `moat-io`. The VM is followed to the kernel's "Run /init" (its drivers have probed the
// NIC and scanned the disk over that thread by then), counted, and stopped.
// Needs /dev/kvm and root (a TAP device): fails without them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startMoat, until } from "./support/moat-cli.js";
import { kvmKind } from "../src/kvm/kvm-probe.js";
import { IO_THREAD_NAME } from "../src/vmm/io-thread.js";

const LIMIT_MS = 10 * 60_000;

const ip = (...args: string[]): void => {
  const r = spawnSync("ip", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr}`);
};

/** The names of a process's threads. */
function threadNames(pid: number): string[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    try {
      return readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim();
    } catch {
      return ""; // the thread has ended
    }
  });
}

test(
  "an x86-64 VM with a NIC and a disk runs one I/O thread, shared by its TAP device and its eventfds",
  { timeout: LIMIT_MS + 30_000 },
  async () => {
    assert.notEqual(kvmKind(), "none", "this test needs /dev/kvm");
    const tap = `mio${process.pid % 100000}`;
    ip("tuntap", "add", "mode", "tap", "name", tap);
    const dir = mkdtempSync(join(tmpdir(), "moat-io-thread-"));
    const disk = join(dir, "disk.img");
    writeFileSync(disk, "");
    truncateSync(disk, 16 << 20);
    let vm: ReturnType<typeof startMoat> | undefined;
    try {
      const v = startMoat(
        [
          "run",
          "--accel",
          "kvm",
          "--memory",
          "128",
          "--cmdline",
          "console=ttyS0 panic=-1",
          "--disk",
          disk,
          "--net",
          `tap=${tap},mac=02:00:00:00:79:02`,
          "--",
          "sleep",
          "600",
        ],
        LIMIT_MS,
      );
      vm = v;
      await until(
        () => v.out().includes("Run /init as init process") || v.p.exitCode !== null,
        'the kernel\'s "Run /init"',
        LIMIT_MS,
      );
      assert.match(v.out(), /Run \/init as init process/, v.err() + v.out().slice(-3000));
      const names = threadNames(v.p.pid!);
      // The NIC in slot 1 and the disk in slot 0, on their own IO-APIC pins.
      assert.match(v.out(), /virtio-mmio\.0 at 0xd0000000-0xd0000fff, IRQ 16/);
      assert.match(v.out(), /virtio-mmio\.1 at 0xd0001000-0xd0001fff, IRQ 17/);
      assert.match(v.out(), /virtio_blk virtio0: \[vda\]/);
      assert.equal(
        names.filter((n) => n === IO_THREAD_NAME).length,
        1,
        `one ${IO_THREAD_NAME} thread; the VM process's threads: ${names.join(", ")}`,
      );
      v.p.kill("SIGTERM");
      assert.equal(await v.done, 143, v.err());
    } finally {
      vm?.p.kill("SIGKILL");
      ip("link", "del", tap);
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
