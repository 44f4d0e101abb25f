// What a virtio device model implements for the transport (virtio-mmio here), and what the
// transport gives it. Device models own no I/O: a block device gets a BlockBackend from the VMM.
import type { GuestMemory } from "../../memory/guest-memory.js";
import type { SplitQueue } from "./queue.js";
import type { DeviceState, StateReader } from "../device-state.js";

export const VIRTIO_F_INDIRECT_DESC = 28n;
export const VIRTIO_F_EVENT_IDX = 29n;
export const VIRTIO_F_VERSION_1 = 32n;

export const enum DeviceId {
  Net = 1,
  Block = 2,
  Console = 3,
  Entropy = 4,
  Balloon = 5,
  Gpu = 16,
  Input = 18,
  Vsock = 19,
}

/**
 * Where a device's log lines go (the VMM's log, rate-limited per device and `kind`: see
 * ../log-limiter.ts). `kind` is a fixed string naming the sort of line, never guest data.
 */
export type DeviceLog = (line: string, kind: string) => void;

/** What the transport offers a device while the driver has it running (DRIVER_OK). */
export interface VirtioContext {
  readonly mem: GuestMemory;
  /** The device returned buffers on queue `q`: the transport interrupts the driver if it wants. */
  used(q: number): void;
  /** Hostile or broken input: the device stops (DEVICE_NEEDS_RESET) with this one log line. */
  fail(reason: string): void;
  /** The device changed its config space: the driver is interrupted to re-read it. */
  configChanged(): void;
}

export interface VirtioDevice {
  readonly deviceId: DeviceId;
  /** For log lines, e.g. "virtio-blk vda". */
  readonly name: string;
  /** Device-specific feature bits; the transport adds VERSION_1, INDIRECT_DESC and EVENT_IDX. */
  readonly features: bigint;
  /** Largest size of each queue the device has. */
  readonly queueMaxSizes: readonly number[];
  /** Bound on the bytes one descriptor chain may describe. */
  readonly maxChainBytes: number;
  /** A read of the device's config space. Bound: outside it reads 0. */
  configRead(offset: number, size: number): bigint;
  /** A write to the device's config space. Bound: outside it is ignored. */
  configWrite(offset: number, size: number, value: bigint): void;
  /** The driver set DRIVER_OK with these queues (undefined: not set up) and features. */
  activate(ctx: VirtioContext, queues: readonly (SplitQueue | undefined)[], features: bigint): void;
  /** The driver notified queue `q`. Runs on the VMM thread, never on a vCPU. */
  notify(q: number): void;
  /** Device reset: forget the queues; work still in flight must not touch guest memory. */
  reset(): void;
  /**
   * Its own state for a snapshot (config space, what the guest has been told); the transport
   * saves the queues. A device without it cannot be snapshotted yet.
   */
  saveState?(): DeviceState;
  /**
   * Takes a saved state, in a device just made, before the transport activates it again with
   * the driver's queues. Reads everything before it changes anything (see ../device-state.ts).
   */
  loadState?(state: StateReader, mem: GuestMemory): void;
  /**
   * Chains the device took from queue `q` and keeps with no request in flight (receive buffers
   * waiting for data): a snapshot gives them back to the ring, and the restored device takes
   * them again. They must be the last ones it took.
   */
  heldChains?(q: number): number;
}

/** Reads `size` bytes at `offset` of a little-endian config block; 0 outside it. */
export function readConfigBytes(config: Uint8Array, offset: number, size: number): bigint {
  if (offset < 0 || size < 1 || offset + size > config.length) return 0n;
  let v = 0n;
  for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(config[offset + i]!);
  return v;
}
