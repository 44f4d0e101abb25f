// The KVM accelerator: guest RAM is an anonymous private mapping given to KVM as one memory slot;
// each vCPU runs in its own worker_thread (vcpu-worker.ts); the VMM thread serves their port
// and MMIO exits. The architecture layer above configures each vCPU's registers (through
// `vcpus`) before start().
//
// A vCPU is kicked out of KVM_RUN wherever it is by setting kvm_run.immediate_exit and sending
// its thread SIGUSR2 (handled, as a no-op, so it interrupts the ioctl instead of killing us).
//
// With the in-kernel irqchip (the default) HLT waits in the kernel for an interrupt.
// Device data paths avoid exits altogether: ioeventfd turns a guest's notify write into an
// eventfd signal inside KVM, irqfd turns an eventfd signal into a guest interrupt.
import { Worker } from "node:worker_threads";
import type {
  KvmCpuState,
  X86AccelVm,
  X86AccelVmConfig,
  X86Accelerator,
  X86ExitHandler,
} from "../accel.js";
import { GuestMemory } from "../../memory/guest-memory.js";
import { Kvm, type CpuidEntry, type VcpuFd, type VmFd } from "../../kvm/kvm.js";
import {
  MAP_ANONYMOUS,
  closeFd,
  eventfd,
  MAP_PRIVATE,
  mmapFilePrivateAt,
  PROT_READ,
  PROT_WRITE,
  type Pointer,
  mmap,
  munmap,
  tgkill,
  viewOf,
} from "../../sys/libc.js";
import {
  CH_DOORBELL,
  CH_STARTED,
  CH_STATE,
  CH_STOP,
  CH_PAUSE,
  CH_PAUSED,
  CH_TID,
  channelThreadIds,
  newChannel,
  newExitCounters,
  newPostedRing,
  sumExitCounters,
} from "../channel.js";
import { serveChannel } from "../channel-server.js";
import type { VcpuWorkerData } from "./vcpu-worker.js";
import { KVM_EXIT_KINDS } from "./exit-kinds.js";
import { MoatError } from "../../base/moat-error.js";
import { DeviceStateError } from "../../devices/device-state.js";
import {
  loadVcpuState,
  parseVcpuState,
  saveVcpuState,
  vcpuStateHost,
  type VcpuStateHost,
} from "../../kvm/vcpu-state.js";
import { loadVmState, saveVmState, type VmStateShape } from "../../kvm/vm-state.js";

const KICK_SIGNAL = 12; // SIGUSR2
/**
 * How often a vCPU still waiting for INIT/SIPI is poked. Seen on a PVM-nested host: a vCPU
 * blocked in KVM_RUN for its SIPI was still at the reset vector 40 s after Linux sent it; a
 * signal makes KVM_RUN return, and the next KVM_RUN accepts the pending INIT/SIPI. Harmless
 * where wake-ups work: the poking stops once every vCPU has started. (On PVM the secondary
 * CPU still does not come up after that: docs/kvm.md.)
 */
const SIPI_POKE_MS = 5;
let kickHandlerInstalled = false;

/** Guest RAM on KVM is one mapping viewed as one ArrayBuffer: at most 4 GiB for now. */
export const KVM_MAX_RAM_BYTES = 0xffff_f000;

export class KvmAccelError extends MoatError {
  override readonly kind = "host";
}

class KvmVm implements X86AccelVm {
  readonly memory: GuestMemory;
  /** The vCPUs, to be configured (registers, segments) before start(). */
  readonly vcpus: VcpuFd[] = [];
  private readonly workers: Worker[] = [];
  private readonly channels: Int32Array[] = [];
  private readonly counters: Float64Array[] = [];
  private stopping = false;
  private readonly eventFds: number[] = [];
  private sipiPoker: ReturnType<typeof setInterval> | undefined;
  private host: VcpuStateHost | undefined;

