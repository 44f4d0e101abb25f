// What the daemon reads about the host: CPUs and the physical cores they belong to, memory
// total and available, memory pressure. Everything is read under an injectable root so tests can
// describe another machine (an SMT host, a host short of memory) with a fixture tree.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

export interface HostCpu {
  cpu: number;
  /** Physical core: CPUs with the same core share caches and execution units (SMT siblings). */
  core: string;
}

export interface HostMemory {
  totalBytes: number;
  availableBytes: number;
  /** /proc/pressure/memory "some avg10", percent of time stalled; undefined without PSI. */
  pressureSome10?: number;
}

function read(root: string, p: string): string {
  return readFileSync(join(root, p), "utf8");
}

/** The online CPUs and their physical cores (package id + core id). */
export function hostCpus(root = "/"): HostCpu[] {
  const base = "sys/devices/system/cpu";
  const cpus: HostCpu[] = [];
  for (const e of readdirSync(join(root, base))) {
    const m = /^cpu(\d+)$/.exec(e);
    if (!m) continue;
    const cpu = Number(m[1]);
    let online = true;
    try {
      online = read(root, `${base}/${e}/online`).trim() !== "0";
    } catch {
      // cpu0 often has no `online` file: it cannot go offline.
    }
    if (!online) continue;
    let core = String(cpu);
    try {
      const pkg = read(root, `${base}/${e}/topology/physical_package_id`).trim();
      const id = read(root, `${base}/${e}/topology/core_id`).trim();
      core = `${pkg}:${id}`;
    } catch {
      // No topology (some containers): count every CPU as its own core.
    }
    cpus.push({ cpu, core });
  }
  return cpus.sort((a, b) => a.cpu - b.cpu);
}

/** MemTotal, MemAvailable and PSI from /proc. */
export function hostMemory(root = "/"): HostMemory {
  const info = read(root, "proc/meminfo");
  const field = (name: string): number => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(info);
    if (!m) throw new Error(`/proc/meminfo has no ${name}`);
    return Number(m[1]) * 1024;
  };
  const mem: HostMemory = { totalBytes: field("MemTotal"), availableBytes: field("MemAvailable") };
  try {
    const m = /^some avg10=([\d.]+)/m.exec(read(root, "proc/pressure/memory"));
    if (m) mem.pressureSome10 = Number(m[1]);
  } catch {
    // Kernels without PSI: pressure is judged by MemAvailable alone.
  }
  return mem;
}

