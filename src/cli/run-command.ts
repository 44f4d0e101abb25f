// `moat run`: boot a VM, run one command in it (or a shell), exit with its status. Its flags
// become a VM config (run-config.ts) that the VM process's main runs (vmm/vm-process.ts), here
// or, with --jail, in a jail as `moat vmm`. `moat vmm --config FILE` runs a config file.
import { constants, fstatSync, openSync, readSync, closeSync } from "node:fs";
import { kvmKind } from "../kvm/kvm-probe.js";
import { UsageError } from "./usage-error.js";
import { runJailed } from "./run-jailed.js";
import { FLAG_NAMES, runConfig, type RunOptions } from "./run-config.js";
import { chooseAccel, pvmNote, runVmProcess } from "../vmm/vm-process.js";
import { FIELD_NAMES, checkVmConfig, parseVmConfig, type VmConfig } from "../vmm/vm-config.js";

export { UsageError, type RunOptions };
export { parseDisplayMode, parseIntOption } from "./run-config.js";

/** Runs the VM `moat run`'s flags describe; resolves to the process exit status. */
export async function runCommand(argv: string[], o: RunOptions): Promise<number> {
  const config = runConfig(o);
  if (o.jail) {
    const kind = kvmKind();
    const accel = chooseAccel(config.accel, kind, FLAG_NAMES);
    checkVmConfig(config, accel, FLAG_NAMES);
    if (accel === "kvm" && kind === "pvm") pvmNote();
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

/** Bound: a config file is at most this large (a VM with every device is a few KiB). */
const CONFIG_MAX_BYTES = 1024 * 1024;

/**
 * A config file as `moat vmm` reads it: a regular file, not a link, owned by this user or
 * root and writable by no one else (the daemon's VM directories belong to the VM's own uid,
 * which must not be able to hand its VMM, still root, another config), at most
 * CONFIG_MAX_BYTES, JSON, then schema-checked. Throws UsageError.
 */
export function readVmConfig(path: string): VmConfig {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(
      `--config ${path}: ${code === "ENOENT" ? "no such file" : code === "ELOOP" ? "is a link" : (e as Error).message}`,
    );
  }
  let text: string;
  try {
    const st = fstatSync(fd);
    const me = process.geteuid?.() ?? 0;
    if (!st.isFile()) throw new UsageError(`--config ${path}: not a regular file`);
    if ((st.uid !== me && st.uid !== 0) || (st.mode & 0o022) !== 0 || st.nlink !== 1)
      throw new UsageError(
        `--config ${path}: must be owned by you or root, writable by no one else, and have ` +
          "one name",
      );
    if (st.size > CONFIG_MAX_BYTES)
      throw new UsageError(`--config ${path}: larger than ${CONFIG_MAX_BYTES >> 10} KiB`);
    const buf = Buffer.alloc(st.size);
    let got = 0;
    while (got < buf.length) {
      const r = readSync(fd, buf, got, buf.length - got, got);
      if (r === 0) break;
      got += r;
    }
    text = buf.subarray(0, got).toString("utf8");
  } finally {
    closeSync(fd);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new UsageError(
      `--config ${path}: not JSON (${(e as Error).message.replace(/\s+/g, " ")})`,
    );
  }
  try {
    return parseVmConfig(value);
  } catch (e) {
    throw new UsageError(`--config ${path}: ${(e as Error).message}`);
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
      `--name ${o.name}: the config's name is ${config.name === undefined ? "not set" : config.name}`,
    );
  return runVmProcess(config, {
    command: argv,
    names: o.flagNames ? FLAG_NAMES : FIELD_NAMES,
    ...(o.inJail !== undefined ? { jailPlan: o.inJail } : {}),
    ...(o.rawConsole ? { rawConsole: true } : {}),
    ...(o.timing ? { timing: true } : {}),
  });
}
