// A VM process's main: one VmConfig (vm-config.ts) in, the VM run to its end, its exit status
// out. `moat run` (its flags made into a config) and `moat vmm --config FILE` (the daemon's VM
// processes, and a jailed `moat run`'s) both come here.
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { readSnapshot, writeSnapshot, type OpenSnapshot } from "./snapshot-file.js";
import { softAccel } from "../accel/soft/soft-accel.js";
import { DEFAULT_CPU_TIER } from "../accel/soft/cpu-tier.js";
import { Riscv64Vm } from "./riscv64-vm.js";
import { X86Vm } from "./x86_64-vm.js";
import { VmDevices, type DeviceSpecs } from "./vm-devices.js";
import { HostConsole } from "./host-console.js";
import { VncServer, parseVncAddress } from "./vnc-server.js";
import { readVncPassword } from "./vnc-auth.js";
import { commandArchive, concatArchives } from "../boot/initramfs.js";
import { withScreenConsole } from "../boot/screen-console.js";
import {
  AGENT_RDINIT,
  DEBIAN_OPENSBI,
  DEFAULT_CMDLINE,
  initrdChoice,
  shippedAgentOverlay,
  shippedInitrd,
  shippedKernel,
} from "../boot/shipped-guest.js";
import { detectKvm, kvmKind, type KvmKind } from "../kvm/kvm-probe.js";
import { lockDownVmm } from "../jail/seccomp.js";
import { dropPrivileges } from "../jail/drop.js";
import { enterJail, parseJailPlan } from "../jail/enter.js";
import { ControlSocket } from "./control-socket.js";
import { ConsoleServer } from "./console-server.js";
import { ConsoleLog } from "./console-log.js";
import { ConsoleFanout } from "./console-fanout.js";
import { prepareExitFile, writeExitFile } from "./exit-file.js";
import { allowedCpus, lockGuestRam, mergeGuestRam, pinVcpuThreads } from "./host-tuning.js";
import { agentPolicy, DEFAULT_AGENT_ALLOW } from "../agent/agent-commands.js";
import { parseMac } from "../devices/virtio/net.js";
import type { GuestMemory } from "../memory/guest-memory.js";
import type { VmExit } from "./vm-exit.js";
import { archOf, chooseAccel } from "./vm-limits.js";
import { EXIT_MOAT_ERROR, EXIT_SIGINT, EXIT_STOPPED } from "./exit-status.js";
import {
  configInitrd,
  FIELD_NAMES,
  madePaths,
  VmConfigError,
  checkVmConfig,
  parseVmConfig,
  type FieldNames,
  type NicConfig,
  type VmConfig,
} from "./vm-config.js";
import { TerminalFilter } from "./terminal-filter.js";
import { vmmLogger, type Log } from "./vmm-logger.js";

/** How this process was started, beside the VM's config. */
export interface VmProcessOptions {
  /** A command to run in the guest from the shipped initramfs; empty: its shell. */
  command: string[];
  /** Every byte of the console to the terminal (moat run --raw-console). */
  rawConsole?: boolean;
  /** Print when userspace started and how long the VM ran (moat run --timing). */
  timing?: boolean;
  /** Set by a jail's launcher only: this process is the jailed VM; the jail's plan as JSON. */
  jailPlan?: string;
  /** How messages name settings: `moat run` by its flags, a config file by its fields. */
  names?: FieldNames;
  /** The process's log; by default, vmmLogger of the config's name and host.log_format. */
  log?: Log;
}

/** The logger a VM process of `c` writes its own lines with (vmm-logger.ts). */
export function configLogger(c: VmConfig): Log {
  return vmmLogger({
    ...(c.name !== undefined ? { name: c.name } : {}),
    ...(c.host.log_format !== undefined ? { format: c.host.log_format } : {}),
  });
}

/** Bound: files read for the VM must be regular files no larger than this. */
const MAX_FILE_BYTES = 512 * 1024 * 1024;

