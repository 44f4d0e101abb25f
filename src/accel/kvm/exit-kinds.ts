// The vCPU exit counters' slots on KVM (channel.ts): KVM_RUN's results as kvm.ts decodes them.
// Shared by the vCPU worker (which counts) and the accelerator (which reads); a module of its
// own because importing vcpu-worker.ts would run the worker.

/** Slot i counts exits of kind KVM_EXIT_KINDS[i]; "intr" is a kick or a signal (EINTR). */
export const KVM_EXIT_KINDS = [
  "io",
  "mmio",
  "hlt",
  "shutdown",
  "intr",
  "fail_entry",
  "internal_error",
  "other",
] as const;
