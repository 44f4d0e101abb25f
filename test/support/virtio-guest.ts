// A guest driver for virtio snapshot tests: a device behind its real virtio-mmio transport in a
// small guest RAM, every queue set up at a fixed place, chains posted and notified as a driver
// would; and the same guest moved onto a copy of its RAM and a fresh device, as a restore does.
import { GuestMemory } from "../../src/memory/guest-memory.js";
import { VirtioMmio } from "../../src/devices/virtio/mmio-transport.js";
import type { VirtioDevice } from "../../src/devices/virtio/device.js";
import { StateReader, type DeviceState } from "../../src/devices/device-state.js";
import { driveUp } from "./virtio-driver.js";

export const RAM = 0x10_0000;
/** Where buffers go: the rings of up to 8 queues lie below. */
export const DATA = 0x4_0000n;

export interface Buf {
  addr: bigint;
  len: number;
  write?: boolean;
}

/** Queue i's rings (size <= 256 each fits). */
export const ringsOf = (i: number) => {
  const base = 0x1000n + BigInt(i) * 0x6000n;
  return { desc: base, avail: base + 0x1000n, used: base + 0x2000n };
};

export class VirtioGuest {
  readonly irqs: boolean[] = [];
  readonly log: string[] = [];
  readonly t: VirtioMmio;
  /** The next free descriptor of each queue (descriptors are used round the table). */
  next: number[];

  constructor(
    readonly dev: VirtioDevice,
    readonly mem = new GuestMemory(0n, new Uint8Array(RAM)),
    readonly sizes = dev.queueMaxSizes.map((m) => Math.min(m, 16)),
  ) {
    this.t = new VirtioMmio(
      dev,
      mem,
      (l) => this.irqs.push(l),
      (l) => this.log.push(l),
    );
    this.next = sizes.map(() => 0);
  }

  /** Brings the device up with the device feature bits 0-31 in `lowFeatures`. */
  up(lowFeatures = 0): this {
    driveUp(
      this.t,
      this.sizes.map((size, index) => ({ index, size, ...ringsOf(index) })),
      lowFeatures,
    );
    return this;
  }

  /** Posts one chain of `bufs` on queue `q` and notifies; returns its head. */
  post(q: number, bufs: Buf[], notify = true): number {
    const n = this.sizes[q]!;
    const { desc, avail } = ringsOf(q);
    const head = this.next[q]!;
    bufs.forEach((b, k) => {
      const d = desc + BigInt(16 * ((head + k) % n));
      this.mem.writeU64(d, b.addr);
      this.mem.writeU32(d + 8n, b.len);
      const last = k === bufs.length - 1;
      this.mem.writeU16(d + 12n, (b.write ? 2 : 0) | (last ? 0 : 1));
      this.mem.writeU16(d + 14n, (head + k + 1) % n);
    });
    this.next[q] = (head + bufs.length) % n;
    const idx = this.mem.readU16(avail + 2n);
    this.mem.writeU16(avail + 4n + BigInt(2 * (idx % n)), head);
    this.mem.writeU16(avail + 2n, (idx + 1) & 0xffff);
    if (notify) this.t.write(0x50, 4, BigInt(q));
    return head;
  }

  usedIdx(q: number): number {
    return this.mem.readU16(ringsOf(q).used + 2n);
  }

  /** Used-ring entry `k` (as a position, not mod size) of queue `q`. */
  used(q: number, k: number): { id: number; len: number } {
    const e = ringsOf(q).used + 4n + BigInt(8 * (k % this.sizes[q]!));
    return { id: this.mem.readU32(e), len: this.mem.readU32(e + 4n) };
  }

  /** The state a snapshot would hold, through JSON. */
  save(): unknown {
    return JSON.parse(JSON.stringify(this.t.saveState() satisfies DeviceState));
  }

  /** The same guest restored: a copy of its RAM, `fresh` loaded with `state`. */
  restoreInto(fresh: VirtioDevice, state = this.save()): VirtioGuest {
    const mem = new GuestMemory(0n, this.mem.read(0n, RAM).slice());
    const g = new VirtioGuest(fresh, mem, this.sizes);
    g.next = [...this.next];
    g.t.loadState(new StateReader(state, fresh.name));
    return g;
  }
}

/** Lets the device's deferred work (notifies, timers of 0 ms) run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}
