// `moat run`: boot a VM, run one command in it (or a shell), exit with its status. Its flags
// become a VM config (run-config.ts) that the VM process's main runs (vmm/vm-process.ts), here
// or, with --jail, in a jail as `moat vmm`. `moat vmm --config FILE` runs a config file.
import { kvmKind } from "../kvm/kvm-probe.js";
import { UsageError } from "./usage-error.js";
import { runJailed } from "./run-jailed.js";
import { FLAG_NAMES, MACHINE_OPTIONS, runConfig, type RunOptions } from "./run-config.js";
import { checkHost, configLogger, pvmNote, runVmProcess } from "../vmm/vm-process.js";
import { FIELD_NAMES, checkVmConfig } from "../vmm/vm-config.js";
import { chooseAccel } from "../vmm/vm-limits.js";
import { readVmConfig } from "../vmm/vm-config-file.js";
import { MoatError } from "../base/moat-error.js";
import { prepareExitFile, writeExitFile } from "../vmm/exit-file.js";
import { EXIT_MOAT_ERROR } from "../vmm/exit-status.js";

export { UsageError, readVmConfig, type RunOptions };
export { parseDisplayMode, parseIntOption } from "./run-config.js";

/** `--memory` for `memory`, `--cpu-tier` for `cpuTier`. */
const flagOf = (k: string): string => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/**
 * Runs the VM `moat run`'s flags describe; resolves to the process exit status. `given(k)`:
 * whether option `k` was on the command line (not a default).
 */
export async function runCommand(
  argv: string[],
  o: RunOptions,
  given: (k: string) => boolean = () => false,
): Promise<number> {
  if (o.restore !== undefined) {
    const machine = MACHINE_OPTIONS.filter((k) => given(k));
    if (machine.length > 0)
      throw new UsageError(
        `--restore takes the machine from the snapshot; drop ${machine.map(flagOf).join(", ")}`,
      );
    if (o.jail) throw new UsageError("--restore does not work with --jail yet");
  }
  if (o.snapshotDir !== undefined && o.jail)
    throw new UsageError("--snapshot-dir does not work with --jail yet");
  let config;
  try {
    config = runConfig(o);
  } catch (e) {
    // Once moat knows where its exit record goes, any end is recorded there, a bad flag too.
    if (e instanceof MoatError && o.exitFile !== undefined) recordRefusal(o.exitFile, e);
    throw e;
  }
  if (o.jail) {
    const kind = kvmKind();
    const accel = chooseAccel(config.accel, kind, FLAG_NAMES("accel"));
    checkVmConfig(config, accel, FLAG_NAMES);
    // The jail has no /sys: what needs it is checked here.
    checkHost(config, FLAG_NAMES, false);
    if (accel === "kvm" && kind === "pvm") pvmNote(configLogger(config));
    return runJailed({ ...config, accel }, kind, {
      command: argv,
      ...(o.timing ? { timing: true } : {}),
      ...(o.rawConsole ? { rawConsole: true } : {}),
    });
  }
  if (process.stderr.isTTY) {
    // Said to a person at a terminal; scripts and tests keep a clean stderr (the control
    // socket's status reports "jailed" either way).
    process.stderr.write(
      "moat: this VM runs unjailed (for development); --jail confines it (docs/security.md)\n",
    );
  }
  return runVmProcess(config, {
    command: argv,
    names: FLAG_NAMES,
    ...(o.rawConsole ? { rawConsole: true } : {}),
    ...(o.timing ? { timing: true } : {}),
  });
}

/** Writes `e` as the VM's end to `exitFile`, saying on stderr if that cannot be done. */
function recordRefusal(exitFile: string, e: MoatError): void {
  try {
    prepareExitFile(exitFile);
    writeExitFile(exitFile, { status: EXIT_MOAT_ERROR, reason: "error", detail: e.message });
  } catch (w) {
    process.stderr.write(`moat: --exit-file ${exitFile}: ${(w as Error).message}\n`);
  }
}

export interface VmmOptions {
  config: string;
  /** The config's name again, seen in the process's command line (ps, moat audit). */
  name?: string;
  timing?: boolean;
  rawConsole?: boolean;
  /** Set by a jail's launcher only: this process is the jailed VM; the jail's plan as JSON. */
  inJail?: string;
  /** Name settings by `moat run`'s flags (a jailed `moat run`). */
  flagNames?: boolean;
}

/** `moat vmm --config FILE`: runs the VM a config file describes; resolves to its exit status. */
export async function vmmCommand(argv: string[], o: VmmOptions): Promise<number> {
  const config = readVmConfig(o.config);
  if (o.name !== undefined && o.name !== config.name)
    throw new UsageError(
      `--name ${o.name} is not the config's name (${config.name === undefined ? "it has none" : `'${config.name}'`}): ` +
        "leave --name out, or give the config's",
    );
  const log = configLogger(config);
  try {
    return await runVmProcess(config, {
      command: argv,
      names: o.flagNames ? FLAG_NAMES : FIELD_NAMES,
      log,
      ...(o.inJail !== undefined ? { jailPlan: o.inJail } : {}),
      ...(o.rawConsole ? { rawConsole: true } : {}),
      ...(o.timing ? { timing: true } : {}),
    });
  } catch (e) {
    // A JSON log stays JSON to its last line: why the VM could not run, as an error line (the
    // exit status as moat's main gives it, 125). Text: moat's main says it as ever.
    if (config.host.log_format !== "json") throw e;
    const known = e instanceof MoatError || e instanceof RangeError;
    log.error(known ? (e as Error).message : `internal error: ${(e as Error).stack ?? String(e)}`, {
      event: "vm.failed",
    });
    return EXIT_MOAT_ERROR;
  }
}
