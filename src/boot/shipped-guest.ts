// The default guests shipped in the repository (guest/riscv64 and guest/x86_64, built by
// guest/build.sh). Their files are stored gzip-compressed to keep the repository small, and inflated here on the
// host: the guest then boots from plain images (inflating in the guest would cost it ~35 M
// instructions). Each file is checked against the SHA-256 recorded for it in SHA256SUMS before
// it is inflated: a changed file is refused, not booted.
import { readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { gunzipSync } from "node:zlib";
import { PACKAGE_ROOT, readSha256Sums, sha256, SHA256SUMS } from "../base/sha256sums.js";
import { MoatError } from "../base/moat-error.js";

export const SHIPPED_KERNEL_GZ = join(PACKAGE_ROOT, "guest/riscv64/Image.gz");
export const SHIPPED_INITRD_GZ = join(PACKAGE_ROOT, "guest/riscv64/initramfs.cpio.gz");
/** The x86-64 guest: an ELF vmlinux (PVH entry) and its initramfs. */
export const SHIPPED_X86_KERNEL_GZ = join(PACKAGE_ROOT, "guest/x86_64/vmlinux.gz");
export const SHIPPED_X86_INITRD_GZ = join(PACKAGE_ROOT, "guest/x86_64/initramfs.cpio.gz");
/**
 * The riscv64 guest's agent overlay (guest/agent/build.sh): Debian's qemu-guest-agent, the
 * libraries it links and /agent-init, appended to the shipped initramfs of a VM with an agent
 * channel and started by AGENT_RDINIT. There is none for x86-64.
 */
export const SHIPPED_AGENT_GZ = join(PACKAGE_ROOT, "guest/riscv64/agent.cpio.gz");
/** Why --agent (or a spec's agent) with the shipped x86-64 guest is refused. */
export const NO_X86_AGENT =
  "the shipped x86-64 guest has no guest agent (the shipped one is riscv64 only: accel soft)";
/** Put before the VM's command line: a command line's own rdinit=, later, still wins. */
export const AGENT_RDINIT = "rdinit=/agent-init";
// panic=-1: a guest kernel that panics restarts at once, which ends the VM, instead of hanging.
export const DEFAULT_CMDLINE = "console=ttyS0 quiet panic=-1";
/** Debian's OpenSBI build for generic platforms (package `opensbi`). */
export const DEBIAN_OPENSBI = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin";

/** Bound on what a shipped file may inflate to (the kernel is about 4 MiB, the agent 5). */
const MAX_INFLATED_BYTES = 64 * 1024 * 1024;

/** A shipped guest file that is not the one SHA256SUMS records, or has no record there. */
export class ShippedGuestError extends MoatError {
  override readonly kind = "host";
}

/** Throws ShippedGuestError unless `data`, read from the shipped file `path`, is as recorded. */
function checkRecorded(path: string, data: Uint8Array): void {
  const name = relative(PACKAGE_ROOT, path);
  let want: string | undefined;
  try {
    want = readSha256Sums(SHA256SUMS).get(name);
  } catch (e) {
    throw new ShippedGuestError(`cannot check the shipped guest: ${(e as Error).message}`);
  }
  if (want === undefined)
    throw new ShippedGuestError(
      `the shipped guest file ${name} has no SHA-256 in ${SHA256SUMS}: refused (npm run manifest records it)`,
    );
  const have = sha256(data);
  if (have !== want)
    throw new ShippedGuestError(
      `the shipped guest file ${name} was changed: its SHA-256 is ${have}, SHA256SUMS records ${want}; ` +
        `refused. Restore it (git checkout -- ${name}); if you rebuilt it with guest/build.sh on purpose, ` +
        "record it with npm run manifest",
    );
}

function inflate(path: string): Uint8Array {
  const data = readFileSync(path);
  checkRecorded(path, data);
  return gunzipSync(data, { maxOutputLength: MAX_INFLATED_BYTES });
}

export type GuestArch = "riscv64" | "x86_64";

/** The shipped kernel (riscv64 Image or x86-64 vmlinux), inflated. */
export function shippedKernel(arch: GuestArch = "riscv64"): Uint8Array {
  return inflate(arch === "riscv64" ? SHIPPED_KERNEL_GZ : SHIPPED_X86_KERNEL_GZ);
}

/** The shipped initramfs (an uncompressed cpio archive), inflated. */
export function shippedInitrd(arch: GuestArch = "riscv64"): Uint8Array {
  return inflate(arch === "riscv64" ? SHIPPED_INITRD_GZ : SHIPPED_X86_INITRD_GZ);
}

/** The riscv64 agent overlay (an uncompressed cpio archive), inflated. */
export function shippedAgentOverlay(): Uint8Array {
  return inflate(SHIPPED_AGENT_GZ);
}

/** Which initramfs a VM boots: its own, none, or the shipped one. */
export type InitrdChoice = "own" | "none" | "shipped";

/**
 * As `moat run` decides: its own with --initrd, none with --no-initrd (false) or with its own
 * kernel alone (the shipped initramfs goes with the shipped kernel only), else the shipped one.
 */
export function initrdChoice(o: { kernel?: string; initrd?: string | false }): InitrdChoice {
  if (o.initrd) return "own";
  return o.initrd === false || o.kernel !== undefined ? "none" : "shipped";
}

/**
 * A VM with an agent channel that boots this initramfs would have no agent: the shipped x86-64
 * guest has none (NO_X86_AGENT), so --agent (or a spec's agent) with it is refused. A guest of
 * one's own brings its own agent; the channel is all --agent adds to it.
 */
export function lacksShippedAgent(arch: GuestArch, initrd: InitrdChoice): boolean {
  return arch === "x86_64" && initrd === "shipped";
}

/**
 * The shipped files a VM reads (for its jail): the kernel unless it has its own, the initramfs
 * when it boots the shipped one, and with it the agent overlay when it has an agent (riscv64).
 */
export function shippedGuestFiles(
  arch: GuestArch,
  o: { ownKernel: boolean; initrd: InitrdChoice; agent: boolean },
): string[] {
  const x86 = arch === "x86_64";
  const files: string[] = [];
  if (!o.ownKernel) files.push(x86 ? SHIPPED_X86_KERNEL_GZ : SHIPPED_KERNEL_GZ);
  if (o.initrd === "shipped") files.push(x86 ? SHIPPED_X86_INITRD_GZ : SHIPPED_INITRD_GZ);
  if (o.initrd === "shipped" && o.agent && !x86) files.push(SHIPPED_AGENT_GZ);
  return files;
}
