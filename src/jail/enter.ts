// Inside a VM process's new namespaces (started by jail/launch.ts through util-linux unshare):
// builds the jail's root from the plan and pivots into it. Node is multi-threaded from its
// first instruction, so the namespaces themselves are made before exec; mounts and pivot_root
// act on the whole mount namespace, which every thread of this process shares.
import { existsSync, mkdirSync, readlinkSync, rmdirSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { constants } from "node:os";
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
  SysError,
  closeFd,
  mount,
  openPathNoLinks,
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
    !p.binds.every(
      (b) =>
        str(b?.path) &&
        typeof b.write === "boolean" &&
        (b.noLinks === undefined || typeof b.noLinks === "boolean"),
    ) ||
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

const ELOOP = constants.errno.ELOOP;

/** Creates an empty file or directory at `target` (inside the new root) to bind `source` on. */
function mountPoint(source: string, target: string): void {
  if (existsSync(target)) return;
  if (statSync(source).isDirectory()) mkdirSync(target, { recursive: true });
  else {
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, "");
  }
}

/**
 * Binds `source` on `target`. With `noLinks` (a file the daemon resolved and checked) the source
 * is opened with no link followed anywhere in its path and the bind made from that descriptor:
 * a link swapped in after the daemon's check (by whoever can write an image directory) is
 * refused here, instead of being followed as root to a file the check never saw.
 */
function bind(source: string, target: string, flags: number, noLinks: boolean): void {
  const fd = noLinks ? openPathNoLinks(source) : -1;
  const from = noLinks ? `/proc/self/fd/${fd}` : source;
  try {
    mountPoint(from, target);
    // Not recursive: what is mounted below a bound directory stays out.
    mount(from, target, null, MS_BIND);
  } finally {
    if (noLinks) closeFd(fd);
  }
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
      bind(b.path, r + b.path, flags, b.noLinks === true);
    } catch (e) {
      if (e instanceof SysError && e.errno === ELOOP)
        throw new JailError(
          `jail: ${b.path}: a symbolic link has been put in its path since it was checked`,
        );
      throw new JailError(`jail: cannot bind ${b.path}: ${(e as Error).message}`);
    }
  }
  mkdirSync(`${r}/dev`, { mode: 0o755 });
  for (const d of plan.devices) bind(d, r + d, MS_NOSUID | MS_NOEXEC, false);
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
