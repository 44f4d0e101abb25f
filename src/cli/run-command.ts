// `moat run`: boot a VM, run one command in it (or a shell), exit with its status.
import { readFileSync, statSync } from "node:fs";
import { softAccelerator } from "../accel/soft/soft-accel.js";
import { Riscv64Vm } from "../vmm/riscv64-vm.js";
import { X86Vm } from "../vmm/x86_64-vm.js";
import { DiskError } from "../vmm/disk-file.js";
import { VmDevices } from "../vmm/vm-devices.js";
import { TapError } from "../sys/tap.js";
import { ConsoleSocketError } from "../vmm/console-socket.js";
import { HostConsole } from "../vmm/host-console.js";
import { commandArchive } from "../boot/initramfs.js";
import { DEBIAN_OPENSBI, DEFAULT_CMDLINE, shippedInitrd, shippedKernel } from "./shipped-guest.js";
import { detectKvm, kvmKind, type KvmKind } from "./kvm-probe.js";
import { UsageError } from "./usage-error.js";
import { parseDiskSpecs, parseNetSpecs, parseVsockSpec } from "./device-options.js";
import { VsockError } from "../vmm/vsock-unix.js";
import { ControlSocket, ControlSocketError } from "../vmm/control-socket.js";

export { UsageError };

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
  net?: string[];
  vsock?: string;
  balloon?: boolean;
  control?: string;
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

  let devices: VmDevices;
  try {
    devices = await VmDevices.open({
      disks: parseDiskSpecs(o.disk ?? []),
      nets: parseNetSpecs(o.net ?? []),
      ...(o.vconsole !== undefined ? { vconsole: o.vconsole } : {}),
      rng: o.rng === true,
      ...(o.vsock !== undefined ? { vsock: parseVsockSpec(o.vsock) } : {}),
      ...(o.balloon ? { balloon: { ramBytes: memoryMiB * 1024 * 1024 } } : {}),
    });
  } catch (e) {
    if (
      e instanceof DiskError ||
      e instanceof TapError ||
      e instanceof ConsoleSocketError ||
      e instanceof VsockError
    )
      throw new UsageError(e.message);
    throw e;
  }
  const virtio = devices.virtio;
  let control: ControlSocket | undefined;
  if (o.control !== undefined) {
    try {
      control = await ControlSocket.listen(o.control, devices);
    } catch (e) {
      await control?.close();
      await devices.close();
      if (e instanceof ControlSocketError) throw new UsageError(e.message);
      throw e;
    }
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
  if (control) control.vm = vm;
  const started = performance.now();
  const exit = await vm.run();
  con.detach();
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  await con.drain();
  await control?.close();
  await devices.close();
  for (const net of devices.nets) {
    const c = net.counters;
    if (c.txSpoofed > 0)
      process.stderr.write(
        `moat: ${net.name}: ${c.txSpoofed} frames with a spoofed source MAC dropped\n`,
      );
  }
  if (devices.vsock && devices.vsock.rejected > 0)
    process.stderr.write(`moat: virtio-vsock: ${devices.vsock.rejected} guest packets refused\n`);
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
