// The MMIO bus: maps guest-physical ranges to device models. Ranges may not overlap; an access
// must lie wholly inside one device, otherwise it is unmapped (the vCPU gets an access fault).
import { MoatError } from "../base/moat-error.js";

/** A device model's register interface. `offset` is relative to the device's base. */
export interface MmioDevice {
  read(offset: number, size: number): bigint;
  write(offset: number, size: number, value: bigint): void;
}

interface Mapping {
  base: bigint;
  size: bigint;
  name: string;
  device: MmioDevice;
}

export class MmioBusError extends MoatError {
  override readonly kind = "host";
}

export class MmioBus {
  private readonly maps: Mapping[] = [];

  /** Maps `device` at [base, base + size). Refuses overlaps and empty ranges. */
  map(base: bigint, size: bigint, name: string, device: MmioDevice): void {
    if (size <= 0n) throw new MmioBusError(`${name}: empty MMIO range`);
    for (const m of this.maps) {
      if (base < m.base + m.size && m.base < base + size) {
        throw new MmioBusError(`${name} at 0x${base.toString(16)} overlaps ${m.name}`);
      }
    }
    this.maps.push({ base, size, name, device });
    this.maps.sort((a, b) => (a.base < b.base ? -1 : 1));
  }

  private find(addr: bigint, size: number): Mapping | null {
    for (const m of this.maps) {
      if (addr >= m.base && addr + BigInt(size) <= m.base + m.size) return m;
    }
    return null;
  }

  /** The mapped ranges, for vCPU threads that decide locally which writes may be posted. */
  ranges(): { base: bigint; size: bigint }[] {
    return this.maps.map((m) => ({ base: m.base, size: m.size }));
  }

  /** A read of 1, 2, 4 or 8 bytes; null if unmapped. */
  read(addr: bigint, size: number): bigint | null {
    const m = this.find(addr, size);
    if (!m) return null;
    return BigInt.asUintN(size * 8, m.device.read(Number(addr - m.base), size));
  }

  /** A write of 1, 2, 4 or 8 bytes; false if unmapped. */
  write(addr: bigint, size: number, value: bigint): boolean {
    const m = this.find(addr, size);
    if (!m) return false;
    m.device.write(Number(addr - m.base), size, BigInt.asUintN(size * 8, value));
    return true;
  }
}
