// One x86-64 VM on KVM: in-kernel irqchip (PIC, IO-APIC, local APICs) and PIT, a 16550A on
// COM1, an i8042 for reset and the CMOS RTC on the port bus, moat's control block in the MMIO hole, CPUID
// through a CPU template, an MP table for the vCPUs. It boots a Linux kernel — an ELF vmlinux
// through its PVH entry, or a bzImage through the 64-bit boot protocol — with an initramfs,
// or a flat 64-bit program entered directly in long mode (payload tests).
import type { KvmCpuState, X86AccelVm, X86ExitHandler } from "../accel/accel.js";
import type { Snapshottable } from "../devices/device-state.js";
import { SnapshotError, type OpenSnapshot, type SnapshotParts } from "./snapshot-file.js";
import { loadDevices, saveDevices, virtioStates, withDevicesSettled } from "./snapshot-devices.js";
import { kvmAccelerator } from "../accel/kvm/kvm-accel.js";
import { PioBus } from "../bus/pio-bus.js";
import { MmioBus } from "../bus/mmio-bus.js";
import { I8042 } from "../devices/legacy/i8042.js";
import { CMOS_IRQ, CMOS_PORT, CMOS_PORTS, CmosRtc } from "../devices/legacy/cmos-rtc.js";
import type { RtcHost } from "../devices/rtc-clock.js";
import { hostRtc } from "./host-rtc.js";
import { applyCpuTemplate, cpuidForVcpu, type CpuTemplateName } from "../arch/x86_64/cpuid.js";
import { enterLongMode, writeLongModeTables } from "../arch/x86_64/long-mode.js";
import { enterPvhViaTrampoline, writeCmdline, writePvhStartInfo } from "../arch/x86_64/pvh.js";
import { writeZeroPage } from "../arch/x86_64/zero-page.js";
import { writeMpTable, MPTABLE_MAX_CPUS } from "../arch/x86_64/mptable.js";
import { e820Map } from "../arch/x86_64/e820.js";
import { BOOT_MSRS } from "../arch/x86_64/msrs.js";
import { composeCmdline, templateArgs, virtioMmioArgs } from "../arch/x86_64/cmdline.js";
import {
  BOOT_STACK_TOP,
  COM1_IRQ,
  COM1_PORT,
  HIGH_RAM_START,
  TEST_BASE,
  TEST_SIZE,
  VIRTIO_BASE,
  VIRTIO_SLOTS,
  VIRTIO_STRIDE,
  virtioIrq,
} from "../arch/x86_64/memory-map.js";
import type { VirtioDevice } from "../devices/virtio/device.js";
import { VirtioInput } from "../devices/virtio/input.js";
import { ElfError, parseElfKernel } from "../boot/elf.js";
import { BzImageError, looksLikeBzImage, parseBzImage } from "../boot/bzimage.js";
import { SerialConsole } from "./serial-console.js";
import { controlBlock } from "./control-block.js";
import { attachVirtio, slotTable, type DeviceLineSink, type SlotDevice } from "./virtio-slots.js";
import { IoThread } from "./io-thread.js";
import { VirtioMmio } from "../devices/virtio/mmio-transport.js";
import { eventfdRead, eventfdWrite } from "../sys/libc.js";
import type { VmExit } from "./vm-exit.js";
import { VmLifecycle } from "./vm-lifecycle.js";
import { EXIT_MOAT_ERROR } from "./exit-status.js";
import { MoatError } from "../base/moat-error.js";

export { COM1_PORT, COM1_IRQ };
export const PROGRAM_BASE = 0x10_0000n;
/** The 64-bit entry of a bzImage's protected-mode kernel, from where it is loaded. */
const BZIMAGE_ENTRY_64 = 0x200n;
const PAGE = 4096n;

export class X86KernelError extends MoatError {
  override readonly kind = "invalid";
}

