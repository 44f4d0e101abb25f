// virtio-blk (virtio 1.2, section 5.2): reads, writes, flush, discard, write-zeroes and the
// device ID, over a BlockBackend the VMM gives it (the model owns no I/O). Requests are guest
// input: a chain without a 16-byte header or a status byte is hostile (DEVICE_NEEDS_RESET);
// a request outside the disk, of a length that is not whole sectors, or a write to a read-only
// disk gets an error status. Requests of a queue run one after the other, so at most one
// piece of a request's data (IO_CHUNK) is in host memory per disk.
import { gather, scatter, type DescriptorChain, type SplitQueue } from "./queue.js";
import { DeviceId, readConfigBytes, type VirtioContext, type VirtioDevice } from "./device.js";
import type { TokenBucket } from "../rate-limiter.js";
import { DeviceStateError, u64, type DeviceState, type StateReader } from "../device-state.js";

/** A disk's rate limits: data bytes per second and requests per second (token buckets). */
export interface BlockLimits {
  bytes?: TokenBucket;
  ops?: TokenBucket;
}

/** What a disk has done since the VM started (requests that completed with status OK). */
export interface BlockCounters {
  readBytes: number;
  writeBytes: number;
  readOps: number;
  writeOps: number;
  flushOps: number;
  /** Discard and write-zeroes requests. */
  discardOps: number;
  /** Requests that got an error or "unsupported" status. */
  errors: number;
}

/** Bound: a limited queue re-checks its buckets at least this often while it waits. */
const LIMIT_POLL_MS = 100;

/** The host side of a disk: an image file, as the VMM opened it. Offsets and lengths in bytes. */
export interface BlockBackend {
  readonly sizeBytes: number;
  readonly readOnly: boolean;
  read(offset: number, len: number): Promise<Uint8Array>;
  write(offset: number, data: Uint8Array): Promise<void>;
  /** Durable: returns after the data is on stable storage (fdatasync). */
  flush(): Promise<void>;
  discard(offset: number, len: number): Promise<void>;
  writeZeroes(offset: number, len: number): Promise<void>;
}

const SECTOR = 512;
const T_IN = 0;
const T_OUT = 1;
const T_FLUSH = 4;
const T_GET_ID = 8;
const T_DISCARD = 11;
const T_WRITE_ZEROES = 13;
const S_OK = 0;
const S_IOERR = 1;
const S_UNSUPP = 2;
const ID_BYTES = 20;

const F_SIZE_MAX = 1n;
const F_SEG_MAX = 2n;
const F_RO = 5n;
const F_BLK_SIZE = 6n;
const F_FLUSH = 9n;
const F_DISCARD = 13n;
const F_WRITE_ZEROES = 14n;

const QUEUE_SIZE = 256;
/** Largest single buffer and number of data buffers the driver may use per request. */
const SIZE_MAX = 1 << 20;
const SEG_MAX = 126;
/** At most one discard or write-zeroes range per request, of at most 1 GiB. */
const MAX_RANGE_SECTORS = (1 << 30) / SECTOR;
const CONFIG_SIZE = 60;
/** Bound: bytes of a request's data held in host memory at a time. */
const IO_CHUNK = 1 << 20;

export class VirtioBlk implements VirtioDevice {
  readonly deviceId = DeviceId.Block;
  readonly features: bigint;
  readonly queueMaxSizes = [QUEUE_SIZE];
  /** Bound: a request's data plus its header and status. */
  readonly maxChainBytes = SEG_MAX * SIZE_MAX + 32;
  private readonly config = new Uint8Array(CONFIG_SIZE);
  private ctx: VirtioContext | undefined;
  private queue: SplitQueue | undefined;
  private running = false;
  /** Quiesced for a snapshot: no new request is taken (see quiesce()). */
  private holding = false;
  private idle: (() => void)[] = [];
  private generation = 0;
  private readonly capacity: number;
  readonly counters: BlockCounters = {
    readBytes: 0,
    writeBytes: 0,
    readOps: 0,
    writeOps: 0,
    flushOps: 0,
    discardOps: 0,
    errors: 0,
  };

