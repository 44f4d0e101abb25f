// The x86 port I/O bus: port ranges to device models (the same MmioDevice interface, with
// offsets relative to the first port). Ranges may not overlap; an access must fall wholly in one.
import type { MmioDevice } from "./mmio-bus.js";
import { MoatError } from "../base/moat-error.js";

export class PioBusError extends MoatError {
  override readonly kind = "host";
}

interface PortMapping {
  base: number;
  count: number;
  name: string;
  device: MmioDevice;
}

export class PioBus {
  private readonly maps: PortMapping[] = [];

  /** Maps `device` at ports [base, base + count). Bound: ports are 0..0xffff. */
  map(base: number, count: number, name: string, device: MmioDevice): void {
    if (count <= 0 || base < 0 || base + count > 0x10000) {
      throw new PioBusError(`${name}: bad port range ${base}+${count}`);
    }
    for (const m of this.maps) {
      if (base < m.base + m.count && m.base < base + count) {
        throw new PioBusError(`${name} at port 0x${base.toString(16)} overlaps ${m.name}`);
      }
    }
    this.maps.push({ base, count, name, device });
  }

  private find(port: number, size: number): PortMapping | null {
    for (const m of this.maps) {
      if (port >= m.base && port + size <= m.base + m.count) return m;
    }
    return null;
  }

  /** A read of 1, 2 or 4 bytes; null when no device has the port. */
  read(port: number, size: number): number | null {
    const m = this.find(port, size);
    if (!m) return null;
    return Number(BigInt.asUintN(size * 8, m.device.read(port - m.base, size)));
  }

  /** A write of 1, 2 or 4 bytes; false when no device has the port. */
  write(port: number, size: number, value: number): boolean {
    const m = this.find(port, size);
    if (!m) return false;
    m.device.write(port - m.base, size, BigInt.asUintN(size * 8, BigInt(value)));
    return true;
  }
}