  constructor(
    private readonly kvm: Kvm,
    private readonly vm: VmFd,
    private readonly ram: Pointer,
    private readonly config: X86AccelVmConfig,
  ) {
    this.memory = new GuestMemory(config.ramBase, new Uint8Array(viewOf(ram, config.ramBytes)));
    vm.setUserMemoryRegion({
      slot: 0,
      guestPhysAddr: config.ramBase,
      size: config.ramBytes,
      hostAddr: ram,
    });
    if (config.irqchip !== false) {
      vm.createIrqchip();
      vm.createPit();
    }
    for (let i = 0; i < config.vcpus; i++) this.vcpus.push(vm.createVcpu(i));
  }

  mapRamFile(fd: number): void {
    // Over the mapping KVM's memory slot names: its MMU notifiers drop what it had mapped.
    mmapFilePrivateAt(this.ram, this.config.ramBytes, fd);
  }

  /** The host KVM's CPUID offer, for the architecture layer's CPU template. */
  supportedCpuid(): CpuidEntry[] {
    return this.kvm.supportedCpuid();
  }

  setIrqLine(gsi: number, level: boolean): void {
    if (!this.stopping) this.vm.irqLine(gsi, level);
  }

  /**
   * An eventfd that KVM signals when the guest writes `len` bytes to `addr` (a port when
   * `pio`; only the value `datamatch` when given), without an exit. Closed by stop().
   */
  notifyFd(addr: bigint, len: number, opts: { pio?: boolean; datamatch?: bigint } = {}): number {
    const fd = eventfd();
    try {
      this.vm.ioeventfd({ addr, len, fd, ...opts });
    } catch (e) {
      closeFd(fd);
      throw e;
    }
    this.eventFds.push(fd);
    return fd;
  }

  /** An eventfd whose signal raises interrupt `gsi` (edge) in the guest. Closed by stop(). */
  interruptFd(gsi: number): number {
    const fd = eventfd();
    try {
      this.vm.irqfd(fd, gsi);
    } catch (e) {
      closeFd(fd);
      throw e;
    }
    this.eventFds.push(fd);
    return fd;
  }

  /**
   * A level-triggered interrupt line `gsi` driven by eventfds: signal `trigger` to assert it;
   * KVM lowers it at the guest's EOI and signals `resample`. Closed by stop().
   */
  levelInterruptFds(gsi: number): { trigger: number; resample: number } {
    const trigger = eventfd();
    const resample = eventfd();
    try {
      this.vm.irqfd(trigger, gsi, { resampleFd: resample });
    } catch (e) {
      closeFd(trigger);
      closeFd(resample);
      throw e;
    }
    this.eventFds.push(trigger, resample);
    return { trigger, resample };
  }

  /** Starts every vCPU as the architecture layer configured it. */
  start(handler: X86ExitHandler): void {
    if (!kickHandlerInstalled) {
      // Without a handler SIGUSR2 would end the process; with one it only interrupts KVM_RUN.
      process.on("SIGUSR2", () => {});
      kickHandlerInstalled = true;
    }
    this.vcpus.forEach((vcpu, index) => {
      const channel = newChannel();
      const counters = newExitCounters();
      this.channels.push(channel);
      this.counters.push(counters);
      const data: VcpuWorkerData = {
        index,
        fd: vcpu.fd,
        runSize: vcpu.runSize,
        channel: channel.buffer as SharedArrayBuffer,
        counters: counters.buffer as SharedArrayBuffer,
      };
      const w = new Worker(new URL("./vcpu-worker.js", import.meta.url), { workerData: data });
      w.on("message", (m: { kind: string; vcpu: number; detail: string }) => {
        if (m.kind === "halt" && !this.stopping) handler.vcpuHalted(m.vcpu, m.detail);
      });
      w.on("error", (e) => {
        if (!this.stopping) handler.vcpuHalted(index, `vcpu ${index}: worker failed: ${e.message}`);
      });
      this.workers.push(w);
      // Port I/O is never posted: a ring that nothing writes.
      void serveChannel(channel, newPostedRing(), handler, () => this.stopping);
    });
    if (this.vcpus.length > 1) {
      this.sipiPoker = setInterval(() => this.pokeWaitingVcpus(), SIPI_POKE_MS);
      this.sipiPoker.unref();
    }
  }