  constructor(
    readonly name: string,
    private readonly backend: BlockBackend,
    private readonly id: string,
    private limits: BlockLimits = {},
  ) {
    this.capacity = Math.floor(backend.sizeBytes / SECTOR);
    this.features =
      (1n << F_SIZE_MAX) |
      (1n << F_SEG_MAX) |
      (1n << F_BLK_SIZE) |
      (1n << F_FLUSH) |
      (backend.readOnly ? 1n << F_RO : (1n << F_DISCARD) | (1n << F_WRITE_ZEROES));
    const c = new DataView(this.config.buffer);
    c.setBigUint64(0, BigInt(this.capacity), true);
    c.setUint32(8, SIZE_MAX, true);
    c.setUint32(12, SEG_MAX, true);
    c.setUint32(20, SECTOR, true);
    c.setUint16(34, 1, true); // num_queues
    c.setUint32(36, MAX_RANGE_SECTORS, true); // max_discard_sectors
    c.setUint32(40, 1, true); // max_discard_seg
    c.setUint32(44, 1, true); // discard_sector_alignment
    c.setUint32(48, MAX_RANGE_SECTORS, true); // max_write_zeroes_sectors
    c.setUint32(52, 1, true); // max_write_zeroes_seg
    c.setUint8(56, 1); // write_zeroes_may_unmap
  }

  /** Replaces the rate limits (at start or while the VM runs); waiting requests see them next poll. */
  setLimits(limits: BlockLimits): void {
    this.limits = limits;
  }

  configRead(offset: number, size: number): bigint {
    return readConfigBytes(this.config, offset, size);
  }

  configWrite(): void {
    // The writeback field is not offered (VIRTIO_BLK_F_CONFIG_WCE): nothing is writable.
  }

  activate(ctx: VirtioContext, queues: readonly (SplitQueue | undefined)[]): void {
    this.ctx = ctx;
    this.queue = queues[0];
  }

  reset(): void {
    this.generation++;
    this.ctx = undefined;
    this.queue = undefined;
    this.running = false;
  }

  /**
   * For a snapshot: takes no new request and resolves once the one being served (if any) is
   * complete in the used ring, so that saveState finds none in flight. Requests the guest
   * makes meanwhile wait in the ring (they are in guest memory, and served after a restore or
   * release()).
   */
  quiesce(): Promise<void> {
    this.holding = true;
    if (!this.running) return Promise.resolve();
    return new Promise((r) => this.idle.push(r));
  }

  /** Takes requests again after quiesce() (the snapshot is written; the VM goes on). */
  release(): void {
    this.holding = false;
    this.notify(0);
  }

  /**
   * The disk's size and whether it is read-only: a restore onto another disk is refused.
   * Requests in flight are not saved: the VMM quiesces the device first (quiesce()).
   */
  saveState(): DeviceState {
    if (this.running)
      throw new DeviceStateError(`${this.name}: a request is in flight (quiesce() first)`);
    return { capacity: u64(BigInt(this.capacity)), readOnly: this.backend.readOnly };
  }

  loadState(r: StateReader): void {
    const capacity = r.u64("capacity");
    if (capacity !== BigInt(this.capacity))
      throw new DeviceStateError(
        `${r.where}: capacity is ${capacity} sectors, the disk has ${this.capacity}`,
      );
    if (r.bool("readOnly") !== this.backend.readOnly)
      throw new DeviceStateError(`${r.where}: readOnly is not the disk's`);
  }

  notify(q: number): void {
    if (q !== 0 || this.running || this.holding || !this.queue) return;
    this.running = true;
    void this.drain(this.generation);
  }

  /** Serves the queue until it is empty; stops at once if the device is reset meanwhile. */
  private async drain(gen: number): Promise<void> {
    try {
      for (;;) {
        if (gen !== this.generation || !this.queue || !this.ctx) return;
        if (this.holding || !this.queue.hasAvailable()) break;
        const wait = Math.max(
          this.limits.ops?.msUntilPaid() ?? 0,
          this.limits.bytes?.msUntilPaid() ?? 0,
        );
        if (wait > 0) {
          // Over its rate: the requests wait in the ring (the guest sees a slower disk).
          await new Promise((r) => setTimeout(r, Math.min(wait, LIMIT_POLL_MS)));
          continue;
        }
        const chain = this.queue.pop();
        if (!chain) break;
        this.limits.ops?.consume(1);
        this.limits.bytes?.consume(Math.max(chain.readableBytes - 16, chain.writableBytes - 1, 0));
        const written = await this.serve(chain);
        if (gen !== this.generation) return;
        this.queue.push(chain.head, written);
        this.ctx.used(0);
      }
    } catch (e) {
      if (gen === this.generation) this.ctx?.fail((e as Error).message);
      return;
    } finally {
      if (gen === this.generation) this.running = false;
      if (!this.running) for (const r of this.idle.splice(0)) r();
    }
  }

