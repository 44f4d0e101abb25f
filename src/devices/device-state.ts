// A device's state in a snapshot (issue 22; docs/snapshot.md once it lands): plain JSON, saved
// while the vCPUs are paused and the device has nothing in flight, and loaded into a device
// made with the same configuration before any vCPU runs. A snapshot is hostile input: every
// value is read through a StateReader, which bounds it and names it when it refuses.
import { MoatError } from "../base/moat-error.js";

/** What a device keeps in a snapshot: JSON values only (u64s as "0x..." strings, bytes base64). */
export type DeviceState = { [key: string]: StateValue };
export type StateValue = null | boolean | number | string | StateValue[] | DeviceState;

/** A device that can be snapshotted and brought back. */
export interface Snapshottable {
  /** Its state now; called on the VMM thread with the vCPUs paused and no request in flight. */
  saveState(): DeviceState;
  /**
   * Takes `state` as its own; DeviceStateError (and nothing changed that matters: the VM is
   * not started) for anything out of bounds or inconsistent with the device's configuration.
   */
  loadState(state: StateReader): void;
}

/** A snapshot's device state that moat refuses: the device, the field and why. */
export class DeviceStateError extends MoatError {
  constructor(message: string) {
    super(message, "invalid");
  }
}

/**
 * Typed, bounded reads of one object of a device's saved state. Bound: every read names its
 * limits; a missing field, a wrong type or a value out of range is a DeviceStateError naming
 * `where` and the field.
 */
export class StateReader {
  private readonly o: DeviceState;

  constructor(
    value: unknown,
    /** Where this object is, for messages: "virtio-blk vda: queue 0". */
    readonly where: string,
  ) {
    if (value === null || typeof value !== "object" || Array.isArray(value))
      throw new DeviceStateError(`${where}: not an object`);
    this.o = value as DeviceState;
  }

  private fail(name: string, why: string): never {
    throw new DeviceStateError(`${this.where}: ${name} ${why}`);
  }

  private get(name: string): StateValue {
    if (!Object.hasOwn(this.o, name)) this.fail(name, "is missing");
    return this.o[name]!;
  }

  has(name: string): boolean {
    return Object.hasOwn(this.o, name);
  }

  /** An integer in [min, max]. */
  int(name: string, min: number, max: number): number {
    const v = this.get(name);
    if (typeof v !== "number" || !Number.isInteger(v)) this.fail(name, "is not an integer");
    if (v < min || v > max) this.fail(name, `is ${v}, outside ${min}..${max}`);
    return v;
  }

  bool(name: string): boolean {
    const v = this.get(name);
    if (typeof v !== "boolean") this.fail(name, "is not true or false");
    return v;
  }

  /** A 64-bit unsigned value saved as "0x..." (u64 below), at most `max`. */
  u64(name: string, max = 0xffff_ffff_ffff_ffffn): bigint {
    const v = this.get(name);
    if (typeof v !== "string" || !/^0x[0-9a-f]{1,16}$/.test(v))
      this.fail(name, "is not a 0x... u64");
    const n = BigInt(v);
    if (n > max) this.fail(name, `is ${v}, above 0x${max.toString(16)}`);
    return n;
  }

  /** A string of at most `maxLength` characters, matching `pattern` if given. */
  str(name: string, maxLength: number, pattern?: RegExp): string {
    const v = this.get(name);
    if (typeof v !== "string") this.fail(name, "is not a string");
    if (v.length > maxLength) this.fail(name, `is longer than ${maxLength}`);
    if (pattern && !pattern.test(v)) this.fail(name, `does not match ${pattern}`);
    return v;
  }

  /** Bytes saved as base64 (bytes below), at most `maxBytes` of them. */
  bytes(name: string, maxBytes: number): Uint8Array {
    const v = this.get(name);
    if (typeof v !== "string" || !isBase64(v)) this.fail(name, "is not base64");
    if ((v.length / 4) * 3 > maxBytes + 2) this.fail(name, `holds more than ${maxBytes} bytes`);
    const b = Buffer.from(v, "base64");
    if (b.length > maxBytes) this.fail(name, `holds more than ${maxBytes} bytes`);
    return new Uint8Array(b);
  }

  /** A nested object. */
  obj(name: string): StateReader {
    return new StateReader(this.get(name), `${this.where}: ${name}`);
  }

  /** A list of at most `maxItems` values (read each with the reader's item methods). */
  list(name: string, maxItems: number): StateList {
    const v = this.get(name);
    if (!Array.isArray(v)) this.fail(name, "is not a list");
    if (v.length > maxItems) this.fail(name, `has more than ${maxItems} items`);
    return new StateList(v, `${this.where}: ${name}`);
  }
}

/** The items of a list in a device's state, read with the same bounds. */
export class StateList {
  constructor(
    private readonly items: readonly StateValue[],
    readonly where: string,
  ) {}

  get length(): number {
    return this.items.length;
  }

  /** Item `i` as an object. */
  obj(i: number): StateReader {
    return new StateReader(this.items[i], `${this.where}[${i}]`);
  }

  /** Item `i` as base64 bytes, at most `maxBytes` of them. */
  bytesAt(i: number, maxBytes: number): Uint8Array {
    const name = `[${i}]`;
    return new StateReader({ [name]: this.items[i] ?? null }, this.where).bytes(name, maxBytes);
  }

  /** Every item as an integer in [min, max]. */
  ints(min: number, max: number): number[] {
    return this.items.map((v, i) => {
      if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max)
        throw new DeviceStateError(`${this.where}[${i}]: not an integer in ${min}..${max}`);
      return v;
    });
  }
}

/** A u64 as saved in a DeviceState. */
export function u64(v: bigint): string {
  return `0x${BigInt.asUintN(64, v).toString(16)}`;
}

/** Whether `s` is padded base64, as bytes() writes it. */
export function isBase64(s: string): boolean {
  return s.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(s);
}

/** Bytes as saved in a DeviceState. */
export function bytes(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString("base64");
}
