// How the daemon runs one VM process: `moat vmm` with a config (vm-config.ts) in the VM's own
// directory that puts its console on a socket (scrollback in a bounded file), its control socket
// and an exit record there too. The daemon never passes a guest command: the guest runs its
// init's shell.
import { fileURLToPath } from "node:url";
import type { VmSpec } from "./vm-spec.js";
import type { VmConfig } from "../vmm/vm-config.js";
import type { LogFormat } from "../base/log.js";

export const MOAT_BIN = fileURLToPath(new URL("../../../bin/moat.js", import.meta.url));

/** Scrollback kept per VM on disk (console.log + console.log.1). */
export const CONSOLE_LOG_MAX = 1024 * 1024;

export interface VmFiles {
  dir: string;
  control: string;
  console: string;
  consoleLog: string;
  exitFile: string;
  vsock: string;
  vnc: string;
  /**
   * The VM process's config (vm-config.ts), written before each start beside the VM's directory
   * in root's `vms/`, not in it: the VM's uid could rename root's files there, and hand a later
   * start an older config.
   */
  config: string;
}

export function vmFiles(dir: string): VmFiles {
  return {
    dir,
    control: `${dir}/control.sock`,
    console: `${dir}/console.sock`,
    consoleLog: `${dir}/console.log`,
    exitFile: `${dir}/exit.json`,
    vsock: `${dir}/vsock.sock`,
    vnc: `${dir}/vnc.sock`,
    config: `${dir}.json`,
  };
}

/** The machine part of the VM process's config of `spec`: what its snapshots record. */
export function vmMachine(spec: VmSpec): Omit<VmConfig, "host"> {
  // The spec's host-level fields stay with the daemon; the machine is the config's as it is.
  const { domain: _d, labels: _l, restart: _r, cpu: _c, ...machine } = spec;
  // A disk's store image is the daemon's record of it: the VMM opens its path (the overlay).
  const disks = machine.disks.map(({ image: _i, ...d }) => d);
  return { ...machine, disks, bios: "builtin" };
}

/** Where a VM process writes the snapshots the daemon asks for: its own directory. */
export const snapshotDirOf = (f: VmFiles): string => f.dir;

/**
 * The config of the VM process of `spec` (vm-config.ts): its machine as the spec gives it, its
 * sockets and files in the VM's directory, and how the daemon runs it.
 */
export function vmConfigFor(
  spec: VmSpec,
  f: VmFiles,
  o: {
    pinned: number[] | null;
    ksm: boolean;
    seccomp: "kill" | "log" | "off";
    uid: number | null;
    /** The daemon's own log format: its VMs' logs are written in it too. */
    logFormat?: LogFormat;
    /** The snapshot directory (in the store) the VM starts from instead of booting. */
    restore?: string;
    /** With restore: the paths its disks are opened at instead (its own copies), in order. */
    disks?: string[];
    /** Where its qcow2 disks' backing files may lie: its domain's image store directory. */
    backingDirs?: string[];
  },
): VmConfig {
  const machine = vmMachine(spec);
  const disks = o.disks;
  return {
    ...machine,
    // The VMM puts these in the place of the snapshot's disks, one for one (vm-process.ts).
    ...(disks ? { disks: machine.disks.map((d, i) => ({ ...d, path: disks[i] ?? d.path })) } : {}),
    host: {
      control: f.control,
      console: f.console,
      ...(spec.vsock ? { vsock: f.vsock } : {}),
      ...(spec.display ? { vnc: f.vnc } : {}),
      console_log: { path: f.consoleLog, max_bytes: CONSOLE_LOG_MAX },
      exit_file: f.exitFile,
      ...(o.pinned ? { pin_cpus: o.pinned } : {}),
      // A VM whose RAM is locked keeps it out of swap, and out of KSM merging too.
      ksm: o.ksm && !spec.lock_memory,
      ...(o.seccomp !== "off" ? { seccomp: o.seccomp } : {}),
      ...(o.uid !== null ? { jail_user: { uid: o.uid, gid: o.uid } } : {}),
      ...(o.logFormat === "json" ? { log_format: "json" } : {}),
      snapshot_dir: snapshotDirOf(f),
      ...(o.backingDirs !== undefined ? { backing_dirs: o.backingDirs } : {}),
      // Every VM the daemon restores is a clone (a new VM generation ID: its RNG reseeded, its
      // clock set from the RTC): many may start from one snapshot, and one alone loses nothing.
      ...(o.restore !== undefined ? { restore: o.restore, clone: true } : {}),
    },
  };
}

/** argv (after the node binary) for the VM process of `name` whose config is `f.config`. */
export function vmmArgv(f: VmFiles, name: string): string[] {
  // The name is for ps and moat audit (host-facts.ts vmProcesses); the VMM checks it.
  return [MOAT_BIN, "vmm", "--config", f.config, "--name", name];
}