  /** One request; returns the bytes written into the chain (data and status). */
  private async serve(chain: DescriptorChain): Promise<number> {
    const ctx = this.ctx!;
    const mem = ctx.mem;
    if (chain.readableBytes < 16) throw new Error(`request ${chain.head} has no 16-byte header`);
    if (chain.writableBytes < 1) throw new Error(`request ${chain.head} has no status byte`);
    const h = gather(mem, chain.readable, 0, 16);
    const hv = new DataView(h.buffer);
    const type = hv.getUint32(0, true);
    const sector = hv.getBigUint64(8, true);
    const dataIn = chain.writableBytes - 1;
    const dataOut = chain.readableBytes - 16;
    const status = async (): Promise<[number, number]> => {
      switch (type) {
        case T_IN: {
          if (!this.inRange(sector, dataIn)) return [S_IOERR, 0];
          // In pieces: host memory per request stays at IO_CHUNK whatever the guest asks for.
          const base = Number(sector) * SECTOR;
          for (let done = 0; done < dataIn; done += IO_CHUNK) {
            const n = Math.min(IO_CHUNK, dataIn - done);
            scatter(mem, chain.writable, done, await this.backend.read(base + done, n));
          }
          return [S_OK, dataIn];
        }
        case T_OUT: {
          if (this.backend.readOnly || !this.inRange(sector, dataOut)) return [S_IOERR, 0];
          const base = Number(sector) * SECTOR;
          for (let done = 0; done < dataOut; done += IO_CHUNK) {
            const n = Math.min(IO_CHUNK, dataOut - done);
            await this.backend.write(base + done, gather(mem, chain.readable, 16 + done, n));
          }
          return [S_OK, 0];
        }
        case T_FLUSH:
          if (!this.backend.readOnly) await this.backend.flush();
          return [S_OK, 0];
        case T_GET_ID: {
          const id = new Uint8Array(ID_BYTES);
          id.set(new TextEncoder().encode(this.id).subarray(0, ID_BYTES));
          const n = Math.min(ID_BYTES, dataIn);
          scatter(mem, chain.writable, 0, id.subarray(0, n));
          return [S_OK, n];
        }
        case T_DISCARD:
        case T_WRITE_ZEROES: {
          if (this.backend.readOnly) return [S_IOERR, 0];
          if (dataOut !== 16) return [S_UNSUPP, 0]; // exactly one range (max_*_seg = 1)
          const r = new DataView(gather(mem, chain.readable, 16, 16).buffer);
          const start = r.getBigUint64(0, true);
          const count = r.getUint32(8, true);
          const flags = r.getUint32(12, true);
          const allowed = type === T_WRITE_ZEROES ? 1 : 0; // write-zeroes may set "unmap"
          if (flags & ~allowed || count > MAX_RANGE_SECTORS) return [S_UNSUPP, 0];
          if (!this.inRange(start, count * SECTOR)) return [S_IOERR, 0];
          const off = Number(start) * SECTOR;
          if (type === T_DISCARD) await this.backend.discard(off, count * SECTOR);
          else await this.backend.writeZeroes(off, count * SECTOR);
          return [S_OK, 0];
        }
        default:
          return [S_UNSUPP, 0];
      }
    };
    let result: [number, number];
    try {
      result = await status();
    } catch (e) {
      // The host's I/O failed (not the guest's doing): the request fails, the device goes on.
      if (e instanceof Error && "code" in e) result = [S_IOERR, 0];
      else throw e;
    }
    this.count(type, result[0], type === T_IN ? dataIn : dataOut);
    // The status byte is the last byte of the writable buffers.
    scatter(mem, chain.writable, chain.writableBytes - 1, Uint8Array.of(result[0]));
    return result[1] + 1;
  }

  /** Counts one finished request of `type` with `bytes` of data. */
  private count(type: number, status: number, bytes: number): void {
    const c = this.counters;
    if (status !== S_OK) {
      c.errors++;
      return;
    }
    switch (type) {
      case T_IN:
        c.readOps++;
        c.readBytes += bytes;
        break;
      case T_OUT:
        c.writeOps++;
        c.writeBytes += bytes;
        break;
      case T_FLUSH:
        c.flushOps++;
        break;
      case T_DISCARD:
      case T_WRITE_ZEROES:
        c.discardOps++;
        break;
    }
  }

  /** Whether [sector, sector + bytes) is whole sectors inside the disk. */
  private inRange(sector: bigint, bytes: number): boolean {
    return bytes % SECTOR === 0 && sector + BigInt(bytes / SECTOR) <= BigInt(this.capacity);
  }
}
