// The virtio-mmio transport, version 2 (virtio 1.2, section 4.2): the register block a driver
// uses to discover a device, negotiate features, set up queues and notify. Every register
// write is guest input: accesses that are not aligned 32-bit ones (outside the config space)
// are ignored, queue settings are validated when the queue is made ready, and anything a
// device finds hostile puts it into DEVICE_NEEDS_RESET with one log line.
import type { MmioDevice } from "../../bus/mmio-bus.js";
import type { GuestMemory } from "../../memory/guest-memory.js";
import {
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_VERSION_1,
  type DeviceLog,
  type VirtioContext,
  type VirtioDevice,
} from "./device.js";
import { SplitQueue, VirtqueueError } from "./queue.js";
import {
  DeviceStateError,
  type DeviceState,
  type Snapshottable,
  type StateReader,
} from "../device-state.js";
import {
  INT_BITS,
  STATUS_BITS,
  STATUS_DRIVER_OK,
  STATUS_FEATURES_OK,
  STATUS_NEEDS_RESET,
  loadTransport,
  saveTransport,
  type QueueRegs,
} from "./mmio-state.js";

export {
  STATUS_ACKNOWLEDGE,
  STATUS_DRIVER,
  STATUS_DRIVER_OK,
  STATUS_FEATURES_OK,
  STATUS_NEEDS_RESET,
  STATUS_FAILED,
} from "./mmio-state.js";

const MAGIC = 0x7472_6976; // "virt"
const VENDOR_ID = 0x5441_4f4d; // "MOAT"
export const CONFIG_OFFSET = 0x100;

const enum Reg {
  Magic = 0x000,
  Version = 0x004,
  DeviceId = 0x008,
  VendorId = 0x00c,
  DeviceFeatures = 0x010,
  DeviceFeaturesSel = 0x014,
  DriverFeatures = 0x020,
  DriverFeaturesSel = 0x024,
  QueueSel = 0x030,
  QueueNumMax = 0x034,
  QueueNum = 0x038,
  QueueReady = 0x044,
  QueueNotify = 0x050,
  InterruptStatus = 0x060,
  InterruptAck = 0x064,
  Status = 0x070,
  QueueDescLow = 0x080,
  QueueDescHigh = 0x084,
  QueueDriverLow = 0x090,
  QueueDriverHigh = 0x094,
  QueueDeviceLow = 0x0a0,
  QueueDeviceHigh = 0x0a4,
  ShmLenLow = 0x0b0,
  ShmLenHigh = 0x0b4,
  ConfigGeneration = 0x0fc,
}

const INT_USED = 1;
const INT_CONFIG = 2;

const TRANSPORT_FEATURES =
  (1n << VIRTIO_F_VERSION_1) | (1n << VIRTIO_F_INDIRECT_DESC) | (1n << VIRTIO_F_EVENT_IDX);

export class VirtioMmio implements MmioDevice, Snapshottable {
  private status = 0;
  private deviceFeaturesSel = 0;
  private driverFeaturesSel = 0;
  private driverFeatures = 0n;
  private queueSel = 0;
  private interruptStatus = 0;
  /**
   * Bits raised since the driver last read InterruptStatus. An ACK does not clear them: the
   * driver has not seen them yet. (On the soft CPU the ACK is a posted write that can land
   * after a completion raised the bit again; clearing it then lost that completion's
   * interrupt and left the guest waiting on its disk forever.)
   */
  private unseen = 0;
  private configGeneration = 0;
  private regs: QueueRegs[];
  private queues: (SplitQueue | undefined)[];
  private readonly pendingNotify = new Set<number>();
  private notifyScheduled = false;
  /** Incremented by every reset, so that late work of an earlier life is dropped. */
  private generation = 0;

  constructor(
    private readonly device: VirtioDevice,
    private readonly mem: GuestMemory,
    /** Drives the device's interrupt line (level: interrupt status non-zero). */
    private readonly setIrq: (level: boolean) => void,
    /** One line per device failure (DEVICE_NEEDS_RESET), of kind "needs-reset". */
    private readonly log: DeviceLog,
  ) {
    this.regs = this.freshRegs();
    this.queues = this.regs.map(() => undefined);
  }