  /** Signals every vCPU that still waits for INIT/SIPI (see SIPI_POKE_MS). */
  private pokeWaitingVcpus(): void {
    let waiting = 0;
    this.channels.forEach((ch, i) => {
      if (i === 0 || Atomics.load(ch, CH_STARTED) !== 0) return;
      waiting++;
      const tid = Atomics.load(ch, CH_TID);
      if (tid > 0) {
        try {
          tgkill(tid, KICK_SIGNAL);
        } catch {
          /* the thread has gone */
        }
      }
    });
    if (waiting === 0) clearInterval(this.sipiPoker);
  }

  exitCounts(): Record<string, number> {
    return sumExitCounters(this.counters, KVM_EXIT_KINDS);
  }

  vcpuThreadIds(timeoutMs: number): Promise<number[]> {
    return channelThreadIds(this.channels, timeoutMs, () => this.stopping);
  }

  /** Stops vCPU `i` in KVM_RUN (it stays stopped until immediate_exit is cleared). */
  kick(i: number): void {
    const ch = this.channels[i];
    if (!ch) return;
    this.vcpus[i]!.setImmediateExit(true);
    Atomics.store(ch, CH_STOP, 1);
    this.signalVcpu(i);
  }

  /**
   * Holds every vCPU out of guest mode: the flag first, then immediate_exit and a signal, so a
   * vCPU about to enter KVM_RUN returns at once and one inside it is kicked out.
   */
  pause(): void {
    for (let i = 0; i < this.channels.length; i++) {
      // immediate_exit before the flag: a worker that sees the flag runs once more to complete
      // its last I/O (pauseAtBoundary), and that run must return at once.
      this.vcpus[i]!.setImmediateExit(true);
      Atomics.store(this.channels[i]!, CH_PAUSE, 1);
      this.signalVcpu(i);
    }
  }

  /**
   * Pauses every vCPU and waits until each is out of KVM_RUN with its last exit's I/O
   * completed: its state can then be saved (saveCpuState). KvmAccelError after `timeoutMs`.
   */
  async pauseAtBoundary(timeoutMs = 5000): Promise<void> {
    // An acknowledgement from an earlier pause does not count.
    for (const ch of this.channels) Atomics.store(ch, CH_PAUSED, 0);
    this.pause();
    const deadline = performance.now() + timeoutMs;
    for (let i = 0; i < this.channels.length; i++) {
      const ch = this.channels[i]!;
      while (Atomics.load(ch, CH_PAUSED) === 0) {
        const left = deadline - performance.now();
        if (left <= 0 || this.stopping)
          throw new KvmAccelError(`vcpu ${i} did not pause within ${timeoutMs} ms`);
        await Atomics.waitAsync(ch, CH_PAUSED, 0, Math.min(left, 50)).value;
      }
    }
  }

  /**
   * The state of the VM (irqchip, PIT, clock) and of every vCPU, as snapshot records
   * (kvm/vm-state.ts, kvm/vcpu-state.ts). The vCPUs must be paused (pauseAtBoundary).
   */
  saveCpuState(): KvmCpuState {
    const paused = (ch: Int32Array): boolean =>
      Atomics.load(ch, CH_PAUSE) !== 0 && Atomics.load(ch, CH_PAUSED) !== 0;
    if (!this.channels.every(paused))
      throw new KvmAccelError("the vCPUs must be paused at a boundary to save their state");
    const host = this.stateHost();
    return {
      vm: saveVmState(this.vm, this.shape()),
      vcpus: this.vcpus.map((v, i) => saveVcpuState(v, host, `vcpu ${i}`)),
    };
  }

