// A new VM record from a create request that passed the schema: the checks a schema cannot make
// (a unique name, one of tap and bridge, host files that exist, tenants kept to their image
// directories), and host paths resolved once so what was checked is what the VMM opens.
import { existsSync, realpathSync, statSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { ApiError } from "./api-error.js";
import type { Caller } from "./auth.js";
import type { VmRecord } from "./store.js";
import type { VmSpec } from "./vm-spec.js";

export interface CreateContext {
  nameTaken(name: string): boolean;
  /** Host directories a tenant's files must lie under. */
  tenantImageDirs: string[];
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

/** Checks `body` (already schema-valid, defaults filled) and builds the record; throws ApiError. */
export function newVmRecord(
  body: Record<string, unknown>,
  caller: Caller,
  ctx: CreateContext,
): VmRecord {
  const spec = body as unknown as VmSpec;
  spec.domain ??= caller.domain ?? "default";
  if (ctx.nameTaken(spec.name)) throw new ApiError(409, `a VM named '${spec.name}' exists`, "name");
  spec.nics.forEach((n, i) => {
    if ((n.tap === undefined) === (n.bridge === undefined))
      throw new ApiError(400, `nics.${i}: give exactly one of tap and bridge`, `nics.${i}`);
    checkNetwork(n.tap ?? n.bridge!, `nics.${i}`, spec.domain, caller.role, ctx.domainNetworks);
  });
  const check = (field: string, p: string): string => {
    let real: string;
    try {
      real = realpathSync(p);
      if (!statSync(real).isFile()) throw new Error("not a regular file");
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === "ENOENT" ? "no such file" : (e as Error).message;
      throw new ApiError(400, `${field}: ${p}: ${why}`, field);
    }
    // A tenant names host files only inside the image directories: otherwise any host file
    // (/etc/shadow, another tenant's disk) could become its VM's disk.
    if (caller.role === "tenant" && !ctx.tenantImageDirs.some((d) => real.startsWith(d + "/")))
      throw new ApiError(
        403,
        `${field}: tenants may use files under ${ctx.tenantImageDirs.join(", ")} only`,
        field,
      );
    return real;
  };
  if (spec.kernel) spec.kernel = check("kernel", spec.kernel);
  if (spec.initrd && spec.initrd !== "none") spec.initrd = check("initrd", spec.initrd);
  spec.disks.forEach((d, i) => (d.path = check(`disks.${i}.path`, d.path)));
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
