// The default guests shipped in the repository (guest/riscv64 and guest/x86_64, built by
// guest/build.sh). Their files are stored gzip-compressed to keep the repository small, and inflated here on the
// host: the guest then boots from plain images (inflating in the guest would cost it ~35 M
// instructions).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";

const dir = new URL("../../../guest/riscv64/", import.meta.url);
const x86Dir = new URL("../../../guest/x86_64/", import.meta.url);

export const SHIPPED_KERNEL_GZ = fileURLToPath(new URL("Image.gz", dir));
export const SHIPPED_INITRD_GZ = fileURLToPath(new URL("initramfs.cpio.gz", dir));
/** The x86-64 guest: an ELF vmlinux (PVH entry) and its initramfs. */
export const SHIPPED_X86_KERNEL_GZ = fileURLToPath(new URL("vmlinux.gz", x86Dir));
export const SHIPPED_X86_INITRD_GZ = fileURLToPath(new URL("initramfs.cpio.gz", x86Dir));
// panic=-1: a guest kernel that panics restarts at once, which ends the VM, instead of hanging.
export const DEFAULT_CMDLINE = "console=ttyS0 quiet panic=-1";
/** Debian's OpenSBI build for generic platforms (package `opensbi`). */
export const DEBIAN_OPENSBI = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin";

/** Bound on what a shipped file may inflate to (the kernel is about 4 MiB). */
const MAX_INFLATED_BYTES = 64 * 1024 * 1024;

function inflate(path: string): Uint8Array {
  return gunzipSync(readFileSync(path), { maxOutputLength: MAX_INFLATED_BYTES });
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
