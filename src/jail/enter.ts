// Inside a VM process's new namespaces (started by jail/launch.ts through util-linux unshare):
// builds the jail's root from the plan and pivots into it. Node is multi-threaded from its
// first instruction, so the namespaces themselves are made before exec; mounts and pivot_root
// act on the whole mount namespace, which every thread of this process shares.
import { existsSync, mkdirSync, readlinkSync, rmdirSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import {
  MNT_DETACH,
  MS_BIND,
  MS_NODEV,
  MS_NOEXEC,
  MS_NOSUID,
  MS_PRIVATE,
  MS_RDONLY,
  MS_REC,
  MS_REMOUNT,
  mount,
  pivotRoot,
  setHostname,
  umount2,
} from "../sys/libc.js";
import { setPassedFds } from "../sys/passed-fds.js";
import { JailError, type JailPlan } from "./plan.js";

/** Reads the plan a launcher passed; refuses anything not shaped like one. */
export function parseJailPlan(text: string): JailPlan {
  let p: JailPlan;
  try {
    p = JSON.parse(text) as JailPlan;
  } catch {
    throw new JailError("the jail plan is not JSON");
  }
  const str = (v: unknown): boolean => typeof v === "string" && v.length > 0;
  const fd = (v: unknown): boolean => Number.isInteger(v) && (v as number) >= 3;
  if (
    !p ||
    !str(p.root) ||
    !str(p.hostMntNs) ||
    !str(p.hostname) ||
    !str(p.cwd) ||
    !Array.isArray(p.binds) ||
    !p.binds.every((b) => str(b?.path) && typeof b.write === "boolean") ||
    !Array.isArray(p.devices) ||
    !p.devices.every((d) => str(d) && d.startsWith("/dev/")) ||
    (p.kvmFd !== undefined && !fd(p.kvmFd)) ||
    (p.kvmKind !== undefined && !["none", "pvm", "hardware", "unknown"].includes(p.kvmKind)) ||
    (p.taps !== undefined &&
      !(Array.isArray(p.taps) && p.taps.every((t) => fd(t?.fd) && str(t.name))))
  )
    throw new JailError("the jail plan is malformed");
  return p;
}

/** Creates an empty file or directory at `target` (inside the new root) to bind `source` on. */
function mountPoint(source: string, target: string): void {
  if (existsSync(target)) return;
  if (statSync(source).isDirectory()) mkdirSync(target, { recursive: true });
  else {
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, "");
  }
}

function bind(source: string, target: string, flags: number): void {
  mountPoint(source, target);
  // Not recursive: what is mounted below a bound directory stays out.
  mount(source, target, null, MS_BIND);
  // A bind's own flags can only be set by remounting it.
  mount(null, target, null, MS_BIND | MS_REMOUNT | flags);
}

/**
 * Becomes the jail: a read-only tmpfs root holding only the plan's binds, /dev with only its
 * devices, a /proc of this PID namespace, the host name. Must be PID 1 of a PID namespace and
 * in a mount namespace other than the launcher's (never rearranges the host's mounts).
 */
export function enterJail(plan: JailPlan): void {
  if (process.getuid?.() !== 0) throw new JailError("the jail is set up as root");
  if (process.pid !== 1)
    throw new JailError("not the first process of a new PID namespace (use moat run --jail)");
  if (readlinkSync("/proc/self/ns/mnt") === plan.hostMntNs)
    throw new JailError("still in the host's mount namespace (use moat run --jail)");
  const r = plan.root.replace(/\/+$/, "");
  // Mount points are made 0755 whatever umask the launcher left (a daemon's is 077): the
  // VM's own uid must pass through them to its files.
  const umask = process.umask(0o022);
  mount(null, "/", null, MS_REC | MS_PRIVATE);
  mount("tmpfs", r, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m,nr_inodes=4096");
  // Shorter paths first: a bind inside another bound directory goes on top of it.
  const binds = [...plan.binds].sort((a, b) => a.path.length - b.path.length);
  for (const b of binds) {
    const flags =
      MS_NOSUID | MS_NODEV | (b.write ? 0 : MS_RDONLY) | (b.exec === true ? 0 : MS_NOEXEC);
    try {
      bind(b.path, r + b.path, flags);
    } catch (e) {
      throw new JailError(`jail: cannot bind ${b.path}: ${(e as Error).message}`);
    }
  }
  mkdirSync(`${r}/dev`, { mode: 0o755 });
  for (const d of plan.devices) bind(d, r + d, MS_NOSUID | MS_NOEXEC);
  mkdirSync(`${r}/proc`, { mode: 0o555 });
  mount("proc", `${r}/proc`, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC);
  mkdirSync(r + plan.cwd, { recursive: true });
  mkdirSync(`${r}/.old-root`);
  pivotRoot(r, `${r}/.old-root`);
  process.chdir("/");
  umount2("/.old-root", MNT_DETACH);
  rmdirSync("/.old-root");
  mount(null, "/", null, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV);
  setHostname(plan.hostname);
  process.chdir(plan.cwd);
  process.umask(umask);
  setPassedFds({
    ...(plan.kvmFd !== undefined ? { kvm: plan.kvmFd } : {}),
    ...(plan.taps ? { taps: plan.taps } : {}),
  });
}
