// Per-VM control groups for the host daemon, on cgroup v1, v2, or a mix of both. Where each
// controller lives is read from /proc/self/mountinfo (a v1 "cgroup" mount names its controllers
// in its super options; a "cgroup2" mount lists them in cgroup.controllers), never assumed from
// /sys/fs/cgroup's layout. Every path is resolved under an injectable root so that tests can run
// against a fixture tree.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { MoatError } from "../base/moat-error.js";

export interface CgroupLimits {
  /** 1..10000, v2 cpu.weight semantics (100 is the default share). */
  cpuWeight?: number;
  /** Hard cap as a fraction of one CPU (0.2 = 20% of a core, 1.5 = 1.5 cores), 0.01..1024. */
  cpuMax?: number;
  /** CPUs the group may run on; each must be in the parent group's effective cpuset. */
  cpus?: number[];
  /** Memory limit in bytes, at least 16 MiB. */
  memoryBytes?: number;
}

export class CgroupError extends MoatError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, "host", options);
  }
}

type Controller = "cpu" | "cpuacct" | "cpuset" | "memory";
const CONTROLLERS: readonly Controller[] = ["cpuset", "cpu", "cpuacct", "memory"];

/** One mounted hierarchy; co-mounted v1 controllers (cpu,cpuacct) share one. */
interface Hierarchy {
  version: "v1" | "v2";
  mount: string; // absolute, under the injected root
  mountRoot: string; // the cgroup that is mounted there (mountinfo field 4)
  ownPath?: string; // this process's cgroup in it, from /proc/self/cgroup
  enable: string[]; // v2: controllers to turn on in the subtree_control of parents
}

const PERIOD_US = 100_000;
const MIN_MEMORY = 16 * 1024 * 1024;
const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** Finds the hierarchies that serve cpu, cpu accounting, cpuset and memory, and makes groups. */
export class Cgroups {
  /** "hybrid" when the controllers moat uses are split between v1 and v2 hierarchies. */
  readonly version: "v1" | "v2" | "hybrid";

  private constructor(private readonly hier: Partial<Record<Controller, Hierarchy>>) {
    const versions = new Set(Object.values(hier).map((h) => h.version));
    this.version = versions.size > 1 ? "hybrid" : [...versions][0];
  }

  /**
   * Reads `<root>/proc/self/mountinfo` and `<root>/proc/self/cgroup`. Throws CgroupError when no
   * hierarchy serves cpu or memory, or nothing accounts CPU time; cpuset is optional.
   */
  static detect(root = "/"): Cgroups {
    const mountinfo = readText(join(root, "proc/self/mountinfo"));
    const own = parseProcCgroup(readText(join(root, "proc/self/cgroup")));
    const hier: Partial<Record<Controller, Hierarchy>> = {};
    let anyV2: Hierarchy | undefined;
    for (const line of mountinfo.split("\n")) {
      const m = parseMountinfoLine(line);
      if (!m || (m.fstype !== "cgroup" && m.fstype !== "cgroup2")) continue;
      const mount = join(root, m.mountPoint);
      if (m.fstype === "cgroup") {
        const served = m.superOptions.split(",").filter(isController);
        if (served.length === 0) continue;
        const ownPath = served.map((c) => own.get(c)).find((p) => p !== undefined);
        const h: Hierarchy = { version: "v1", mount, mountRoot: m.root, ownPath, enable: [] };
        for (const c of served) hier[c] ??= h;
      } else {
        const listed = readOptional(join(mount, "cgroup.controllers")).split(/\s+/);
        const h: Hierarchy = {
          version: "v2",
          mount,
          mountRoot: m.root,
          ownPath: own.get("0"),
          enable: [],
        };
        for (const c of CONTROLLERS) {
          // cpuacct is not a v2 controller: v2's cpu.stat accounts CPU time in every group.
          if (c === "cpuacct" || !listed.includes(c) || hier[c]) continue;
          hier[c] = h;
          h.enable.push(c);
        }
        anyV2 ??= h;
      }
    }
    for (const c of ["cpu", "memory"] as const) {
      if (!hier[c]) {
        throw new CgroupError(
          `no cgroup hierarchy serves the ${c} controller (looked in ${join(root, "proc/self/mountinfo")} ` +
            `for a v1 "cgroup" mount with ${c} in its options or a cgroup2 mount listing it)`,
        );
      }
    }
    // CPU time: v1 cpuacct; else the cgroup2 hierarchy, whose cpu.stat has usage_usec even
    // where the cpu controller is not enabled.
    hier.cpuacct ??= hier.cpu!.version === "v2" ? hier.cpu : anyV2;
    if (!hier.cpuacct) throw new CgroupError("no cgroup hierarchy accounts CPU time (no cpuacct)");
    return new Cgroups(hier);
  }