  /**
   * Loads records saved by saveCpuState into this VM, made from the same configuration and
   * with its memory already holding the saved contents, before start(). DeviceStateError
   * naming the field for a record out of bounds, KvmStateError for a part KVM refuses.
   */
  loadCpuState(state: KvmCpuState): void {
    if (this.workers.length > 0)
      throw new KvmAccelError("vCPU state is loaded before the VM starts");
    if (state === null || typeof state !== "object")
      throw new DeviceStateError("CPU state: not an object");
    if (!Array.isArray(state.vcpus) || state.vcpus.length !== this.vcpus.length)
      throw new DeviceStateError(`vcpus: the VM has ${this.vcpus.length}, the record does not`);
    const host = this.stateHost();
    // Every vCPU record checked before the VM's state is loaded (which checks its own first).
    this.vcpus.forEach((_v, i) => parseVcpuState(state.vcpus[i], host, `vcpu ${i}`));
    loadVmState(this.vm, state.vm, this.shape());
    this.vcpus.forEach((v, i) => loadVcpuState(v, state.vcpus[i], host, `vcpu ${i}`));
  }

  private stateHost(): VcpuStateHost {
    this.host ??= vcpuStateHost(this.kvm, this.vm, this.config.irqchip !== false);
    return this.host;
  }

  private shape(): VmStateShape {
    const on = this.config.irqchip !== false;
    return { irqchip: on, pit: on };
  }

  /** Lets the vCPUs run again: immediate_exit cleared before the flag, so none sees a stale one. */
  resume(): void {
    if (this.stopping) return;
    for (let i = 0; i < this.channels.length; i++) {
      this.vcpus[i]!.setImmediateExit(false);
      Atomics.store(this.channels[i]!, CH_PAUSED, 0);
      Atomics.store(this.channels[i]!, CH_PAUSE, 0);
      Atomics.notify(this.channels[i]!, CH_PAUSE);
    }
  }

  private signalVcpu(i: number): void {
    const ch = this.channels[i]!;
    // Wait briefly for the worker to have published its thread id.
    if (Atomics.load(ch, CH_TID) === 0) Atomics.wait(ch, CH_TID, 0, 1000);
    const tid = Atomics.load(ch, CH_TID);
    if (tid > 0) {
      try {
        tgkill(tid, KICK_SIGNAL);
      } catch {
        /* the thread has already gone */
      }
    }
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearInterval(this.sipiPoker);
    for (let i = 0; i < this.channels.length; i++) this.kick(i);
    for (const ch of this.channels) {
      Atomics.store(ch, CH_STOP, 1);
      Atomics.notify(ch, CH_STATE);
      Atomics.add(ch, CH_DOORBELL, 1);
      Atomics.notify(ch, CH_DOORBELL);
    }
    await Promise.all(this.workers.map((w) => w.terminate()));
    for (const v of this.vcpus) v.close();
    this.vm.close();
    for (const fd of this.eventFds) closeFd(fd);
    munmap(this.ram, this.config.ramBytes);
    this.kvm.close();
  }
}

export const kvmAccelerator: X86Accelerator = {
  name: "kvm",
  async createVm(config: X86AccelVmConfig): Promise<X86AccelVm> {
    if (!Number.isInteger(config.vcpus) || config.vcpus < 1 || config.vcpus > 64) {
      throw new KvmAccelError(`KVM vCPUs must be 1 to 64, not ${config.vcpus}`);
    }
    if (
      config.ramBytes <= 0 ||
      config.ramBytes % 4096 !== 0 ||
      config.ramBytes > KVM_MAX_RAM_BYTES
    ) {
      throw new KvmAccelError("guest RAM must be a multiple of 4 KiB, at most 4 GiB");
    }
    const kvm = Kvm.open();
    // Private, not shared: KSM (--ksm) merges only private anonymous pages, and MADV_DONTNEED
    // (the balloon) frees private pages, where a shared mapping's shmem pages would stay.
    const ram = mmap(config.ramBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
    try {
      return new KvmVm(kvm, kvm.createVm(), ram, config);
    } catch (e) {
      munmap(ram, config.ramBytes);
      kvm.close();
      throw e;
    }
  },
};
