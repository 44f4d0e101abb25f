// `moat run`: boot a VM, run one command in it (or a shell), exit with its status.
import { readFileSync, statSync } from "node:fs";
import { softAccelerator } from "../accel/soft/soft-accel.js";
import { Riscv64Vm } from "../vmm/riscv64-vm.js";
import { X86Vm } from "../vmm/x86_64-vm.js";
import { DiskError, DiskFile } from "../vmm/disk-file.js";
import { VirtioBlk } from "../devices/virtio/blk.js";
import { basename } from "node:path";
import { randomFillSync } from "node:crypto";
import { VirtioRng } from "../devices/virtio/rng.js";
import type { VirtioDevice } from "../devices/virtio/device.js";
import { TokenBucket } from "../devices/rate-limiter.js";
import { VirtioConsole } from "../devices/virtio/console.js";
import { ConsoleSocket, ConsoleSocketError } from "../vmm/console-socket.js";
import { HostConsole } from "../vmm/host-console.js";
import { commandArchive } from "../boot/initramfs.js";
import { DEBIAN_OPENSBI, DEFAULT_CMDLINE, shippedInitrd, shippedKernel } from "./shipped-guest.js";
import { detectKvm, kvmKind, type KvmKind } from "./kvm-probe.js";

export class UsageError extends Error {}

/** Exit status for moat's own failures (bad arguments, a VM that cannot boot), as docker uses. */
export const EXIT_MOAT_ERROR = 125;

export interface RunOptions {
  accel: string;
  kernel?: string;
  initrd?: string;
  cmdline?: string;
  cpus: string;
  memory: string;
  bios: string;
  timing?: boolean;
  disk?: string[];
  rng?: boolean;
  vconsole?: string;
}

/** The entropy device's bound: bytes per second, and the burst a guest may take at once. */
const RNG_BYTES_PER_SECOND = 1024 * 1024;
const RNG_BURST_BYTES = 64 * 1024;

/** A `--disk PATH[,ro][,bps=N][,iops=N]` option. */
export interface DiskSpec {
  path: string;
  readOnly: boolean;
  /** Rate limits: data bytes per second, requests per second. */
  bytesPerSecond?: number;
  opsPerSecond?: number;
}

/** A positive whole number with an optional K, M or G (powers of 1024). Bound: below 2^50. */
function parseAmount(v: string, what: string): number {
  const m = /^(\d+)([KMG]?)$/i.exec(v);
  const n = m ? Number(m[1]) * 1024 ** "_KMG".indexOf((m[2] || "_").toUpperCase()) : NaN;
  if (!m || !(n >= 1) || n >= 2 ** 50) {
    throw new UsageError(`${what} wants a positive whole number (K, M, G allowed), not '${v}'`);
  }
  return n;
}

/** Parses `--disk` values. Bound: at most 8 disks (the virtio-mmio slots). */
export function parseDiskSpecs(values: string[]): DiskSpec[] {
  if (values.length > 8) throw new UsageError(`at most 8 --disk options, not ${values.length}`);
  return values.map((v) => {
    const parts = v.split(",");
    const path = parts[0]!;
    if (path === "") throw new UsageError(`--disk '${v}': no file name`);
    const spec: DiskSpec = { path, readOnly: false };
    for (const opt of parts.slice(1)) {
      if (opt === "ro") spec.readOnly = true;
      else if (opt === "rw") spec.readOnly = false;
      else if (opt.startsWith("bps="))
        spec.bytesPerSecond = parseAmount(opt.slice(4), `--disk '${v}': bps`);
      else if (opt.startsWith("iops="))
        spec.opsPerSecond = parseAmount(opt.slice(5), `--disk '${v}': iops`);
      else throw new UsageError(`--disk '${v}': unknown option '${opt}' (ro, rw, bps=N, iops=N)`);
    }
    return spec;
  });
}

