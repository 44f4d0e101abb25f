// `moat run`: boot a VM, run one command in it (or a shell), exit with its status.
import { VncServer, VncServerError, parseVncAddress } from "../vmm/vnc-server.js";
import { VncPasswordError, readVncPassword } from "../vmm/vnc-auth.js";
import { existsSync, readFileSync, statSync } from "node:fs";
import { softAccel } from "../accel/soft/soft-accel.js";
import { DEFAULT_CPU_TIER, type CpuTier } from "../accel/soft/cpu-tier.js";
import { Riscv64Vm } from "../vmm/riscv64-vm.js";
import { X86Vm } from "../vmm/x86_64-vm.js";
import { DiskError } from "../vmm/disk-file.js";
import { VmDevices } from "../vmm/vm-devices.js";
import { MAX_MODE } from "../devices/virtio/gpu.js";
import { TapError } from "../sys/tap.js";
import { ConsoleSocketError } from "../vmm/console-socket.js";
import { HostConsole } from "../vmm/host-console.js";
import { commandArchive, concatArchives } from "../boot/initramfs.js";
import { withScreenConsole } from "../boot/screen-console.js";
import {
  AGENT_RDINIT,
  DEBIAN_OPENSBI,
  DEFAULT_CMDLINE,
  initrdChoice,
  lacksShippedAgent,
  NO_X86_AGENT,
  shippedAgentOverlay,
  shippedInitrd,
  shippedKernel,
} from "../boot/shipped-guest.js";
import { detectKvm, kvmKind, type KvmKind } from "../kvm/kvm-probe.js";
import { UsageError } from "./usage-error.js";
import { lockDownVmm } from "../jail/seccomp.js";
import { dropPrivileges, parseJailUser } from "../jail/drop.js";
import { parseDiskSpecs, parseNetSpecs, parseVsockSpec } from "./device-options.js";
import { VsockError } from "../vmm/vsock-unix.js";
import { ControlSocket, ControlSocketError } from "../vmm/control-socket.js";
import { ConsoleServer, ConsoleServerError } from "../vmm/console-server.js";
import { ConsoleLog, ConsoleLogError } from "../vmm/console-log.js";
import { ConsoleFanout } from "../vmm/console-fanout.js";
import { ExitFileError, prepareExitFile, writeExitFile } from "../vmm/exit-file.js";
import { allowedCpus, lockGuestRam, mergeGuestRam, pinVcpuThreads } from "../vmm/host-tuning.js";
import type { GuestMemory } from "../memory/guest-memory.js";
import type { VmExit } from "../vmm/vm-exit.js";
import { parseConsoleLog, parseCpuTier, parsePinCpus, parseVmName } from "./vm-options.js";
import { parseAgentOption, parseBalloonOption } from "./device-options.js";
import { resolve } from "node:path";
import { enterJail, parseJailPlan } from "../jail/enter.js";
import { runJailed } from "./run-jailed.js";
import { guestOutputFilter } from "./guest-output.js";
import { MEMORY_MIB_MAX, MEMORY_MIB_MIN, VCPUS_MAX, archOf } from "../vmm/vm-limits.js";
import { EXIT_MOAT_ERROR, EXIT_SIGINT, EXIT_STOPPED } from "../vmm/exit-status.js";

export { UsageError };

/** Exit status for moat's own failures (bad arguments, a VM that cannot boot), as docker uses. */

