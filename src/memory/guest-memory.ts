// GuestMemory: the only way host code reads or writes guest RAM. Every access is checked
// against the region, including ranges that would wrap or run past its end.
import { MoatError } from "../base/moat-error.js";

export class GuestMemoryError extends MoatError {
  override readonly kind = "guest";
}

export class GuestMemory {
  /** Guest-physical address of the first byte. */
  readonly base: bigint;
  readonly size: number;
  private readonly bytes: Uint8Array;
  /** The whole buffer as 16-bit words, for the atomic accesses (made on first use). */
  private words: Uint16Array | undefined;

  /**
   * `bytes` is the host view of guest RAM; guest-physical `base` maps to bytes[0]. `written`
   * hears of every write this object makes (offsets into RAM), before it returns: the soft CPU
   * drops translated code of the pages (accel/soft/jit/code-versions.ts).
   */
  constructor(
    base: bigint,
    bytes: Uint8Array,
    private readonly written?: (off: number, len: number) => void,
  ) {
    this.base = base;
    this.bytes = bytes;
    this.size = bytes.length;
  }

  /**
   * Offset into RAM of [addr, addr + len), or null if any byte of it lies outside RAM.
   * Bound: len <= size and the whole range inside the region.
   */
  offsetOf(addr: bigint, len: number): number | null {
    if (len < 0 || !Number.isInteger(len) || len > this.size) return null;
    if (addr < this.base) return null;
    const off = addr - this.base;
    if (off > BigInt(this.size - len)) return null;
    return Number(off);
  }

  contains(addr: bigint, len: number): boolean {
    return this.offsetOf(addr, len) !== null;
  }

  private check(addr: bigint, len: number): number {
    const off = this.offsetOf(addr, len);
    if (off === null) {
      throw new GuestMemoryError(
        `guest range 0x${addr.toString(16)}+${len} is outside RAM ` +
          `0x${this.base.toString(16)}+0x${this.size.toString(16)}`,
      );
    }
    return off;
  }

  /**
   * The host bytes behind [addr, addr + len), not a copy: for the VMM to hand pages back to
   * the host (balloon). Bound: the range must lie inside RAM.
   */
  hostView(addr: bigint, len: number): Uint8Array {
    const off = this.check(addr, len);
    return this.bytes.subarray(off, off + len);
  }

  /** Copies `len` bytes out of guest RAM (a copy: later guest writes do not change it). */
  read(addr: bigint, len: number): Uint8Array {
    const off = this.check(addr, len);
    return this.bytes.slice(off, off + len);
  }

  /** Copies `data` into guest RAM at `addr`. */
  write(addr: bigint, data: Uint8Array): void {
    const off = this.check(addr, data.length);
    this.bytes.set(data, off);
    this.written?.(off, data.length);
  }

  readU16(addr: bigint): number {
    const off = this.check(addr, 2);
    return this.bytes[off]! | (this.bytes[off + 1]! << 8);
  }

  writeU16(addr: bigint, v: number): void {
    const off = this.check(addr, 2);
    this.bytes[off] = v & 0xff;
    this.bytes[off + 1] = (v >>> 8) & 0xff;
    this.written?.(off, 2);
  }

  /**
   * Writes a 16-bit value that publishes earlier writes (a virtqueue's used index, avail_event):
   * an atomic store, ordered after them, and before this thread's later observeU16() (vCPUs,
   * soft or KVM, read it concurrently). An odd address is written plainly.
   */
  publishU16(addr: bigint, v: number): void {
    const off = this.check(addr, 2);
    const view = this.wordView(off);
    if (view) {
      Atomics.store(view, (this.bytes.byteOffset + off) / 2, v & 0xffff);
      this.written?.(off, 2);
    } else {
      this.writeU16(addr, v);
    }
  }

  /**
   * Reads a 16-bit value a vCPU publishes (a virtqueue's avail index, used_event, flags): an
   * atomic load, ordered after this thread's earlier publishU16(). The virtio notification
   * protocol is a store then a load on each side (the device publishes avail_event, then
   * reads avail.idx; the driver the reverse); with plain accesses both loads could see the
   * old values (a store buffer) and a notification would be lost. An odd address is read
   * plainly.
   */
  observeU16(addr: bigint): number {
    const off = this.check(addr, 2);
    const view = this.wordView(off);
    return view ? Atomics.load(view, (this.bytes.byteOffset + off) / 2) : this.readU16(addr);
  }

  /**
   * A 16-bit view of RAM's buffer for Atomics at `off`, or null at an odd host address. Sizes
   * and indices are divided, not shifted: a buffer may be 4 GiB, past 32-bit shifts.
   */
  private wordView(off: number): Uint16Array | null {
    if ((this.bytes.byteOffset + off) % 2 !== 0) return null;
    this.words ??= new Uint16Array(
      this.bytes.buffer,
      0,
      Math.floor(this.bytes.buffer.byteLength / 2),
    );
    return this.words;
  }

  readU32(addr: bigint): number {
    const off = this.check(addr, 4);
    const b = this.bytes;
    return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
  }

  readU64(addr: bigint): bigint {
    const lo = this.readU32(addr);
    const hi = this.readU32(addr + 4n);
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  writeU32(addr: bigint, v: number): void {
    const off = this.check(addr, 4);
    const b = this.bytes;
    b[off] = v & 0xff;
    b[off + 1] = (v >>> 8) & 0xff;
    b[off + 2] = (v >>> 16) & 0xff;
    b[off + 3] = (v >>> 24) & 0xff;
    this.written?.(off, 4);
  }

  writeU64(addr: bigint, v: bigint): void {
    this.check(addr, 8); // all or nothing: no half-written value before an error
    this.writeU32(addr, Number(v & 0xffff_ffffn));
    this.writeU32(addr + 4n, Number((v >> 32n) & 0xffff_ffffn));
  }

  /** Fills [addr, addr + len) with zero bytes. */
  zero(addr: bigint, len: number): void {
    const off = this.check(addr, len);
    this.bytes.fill(0, off, off + len);
    this.written?.(off, len);
  }
}
