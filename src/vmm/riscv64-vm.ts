// One riscv64 VM: builds the machine (RAM, PLIC, UART, control block, device tree), loads the
// kernel, initrd and optional firmware, runs the harts on an accelerator and reports how the
// VM ended. Device models are wired here; they own no I/O themselves.
import type {
  RiscvAccelerator,
  RiscvAccelVm,
  RiscvExitHandler,
  RiscvHartsState,
} from "../accel/accel.js";
import type { VirtioMmio } from "../devices/virtio/mmio-transport.js";
import type { Snapshottable } from "../devices/device-state.js";
import { loadDevices, saveDevices, virtioStates, withDevicesSettled } from "./snapshot-devices.js";
import {
  SnapshotError,
  type OpenSnapshot,
  type SnapshotParts,
  type SoftCpuState,
} from "./snapshot-file.js";
import { hartsFromManifest, hartsToManifest } from "./snapshot-harts.js";
import { MmioBus } from "../bus/mmio-bus.js";
import { PvPanic } from "../devices/pvpanic.js";
import { GoldfishRtc } from "../devices/goldfish-rtc.js";
import { VmGenId } from "../devices/vmgenid.js";
import { randomBytes } from "node:crypto";
import type { RtcHost } from "../devices/rtc-clock.js";
import { hostRtc } from "./host-rtc.js";
import { Plic, PLIC_SIZE } from "../arch/riscv64/plic.js";
import { buildDeviceTree } from "../arch/riscv64/device-tree.js";
import { BootLayoutError, computeBootLayout, fwDynamicInfo } from "../arch/riscv64/boot-layout.js";
import {
  PLIC_BASE,
  PVPANIC_BASE,
  PVPANIC_SIZE,
  RAM_BASE,
  RTC_BASE,
  RTC_IRQ,
  RTC_SIZE,
  TEST_BASE,
  TEST_SIZE,
  UART_BASE,
  UART_IRQ,
  UART_SIZE,
  VIRTIO_BASE,
  VIRTIO_SLOTS,
  VIRTIO_STRIDE,
  VMGENID_BASE,
  VMGENID_IRQ,
  VMGENID_SIZE,
  virtioIrq,
} from "../arch/riscv64/memory-map.js";
import type { VirtioDevice } from "../devices/virtio/device.js";
import { VirtioInput } from "../devices/virtio/input.js";
import { parseRiscvImage } from "../boot/riscv-image.js";
import { SerialConsole } from "./serial-console.js";
import { controlBlock } from "./control-block.js";
import { attachVirtio, slotTable, type DeviceLineSink, type SlotDevice } from "./virtio-slots.js";
import type { VmExit } from "./vm-exit.js";
import { VmLifecycle } from "./vm-lifecycle.js";
import { EXIT_MOAT_ERROR } from "./exit-status.js";

/** Room reserved for the device tree (a few KiB with 8 harts and a long command line). */
const DTB_SLOT_BYTES = 64 * 1024;

export interface Riscv64VmConfig {
  accel: RiscvAccelerator;
  /**
   * Called once guest RAM and the harts exist, before kernel, initrd and firmware are parsed
   * (moat run locks RAM and gives up root here).
   */
  afterAllocate?: (avm: RiscvAccelVm) => void;
  harts: number;
  memoryMiB: number;
  /** The kernel to boot (absent only when restoring). */
  kernel?: Uint8Array;
  /** A snapshot to take up instead of booting (its RAM, harts and devices). */
  restore?: OpenSnapshot;
  /**
   * The restored VM is a clone: it gets a new VM generation ID before its harts run (the guest
   * reseeds its RNG; docs/snapshot.md "Clones").
   */
  clone?: boolean;
  kernelName?: string;
  initrd?: Uint8Array;
  cmdline: string;
  /** OpenSBI fw_dynamic.bin; without it moat's own SBI serves the kernel. */
  firmware?: Uint8Array;
  /** Raw program entered in M-mode at RAM_BASE, no SBI, no device tree use (ISA tests). */
  bare?: boolean;
  /** Hold host input until the guest's command says its terminal is ready (moat's /moat/run). */
  holdInputUntilReady?: boolean;
  /**
   * virtio devices, in slot order (slot i at VIRTIO_BASE + i * VIRTIO_STRIDE); a VM that boots a
   * kernel also has the machine's power button, after them.
   */
  virtio?: VirtioDevice[];
  /** Device failures (a hostile queue and the like), one line each, rate-limited. */
  log?: DeviceLineSink;
  /** Every byte the guest writes to its console. */
  output: (bytes: Uint8Array) => void;
  /** The host's clock and timers behind the guest's RTC (default: the real ones). */
  rtcHost?: RtcHost;
}

