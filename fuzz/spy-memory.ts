// Guest RAM that records where host code writes it, so that a fuzz run can check that a device
// wrote only where the driver allowed (a writable buffer or a used ring).
import { GuestMemory } from "../src/memory/guest-memory.js";

export interface Range {
  addr: bigint;
  len: number;
}

export class SpyMemory extends GuestMemory {
  /** Writes since the last take(). */
  private writes: Range[] = [];

  private note(addr: bigint, len: number): void {
    // Bound: a run that writes without end is itself a finding; keep the first 100000.
    if (this.writes.length < 100_000) this.writes.push({ addr, len });
  }

  take(): Range[] {
    const w = this.writes;
    this.writes = [];
    return w;
  }

  override write(addr: bigint, data: Uint8Array): void {
    this.note(addr, data.length);
    super.write(addr, data);
  }
  override writeU16(addr: bigint, v: number): void {
    this.note(addr, 2);
    super.writeU16(addr, v);
  }
  override publishU16(addr: bigint, v: number): void {
    this.note(addr, 2);
    super.publishU16(addr, v);
  }
  override writeU32(addr: bigint, v: number): void {
    this.note(addr, 4);
    super.writeU32(addr, v);
  }
  override writeU64(addr: bigint, v: bigint): void {
    this.note(addr, 8);
    super.writeU64(addr, v);
  }
  override zero(addr: bigint, len: number): void {
    this.note(addr, len);
    super.zero(addr, len);
  }
}

/** Whether [addr, addr + len) lies inside one of `allowed` (ranges may overlap). */
export function covered(addr: bigint, len: number, allowed: readonly Range[]): boolean {
  // Walk forward through the ranges that contain the current start.
  let at = addr;
  const end = addr + BigInt(len);
  for (let guard = 0; at < end && guard <= allowed.length; guard++) {
    let next = at;
    for (const r of allowed) {
      const rEnd = r.addr + BigInt(r.len);
      if (r.addr <= at && rEnd > next) next = rEnd;
    }
    if (next === at) return false;
    at = next;
  }
  return at >= end;
}
