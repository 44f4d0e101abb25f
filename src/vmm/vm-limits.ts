// The limits of a VM's settings that depend on its architecture, in one place: `moat run` and
// the daemon's API check a VM against them before it starts, and the machine builders (e820,
// the soft CPU's memory) check again as they lay it out. And which accelerator, so which
// architecture, a VM's accel setting picks on a host.
import { RAM_MAX_BYTES } from "../arch/x86_64/memory-map.js";
import { MAX_HARTS } from "../accel/soft/layout.js";
import type { KvmKind } from "../kvm/kvm-probe.js";
import { MoatError } from "../base/moat-error.js";

export type GuestArch = "riscv64" | "x86_64";
export type { KvmKind };

/** Bound: the least guest RAM in MiB (what the shipped kernels and initramfs boot in). */
export const MEMORY_MIB_MIN = 32;

/**
 * Bound: the most guest RAM in MiB. x86-64 RAM ends at the MMIO hole (3 GiB); riscv64 RAM
 * shares the soft CPU's 4 GiB WebAssembly memory with the core's tables.
 */
export const MEMORY_MIB_MAX: Readonly<Record<GuestArch, number>> = {
  riscv64: 4000,
  x86_64: RAM_MAX_BYTES / 2 ** 20,
};

/**
 * Bound: vCPUs per VM, on either architecture: the soft CPU's harts (its shared-memory layout
 * has room for MAX_HARTS); x86-64 is held to the same (its MP table could describe 32).
 */
export const VCPUS_MAX = MAX_HARTS;

/** The guest architecture an accelerator runs: KVM here runs x86-64 guests, the soft CPU riscv64. */
export function archOf(accel: "soft" | "kvm"): GuestArch {
  return accel === "kvm" ? "x86_64" : "riscv64";
}

/**
 * What `accel` runs on a host whose KVM is `kind`. soft: the riscv64 guest on moat's CPU. kvm:
 * the x86-64 guest on /dev/kvm. auto: KVM where the host has hardware virtualisation; the soft
 * CPU where it has none or only PVM-nested KVM (there a Linux guest takes minutes to boot and
 * its userspace cannot make system calls).
 */
export function chooseAccel(
  accel: "soft" | "kvm" | "auto",
  kind: KvmKind,
  name = "accel",
): "soft" | "kvm" {
  if (accel === "auto") return kind === "hardware" ? "kvm" : "soft";
  if (accel === "kvm" && kind === "none")
    throw new MoatError(`${name} kvm: this host has no /dev/kvm`, "host");
  return accel;
}