export interface X86VmConfig {
  vcpus: number;
  memoryMiB: number;
  /** Flat 64-bit code loaded at PROGRAM_BASE and entered there in long mode by every vCPU. */
  program?: Uint8Array;
  /** Or a Linux kernel: ELF vmlinux (PVH entry) or bzImage (64-bit entry). */
  kernel?: { image: Uint8Array; name?: string; cmdline: string; initrd?: Uint8Array };
  cpuTemplate: CpuTemplateName;
  /** Hold host input until the guest's command says its terminal is ready (moat's /moat/run). */
  holdInputUntilReady?: boolean;
  output: (bytes: Uint8Array) => void;
  /**
   * virtio devices, in slot order, announced on the kernel command line; a VM that boots a
   * kernel also has the machine's power button, after them.
   */
  virtio?: VirtioDevice[];
  /** Device failures (a hostile queue and the like), one line each, rate-limited. */
  log?: DeviceLineSink;
  /**
   * Called once guest RAM and the vCPUs exist, before the kernel is parsed (moat run locks RAM
   * and gives up root here, so a tenant's kernel is never parsed as root).
   */
  afterAllocate?: (avm: X86AccelVm) => void;
  /**
   * The VM's I/O thread, shared with its device backends (VmDevices.ioThread(): the TAP
   * devices): the VM then has one. Without it the VM makes its own, for its eventfds.
   */
  io?: IoThread;
  /** The host's clock and timers behind the guest's CMOS RTC (default: the real ones). */
  rtcHost?: RtcHost;
  /**
   * A snapshot to take up instead of loading the program or kernel (which are then not read:
   * given, they only say what the machine was: a program's has no power button).
   */
  restore?: OpenSnapshot;
  /** Map the snapshot's memory file over guest RAM (OpenSnapshot.mapMemory) rather than copy it. */
  mapRestore?: boolean;
}

export class X86Vm {
  private readonly pio = new PioBus();
  private readonly bus = new MmioBus();
  private readonly console: SerialConsole;
  private readonly rtc: CmosRtc;
  private readonly life = new VmLifecycle();
  /** The I/O thread that watches this VM's eventfds: the one given (shared), else its own. */
  private readonly io: IoThread | undefined;
  private readonly ownsIo: boolean;
  /** The eventfds watched, unwatched before stop() closes them. */
  private readonly watched: number[] = [];
  /** How a restore gave guest RAM the snapshot's memory: its file mapped, or copied in. */
  ramRestored: "mapped" | "copied" | undefined;
  /** The machine's power button (not with a flat program: no kernel to hear it). */
  readonly powerButton: VirtioInput | undefined;
  private readonly slots: SlotDevice[];
  private readonly transports: VirtioMmio[];
  /** Each slot's interrupt line (irqfd trigger and resample). */
  private readonly lines: Map<number, { trigger: number; resample: number }>;

  private constructor(
    /** The accelerator's VM: guest RAM, vCPU threads and their exit counters, for the host. */
    readonly avm: X86AccelVm,
    private readonly cfg: X86VmConfig,
  ) {
    this.console = new SerialConsole(
      cfg.output,
      (level) => avm.setIrqLine(COM1_IRQ, level),
      cfg.holdInputUntilReady === true,
    );
    this.pio.map(COM1_PORT, 8, "com1", this.console.uart);
    this.pio.map(0x60, 5, "i8042", new I8042(() => this.end({ reason: "reset", status: 0 })));
    this.rtc = new CmosRtc(cfg.rtcHost ?? hostRtc, (level) => avm.setIrqLine(CMOS_IRQ, level));
    this.pio.map(CMOS_PORT, CMOS_PORTS, "cmos-rtc", this.rtc);
    const control = controlBlock(
      (e) => this.end(e),
      this.console,
      () => this.life.markBoot(),
    );
    this.bus.map(TEST_BASE, TEST_SIZE, "control", control);
    // Each device's interrupt is a level on its own IO-APIC pin (level-triggered in the MP
    // table), driven through an irqfd with a resample eventfd: asserted while the device's
    // interrupt status is non-zero, lowered by KVM at the guest's EOI, re-asserted by the VMM
    // if the device still wants service. Queue notifies arrive through ioeventfds. Both
    // eventfd kinds are watched by the I/O thread: the data path takes no vCPU exit.
    const bootsKernel = cfg.kernel !== undefined || (cfg.restore && !cfg.program);
    this.powerButton = bootsKernel ? new VirtioInput("virtio-input power", "power") : undefined;
    this.slots = slotTable(cfg.virtio ?? [], VIRTIO_SLOTS, this.powerButton);
    const devices = this.slots;
    this.ownsIo = devices.length > 0 && !cfg.io;
    this.io = this.ownsIo ? new IoThread() : cfg.io;
    const lines = new Map(
      devices.map(({ slot }) => [slot, avm.levelInterruptFds(virtioIrq(slot))]),
    );
    this.lines = lines;
    const transports = attachVirtio(
      this.bus,
      avm.memory,
      devices,
      {
        base: VIRTIO_BASE,
        stride: VIRTIO_STRIDE,
        slots: VIRTIO_SLOTS + 1,
        setIrq: (slot, level) => {
          if (level) eventfdWrite(lines.get(slot)!.trigger);
        },
      },
      cfg.log,
    );
    this.transports = transports;
    transports.forEach((t, i) => {
      const { slot, device } = devices[i]!;
      const line = lines.get(slot)!;
      this.watch(line.resample, () => {
        eventfdRead(line.resample);
        if (t.interruptPending) eventfdWrite(line.trigger);
      });
      const reg = VIRTIO_BASE + BigInt(slot) * VIRTIO_STRIDE + BigInt(VirtioMmio.QUEUE_NOTIFY);
      device.queueMaxSizes.forEach((_, q) => {
        const fd = avm.notifyFd(reg, 4, { datamatch: BigInt(q) });
        this.watch(fd, () => {
          eventfdRead(fd);
          t.hostNotify(q);
        });
      });
    });
  }

