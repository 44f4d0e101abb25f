// `moat run`'s flags made into the VM config its process runs (vm-config.ts): each flag parsed
// with a clear error naming it, before anything is opened or created. The config is then
// checked as a whole (checkVmConfig) with its settings named by these flags (FLAG_NAMES).
import { resolve } from "node:path";
import { UsageError } from "./usage-error.js";
import {
  agentSpec,
  parseBalloonOption,
  parseDiskSpecs,
  parseNetSpecs,
  parseVsockSpec,
} from "./device-options.js";
import { parseConsoleLog, parseCpuTier, parsePinCpus, parseVmName } from "./vm-options.js";
import { allowedCpus } from "../vmm/host-tuning.js";
import { MEMORY_MIB_MAX, MEMORY_MIB_MIN, VCPUS_MAX } from "../vmm/vm-limits.js";
import { MAX_MODE } from "../devices/virtio/gpu.js";
import { parseJailUser } from "../jail/drop.js";
import type { FieldNames, VmConfig } from "../vmm/vm-config.js";

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
  snapshotDir?: string;
  restore?: string;
  clone?: boolean;
}

/**
 * `moat run`'s options that describe the machine, which a restored VM takes from its snapshot.
 * Not --disk, --net and --vsock: with --restore they give the VM its own disk copies, TAP
 * devices (and a clone its MACs) and vsock.
 */
export const MACHINE_OPTIONS: readonly (keyof RunOptions)[] = [
  "accel",
  "cpuTier",
  "kernel",
  "initrd",
  "cmdline",
  "cpus",
  "memory",
  "bios",
  "rng",
  "display",
  "balloon",
  "agent",
  "lockMemory",
];

const FLAGS: Record<string, string> = {
  accel: "--accel",
  cpu_tier: "--cpu-tier",
  kernel: "--kernel",
  initrd: "--initrd",
  "initrd:none": "--no-initrd",
  bios: "--bios",
  cpus: "--cpus",
  memory_mib: "--memory",
  nics: "--net",
  disks: "--disk",
  vsock: "--vsock",
  balloon: "--balloon",
  agent: "--agent",
  lock_memory: "--lock-memory",
  display: "--display",
  "host.control": "--control",
  "host.console": "--console-socket",
  "host.console_log": "--console-log",
  "host.exit_file": "--exit-file",
  "host.vsock": "--vsock",
  "host.vconsole": "--vconsole",
  "host.vnc": "--vnc",
  "host.vnc_password_file": "--vnc-password-file",
  "host.pin_cpus": "--pin-cpus",
  "host.ksm": "--ksm",
  "host.seccomp": "--seccomp",
  "host.jail_user": "--jail-user",
  "host.snapshot_dir": "--snapshot-dir",
  "host.restore": "--restore",
  "host.clone": "--clone",
};

/** A config setting as `moat run` names it: by its flag. */
export const FLAG_NAMES: FieldNames = (f) => FLAGS[f] ?? f.replace(/^nics\.\d+$/, "--net");

export function parseIntOption(v: string, name: string, min: number, max: number): number {
  if (!/^\d+$/.test(v)) throw new UsageError(`--${name} wants a whole number, not '${v}'`);
  const n = Number(v);
  if (n < min || n > max)
    throw new UsageError(`--${name} must be between ${min} and ${max}, not ${n}`);
  return n;
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

function accelOption(v: string): VmConfig["accel"] {
  if (v === "soft" || v === "kvm" || v === "auto") return v;
  throw new UsageError(`--accel must be soft, kvm or auto, not '${v}'`);
}

function seccompOption(v: boolean | string | undefined): VmConfig["host"]["seccomp"] {
  if (v === undefined) return undefined;
  if (v === true || v === "kill") return "kill";
  if (v === "log") return "log";
  throw new UsageError(`--seccomp takes nothing or 'log', not '${String(v)}'`);
}

/** The config of `moat run`'s flags. Throws UsageError naming the flag at fault. */
export function runConfig(o: RunOptions): VmConfig {
  const accel = accelOption(o.accel);
  const cpuTier = o.cpuTier !== undefined ? parseCpuTier(o.cpuTier) : undefined;
  const cpus = parseIntOption(o.cpus, "cpus", 1, VCPUS_MAX);
  // The limit of the guest's architecture is checkVmConfig's, once the accelerator is known.
  const memory = parseIntOption(
    o.memory,
    "memory",
    MEMORY_MIB_MIN,
    Math.max(...Object.values(MEMORY_MIB_MAX)),
  );
  const name = o.name !== undefined ? parseVmName(o.name) : undefined;
  const consoleLog = o.consoleLog !== undefined ? parseConsoleLog(o.consoleLog) : undefined;
  const pinCpus = o.pinCpus !== undefined ? parsePinCpus(o.pinCpus, allowedCpus()) : undefined;
  const balloon =
    o.balloon !== undefined && o.balloon !== false ? parseBalloonOption(o.balloon) : undefined;
  const agent =
    o.agent !== undefined && o.agent !== false
      ? agentSpec(o.agent, "; put the guest command after --")
      : undefined;
  let jailUser: { uid: number; gid: number } | undefined;
  if (o.jailUser !== undefined) {
    try {
      jailUser = parseJailUser(o.jailUser);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }
  const seccomp = seccompOption(o.seccomp);
  const vsock = o.vsock !== undefined ? parseVsockSpec(o.vsock) : undefined;
  return {
    ...(name !== undefined ? { name } : {}),
    accel,
    ...(cpuTier !== undefined ? { cpu_tier: cpuTier } : {}),
    ...(o.kernel !== undefined ? { kernel: o.kernel } : {}),
    ...(o.initrd === false ? { initrd: "none" } : o.initrd ? { initrd: o.initrd } : {}),
    ...(o.cmdline !== undefined ? { cmdline: o.cmdline } : {}),
    bios: o.bios,
    cpus,
    memory_mib: memory,
    disks: parseDiskSpecs(o.disk ?? []),
    nics: parseNetSpecs(o.net ?? []),
    ...(vsock ? { vsock: { cid: vsock.cid } } : {}),
    ...(balloon ? { balloon } : {}),
    ...(agent ? { agent } : {}),
    rng: o.rng === true,
    lock_memory: o.lockMemory === true,
    ...(o.display !== undefined ? { display: parseDisplayMode(o.display) } : {}),
    host: {
      ...(o.control !== undefined ? { control: o.control } : {}),
      ...(o.consoleSocket !== undefined ? { console: o.consoleSocket } : {}),
      ...(vsock ? { vsock: vsock.path } : {}),
      ...(o.vconsole !== undefined ? { vconsole: o.vconsole } : {}),
      ...(o.vnc !== undefined ? { vnc: o.vnc } : {}),
      ...(o.vncPasswordFile !== undefined ? { vnc_password_file: o.vncPasswordFile } : {}),
      ...(consoleLog
        ? { console_log: { path: consoleLog.path, max_bytes: consoleLog.maxBytes } }
        : {}),
      ...(o.exitFile !== undefined ? { exit_file: o.exitFile } : {}),
      ...(pinCpus ? { pin_cpus: pinCpus } : {}),
      ksm: o.ksm === true,
      ...(seccomp ? { seccomp } : {}),
      ...(jailUser ? { jail_user: jailUser } : {}),
      ...(o.snapshotDir !== undefined ? { snapshot_dir: resolve(o.snapshotDir) } : {}),
      ...(o.restore !== undefined ? { restore: resolve(o.restore) } : {}),
      ...(o.clone === true ? { clone: true } : {}),
    },
  };
}
