// The daemon's start-up steps, each refusing with a DaemonError that says what to do: the jail
// check, the home (its modes and its lock), the database, cgroups, KSM as the policy wants it, and
// the API's Unix socket with its owner and mode.
import { connect } from "node:net";
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { lockHome, type HomeLock } from "./home-lock.js";
import { Store } from "./store.js";
import { Cgroups } from "./cgroup.js";
import { defaultImageDir, imageDirsProblem } from "./image-dirs.js";
import { jailUnavailable } from "../jail/launch.js";
import type { DaemonConfig } from "./config.js";
import { MoatError } from "../base/moat-error.js";
import type { Log } from "./log.js";

export class DaemonError extends MoatError {
  override readonly kind = "host";
}

/** KSM's switch: 0 stopped, 1 running, 2 stopped with every merged page unmerged. */
const KSM_RUN = "/sys/kernel/mm/ksm/run";

/** Jailed by default; a daemon that cannot jail refuses to start rather than run VMs bare. */
export function checkJail(c: DaemonConfig, log: Log): void {
  if (c.vmJail) {
    const why = jailUnavailable() ?? (c.vmUsers ? null : "the jail needs vmUsers (a uid per VM)");
    if (why)
      throw new DaemonError(
        `VMs are jailed (vmJail) and ${why}; set "vmJail": false in the config to run ` +
          "them unjailed (development only)",
      );
  } else log.warn("vmJail is off: VMs run unjailed (development only)");
}

/** The home made (or its modes set right) and locked for this daemon; its VM and image dirs. */
export function prepareHome(c: DaemonConfig): HomeLock {
  const badDirs = imageDirsProblem(c);
  if (badDirs) throw new DaemonError(badDirs);
  try {
    mkdirSync(c.home, { recursive: true, mode: 0o711 });
    // Group moat must be able to pass through to the socket (traverse, not list).
    const m = statSync(c.home).mode & 0o777;
    if ((m & 0o011) !== 0o011) chmodSync(c.home, m | 0o011);
  } catch (e) {
    throw new DaemonError(
      `cannot create ${c.home}: ${(e as Error).message} (run as root, or set MOAT_HOME)`,
    );
  }
  // Everything the daemon writes (database, WAL, logs) is private unless it says otherwise.
  process.umask(0o077);
  let lock: HomeLock;
  try {
    lock = lockHome(c.home);
  } catch (e) {
    throw new DaemonError((e as Error).message);
  }
  // 0711: a VM process (its own uid) passes through to its own directory, lists none.
  mkdirSync(join(c.home, "vms"), { recursive: true, mode: 0o711 });
  chmodSync(join(c.home, "vms"), 0o711);
  // The default image directory (the quick start's disks go there): root's alone.
  const images = defaultImageDir(c);
  if (images) mkdirSync(images, { recursive: true, mode: 0o700 });
  return lock;
}

/** The VM records and tokens; a record that cannot be saved is said on `log`. */
export function openStore(home: string, log: Log): Store {
  const store = new Store(join(home, "moat.db"));
  store.onUnsaved = (id, e) => {
    const name = store.vm(id)?.name ?? id;
    if (e)
      log.error(
        `VM '${name}': its record was not saved (${e.message}); kept in memory and written when there is room`,
        { vm: name, id },
      );
    else log.info(`VM '${name}': its record is saved again`, { vm: name, id });
  };
  // Token hashes and the audit head: for root alone.
  for (const f of ["moat.db", "moat.db-wal", "moat.db-shm"])
    if (existsSync(join(home, f))) chmodSync(join(home, f), 0o600);
  return store;
}

export function detectCgroups(): Cgroups {
  try {
    return Cgroups.detect();
  } catch (e) {
    throw new DaemonError(`cgroups: ${(e as Error).message}`);
  }
}

/**
 * KSM merges identical pages across processes: a side channel between VMs (an attacker can time
 * copy-on-write faults on pages it guesses another guest holds), so it is turned on only under
 * the one-domain policy, and VMs mark their RAM mergeable only then (--ksm).
 */
export function setKsm(c: DaemonConfig, log: Log): void {
  if (c.policy.ksmDomain !== undefined) enableKsm(c.policy.ksmDomain, log);
  else stopKsm(log);
}

function enableKsm(domain: string, log: Log): void {
  try {
    writeFileSync(KSM_RUN, "1");
    log.info(`KSM on: every VM on this host is in trust domain '${domain}'`);
  } catch (e) {
    throw new DaemonError(
      `policy.ksmDomain is set but KSM cannot be turned on: ${(e as Error).message}`,
    );
  }
}

/**
 * Without the one-domain policy KSM must not run (an earlier daemon under that policy, or
 * another program, may have left it on): it is stopped and its merged pages unmerged.
 */
function stopKsm(log: Log): void {
  let on: boolean;
  try {
    on = readFileSync(KSM_RUN, "utf8").trim() === "1";
  } catch {
    return; // no KSM in this kernel
  }
  if (!on) return;
  try {
    writeFileSync(KSM_RUN, "2");
    log.info(
      "KSM was on; stopped and unmerged (no policy.ksmDomain: merging pages across trust domains is a side channel)",
    );
  } catch (e) {
    log.warn(
      `warning: KSM is on and cannot be stopped (${(e as Error).message}); moat audit reports it`,
    );
  }
}

/** Serves `app` on the configured Unix socket, root:socketGroup 0660. */
export async function listenUnix(app: FastifyInstance, c: DaemonConfig, log: Log): Promise<void> {
  const path = c.socket;
  // The home's lock keeps out a second daemon on this home; one on another home configured
  // with the same socket would take this one's API over, so a socket that answers is kept.
  if (await answers(path))
    throw new DaemonError(`something already serves ${path} (a daemon with another home?)`);
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
    else throw new DaemonError(`${path} exists and is not a socket`);
  } catch (e) {
    if (e instanceof DaemonError) throw e;
  }
  await app.listen({ path });
  chmodSync(path, 0o660);
  const gid = socketGid(c.socketGroup, log);
  if (gid !== undefined) chownSync(path, 0, gid);
  log.info(`API on ${path} (root:${gid !== undefined ? c.socketGroup : "root"} 0660)`);
}

/** Whether a process accepts connections on the Unix socket at `path`. */
function answers(path: string): Promise<boolean> {
  return new Promise((res) => {
    const s = connect(path);
    s.once("connect", () => {
      s.destroy();
      res(true);
    });
    s.once("error", () => res(false));
  });
}

/** The gid of the socket group, created (as a system group) when root and it is missing. */
function socketGid(group: string, log: Log): number | undefined {
  const find = (): number | undefined => {
    const line = readFileSync("/etc/group", "utf8")
      .split("\n")
      .find((l) => l.startsWith(`${group}:`));
    return line ? Number(line.split(":")[2]) : undefined;
  };
  let gid = find();
  if (gid === undefined && process.getuid?.() === 0) {
    try {
      execFileSync("groupadd", ["--system", group], { stdio: "ignore" });
      log.info(`created the system group '${group}' for API socket access`);
      gid = find();
    } catch {
      log.warn(`group '${group}' is missing and could not be created; socket is root-only`);
    }
  }
  return gid;
}
