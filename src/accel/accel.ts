// The accelerator seam: the devices, buses and VMM above it are shared by the soft RISC-V CPU
// and KVM. An accelerator creates a VM's memory and vCPUs, runs them, hands their device
// accesses to the VMM, and takes interrupts back.
//
// What a machine asks of its vCPUs differs by architecture, so the seam is one shared base and
// an interface per architecture: a riscv64 VM (the soft CPU) has harts with M- and S-mode external
// interrupt lines, posted MMIO writes and firmware (SBI) calls; an x86-64 VM (KVM) has port I/O,
// in-kernel interrupt controllers driven by line or by eventfd (irqfd), and guest writes that
// signal eventfds inside the kernel (ioeventfd). Neither side implements the other's methods.
import type { GuestMemory } from "../memory/guest-memory.js";
import type { CpuidEntry, VcpuFd } from "../kvm/kvm.js";
import type { DeviceState } from "../devices/device-state.js";

export type AccelName = "soft" | "kvm";

/** What a vCPU of any architecture needs from the VMM when the guest touches a device. */
export interface ExitHandler {
  /** A device read of `size` bytes; null when nothing is mapped there (the guest gets a fault). */
  mmioRead(addr: bigint, size: number): bigint | null;
  /** A device write; false when nothing is mapped there. */
  mmioWrite(addr: bigint, size: number, value: bigint): boolean;
  /** A vCPU cannot go on; `detail` names the vCPU, pc and cause. */
  vcpuHalted(vcpu: number, detail: string): void;
}

/** A riscv64 hart's exits: posted device writes and the firmware interface (moat's SBI). */
export interface RiscvExitHandler extends ExitHandler {
  /**
   * Device ranges where a write may be posted: the vCPU goes on without waiting for the device
   * (writes are still applied in order, and before any later read). Writes elsewhere are
   * synchronous, so that a write to nothing faults at the instruction that made it.
   */
  readonly postedWriteRanges: readonly { base: bigint; size: bigint }[];
  /** Firmware console output (SBI putchar / debug console). */
  consoleWrite(bytes: Uint8Array): void;
  /** Firmware console input: one byte or -1. */
  consoleRead(): number;
  /** The guest asked for power-off (type 0) or reboot (type 1, 2). */
  systemReset(type: number, reason: number): void;
}

/** An x86-64 vCPU's exits: MMIO and port I/O. */
export interface X86ExitHandler extends ExitHandler {
  /** Port I/O read of 1, 2 or 4 bytes; null when no device has the port (reads all ones). */
  pioRead(port: number, size: number): number | null;
  /** Port I/O write; false when no device has the port (the write is dropped). */
  pioWrite(port: number, size: number, value: number): boolean;
}

export interface AccelVmConfig {
  vcpus: number;
  ramBase: bigint;
  ramBytes: number;
}

export interface RiscvAccelVmConfig extends AccelVmConfig {
  /** true: the accelerator provides the platform firmware interface itself (moat's SBI). */
  builtinFirmware: boolean;
}

export interface X86AccelVmConfig extends AccelVmConfig {
  /** Create the in-kernel interrupt controllers and PIT (default true; tests turn it off). */
  irqchip?: boolean;
}

/** What every accelerator's VM has. */
export interface AccelVm {
  readonly memory: GuestMemory;
  /** Holds every vCPU before it runs another guest instruction. */
  pause(): void;
  resume(): void;
  /** Stops every vCPU and releases its threads. Idempotent. */
  stop(): Promise<void>;
  /** vCPU exits to the VMM so far by reason, summed over the vCPUs (read from cheap counters). */
  exitCounts(): Record<string, number>;
  /**
   * The vCPU threads' kernel thread ids in vCPU order, once each has reported it (after start);
   * 0 for one that did not within `timeoutMs`.
   */
  vcpuThreadIds(timeoutMs: number): Promise<number[]>;
}

/** Where and how a riscv64 VM's harts start. */
export interface RiscvBoot {
  entry: bigint;
  /** "S": a kernel entered through moat's SBI; "M": firmware or a bare program. */
  mode: "M" | "S";
  /** a0..a2 (a0 is replaced by each hart's id). */
  args: bigint[];
}

/** One hart in a snapshot: its state record (null: stopped, HSM) and its cross-hart state. */
export interface RiscvHartState {
  record: Uint8Array | null;
  /** The software-visible mip bits (SSIP, MSIP, STIP, MTIP); the PLIC's lines are its own. */
  mip: number;
  mtimecmp: bigint;
  hsm: number;
  startAddr: bigint;
  opaque: bigint;
}

