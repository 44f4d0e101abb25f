// The one Linux boot on KVM: the shipped x86-64 guest (guest/x86_64) through the real CLI,
// `moat run --accel kvm`. On a PVM-nested host (ours, DESIGN.md) guest kernel code is largely
// emulated, guest userspace cannot make system calls and a secondary CPU does not come up
// (docs/kvm.md), so there the boot has one vCPU and is followed to the kernel's "Run /init"
// (about 1.5 minutes here), then the VM is stopped; on a host with hardware virtualisation it
// has two vCPUs and the guest's command runs and its output and status come back.
// Needs /dev/kvm: fails without it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MOAT, REPO } from "./support/moat-cli.js";
import { kvmKind } from "../src/kvm/kvm-probe.js";

const LIMIT_MS = 10 * 60_000;

test(
  "moat run --accel kvm boots the shipped x86-64 Linux to Run /init (to its command where the host allows)",
  { timeout: LIMIT_MS + 30_000 },
  async () => {
    const pvm = kvmKind() === "pvm";
    const cpus = pvm ? 1 : 2;
    // A 16 MiB disk: virtio-blk over virtio-mmio announced on the command line, its
    // interrupt on a level-triggered IO-APIC pin (the kernel reads the partition table).
    const dir = mkdtempSync(join(tmpdir(), "moat-kvm-boot-"));
    const disk = join(dir, "disk.img");
    writeFileSync(disk, "");
    truncateSync(disk, 16 << 20);
    assert.notEqual(kvmKind(), "none", "this test needs /dev/kvm");
    const p = spawn(
      process.execPath,
      [
        MOAT,
        "run",
        "--accel",
        "kvm",
        "--cpus",
        `${cpus}`,
        "--memory",
        "128",
        "--cmdline",
        "console=ttyS0 panic=-1",
        "--disk",
        disk,
        "--",
        "uname",
        "-m",
      ],
      { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    const started = performance.now();
    let initAt = 0;
    let clockLineAt = 0; // host seconds when the kernel said it set its clock from the RTC
    p.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    p.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      if (!clockLineAt && /setting system clock to .* UTC \(\d+\)/.test(stdout)) {
        clockLineAt = Date.now() / 1000;
      }
      if (!initAt && stdout.includes("Run /init as init process")) {
        initAt = performance.now();
        // PVM: userspace cannot run; the kernel reached the end of its boot.
        if (pvm) p.kill("SIGTERM");
      }
    });
    const timer = setTimeout(() => p.kill("SIGKILL"), LIMIT_MS);
    const [status] = await new Promise<[number | null]>((r) => p.on("close", (s) => r([s])));
    clearTimeout(timer);
    const tail = stdout.slice(-3000);
    assert.ok(initAt > 0, `no "Run /init" within ${LIMIT_MS / 1000} s; stderr: ${stderr}\n${tail}`);
    process.stderr.write(`# reached Run /init after ${((initAt - started) / 1000).toFixed(1)} s\n`);
    // The kernel found what moat described: the CPUs (MP table), the IO-APIC, the e820 map, COM1.
    assert.match(stdout, /MPTABLE: OEM ID: MOAT/);
    assert.match(stdout, new RegExp(`smp: Brought up 1 node, ${cpus} CPUs?\\r?\\n`));
    assert.match(
      stdout,
      new RegExp(`IOAPIC\\[0\\]: apic_id ${cpus}, version 17, address 0xfec00000, GSI 0-23`),
    );
    assert.match(stdout, /BIOS-e820: \[mem 0x0000000000100000-0x0000000007ffffff\] usable/);
    assert.match(stdout, /ttyS0 at I\/O 0x3f8 \(irq = 4/);
    assert.match(stdout, /Unpacking initramfs/);
    assert.match(
      stdout,
      /virtio-mmio: Registering device virtio-mmio\.0 at 0xd0000000-0xd0000fff, IRQ 16/,
    );
    assert.match(stdout, /virtio_blk virtio0: \[vda\] 32768 512-byte logical blocks/);
    // The machine's power button in its own slot, on its level-triggered ISA pin (5).
    assert.match(
      stdout,
      /virtio-mmio: Registering device virtio-mmio\.1 at 0xd0008000-0xd0008fff, IRQ 5/,
    );
    assert.match(
      stdout,
      /input: moat power button as \/devices\/virtio-mmio-cmdline\/virtio-mmio\.1\//,
    );
    // The CMOS RTC: rtc_cmos finds it at ports 0x70/0x71 and the kernel sets its clock from it;
    // the time it read is the host's (within the time the line took to arrive).
    const clock = /rtc_cmos rtc_cmos: setting system clock to \S+ UTC \((\d+)\)/.exec(stdout);
    assert.ok(clock, "no 'setting system clock' line from rtc_cmos");
    const rtc = Number(clock[1]);
    assert.ok(
      rtc >= Math.floor(clockLineAt) - 5 && rtc <= clockLineAt + 1,
      `the RTC read ${rtc}, the host's time was ${clockLineAt.toFixed(1)} when the line arrived`,
    );
    rmSync(dir, { recursive: true, force: true });
    if (pvm) {
      assert.match(stderr, /PVM-nested/);
      assert.equal(status, 143, "stopped by SIGTERM");
    } else {
      assert.equal(status, 0, stderr);
      assert.match(stdout, /x86_64/);
    }
  },
);
