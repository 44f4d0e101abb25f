// A split virtqueue (virtio 1.2, section 2.7) seen from the device side, with indirect
// descriptors and VIRTIO_F_EVENT_IDX. Everything the driver wrote is hostile: descriptors are
// copied out of guest memory once and validated on the copy, and any violation is a
// VirtqueueError, which the transport turns into DEVICE_NEEDS_RESET (the VMM keeps running).
import type { GuestMemory } from "../../memory/guest-memory.js";
import { MoatError } from "../../base/moat-error.js";

export class VirtqueueError extends MoatError {
  override readonly kind = "guest";
}

const DESC_SIZE = 16;
const F_NEXT = 1;
const F_WRITE = 2;
const F_INDIRECT = 4;
const AVAIL_F_NO_INTERRUPT = 1;
/** The largest queue the spec allows. */
export const MAX_QUEUE_SIZE = 32768;

/** One guest buffer of a chain, already checked to lie inside guest RAM. */
export interface GuestBuffer {
  addr: bigint;
  len: number;
}

export interface DescriptorChain {
  head: number;
  /** Device-readable buffers (driver to device), in order. */
  readable: GuestBuffer[];
  /** Device-writable buffers (device to driver), in order; they all follow the readable ones. */
  writable: GuestBuffer[];
  readableBytes: number;
  writableBytes: number;
}

export interface QueueConfig {
  size: number;
  desc: bigint;
  avail: bigint;
  used: bigint;
  eventIdx: boolean;
  indirect: boolean;
  /** Bound on the bytes one chain may describe (readable and writable together). */
  maxChainBytes: number;
}

/** Where the device is in a queue's rings. */
export interface QueueIndices {
  /** The next available-ring entry the device takes. */
  lastAvail: number;
  /** The device's used.idx (its shadow of what it published). */
  usedIdx: number;
  /** used.idx when the driver was last interrupted (EVENT_IDX). */
  signalledUsed: number;
}

export class SplitQueue {
  private lastAvail = 0;
  private usedIdx = 0;
  /** The used index when the driver was last interrupted (EVENT_IDX). */
  private signalledUsed = 0;

  /**
   * Checks the queue's layout: size a power of two up to 32768, the three areas aligned as the
   * spec requires and wholly inside guest RAM.
   */
  constructor(
    private readonly mem: GuestMemory,
    private readonly cfg: QueueConfig,
  ) {
    const n = cfg.size;
    if (!Number.isInteger(n) || n < 1 || n > MAX_QUEUE_SIZE || (n & (n - 1)) !== 0) {
      throw new VirtqueueError(`queue size ${n} is not a power of two up to ${MAX_QUEUE_SIZE}`);
    }
    const areas: [string, bigint, number, bigint][] = [
      ["descriptor table", cfg.desc, n * DESC_SIZE, 16n],
      ["available ring", cfg.avail, 6 + 2 * n, 2n],
      ["used ring", cfg.used, 6 + 8 * n, 4n],
    ];
    for (const [name, addr, len, align] of areas) {
      if (addr % align !== 0n)
        throw new VirtqueueError(`${name} at 0x${addr.toString(16)} is misaligned`);
      if (!mem.contains(addr, len)) {
        throw new VirtqueueError(`${name} at 0x${addr.toString(16)}+${len} is outside guest RAM`);
      }
    }
  }

  get size(): number {
    return this.cfg.size;
  }

  /** The device's place in the rings (free-running u16s), for a snapshot. */
  get indices(): QueueIndices {
    return { lastAvail: this.lastAvail, usedIdx: this.usedIdx, signalledUsed: this.signalledUsed };
  }