  private watch(fd: number, cb: () => void): void {
    this.io!.watch(fd, cb);
    this.watched.push(fd);
  }

  /** Ends the vCPUs and this VM's part of the I/O thread (a shared one goes on for the devices). */
  private async release(): Promise<void> {
    for (const fd of this.watched.splice(0)) this.io!.unwatch(fd);
    await Promise.all([this.avm.stop(), this.ownsIo ? this.io!.close() : undefined]);
  }

  /**
   * Creates the VM on /dev/kvm and loads the program or kernel. Bounds: 1..MPTABLE_MAX_CPUS
   * vCPUs; RAM below the MMIO hole; kernel, initrd and tables must fit in RAM without overlap.
   */
  static async create(cfg: X86VmConfig): Promise<X86Vm> {
    if (!cfg.program === !cfg.kernel && !cfg.restore)
      throw new RangeError("give either a program or a kernel");
    if (!Number.isInteger(cfg.vcpus) || cfg.vcpus < 1 || cfg.vcpus > MPTABLE_MAX_CPUS) {
      throw new RangeError(`x86-64 VMs have 1 to ${MPTABLE_MAX_CPUS} vCPUs, not ${cfg.vcpus}`);
    }
    const ramBytes = cfg.memoryMiB * 1024 * 1024;
    const e820 = e820Map(ramBytes); // checks the RAM size
    if (
      !cfg.restore &&
      cfg.program &&
      BigInt(cfg.program.length) + PROGRAM_BASE > BigInt(ramBytes)
    ) {
      throw new RangeError("the program does not fit in guest RAM");
    }
    const avm = await kvmAccelerator.createVm({ vcpus: cfg.vcpus, ramBase: 0n, ramBytes });
    const vm = new X86Vm(avm, cfg);
    try {
      cfg.afterAllocate?.(avm);
      const cpuid = applyCpuTemplate(avm.supportedCpuid(), cfg.cpuTemplate);
      // CPUID before the vCPUs' state: KVM checks a restored state against it.
      avm.vcpus.forEach((v, i) => v.setCpuid(cpuidForVcpu(cpuid, i)));
      if (cfg.restore) {
        vm.restoreFrom(cfg.restore);
        return vm;
      }
      const load = cfg.kernel ? planKernel(cfg.kernel, ramBytes) : undefined;
      avm.vcpus.forEach((v) => v.setMsrs(BOOT_MSRS));
      const mem = avm.memory;
      writeMpTable(mem, cfg.vcpus);
      if (cfg.program) {
        writeLongModeTables(mem);
        mem.write(PROGRAM_BASE, cfg.program);
        avm.vcpus.forEach((v, i) => {
          enterLongMode(v);
          // Each vCPU gets its own 4 KiB of stack and its index in %rdi.
          const rsp = BOOT_STACK_TOP - BigInt(i) * 0x1000n;
          v.setRegs({ rip: PROGRAM_BASE, rsp, rdi: BigInt(i), rflags: 2n });
          if (i > 0) v.makeRunnable();
        });
      } else if (load && cfg.kernel) {
        const cmdline = composeCmdline(cfg.kernel.cmdline, [
          ...templateArgs(cfg.cpuTemplate),
          ...virtioMmioArgs(vm.slots.map(({ slot }) => slot)),
        ]);
        writeCmdline(mem, cmdline, load.cmdlineLimit);
        for (const seg of load.segments) {
          mem.zero(seg.addr, seg.memsz);
          mem.write(seg.addr, seg.data);
        }
        if (load.initrd && cfg.kernel.initrd) mem.write(load.initrd.addr, cfg.kernel.initrd);
        const boot = avm.vcpus[0]!;
        // The other vCPUs wait in the in-kernel LAPIC for the kernel's INIT/SIPI.
        if (load.kind === "pvh") {
          const info = writePvhStartInfo(mem, {
            e820,
            ...(load.initrd ? { initrd: load.initrd } : {}),
          });
          enterPvhViaTrampoline(mem, boot, load.entry, info);
        } else {
          const zp = writeZeroPage(mem, {
            setupHeader: load.setupHeader!,
            e820,
            ...(load.initrd ? { initrd: load.initrd } : {}),
          });
          writeLongModeTables(mem);
          enterLongMode(boot);
          boot.setRegs({ rip: BigInt(load.entry), rsi: zp, rsp: BOOT_STACK_TOP, rflags: 2n });
        }
      }
    } catch (e) {
      await vm.release();
      throw e;
    }
    return vm;
  }