/** A riscv64 VM's harts in a snapshot, and the machine timer when it was taken. */
export interface RiscvHartsState {
  /** mtime (TIMEBASE ticks) when saved: a restored machine's timer goes on from it. */
  mtime: bigint;
  harts: RiscvHartState[];
}

/** A riscv64 VM (the soft CPU). */
export interface RiscvAccelVm extends AccelVm {
  /**
   * Starts the harts: hart 0 at `boot`, others as the firmware interface brings them up; or,
   * given a snapshot's harts, each where it was.
   */
  start(boot: RiscvBoot | { restore: RiscvHartsState }, handler: RiscvExitHandler): void;
  /**
   * Every hart's state, for a snapshot: the VM is paused (pause()) and stays so; each hart
   * writes its record between slices, and every device write it posted is applied first.
   * Rejects if a hart does not answer within `timeoutMs`.
   */
  saveHarts(timeoutMs: number): Promise<RiscvHartsState>;
  /** Drives the external interrupt line of a hart's M- or S-mode interrupt context (the PLIC's). */
  setExternalInterrupt(hart: number, context: "M" | "S", level: boolean): void;
  /** Instructions retired by each hart so far, for benchmarks. */
  stats(): { vcpu: number; instructions: bigint }[];
  /** The translator's counters, all harts together; undefined on the interp tier (none runs). */
  jitStats(): JitStats | undefined;
}

/** An x86-64 VM (KVM). */
export interface X86AccelVm extends AccelVm {
  /**
   * Maps the memory file open at `fd` (a snapshot's: guest RAM's size, sparse) private over
   * guest RAM, instead of copying it in: pages are read from the file as the guest touches
   * them and copied only when written. Before start().
   */
  mapRamFile(fd: number): void;
  /** The vCPUs, whose registers the architecture layer sets before start(). */
  readonly vcpus: readonly VcpuFd[];
  /** The host's CPUID offer, for the architecture layer's CPU template. */
  supportedCpuid(): CpuidEntry[];
  /** Starts every vCPU as the architecture layer configured it. */
  start(handler: X86ExitHandler): void;
  /** Drives a line (GSI) of the in-kernel interrupt controllers. */
  setIrqLine(gsi: number, level: boolean): void;
  /**
   * ioeventfd: an eventfd the kernel signals when the guest writes `len` bytes to `addr` (a port
   * when `pio`; only the value `datamatch` when given), without an exit. Closed by stop().
   */
  notifyFd(addr: bigint, len: number, opts?: { pio?: boolean; datamatch?: bigint }): number;
  /** irqfd: an eventfd whose signal raises interrupt `gsi` (edge). Closed by stop(). */
  interruptFd(gsi: number): number;
  /**
   * irqfd with resample: a level-triggered line `gsi` asserted by signalling `trigger`; the
   * kernel lowers it at the guest's EOI and signals `resample`. Closed by stop().
   */
  levelInterruptFds(gsi: number): { trigger: number; resample: number };
  /**
   * Pauses every vCPU and waits (at most `timeoutMs`) until each is out of KVM_RUN with its last
   * exit's I/O completed, so that its state can be saved.
   */
  pauseAtBoundary(timeoutMs?: number): Promise<void>;
  /** The VM's and every vCPU's state (docs/kvm.md); the vCPUs paused by pauseAtBoundary. */
  saveCpuState(): KvmCpuState;
  /** Loads saveCpuState's records before start(), into a VM made from the same config. */
  loadCpuState(state: KvmCpuState): void;
}

/** A KVM VM's CPU-side state for a snapshot: the VM's record and one per vCPU. */
export interface KvmCpuState {
  vm: DeviceState;
  vcpus: DeviceState[];
}

export interface Accelerator<C extends AccelVmConfig, V extends AccelVm> {
  readonly name: AccelName;
  createVm(config: C): Promise<V>;
}

export type RiscvAccelerator = Accelerator<RiscvAccelVmConfig, RiscvAccelVm>;
export type X86Accelerator = Accelerator<X86AccelVmConfig, X86AccelVm>;

/** The soft CPU translator's counters (docs/jit.md), one hart's or a VM's. */
export interface JitStats {
  /** Entries translated. */
  translations: number;
  /** Functions entered again without compiling (the core's table had lost them). */
  reinstalls: number;
  /** What the code-cache bound counts: generated bytes plus a charge per translation. */
  codeBytes: number;
  /** Time the hart threads spent writing functions (V8's compiling is not in it). */
  translateMs: number;
  flushes: number;
  declined: number;
}

/** JitStats of nothing yet. */
export function noJitStats(): JitStats {
  return { translations: 0, reinstalls: 0, codeBytes: 0, translateMs: 0, flushes: 0, declined: 0 };
}