  /**
   * Puts the device back where a snapshot had it. Bound: u16s, and at most the queue's size
   * taken and not yet returned (the ring holds no more); a VirtqueueError otherwise.
   */
  set indices(i: QueueIndices) {
    const u16 = (v: number): boolean => Number.isInteger(v) && v >= 0 && v <= 0xffff;
    if (!u16(i.lastAvail) || !u16(i.usedIdx) || !u16(i.signalledUsed))
      throw new VirtqueueError("queue indices are not 16-bit values");
    const taken = (i.lastAvail - i.usedIdx) & 0xffff;
    if (taken > this.cfg.size) {
      throw new VirtqueueError(
        `last_avail ${i.lastAvail} is ${taken} entries past used.idx ${i.usedIdx}, beyond the ring (${this.cfg.size})`,
      );
    }
    this.lastAvail = i.lastAvail;
    this.usedIdx = i.usedIdx;
    this.signalledUsed = i.signalledUsed;
  }

  /** Whether the driver has made a chain available that pop() has not taken yet. */
  hasAvailable(): boolean {
    return this.mem.observeU16(this.cfg.avail + 2n) !== this.lastAvail;
  }

  /**
   * The next chain the driver made available, or null. Bound: avail.idx may run ahead of the
   * device by at most the queue size.
   */
  pop(): DescriptorChain | null {
    const n = this.cfg.size;
    const availIdx = this.mem.observeU16(this.cfg.avail + 2n);
    const pending = (availIdx - this.lastAvail) & 0xffff;
    if (pending === 0) return null;
    if (pending > n) {
      throw new VirtqueueError(
        `avail.idx moved ${pending} entries ahead, more than the queue size ${n}`,
      );
    }
    const head = this.mem.readU16(this.cfg.avail + 4n + BigInt(2 * (this.lastAvail % n)));
    this.lastAvail = (this.lastAvail + 1) & 0xffff;
    if (this.cfg.eventIdx) {
      // avail_event: tell the driver to notify again once it passes what we have taken. The
      // next pop()'s read of avail.idx is ordered after this store (publish, then observe),
      // as the driver's read of avail_event is after its store of avail.idx (a full barrier
      // in Linux's virtqueue_kick_prepare): one of the two sees the other's store, so either
      // this device sees the new chain or the driver notifies.
      this.mem.publishU16(this.cfg.used + 4n + BigInt(8 * n), this.lastAvail);
    }
    return this.walk(head);
  }

  /**
   * Follows a chain on a copy of the descriptor table. Bounds: at most `size` descriptors in
   * all (so a loop ends), indirect tables only where negotiated, one level deep, of 1..size
   * whole descriptors; no zero-length buffer; every buffer inside guest RAM; readable before
   * writable; total bytes <= maxChainBytes.
   */
  private walk(head: number): DescriptorChain {
    const n = this.cfg.size;
    if (head >= n) throw new VirtqueueError(`chain head ${head} is outside the queue (size ${n})`);
    const chain: DescriptorChain = {
      head,
      readable: [],
      writable: [],
      readableBytes: 0,
      writableBytes: 0,
    };
    let table = this.copyTable(this.cfg.desc, n);
    let tableLen = n;
    let index = head;
    let count = 0;
    let indirect = false;
    for (;;) {
      if (++count > n)
        throw new VirtqueueError(`chain from ${head} is longer than the queue size ${n} (a loop?)`);
      const o = index * DESC_SIZE;
      const addr = table.getBigUint64(o, true);
      const len = table.getUint32(o + 8, true);
      const flags = table.getUint16(o + 12, true);
      const next = table.getUint16(o + 14, true);
      if (flags & F_INDIRECT) {
        if (!this.cfg.indirect)
          throw new VirtqueueError("indirect descriptor without VIRTIO_F_INDIRECT_DESC");
        if (indirect) throw new VirtqueueError("nested indirect descriptor table");
        if (flags & F_NEXT) throw new VirtqueueError("indirect descriptor with NEXT set");
        if (len === 0 || len % DESC_SIZE !== 0 || len / DESC_SIZE > n) {
          throw new VirtqueueError(
            `indirect table of ${len} bytes (1..${n} descriptors of 16 bytes)`,
          );
        }
        tableLen = len / DESC_SIZE;
        table = this.copyTable(addr, tableLen);
        indirect = true;
        index = 0;
        continue;
      }
      if (len === 0) throw new VirtqueueError(`zero-length buffer in chain ${head}`);
      if (!this.mem.contains(addr, len)) {
        throw new VirtqueueError(`buffer 0x${addr.toString(16)}+${len} is outside guest RAM`);
      }
      const total = chain.readableBytes + chain.writableBytes + len;
      if (total > this.cfg.maxChainBytes) {
        throw new VirtqueueError(
          `chain ${head} describes more than ${this.cfg.maxChainBytes} bytes`,
        );
      }
      if (flags & F_WRITE) {
        chain.writable.push({ addr, len });
        chain.writableBytes += len;
      } else {
        if (chain.writable.length > 0)
          throw new VirtqueueError("device-readable buffer after a writable one");
        chain.readable.push({ addr, len });
        chain.readableBytes += len;
      }
      if ((flags & F_NEXT) === 0) return chain;
      if (next >= tableLen)
        throw new VirtqueueError(`next descriptor ${next} is outside its table (${tableLen})`);
      index = next;
    }
  }

