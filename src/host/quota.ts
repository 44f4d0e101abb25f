// Per-domain quotas (domainQuotas in the config): what one trust domain's VMs may hold together,
// so one tenant cannot take the host's admission headroom or fill its database. vCPUs and memory
// count the domain's active VMs (what admission counts); VMs count its records; disk bytes the
// apparent size of each distinct disk file its VMs name (a qcow2 file's virtual size, if more:
// what its guest can grow it to), and the data of its images in the
// daemon's image store (image-store.ts). Checked at create and before each
// start, refused with the arithmetic.
import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { QCOW2_MAGIC } from "../disk/qcow2-header.js";
import { ApiError } from "./api-error.js";
import type { VmRecord } from "./store.js";
import { isActive } from "./vm-spec.js";

/** One domain's limits; a limit left out is not limited. */
export interface DomainQuota {
  vcpus?: number;
  memoryMiB?: number;
  vms?: number;
  diskBytes?: number;
  /** Snapshots the domain keeps in the daemon's store, and their bytes of data. */
  snapshots?: number;
  snapshotBytes?: number;
}

export const QUOTA_KEYS = ["vcpus", "memoryMiB", "vms", "diskBytes"] as const;

export type DomainUse = Required<DomainQuota>;

/** What a snapshot counts against its domain's quota (store.ts SnapshotRecord). */
export type HeldSnapshot = { domain: string; bytes: number };
/** What an image in the store counts against its domain's diskBytes (store.ts ImageRecord). */
export type HeldImage = { domain: string; bytes: number };

/**
 * What a guest can fill of a disk: its file's apparent size, and for a qcow2 file at least its
 * virtual size (a small overlay grows to it as the guest writes); 0 once it is gone. Opened
 * with no link followed at the path itself (an overlay lies where its VM's uid writes).
 * Bound: 32 bytes read.
 */