/** Resident set of a process in bytes (VmRSS), or undefined if it is gone. */
export function processRss(pid: number, root = "/"): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(read(root, `proc/${pid}/status`));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** The fields of /proc/PID/stat (or a thread's) after the command name, from field 3 on. */
function statFields(path: string, root: string): string[] | undefined {
  try {
    const s = read(root, path);
    // The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    return s.slice(s.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/**
 * Field 22 of /proc/PID/stat (start time in clock ticks): with the PID, names one live process;
 * undefined once it has ended.
 */
export function processStart(pid: number, root = "/"): string | undefined {
  const f = statFields(`proc/${pid}/stat`, root);
  // A zombie (Z) or dead (X) process has ended; only its parent has not reaped it yet.
  if (!f || f[0] === "Z" || f[0] === "X") return undefined;
  return f[19];
}

/**
 * User + system CPU seconds of one process (all threads), or of one of its threads when `tid`
 * is given, from /proc (clock ticks of 1/100 s, as on every Linux architecture moat runs on).
 */
export function processCpuSeconds(pid: number, root = "/", tid?: number): number | undefined {
  const f = statFields(
    tid === undefined ? `proc/${pid}/stat` : `proc/${pid}/task/${tid}/stat`,
    root,
  );
  return f ? (Number(f[11]) + Number(f[12])) / 100 : undefined;
}

/**
 * A jailed VM's supervised process is util-linux unshare; the VMM is its only child. The
 * VMM's host pid for `pid` (itself when it is not unshare), or undefined when it has none yet.
 */
export function vmmProcess(pid: number, root = "/"): number | undefined {
  let comm: string;
  try {
    comm = readFileSync(`${root}proc/${pid}/comm`, "utf8").trim();
  } catch {
    return undefined;
  }
  if (comm !== "unshare") return pid;
  try {
    const c = readFileSync(`${root}proc/${pid}/task/${pid}/children`, "utf8").trim();
    const first = Number(c.split(" ")[0]);
    return Number.isInteger(first) && first > 0 ? first : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Host thread ids for thread ids a process reported from inside its PID namespace, read from
 * the NSpid lines of /proc/PID/task/TID/status (host id first, innermost last). Bound: the
 * process's own threads; an id it has no thread for is left out.
 */
export function hostThreadIds(pid: number, nsTids: readonly number[], root = "/"): number[] {
  const map = new Map<number, number>();
  let tasks: string[];
  try {
    tasks = readdirSync(`${root}proc/${pid}/task`);
  } catch {
    return [];
  }
  for (const t of tasks) {
    try {
      const s = readFileSync(`${root}proc/${pid}/task/${t}/status`, "utf8");
      const m = /^NSpid:\s+([\d\s]+)$/m.exec(s);
      const ids = m ? m[1]!.trim().split(/\s+/).map(Number) : [Number(t)];
      map.set(ids[ids.length - 1]!, ids[0]!);
    } catch {
      // The thread ended.
    }
  }
  return nsTids.map((t) => map.get(t)).filter((t): t is number => t !== undefined);
}

/** A VM process: `moat run` with its control socket at an absolute path. */
export interface VmProcess {
  pid: number;
  /** Its --config file (a daemon's VM: `vms/<id>.json`), or its --control socket. */
  path: string;
  /** Its --name, if it has one. */
  name?: string;
}

/**
 * The VM processes on the host: processes running `moat vmm` with its config at an absolute
 * path, as a daemon starts every VM, or `moat run` with a control socket at an absolute path (a
 * relative one is a person's `moat run`). A jailed VM is listed once, as the unshare it runs
 * under (its VMM dies with that one), or as its VMM when the unshare is gone. Bound: one pass
 * over /proc.
 */
export function vmProcesses(root = "/"): VmProcess[] {
  const out: VmProcess[] = [];
  for (const e of readdirSync(join(root, "proc"))) {
    if (!/^\d+$/.test(e)) continue;
    let argv: string[];
    try {
      argv = read(root, `proc/${e}/cmdline`).split("\0");
    } catch {
      continue; // gone
    }
    // moat (bin/moat.js, or a link named moat) before its `vmm` or `run`; then where it lives.
    const cmd = argv.findIndex((a) => a === "vmm" || a === "run");
    if (cmd < 0 || !argv.slice(0, cmd).some((a) => /(^|\/)moat(\.js)?$/.test(a))) continue;
    const after = (opt: string): string | undefined =>
      argv.includes(opt) ? argv[argv.indexOf(opt) + 1] : undefined;
    const where = argv[cmd] === "vmm" ? after("--config") : after("--control");
    if (!where?.startsWith("/")) continue;
    const pid = Number(e);
    if (argv.some((a) => a.startsWith("--in-jail=")) && underUnshare(pid, root)) continue;
    const name = after("--name");
    out.push({ pid, path: where, ...(name !== undefined ? { name } : {}) });
  }
  return out.sort((a, b) => a.pid - b.pid);
}

/** Is `pid` the VMM under a jail's unshare (which stands for it)? */
function underUnshare(pid: number, root: string): boolean {
  let ppid: number;
  try {
    ppid = Number(/^PPid:\s+(\d+)/m.exec(read(root, `proc/${pid}/status`))?.[1]);
  } catch {
    return false;
  }
  const slashed = root.endsWith("/") ? root : `${root}/`;
  return ppid > 1 && ppid !== pid && vmmProcess(ppid, slashed) === pid;
}