export interface RunOptions {
  accel: string;
  /** The soft CPU's execution tier (--cpu-tier); absent: DEFAULT_CPU_TIER. */
  cpuTier?: string;
  kernel?: string;
  /** false: --no-initrd. */
  initrd?: string | false;
  /** Every byte of the console to the terminal (--raw-console). */
  rawConsole?: boolean;
  /** Guest RAM locked in host memory, never swapped (--lock-memory). */
  lockMemory?: boolean;
  cmdline?: string;
  cpus: string;
  memory: string;
  bios: string;
  timing?: boolean;
  disk?: string[];
  rng?: boolean;
  /** true: the default mode; "WxH": that mode. */
  display?: boolean | string;
  vnc?: string;
  vncPasswordFile?: string;
  vconsole?: string;
  net?: string[];
  vsock?: string;
  /** true for a bare --balloon; its options otherwise. */
  balloon?: boolean | string;
  /** true for a bare --agent; allow=... otherwise. */
  agent?: boolean | string;
  control?: string;
  name?: string;
  consoleSocket?: string;
  consoleLog?: string;
  exitFile?: string;
  pinCpus?: string;
  ksm?: boolean;
  seccomp?: boolean | string;
  jailUser?: string;
  /** Run the VM in a jail (run-jailed.ts). */
  jail?: boolean;
  /** Set by the launcher only: this process is the jailed VM; the jail's plan as JSON. */
  inJail?: string;
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
function chooseAccel(name: string, kind: KvmKind, quiet = false): "soft" | "kvm" {
  switch (name) {
    case "soft":
      return "soft";
    case "auto":
      return kind === "hardware" ? "kvm" : "soft";
    case "kvm": {
      if (kind === "none") throw new UsageError("--accel kvm: this host has no /dev/kvm");
      if (kind === "pvm" && !quiet) pvmNote();
      return "kvm";
    }
    default:
      throw new UsageError(`--accel must be soft, kvm or auto, not '${name}'`);
  }
}

/** What a guest on PVM-nested KVM can do, said once the command line has been accepted. */
function pvmNote(): void {
  process.stderr.write(
    `moat: /dev/kvm here is ${detectKvm()}; using the "pvm" CPU template. ` +
      `Guest userspace cannot run on PVM: expect the kernel to stop after "Run /init".\n`,
  );
}

/**
 * `--cpu-tier`: a tier of the soft CPU, so refused with an explicit `--accel kvm`, where the
 * host CPU runs the guest's code; `auto` that picks KVM ignores it (as the help says).
 */
function cpuTierOption(o: RunOptions): CpuTier {
  if (o.cpuTier === undefined) return DEFAULT_CPU_TIER;
  const tier = parseCpuTier(o.cpuTier);
  if (o.accel === "kvm")
    throw new UsageError(
      "--cpu-tier is for the soft CPU (--accel soft or auto); KVM runs the guest's code on the " +
        "host CPU: drop one or the other",
    );
  return tier;
}

/**
 * Runs the VM; resolves to the process exit status. With --exit-file, how the VM ended (or why
 * it could not start, once the arguments were read) is also written there before returning.
 */
export async function runCommand(argv: string[], o: RunOptions): Promise<number> {
  // In a jail /dev/kvm and /sys are out of sight: its launcher tells what KVM is here.
  let jailKvm: KvmKind | undefined;
  if (o.inJail !== undefined) {
    try {
      const plan = parseJailPlan(o.inJail);
      jailKvm = plan.kvmKind ?? "none";
      enterJail(plan);
    } catch (e) {
      throw new UsageError(`the jail could not be set up: ${(e as Error).message}`);
    }
  } else if (o.jail) {
    return runJailed({ ...o, accel: chooseAccel(o.accel, kvmKind()) });
  } else if (process.stderr.isTTY) {
    // Said to a person at a terminal; scripts and tests keep a clean stderr (the control
    // socket's status reports "jailed" either way).
    process.stderr.write(
      "moat: this VM runs unjailed (for development); --jail confines it (docs/security.md)\n",
    );
  }
  let exitFile: string | undefined;
  if (o.exitFile !== undefined) {
    try {
      prepareExitFile(o.exitFile);
    } catch (e) {
      if (e instanceof ExitFileError) throw new UsageError(e.message);
      throw e;
    }
    exitFile = o.exitFile;
  }
  let exit: VmExit;
  try {
    exit = await runVm(argv, o, jailKvm);
  } catch (e) {
    if (exitFile) {
      try {
        writeExitFile(exitFile, {
          status: EXIT_MOAT_ERROR,
          reason: "error",
          detail: (e as Error).message,
        });
      } catch (w) {
        process.stderr.write(`moat: --exit-file ${exitFile}: ${(w as Error).message}\n`);
      }
    }
    throw e;
  }
  if (exitFile) {
    try {
      writeExitFile(exitFile, {
        status: exit.status,
        reason: exit.reason,
        detail: exit.detail ?? "",
      });
    } catch (e) {
      process.stderr.write(`moat: --exit-file ${exitFile}: ${(e as Error).message}\n`);
    }
  }
  return exit.status;
}

/** The same socket or file given to two options would have one replace the other. */
function checkDistinctPaths(o: RunOptions, logPath: string | undefined): void {
  const paths: [string, string | undefined][] = [
    ["--control", o.control],
    ["--console-socket", o.consoleSocket],
    ["--console-log", logPath],
    ["--exit-file", o.exitFile],
    ["--vconsole", o.vconsole],
    ["--vsock", o.vsock?.split(",")[0]],
  ];
  const seen = new Map<string, string>();
  for (const [opt, p] of paths) {
    if (p === undefined) continue;
    const full = resolve(p);
    const other = seen.get(full);
    if (other) throw new UsageError(`${other} and ${opt} name the same path ${p}`);
    seen.set(full, opt);
  }
}

async function runVm(argv: string[], o: RunOptions, jailKvm?: KvmKind): Promise<VmExit> {
  const cpuTier = cpuTierOption(o);
  const hostKvm = jailKvm ?? kvmKind();
  // Quiet here: the PVM note waits until the options below are accepted.
  const accel = chooseAccel(o.accel, hostKvm, true);
  const arch = archOf(accel);
  const cpus = parseIntOption(o.cpus, "cpus", 1, VCPUS_MAX);
  const memoryMiB = parseIntOption(o.memory, "memory", MEMORY_MIB_MIN, MEMORY_MIB_MAX[arch]);
  const name = o.name !== undefined ? parseVmName(o.name) : undefined;
  const logSpec = o.consoleLog !== undefined ? parseConsoleLog(o.consoleLog) : undefined;
  const pinCpus = o.pinCpus !== undefined ? parsePinCpus(o.pinCpus, allowedCpus()) : undefined;
  const balloon =
    o.balloon !== undefined && o.balloon !== false ? parseBalloonOption(o.balloon) : undefined;
  const agent = o.agent !== undefined && o.agent !== false ? parseAgentOption(o.agent) : undefined;
  if (o.lockMemory && balloon)
    throw new UsageError("--lock-memory: locked guest RAM cannot be given back; drop --balloon");
  if (o.lockMemory && o.ksm)
    throw new UsageError("--lock-memory: locked guest RAM is not for merging; drop --ksm");
  checkDistinctPaths(o, logSpec?.path);
  let jailUser: { uid: number; gid: number } | undefined;
  if (o.jailUser !== undefined) {
    try {
      jailUser = parseJailUser(o.jailUser);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    if (process.getuid?.() !== 0) throw new UsageError("--jail-user needs moat to start as root");
  }
  const seccomp = o.seccomp === undefined ? undefined : o.seccomp === true ? "kill" : o.seccomp;
  if (seccomp !== undefined && seccomp !== "kill" && seccomp !== "log")
    throw new UsageError(`--seccomp takes nothing or 'log', not '${String(o.seccomp)}'`);
  if (seccomp !== undefined && process.arch !== "x64")
    throw new UsageError("--seccomp: the filter is written for x86-64 hosts");
  // A jail has no /sys: its launcher checked.
  if (o.ksm && jailKvm === undefined && !existsSync("/sys/kernel/mm/ksm"))
    throw new UsageError("--ksm: this kernel has no KSM (/sys/kernel/mm/ksm)");
  const daemonized = o.consoleSocket !== undefined;
  if (daemonized) {
    // Started by a daemon that may be gone: a closed stdout or stderr must not end the VM.
    process.stdout.on("error", () => {});
    process.stderr.on("error", () => {});
  }
  const kernelName = o.kernel ?? "the shipped kernel";
  const kernel = o.kernel ? readImage(o.kernel, "kernel") : shippedKernel(arch);
  // The shipped initramfs goes with the shipped kernel only.
  if (o.initrd === false && argv.length > 0)
    throw new UsageError(
      "--no-initrd: a guest command runs from the shipped initramfs; drop one or the other",
    );
  const initrdFrom = initrdChoice(o);
  // With an agent, the shipped riscv64 guest gets its agent overlay; there is none for x86-64.
  if (agent && lacksShippedAgent(arch, initrdFrom))
    throw new UsageError(
      `--agent: ${NO_X86_AGENT}; with your own --kernel and --initrd, --agent adds the ` +
        "channel for the qemu-guest-agent your guest runs (docs/agent.md)",
    );
  const agentOverlay = agent !== undefined && initrdFrom === "shipped";
  let initrd =
    initrdFrom === "own"
      ? readImage(o.initrd as string, "initrd")
      : initrdFrom === "none"
        ? undefined
        : agentOverlay
          ? concatArchives([shippedInitrd(arch), shippedAgentOverlay()])
          : shippedInitrd(arch);
  let firmware: Uint8Array | undefined;
  if (arch === "x86_64" && o.bios !== "builtin") {
    throw new UsageError("--bios is for riscv64 guests (--accel soft)");
  } else if (o.bios === "opensbi")
    firmware = readImage(DEBIAN_OPENSBI, "OpenSBI firmware (apt-get install opensbi)");
  else if (o.bios !== "builtin") firmware = readImage(o.bios, "firmware");

  // Everything opened from here on is closed again, newest first, however the run ends.
  if (accel === "kvm" && hostKvm === "pvm" && jailKvm === undefined) pvmNote();
  const closers: (() => Promise<void> | void)[] = [];
  const closeAll = async (): Promise<void> => {
    for (const c of closers.splice(0).reverse()) await c();
  };
  try {
    let devices: VmDevices;
    let server: ConsoleServer | undefined;
    let log: ConsoleLog | undefined;
    try {
      devices = await VmDevices.open({
        disks: parseDiskSpecs(o.disk ?? []),
        nets: parseNetSpecs(o.net ?? []),
        ...(o.vconsole !== undefined ? { vconsole: o.vconsole } : {}),
        rng: o.rng === true,
        ...(o.display !== undefined ? { display: parseDisplayMode(o.display) } : {}),
        ...(o.vsock !== undefined ? { vsock: parseVsockSpec(o.vsock) } : {}),
        ...(balloon ? { balloon: { ramBytes: memoryMiB * 1024 * 1024, ...balloon } } : {}),
        ...(agent ? { agent } : {}),
      });
      closers.push(() => devices.close());
      if (o.consoleSocket !== undefined) {
        const s = await ConsoleServer.listen(o.consoleSocket);
        server = s;
        closers.push(() => s.close());
      }
      if (o.vncPasswordFile !== undefined && o.vnc === undefined)
        throw new UsageError("--vnc-password-file is for --vnc: add it");
      if (o.vnc !== undefined) {
        const gpu = devices.gpu;
        const keyboard = devices.keyboard;
        const tablet = devices.tablet;
        if (!gpu || !keyboard || !tablet)
          throw new UsageError("--vnc serves a display: add --display");
        const v = await VncServer.listen(
          parseVncAddress(o.vnc),
          { gpu, keyboard, tablet },
          o.vncPasswordFile !== undefined ? { password: readVncPassword(o.vncPasswordFile) } : {},
        );
        devices.displayFlushed.add((r) => v.flushed(r));
        closers.push(() => v.close());
      }
      if (logSpec) {
        const l = await ConsoleLog.open(logSpec, (m) => process.stderr.write(`moat: ${m}\n`));
        log = l;
        closers.push(() => l.close());
      }
    } catch (e) {
      if (
        e instanceof DiskError ||
        e instanceof TapError ||
        e instanceof ConsoleSocketError ||
        e instanceof VsockError ||
        e instanceof ConsoleServerError ||
        e instanceof VncServerError ||
        e instanceof VncPasswordError ||
        e instanceof ConsoleLogError
      )
        throw new UsageError(e.message);
      throw e;
    }
    const virtio = devices.virtio;
    // The terminal only when no console socket takes its place: a daemon's VM has no TTY and
    // must not read stdin.
    const con = server
      ? undefined
      : new HostConsole(
          process.stdin,
          process.stdout,
          guestOutputFilter(process.stdout, "interactive", o.rawConsole),
        );
    const consumers: ((b: Uint8Array) => void)[] = [];
    if (server) consumers.push((b) => server.write(b));
    if (con) consumers.push((b) => con.write(b));
    if (log) consumers.push((b) => log.write(b));
    const fanout = consumers.length > 1 || server ? new ConsoleFanout(consumers) : undefined;
    const output = fanout ? (b: Uint8Array) => fanout.write(b) : (b: Uint8Array) => con!.write(b);
    const consoleDropped = (): number =>
      (con?.droppedBytes ?? 0) + (server?.dropped ?? 0) + (log?.dropped ?? 0);

    let control: ControlSocket | undefined;
    if (o.control !== undefined) {
      try {
        control = await ControlSocket.listen(o.control, devices, {
          ...(name !== undefined ? { name } : {}),
          accel,
          ...(accel === "soft" ? { cpuTier } : {}),
          cpus,
          memoryMiB,
          ksm: o.ksm === true,
          memoryLocked: o.lockMemory === true,
          seccomp: seccomp ?? "off",
          jailed: o.inJail !== undefined,
          ...(jailUser ? { uid: jailUser.uid } : {}),
          consoleDropped,
          ...(server ? { consoleClients: () => server.clientCount } : {}),
          marksBoot: initrdFrom === "shipped",
        });
      } catch (e) {
        if (e instanceof ControlSocketError) throw new UsageError(e.message);
        throw e;
      }
      const c = control;
      closers.push(() => c.close());
    }
    if (argv.length > 0) {
      // A console socket's client is a terminal somewhere: the guest echoes and writes \r\n.
      const extra = commandArchive({
        argv,
        pipedInput: server ? false : !process.stdin.isTTY,
        pipedOutput: server ? false : !process.stdout.isTTY,
      });
      initrd = concatArchives(initrd ? [initrd, extra] : [extra]);
    }
    const common = {
      memoryMiB,
      holdInputUntilReady: argv.length > 0,
      output,
    };
    // With a display, the kernel's console is on the screen too (the serial one stays
    // /dev/console); /init puts a shell there (docs/guest.md).
    const userCmdline = o.cmdline ?? DEFAULT_CMDLINE;
    const screenCmdline = o.display !== undefined ? withScreenConsole(userCmdline) : userCmdline;
    const cmdline = (agentOverlay ? `${AGENT_RDINIT} ` : "") + screenCmdline;
    // Once guest RAM exists and before any boot file is parsed: RAM is locked (as root, whose
    // CAP_IPC_LOCK no memlock limit binds) and the uid dropped, so kernel, initrd and firmware
    // (a tenant's files) are parsed by a process that is no longer root.
    const afterAllocate = (avm: { memory: GuestMemory }): void => {
      if (o.lockMemory) {
        try {
          lockGuestRam(avm.memory);
        } catch (e) {
          throw new UsageError(
            `--lock-memory: ${(e as Error).message} (the memlock limit, ulimit -l, must hold ` +
              "the guest's RAM, or moat must start as root)",
          );
        }
      }
      if (jailUser) {
        try {
          dropPrivileges(jailUser.uid, jailUser.gid, { jailed: jailKvm !== undefined });
        } catch (e) {
          throw new UsageError(`--jail-user: ${(e as Error).message}`);
        }
      }
    };
    const vm =
      arch === "x86_64"
        ? await X86Vm.create({
            ...common,
            vcpus: cpus,
            kernel: { image: kernel, name: kernelName, cmdline, ...(initrd ? { initrd } : {}) },
            cpuTemplate: hostKvm === "pvm" ? "pvm" : "default",
            virtio,
            io: devices.ioThread(),
            afterAllocate,
          })
        : await Riscv64Vm.create({
            accel: softAccel({ cpuTier }),
            harts: cpus,
            kernel,
            kernelName,
            ...(initrd ? { initrd } : {}),
            cmdline,
            ...(firmware ? { firmware } : {}),
            virtio,
            afterAllocate,
            ...common,
          });
    const onSignal = (sig: NodeJS.Signals): void =>
      vm.stop(sig === "SIGINT" ? EXIT_SIGINT : EXIT_STOPPED, `stopped by ${sig}`);
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    con?.attach(vm);
    server?.attach(vm);
    if (control) control.vm = vm;
    if (seccomp) {
      try {
        lockDownVmm(seccomp === "log");
      } catch (e) {
        throw new UsageError(`--seccomp: ${(e as Error).message}`);
      }
    }
    const started = performance.now();
    let ended = false;
    const finished = vm.run();
    if (o.ksm) {
      // Checked up front (/sys/kernel/mm/ksm); if madvise still fails, the VM does not go on
      // without what the daemon asked for.
      try {
        mergeGuestRam(vm.avm.memory);
      } catch (e) {
        vm.stop(EXIT_MOAT_ERROR, `--ksm: ${(e as Error).message}`);
      }
    }
    // The vCPU threads report their ids as they start: pin them then (--pin-cpus), and tell
    // the control socket. The VM is already running; this does not hold it up.
    void vm.avm.vcpuThreadIds(10_000).then((tids) => {
      if (ended) return;
      if (control) control.vcpuThreadIds = tids;
      if (!pinCpus) return;
      try {
        pinVcpuThreads(tids, pinCpus);
      } catch (e) {
        vm.stop(EXIT_MOAT_ERROR, `--pin-cpus: ${(e as Error).message}`);
      }
    });
    let exit = await finished;
    ended = true;
    con?.detach();
    server?.detach();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    fanout?.flush();
    await con?.drain();
    await closeAll();
    for (const net of devices.nets) {
      const c = net.counters;
      if (c.txSpoofed > 0)
        process.stderr.write(
          `moat: ${net.name}: ${c.txSpoofed} frames with a spoofed source MAC dropped\n`,
        );
    }
    if (devices.vsock && devices.vsock.rejected > 0)
      process.stderr.write(`moat: virtio-vsock: ${devices.vsock.rejected} guest packets refused\n`);
    if (con && con.droppedBytes > 0) {
      process.stderr.write(
        `moat: ${con.droppedBytes} bytes of guest output dropped (stdout too slow)\n`,
      );
    }
    if (exit.reason === "halt" || exit.reason === "panic") {
      process.stderr.write(`moat: ${exit.detail}\n`);
    } else if (exit.reason === "stopped" && exit.status === EXIT_MOAT_ERROR) {
      process.stderr.write(`moat: ${exit.detail}\n`);
    } else if (exit.reason === "reset" && argv.length > 0) {
      // The x86-64 machine has no pvpanic (it needs ACPI): a panicking kernel restarts, and
      // this is all moat can tell. A VM that restarts has not run its command to the end
      // (moat does not boot it again), so this is not the command's success: 125, as for a
      // VM that cannot run to the end.
      process.stderr.write(
        "moat: the guest restarted before its command reported a status (a reboot in the guest, or a kernel panic)\n",
      );
      exit = { ...exit, status: EXIT_MOAT_ERROR };
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
    return exit;
  } finally {
    await closeAll();
  }
}

/** `--display [WxH]`: the mode the display offers. Bound: 320x200 up to MAX_MODE. */
export function parseDisplayMode(v: boolean | string): { width: number; height: number } {
  if (v === true) return { width: 1024, height: 768 };
  const m = /^(\d{3,4})x(\d{3,4})$/.exec(String(v));
  const width = m ? Number(m[1]) : 0;
  const height = m ? Number(m[2]) : 0;
  const most = `${MAX_MODE.width}x${MAX_MODE.height}`;
  if (!m || width < 320 || height < 200 || width > MAX_MODE.width || height > MAX_MODE.height)
    throw new UsageError(`--display wants WxH between 320x200 and ${most}, not '${String(v)}'`);
  return { width, height };
}