  /**
   * Creates (or reuses) `<parent>/<name>` in every hierarchy and applies `limits`. `parent` is a
   * relative path under each hierarchy's mount; by default it is this process's own cgroup +
   * "/moat", so a daemon inside a container's cgroup nests its VMs inside it. Bounds: name is
   * [A-Za-z0-9_.-]{1,64} without "..", plus those of {@link VmCgroup.setLimits}.
   */
  create(name: string, limits: CgroupLimits, parent?: string): VmCgroup {
    if (!NAME.test(name) || name.includes("..")) {
      throw new CgroupError(
        `name: ${JSON.stringify(name)} must match [A-Za-z0-9_.-]{1,64}, no ".."`,
      );
    }
    const parentSegs = parent === undefined ? undefined : parent.split("/");
    if (parentSegs && parentSegs.some((s) => !NAME.test(s) || s.includes(".."))) {
      throw new CgroupError(`parent: ${JSON.stringify(parent)} must be a relative path of names`);
    }
    checkLimits(limits);
    const dirs = new Map<Hierarchy, string>();
    const created: string[] = [];
    try {
      for (const h of this.hierarchies()) {
        let dir = parentSegs ? h.mount : ownDir(h);
        for (const seg of parentSegs ?? ["moat"]) dir = makeChild(h, dir, seg);
        const leaf = join(dir, name);
        if (!existsSync(leaf)) created.push(leaf);
        dirs.set(h, makeChild(h, dir, name));
      }
      const vm = new VmCgroup(this.withDirs((h) => dirs.get(h)!));
      vm.setLimits(limits);
      return vm;
    } catch (e) {
      for (const d of created) tryRmdir(d); // leave no half-made group behind
      throw e;
    }
  }

  /**
   * Re-opens a group from {@link VmCgroup.paths} recorded earlier. Bounds: one existing
   * directory per controller, each inside that controller's hierarchy.
   */
  open(paths: Record<string, string>): VmCgroup {
    for (const k of Object.keys(paths)) {
      if (!isController(k) || !this.hier[k])
        throw new CgroupError(`paths: unknown controller ${k}`);
    }
    return new VmCgroup(
      this.withDirs((h, c) => {
        const dir = paths[c];
        if (typeof dir !== "string" || !isAbsolute(dir) || resolve(dir) !== dir) {
          throw new CgroupError(`paths.${c}: missing or not an absolute normalised path`);
        }
        if (!dir.startsWith(h.mount + sep)) {
          throw new CgroupError(`paths.${c}: ${dir} is not inside the ${c} hierarchy ${h.mount}`);
        }
        if (!existsSync(dir)) throw new CgroupError(`paths.${c}: ${dir} does not exist`);
        return dir;
      }),
    );
  }

  private hierarchies(): Hierarchy[] {
    return [...new Set(Object.values(this.hier))];
  }

  private withDirs(dirOf: (h: Hierarchy, c: Controller) => string): Map<Controller, Group> {
    const groups = new Map<Controller, Group>();
    for (const c of CONTROLLERS) {
      const h = this.hier[c];
      if (h) groups.set(c, { h, dir: dirOf(h, c) });
    }
    return groups;
  }
}

interface Group {
  h: Hierarchy;
  dir: string;
}

