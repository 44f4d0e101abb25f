// Runs a bare-metal RISC-V program on the soft CPU, the way `qemu-system-riscv64 -M virt
// -bios none -kernel prog` does: loaded at 0x8000_0000, entered in M-mode, ended through the
// finisher at 0x10_0000. Used by the ISA and differential tests.
import { softAccel } from "../accel/soft/soft-accel.js";
import type { CpuTier } from "../accel/soft/cpu-tier.js";
import { Riscv64Vm } from "./riscv64-vm.js";
import type { JitStats } from "../accel/soft/jit/code-cache.js";

export interface BareRunOptions {
  image: Uint8Array;
  harts?: number;
  memoryMiB?: number;
  timeoutMs?: number;
  /** The soft CPU's execution tier (default: DEFAULT_CPU_TIER). */
  cpuTier?: CpuTier;
}

export interface BareRunResult {
  exitCode: number;
  output: string;
  reason: "finisher" | "timeout" | "error";
  message?: string;
  /** The translator's counters at the end (jit tier). */
  jit?: JitStats;
}

export async function runBare(opts: BareRunOptions): Promise<BareRunResult> {
  const out: number[] = [];
  const vm = await Riscv64Vm.create({
    accel: softAccel({ cpuTier: opts.cpuTier }),
    harts: opts.harts ?? 1,
    memoryMiB: opts.memoryMiB ?? 64,
    kernel: opts.image,
    cmdline: "",
    bare: true,
    output: (b) => {
      if (out.length < 1 << 20) out.push(...b);
    },
  });
  const timer = setTimeout(() => vm.stop(124, "timeout"), opts.timeoutMs ?? 10_000);
  const exit = await vm.run();
  clearTimeout(timer);
  const jit = vm.avm.jitStats();
  const output = Buffer.from(out).toString("latin1");
  if (exit.reason === "poweroff")
    return { exitCode: exit.status, output, reason: "finisher", ...(jit ? { jit } : {}) };
  if (exit.reason === "stopped") {
    return { exitCode: 124, output, reason: "timeout", message: exit.detail ?? "timeout" };
  }
  return {
    exitCode: exit.status,
    output,
    reason: "error",
    message: exit.detail ?? exit.reason,
  };
}
