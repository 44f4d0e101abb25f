// A virtio-gpu resource's backing (RESOURCE_ATTACH_BACKING): the guest memory it lists, from
// which transfers copy the pixels. Every entry is checked once, when it is attached: inside
// guest RAM, not empty, not overlapping another. The list is kept compactly, two doubles an
// entry in typed arrays (no object per entry), so the host memory a backing holds is known
// before it is made and counted against the VM's cap (gpu.ts).
import type { GuestMemory } from "../../memory/guest-memory.js";

/** Bytes of one entry in the request: address (u64), length (u32), padding. */
export const ENTRY_WIRE_BYTES = 16;

/** Host bytes a backing of `n` entries holds: an address and a start per entry, and the end. */
export function backingHostBytes(n: number): number {
  return 8 * n + 8 * (n + 1);
}

export class Backing {
  private constructor(
    /** addrs[i]: the guest address of entry i (inside RAM, so exact in a double). */
    private readonly addrs: Float64Array,
    /** starts[i]: where entry i starts in the backing's byte range; starts[n]: its size. */
    private readonly starts: Float64Array,
  ) {}

  /** Entries it lists. */
  get entries(): number {
    return this.addrs.length;
  }

  /** Bytes of guest memory it lists. */
  get bytes(): number {
    return this.starts[this.addrs.length]!;
  }

  /** Its entries as the request listed them (ENTRY_WIRE_BYTES each), for a snapshot. */
  wire(): Uint8Array {
    const out = new Uint8Array(this.addrs.length * ENTRY_WIRE_BYTES);
    const v = new DataView(out.buffer);
    for (let i = 0; i < this.addrs.length; i++) {
      v.setBigUint64(i * ENTRY_WIRE_BYTES, BigInt(this.addrs[i]!), true);
      v.setUint32(i * ENTRY_WIRE_BYTES + 8, this.starts[i + 1]! - this.starts[i]!, true);
    }
    return out;
  }

  /** Host bytes it holds (backingHostBytes(entries)). */
  get hostBytes(): number {
    return this.addrs.byteLength + this.starts.byteLength;
  }

  /**
   * Parses `n` entries of ENTRY_WIRE_BYTES from `raw`, or says why they are refused. Bounds:
   * each entry 1 byte at least and inside guest RAM, none overlapping another; the work is
   * linear in n plus two sorts of n numbers (the caller bounds n).
   */
  static parse(mem: GuestMemory, raw: DataView, n: number): Backing | string {
    const addrs = new Float64Array(n);
    const starts = new Float64Array(n + 1);
    const ends = new Float64Array(n);
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      const addr = raw.getBigUint64(i * ENTRY_WIRE_BYTES, true);
      const len = raw.getUint32(i * ENTRY_WIRE_BYTES + 8, true);
      if (len === 0 || !mem.contains(addr, len))
        return `backing 0x${addr.toString(16)}+${len} is outside guest RAM`;
      addrs[i] = Number(addr);
      ends[i] = addrs[i]! + len;
      starts[i] = bytes;
      bytes += len;
    }
    starts[n] = bytes;
    // Disjoint exactly when, both sorted, each end comes at or before the next start: at any
    // address, the entries started minus those ended is then at most one.
    const sorted = addrs.slice().sort();
    ends.sort();
    for (let i = 1; i < n; i++)
      if (ends[i - 1]! > sorted[i]!)
        return `backing entries overlap at 0x${sorted[i]!.toString(16)}`;
    return new Backing(addrs, starts);
  }

  /**
   * Copies `len` bytes from `offset` in the backing into `dst` at `at`; returns the entries it
   * walked. Bound: offset + len <= bytes (the caller checks); the entry holding `offset` is
   * found by binary search, not a walk from the first.
   */
  copy(mem: GuestMemory, offset: number, dst: Uint8Array, at: number, len: number): number {
    let e = this.entryAt(offset);
    const first = e;
    for (; len > 0; e++) {
      const skip = offset - this.starts[e]!;
      const take = Math.min(this.starts[e + 1]! - offset, len);
      dst.set(mem.hostView(BigInt(this.addrs[e]! + skip), take), at);
      offset += take;
      at += take;
      len -= take;
    }
    return e - first;
  }

  /** The index of the entry holding byte `offset`. */
  private entryAt(offset: number): number {
    let lo = 0;
    let hi = this.addrs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}