  private freshRegs(): QueueRegs[] {
    return this.device.queueMaxSizes.map(() => ({
      num: 0,
      ready: false,
      desc: 0n,
      avail: 0n,
      used: 0n,
    }));
  }

  get deviceStatus(): number {
    return this.status;
  }

  private get offered(): bigint {
    return this.device.features | TRANSPORT_FEATURES;
  }

  /** Bound: 32-bit aligned registers; config space at 0x100 in any size 1, 2, 4 (or 8). */
  read(offset: number, size: number): bigint {
    if (offset >= CONFIG_OFFSET) return this.device.configRead(offset - CONFIG_OFFSET, size);
    if (size !== 4 || offset % 4 !== 0) return 0n;
    const q = this.regs[this.queueSel];
    switch (offset) {
      case Reg.Magic:
        return BigInt(MAGIC);
      case Reg.Version:
        return 2n;
      case Reg.DeviceId:
        return BigInt(this.device.deviceId);
      case Reg.VendorId:
        return BigInt(VENDOR_ID);
      case Reg.DeviceFeatures:
        return this.deviceFeaturesSel > 1
          ? 0n
          : (this.offered >> BigInt(32 * this.deviceFeaturesSel)) & 0xffff_ffffn;
      case Reg.QueueNumMax:
        return BigInt(this.device.queueMaxSizes[this.queueSel] ?? 0);
      case Reg.QueueReady:
        return q?.ready ? 1n : 0n;
      case Reg.InterruptStatus:
        this.unseen = 0;
        return BigInt(this.interruptStatus);
      case Reg.Status:
        return BigInt(this.status);
      case Reg.ShmLenLow:
      case Reg.ShmLenHigh:
        return 0xffff_ffffn; // no shared memory regions
      case Reg.ConfigGeneration:
        return BigInt(this.configGeneration);
      default:
        return 0n;
    }
  }

  write(offset: number, size: number, value: bigint): void {
    if (offset >= CONFIG_OFFSET) {
      this.device.configWrite(offset - CONFIG_OFFSET, size, value);
      return;
    }
    if (size !== 4 || offset % 4 !== 0) return;
    const v = Number(value & 0xffff_ffffn);
    const q = this.regs[this.queueSel];
    // Queue settings may change only while the queue is not ready (spec 4.2.2.2).
    const settable = q !== undefined && !q.ready && (this.status & STATUS_DRIVER_OK) === 0;
    switch (offset) {
      case Reg.DeviceFeaturesSel:
        this.deviceFeaturesSel = v;
        break;
      case Reg.DriverFeaturesSel:
        this.driverFeaturesSel = v;
        break;
      case Reg.DriverFeatures:
        if (this.driverFeaturesSel <= 1 && (this.status & STATUS_FEATURES_OK) === 0) {
          const shift = BigInt(32 * this.driverFeaturesSel);
          this.driverFeatures =
            (this.driverFeatures & ~(0xffff_ffffn << shift)) | (BigInt(v) << shift);
        }
        break;
      case Reg.QueueSel:
        this.queueSel = v;
        break;
      case Reg.QueueNum:
        if (settable) q.num = v;
        break;
      case Reg.QueueDescLow:
      case Reg.QueueDescHigh:
      case Reg.QueueDriverLow:
      case Reg.QueueDriverHigh:
      case Reg.QueueDeviceLow:
      case Reg.QueueDeviceHigh:
        if (settable) setAddressHalf(q, offset, v);
        break;
      case Reg.QueueReady:
        if (q !== undefined) this.setQueueReady(this.queueSel, v === 1);
        break;
      case Reg.QueueNotify:
        this.notify(v & 0xffff);
        break;
      case Reg.InterruptAck:
        this.interruptStatus &= ~(v & ~this.unseen);
        this.updateIrq();
        break;
      case Reg.Status:
        this.setStatus(v);
        break;
      default:
        break;
    }
  }

  private setQueueReady(index: number, ready: boolean): void {
    const q = this.regs[index]!;
    if (!ready) {
      q.ready = false;
      this.queues[index] = undefined;
      return;
    }
    if (q.ready || (this.status & STATUS_FEATURES_OK) === 0) return;
    try {
      this.queues[index] = this.makeQueue(index, q, this.driverFeatures);
      q.ready = true;
    } catch (e) {
      this.fail(`queue ${index}: ${(e as Error).message}`);
    }
  }