/** Bound: files read for the VM must be regular files no larger than this. */
const MAX_FILE_BYTES = 512 * 1024 * 1024;

function readImage(path: string, what: string): Uint8Array {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    throw new UsageError(
      `${what} ${path}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`,
    );
  }
  if (!st.isFile()) throw new UsageError(`${what} ${path}: not a regular file`);
  if (st.size === 0) throw new UsageError(`${what} ${path}: empty file`);
  if (st.size > MAX_FILE_BYTES)
    throw new UsageError(`${what} ${path}: larger than ${MAX_FILE_BYTES >> 20} MiB`);
  return readFileSync(path);
}

export function parseIntOption(v: string, name: string, min: number, max: number): number {
  if (!/^\d+$/.test(v)) throw new UsageError(`--${name} wants a whole number, not '${v}'`);
  const n = Number(v);
  if (n < min || n > max)
    throw new UsageError(`--${name} must be between ${min} and ${max}, not ${n}`);
  return n;
}

/**
 * soft: the riscv64 guest on moat's CPU. kvm: the x86-64 guest on /dev/kvm. auto: KVM where the
 * host has hardware virtualisation; the soft CPU where it has none or only PVM-nested KVM
 * (there a Linux guest takes minutes to boot and its userspace cannot make system calls).
 */
function chooseAccel(name: string, kind: KvmKind): "soft" | "kvm" {
  switch (name) {
    case "soft":
      return "soft";
    case "auto":
      return kind === "hardware" ? "kvm" : "soft";
    case "kvm": {
      if (kind === "none") throw new UsageError("--accel kvm: this host has no /dev/kvm");
      if (kind === "pvm") {
        process.stderr.write(
          `moat: /dev/kvm here is ${detectKvm()}; using the "pvm" CPU template. ` +
            `Guest userspace cannot run on PVM: expect the kernel to stop after "Run /init".\n`,
        );
      }
      return "kvm";
    }
    default:
      throw new UsageError(`--accel must be soft, kvm or auto, not '${name}'`);
  }
}