/** One VM's group: a directory in each hierarchy. Made by {@link Cgroups.create} or open. */
export class VmCgroup {
  /** controller -> absolute directory; JSON-serialisable, for {@link Cgroups.open}. */
  readonly paths: Record<string, string>;

  /** @internal */
  constructor(private readonly groups: Map<Controller, Group>) {
    this.paths = Object.fromEntries([...groups].map(([c, g]) => [c, g.dir]));
  }

  /**
   * Writes the given limits (absent fields stay as they are). Bounds, checked before anything
   * is written: cpuWeight integer 1..10000; cpuMax 0.01..1024 CPUs (the kernel's minimum quota
   * is 1 ms per 100 ms period); cpus non-empty integers >= 0 in the parent's effective cpuset;
   * memoryBytes integer >= 16 MiB.
   */
  setLimits(l: CgroupLimits): void {
    checkLimits(l);
    const cpuset = this.groups.get("cpuset");
    if (l.cpus !== undefined) {
      if (!cpuset) throw new CgroupError("cpus: this host has no cpuset controller");
      const allowed = parentCpus(cpuset);
      const bad = l.cpus.filter((n) => !allowed.has(n));
      if (bad.length > 0) {
        throw new CgroupError(
          `cpus: ${bad.join(",")} not in the parent's effective cpuset ${formatCpus([...allowed])}`,
        );
      }
    }
    const cpu = this.group("cpu");
    const v1 = cpu.h.version === "v1";
    if (l.cpuWeight !== undefined) {
      const shares = Math.max(2, Math.round((l.cpuWeight * 1024) / 100));
      writeControl(cpu.dir, v1 ? "cpu.shares" : "cpu.weight", String(v1 ? shares : l.cpuWeight));
    }
    if (l.cpuMax !== undefined) {
      const quota = Math.round(l.cpuMax * PERIOD_US);
      if (v1) {
        writeControl(cpu.dir, "cpu.cfs_period_us", String(PERIOD_US));
        writeControl(cpu.dir, "cpu.cfs_quota_us", String(quota));
      } else {
        writeControl(cpu.dir, "cpu.max", `${quota} ${PERIOD_US}`);
      }
    }
    if (l.cpus !== undefined) writeControl(cpuset!.dir, "cpuset.cpus", formatCpus(l.cpus));
    if (l.memoryBytes !== undefined) {
      const mem = this.group("memory");
      const file = mem.h.version === "v1" ? "memory.limit_in_bytes" : "memory.max";
      writeControl(mem.dir, file, String(l.memoryBytes));
    }
  }

  /** Moves every thread of `pid` into the group in each hierarchy (bound: pid integer > 0). */
  addProcess(pid: number): void {
    if (!Number.isSafeInteger(pid) || pid <= 0) throw new CgroupError(`pid: ${pid} is not a pid`);
    for (const dir of this.dirs()) writeControl(dir, "cgroup.procs", String(pid));
  }

  /** Processes in the group in any hierarchy, ascending. */
  pids(): number[] {
    const all = new Set<number>();
    for (const dir of this.dirs()) for (const p of readPids(dir)) all.add(p);
    return [...all].sort((a, b) => a - b);
  }

  /** CPU time used by the group since it was made, in microseconds. */
  cpuUsageMicros(): number {
    const g = this.group("cpuacct");
    if (g.h.version === "v1") {
      return Number(BigInt(readControl(g.dir, "cpuacct.usage").trim()) / 1000n);
    }
    const m = /^usage_usec (\d+)$/m.exec(readControl(g.dir, "cpu.stat"));
    if (!m) throw new CgroupError(`${join(g.dir, "cpu.stat")}: no usage_usec line`);
    return Number(m[1]);
  }

  /** Memory charged to the group now, in bytes. */
  memoryBytes(): number {
    const g = this.group("memory");
    const file = g.h.version === "v1" ? "memory.usage_in_bytes" : "memory.current";
    return Number(readControl(g.dir, file).trim());
  }

