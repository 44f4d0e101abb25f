// Starts a process in a VM jail: new mount, PID, IPC, UTS and network namespaces made by
// util-linux unshare(1) before Node starts (a multi-threaded process cannot enter them), the
// KVM fd and ready TAP devices opened here, in the host's namespaces, and handed down.
import { spawn, type ChildProcess, type StdioOptions } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readlinkSync } from "node:fs";
import { O_RDWR, closeFd, openFd } from "../sys/libc.js";
import { Tap } from "../sys/tap.js";
import { JAIL_DEVICES, JailError, jailBinds, type JailNeeds, type JailPlan } from "./plan.js";

/** util-linux's unshare: the one program a jailed VM's start goes through. */
export const UNSHARE = "/usr/bin/unshare";
const SETPRIV = "/usr/bin/setpriv";

/** The namespaces a VM process gets: all but user (it starts as root) and cgroup. */
const UNSHARE_ARGS = [
  "--mount",
  "--uts",
  "--ipc",
  "--net",
  "--pid",
  "--fork",
  "--kill-child",
  "--propagation",
  "private",
];

export interface JailLaunch {
  needs: JailNeeds;
  /** Empty directory that becomes the jail's root (see JailPlan.root). */
  root: string;
  hostname: string;
  cwd: string;
  kvm: boolean;
  /** What the host's KVM is, for the jailed process (it cannot look). */
  kvmKind: JailPlan["kvmKind"];
  /** The VM's --net options in order; a missing tap name gets a fresh one. */
  nets: { tap?: string; bridge?: string }[];
  /** vnet header bytes for each TAP (virtio-net's). */
  vnetHdrBytes: number;
  /** Node's arguments for the jailed process, given the plan as JSON. */
  args: (plan: string) => string[];
  /** stdin, stdout, stderr. */
  stdio: ("ignore" | "inherit" | "pipe" | number)[];
  detached: boolean;
  /** Dies with this process (a stand-alone `moat run --jail`); a daemon's VMs outlive it. */
  dieWithParent?: boolean;
}

/** Can this host jail VM processes? The reason it cannot, or null. */
export function jailUnavailable(): string | null {
  if (process.getuid?.() !== 0) return "the jail needs moat to start as root";
  if (process.arch !== "x64") return "the jail is built for x86-64 hosts";
  if (!existsSync(UNSHARE)) return `${UNSHARE} is missing (apt-get install util-linux)`;
  return null;
}

/**
 * Spawns `node args` jailed; the child is unshare, whose own child (PID 1 of the new PID
 * namespace) is the jailed process. Fds opened here are closed here once handed down; on
 * failure nothing stays open. Bound: 4 TAPs (the --net limit).
 */
export function spawnJailed(l: JailLaunch): ChildProcess {
  const why = jailUnavailable();
  if (why) throw new JailError(why);
  const binds = jailBinds(l.needs);
  const fds: number[] = [];
  try {
    const plan: JailPlan = {
      root: l.root,
      hostMntNs: readlinkSync("/proc/self/ns/mnt"),
      hostname: l.hostname,
      cwd: l.cwd,
      binds,
      devices: JAIL_DEVICES,
      ...(l.kvmKind ? { kvmKind: l.kvmKind } : {}),
    };
    if (l.kvm) {
      try {
        fds.push(openFd("/dev/kvm", O_RDWR));
      } catch (e) {
        throw new JailError(`cannot use KVM: ${(e as Error).message}`);
      }
      plan.kvmFd = 2 + fds.length;
    }
    if (l.nets.length > 0) {
      plan.taps = [];
      for (const [i, n] of l.nets.entries()) {
        const name = n.tap ?? `moat${randomBytes(4).toString("hex")}n${i}`;
        const tap = Tap.open(name, l.vnetHdrBytes, n.bridge);
        fds.push(tap.fd);
        plan.taps.push({ fd: 2 + fds.length, name });
      }
    }
    const stdio: StdioOptions = [...l.stdio.slice(0, 3), ...fds];
    const jailed = [
      UNSHARE,
      ...UNSHARE_ARGS,
      "--",
      process.execPath,
      ...l.args(JSON.stringify(plan)),
    ];
    // setpriv (util-linux too) arms the parent-death signal, then becomes unshare.
    const argv = l.dieWithParent ? [SETPRIV, "--pdeathsig", "KILL", "--", ...jailed] : jailed;
    return spawn(argv[0]!, argv.slice(1), {
      stdio,
      detached: l.detached,
      cwd: "/",
    });
  } finally {
    for (const fd of fds) closeFd(fd);
  }
}
