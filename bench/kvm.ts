// KVM benchmarks against the peers, measured in the same run (median of N runs each):
//   boot:  the shipped x86-64 guest to the kernel's "Run /init" — moat (`moat run --accel kvm`)
//          vs QEMU (`qemu-system-x86_64 -M microvm -accel kvm`), same vmlinux, initramfs, RAM
//          and command line; also each process's peak RSS (VmHWM) at that point;
//   exits: port-I/O and MMIO exits per second, moat's vCPU worker + VMM thread vs a C loop
//          (bench/c/kvm-exits.c, built here with gcc), same real-mode payload.
//
//   node dist/bench/kvm.js [--runs N] [--exits-only]
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { kvmAccelerator } from "../src/accel/kvm/kvm-accel.js";
import { shippedInitrd, shippedKernel } from "../src/boot/shipped-guest.js";
import { kvmKind } from "../src/kvm/kvm-probe.js";
import { composeCmdline, templateArgs } from "../src/arch/x86_64/cmdline.js";

const MOAT = fileURLToPath(new URL("../../bin/moat.js", import.meta.url));
const C_SOURCE = fileURLToPath(new URL("../../bench/c/kvm-exits.c", import.meta.url));
const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const RUNS = Number(arg("--runs") ?? 3);
const EXITS_ONLY = process.argv.includes("--exits-only");
const MEMORY_MIB = 128;
const USER_CMDLINE = "console=ttyS0";
const MARKER = "Run /init as init process";
const EXITS = 200_000;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

interface BootSample {
  ms: number;
  hwmKiB: number;
}

/** Spawns a VMM, waits for the marker on its console, samples its peak RSS, kills it. */
function bootToMarker(cmd: string, args: string[]): Promise<BootSample> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let sample: BootSample | undefined;
    const onData = (d: string): void => {
      out += d;
      if (!sample && out.includes(MARKER)) {
        const status = readFileSync(`/proc/${p.pid}/status`, "utf8");
        const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
        sample = { ms: performance.now() - t0, hwmKiB: hwm ? Number(hwm[1]) : NaN };
        p.kill("SIGKILL");
      }
    };
    p.stdout.setEncoding("latin1").on("data", onData);
    p.stderr.setEncoding("latin1").on("data", onData);
    const timer = setTimeout(() => p.kill("SIGKILL"), 600_000);
    p.on("error", reject);
    p.on("close", () => {
      clearTimeout(timer);
      if (sample) resolve(sample);
      else reject(new Error(`${cmd}: no "${MARKER}":\n${out.slice(-2000)}`));
    });
  });
}