function readImage(path: string, what: string): Uint8Array {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    throw new VmConfigError(
      `${what} ${path}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`,
      what,
    );
  }
  if (!st.isFile()) throw new VmConfigError(`${what} ${path}: not a regular file`, what);
  if (st.size === 0) throw new VmConfigError(`${what} ${path}: empty file`, what);
  if (st.size > MAX_FILE_BYTES)
    throw new VmConfigError(`${what} ${path}: larger than ${MAX_FILE_BYTES >> 20} MiB`, what);
  return readFileSync(path);
}

/** What a guest on PVM-nested KVM can do, said once the VM's settings have been accepted. */
export function pvmNote(log: Log): void {
  log.warn(
    `/dev/kvm here is ${detectKvm()}; using the "pvm" CPU template. ` +
      `Guest userspace cannot run on PVM: expect the kernel to stop after "Run /init".`,
  );
}

/** The devices' specs: the one place a config's device settings change shape. */
function deviceSpecs(c: VmConfig): DeviceSpecs {
  return {
    disks: c.disks.map((d) => ({
      path: d.path,
      readOnly: d.read_only,
      ...(d.format !== undefined ? { format: d.format } : {}),
      ...(c.host.backing_dirs !== undefined ? { backingDirs: c.host.backing_dirs } : {}),
      ...(d.bps !== undefined ? { bytesPerSecond: d.bps } : {}),
      ...(d.iops !== undefined ? { opsPerSecond: d.iops } : {}),
    })),
    nets: c.nics.map((nic) => ({
      ...(nic.tap !== undefined ? { tap: nic.tap } : {}),
      ...(nic.bridge !== undefined ? { bridge: nic.bridge } : {}),
      ...(nic.mac !== undefined ? { mac: parseMac(nic.mac) } : {}),
      ...(nic.bps !== undefined ? { bytesPerSecond: nic.bps } : {}),
      ...(nic.pps !== undefined ? { framesPerSecond: nic.pps } : {}),
    })),
    ...(c.host.clone === true ? { clone: true } : {}),
    ...(c.host.vconsole !== undefined ? { vconsole: c.host.vconsole } : {}),
    rng: c.rng,
    ...(c.display ? { display: c.display } : {}),
    ...(c.vsock && c.host.vsock !== undefined
      ? { vsock: { path: c.host.vsock, cid: c.vsock.cid } }
      : {}),
    ...(c.balloon
      ? {
          balloon: {
            ramBytes: c.memory_mib * 1024 * 1024,
            reporting: c.balloon.free_page_reporting,
          },
        }
      : {}),
    ...(c.agent
      ? {
          agent: {
            allow: c.agent.allow ? agentPolicy(c.agent.allow) : new Set(DEFAULT_AGENT_ALLOW),
          },
        }
      : {}),
  };
}

/**
 * Runs the VM of `c`; resolves to the process exit status. With an exit file, how the VM ended
 * (or why it could not start, once the config was read) is also written there.
 */
