// What a VM's jail must hold, worked out once from its config, for both who jail a VM: `moat run
// --jail` and the daemon. The VMM inside sees these paths at the host's own paths.
import { resolve } from "node:path";
import type { JailNeeds } from "../jail/plan.js";
import { parentDirs } from "../jail/plan.js";
import { DEBIAN_OPENSBI, initrdChoice, shippedGuestFiles } from "../boot/shipped-guest.js";
import { VNET_HDR_BYTES } from "../devices/virtio/net.js";
import { archOf } from "./vm-limits.js";
import { configInitrd, madePaths, type DiskConfig, type VmConfig } from "./vm-config.js";
import { backingChainSync } from "../disk/qcow2-chain.js";
import { MANIFEST_FILE, MEMORY_FILE } from "./snapshot-file.js";

/**
 * The backing files under a qcow2 disk, at their real paths (so bound with no link followed).
 * A chain that does not check out binds nothing more: the VMM, opening it, says why.
 */
function backingFiles(
  d: DiskConfig,
  backingDirs: string[] | undefined,
  allowed: (path: string) => boolean,
): string[] {
  if (d.format !== "qcow2") return [];
  let chain: string[];
  try {
    chain = backingChainSync(d.path, backingDirs !== undefined ? { backingDirs } : {});
  } catch {
    return [];
  }
  // Bound only up to the first file not allowed: the VMM cannot open past it.
  const end = chain.findIndex((p) => !allowed(p));
  return end < 0 ? chain : chain.slice(0, end);
}

/** What jail/launch.ts needs beside the jail's files: KVM's fd, the TAPs to open. */
export interface JailDevices {
  needs: JailNeeds;
  kvm: boolean;
  nets: { tap?: string; bridge?: string }[];
  vnetHdrBytes: number;
}

/**
 * The files, disks, directories and devices the VM of `c` reaches, `accel` its resolved
 * accelerator. `checked`: its kernel, initrd and disks were checked at their real paths (the
 * daemon's), so they are bound with no link followed.
 */
export function jailDevices(
  c: VmConfig,
  accel: "soft" | "kvm",
  o: {
    checked: boolean;
    /**
     * Whether a backing file a qcow2 disk's chain names may be bound (the daemon's image
     * rules for the VM's domain, asked as the jail is made); default: every one in the chain.
     */
    backingAllowed?: (path: string) => boolean;
  },
): JailDevices {
  const own: string[] = [];
  if (c.kernel) own.push(resolve(c.kernel));
  if (c.initrd && c.initrd !== "none") own.push(resolve(c.initrd));
  // A snapshot to restore: its two files, opened before the VMM drops to the VM's uid.
  if (c.host.restore !== undefined)
    for (const f of [MANIFEST_FILE, MEMORY_FILE]) own.push(resolve(c.host.restore, f));
  const readFiles = [
    ...(o.checked ? [] : own),
    ...shippedGuestFiles(archOf(accel), {
      ownKernel: c.kernel !== undefined,
      initrd: initrdChoice(configInitrd(c)),
      agent: c.agent !== undefined,
    }),
  ];
  const h = c.host;
  if (h.vnc_password_file !== undefined) readFiles.push(resolve(h.vnc_password_file));
  if (c.bios === "opensbi") readFiles.push(DEBIAN_OPENSBI);
  else if (c.bios !== "builtin") readFiles.push(resolve(c.bios));
  // A jailed VM's VNC is a socket path (its launcher refuses a TCP one).
  const made = [...madePaths(h).map(([, p]) => p), ...(h.vnc !== undefined ? [h.vnc] : [])].map(
    (p) => resolve(p),
  );
  return {
    needs: {
      readFiles,
      ...(o.checked ? { checkedFiles: own } : {}),
      disks: [
        ...c.disks.map((d) => ({
          path: resolve(d.path),
          readOnly: d.read_only,
          ...(o.checked ? { noLinks: true } : {}),
        })),
        ...c.disks.flatMap((d) =>
          backingFiles(d, c.host.backing_dirs, o.backingAllowed ?? (() => true)).map((path) => ({
            path,
            readOnly: true,
            noLinks: true,
          })),
        ),
      ],
      writeDirs: parentDirs(made),
    },
    kvm: accel === "kvm",
    nets: c.nics.map((n) => ({
      ...(n.tap !== undefined ? { tap: n.tap } : {}),
      ...(n.bridge !== undefined ? { bridge: n.bridge } : {}),
    })),
    vnetHdrBytes: VNET_HDR_BYTES,
  };
}