  /** The memory limit in bytes, or undefined when unlimited. */
  memoryLimitBytes(): number | undefined {
    const g = this.group("memory");
    const text = readControl(g.dir, g.h.version === "v1" ? "memory.limit_in_bytes" : "memory.max");
    if (text.trim() === "max") return undefined;
    const n = Number(text.trim());
    // v1 reports "unlimited" as the largest page multiple below 2^63.
    return n >= Number.MAX_SAFE_INTEGER ? undefined : n;
  }

  /**
   * Removes the group's directories. Kills nothing: throws CgroupError while processes remain.
   * Already-removed directories are not an error.
   */
  remove(): void {
    const left = this.pids();
    if (left.length > 0) {
      throw new CgroupError(
        `cannot remove ${this.dirs()[0]}: processes remain (${left.join(" ")})`,
      );
    }
    for (const dir of this.dirs()) {
      try {
        rmdirSync(dir);
      } catch (e) {
        if (errno(e) === "ENOENT") continue;
        throw new CgroupError(`cannot remove ${dir}: ${errno(e)} (child groups or processes?)`, {
          cause: e,
        });
      }
    }
  }

  private group(c: Controller): Group {
    return this.groups.get(c)!; // detect() guarantees cpu, cpuacct and memory
  }

  /** One directory per hierarchy, cpuset first so a v1 task never lands in an empty cpuset. */
  private dirs(): string[] {
    return [...new Set([...this.groups.values()].map((g) => g.dir))];
  }
}

// --- limits -------------------------------------------------------------------------------

function checkLimits(l: CgroupLimits): void {
  for (const k of Object.keys(l)) {
    if (!["cpuWeight", "cpuMax", "cpus", "memoryBytes"].includes(k)) {
      throw new CgroupError(`${k}: not a cgroup limit`);
    }
  }
  const w = l.cpuWeight;
  if (w !== undefined && !(Number.isInteger(w) && w >= 1 && w <= 10000)) {
    throw new CgroupError(`cpuWeight: ${w} is not an integer in 1..10000`);
  }
  const m = l.cpuMax;
  if (m !== undefined && !(Number.isFinite(m) && m >= 0.01 && m <= 1024)) {
    throw new CgroupError(`cpuMax: ${m} is not in 0.01..1024 CPUs`);
  }
  const c = l.cpus;
  if (c !== undefined) {
    if (!Array.isArray(c) || c.length === 0)
      throw new CgroupError("cpus: must list at least one CPU");
    const bad = c.filter((n) => !Number.isSafeInteger(n) || n < 0);
    if (bad.length > 0) throw new CgroupError(`cpus: ${bad.join(",")} not integers >= 0`);
  }
  const b = l.memoryBytes;
  if (b !== undefined && !(Number.isSafeInteger(b) && b >= MIN_MEMORY)) {
    throw new CgroupError(`memoryBytes: ${b} is not an integer >= 16 MiB`);
  }
}

/** The parent's effective cpuset; a fixture may only have it further up. */
function parentCpus(g: Group): Set<number> {
  const files =
    g.h.version === "v1" ? ["cpuset.effective_cpus", "cpuset.cpus"] : ["cpuset.cpus.effective"];
  for (let dir = dirname(g.dir); dir.startsWith(g.h.mount); dir = dirname(dir)) {
    for (const f of files) {
      const text = readOptional(join(dir, f)).trim();
      if (text) return parseCpus(text);
    }
    if (dir === g.h.mount) break;
  }
  throw new CgroupError(`cpus: cannot read the effective cpuset above ${g.dir}`);
}

function parseCpus(text: string): Set<number> {
  const out = new Set<number>();
  for (const part of text.split(",")) {
    const [a, b = a] = part.split("-").map(Number);
    for (let n = a; n <= b; n++) out.add(n);
  }
  return out;
}

function formatCpus(cpus: number[]): string {
  const s = [...new Set(cpus)].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < s.length;) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j] + 1) j++;
    out.push(j > i ? `${s[i]}-${s[j]}` : `${s[i]}`);
    i = j + 1;
  }
  return out.join(",");
}

// --- making groups ------------------------------------------------------------------------