export class Riscv64Vm {
  private readonly bus = new MmioBus();
  private readonly console: SerialConsole;
  private readonly plic: Plic;
  private readonly rtc: GoldfishRtc;
  private readonly vmgenid: VmGenId;
  private readonly life = new VmLifecycle();
  /** The machine's power button (not on a bare machine: no kernel to hear it). */
  readonly powerButton: VirtioInput | undefined;
  private readonly slots: SlotDevice[];
  private readonly transports: VirtioMmio[];
  /** The harts of the snapshot being restored, until run() starts them. */
  private restoredHarts: RiscvHartsState | undefined;

  private constructor(
    private readonly cfg: Riscv64VmConfig,
    /** The accelerator's VM: guest RAM, vCPU threads and their exit counters, for the host. */
    readonly avm: RiscvAccelVm,
  ) {
    this.plic = new Plic(cfg.harts * 2, (ctx, level) =>
      avm.setExternalInterrupt(ctx >> 1, (ctx & 1) === 0 ? "M" : "S", level),
    );
    this.console = new SerialConsole(
      cfg.output,
      (level) => this.plic.setLevel(UART_IRQ, level),
      cfg.holdInputUntilReady === true,
    );
    const control = controlBlock(
      (e) => this.end(e),
      this.console,
      () => this.life.markBoot(),
    );
    this.bus.map(TEST_BASE, TEST_SIZE, "control", control);
    this.bus.map(
      PVPANIC_BASE,
      PVPANIC_SIZE,
      "pvpanic",
      new PvPanic(() =>
        this.end({ reason: "panic", status: EXIT_MOAT_ERROR, detail: "the guest kernel panicked" }),
      ),
    );
    this.rtc = new GoldfishRtc(cfg.rtcHost ?? hostRtc, (level) =>
      this.plic.setLevel(RTC_IRQ, level),
    );
    this.bus.map(RTC_BASE, RTC_SIZE, "rtc", this.rtc);
    this.vmgenid = new VmGenId(
      (level) => this.plic.setLevel(VMGENID_IRQ, level),
      (n) => randomBytes(n),
    );
    this.bus.map(VMGENID_BASE, VMGENID_SIZE, "vmgenid", this.vmgenid);
    this.bus.map(PLIC_BASE, PLIC_SIZE, "plic", this.plic);
    this.powerButton = cfg.bare ? undefined : new VirtioInput("virtio-input power", "power");
    this.slots = slotTable(cfg.virtio ?? [], VIRTIO_SLOTS, this.powerButton);
    this.transports = attachVirtio(
      this.bus,
      avm.memory,
      this.slots,
      {
        base: VIRTIO_BASE,
        stride: VIRTIO_STRIDE,
        slots: VIRTIO_SLOTS + 1,
        setIrq: (slot, level) => this.plic.setLevel(virtioIrq(slot), level),
      },
      cfg.log,
    );
    this.bus.map(UART_BASE, UART_SIZE, "uart", this.console.uart);
  }

  /** Creates the VM and loads its images; throws a clear error for bad images or sizes. */
  static async create(cfg: Riscv64VmConfig): Promise<Riscv64Vm> {
    const ramBytes = cfg.memoryMiB * 1024 * 1024;
    const avm = await cfg.accel.createVm({
      vcpus: cfg.harts,
      ramBase: RAM_BASE,
      ramBytes,
      builtinFirmware: !cfg.bare && !cfg.firmware,
    });
    const vm = new Riscv64Vm(cfg, avm);
    try {
      cfg.afterAllocate?.(avm);
      if (cfg.restore) vm.restoreFrom(cfg.restore);
      else vm.load(ramBytes);
    } catch (e) {
      await avm.stop();
      throw e;
    }
    return vm;
  }

  private entry = RAM_BASE;
  private bootArgs: bigint[] = [];

  /** The machine's devices as a snapshot names them, in the order they are restored. */
  private snapshotDevices(): [string, Snapshottable][] {
    return [
      ["plic", this.plic],
      ["uart", this.console],
      ["rtc", this.rtc],
      ["vmgenid", this.vmgenid],
      ...virtioStates(this.slots, this.transports),
    ];
  }

  /**
   * The machine's state for a snapshot: the VM is paused (pause()) and stays so. Devices that
   * serve requests on their own time are quiesced first (none in flight), and take requests
   * again after (release()). Rejects if a hart or a device does not settle within `timeoutMs`.
   */
  async snapshot(timeoutMs: number): Promise<Omit<SnapshotParts, "machine">> {
    const { cpu, devices } = await withDevicesSettled(
      this.slots.map((s) => s.device),
      timeoutMs,
      () => this.avm.saveHarts(timeoutMs),
      () => saveDevices(this.snapshotDevices(), { booted: this.life.userspaceStarted }),
    );
    const mem = this.avm.memory;
    return {
      arch: "riscv64",
      accel: "soft",
      cpu: hartsToManifest(cpu),
      devices,
      ram: mem.hostView(mem.base, mem.size),
    };
  }

