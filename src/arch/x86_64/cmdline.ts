// What moat adds to an x86-64 guest's kernel command line: the virtio-mmio devices (x86 has no
// device tree; Linux's virtio_mmio driver takes them from `virtio_mmio.device=`), and what a
// CPU template needs the kernel to know.
import { linuxFeatureNumbers, type CpuTemplateName } from "./cpuid.js";
import { POWER_BUTTON_SLOT, VIRTIO_BASE, VIRTIO_STRIDE, virtioIrq } from "./memory-map.js";

/**
 * `virtio_mmio.device=4K@ADDR:IRQ` for each occupied slot. Bound: slots 0..POWER_BUTTON_SLOT
 * (the VM's own, then the power button's).
 */
export function virtioMmioArgs(slots: number[]): string[] {
  return slots.map((slot) => {
    if (!Number.isInteger(slot) || slot < 0 || slot > POWER_BUTTON_SLOT) {
      throw new RangeError(`virtio-mmio slot ${slot} does not exist (0..${POWER_BUTTON_SLOT})`);
    }
    const addr = VIRTIO_BASE + BigInt(slot) * VIRTIO_STRIDE;
    return `virtio_mmio.device=4K@0x${addr.toString(16)}:${virtioIrq(slot)}`;
  });
}

/**
 * Kernel arguments a template needs. On PVM the guest kernel sees the host's features whatever
 * CPUID says (measured, DESIGN.md), so it is told `noxsave` and `clearcpuid=` with the
 * template's hidden features; `pvm_quirks` makes moat's guest kernel skip the two instructions
 * PVM's emulator stops on (guest/x86_64/patches/); other kernels ignore it.
 */
export function templateArgs(name: CpuTemplateName): string[] {
  if (name !== "pvm") return [];
  return ["noxsave", `clearcpuid=${linuxFeatureNumbers(name).join(",")}`, "pvm_quirks"];
}

/** The full command line: the user's, then moat's additions. */
export function composeCmdline(user: string, extra: string[]): string {
  return [user.trim(), ...extra].filter((s) => s.length > 0).join(" ");
}
