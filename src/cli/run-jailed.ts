// `moat run --jail`: this process stays in the host's namespaces as the launcher; the VM runs
// in a jail (jail/launch.ts) as `moat vmm --in-jail=PLAN --config FILE` with the config its
// flags made, its own uid and the seccomp filter, and its exit status becomes ours.
import { existsSync, mkdtempSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { constants, tmpdir } from "node:os";
import { join } from "node:path";
import { jailUnavailable, spawnJailed } from "../jail/launch.js";
import { vmmProcess } from "../host/host-facts.js";
import { EndWatch, type ProcessEnd } from "../host/process-end.js";
import { TapError } from "../sys/tap.js";
import { UsageError } from "./usage-error.js";
import { parseVncAddress } from "../vmm/vnc-server.js";
import type { KvmKind } from "../kvm/kvm-probe.js";
import type { VmConfig } from "../vmm/vm-config.js";
import { jailDevices } from "../vmm/jail-needs.js";

/** A stand-alone jailed VM's uid when --jail-user is not given: unique while its launcher lives. */
export const STANDALONE_UID_BASE = 1_901_000_000;

/** How `moat run` was asked to run the guest, beside the VM's config. */
export interface JailedRun {
  command: string[];
  timing?: boolean;
  rawConsole?: boolean;
}

/**
 * Runs the VM of `c` (its accelerator resolved, `kind` the host's KVM) jailed, as `moat vmm`
 * with the config in a file only root can read; resolves to its exit status (128 + signal when
 * it was killed).
 */
export async function runJailed(
  c: VmConfig & { accel: "soft" | "kvm" },
  kind: KvmKind,
  o: JailedRun,
): Promise<number> {
  const why = jailUnavailable();
  if (why) throw new UsageError(`--jail: ${why}`);
  if (c.host.vnc !== undefined && !("path" in parseVncAddress(c.host.vnc)))
    throw new UsageError(
      "--jail: a jailed VM has no network of its own to listen on; give --vnc a socket path",
    );
  // Jailed means its own uid and the seccomp filter, unless the caller chose them.
  const id = STANDALONE_UID_BASE + process.pid;
  const config: VmConfig = {
    ...c,
    host: {
      ...c.host,
      seccomp: c.host.seccomp ?? "kill",
      jail_user: c.host.jail_user ?? { uid: id, gid: id },
    },
  };
  // The jailed VMM reads its config before it enters the jail: it need not be bound there.
  const dir = mkdtempSync(join(tmpdir(), "moat-run-"));
  let root: string | undefined;
  try {
    const configFile = join(dir, "config.json");
    writeFileSync(configFile, JSON.stringify(config), { mode: 0o600, flag: "wx" });
    root = mkdtempSync(join(tmpdir(), "moat-jail-"));
    const devices = jailDevices(config, c.accel, { checked: false });
    const flags = [
      "--config",
      configFile,
      "--flag-names",
      ...(o.timing ? ["--timing"] : []),
      ...(o.rawConsole ? ["--raw-console"] : []),
    ];
    let child;
    try {
      child = spawnJailed({
        ...devices,
        root,
        hostname: `moat-${c.name ?? "vm"}`,
        cwd: process.cwd(),
        kvmKind: kind,
        args: (plan) => [
          process.argv[1]!,
          "vmm",
          `--in-jail=${plan}`,
          ...flags,
          "--",
          ...o.command,
        ],
        stdio: ["inherit", "inherit", "inherit"],
        detached: false,
        dieWithParent: true,
      });
    } catch (e) {
      if (e instanceof TapError) throw new UsageError(e.message);
      throw e;
    }
    const unshare = child.pid;
    const vmmEnd = watchVmmEnd(unshare);
    // A terminal's Ctrl-C reaches the VM itself (same process group); a SIGTERM sent to
    // this launcher is passed on to it.
    const onInt = (): void => {};
    const onTerm = (): void => {
      const vmm = unshare !== undefined ? vmmProcess(unshare) : undefined;
      if (vmm !== undefined) process.kill(vmm, "SIGTERM");
    };
    process.on("SIGINT", onInt);
    process.on("SIGTERM", onTerm);
    try {
      return await new Promise<number>((res, rej) => {
        child.on("error", (e) => rej(new UsageError(`--jail: ${e.message}`)));
        child.on("exit", (childCode, childSignal) => {
          // The VMM's own end: unshare before util-linux 2.40 exits 1 when it is SIGKILLed.
          const { code, signal } = vmmEnd.end() ?? { code: childCode, signal: childSignal };
          if (code !== null) res(code);
          else res(128 + (signal ? (constants.signals[signal] ?? 0) : 0));
        });
      });
    } finally {
      vmmEnd.close();
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
    }
  } finally {
    if (root !== undefined) rmdirSync(root);
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A pidfd on the VMM under `unshare` (process-end.ts), once unshare has forked it: looked for
 * every 10 ms until it is found or unshare is gone.
 */
function watchVmmEnd(unshare: number | undefined): {
  end: () => ProcessEnd | undefined;
  close: () => void;
} {
  let held: EndWatch | undefined;
  let timer: NodeJS.Timeout | undefined;
  const look = (): void => {
    if (unshare === undefined || !existsSync(`/proc/${unshare}`)) return;
    // Until unshare runs (its pid is setpriv's, then unshare's), the VMM is not there.
    const vmm = vmmProcess(unshare);
    if (vmm !== undefined && vmm !== unshare)
      held = EndWatch.hold(vmm, () => vmmProcess(unshare) === vmm);
    if (!held) timer = setTimeout(look, 10);
  };
  look();
  return {
    end: () => held?.end(),
    close: () => {
      clearTimeout(timer);
      held?.close();
    },
  };
}