  /** The machine's devices as a snapshot names them, in the order they are restored. */
  private snapshotDevices(): [string, Snapshottable][] {
    return [
      ["uart", this.console],
      ["rtc", this.rtc],
      ...virtioStates(this.slots, this.transports),
    ];
  }

  /**
   * The machine's state for a snapshot: the vCPUs are paused at an instruction boundary (their
   * last exit's I/O complete) and stay so; devices settled as on every machine.
   */
  async snapshot(timeoutMs: number): Promise<Omit<SnapshotParts, "machine">> {
    const { cpu, devices } = await withDevicesSettled(
      this.slots.map((s) => s.device),
      timeoutMs,
      async () => {
        await this.avm.pauseAtBoundary(timeoutMs);
        return this.avm.saveCpuState();
      },
      () =>
        saveDevices(this.snapshotDevices(), {
          booted: this.life.userspaceStarted,
          cpu_template: this.cfg.cpuTemplate,
        }),
    );
    const mem = this.avm.memory;
    return { arch: "x86_64", accel: "kvm", cpu, devices, ram: mem.hostView(mem.base, mem.size) };
  }

  /**
   * Takes up snapshot `s` before start(): guest RAM, each device's state, the vCPUs' and the
   * in-kernel devices' state. Refused: a snapshot of another CPU template (the guest saw its
   * CPUID) or another machine.
   */
  private restoreFrom(s: OpenSnapshot): void {
    const m = s.manifest;
    if (m.accel !== "kvm") throw new SnapshotError(`${s.dir}: a snapshot of a ${m.arch} VM`);
    const mem = this.avm.memory;
    const ram = mem.hostView(mem.base, mem.size);
    this.ramRestored = this.cfg.mapRestore
      ? s.mapMemory(ram, (fd) => this.avm.mapRamFile(fd))
      : (s.loadMemory(ram), "copied");
    const machine = loadDevices(this.snapshotDevices(), m.devices);
    const template = machine.str("cpu_template", 32);
    if (template !== this.cfg.cpuTemplate)
      throw new SnapshotError(
        `${s.dir}: made with the "${template}" CPU template; this host's VM has "${this.cfg.cpuTemplate}"`,
      );
    if (machine.bool("booted")) this.life.markBoot();
    this.avm.loadCpuState(m.cpu as KvmCpuState);
    // A device that wanted service when saved asserts its line again.
    this.transports.forEach((t, i) => {
      if (t.interruptPending) eventfdWrite(this.lines.get(this.slots[i]!.slot)!.trigger);
    });
  }

  /** Runs until power-off, reset, a vCPU failure or stop(). */
  run(): Promise<VmExit> {
    const handler: X86ExitHandler = {
      pioRead: (port, size) => this.pio.read(port, size),
      pioWrite: (port, size, value) => this.pio.write(port, size, value),
      mmioRead: (addr, size) => this.bus.read(addr, size),
      mmioWrite: (addr, size, value) => this.bus.write(addr, size, value),
      vcpuHalted: (_v, detail) => this.end({ reason: "halt", status: EXIT_MOAT_ERROR, detail }),
    };
    this.avm.start(handler);
    return this.life.finished;
  }

