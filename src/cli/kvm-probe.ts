// What this host's /dev/kvm is, for messages: absent, hardware-backed, or nested PVM.
import { existsSync, readFileSync } from "node:fs";

/** "PVM-nested (kvm_pvm)", "hardware (vmx|svm)", or null when there is no /dev/kvm. */
export function detectKvm(): string | null {
  if (!existsSync("/dev/kvm")) return null;
  try {
    const mods = readFileSync("/proc/modules", "utf8");
    if (/^kvm_pvm\b/m.test(mods)) return "PVM-nested (kvm_pvm): x86-64 guests crawl there";
  } catch {
    /* no /proc/modules: fall through */
  }
  try {
    const cpu = readFileSync("/proc/cpuinfo", "utf8");
    if (/\b(vmx|svm)\b/.test(cpu)) return "hardware virtualisation";
  } catch {
    /* ignore */
  }
  return "present";
}
