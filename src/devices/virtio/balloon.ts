// virtio-balloon (virtio 1.2, section 5.5): the host asks the guest to give back memory (the
// target in num_pages), the guest hands over page numbers (inflate) or takes them back
// (deflate), reports statistics, and reports free pages (free page reporting). Pages given
// back are released to the host through the VMM (madvise DONTNEED: the VMM's RSS drops, and
// the guest finds zeros when it uses them again). The model owns no I/O.
import { gather, type SplitQueue } from "./queue.js";
import { DeviceId, readConfigBytes, type VirtioContext, type VirtioDevice } from "./device.js";
import type { DeviceState, StateReader } from "../device-state.js";

/** What the VMM does for the balloon: give guest-physical pages back to the host. */
export interface BalloonBackend {
  /** Gives these bytes of guest RAM (whole pages, checked to be inside it) back to the host. */
  release(bytes: Uint8Array): void;
}

export const PAGE = 4096;
const F_STATS_VQ = 1n;
const F_DEFLATE_ON_OOM = 2n;
const F_PAGE_REPORTING = 5n;
const INFLATEQ = 0;
const DEFLATEQ = 1;
const STATSQ = 2;
/** Linux's virtio-mmio numbers the queues it uses in a row, so without FREE_PAGE_HINT the
 * reporting queue is 3; the spec calls it 4. Both are served. */
const REPORTQ_LINUX = 3;
const REPORTQ_SPEC = 4;
const QUEUE_SIZE = 128;
/** Bound: PFNs per inflate/deflate buffer (Linux sends at most 256). */
const MAX_PFNS = 4096;
/** Bound: statistics entries per report (10 bytes each; 10 tags are defined). */
const MAX_STATS = 64;

const STAT_NAMES = [
  "swapIn",
  "swapOut",
  "majorFaults",
  "minorFaults",
  "freeMemory",
  "totalMemory",
  "availableMemory",
  "diskCaches",
  "hugetlbAllocations",
  "hugetlbFailures",
] as const;
export type BalloonStats = Partial<Record<(typeof STAT_NAMES)[number], number>>;

/** Device options: `reporting` offers free page reporting (default true). */
export interface BalloonOptions {
  reporting?: boolean;
}

export class VirtioBalloon implements VirtioDevice {
  readonly deviceId = DeviceId.Balloon;
  readonly features: bigint;
  readonly queueMaxSizes = [QUEUE_SIZE, QUEUE_SIZE, QUEUE_SIZE, QUEUE_SIZE, QUEUE_SIZE];
  /** Bound: the largest chain (a reporting chain of 2 MiB ranges, or a PFN array). */
  readonly maxChainBytes = 1 << 30;
  private readonly config = new Uint8Array(16);
  private ctx: VirtioContext | undefined;
  private queues: readonly (SplitQueue | undefined)[] = [];
  /** The stats buffer the guest last gave, held until the host wants fresh figures. */
  private statsHead: number | undefined;
  /** Pages the guest has in the balloon (inflated minus deflated, as it reported them). */
  inflatedPages = 0;
  /** Bytes of free-page reports released to the host. */
  reportedBytes = 0;
  stats: BalloonStats = {};
  statsAt = 0;
  private targetPages = 0;

  constructor(
    readonly name: string,
    private readonly ramBytes: number,
    private readonly backend: BalloonBackend,
    options: BalloonOptions = {},
  ) {
    // Without VIRTIO_BALLOON_F_PAGE_REPORTING only pages the host asks for (inflation) come
    // back; the guest keeps its free memory.
    this.features =
      (1n << F_STATS_VQ) |
      (1n << F_DEFLATE_ON_OOM) |
      (options.reporting === false ? 0n : 1n << F_PAGE_REPORTING);
  }

  /** Whether free page reporting is offered. */
  get reporting(): boolean {
    return (this.features & (1n << F_PAGE_REPORTING)) !== 0n;
  }

  /** The guest's view: how many pages it says are in the balloon (config `actual`). */
  get actualPages(): number {
    return new DataView(this.config.buffer).getUint32(4, true);
  }

  get targetMiB(): number {
    return (this.targetPages * PAGE) / (1 << 20);
  }

  /**
   * Asks the guest to hold `mib` MiB in its balloon (0 deflates it all). Bound: at most the
   * guest's RAM.
   */
  setTarget(mib: number): void {
    if (!Number.isInteger(mib) || mib < 0 || mib * (1 << 20) > this.ramBytes)
      throw new RangeError(`balloon target ${mib} MiB: 0..${this.ramBytes >> 20}`);
    this.targetPages = (mib * (1 << 20)) / PAGE;
    new DataView(this.config.buffer).setUint32(0, this.targetPages, true);
    this.ctx?.configChanged();
  }

  /** Asks the guest for fresh statistics (they arrive in `stats`). */
  requestStats(): boolean {
    const q = this.queues[STATSQ];
    if (!this.ctx || !q || this.statsHead === undefined) return false;
    q.push(this.statsHead, 0);
    this.statsHead = undefined;
    this.ctx.used(STATSQ);
    return true;
  }