  private copyTable(addr: bigint, entries: number): DataView {
    const len = entries * DESC_SIZE;
    if (!this.mem.contains(addr, len)) {
      throw new VirtqueueError(
        `descriptor table 0x${addr.toString(16)}+${len} is outside guest RAM`,
      );
    }
    const copy = this.mem.read(addr, len);
    return new DataView(copy.buffer, copy.byteOffset, copy.byteLength);
  }

  /** Returns a chain to the driver with `written` bytes written into its writable buffers. */
  push(head: number, written: number): void {
    const n = this.cfg.size;
    const e = this.cfg.used + 4n + BigInt(8 * (this.usedIdx % n));
    this.mem.writeU32(e, head);
    this.mem.writeU32(e + 4n, written >>> 0);
    this.usedIdx = (this.usedIdx + 1) & 0xffff;
    this.mem.publishU16(this.cfg.used + 2n, this.usedIdx);
  }

  /** Whether the driver wants an interrupt for what was pushed since the last one. */
  needsInterrupt(): boolean {
    const n = this.cfg.size;
    const old = this.signalledUsed;
    const now = this.usedIdx;
    if (old === now) return false;
    this.signalledUsed = now;
    // Read after push()'s publish of used.idx (observe: ordered after it), as the driver reads
    // used.idx after re-enabling interrupts: either it sees the new entries or we interrupt.
    if (this.cfg.eventIdx) {
      const usedEvent = this.mem.observeU16(this.cfg.avail + 4n + BigInt(2 * n));
      return ((now - usedEvent - 1) & 0xffff) < ((now - old) & 0xffff);
    }
    return (this.mem.observeU16(this.cfg.avail) & AVAIL_F_NO_INTERRUPT) === 0;
  }
}

/** Copies `len` bytes from a chain's buffers, starting `skip` bytes in. Bound: what the buffers hold. */
export function gather(
  mem: GuestMemory,
  bufs: GuestBuffer[],
  skip: number,
  len: number,
): Uint8Array {
  const out = new Uint8Array(len);
  let pos = 0;
  for (const b of bufs) {
    if (pos >= len) break;
    if (skip >= b.len) {
      skip -= b.len;
      continue;
    }
    const take = Math.min(b.len - skip, len - pos);
    out.set(mem.read(b.addr + BigInt(skip), take), pos);
    pos += take;
    skip = 0;
  }
  if (pos < len) throw new VirtqueueError(`chain holds fewer than ${len} bytes`);
  return out;
}

/** Copies `data` into a chain's buffers, starting `skip` bytes in. Bound: what the buffers hold. */
export function scatter(
  mem: GuestMemory,
  bufs: GuestBuffer[],
  skip: number,
  data: Uint8Array,
): void {
  let pos = 0;
  for (const b of bufs) {
    if (pos >= data.length) break;
    if (skip >= b.len) {
      skip -= b.len;
      continue;
    }
    const take = Math.min(b.len - skip, data.length - pos);
    mem.write(b.addr + BigInt(skip), data.subarray(pos, pos + take));
    pos += take;
    skip = 0;
  }
  if (pos < data.length)
    throw new VirtqueueError(`chain has room for fewer than ${data.length} bytes`);
}
