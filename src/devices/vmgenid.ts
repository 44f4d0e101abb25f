// The VM generation ID (devicetree "microsoft,vmgenid"; Linux's vmgenid driver, which moat's
// riscv64 guest kernel binds to it by guest/riscv64/patches/0001-vmgenid-devicetree.patch): 16
// bytes the guest reads, and an interrupt when they change. A clone of a snapshot gets a new ID
// (newGeneration()): the guest kernel reseeds its RNG at once, so clones of one snapshot do not
// share their random numbers, and sends a uevent (NEW_VMGENID=1) for userspace.
//
// The ID is device memory on the MMIO bus, not a page of guest RAM: the driver ioremaps the
// region (it is not RAM) and reads it a 32-bit word at a time, which the bus serves; nothing in
// guest RAM has to be reserved, and a snapshot's RAM holds no copy of the ID.
import type { MmioDevice } from "../bus/mmio-bus.js";
import type { IrqLine } from "./irq.js";
import {
  DeviceStateError,
  bytes,
  type DeviceState,
  type Snapshottable,
  type StateReader,
} from "./device-state.js";

/** Bytes of the ID, and of the register window. */
export const VMGENID_BYTES = 16;

export class VmGenId implements MmioDevice, Snapshottable {
  private id: Uint8Array;
  /** The interrupt line: high from a new generation until the guest reads the ID. */
  private raised = false;

  constructor(
    private readonly irq: IrqLine,
    /** `n` random bytes (the VMM passes the host's crypto RNG). */
    private readonly random: (n: number) => Uint8Array,
  ) {
    this.id = this.fresh();
  }

  private fresh(): Uint8Array {
    const id = this.random(VMGENID_BYTES);
    if (id.length !== VMGENID_BYTES) throw new Error(`vmgenid: ${id.length} random bytes, not 16`);
    return Uint8Array.from(id);
  }

  /** The ID now (a copy). */
  generation(): Uint8Array {
    return Uint8Array.from(this.id);
  }

  /**
   * Reads `size` bytes of the ID at `offset`, little-endian (the bus keeps the access inside the
   * 16 bytes). A read acknowledges the interrupt: the line is level-triggered at the PLIC and the
   * driver's handler reads the ID, so it drops then and does not fire again.
   */
  read(offset: number, size: number): bigint {
    let v = 0n;
    for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(this.id[offset + i] ?? 0);
    this.setLine(false);
    return v;
  }

  /** The ID is read-only: writes are ignored. */
  write(_offset: number, _size: number, _value: bigint): void {}

  /** A new generation (a clone): a fresh random ID, and the interrupt raised. */
  newGeneration(): void {
    this.id = this.fresh();
    this.setLine(true);
  }

  private setLine(level: boolean): void {
    if (this.raised === level) return;
    this.raised = level;
    this.irq(level);
  }

  saveState(): DeviceState {
    return { id: bytes(this.id), raised: this.raised };
  }

  /** Bounds: exactly 16 bytes of ID. The line is driven to the saved level. */
  loadState(r: StateReader): void {
    const id = r.bytes("id", VMGENID_BYTES);
    if (id.length !== VMGENID_BYTES)
      throw new DeviceStateError(`${r.where}: id holds ${id.length} bytes, not ${VMGENID_BYTES}`);
    const raised = r.bool("raised");
    this.id = id;
    this.raised = raised;
    this.irq(raised);
  }
}
