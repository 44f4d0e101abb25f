// The device options of `moat run` and `moat create` (--disk, --net, --vsock, --balloon,
// --agent): parsed into a VM config's settings (vm-config.ts) with a clear error for every bad
// value, before anything is opened or created.
import { UsageError } from "./usage-error.js";
import { agentPolicy } from "../agent/agent-commands.js";
import { formatMac, parseMac } from "../devices/virtio/net.js";
import { checkIfName, TapError } from "../sys/tap.js";
import {
  DISKS_MAX,
  DISK_FORMATS,
  NICS_MAX,
  type DiskConfig,
  type DiskFormat,
  type NicConfig,
} from "../vmm/vm-config.js";

/** A positive whole number with an optional K, M or G (powers of 1024). Bound: below 2^50. */
export function parseAmount(v: string, what: string): number {
  const m = /^(\d+)([KMG]?)$/i.exec(v);
  const n = m ? Number(m[1]) * 1024 ** "_KMG".indexOf((m[2] || "_").toUpperCase()) : NaN;
  if (!m || !(n >= 1) || n >= 2 ** 50) {
    throw new UsageError(`${what} wants a positive whole number (K, M, G allowed), not '${v}'`);
  }
  return n;
}

/** Parses `--disk` values. Bound: at most DISKS_MAX disks (the virtio-mmio slots). */
export function parseDiskSpecs(values: string[]): DiskConfig[] {
  if (values.length > DISKS_MAX)
    throw new UsageError(`at most ${DISKS_MAX} --disk options, not ${values.length}`);
  return values.map((v) => {
    const parts = v.split(",");
    const path = parts[0]!;
    if (path === "") throw new UsageError(`--disk '${v}': no file name`);
    const spec: DiskConfig = { path, read_only: false };
    for (const opt of parts.slice(1)) {
      if (opt === "ro") spec.read_only = true;
      else if (opt === "rw") spec.read_only = false;
      else if (opt.startsWith("bps=")) spec.bps = parseAmount(opt.slice(4), `--disk '${v}': bps`);
      else if (opt.startsWith("iops="))
        spec.iops = parseAmount(opt.slice(5), `--disk '${v}': iops`);
      else if (opt.startsWith("format=")) {
        const f = opt.slice(7);
        if (!(DISK_FORMATS as readonly string[]).includes(f))
          throw new UsageError(
            `--disk '${v}': moat reads raw and qcow2 images (format=raw|qcow2); convert a ${f} ` +
              `image with qemu-img convert -f ${f} -O qcow2 ${path} OUT.qcow2`,
          );
        spec.format = f as DiskFormat;
      } else
        throw new UsageError(
          `--disk '${v}': unknown option '${opt}' (ro, rw, bps=N, iops=N, format=raw|qcow2)`,
        );
    }
    return spec;
  });
}

/** Parses `--net` values. Bound: at most NICS_MAX NICs; TAP names unique. */
export function parseNetSpecs(values: string[]): NicConfig[] {
  if (values.length > NICS_MAX)
    throw new UsageError(`at most ${NICS_MAX} --net options, not ${values.length}`);
  const specs = values.map((v) => {
    const spec: NicConfig = {};
    for (const opt of v.split(",")) {
      const eq = opt.indexOf("=");
      const key = eq < 0 ? opt : opt.slice(0, eq);
      const val = eq < 0 ? "" : opt.slice(eq + 1);
      try {
        if (key === "tap" || key === "bridge") {
          if (spec[key] !== undefined) throw new UsageError(`--net '${v}': ${key}= is given twice`);
          checkIfName(val);
          spec[key] = val;
        } else if (key === "mac") spec.mac = formatMac(parseMac(val));
        else if (key === "bps") spec.bps = parseAmount(val, `--net '${v}': bps`);
        else if (key === "pps") spec.pps = parseAmount(val, `--net '${v}': pps`);
        else
          throw new UsageError(
            `--net '${v}': unknown option '${opt}' (tap=NAME, bridge=BR, mac=M, bps=N, pps=N)`,
          );
      } catch (e) {
        if (e instanceof TapError || e instanceof RangeError)
          throw new UsageError(`--net '${v}': ${e.message}`);
        throw e;
      }
    }
    if (spec.tap === undefined && spec.bridge === undefined)
      throw new UsageError(`--net '${v}': give tap=NAME, bridge=BR, or both`);
    return spec;
  });
  const taps = specs.flatMap((s) => (s.tap ? [s.tap] : []));
  const dup = taps.find((t, i) => taps.indexOf(t) !== i);
  if (dup) throw new UsageError(`--net: TAP ${dup} is given twice`);
  return specs;
}

/** Parses `--vsock PATH[,cid=N]`. Bound: CID 3..4294967294 (0-2 are reserved), default 3. */
export function parseVsockSpec(v: string): { path: string; cid: number } {
  const [path, ...opts] = v.split(",");
  if (!path) throw new UsageError(`--vsock '${v}': no socket path`);
  let cid = 3;
  for (const opt of opts) {
    const m = /^cid=(\d{1,10})$/.exec(opt);
    if (!m) throw new UsageError(`--vsock '${v}': unknown option '${opt}' (cid=N)`);
    cid = Number(m[1]);
    if (cid < 3 || cid > 0xffff_fffe)
      throw new UsageError(`--vsock '${v}': cid must be 3..4294967294 (0-2 are reserved)`);
  }
  return { path, cid };
}

/**
 * Parses `--balloon` (commander gives true) or `--balloon reporting=on|off`. Bound: that one
 * option only.
 */
export function parseBalloonOption(v: true | string): { free_page_reporting: boolean } {
  if (v === true) return { free_page_reporting: true };
  let reporting = true;
  for (const opt of v.split(",")) {
    const m = /^reporting=(on|off)$/.exec(opt);
    if (!m)
      throw new UsageError(
        `--balloon '${v}': unknown option '${opt}' (reporting=on or reporting=off; ` +
          `put the guest command after --)`,
      );
    reporting = m[1] === "on";
  }
  return { free_page_reporting: reporting };
}

/**
 * The names of `--agent allow=NAME,NAME...` (command or class names: info, shutdown, fsfreeze,
 * exec, file, or single commands), checked; undefined for a bare `--agent` (the default
 * policy). `hint` ends the message for a value that is not allow=...
 */
function agentNames(v: true | string, hint = ""): string[] | undefined {
  if (v === true) return undefined;
  // One name between each pair of commas: "info,,exec" is a typo, not a policy.
  const m = /^allow=([a-z-]+(?:,[a-z-]+)*)$/.exec(v);
  if (!m)
    throw new UsageError(
      `--agent '${v}': allow=NAME,... (info, shutdown, fsfreeze, exec, file, or commands)${hint}`,
    );
  const names = m[1]!.split(",");
  try {
    agentPolicy(names);
  } catch (e) {
    throw new UsageError(`--agent: ${(e as Error).message}`);
  }
  return names;
}

/** `--agent[=allow=...]`: the VM's agent setting (vm-config.ts); `hint` ends a refusal. */
export function agentSpec(v: true | string, hint = ""): { allow?: string[] } {
  const names = agentNames(v, hint);
  return names ? { allow: [...new Set(names)] } : {};
}
