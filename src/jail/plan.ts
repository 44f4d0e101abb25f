// What a VM process's jail holds: the plan the launcher (jail/launch.ts, in the host's
// namespaces) makes and the jailed process (jail/enter.ts) carries out. Paths inside the jail
// are the host's own paths, so the VMM's config means the same inside and out; only what is
// listed here exists there.
import { execFileSync } from "node:child_process";
import { existsSync, realpathSync } from "node:fs";
import { dirname, isAbsolute } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

import { JailError } from "./drop.js";

export { JailError };

/** A host path seen at the same path inside the jail. */
export interface JailBind {
  path: string;
  write: boolean;
  /** Executable code (the node binary and its libraries): the only binds without noexec. */
  exec?: boolean;
  /**
   * A file the daemon resolved and checked (a VM's kernel, initrd, disks): bound with no link
   * followed anywhere in its path, so a link swapped in since the check is refused.
   */
  noLinks?: boolean;
}

export interface JailPlan {
  /** An empty host directory: a tmpfs goes over it in the jail's mount namespace and becomes /. */
  root: string;
  /** The launcher's mount namespace; the jail refuses to set up inside it. */
  hostMntNs: string;
  hostname: string;
  /** Working directory inside the jail (created empty when not bound). */
  cwd: string;
  binds: JailBind[];
  /** Device nodes bound from the host's /dev (never kvm or net/tun: those come as fds). */
  devices: string[];
  kvmFd?: number;
  /** What the host's KVM is (kvm/kvm-probe.ts), which the jail cannot see for itself. */
  kvmKind?: "none" | "pvm" | "hardware" | "unknown";
  taps?: { fd: number; name: string }[];
}

/** What one VM needs from the host, from its options. */
export interface JailNeeds {
  /** Read-only files: kernel, initrd, firmware, the shipped guest's files. */
  readFiles: string[];
  /** Read-only files the daemon checked at their real paths: bound with no link followed. */
  checkedFiles?: string[];
  /** With `noLinks`: a file the daemon checked at its real path. */
  disks: { path: string; readOnly: boolean; noLinks?: boolean }[];
  /** Directories the VMM creates sockets and files in (bound writable). */
  writeDirs: string[];
}

const PROJECT = fileURLToPath(new URL("../../../", import.meta.url));

/**
 * Where moat's runtime packages are, given moat's directory and where koffi (one of them)
 * resolves: the package's own node_modules in a checkout (and a global install), the one it
 * sits in when npm hoisted them (an install with --prefix or into a project), or both.
 */
export function packageDirs(
  project = PROJECT,
  koffi = createRequire(import.meta.url).resolve("koffi"), // its exports hide package.json
): string[] {
  const hoisted = koffi.slice(0, koffi.lastIndexOf("/node_modules/") + "/node_modules".length);
  const own = `${project}node_modules`;
  const ownReal = existsSync(own) ? realpathSync(own) : undefined;
  return ownReal === hoisted ? [own] : [hoisted, ...(ownReal ? [own] : [])];
}

/** The devices Node needs: null for closed stdio, urandom/random for entropy fallbacks. */
export const JAIL_DEVICES = ["/dev/null", "/dev/zero", "/dev/urandom", "/dev/random"];

let codeBinds: JailBind[] | undefined;

/**
 * The node binary, the shared libraries it links (as ldd lists them), and moat's built code:
 * dist/, the runtime packages (koffi's native part included; packageDirs), package.json, bin/
 * and SHA256SUMS (what a shipped guest is checked against before it is loaded).
 */
export function vmmCodeBinds(): JailBind[] {
  if (codeBinds) return codeBinds;
  const node = realpathSync(process.execPath);
  const out: JailBind[] = [{ path: node, write: false, exec: true }];
  let ldd: string;
  try {
    ldd = execFileSync("ldd", [node], { encoding: "utf8" });
  } catch (e) {
    throw new JailError(`ldd ${node}: ${(e as Error).message}`);
  }
  for (const line of ldd.split("\n")) {
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (m) out.push({ path: m[1]!, write: false, exec: true });
  }
  // The packages' directory first: when hoisted, it holds moat's own directory too.
  for (const p of packageDirs()) out.push({ path: p, write: false, exec: true });
  for (const p of ["dist", "package.json", "bin", "SHA256SUMS"])
    out.push({ path: `${PROJECT}${p}`, write: false, exec: false });
  codeBinds = out;
  return out;
}

/**
 * The whole plan short of fds: code, the VM's files read-only, its disks in the mode its spec
 * gives, its writable directories. Bound: every path absolute; no bind is / itself.
 */
export function jailBinds(needs: JailNeeds): JailBind[] {
  const binds: JailBind[] = [...vmmCodeBinds()];
  for (const p of needs.readFiles) binds.push({ path: p, write: false });
  for (const p of needs.checkedFiles ?? []) binds.push({ path: p, write: false, noLinks: true });
  for (const d of needs.disks)
    binds.push({ path: d.path, write: !d.readOnly, ...(d.noLinks ? { noLinks: true } : {}) });
  for (const d of needs.writeDirs) binds.push({ path: d, write: true });
  for (const b of binds) {
    if (!isAbsolute(b.path) || b.path === "/" || b.path.split("/").includes(".."))
      throw new JailError(`jail: '${b.path}' is not a plain absolute path`);
    // Said here, in the launcher's words, rather than as a failed mount inside the jail.
    if (!existsSync(b.path)) throw new JailError(`jail: ${b.path}: no such file or directory`);
  }
  return binds;
}

/** The directory holding each path (for sockets and files the VMM creates). */
export function parentDirs(paths: (string | undefined)[]): string[] {
  return [...new Set(paths.filter((p): p is string => p !== undefined).map((p) => dirname(p)))];
}