/** Runs the VM; resolves to the process exit status. */
export async function runCommand(argv: string[], o: RunOptions): Promise<number> {
  const hostKvm = kvmKind();
  const accel = chooseAccel(o.accel, hostKvm);
  const arch = accel === "kvm" ? "x86_64" : "riscv64";
  const cpus = parseIntOption(o.cpus, "cpus", 1, 8);
  const memoryMiB = parseIntOption(o.memory, "memory", 32, arch === "x86_64" ? 3072 : 4000);
  const kernelName = o.kernel ?? "the shipped kernel";
  const kernel = o.kernel ? readImage(o.kernel, "kernel") : shippedKernel(arch);
  // The shipped initramfs goes with the shipped kernel only.
  let initrd = o.initrd
    ? readImage(o.initrd, "initrd")
    : o.kernel
      ? undefined
      : shippedInitrd(arch);
  let firmware: Uint8Array | undefined;
  if (arch === "x86_64" && o.bios !== "builtin") {
    throw new UsageError("--bios is for riscv64 guests (--accel soft)");
  } else if (o.bios === "opensbi")
    firmware = readImage(DEBIAN_OPENSBI, "OpenSBI firmware (apt-get install opensbi)");
  else if (o.bios !== "builtin") firmware = readImage(o.bios, "firmware");

  const diskSpecs = parseDiskSpecs(o.disk ?? []);
  const disks: DiskFile[] = [];
  try {
    for (const d of diskSpecs) disks.push(await DiskFile.open(d.path, d.readOnly));
  } catch (e) {
    await Promise.all(disks.map((d) => d.close()));
    if (e instanceof DiskError) throw new UsageError(e.message);
    throw e;
  }
  const virtio: VirtioDevice[] = disks.map((d, i) => {
    const spec = diskSpecs[i]!;
    // Each limit's bucket holds one second's worth: bursts up to the rate, then the rate.
    const bucket = (rate?: number): TokenBucket | undefined =>
      rate === undefined ? undefined : new TokenBucket(rate, rate);
    const limits = { bytes: bucket(spec.bytesPerSecond), ops: bucket(spec.opsPerSecond) };
    return new VirtioBlk(
      `virtio-blk vd${String.fromCharCode(97 + i)}`,
      d,
      basename(d.path),
      limits,
    );
  });
  let vcon: ConsoleSocket | undefined;
  if (o.vconsole !== undefined) {
    try {
      vcon = await ConsoleSocket.listen(o.vconsole);
    } catch (e) {
      await Promise.all(disks.map((d) => d.close()));
      if (e instanceof ConsoleSocketError) throw new UsageError(e.message);
      throw e;
    }
    const socket = vcon;
    const device = new VirtioConsole("virtio-console", (b) => socket.write(b));
    socket.target = device;
    virtio.push(device);
  }
  if (o.rng) {
    const bucket = new TokenBucket(RNG_BYTES_PER_SECOND, RNG_BURST_BYTES);
    virtio.push(new VirtioRng("virtio-rng", bucket, (b) => randomFillSync(b)));
  }
  const con = new HostConsole();
  if (argv.length > 0) {
    const extra = commandArchive({
      argv,
      pipedInput: !process.stdin.isTTY,
      pipedOutput: !process.stdout.isTTY,
    });
    const base = initrd ?? new Uint8Array(0);
    const padded = new Uint8Array(Math.ceil(base.length / 4) * 4 + extra.length);
    padded.set(base, 0);
    padded.set(extra, padded.length - extra.length);
    initrd = padded;
  }
  const common = {
    memoryMiB,
    holdInputUntilReady: argv.length > 0,
    output: (b: Uint8Array) => con.write(b),
  };
  const cmdline = o.cmdline ?? DEFAULT_CMDLINE;
  const vm =
    arch === "x86_64"
      ? await X86Vm.create({
          ...common,
          vcpus: cpus,
          kernel: { image: kernel, name: kernelName, cmdline, ...(initrd ? { initrd } : {}) },
          cpuTemplate: hostKvm === "pvm" ? "pvm" : "default",
          virtio,
        })
      : await Riscv64Vm.create({
          accel: softAccelerator,
          harts: cpus,
          kernel,
          kernelName,
          ...(initrd ? { initrd } : {}),
          cmdline,
          ...(firmware ? { firmware } : {}),
          virtio,
          ...common,
        });
  const onSignal = (sig: NodeJS.Signals): void =>
    vm.stop(sig === "SIGINT" ? 130 : 143, `stopped by ${sig}`);
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  con.attach(vm);
  const started = performance.now();
  const exit = await vm.run();
  con.detach();
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  await con.drain();
  await Promise.all(disks.map((d) => d.close()));
  await vcon?.close();
  if (con.droppedBytes > 0) {
    process.stderr.write(
      `moat: ${con.droppedBytes} bytes of guest output dropped (stdout too slow)\n`,
    );
  }
  if (exit.reason === "halt" || exit.reason === "panic") {
    process.stderr.write(`moat: ${exit.detail}\n`);
  } else if (exit.reason === "reset" && argv.length > 0) {
    // The x86-64 machine has no pvpanic (it needs ACPI): a panicking kernel restarts, and
    // this is all moat can tell.
    process.stderr.write(
      "moat: the guest restarted before its command reported a status (a reboot in the guest, or a kernel panic)\n",
    );
  }
  if (o.timing) {
    const total = performance.now();
    const mark =
      exit.bootMarkMs !== undefined ? `${exit.bootMarkMs.toFixed(0)} ms` : "never signalled";
    process.stderr.write(
      `moat: userspace started at ${mark}; VM ran ${(total - started).toFixed(0)} ms; ` +
        `${exit.instructions ?? 0n} instructions; process time ${total.toFixed(0)} ms\n`,
    );
  }
  return exit.status;
}