  /**
   * Queue `index` as the driver set it up; a VirtqueueError for one it may not have. Bounds:
   * the device's maximum size here, the rest in SplitQueue's constructor.
   */
  private makeQueue(index: number, q: QueueRegs, features: bigint): SplitQueue {
    const max = this.device.queueMaxSizes[index]!;
    if (q.num > max)
      throw new VirtqueueError(`queue ${index} size ${q.num} exceeds its maximum ${max}`);
    return new SplitQueue(this.mem, {
      size: q.num,
      desc: q.desc,
      avail: q.avail,
      used: q.used,
      eventIdx: (features & (1n << VIRTIO_F_EVENT_IDX)) !== 0n,
      indirect: (features & (1n << VIRTIO_F_INDIRECT_DESC)) !== 0n,
      maxChainBytes: this.device.maxChainBytes,
    });
  }

  /** Whether a driver's FEATURES_OK with `f` is accepted: offered bits only, VERSION_1 among them. */
  private featuresAcceptable(f: bigint): boolean {
    return (f & ~this.offered) === 0n && (f & (1n << VIRTIO_F_VERSION_1)) !== 0n;
  }

  private setStatus(v: number): void {
    if (v === 0) {
      this.reset();
      return;
    }
    const before = this.status;
    // The driver may only add bits (NEEDS_RESET is the device's to set).
    // Bits virtio does not define are not kept (a snapshot holding one is refused).
    let next = (before | v) & STATUS_BITS & ~STATUS_NEEDS_RESET;
    next |= before & STATUS_NEEDS_RESET;
    if (v & STATUS_FEATURES_OK && !(before & STATUS_FEATURES_OK)) {
      if (!this.featuresAcceptable(this.driverFeatures)) next &= ~STATUS_FEATURES_OK;
    }
    this.status = next;
    if (next & STATUS_DRIVER_OK && !(before & STATUS_DRIVER_OK) && !(next & STATUS_NEEDS_RESET))
      this.activate();
  }

  /** Hands the device its queues (DRIVER_OK), for this life of the device only. */
  private activate(): void {
    const gen = this.generation;
    const ctx: VirtioContext = {
      mem: this.mem,
      used: (q) => {
        if (gen === this.generation) this.usedBuffers(q);
      },
      fail: (reason) => {
        if (gen === this.generation) this.fail(reason);
      },
      configChanged: () => {
        if (gen !== this.generation) return;
        this.configGeneration++;
        this.raise(INT_CONFIG);
      },
    };
    this.guard(() => this.device.activate(ctx, this.queues, this.driverFeatures));
  }

  private reset(): void {
    this.generation++;
    this.device.reset();
    this.status = 0;
    this.driverFeatures = 0n;
    this.deviceFeaturesSel = 0;
    this.driverFeaturesSel = 0;
    this.queueSel = 0;
    this.regs = this.freshRegs();
    this.queues = this.regs.map(() => undefined);
    this.pendingNotify.clear();
    this.interruptStatus = 0;
    this.unseen = 0;
    // configGeneration is kept: read after a reset, it tells a driver how often the device
    // stopped before it, with no race against the notify the device had still to look at.
    this.updateIrq();
  }

  /**
   * The registers, the queues with the device's place in them, and the device's own state
   * (`device`). Taken with the vCPUs paused and no request in flight (the device's own rule).
   */
  saveState(): DeviceState {
    if (!this.device.saveState)
      throw new DeviceStateError(`${this.device.name}: cannot be snapshotted yet`);
    return {
      ...saveTransport(
        {
          status: this.status,
          deviceFeaturesSel: this.deviceFeaturesSel,
          driverFeaturesSel: this.driverFeaturesSel,
          driverFeatures: this.driverFeatures,
          queueSel: this.queueSel,
          interruptStatus: this.interruptStatus,
          unseen: this.unseen,
          configGeneration: this.configGeneration >>> 0,
          regs: this.regs,
          queues: this.queues,
        },
        (q) => this.device.heldChains?.(q) ?? 0,
      ),
      device: this.device.saveState(),
    };
  }

