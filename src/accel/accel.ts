// The accelerator seam: everything above it (machine, devices, VMM) is shared by the soft
// RISC-V CPU and KVM. An accelerator creates a VM's memory and vCPUs, runs them, hands their
// device accesses to the VMM, and takes interrupts back.
import type { GuestMemory } from "../memory/guest-memory.js";

export type AccelName = "soft" | "kvm";

/** What a vCPU needs from the VMM when the guest touches something that is not RAM. */
export interface ExitHandler {
  /**
   * Device ranges where a write may be posted: the vCPU goes on without waiting for the device
   * (writes are still applied in order, and before any later read). Writes elsewhere are
   * synchronous, so that a write to nothing faults at the instruction that made it.
   */
  readonly postedWriteRanges: readonly { base: bigint; size: bigint }[];
  /** A device read of `size` bytes; null when nothing is mapped there (the guest gets a fault). */
  mmioRead(addr: bigint, size: number): bigint | null;
  /** A device write; false when nothing is mapped there. */
  mmioWrite(addr: bigint, size: number, value: bigint): boolean;
  /** x86 port I/O read of 1, 2 or 4 bytes; null when no device has the port (reads all ones). */
  pioRead?(port: number, size: number): number | null;
  /** x86 port I/O write; false when no device has the port (the write is dropped). */
  pioWrite?(port: number, size: number, value: number): boolean;
  /** Firmware console output (SBI putchar / debug console). */
  consoleWrite(bytes: Uint8Array): void;
  /** Firmware console input: one byte or -1. */
  consoleRead(): number;
  /** The guest asked for power-off (type 0) or reboot (type 1, 2). */
  systemReset(type: number, reason: number): void;
  /** A vCPU cannot go on; `detail` names the vCPU, pc and cause. */
  vcpuHalted(vcpu: number, detail: string): void;
}

export interface VcpuBoot {
  entry: bigint;
  /**
   * Initial mode: riscv64 "S" (a kernel entered through moat's SBI) or "M" (firmware); x86-64
   * "long64" (64-bit mode, flat segments, identity-mapped first GiB; see arch/x86_64).
   */
  mode: "M" | "S" | "long64";
  /** Argument registers: riscv64 a0..a2; x86-64 rsi, rdi (Linux boot protocol: rsi = zero page). */
  args: bigint[];
  /** x86-64: the stack pointer to start with. */
  stack?: bigint;
}

export interface AccelVmConfig {
  vcpus: number;
  ramBase: bigint;
  ramBytes: number;
  /** true: the accelerator provides the platform firmware interface itself (moat's SBI). */
  builtinFirmware: boolean;
  /** KVM: create the in-kernel interrupt controllers and PIT (default true). */
  irqchip?: boolean;
}

export interface AccelVm {
  readonly memory: GuestMemory;
  /** Starts the vCPUs: vCPU 0 at `boot`; others as the platform brings them up. */
  start(boot: VcpuBoot, handler: ExitHandler): void;
  /** Drives an external interrupt line of a vCPU's interrupt controller context. */
  setExternalInterrupt(vcpu: number, context: "M" | "S", level: boolean): void;
  /** x86: drives a line (GSI) of the in-kernel interrupt controllers. */
  setIrqLine?(gsi: number, level: boolean): void;
  /** Holds every vCPU before it runs another guest instruction (where the accelerator can). */
  pause?(): void;
  resume?(): void;
  /** Stops every vCPU and releases its threads. Idempotent. */
  stop(): Promise<void>;
  /** Instructions retired by each vCPU so far (soft CPU), for benchmarks. */
  stats(): { vcpu: number; instructions: bigint }[];
  /** vCPU exits to the VMM so far by reason, summed over the vCPUs (read from cheap counters). */
  exitCounts(): Record<string, number>;
  /**
   * The soft CPU's translator, all vCPUs together: pages translated, generated code held
   * (bytes), time spent compiling (ms), cache flushes, pages declined. Undefined on the
   * interp tier and KVM.
   */
  jitStats?(): {
    translations: number;
    reinstalls: number;
    codeBytes: number;
    translateMs: number;
    flushes: number;
    declined: number;
  } | undefined;
  /**
   * The vCPU threads' kernel thread ids in vCPU order, once each has reported it (after start);
   * 0 for one that did not within `timeoutMs`.
   */
  vcpuThreadIds(timeoutMs: number): Promise<number[]>;
}

export interface Accelerator {
  readonly name: AccelName;
  createVm(config: AccelVmConfig): Promise<AccelVm>;
}
