// A virtio-mmio transport's registers in a snapshot (issue 22; docs/snapshot.md, "Device
// state"): what the driver set up and where the device is in each ready queue. Reading one
// back checks it as the transport checks a driver's writes: the same feature acceptance, and
// each ready queue made by the transport's own queue set-up (size, alignment, inside RAM).
import { DeviceStateError, u64, type DeviceState, type StateReader } from "../device-state.js";
import type { QueueIndices, SplitQueue } from "./queue.js";

export const STATUS_ACKNOWLEDGE = 1;
export const STATUS_DRIVER = 2;
export const STATUS_DRIVER_OK = 4;
export const STATUS_FEATURES_OK = 8;
export const STATUS_NEEDS_RESET = 64;
export const STATUS_FAILED = 128;
/** Every status bit virtio 1.2 defines; the transport keeps no other. */
export const STATUS_BITS =
  STATUS_ACKNOWLEDGE |
  STATUS_DRIVER |
  STATUS_DRIVER_OK |
  STATUS_FEATURES_OK |
  STATUS_NEEDS_RESET |
  STATUS_FAILED;
/** InterruptStatus bits: used buffers, configuration change. */
export const INT_BITS = 3;

/** One queue's registers as the driver wrote them. */
export interface QueueRegs {
  num: number;
  ready: boolean;
  desc: bigint;
  avail: bigint;
  used: bigint;
}

export interface TransportState {
  status: number;
  deviceFeaturesSel: number;
  driverFeaturesSel: number;
  driverFeatures: bigint;
  queueSel: number;
  interruptStatus: number;
  unseen: number;
  configGeneration: number;
  regs: QueueRegs[];
  /** The ready queues, with the device's indices in them. */
  queues: (SplitQueue | undefined)[];
}

const U32 = 0xffff_ffff;

/**
 * The state to save. `held(q)`: chains the device took from queue q and keeps without a
 * request in flight (receive buffers); they go back to the ring, so the restored device takes
 * them again from guest memory.
 */
export function saveTransport(t: TransportState, held: (q: number) => number): DeviceState {
  return {
    status: t.status,
    deviceFeaturesSel: t.deviceFeaturesSel,
    driverFeaturesSel: t.driverFeaturesSel,
    driverFeatures: u64(t.driverFeatures),
    queueSel: t.queueSel,
    interruptStatus: t.interruptStatus,
    unseen: t.unseen,
    configGeneration: t.configGeneration,
    queues: t.regs.map((q, i) => {
      const saved: DeviceState = {
        num: q.num,
        ready: q.ready,
        desc: u64(q.desc),
        avail: u64(q.avail),
        used: u64(q.used),
      };
      const queue = t.queues[i];
      if (!queue) return saved;
      const ix = queue.indices;
      return { ...saved, ...ix, lastAvail: (ix.lastAvail - held(i)) & 0xffff };
    }),
  };
}

export interface TransportLimits {
  /** How many queues the device has. */
  queueCount: number;
  /** Whether the driver may have accepted these features (FEATURES_OK). */
  featuresAcceptable(f: bigint): boolean;
  /**
   * The transport's queue set-up for a driver's QUEUE_READY: throws (a VirtqueueError) for a
   * queue the driver could not have made ready.
   */
  makeQueue(index: number, regs: QueueRegs, features: bigint): SplitQueue;
}

/** Reads a saved transport; DeviceStateError naming the field for anything the driver could not have set. */
export function loadTransport(r: StateReader, limits: TransportLimits): TransportState {
  const status = r.int("status", 0, 0xff);
  if ((status & ~STATUS_BITS) !== 0)
    throw new DeviceStateError(`${r.where}: status 0x${status.toString(16)} has undefined bits`);
  const driverFeatures = r.u64("driverFeatures");
  const featuresOk = (status & STATUS_FEATURES_OK) !== 0;
  if (featuresOk && !limits.featuresAcceptable(driverFeatures))
    throw new DeviceStateError(`${r.where}: driverFeatures were not offered (FEATURES_OK)`);
  const list = r.list("queues", limits.queueCount);
  if (list.length !== limits.queueCount)
    throw new DeviceStateError(`${r.where}: queues is not ${limits.queueCount} queues`);
  const regs: QueueRegs[] = [];
  const queues: (SplitQueue | undefined)[] = [];
  for (let i = 0; i < list.length; i++) {
    const q = list.obj(i);
    const reg: QueueRegs = {
      num: q.int("num", 0, U32),
      ready: q.bool("ready"),
      desc: q.u64("desc"),
      avail: q.u64("avail"),
      used: q.u64("used"),
    };
    regs.push(reg);
    if (!reg.ready) {
      queues.push(undefined);
      continue;
    }
    if (!featuresOk) throw new DeviceStateError(`${q.where}: ready before FEATURES_OK`);
    const indices: QueueIndices = {
      lastAvail: q.int("lastAvail", 0, 0xffff),
      usedIdx: q.int("usedIdx", 0, 0xffff),
      signalledUsed: q.int("signalledUsed", 0, 0xffff),
    };
    try {
      const queue = limits.makeQueue(i, reg, driverFeatures);
      queue.indices = indices;
      queues.push(queue);
    } catch (e) {
      throw new DeviceStateError(`${q.where}: ${(e as Error).message}`);
    }
  }
  return {
    status,
    deviceFeaturesSel: r.int("deviceFeaturesSel", 0, U32),
    driverFeaturesSel: r.int("driverFeaturesSel", 0, U32),
    driverFeatures,
    queueSel: r.int("queueSel", 0, U32),
    interruptStatus: r.int("interruptStatus", 0, INT_BITS),
    unseen: r.int("unseen", 0, INT_BITS),
    configGeneration: r.int("configGeneration", 0, U32),
    regs,
    queues,
  };
}
