// A new VM record from a create request that passed the schema: the checks a schema cannot make
// (a name unique in its domain, one of tap and bridge, host files in the image directories,
// trust domains and tenants kept to their networks, the domain's quota), and host paths resolved
// once so what was checked is what the VMM opens; the same checks again before each start.
import { backingChainSync } from "../disk/qcow2-chain.js";
import { Qcow2Error } from "../disk/qcow2-header.js";
import { closeSync, constants, existsSync, fstatSync, openSync, readSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { ApiError } from "./api-error.js";
import { closeFd, openPathNoLinks } from "../sys/libc.js";
import { writableTwice } from "../vmm/disk-file.js";
import { FORMAT_PROBE_BYTES, formatRefusal, knownImageFormat } from "../vmm/image-format.js";
import type { Caller } from "./auth.js";
import { imageRules, type Deny, type ImageRules, type ImageSettings } from "./image-dirs.js";
import type { VmRecord } from "./store.js";
import type { VmSpec } from "./vm-spec.js";
import { VmConfigError, checkMachine } from "../vmm/vm-config.js";

/** The settings a create and a start are checked against (config.ts). */
export interface VmPolicy extends ImageSettings {
  /** Trust domain -> the TAP devices and bridges its VMs may use. */
  domainNetworks: Record<string, string[]>;
}

export interface CreateContext {
  /** Whether `domain` has a VM called `name` (names are unique per domain). */
  nameTaken(name: string, domain: string): boolean;
  /** Throws (ApiError) if the VM would take its domain past its quota (quota.ts). */
  checkQuota?: (vm: VmRecord) => void;
  /** A fresh uid for the VM's process (absent: it runs as the daemon's user). */
  allocateUid?: () => number;
  /** What accel "auto" picks on this host, as the VM process will (absent: the soft CPU). */
  autoAccel?: "soft" | "kvm";
  /** The snapshot (its id) the VM starts from instead of booting. */
  restoredFrom?: string;
  /**
   * A disk's `image` (a name or id) of trust domain `domain`: the path its overlay will have for
   * VM `vmId`, disk `index`, and the image's id (image-ops.ts). Throws ApiError.
   */
  overlay?: (
    ref: string,
    domain: string,
    vmId: string,
    index: number,
  ) => { path: string; id: string };
}

/** The network names a NIC uses: its TAP and its bridge, each checked against the domain. */
function nicNames(n: { tap?: string; bridge?: string }): string[] {
  return [n.tap, n.bridge].filter((x): x is string => x !== undefined);
}

/**
 * Trust domains share no network unless the operator says so: a TAP or bridge listed for one
 * domain is refused to the others, and a tenant's domain with no list gets none (a tenant
 * could otherwise put its VM on another tenant's bridge).
 */
export function checkNetwork(
  name: string,
  field: string,
  domain: string,
  role: Caller["role"],
  nets: Record<string, string[]>,
): void {
  const mine = Object.hasOwn(nets, domain) ? nets[domain]! : undefined;
  if (mine?.includes(name)) return;
  const owner = Object.keys(nets).find((d) => d !== domain && nets[d]!.includes(name));
  // A tenant is not told which other domain holds a name (nor that one does).
  if (owner !== undefined && role !== "tenant")
    throw new ApiError(403, `${field}: ${name} belongs to trust domain '${owner}'`, field);
  if (mine !== undefined)
    throw new ApiError(
      403,
      `${field}: trust domain '${domain}' may use ${mine.join(", ") || "no network"} only`,
      field,
    );
  if (role === "tenant")
    throw new ApiError(
      403,
      `${field}: no network is assigned to trust domain '${domain}' (domainNetworks in the daemon's config)`,
      field,
    );
}

/** Who is told what about a file that cannot be used: a tenant only that it is not its to use. */
export function denier(field: string, p: string, role: Caller["role"]): Deny {
  return (status, why) => {
    if (role === "tenant")
      throw new ApiError(403, `${field}: ${p}: not in your image directories`, field);
    throw new ApiError(status, `${field}: ${p}: ${why}`, field);
  };
}

/**
 * A spec's host files: the field each came from, its path, and how to record it resolved. A VM
 * `restored` from a snapshot opens its own copies of its writable disks (snapshot-disks.ts),
 * not the files its spec names (the source's): those are not its host files.
 */
export function imageFields(
  spec: VmSpec,
  restored = false,
): { field: string; path: string; set(p: string): void }[] {
  const files: { field: string; path: string; set(p: string): void }[] = [];
  if (spec.kernel)
    files.push({ field: "kernel", path: spec.kernel, set: (p) => (spec.kernel = p) });
  if (spec.initrd && spec.initrd !== "none")
    files.push({ field: "initrd", path: spec.initrd, set: (p) => (spec.initrd = p) });
  spec.disks.forEach((d, i) => {
    // An overlay on a store image is the daemon's own file in the VM's directory.
    if ((restored && !d.read_only) || d.image !== undefined) return;
    files.push({ field: `disks.${i}.path`, path: d.path, set: (p) => (d.path = p) });
  });
  return files;
}

/**
 * One recorded host file of a VM of `domain`, checked again: still in the directories as
 * named, still resolving to itself (409 through `deny` if not), still allowed as resolved.
 */
export function recheckFile(rules: ImageRules, path: string, domain: string, deny: Deny): void {
  // Nothing is resolved before the path is known to hold no link: a link put in since create
  // would otherwise be followed, and the answer would tell whether its target exists.
  let fd: number;
  try {
    fd = openPathNoLinks(path);
  } catch {
    return deny(409, "no longer there as checked (a link or a move since create)");
  }
  closeFd(fd);
  const real = rules.resolve(rules.authorise(path, domain, "operator", deny), deny);
  if (real !== path) deny(409, `resolves to ${real} now (a link or a move since create)`);
  rules.place(real, domain, "operator", deny);
}

/**
 * Whether the backing file at real path `path` may serve a VM of `domain`: in the domain's
 * image directories, as a disk's own path must be (recheckFile, asked without throwing).
 */
export function backingFileAllowed(rules: ImageRules, path: string, domain: string): boolean {
  try {
    recheckFile(rules, path, domain, () => {
      throw new Error("refused");
    });
    return true;
  } catch {
    return false;
  }
}

/**
 * Before each start or restart: the VM's networks are still its domain's (they may have been
 * reassigned), and each host file is still in its domain's image directories and still resolves
 * to the path checked at create (a link put in since would make the VMM open another file).
 * The answers name no other file or domain: a tenant may be the one starting. Throws ApiError.
 */
export function recheckVm(spec: VmSpec, domain: string, cfg: VmPolicy, restored = false): void {
  spec.nics.forEach((n, i) =>
    nicNames(n).forEach((name) =>
      checkNetwork(name, `nics.${i}`, domain, "operator", cfg.domainNetworks),
    ),
  );
  // An overlay on a store image lies in the VM's directory, which its uid may write: it must
  // still be a file there, not a link put in its place (a jail binds it with no link followed).
  spec.disks.forEach((d, i) => {
    if (d.image === undefined) return;
    let fd: number | undefined;
    try {
      fd = openPathNoLinks(d.path);
      if (!fstatSync(fd).isFile()) throw new Error("not a file");
    } catch {
      throw new ApiError(
        409,
        `disks.${i}: its overlay ${d.path} is no longer the file the daemon made (a link?); create the VM again`,
        `disks.${i}`,
      );
    } finally {
      if (fd !== undefined) closeFd(fd);
    }
  });
  const rules = imageRules(cfg);
  // A qcow2 disk's backing chain, found again as the VMM will find it: its header may have been
  // rewritten since create (by whoever can write the file) to name another file.
  spec.disks.forEach((d, i) => {
    if (d.format !== "qcow2" || d.image !== undefined || (restored && !d.read_only)) return;
    const field = `disks.${i}.path`;
    const refused = (): never => {
      throw new ApiError(
        409,
        `${field}: ${d.path}: its backing files are no longer in trust domain '${domain}''s ` +
          "image directories as checked at create (its header was changed?); create the VM again",
        field,
      );
    };
    let chain: string[] = [];
    try {
      chain = backingChainSync(d.path);
    } catch {
      refused();
    }
    for (const b of chain) if (!backingFileAllowed(rules, b, domain)) refused();
  });
  for (const { field, path } of imageFields(spec, restored))
    recheckFile(rules, path, domain, (status, why) => {
      throw new ApiError(
        status === 403 ? 403 : 409,
        status === 400
          ? `${field}: ${path}: ${why}`
          : status === 409
            ? `${field}: ${path} no longer resolves to itself (a link or a move since); create the VM again`
            : `${field}: ${path} is no longer in trust domain '${domain}''s image directories`,
        field,
      );
    });
}

/**
 * The image format a checked file's first sector names (image-format.ts), read with no link
 * followed (the path is the real one just checked). Bound: one sector read.
 */
function imageFormatOf(path: string): string | undefined {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const head = new Uint8Array(FORMAT_PROBE_BYTES);
    readSync(fd, head, 0, head.length, 0);
    return knownImageFormat(head);
  } finally {
    closeSync(fd);
  }
}

