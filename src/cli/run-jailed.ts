// `moat run --jail`: this process stays in the host's namespaces as the launcher; the VM runs
// in a jail (jail/launch.ts) as `moat run --in-jail=PLAN ...` with the same options, its own
// uid and the seccomp filter, and its exit status becomes ours.
import { existsSync, mkdtempSync, rmdirSync } from "node:fs";
import { constants, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { VNET_HDR_BYTES } from "../devices/virtio/net.js";
import { jailUnavailable, spawnJailed } from "../jail/launch.js";
import { vmmProcess } from "../host/host-facts.js";
import { EndWatch, type ProcessEnd } from "../host/process-end.js";
import { parentDirs } from "../jail/plan.js";
import { TapError } from "../sys/tap.js";
import { parseDiskSpecs, parseNetSpecs, parseVsockSpec } from "./device-options.js";
import { DEBIAN_OPENSBI, initrdChoice, shippedGuestFiles } from "../boot/shipped-guest.js";
import { UsageError } from "./usage-error.js";
import { VncServerError, parseVncAddress, type VncAddress } from "../vmm/vnc-server.js";
import { parseConsoleLog } from "./vm-options.js";
import { kvmKind } from "../kvm/kvm-probe.js";

/** A stand-alone jailed VM's uid when --jail-user is not given: unique while its launcher lives. */
export const STANDALONE_UID_BASE = 1_901_000_000;

export interface JailedRun {
  accel: "soft" | "kvm";
  kernel?: string;
  /** false: --no-initrd. */
  initrd?: string | false;
  /** --agent: the shipped guest then boots with its agent overlay. */
  agent?: boolean | string;
  vnc?: string;
  vncPasswordFile?: string;
  bios: string;
  disk?: string[];
  net?: string[];
  vconsole?: string;
  vsock?: string;
  control?: string;
  consoleSocket?: string;
  consoleLog?: string;
  exitFile?: string;
  name?: string;
  jailUser?: string;
  seccomp?: boolean | string;
}

/** The arguments after `run` in this process's command line, --jail taken out. */
function runArgs(): string[] {
  const argv = process.argv.slice(2);
  const at = argv.indexOf("run");
  const rest = argv.slice(at + 1);
  const end = rest.indexOf("--");
  const opts = end < 0 ? rest : rest.slice(0, end);
  const tail = end < 0 ? [] : rest.slice(end);
  return [...opts.filter((a) => a !== "--jail"), ...tail];
}

function parseVncAddressOrUsage(s: string): VncAddress {
  try {
    return parseVncAddress(s);
  } catch (e) {
    if (e instanceof VncServerError) throw new UsageError(e.message);
    throw e;
  }
}

/** Runs the VM jailed; resolves to its exit status (128 + signal when it was killed). */
export async function runJailed(o: JailedRun): Promise<number> {
  const why = jailUnavailable();
  if (why) throw new UsageError(`--jail: ${why}`);
  const x86 = o.accel === "kvm";
  const readFiles: string[] = [];
  if (o.kernel) readFiles.push(resolve(o.kernel));
  if (o.initrd) readFiles.push(resolve(o.initrd));
  readFiles.push(
    ...shippedGuestFiles(x86 ? "x86_64" : "riscv64", {
      ownKernel: o.kernel !== undefined,
      initrd: initrdChoice(o),
      agent: o.agent !== undefined && o.agent !== false,
    }),
  );
  if (o.vnc !== undefined && !("path" in parseVncAddressOrUsage(o.vnc)))
    throw new UsageError(
      "--jail: a jailed VM has no network of its own to listen on; give --vnc a socket path",
    );
  if (o.vncPasswordFile !== undefined) readFiles.push(resolve(o.vncPasswordFile));
  if (o.bios === "opensbi") readFiles.push(DEBIAN_OPENSBI);
  else if (o.bios !== "builtin") readFiles.push(resolve(o.bios));
  const disks = parseDiskSpecs(o.disk ?? []).map((d) => ({
    path: resolve(d.path),
    readOnly: d.readOnly,
  }));
  const made = [
    o.control,
    o.consoleSocket,
    o.consoleLog !== undefined ? parseConsoleLog(o.consoleLog).path : undefined,
    o.exitFile,
    o.vconsole,
    o.vnc,
    o.vsock !== undefined ? parseVsockSpec(o.vsock).path : undefined,
  ].map((p) => (p === undefined ? undefined : resolve(p)));
  const nets = parseNetSpecs(o.net ?? []);
  const extra: string[] = [];
  if (o.seccomp === undefined) extra.push("--seccomp");
  if (o.jailUser === undefined) {
    const id = STANDALONE_UID_BASE + process.pid;
    extra.push("--jail-user", `${id}:${id}`);
  }
  const root = mkdtempSync(join(tmpdir(), "moat-jail-"));
  try {
    let child;
    try {
      child = spawnJailed({
        needs: { readFiles, disks, writeDirs: parentDirs(made) },
        root,
        hostname: `moat-${o.name ?? "vm"}`,
        cwd: process.cwd(),
        kvm: x86,
        kvmKind: kvmKind(),
        nets: nets.map((n) => ({
          ...(n.tap !== undefined ? { tap: n.tap } : {}),
          ...(n.bridge !== undefined ? { bridge: n.bridge } : {}),
        })),
        vnetHdrBytes: VNET_HDR_BYTES,
        args: (plan) => [process.argv[1]!, "run", `--in-jail=${plan}`, ...extra, ...runArgs()],
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
    rmdirSync(root);
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