function fileBytes(p: string, format: string | undefined): number {
  let fd: number;
  try {
    fd = openSync(p, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return 0;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return 0;
    if (format !== "qcow2") return st.size;
    const head = Buffer.alloc(32);
    readSync(fd, head, 0, 32, 0);
    // The header's size field (bytes 24-31): the guest's disk size.
    const virtual = head.readUInt32BE(0) === QCOW2_MAGIC ? Number(head.readBigUInt64BE(24)) : 0;
    return Math.max(st.size, Number.isSafeInteger(virtual) ? virtual : 0);
  } catch {
    return 0;
  } finally {
    closeSync(fd);
  }
}

const sum = (vms: VmRecord[], f: (v: VmRecord) => number): number =>
  vms.reduce((s, v) => s + f(v), 0);

/** Each distinct disk file `vms` name, with its format. */
const diskPaths = (vms: Pick<VmRecord, "spec">[]): Map<string, string | undefined> =>
  new Map(vms.flatMap((v) => v.spec.disks.map((d) => [d.path, d.format] as const)));

/** What `domain`'s VMs among `vms`, its snapshots among `snaps` and its `images`, hold. */
export function domainUse(
  domain: string,
  vms: VmRecord[],
  snaps: readonly HeldSnapshot[] = [],
  images: readonly HeldImage[] = [],
): DomainUse {
  const mine = vms.filter((v) => v.domain === domain);
  const kept = snaps.filter((s) => s.domain === domain);
  const active = mine.filter((v) => isActive(v.state));
  let diskBytes = 0;
  for (const [p, format] of diskPaths(mine)) diskBytes += fileBytes(p, format);
  for (const i of images) if (i.domain === domain) diskBytes += i.bytes;
  return {
    vcpus: sum(active, (v) => v.spec.cpus),
    memoryMiB: sum(active, (v) => v.spec.memory_mib),
    vms: mine.length,
    diskBytes,
    snapshots: kept.length,
    snapshotBytes: kept.reduce((n, s) => n + s.bytes, 0),
  };
}

const quotaOf = (quotas: Record<string, DomainQuota>, domain: string): DomainQuota | undefined =>
  Object.hasOwn(quotas, domain) ? quotas[domain] : undefined;

/**
 * Refuses (ApiError 409, with the arithmetic) a VM its domain's quota cannot hold: at create one
 * more record and its disks, and vCPUs or memory more than the whole quota (it could never
 * start); at start the same with what the domain's other active VMs hold now.
 */
export function checkQuota(
  vm: Pick<VmRecord, "id" | "domain" | "spec">,
  vms: VmRecord[],
  quotas: Record<string, DomainQuota>,
  when: "create" | "start",
  images: readonly HeldImage[] = [],
): void {
  const q = quotaOf(quotas, vm.domain);
  if (!q) return;
  const others = vms.filter((v) => v.domain === vm.domain && v.id !== vm.id);
  const use = domainUse(vm.domain, others, [], images);
  const held = diskPaths(others);
  let newDisk = 0;
  for (const [p, format] of diskPaths([vm])) if (!held.has(p)) newDisk += fileBytes(p, format);
  const check = (limit: number | undefined, used: number, asked: number, unit: string): void => {
    if (limit === undefined || used + asked <= limit) return;
    throw new ApiError(
      409,
      `domain ${vm.domain}: ${used + asked}${unit} would exceed its quota of ${limit} ` +
        `(${used} in use + ${asked} asked)`,
    );
  };
  // At create nothing runs yet: only a VM the whole quota cannot hold is refused.
  const running = when === "start";
  check(q.vcpus, running ? use.vcpus : 0, vm.spec.cpus, " vCPUs");
  check(q.memoryMiB, running ? use.memoryMiB : 0, vm.spec.memory_mib, " MiB of memory");
  check(q.vms, use.vms, 1, " VMs");
  check(q.diskBytes, use.diskBytes, newDisk, " bytes of disk");
}

/** Per domain (with a quota, VMs or snapshots): what it holds, and its quota (null: none). */
export function quotaView(
  vms: VmRecord[],
  quotas: Record<string, DomainQuota>,
  snaps: readonly HeldSnapshot[] = [],
  images: readonly HeldImage[] = [],
): Record<string, { used: DomainUse; quota: DomainQuota | null }> {
  const held = [...Object.keys(quotas), ...[...vms, ...snaps, ...images].map((v) => v.domain)];
  const domains = [...new Set(held)].sort();
  return Object.fromEntries(
    domains.map((d) => [
      d,
      { used: domainUse(d, vms, snaps, images), quota: quotaOf(quotas, d) ?? null },
    ]),
  );
}

/**
 * Refuses (ApiError 409, with the arithmetic) an image of `bytes` of data that would take
 * `domain` past its diskBytes quota with what its VMs' disks and `images` hold now.
 */
export function checkImageQuota(
  domain: string,
  vms: VmRecord[],
  images: readonly HeldImage[],
  quotas: Record<string, DomainQuota>,
  bytes: number,
): void {
  const limit = quotaOf(quotas, domain)?.diskBytes;
  const used = domainUse(domain, vms, [], images).diskBytes;
  if (limit !== undefined && used + bytes > limit)
    throw new ApiError(
      409,
      `domain ${domain}: ${used + bytes} bytes of disk would exceed its quota of ${limit} ` +
        `(${used} in use + ${bytes} imported)`,
    );
}

/**
 * Refuses (ApiError 409, with the arithmetic) one more snapshot of `domain` of `bytes` (0: not
 * known yet, only the count is checked) past its quota; `snaps`: the snapshots kept.
 */
export function checkSnapshotQuota(
  domain: string,
  snaps: readonly HeldSnapshot[],
  quotas: Record<string, DomainQuota>,
  bytes: number,
): void {
  const q = quotaOf(quotas, domain);
  const use = domainUse(domain, [], snaps);
  if (q?.snapshots !== undefined && use.snapshots + 1 > q.snapshots)
    throw new ApiError(
      409,
      `domain ${domain}: ${use.snapshots + 1} snapshots would exceed its quota of ${q.snapshots}`,
    );
  const used = use.snapshotBytes;
  if (q?.snapshotBytes !== undefined && used + bytes > q.snapshotBytes)
    throw new ApiError(
      409,
      `domain ${domain}: ${used + bytes} bytes of snapshots would exceed its quota of ` +
        `${q.snapshotBytes} (${used} kept + ${bytes} taken)`,
    );
}
