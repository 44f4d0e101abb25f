// The default riscv64 guest shipped in the repository (guest/riscv64, built by guest/build.sh).
import { fileURLToPath } from "node:url";

const dir = new URL("../../../guest/riscv64/", import.meta.url);

export const SHIPPED_KERNEL = fileURLToPath(new URL("Image", dir));
export const SHIPPED_INITRD = fileURLToPath(new URL("initramfs.cpio", dir));
// panic=-1: a guest kernel that panics restarts at once, which ends the VM, instead of hanging.
export const DEFAULT_CMDLINE = "console=ttyS0 quiet panic=-1";
/** Debian's OpenSBI build for generic platforms (package `opensbi`). */
export const DEBIAN_OPENSBI = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin";