  /** Host input for the guest console; false: pause the source until `resume` runs. */
  sendInput(data: Uint8Array, resume: () => void): boolean {
    return this.console.sendInput(data, resume);
  }

  /** Holds the vCPUs out of guest mode; devices keep running. */
  pause(): boolean {
    this.avm.pause();
    return true;
  }

  resume(): void {
    this.avm.resume();
  }

  /** Whether the guest has marked its userspace started (the control block's boot mark). */
  userspaceStarted(): boolean {
    return this.life.userspaceStarted;
  }

  stop(status: number, detail: string): void {
    this.end({ reason: "stopped", status, detail });
  }

  private end(e: VmExit): void {
    this.rtc.close();
    this.life.end(e, () => this.release());
  }
}

interface KernelPlan {
  kind: "pvh" | "bzimage";
  entry: number;
  segments: { addr: bigint; data: Uint8Array; memsz: number }[];
  setupHeader?: Uint8Array;
  cmdlineLimit: number;
  initrd?: { addr: bigint; size: number };
}

/**
 * Where the kernel and initrd go. Bounds: every segment from 1 MiB up inside RAM; the initrd
 * page-aligned at the top of RAM (below the kernel's initrd_addr_max), above the kernel.
 */
function planKernel(k: NonNullable<X86VmConfig["kernel"]>, ramBytes: number): KernelPlan {
  const name = k.name ?? "kernel";
  const ram = BigInt(ramBytes);
  let plan: KernelPlan;
  let kernelEnd: bigint;
  let initrdMax = ram;
  if (looksLikeBzImage(k.image)) {
    const bz = parseBzImage(k.image, name);
    const addr = bz.relocatable ? HIGH_RAM_START : bz.prefAddress;
    kernelEnd = addr + BigInt(Math.max(bz.initSize, bz.kernel.length));
    if (addr < HIGH_RAM_START || kernelEnd > ram) {
      throw new BzImageError(
        `${name}: needs ${Math.ceil(bz.initSize / 2 ** 20)} MiB from 0x${addr.toString(16)}; give the VM more memory`,
      );
    }
    if (bz.initrdAddrMax < initrdMax) initrdMax = bz.initrdAddrMax;
    plan = {
      kind: "bzimage",
      entry: Number(addr + BZIMAGE_ENTRY_64),
      segments: [{ addr, data: bz.kernel, memsz: bz.kernel.length }],
      setupHeader: bz.setupHeader,
      cmdlineLimit: bz.cmdlineSize > 0 ? bz.cmdlineSize : 255,
    };
  } else if (k.image.length >= 4 && k.image[0] === 0x7f && k.image[1] === 0x45) {
    const elf = parseElfKernel(k.image, name);
    if (elf.pvhEntry === undefined) {
      throw new ElfError(`${name}: no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)`);
    }
    kernelEnd = 0n;
    for (const seg of elf.segments) {
      if (seg.paddr < HIGH_RAM_START || seg.paddr + seg.memsz > ram) {
        throw new ElfError(
          `${name}: a segment at 0x${seg.paddr.toString(16)} does not fit in RAM; give the VM more memory`,
        );
      }
      if (seg.paddr + seg.memsz > kernelEnd) kernelEnd = seg.paddr + seg.memsz;
    }
    plan = {
      kind: "pvh",
      entry: elf.pvhEntry,
      segments: elf.segments.map((s) => ({ addr: s.paddr, data: s.data, memsz: Number(s.memsz) })),
      cmdlineLimit: 4095,
    };
  } else {
    throw new X86KernelError(`${name}: neither an ELF vmlinux nor a bzImage`);
  }
  if (k.initrd && k.initrd.length > 0) {
    const size = BigInt(k.initrd.length);
    const addr = ((initrdMax > ram ? ram : initrdMax) - size) & ~(PAGE - 1n);
    if (addr < kernelEnd || size > ram) {
      throw new X86KernelError(
        `the initrd (${Math.ceil(k.initrd.length / 2 ** 20)} MiB) does not fit in RAM above the kernel; give the VM more memory`,
      );
    }
    plan.initrd = { addr, size: k.initrd.length };
  }
  return plan;
}
