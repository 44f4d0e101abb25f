// What this host's /dev/kvm is, for messages and for --accel auto: absent, hardware-backed, or
// nested PVM (a kvm_pvm module: guest kernel code is largely emulated there, DESIGN.md).
import { existsSync, readFileSync } from "node:fs";

export type KvmKind = "none" | "pvm" | "hardware" | "unknown";

/** Classifies /dev/kvm. `root` lets tests point it at a fake /sys and /proc tree. */
export function kvmKind(root = "/"): KvmKind {
  if (!existsSync(`${root}dev/kvm`)) return "none";
  if (existsSync(`${root}sys/module/kvm_pvm`)) return "pvm";
  try {
    if (/^kvm_pvm\b/m.test(readFileSync(`${root}proc/modules`, "utf8"))) return "pvm";
  } catch {
    /* no /proc/modules in this container: the /sys check above is the one that counts */
  }
  try {
    if (/\b(vmx|svm)\b/.test(readFileSync(`${root}proc/cpuinfo`, "utf8"))) return "hardware";
  } catch {
    /* ignore */
  }
  return "unknown";
}

/** A one-line description of /dev/kvm for messages, or null when there is none. */
export function detectKvm(root = "/"): string | null {
  switch (kvmKind(root)) {
    case "none":
      return null;
    case "pvm":
      return "PVM-nested (kvm_pvm): guest kernels run largely emulated, minutes to boot";
    case "hardware":
      return "hardware virtualisation";
    default:
      return "present, kind unknown";
  }
}
