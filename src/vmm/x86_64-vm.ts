// One x86-64 VM on KVM (issue 3, first steps): in-kernel irqchip and PIT, a 16550A on COM1 and
// an i8042 for reset on the port bus, CPUID through a CPU template, and a flat 64-bit program
// entered directly in long mode, or an ELF vmlinux booted through its PVH entry. bzImage next.
import type { ExitHandler } from "../accel/accel.js";
import { type KvmVm, kvmAccelerator } from "../accel/kvm/kvm-accel.js";
import { PioBus } from "../bus/pio-bus.js";
import { Uart16550 } from "../devices/legacy/uart16550.js";
import { I8042 } from "../devices/legacy/i8042.js";
import { applyCpuTemplate, type CpuTemplateName } from "../arch/x86_64/cpuid.js";
import { enterLongMode, writeLongModeTables } from "../arch/x86_64/long-mode.js";
import { enterPvhViaTrampoline, writePvhStartInfo } from "../arch/x86_64/pvh.js";
import { ElfError, parseElfKernel } from "../boot/elf.js";
import type { VmExit } from "./vm-exit.js";

export const COM1_PORT = 0x3f8;
export const COM1_IRQ = 4;
export const PROGRAM_BASE = 0x10_0000n;

export interface X86VmConfig {
  vcpus: number;
  memoryMiB: number;
  /** Flat 64-bit code loaded at PROGRAM_BASE and entered there in long mode. */
  program?: Uint8Array;
  /** Or an ELF64 kernel (vmlinux) booted through its PVH entry, with this command line. */
  kernel?: { elf: Uint8Array; name?: string; cmdline: string };
  cpuTemplate: CpuTemplateName;
  output: (bytes: Uint8Array) => void;
}

export class X86Vm {
  private readonly pio = new PioBus();
  private done!: (e: VmExit) => void;
  private readonly finished = new Promise<VmExit>((r) => (this.done = r));
  private ended = false;

  private constructor(
    private readonly avm: KvmVm,
    cfg: X86VmConfig,
  ) {
    const uart = new Uart16550(
      (b) => cfg.output(Uint8Array.of(b)),
      (level) => avm.setIrqLine(COM1_IRQ, level),
    );
    this.pio.map(COM1_PORT, 8, "com1", uart);
    this.pio.map(0x60, 5, "i8042", new I8042(() => this.end({ reason: "reset", status: 0 })));
  }

  /** Creates the VM on /dev/kvm and loads the program. Bound: the program must fit in RAM. */
  static async create(cfg: X86VmConfig): Promise<X86Vm> {
    const ramBytes = cfg.memoryMiB * 1024 * 1024;
    if (!cfg.program === !cfg.kernel) throw new RangeError("give either a program or a kernel");
    if (cfg.program && BigInt(cfg.program.length) + PROGRAM_BASE > BigInt(ramBytes)) {
      throw new RangeError("the program does not fit in guest RAM");
    }
    const elf = cfg.kernel ? parseElfKernel(cfg.kernel.elf, cfg.kernel.name) : undefined;
    if (elf && elf.pvhEntry === undefined) {
      throw new ElfError(
        `${cfg.kernel!.name ?? "kernel"}: no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)`,
      );
    }
    for (const seg of elf?.segments ?? []) {
      if (seg.paddr < 0x10_0000n || seg.paddr + seg.memsz > BigInt(ramBytes)) {
        throw new ElfError(
          `${cfg.kernel!.name ?? "kernel"}: a segment at 0x${seg.paddr.toString(16)} does not fit in RAM`,
        );
      }
    }
    const avm = (await kvmAccelerator.createVm({
      vcpus: cfg.vcpus,
      ramBase: 0n,
      ramBytes,
      builtinFirmware: false,
    })) as KvmVm;
    const vm = new X86Vm(avm, cfg);
    try {
      const cpuid = applyCpuTemplate(avm.supportedCpuid(), cfg.cpuTemplate);
      for (const v of avm.vcpus) v.setCpuid(cpuid);
      if (cfg.program) {
        writeLongModeTables(avm.memory);
        avm.memory.write(PROGRAM_BASE, cfg.program);
        for (const v of avm.vcpus) {
          enterLongMode(v);
          v.setRegs({ rip: PROGRAM_BASE, rsp: 0x8000n, rflags: 2n });
        }
      } else if (elf && cfg.kernel) {
        for (const seg of elf.segments) {
          avm.memory.zero(seg.paddr, Number(seg.memsz));
          avm.memory.write(seg.paddr, seg.data);
        }
        const info = writePvhStartInfo(avm.memory, { ramBytes, cmdline: cfg.kernel.cmdline });
        // The boot vCPU; the others wait for the kernel's INIT/SIPI in the in-kernel LAPIC.
        enterPvhViaTrampoline(avm.memory, avm.vcpus[0]!, elf.pvhEntry!, info);
      }
    } catch (e) {
      await avm.stop();
      throw e;
    }
    return vm;
  }

  /** Runs until reset, a vCPU failure or stop(). */
  run(): Promise<VmExit> {
    const handler: ExitHandler = {
      postedWriteRanges: [],
      pioRead: (port, size) => this.pio.read(port, size),
      pioWrite: (port, size, value) => this.pio.write(port, size, value),
      mmioRead: () => null,
      mmioWrite: () => false,
      consoleWrite: () => {},
      consoleRead: () => -1,
      systemReset: () => this.end({ reason: "reset", status: 0 }),
      vcpuHalted: (_v, detail) => this.end({ reason: "halt", status: 125, detail }),
    };
    this.avm.start({ entry: PROGRAM_BASE, mode: "long64", args: [] }, handler);
    return this.finished;
  }

  stop(status: number, detail: string): void {
    this.end({ reason: "stopped", status, detail });
  }

  private end(e: VmExit): void {
    if (this.ended) return;
    this.ended = true;
    void this.avm.stop().then(() => this.done(e));
  }
}
