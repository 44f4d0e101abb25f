// A new VM record from a create request that passed the schema: the checks a schema cannot make
// (a unique name, one of tap and bridge, host files that exist, trust domains and tenants kept
// to their networks and image directories), and host paths resolved once so what was checked
// is what the VMM opens; the same checks again before each start.
import { existsSync, realpathSync, statSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { ApiError } from "./api-error.js";
import { writableTwice } from "../vmm/disk-file.js";
import type { Caller } from "./auth.js";
import type { VmRecord } from "./store.js";
import type { VmSpec } from "./vm-spec.js";

/** Where VMs' host files may come from (config.ts). */
export interface ImageDirs {
  /** Host directories a tenant's files must lie under when its domain has none of its own. */
  tenantImageDirs: string[];
  /** Trust domain -> directories of its own: refused to every other domain's VMs. */
  domainImageDirs: Record<string, string[]>;
}

export interface CreateContext extends ImageDirs {
  nameTaken(name: string): boolean;
  /** Trust domain -> the TAP devices and bridges its VMs may use (config.ts). */
  domainNetworks: Record<string, string[]>;
  /** A fresh uid for the VM's process (absent: it runs as the daemon's user). */
  allocateUid?: () => number;
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
  if (owner !== undefined)
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

/** True if `real` (a resolved path) lies inside one of `dirs` (resolved paths). */
function under(real: string, dirs: string[]): boolean {
  return dirs.some((r) => real.startsWith(r.endsWith("/") ? r : r + "/"));
}

/** Each directory resolved (a directory not made yet holds no file: it stands as named). */
function resolveDirs(dirs: string[]): string[] {
  return dirs.map((d) => {
    try {
      return realpathSync(d);
    } catch {
      return d;
    }
  });
}

/**
 * Trust domains share no image directory unless the operator says so: a file under a
 * directory listed for another domain (domainImageDirs) is refused to this domain's VMs,
 * whoever asks; a tenant names files only under its domain's directories, or under
 * tenantImageDirs when its domain has none. The checker takes resolved file paths; the
 * directories are resolved once, when it is made.
 */
function imageChecker(
  dirs: ImageDirs,
): (real: string, field: string, domain: string, role: Caller["role"]) => void {
  const byDomain = dirs.domainImageDirs;
  const realByDomain = new Map(Object.keys(byDomain).map((d) => [d, resolveDirs(byDomain[d]!)]));
  const realTenant = resolveDirs(dirs.tenantImageDirs);
  return (real, field, domain, role) => {
    for (const [d, realDirs] of realByDomain)
      if (d !== domain && under(real, realDirs))
        throw new ApiError(403, `${field}: ${real} belongs to trust domain '${d}'`, field);
    if (role !== "tenant") return;
    const own = Object.hasOwn(byDomain, domain);
    const mine = own ? byDomain[domain]! : dirs.tenantImageDirs;
    if (!under(real, own ? realByDomain.get(domain)! : realTenant))
      throw new ApiError(
        403,
        `${field}: tenants of '${domain}' may use files under ${mine.join(", ") || "no directory"} only`,
        field,
      );
  };
}

/** A host file by its path: resolved, a regular file; throws ApiError 400 naming `field`. */
function resolveImage(field: string, p: string): string {
  try {
    const real = realpathSync(p);
    if (!statSync(real).isFile()) throw new Error("not a regular file");
    return real;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : (e as Error).message;
    throw new ApiError(400, `${field}: ${p}: ${why}`, field);
  }
}

/** A spec's host files with the field each came from. */
function imageFields(spec: VmSpec): [string, string][] {
  const files: [string, string][] = [];
  if (spec.kernel) files.push(["kernel", spec.kernel]);
  if (spec.initrd && spec.initrd !== "none") files.push(["initrd", spec.initrd]);
  spec.disks.forEach((d, i) => files.push([`disks.${i}.path`, d.path]));
  return files;
}

/**
 * Before each start or restart: the VM's networks are still its domain's (they may have been
 * reassigned), and each host file still resolves to the path checked at create (a link put in
 * since would make the VMM open another file) and is still its domain's to use. Throws ApiError.
 */
export function recheckVm(
  spec: VmSpec,
  domain: string,
  cfg: ImageDirs & { domainNetworks: Record<string, string[]> },
): void {
  spec.nics.forEach((n, i) =>
    checkNetwork(n.tap ?? n.bridge!, `nics.${i}`, domain, "operator", cfg.domainNetworks),
  );
  const checkImage = imageChecker(cfg);
  for (const [field, path] of imageFields(spec)) {
    const real = resolveImage(field, path);
    if (real !== path)
      throw new ApiError(
        409,
        `${field}: ${path} now resolves to ${real}; create the VM again`,
        field,
      );
    checkImage(real, field, domain, "operator");
  }
}

/** Checks `body` (already schema-valid, defaults filled) and builds the record; throws ApiError. */
export function newVmRecord(
  body: Record<string, unknown>,
  caller: Caller,
  ctx: CreateContext,
): VmRecord {
  const spec = body as unknown as VmSpec;
  spec.domain ??= caller.domain ?? "default";
  if (ctx.nameTaken(spec.name)) throw new ApiError(409, `a VM named '${spec.name}' exists`, "name");
  if (spec.lock_memory && spec.balloon)
    throw new ApiError(
      400,
      "lock_memory: locked guest RAM cannot be given back; drop the balloon",
      "lock_memory",
    );
  spec.nics.forEach((n, i) => {
    if ((n.tap === undefined) === (n.bridge === undefined))
      throw new ApiError(400, `nics.${i}: give exactly one of tap and bridge`, `nics.${i}`);
    checkNetwork(n.tap ?? n.bridge!, `nics.${i}`, spec.domain, caller.role, ctx.domainNetworks);
  });
  // Host paths resolved once, so what was checked is what the VMM opens.
  const checkImage = imageChecker(ctx);
  const check = (field: string, p: string): string => {
    const real = resolveImage(field, p);
    checkImage(real, field, spec.domain, caller.role);
    return real;
  };
  if (spec.kernel) spec.kernel = check("kernel", spec.kernel);
  if (spec.initrd && spec.initrd !== "none") spec.initrd = check("initrd", spec.initrd);
  spec.disks.forEach((d, i) => (d.path = check(`disks.${i}.path`, d.path)));
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
  return {
    id: randomBytes(6).toString("hex"),
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
    uid: ctx.allocateUid?.() ?? null,
    createdAt: now,
    updatedAt: now,
  };
}