async function bootBench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "moat-kvm-bench-"));
  try {
    const vmlinux = join(dir, "vmlinux");
    const initrd = join(dir, "initramfs.cpio");
    writeFileSync(vmlinux, shippedKernel("x86_64"));
    writeFileSync(initrd, shippedInitrd("x86_64"));
    // QEMU gets exactly the command line moat gives the kernel.
    const template = kvmKind() === "pvm" ? "pvm" : "default";
    const cmdline = composeCmdline(USER_CMDLINE, templateArgs(template));
    const moatArgs = [
      MOAT,
      "run",
      "--accel",
      "kvm",
      "--memory",
      `${MEMORY_MIB}`,
      "--cmdline",
      USER_CMDLINE,
      "--",
      "true",
    ];
    const qemuArgs = [
      "-M",
      "microvm,acpi=off",
      "-accel",
      "kvm",
      "-cpu",
      "host",
      "-m",
      `${MEMORY_MIB}`,
      "-smp",
      "1",
      "-kernel",
      vmlinux,
      "-initrd",
      initrd,
      "-append",
      cmdline,
      "-nodefaults",
      "-no-user-config",
      "-display",
      "none",
      "-serial",
      "stdio",
      "-no-reboot",
    ];
    const moat: BootSample[] = [];
    const qemu: BootSample[] = [];
    for (let i = 0; i < RUNS; i++) {
      // Interleaved, so that the shared machine's load falls on both alike.
      moat.push(await bootToMarker(process.execPath, moatArgs));
      qemu.push(await bootToMarker("qemu-system-x86_64", qemuArgs));
      process.stderr.write(
        `run ${i + 1}: moat ${(moat[i]!.ms / 1000).toFixed(1)} s, qemu ${(qemu[i]!.ms / 1000).toFixed(1)} s\n`,
      );
    }
    const mMs = median(moat.map((s) => s.ms));
    const qMs = median(qemu.map((s) => s.ms));
    const mRss = median(moat.map((s) => s.hwmKiB)) / 1024;
    const qRss = median(qemu.map((s) => s.hwmKiB)) / 1024;
    console.log(
      `host /dev/kvm: ${kvmKind()}; ${RUNS} runs each; guest RAM ${MEMORY_MIB} MiB; cmdline: ${cmdline}`,
    );
    console.log(
      `boot to "${MARKER}": moat ${(mMs / 1000).toFixed(1)} s, QEMU microvm ${(qMs / 1000).toFixed(1)} s, ratio ${(mMs / qMs).toFixed(2)}`,
    );
    console.log(
      `peak RSS at that point: moat ${mRss.toFixed(0)} MiB, QEMU ${qRss.toFixed(0)} MiB, ratio ${(mRss / qRss).toFixed(2)}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Real-mode payloads: N port writes (out 0x80) or N MMIO writes (to 0x20000, outside RAM).
function pioPayload(n: number): Uint8Array {
  const b = Buffer.from([0x66, 0xb9, 0, 0, 0, 0, 0xe6, 0x80, 0x66, 0x49, 0x75, 0xfa, 0xf4]);
  b.writeUInt32LE(n, 2);
  return b;
}
function mmioPayload(n: number): Uint8Array {
  const b = Buffer.from([
    0xb8, 0x00, 0x20, 0x8e, 0xd8, 0x66, 0xb9, 0, 0, 0, 0, 0xa2, 0x00, 0x00, 0x66, 0x49, 0x75, 0xf9,
    0xf4,
  ]);
  b.writeUInt32LE(n, 7);
  return b;
}

/** moat: the payload on a KVM vCPU worker; every exit is served by the VMM thread. */
async function moatExits(payload: Uint8Array): Promise<number> {
  const vm = await kvmAccelerator.createVm({
    vcpus: 1,
    ramBase: 0n,
    ramBytes: 0x1_0000,
    irqchip: false,
  });
  vm.memory.write(0n, payload);
  vm.vcpus[0]!.editSregs((s) => {
    s.writeBigUInt64LE(0n, 0); // cs.base
    s.writeUInt16LE(0, 12); // cs.selector
  });
  vm.vcpus[0]!.setRegs({ rip: 0n, rflags: 2n });
  let exits = 0;
  const t0 = performance.now();
  await new Promise<void>((resolve) =>
    vm.start({
      pioRead: () => 0,
      pioWrite: () => (exits++, true),
      mmioRead: () => 0n,
      mmioWrite: () => (exits++, true),
      vcpuHalted: () => resolve(),
    }),
  );
  const s = (performance.now() - t0) / 1000;
  await vm.stop();
  if (exits !== EXITS) throw new Error(`moat saw ${exits} exits, not ${EXITS}`);
  return exits / s;
}

function cExits(bin: string, payload: Uint8Array, dir: string): number {
  const f = join(dir, "payload.bin");
  writeFileSync(f, payload);
  const r = spawnSync(bin, [f], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`kvm-exits: ${r.stderr}`);
  const [exits, ns] = r.stdout.trim().split(" ").map(Number) as [number, number];
  if (exits !== EXITS) throw new Error(`C saw ${exits} exits, not ${EXITS}`);
  return exits / (ns / 1e9);
}

async function exitBench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "moat-exits-"));
  try {
    const bin = join(dir, "kvm-exits");
    const cc = spawnSync("gcc", ["-O2", "-o", bin, C_SOURCE], { encoding: "utf8" });
    if (cc.status !== 0) throw new Error(`gcc: ${cc.stderr}`);
    for (const [kind, payload] of [
      ["PIO", pioPayload(EXITS)],
      ["MMIO", mmioPayload(EXITS)],
    ] as const) {
      const m: number[] = [];
      const c: number[] = [];
      for (let i = 0; i < Math.max(RUNS, 3); i++) {
        m.push(await moatExits(payload));
        c.push(cExits(bin, payload, dir));
      }
      const mm = median(m);
      const cm = median(c);
      console.log(
        `${kind} exits/s (${EXITS} per run): moat ${mm.toFixed(0)} (${(1e6 / mm).toFixed(1)} us each), ` +
          `C ${cm.toFixed(0)} (${(1e6 / cm).toFixed(1)} us), ratio ${(mm / cm).toFixed(2)}`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await exitBench();
if (!EXITS_ONLY) await bootBench();