  /**
   * Into a transport just made for the same device: checked as a driver's writes are (see
   * mmio-state.ts), then the device's state, and nothing changes unless all of it is good. A
   * device the driver had running (DRIVER_OK) is activated with its queues, and each ready
   * queue is notified once: a notify the guest made just before the snapshot is not lost, and
   * one too many is harmless.
   */
  loadState(r: StateReader): void {
    const t = loadTransport(r, {
      queueCount: this.device.queueMaxSizes.length,
      featuresAcceptable: (f) => this.featuresAcceptable(f),
      makeQueue: (i, q, f) => this.makeQueue(i, q, f),
    });
    if (!this.device.loadState)
      throw new DeviceStateError(`${r.where}: ${this.device.name} cannot be restored yet`);
    this.device.loadState(r.obj("device"), this.mem);
    this.generation++;
    this.status = t.status;
    this.deviceFeaturesSel = t.deviceFeaturesSel;
    this.driverFeaturesSel = t.driverFeaturesSel;
    this.driverFeatures = t.driverFeatures;
    this.queueSel = t.queueSel;
    this.interruptStatus = t.interruptStatus & INT_BITS;
    this.unseen = t.unseen;
    this.configGeneration = t.configGeneration;
    this.regs = t.regs;
    this.queues = t.queues;
    this.pendingNotify.clear();
    if (this.status & STATUS_DRIVER_OK && !(this.status & STATUS_NEEDS_RESET)) {
      this.activate();
      this.queues.forEach((q, i) => {
        if (q) this.notify(i);
      });
    }
    this.updateIrq();
  }

  /** Offset of the QueueNotify register (for ioeventfd: notifies that never exit). */
  static readonly QUEUE_NOTIFY = Reg.QueueNotify;

  /** A notify that arrived outside the register path (an ioeventfd), for queue `q`. */
  hostNotify(q: number): void {
    this.notify(q);
  }

  /** A notify hands the queue to the device after this access returns: the vCPU never waits. */
  private notify(q: number): void {
    if ((this.status & STATUS_DRIVER_OK) === 0 || this.status & STATUS_NEEDS_RESET) return;
    if (q >= this.queues.length) return;
    this.pendingNotify.add(q);
    if (this.notifyScheduled) return;
    this.notifyScheduled = true;
    setImmediate(() => {
      this.notifyScheduled = false;
      const queues = [...this.pendingNotify];
      this.pendingNotify.clear();
      for (const i of queues) {
        if (this.status & STATUS_NEEDS_RESET) return;
        this.guard(() => this.device.notify(i));
      }
    });
  }

  private usedBuffers(q: number): void {
    const queue = this.queues[q];
    if (!queue) return;
    let wants = false;
    try {
      wants = queue.needsInterrupt();
    } catch (e) {
      this.fail((e as Error).message);
      return;
    }
    if (wants) this.raise(INT_USED);
  }

  /** Runs device code; whatever it throws (hostile input) stops the device, not the VMM. */
  private guard(f: () => void): void {
    try {
      f();
    } catch (e) {
      this.fail((e as Error).message);
    }
  }

  private fail(reason: string): void {
    if (this.status & STATUS_NEEDS_RESET) return;
    this.log(`${this.device.name}: ${reason}; the device needs a reset`, "needs-reset");
    this.status |= STATUS_NEEDS_RESET;
    this.configGeneration++;
    this.raise(INT_CONFIG);
  }

  private raise(bits: number): void {
    this.interruptStatus |= bits;
    this.unseen |= bits;
    this.updateIrq();
  }

  /** Whether the device wants the driver's attention (the interrupt line's level). */
  get interruptPending(): boolean {
    return this.interruptStatus !== 0;
  }

  private updateIrq(): void {
    this.setIrq(this.interruptStatus !== 0);
  }
}

function setAddressHalf(q: QueueRegs, offset: number, v: number): void {
  const high = (offset & 4) !== 0;
  const set = (old: bigint): bigint =>
    high ? (old & 0xffff_ffffn) | (BigInt(v) << 32n) : (old & ~0xffff_ffffn) | BigInt(v);
  if (offset < Reg.QueueDriverLow) q.desc = set(q.desc);
  else if (offset < Reg.QueueDeviceLow) q.avail = set(q.avail);
  else q.used = set(q.used);
}