/** This process's own group in `h`, as a directory. */
function ownDir(h: Hierarchy): string {
  if (h.ownPath === undefined)
    throw new CgroupError(`no entry for ${h.mount} in /proc/self/cgroup`);
  const rel = relative(h.mountRoot, h.ownPath);
  if (rel.startsWith("..") || isAbsolute(rel)) {
    throw new CgroupError(
      `this process's cgroup ${h.ownPath} is not visible under ${h.mount}; pass a parent`,
    );
  }
  return join(h.mount, rel);
}

/** mkdir `dir/name` (reusing it), made ready for processes and limits. */
function makeChild(h: Hierarchy, dir: string, name: string): string {
  if (h.version === "v2" && h.enable.length > 0) {
    // v2 shows a controller's files in a child only once the parent delegates it.
    const on = readOptional(join(dir, "cgroup.subtree_control")).split(/\s+/);
    const missing = h.enable.filter((c) => !on.includes(c));
    if (missing.length > 0) {
      writeControl(dir, "cgroup.subtree_control", missing.map((c) => `+${c}`).join(" "));
    }
  }
  const child = join(dir, name);
  try {
    mkdirSync(child);
  } catch (e) {
    if (errno(e) !== "EEXIST")
      throw new CgroupError(`cannot create ${child}: ${errno(e)}`, { cause: e });
  }
  // A new v1 cpuset has no CPUs or memory nodes, and a task cannot join it until it has both.
  if (h.version === "v1" && existsSync(join(dir, "cpuset.cpus"))) {
    for (const f of ["cpuset.cpus", "cpuset.mems"]) {
      if (readOptional(join(child, f)).trim() === "")
        writeControl(child, f, readControl(dir, f).trim());
    }
  }
  return child;
}

function tryRmdir(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // best effort while unwinding an earlier error
  }
}

// --- files --------------------------------------------------------------------------------

const HINTS: Record<string, string> = {
  EACCES: "permission denied: needs root or a delegated cgroup",
  EPERM: "permission denied: needs root or a delegated cgroup",
  EINVAL: "the kernel rejected the value",
  EBUSY: "busy: in v2 a group with processes of its own cannot delegate controllers",
  ENOSPC: "the group has no CPUs or memory nodes",
  ESRCH: "no such process",
  ENOENT: "no such control file: is the controller enabled here?",
};

function writeControl(dir: string, file: string, value: string): void {
  const path = join(dir, file);
  try {
    writeFileSync(path, value);
  } catch (e) {
    const code = errno(e);
    throw new CgroupError(
      `cannot write "${value}" to ${path}: ${code} (${HINTS[code] ?? "error"})`,
      {
        cause: e,
      },
    );
  }
}

function readControl(dir: string, file: string): string {
  return readText(join(dir, file));
}

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new CgroupError(`cannot read ${path}: ${errno(e)}`, { cause: e });
  }
}

function readOptional(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

function readPids(dir: string): number[] {
  const text = existsSync(dir) ? readControl(dir, "cgroup.procs") : "";
  return text.split("\n").filter(Boolean).map(Number);
}

function errno(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? String(e);
}

function isController(s: string): s is Controller {
  return (CONTROLLERS as readonly string[]).includes(s);
}

// --- /proc parsing ------------------------------------------------------------------------

/** mountinfo(5): `id parent maj:min root mountpoint opts [optional...] - fstype source superopts`. */
function parseMountinfoLine(line: string) {
  const f = line.split(" ");
  const dash = f.indexOf("-", 6);
  if (dash < 0 || f.length < dash + 4) return undefined;
  return {
    root: unescapeOctal(f[3]),
    mountPoint: unescapeOctal(f[4]),
    fstype: f[dash + 1],
    superOptions: f[dash + 3],
  };
}

/** The kernel writes space, tab, newline and backslash in paths as \ooo. */
function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** /proc/self/cgroup: `id:controllers:path`; v1 keyed by controller, v2 by "0". */
function parseProcCgroup(text: string): Map<string, string> {
  const own = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    if (m[2] === "") own.set("0", m[3]);
    else for (const c of m[2].split(",")) own.set(c, m[3]);
  }
  return own;
}