export async function runVmProcess(c: VmConfig, o: VmProcessOptions): Promise<number> {
  // In a jail /dev/kvm and /sys are out of sight: its launcher tells what KVM is here.
  let jailKvm: KvmKind | undefined;
  if (o.jailPlan !== undefined) {
    try {
      const plan = parseJailPlan(o.jailPlan);
      jailKvm = plan.kvmKind ?? "none";
      enterJail(plan);
    } catch (e) {
      throw new VmConfigError(`the jail could not be set up: ${(e as Error).message}`, "jail");
    }
  }
  const n = o.names ?? FIELD_NAMES;
  const log = o.log ?? configLogger(c);
  const exitFile = c.host.exit_file;
  if (exitFile !== undefined) prepareExitFile(exitFile);
  let exit: VmExit;
  try {
    exit = await runVm(c, { ...o, log }, jailKvm);
  } catch (e) {
    if (exitFile) {
      try {
        writeExitFile(exitFile, {
          status: EXIT_MOAT_ERROR,
          reason: "error",
          detail: (e as Error).message,
        });
      } catch (w) {
        log.error(`${n("host.exit_file")} ${exitFile}: ${(w as Error).message}`);
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
      log.error(`${n("host.exit_file")} ${exitFile}: ${(e as Error).message}`);
    }
  }
  return exit.status;
}

/**
 * The checks of `c` against this host (the config's own are checkVmConfig's); `jailed`: in a
 * jail, which has no /sys (its launcher checked what needs it).
 */
export function checkHost(c: VmConfig, n: FieldNames, jailed: boolean): void {
  const h = c.host;
  if (h.pin_cpus !== undefined) {
    const allowed = allowedCpus();
    const bad = h.pin_cpus.find((cpu) => !allowed.includes(cpu));
    if (bad !== undefined)
      throw new VmConfigError(
        `${n("host.pin_cpus")}: CPU ${bad} is not available to moat here`,
        "host.pin_cpus",
      );
  }
  // A socket in a directory that is not there fails as EACCES: said here as what it is.
  for (const [field, path] of madePaths(h))
    if (!existsSync(dirname(resolve(path))))
      throw new VmConfigError(`${n(field)} ${path}: no directory ${dirname(path)}`, field);
  if (h.jail_user !== undefined && process.getuid?.() !== 0)
    throw new VmConfigError(`${n("host.jail_user")} needs moat to start as root`, "host.jail_user");
  if (h.seccomp !== undefined && process.arch !== "x64")
    throw new VmConfigError(
      `${n("host.seccomp")}: the filter is written for x86-64 hosts`,
      "host.seccomp",
    );
  if (h.ksm && !jailed && !existsSync("/sys/kernel/mm/ksm"))
    throw new VmConfigError(
      `${n("host.ksm")}: this kernel has no KSM (/sys/kernel/mm/ksm)`,
      "host.ksm",
    );
}

/** How long a snapshot waits for every vCPU (hart) to stop at a boundary. */
const SNAPSHOT_CPU_TIMEOUT_MS = 5000;

/** The machine part of a config: what a snapshot keeps (the host part is each process's own). */
function machineOf(c: VmConfig): Record<string, unknown> {
  const { host: _host, ...machine } = c;
  return machine;
}

/**
 * The config of a VM restored from `snap`: the snapshot's machine (its own name unless `c`
 * names the VM), `c`'s host part. The machine is checked again, as any config is.
 */
function restoredConfig(c: VmConfig, snap: OpenSnapshot, n: FieldNames): VmConfig {
  // Bound: the snapshot's machine is checked as any config is before a field of it is used.
  let base: VmConfig;
  try {
    base = parseVmConfig({
      ...snap.manifest.machine,
      ...(c.name !== undefined ? { name: c.name } : {}),
      host: c.host,
    });
  } catch (e) {
    throw new VmConfigError(
      `${n("host.restore")} ${snap.dir}: its machine: ${(e as Error).message}`,
      "host.restore",
    );
  }
  const theirs = base.disks;
  // A clone must not write its parent's disks: `c`'s own disks, if it names any, take their
  // places, one for one, read-only where they were (the device checks each size at restore).
  if (c.disks.length > 0) {
    if (c.disks.length !== theirs.length)
      throw new VmConfigError(
        `${n("disks")}: the snapshot's VM has ${theirs.length} disks; give as many, in order, or none`,
        "disks",
      );
    c.disks.forEach((d, i) => {
      if (d.read_only !== theirs[i]!.read_only)
        throw new VmConfigError(
          `${n("disks")}: disk ${i + 1} was ${theirs[i]!.read_only ? "read-only" : "writable"} in the snapshot's VM; give it so`,
          "disks",
        );
    });
  }
  // A new vsock CID: the restored device resets every connection, and the guest reads it again.
  if (c.vsock && !base.vsock)
    throw new VmConfigError(`${n("vsock")}: the snapshot's VM has no vsock device`, "vsock");
  return {
    ...base,
    ...(c.disks.length > 0
      ? { disks: theirs.map((d, i) => ({ ...d, path: c.disks[i]!.path })) }
      : {}),
    nics: restoredNics(c, base.nics, n),
    ...(c.vsock ? { vsock: c.vsock } : {}),
  };
}

/**
 * A restored VM's NICs: `c`'s, if it names any, take the places of the snapshot's (`theirs`),
 * one for one: their TAP or bridge, MAC and any rate limits given. A clone never keeps its
 * parent's MAC: its own (given, or random) goes in config space and the guest probes again. A
 * restore that is not a clone takes the snapshot's MAC (VirtioNet.loadState): none may be given.
 */
function restoredNics(c: VmConfig, theirs: NicConfig[], n: FieldNames): NicConfig[] {
  const clone = c.host.clone === true;
  if (c.nics.length > 0 && c.nics.length !== theirs.length)
    throw new VmConfigError(
      `${n("nics")}: the snapshot's VM has ${theirs.length} NICs; give as many, in order, or none`,
      "nics",
    );
  if (!clone && c.nics.some((nic) => nic.mac !== undefined))
    throw new VmConfigError(
      `${n("nics")}: a restore keeps the snapshot's MAC; a MAC is given to a clone (${n("host.clone")})`,
      "nics",
    );
  return theirs.map((nic, i) => {
    const { mac: _m, ...host } = nic;
    const { tap: _t, bridge: _b, ...limits } = host;
    const given = c.nics[i];
    if (given) return { ...limits, ...given };
    return clone ? host : nic;
  });
}

async function runVm(
  given: VmConfig,
  o: VmProcessOptions & { log: Log },
  jailKvm?: KvmKind,
): Promise<VmExit> {
  const n = o.names ?? FIELD_NAMES;
  const log = o.log;
  let c = given;
  let snap: OpenSnapshot | undefined;
  const restoreStart = performance.now();
  if (given.host.restore !== undefined) {
    if (o.command.length > 0)
      throw new VmConfigError(
        `${n("host.restore")}: a restored VM runs on from where it was; it takes no command`,
        "host.restore",
      );
    snap = readSnapshot(given.host.restore);
    try {
      c = restoredConfig(given, snap, n);
    } catch (e) {
      snap.close();
      throw e;
    }
  } else if (given.host.clone === true) {
    throw new VmConfigError(
      `${n("host.clone")} goes with ${n("host.restore")}: a clone is of a snapshot`,
      "host.clone",
    );
  }
  // Start and end lines are for a log read later (a daemon's VM, JSON); `moat run` at a
  // terminal says no more than it did.
  const lifecycle = c.host.log_format === "json";
  const h = c.host;
  const cpuTier = c.cpu_tier ?? DEFAULT_CPU_TIER;
  const hostKvm = jailKvm ?? kvmKind();
  const accel = chooseAccel(c.accel, hostKvm, n("accel"));
  const arch = archOf(accel);
  checkVmConfig(c, accel, n);
  checkHost(c, n, jailKvm !== undefined);
  if (snap && h.clone && arch === "x86_64")
    log.warn(
      "the x86-64 machine has no VM generation ID device yet: this clone shares its parent's " +
        "RNG state until its kernel reseeds on its own" +
        (c.nics.length > 0
          ? ", and its guest is not told its NICs' new MACs (their frames are dropped as " +
            "spoofed until its driver probes them again)"
          : ""),
    );
  const argv = o.command;
  const cpus = c.cpus;
  const memoryMiB = c.memory_mib;
  const daemonized = h.console !== undefined;
  if (daemonized) {
    // Started by a daemon that may be gone: a closed stdout or stderr must not end the VM.
    process.stdout.on("error", () => {});
    process.stderr.on("error", () => {});
  }
  const kernelName = c.kernel ?? "the shipped kernel";
  // A restored VM's kernel, initrd and firmware are in its RAM already.
  const kernel = snap ? undefined : c.kernel ? readImage(c.kernel, "kernel") : shippedKernel(arch);
  // The shipped initramfs goes with the shipped kernel only.
  if (c.initrd === "none" && argv.length > 0)
    throw new VmConfigError(
      `${n("initrd:none")}: a guest command runs from the shipped initramfs; drop one or the other`,
      "initrd",
    );
  const initrdFrom = initrdChoice(configInitrd(c));
  const agentOverlay = c.agent !== undefined && initrdFrom === "shipped";
  let initrd =
    snap !== undefined
      ? undefined
      : initrdFrom === "own"
        ? readImage(c.initrd!, "initrd")
        : initrdFrom === "none"
          ? undefined
          : agentOverlay
            ? concatArchives([shippedInitrd(arch), shippedAgentOverlay()])
            : shippedInitrd(arch);
  let firmware: Uint8Array | undefined;
  if (snap) firmware = undefined;
  else if (c.bios === "opensbi")
    firmware = readImage(DEBIAN_OPENSBI, "OpenSBI firmware (apt-get install opensbi)");
  else if (c.bios !== "builtin") firmware = readImage(c.bios, "firmware");

  // Everything opened from here on is closed again, newest first, however the run ends.
  if (accel === "kvm" && hostKvm === "pvm" && jailKvm === undefined) pvmNote(log);
  const closers: (() => Promise<void> | void)[] = [];
  // The snapshot's memory file, if a failure comes before the VM has read it.
  if (snap) closers.push(() => snap.close());
  const closeAll = async (): Promise<void> => {
    for (const close of closers.splice(0).reverse()) await close();
  };
  try {
    const devices = await VmDevices.open(deviceSpecs(c), (line) =>
      log.warn(line, { event: "disk" }),
    );
    closers.push(() => devices.close());
    let server: ConsoleServer | undefined;
    if (h.console !== undefined) {
      const s = await ConsoleServer.listen(h.console);
      server = s;
      closers.push(() => s.close());
    }
    if (h.vnc !== undefined) {
      const gpu = devices.gpu!;
      const v = await VncServer.listen(
        parseVncAddress(h.vnc),
        { gpu, keyboard: devices.keyboard!, tablet: devices.tablet! },
        {
          log,
          ...(h.vnc_password_file !== undefined
            ? { password: readVncPassword(h.vnc_password_file) }
            : {}),
        },
      );
      devices.displayFlushed.add((r) => v.flushed(r));
      closers.push(() => v.close());
    }
    let consoleLog: ConsoleLog | undefined;
    if (h.console_log) {
      const l = await ConsoleLog.open(
        { path: h.console_log.path, maxBytes: h.console_log.max_bytes },
        (m) => log.error(m),
      );
      consoleLog = l;
      closers.push(() => l.close());
    }
    const virtio = devices.virtio;
    // The terminal only when no console socket takes its place: a daemon's VM has no TTY and
    // must not read stdin.
    const con = server
      ? undefined
      : new HostConsole(
          process.stdin,
          process.stdout,
          // Escapes that could act on a terminal are left out unless every byte is asked for.
          process.stdout.isTTY === true && o.rawConsole !== true
            ? new TerminalFilter("interactive")
            : undefined,
        );
    const consumers: ((b: Uint8Array) => void)[] = [];
    if (server) consumers.push((b) => server.write(b));
    if (con) consumers.push((b) => con.write(b));
    if (consoleLog) consumers.push((b) => consoleLog.write(b));
    const fanout = consumers.length > 1 || server ? new ConsoleFanout(consumers) : undefined;
    const output = fanout ? (b: Uint8Array) => fanout.write(b) : (b: Uint8Array) => con!.write(b);
    const consoleDropped = (): number =>
      (con?.droppedBytes ?? 0) + (server?.dropped ?? 0) + (consoleLog?.dropped ?? 0);

    let control: ControlSocket | undefined;
    if (h.control !== undefined) {
      control = await ControlSocket.listen(h.control, devices, {
        ...(c.name !== undefined ? { name: c.name } : {}),
        accel,
        ...(accel === "soft" ? { cpuTier } : {}),
        cpus,
        memoryMiB,
        ksm: h.ksm,
        memoryLocked: c.lock_memory,
        seccomp: h.seccomp ?? "off",
        jailed: o.jailPlan !== undefined,
        ...(h.jail_user ? { uid: h.jail_user.uid } : {}),
        consoleDropped,
        ...(server ? { consoleClients: () => server.clientCount } : {}),
        marksBoot: initrdFrom === "shipped",
      });
      const ctl = control;
      closers.push(() => ctl.close());
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
      // A device the guest broke: a warning, rate-limited per device (devices/log-limiter.ts).
      log: (line: string, fields: object) => log.warn(line, { event: "device", ...fields }),
    };
    // With a display, the kernel's console is on the screen too (the serial one stays
    // /dev/console); /init puts a shell there (docs/guest.md).
    const userCmdline = c.cmdline ?? DEFAULT_CMDLINE;
    const screenCmdline = c.display ? withScreenConsole(userCmdline) : userCmdline;
    const cmdline = (agentOverlay ? `${AGENT_RDINIT} ` : "") + screenCmdline;
    // Once guest RAM exists and before any boot file is parsed: RAM is locked (as root, whose
    // CAP_IPC_LOCK no memlock limit binds) and the uid dropped, so kernel, initrd and firmware
    // (a tenant's files) are parsed by a process that is no longer root.
    const afterAllocate = (avm: { memory: GuestMemory }): void => {
      if (c.lock_memory) {
        try {
          lockGuestRam(avm.memory);
        } catch (e) {
          throw new VmConfigError(
            `${n("lock_memory")}: ${(e as Error).message} (the memlock limit, ulimit -l, must ` +
              "hold the guest's RAM, or moat must start as root)",
            "lock_memory",
          );
        }
      }
      if (h.jail_user) {
        try {
          dropPrivileges(h.jail_user.uid, h.jail_user.gid, { jailed: jailKvm !== undefined });
        } catch (e) {
          throw new VmConfigError(
            `${n("host.jail_user")}: ${(e as Error).message}`,
            "host.jail_user",
          );
        }
      }
    };
    const vm =
      arch === "x86_64"
        ? await X86Vm.create({
            ...common,
            vcpus: cpus,
            ...(snap
              ? // Locked or mergeable RAM is the anonymous RAM made for it: copied into.
                { restore: snap, mapRestore: !c.lock_memory && !h.ksm }
              : {
                  kernel: {
                    image: kernel!,
                    name: kernelName,
                    cmdline,
                    ...(initrd ? { initrd } : {}),
                  },
                }),
            cpuTemplate: hostKvm === "pvm" ? "pvm" : "default",
            virtio,
            io: devices.ioThread(),
            afterAllocate,
          })
        : await Riscv64Vm.create({
            accel: softAccel({ cpuTier }),
            harts: cpus,
            ...(kernel ? { kernel } : {}),
            ...(snap ? { restore: snap, clone: h.clone === true } : {}),
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
    const snapshotDir = h.snapshot_dir;
    if (control && snapshotDir !== undefined)
      control.snapshot = async (name) => {
        const t0 = performance.now();
        const path = join(snapshotDir, name);
        const parts = await vm.snapshot(SNAPSHOT_CPU_TIMEOUT_MS);
        const bytes = writeSnapshot(path, { machine: machineOf(c), ...parts });
        return { path, memory_bytes: bytes, ms: Math.round(performance.now() - t0) };
      };
    if (h.seccomp) {
      try {
        lockDownVmm(h.seccomp === "log");
      } catch (e) {
        throw new VmConfigError(`${n("host.seccomp")}: ${(e as Error).message}`, "host.seccomp");
      }
    }
    const started = performance.now();
    let ended = false;
    const finished = vm.run();
    if (snap && o.timing)
      log.info(
        `restored from ${snap.dir} in ${(started - restoreStart).toFixed(1)} ms; the guest ` +
          `runs on at ${started.toFixed(0)} ms of this process`,
      );
    if (lifecycle)
      log.info(`VM started (${accel}, ${cpus} vCPUs, ${memoryMiB} MiB)`, {
        event: "vm.start",
        accel,
        cpus,
        memory_mib: memoryMiB,
      });
    if (h.ksm) {
      // Checked up front (/sys/kernel/mm/ksm); if madvise still fails, the VM does not go on
      // without what was asked for.
      try {
        mergeGuestRam(vm.avm.memory);
      } catch (e) {
        vm.stop(EXIT_MOAT_ERROR, `${n("host.ksm")}: ${(e as Error).message}`);
      }
    }
    // The vCPU threads report their ids as they start: pin them then, and tell the control
    // socket. The VM is already running; this does not hold it up.
    void vm.avm.vcpuThreadIds(10_000).then((tids) => {
      if (ended) return;
      if (control) control.vcpuThreadIds = tids;
      if (!h.pin_cpus) return;
      try {
        pinVcpuThreads(tids, h.pin_cpus);
      } catch (e) {
        vm.stop(EXIT_MOAT_ERROR, `${n("host.pin_cpus")}: ${(e as Error).message}`);
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
      const counts = net.counters;
      if (counts.txSpoofed > 0)
        log.warn(`${net.name}: ${counts.txSpoofed} frames with a spoofed source MAC dropped`, {
          event: "device",
          device: net.name,
          spoofed: counts.txSpoofed,
        });
    }
    if (devices.vsock && devices.vsock.rejected > 0)
      log.warn(`virtio-vsock: ${devices.vsock.rejected} guest packets refused`, {
        event: "device",
        device: "virtio-vsock",
        refused: devices.vsock.rejected,
      });
    if (con && con.droppedBytes > 0) {
      log.warn(`${con.droppedBytes} bytes of guest output dropped (stdout too slow)`);
    }
    if (exit.reason === "halt" || exit.reason === "panic") {
      // The guest's own end (a panic is the guest's failure, not the VMM's).
      log[exit.reason === "panic" ? "warn" : "info"](exit.detail ?? exit.reason);
    } else if (exit.reason === "stopped" && exit.status === EXIT_MOAT_ERROR) {
      log.error(exit.detail ?? "stopped");
    } else if (exit.reason === "reset" && argv.length > 0) {
      // The x86-64 machine has no pvpanic (it needs ACPI): a panicking kernel restarts, and
      // this is all moat can tell. A VM that restarts has not run its command to the end
      // (moat does not boot it again), so this is not the command's success: 125, as for a
      // VM that cannot run to the end.
      log.warn(
        "the guest restarted before its command reported a status (a reboot in the guest, or a kernel panic)",
      );
      exit = { ...exit, status: EXIT_MOAT_ERROR };
    }
    if (o.timing) {
      const total = performance.now();
      const mark =
        exit.bootMarkMs !== undefined ? `${exit.bootMarkMs.toFixed(0)} ms` : "never signalled";
      log.info(
        `userspace started at ${mark}; VM ran ${(total - started).toFixed(0)} ms; ` +
          `${exit.instructions ?? 0n} instructions; process time ${total.toFixed(0)} ms`,
      );
    }
    if (lifecycle)
      log.info(`VM ended: ${exit.reason}${exit.detail ? ` (${exit.detail})` : ""}`, {
        event: "vm.end",
        reason: exit.reason,
        status: exit.status,
        ...(exit.detail ? { detail: exit.detail } : {}),
      });
    return exit;
  } finally {
    await closeAll();
  }
}
