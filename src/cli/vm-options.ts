// The options of `moat run` beside its devices (--name, --console-log, --pin-cpus, --cpu-tier,
// which `moat create` takes too): parsed with a clear error for every bad value, before anything is
// opened or created.
import { UsageError } from "./usage-error.js";
import { CPU_TIERS, DEFAULT_CPU_TIER, isCpuTier, type CpuTier } from "../accel/soft/cpu-tier.js";
import { parseAmount } from "./device-options.js";
import { VM_NAME_PATTERN, VM_NAME_WORDS } from "../vmm/vm-config.js";
import {
  CONSOLE_LOG_DEFAULT,
  CONSOLE_LOG_MAX,
  CONSOLE_LOG_MIN,
  type ConsoleLogSpec,
} from "../vmm/console-log.js";

/** Bound: --name is VM_NAME_PATTERN, the rule of moat create and the API too. */
export function parseVmName(v: string): string {
  if (!new RegExp(VM_NAME_PATTERN).test(v)) throw new UsageError(`--name '${v}': ${VM_NAME_WORDS}`);
  return v;
}

/** What each tier is, for --help (typed by CpuTier, so a new tier cannot go unexplained). */
const TIER_WHAT: Record<CpuTier, string> = {
  interp: "the interpreter alone",
  jit: "hot guest code translated to WebAssembly, the rest interpreted",
};

/** What `moat run --help` and `moat create --help` say of --cpu-tier. */
export const CPU_TIER_HELP =
  "how the soft CPU runs guest code: " +
  CPU_TIERS.map((t) => `${t}, ${TIER_WHAT[t]}`).join("; ") +
  ` (default ${DEFAULT_CPU_TIER}). KVM runs the guest on the host CPU and has no tier: ` +
  "refused with --accel kvm, ignored where --accel auto picks KVM";

/** `--cpu-tier`: one of CPU_TIERS. */
export function parseCpuTier(v: string): CpuTier {
  if (!isCpuTier(v))
    throw new UsageError(`--cpu-tier must be one of ${CPU_TIERS.join(", ")}, not '${v}'`);
  return v;
}

/**
 * Parses `--console-log PATH[,max=BYTES]` (K, M allowed). Bound: max 64 KiB..64 MiB, default
 * 1 MiB; PATH and PATH.1 together never hold more.
 */
export function parseConsoleLog(v: string): ConsoleLogSpec {
  const [path, ...opts] = v.split(",");
  if (!path) throw new UsageError(`--console-log '${v}': no file name`);
  let maxBytes = CONSOLE_LOG_DEFAULT;
  for (const opt of opts) {
    if (!opt.startsWith("max="))
      throw new UsageError(`--console-log '${v}': unknown option '${opt}' (max=BYTES)`);
    maxBytes = parseAmount(opt.slice(4), `--console-log '${v}': max`);
    if (maxBytes < CONSOLE_LOG_MIN || maxBytes > CONSOLE_LOG_MAX)
      throw new UsageError(
        `--console-log '${v}': max must be ` +
          `${CONSOLE_LOG_MIN >> 10}K..${CONSOLE_LOG_MAX >> 20}M bytes`,
      );
  }
  return { path, maxBytes };
}

/** Bound: entries in a --pin-cpus list. */
const MAX_PIN_CPUS = 64;

/**
 * Parses `--pin-cpus 0,1`: vCPU i goes to list[i % n]. Bound: at most 64 distinct whole numbers,
 * each a CPU of this host that the process's current affinity (`allowed`) includes.
 */
export function parsePinCpus(v: string, allowed: readonly number[]): number[] {
  const parts = v.split(",");
  if (parts.length > MAX_PIN_CPUS)
    throw new UsageError(`--pin-cpus: at most ${MAX_PIN_CPUS} CPUs, not ${parts.length}`);
  const list = parts.map((p) => {
    if (!/^\d{1,4}$/.test(p))
      throw new UsageError(`--pin-cpus '${v}': a comma-separated list of CPU numbers, like 0,1`);
    const cpu = Number(p);
    // The affinity (which holds only CPUs that exist and are online) decides: with a
    // restricted set (taskset, a cpuset cgroup) the allowed CPUs need not be
    // 0..availableParallelism()-1.
    if (!allowed.includes(cpu))
      throw new UsageError(
        `--pin-cpus: CPU ${cpu} is not available to moat here (allowed: ${cpuList(allowed)})`,
      );
    return cpu;
  });
  const dup = list.find((c, i) => list.indexOf(c) !== i);
  if (dup !== undefined) throw new UsageError(`--pin-cpus: CPU ${dup} is given twice`);
  return list;
}

/** 0,1,2,5 -> "0-2,5", as the kernel writes Cpus_allowed_list. */
export function cpuList(cpus: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < cpus.length;) {
    let j = i;
    while (j + 1 < cpus.length && cpus[j + 1] === cpus[j]! + 1) j++;
    out.push(i === j ? `${cpus[i]}` : `${cpus[i]}-${cpus[j]}`);
    i = j + 1;
  }
  return out.join(",");
}