  /** Takes up snapshot `s`: guest RAM, each device's state, and the harts for run(). */
  private restoreFrom(s: OpenSnapshot): void {
    const mem = this.avm.memory;
    const m = s.manifest;
    if (m.accel !== "soft") throw new SnapshotError(`${s.dir}: a snapshot of a ${m.arch} VM`);
    this.restoredHarts = hartsFromManifest(m.cpu as SoftCpuState, this.cfg.harts);
    // RAM first: a device taking up its queues may read the rings there.
    s.loadMemory(mem.hostView(mem.base, mem.size));
    const machine = loadDevices(this.snapshotDevices(), m.devices);
    if (machine.bool("booted")) this.life.markBoot();
    // A clone must not go on with its parent's RNG state: the interrupt is pending when the
    // harts start, and the guest reseeds before it runs much else.
    if (this.cfg.clone) this.vmgenid.newGeneration();
  }

  private load(ramBytes: number): void {
    const mem = this.avm.memory;
    if (!this.cfg.kernel) throw new Error("a kernel or a snapshot to restore is needed");
    if (this.cfg.bare) {
      if (this.cfg.kernel.length > ramBytes) throw new Error("program larger than RAM");
      mem.write(RAM_BASE, this.cfg.kernel);
      this.entry = RAM_BASE;
      this.bootArgs = [0n, 0n];
      return;
    }
    const image = parseRiscvImage(this.cfg.kernel, this.cfg.kernelName);
    const initrdSize = this.cfg.initrd?.length ?? 0;
    const layout = computeBootLayout({
      ramBase: RAM_BASE,
      ramBytes,
      kernelOffset: image.textOffset,
      kernelSize: image.imageSize,
      initrdSize,
      dtbSize: DTB_SLOT_BYTES,
      firmwareSize: this.cfg.firmware?.length ?? 0,
    });
    const dtb = buildDeviceTree({
      harts: this.cfg.harts,
      ramBase: RAM_BASE,
      ramSize: BigInt(ramBytes),
      bootargs: this.cfg.cmdline,
      virtio: this.slots.map(({ slot }) => ({ slot })),
      ...(layout.initrd ? { initrd: layout.initrd } : {}),
    });
    if (dtb.length > DTB_SLOT_BYTES) {
      throw new BootLayoutError(
        `the device tree (${dtb.length} bytes; is the command line huge?) exceeds its ${DTB_SLOT_BYTES}-byte slot`,
      );
    }
    mem.write(layout.kernel, image.bytes);
    if (layout.initrd && this.cfg.initrd) mem.write(layout.initrd.start, this.cfg.initrd);
    mem.write(layout.dtb, dtb);
    if (this.cfg.firmware && layout.firmware !== undefined && layout.fwInfo !== undefined) {
      mem.write(layout.firmware, this.cfg.firmware);
      mem.write(layout.fwInfo, fwDynamicInfo(layout.kernel));
      this.entry = layout.firmware;
      this.bootArgs = [0n, layout.dtb, layout.fwInfo];
    } else {
      this.entry = layout.kernel;
      this.bootArgs = [0n, layout.dtb];
    }
  }

  /** Starts the harts; resolves when the VM powers off, resets, halts or is stopped. */
  run(): Promise<VmExit> {
    const handler: RiscvExitHandler = {
      postedWriteRanges: this.bus.ranges(),
      mmioRead: (addr, size) => this.bus.read(addr, size),
      mmioWrite: (addr, size, value) => this.bus.write(addr, size, value),
      consoleWrite: (bytes) => this.cfg.output(bytes),
      consoleRead: () => this.console.popByte(),
      systemReset: (type) => this.end({ reason: type === 0 ? "poweroff" : "reset", status: 0 }),
      vcpuHalted: (_vcpu, detail) => this.end({ reason: "halt", status: EXIT_MOAT_ERROR, detail }),
    };
    const firmware = this.cfg.bare || this.cfg.firmware;
    const restored = this.restoredHarts;
    this.restoredHarts = undefined;
    this.avm.start(
      restored
        ? { restore: restored }
        : { entry: this.entry, mode: firmware ? "M" : "S", args: this.bootArgs },
      handler,
    );
    return this.life.finished;
  }

  /**
   * Host input for the guest console. Returns false when the caller should pause its source
   * until `resume` is called (the bounded queue is full).
   */
  sendInput(data: Uint8Array, resume: () => void): boolean {
    return this.console.sendInput(data, resume);
  }

  /** Holds the vCPUs; devices keep running. */
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

  /** Stops the VM from outside (Ctrl-A x, a signal, the control socket). */
  stop(status: number, detail: string): void {
    this.end({ reason: "stopped", status, detail });
  }

  private end(e: VmExit): void {
    this.rtc.close();
    this.life.end(
      e,
      () => this.avm.stop(),
      () => ({
        instructions: this.avm.stats().reduce((n, s) => n + s.instructions, 0n),
      }),
    );
  }
}