  /**
   * The host's target, the guest's `actual` and what it has inflated. The statistics buffer the
   * device holds goes back to the ring (heldChains): the restored device takes it again and
   * reads the guest's last figures from it.
   */
  saveState(): DeviceState {
    return {
      targetPages: this.targetPages,
      actualPages: this.actualPages,
      inflatedPages: this.inflatedPages,
      reportedBytes: this.reportedBytes,
    };
  }

  /** Bounds: a target within this guest's RAM; counts as u32s / safe integers. */
  loadState(r: StateReader): void {
    const targetPages = r.int("targetPages", 0, this.ramBytes / PAGE);
    const actualPages = r.int("actualPages", 0, 0xffff_ffff);
    const inflatedPages = r.int("inflatedPages", 0, 0xffff_ffff);
    const reportedBytes = r.int("reportedBytes", 0, Number.MAX_SAFE_INTEGER);
    const c = new DataView(this.config.buffer);
    this.targetPages = targetPages;
    c.setUint32(0, targetPages, true);
    c.setUint32(4, actualPages, true);
    this.inflatedPages = inflatedPages;
    this.reportedBytes = reportedBytes;
  }

  heldChains(q: number): number {
    return q === STATSQ && this.statsHead !== undefined ? 1 : 0;
  }

  configRead(offset: number, size: number): bigint {
    return readConfigBytes(this.config, offset, size);
  }

  /** Only `actual` (bytes 4..7) is the driver's to write. */
  configWrite(offset: number, size: number, value: bigint): void {
    if (offset < 4 || offset + size > 8) return;
    for (let i = 0; i < size; i++)
      this.config[offset + i] = Number((value >> BigInt(8 * i)) & 0xffn);
  }

  activate(ctx: VirtioContext, queues: readonly (SplitQueue | undefined)[]): void {
    this.ctx = ctx;
    this.queues = queues;
    // Linux gives its first statistics buffer before DRIVER_OK; its notify found no queue.
    this.notify(STATSQ);
  }

  reset(): void {
    this.ctx = undefined;
    this.queues = [];
    this.statsHead = undefined;
    this.inflatedPages = 0;
    new DataView(this.config.buffer).setUint32(4, 0, true);
  }

  notify(q: number): void {
    const ctx = this.ctx;
    const queue = this.queues[q];
    if (!ctx || !queue) return;
    if (q === STATSQ) return this.takeStats(ctx, queue);
    let any = false;
    for (let chain = queue.pop(); chain; chain = queue.pop()) {
      if (q === INFLATEQ || q === DEFLATEQ) {
        if (chain.writableBytes > 0)
          throw new Error(`page list ${chain.head} has writable buffers`);
        const n = Math.floor(chain.readableBytes / 4);
        if (n > MAX_PFNS)
          throw new Error(`page list ${chain.head} of ${n} pages (at most ${MAX_PFNS})`);
        const pfns = new DataView(gather(ctx.mem, chain.readable, 0, n * 4).buffer);
        for (let i = 0; i < n; i++) {
          const addr = BigInt(pfns.getUint32(i * 4, true)) * BigInt(PAGE);
          // A page outside RAM is the guest's mistake: skipped, the rest still counts.
          if (!ctx.mem.contains(addr, PAGE)) continue;
          if (q === INFLATEQ) {
            this.backend.release(ctx.mem.hostView(addr, PAGE));
            this.inflatedPages++;
          } else this.inflatedPages = Math.max(0, this.inflatedPages - 1);
        }
      } else if ((q === REPORTQ_LINUX || q === REPORTQ_SPEC) && this.reporting) {
        // Free page reporting: device-writable buffers naming free ranges; nothing is written.
        if (chain.readableBytes > 0)
          throw new Error(`free page report ${chain.head} has readable buffers`);
        for (const b of chain.writable) {
          this.backend.release(ctx.mem.hostView(b.addr, b.len));
          this.reportedBytes += b.len;
        }
      }
      queue.push(chain.head, 0);
      any = true;
    }
    if (any) ctx.used(q);
  }

  /** Reads a statistics buffer (tag u16, value u64 entries) and keeps it for the next request. */
  private takeStats(ctx: VirtioContext, q: SplitQueue): void {
    for (let chain = q.pop(); chain; chain = q.pop()) {
      if (this.statsHead !== undefined) {
        // A second buffer while one is held: give the old one back unread.
        q.push(this.statsHead, 0);
        ctx.used(STATSQ);
      }
      const n = Math.min(MAX_STATS, Math.floor(chain.readableBytes / 10));
      const v = new DataView(gather(ctx.mem, chain.readable, 0, n * 10).buffer);
      const stats: BalloonStats = {};
      for (let i = 0; i < n; i++) {
        const name = STAT_NAMES[v.getUint16(i * 10, true)];
        if (name) stats[name] = Number(v.getBigUint64(i * 10 + 2, true));
      }
      this.stats = stats;
      this.statsAt = Date.now();
      this.statsHead = chain.head;
    }
  }
}