/** Checks `body` (already schema-valid, defaults filled) and builds the record; throws ApiError. */
export function newVmRecord(
  body: Record<string, unknown>,
  caller: Caller,
  cfg: VmPolicy,
  ctx: CreateContext,
): VmRecord {
  const spec = body as unknown as VmSpec;
  spec.domain ??= caller.domain ?? "default";
  if (ctx.nameTaken(spec.name, spec.domain))
    throw new ApiError(409, `trust domain '${spec.domain}' has a VM named '${spec.name}'`, "name");
  // The machine's own limits, "auto" resolved as the VM process will resolve it on this host.
  const runs = spec.accel === "auto" ? (ctx.autoAccel ?? "soft") : spec.accel;
  try {
    checkMachine(spec, runs);
  } catch (e) {
    if (!(e instanceof VmConfigError)) throw e;
    const auto =
      spec.accel === "auto" && e.field === "memory_mib"
        ? ` (accel auto picks ${runs} on this host)`
        : "";
    throw new ApiError(400, e.message + auto, e.field);
  }
  spec.nics.forEach((n, i) =>
    nicNames(n).forEach((name) =>
      checkNetwork(name, `nics.${i}`, spec.domain, caller.role, cfg.domainNetworks),
    ),
  );
  // Each path authorised as named before the host is looked at, then resolved once, so what
  // was checked is what the VMM opens.
  const rules = imageRules(cfg);
  const check = (field: string, p: string): string => {
    const deny = denier(field, p, caller.role);
    const real = rules.resolve(rules.authorise(p, spec.domain, caller.role, deny), deny);
    rules.place(real, spec.domain, caller.role, deny);
    return real;
  };
  const restored = ctx.restoredFrom !== undefined;
  const id = randomBytes(6).toString("hex");
  spec.disks.forEach((d, i) => {
    const field = `disks.${i}`;
    if ((d.image === undefined) === (d.path === undefined))
      throw new ApiError(400, `${field}: give one of path and image`, field);
    if (d.image === undefined) return;
    if (restored)
      throw new ApiError(400, `${field}.image: not with restore_from`, `${field}.image`);
    if (!ctx.overlay)
      throw new ApiError(400, `${field}.image: this daemon has no image store`, `${field}.image`);
    const o = ctx.overlay(d.image, spec.domain, id, i);
    Object.assign(d, { path: o.path, format: "qcow2", image: o.id });
  });
  for (const f of imageFields(spec, restored)) f.set(check(f.field, f.path));
  spec.disks.forEach((d, i) => {
    if (d.format === "raw" || (restored && !d.read_only) || d.image !== undefined) return;
    const format = imageFormatOf(d.path);
    const field = `disks.${i}.path`;
    if (format === "qcow2" || d.format === "qcow2") {
      // Found at create, before any guest wrote to it, and kept: a start never looks again.
      // Its backing files are checked as its own path is (the image's directory holds them).
      // The walk resolves names the file chose, as root: a tenant is told nothing of where
      // they led (whether a path exists, where a link points), whatever stopped it.
      const tenantRefusal = (): ApiError =>
        new ApiError(
          400,
          `${field}: ${d.path}: its backing files are not all in the image directories you ` +
            "may use, or not there",
          field,
        );
      let chain: string[];
      try {
        chain = backingChainSync(d.path);
      } catch (e) {
        if (!(e instanceof Qcow2Error)) throw e;
        if (caller.role === "tenant") throw tenantRefusal();
        // A backing file's error names that file already; the image's own does not.
        const what = e.message.startsWith("/") ? e.message : `${d.path}: ${e.message}`;
        throw new ApiError(400, `${field}: ${what}`, field);
      }
      for (const b of chain)
        try {
          check(field, b);
        } catch (e) {
          if (caller.role === "tenant" && e instanceof ApiError) throw tenantRefusal();
          throw e;
        }
      d.format = "qcow2";
      return;
    }
    if (format !== undefined)
      throw new ApiError(400, `${field}: ${d.path} ${formatRefusal(d.path, format)}`, field);
    // Raw from now on: a start never looks again, so the guest cannot steer how it is read.
    d.format = "raw";
  });
  const twice = writableTwice(spec.disks.map((d) => ({ path: d.path, readOnly: d.read_only })));
  if (twice) {
    const field = `disks.${twice[1]}.path`;
    throw new ApiError(
      400,
      `${field}: the file of disks.${twice[0]} again; a file is attached to a VM once ` +
        "read-write, or only read-only",
      field,
    );
  }
  if (spec.accel === "kvm" && !existsSync("/dev/kvm"))
    throw new ApiError(400, "accel: this host has no /dev/kvm", "accel");
  const now = new Date().toISOString();
  const vm: VmRecord = {
    id,
    name: spec.name,
    domain: spec.domain,
    spec,
    state: "created",
    desired: "stopped",
    pid: null,
    pidStart: null,
    cgroup: null,
    pinned: null,
    startedAt: null,
    lastExit: null,
    restarts: 0,
    failures: 0,
    restartAt: null,
    uid: null,
    restoredFrom: ctx.restoredFrom ?? null,
    createdAt: now,
    updatedAt: now,
  };
  ctx.checkQuota?.(vm);
  // A uid only for a VM that is made: a refused one would use up uids.
  vm.uid = ctx.allocateUid?.() ?? null;
  return vm;
}
