// virtio-gpu, 2D only (virtio 1.2, section 5.7): the guest draws into resources it backs with its
// own pages, copies them to the host (TRANSFER_TO_HOST_2D), shows one on the scanout
// (SET_SCANOUT) and says what changed (RESOURCE_FLUSH). QEMU's display devices have been escape
// routes (CVE-2016-10029 and others), so every field is checked here: scanout ids, resource ids,
// sizes and formats, rectangles inside their resource, backing pages inside guest RAM and not
// overlapping, a transfer inside its backing, and a cap on the host memory all resources of a VM
// hold, their pixels, backing lists and records together. The work one turn of the VMM's event
// loop spends on the queues is bounded too: a notify with many large commands is served over
// several turns. A bad command gets the virtio-gpu error response; nothing a guest sends throws
// out of this model. The model owns no I/O: the VMM reads the scanout (VNC, screenshots) and
// hears of flushes through `onFlush`.
import { gather, scatter, type DescriptorChain, type SplitQueue } from "./queue.js";
import { DeviceId, readConfigBytes, type VirtioContext, type VirtioDevice } from "./device.js";
import { Backing, ENTRY_WIRE_BYTES, backingHostBytes } from "./gpu-backing.js";
import type { GuestMemory } from "../../memory/guest-memory.js";
import { MoatError } from "../../base/moat-error.js";
import { DeviceStateError, bytes, type DeviceState, type StateReader } from "../device-state.js";

// Command and response types (virtio_gpu_ctrl_type).
export const Cmd = {
  GetDisplayInfo: 0x0100,
  ResourceCreate2d: 0x0101,
  ResourceUnref: 0x0102,
  SetScanout: 0x0103,
  ResourceFlush: 0x0104,
  TransferToHost2d: 0x0105,
  ResourceAttachBacking: 0x0106,
  ResourceDetachBacking: 0x0107,
  UpdateCursor: 0x0300,
  MoveCursor: 0x0301,
} as const;
export const Resp = {
  OkNodata: 0x1100,
  OkDisplayInfo: 0x1101,
  ErrUnspec: 0x1200,
  ErrOutOfMemory: 0x1201,
  ErrInvalidScanoutId: 0x1202,
  ErrInvalidResourceId: 0x1203,
  ErrInvalidParameter: 0x1205,
} as const;

/** The formats a 2D resource may have: all 32 bits per pixel. */
export const GpuFormat = {
  B8G8R8A8: 1,
  B8G8R8X8: 2,
  A8R8G8B8: 3,
  X8R8G8B8: 4,
  R8G8B8A8: 67,
  X8B8G8R8: 68,
  A8B8G8R8: 121,
  R8G8B8X8: 134,
} as const;
const FORMATS = new Set<number>(Object.values(GpuFormat));

const FLAG_FENCE = 1;
const HDR = 24;
/** The response to GET_DISPLAY_INFO: the header and 16 modes of 24 bytes. */
const DISPLAY_INFO_BYTES = HDR + 16 * 24;
/** Bound: the side of a resource, in pixels. */
export const MAX_RESOURCE_SIDE = 16384;
/** Bound: resources one VM may hold at once. */
export const MAX_RESOURCES = 1024;
/** Bound: pages one ATTACH_BACKING may list (a 16384 x 16384 resource needs 262144 of 4 KiB). */
export const MAX_BACKING_ENTRIES = 262144;
/**
 * Bound: entries a backing may list beyond one per 4 KiB page of its resource's pixels (a
 * driver lists the pages of the buffer it draws in, or fewer runs of them).
 */
export const BACKING_SLACK = 16;
/** Bound: the default host memory all of a VM's resources hold together. */
export const DEFAULT_MAX_HOST_BYTES = 256 << 20;
/**
 * Bound: host bytes counted per resource beyond its pixels and backing list: its record, map
 * entry and typed-array objects (measured at about 900 on Node 20).
 */
export const RESOURCE_META_BYTES = 1024;
/** Bound: the largest mode a display offers (`--display`, a daemon VM's spec). */
export const MAX_MODE = { width: 3840, height: 2160 } as const;
/**
 * Bound: what a scanout may show, each side at most MAX_MODE's width and at most MAX_MODE's
 * pixels: the VMM converts and encodes that much for viewers and screenshots.
 */
export const MAX_SCANOUT_PIXELS = MAX_MODE.width * MAX_MODE.height;
/**
 * Bound: the work one turn of the VMM's event loop spends on the queues, in bytes copied (or
 * converted for viewers, on a flush), a few milliseconds; past it the device goes on at the
 * next turn, a transfer from the row where it stopped. A backing entry parsed or walked costs
 * ENTRY_COST, a command COMMAND_COST: what copying that many bytes takes (measured); a resource
 * created costs its pixel bytes (the host zeroes them).
 */
export const TURN_BUDGET = 8 << 20;
const ENTRY_COST = 1024;
const COMMAND_COST = 16384;

export interface GpuRect {
  x: number;
  y: number;
  width: number;
  height: number;
}

interface Resource {
  width: number;
  height: number;
  format: number;
  /** Host copy of the pixels, 4 bytes each, rows of width * 4. */
  pixels: Uint8Array;
  backing: Backing | null;
}

/** A transfer the turn's budget cut short: it goes on from `row` before any later command. */
interface PendingTransfer {
  chain: DescriptorChain;
  /** The request's header (its fence goes into the response). */
  req: DataView;
  r: Resource;
  b: Backing;
  rect: GpuRect;
  /** Where its first row starts in the backing. */
  base: number;
  row: number;
}

/** What a scanout shows: the resource's pixels in its format, for the VMM to encode. */
export interface ScanoutImage {
  width: number;
  height: number;
  format: number;
  /** Rows of `width * 4` bytes; a view of the resource, not a copy. */
  pixels: Uint8Array;
  /** The part of the resource the scanout shows. */
  rect: GpuRect;
  /**
   * Changes whenever SET_SCANOUT shows another resource or part of one (a page flip between two
   * buffers of one size too): a viewer converts all of it anew, and the next flush is charged so.
   */
  serial: number;
}

export interface GpuOptions {
  /** The mode offered in GET_DISPLAY_INFO. */
  width: number;
  height: number;
  maxHostBytes?: number;
  /** The guest flushed `rect` of what scanout `scanout` shows (the VMM repaints viewers). */
  onFlush?: (scanout: number, rect: GpuRect) => void;
}

/** A command the guest got wrong: answered with `code`, counted, the device goes on. */
class GpuError extends MoatError {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message, "guest");
  }
}

export class VirtioGpu implements VirtioDevice {
  readonly deviceId = DeviceId.Gpu;
  readonly features = 0n; // no virgl, no EDID: 2D only
  readonly queueMaxSizes = [256, 16];
  /** Bound: the largest request, ATTACH_BACKING with MAX_BACKING_ENTRIES, and its response. */
  readonly maxChainBytes = HDR + 8 + MAX_BACKING_ENTRIES * ENTRY_WIRE_BYTES + DISPLAY_INFO_BYTES;
  private ctx: VirtioContext | undefined;
  private queues: readonly (SplitQueue | undefined)[] = [];
  private readonly resources = new Map<number, Resource>();
  /** Host bytes of all resources: pixels, backing lists and RESOURCE_META_BYTES each. */
  private hostBytes = 0;
  /** What is left of this turn's TURN_BUDGET. */
  private budget = 0;
  /** A turn is under way or scheduled: a notify meanwhile needs nothing more. */
  private running = false;
  /** Incremented by every reset, so that a turn scheduled before it does nothing. */
  private generation = 0;
  private pending: PendingTransfer | null = null;
  /** A command left for the next turn (a backing list longer than what was left of this one). */
  private deferred: DescriptorChain | null = null;
  /** The command being served is the turn's first (it runs whatever it costs). */
  private firstOfTurn = false;
  private scanout: { resource: number; rect: GpuRect } | null = null;
  /** SET_SCANOUT showed another resource or rectangle since the last flush of the scanout. */
  private scanoutChanged = false;
  /** ScanoutImage.serial; never reset, so that it never repeats. */
  private scanoutSerial = 0;
  private readonly maxHostBytes: number;
  private readonly config = new Uint8Array(16);
  /** Commands answered with an error, by the message of the last one (for logs and tests). */
  errors = 0;
  lastError = "";

  constructor(
    readonly name: string,
    private readonly o: GpuOptions,
  ) {
    if (o.width < 1 || o.height < 1 || o.width > MAX_MODE.width || o.height > MAX_MODE.height)
      throw new RangeError(`display mode ${o.width}x${o.height} is out of range`);
    this.maxHostBytes = o.maxHostBytes ?? DEFAULT_MAX_HOST_BYTES;
    new DataView(this.config.buffer).setUint32(8, 1, true); // num_scanouts
  }

  configRead(offset: number, size: number): bigint {
    return readConfigBytes(this.config, offset, size);
  }

  /** Only events_clear (offset 4) is writable; no events are ever raised, so it clears nothing. */
  configWrite(): void {}

  activate(ctx: VirtioContext, queues: readonly (SplitQueue | undefined)[]): void {
    this.ctx = ctx;
    this.queues = queues;
  }

  /** A reset forgets every resource (the guest re-creates them), and frees their memory. */
  reset(): void {
    this.generation++;
    this.running = false;
    this.pending = null;
    this.deferred = null;
    this.ctx = undefined;
    this.queues = [];
    this.resources.clear();
    this.hostBytes = 0;
    this.scanout = null;
    this.scanoutChanged = false;
  }

  /** The mode GET_DISPLAY_INFO offers. */
  get mode(): { width: number; height: number } {
    return { width: this.o.width, height: this.o.height };
  }

  /** Host memory the resources hold now, pixels, backing lists and records (<= maxHostBytes). */
  get resourceBytes(): number {
    return this.hostBytes;
  }

  /** Whether a notify's work is still being served (a later turn will go on with it). */
  get busy(): boolean {
    return this.running;
  }

  /** What scanout 0 shows, or null when the guest has set none. */
  scanoutImage(): ScanoutImage | null {
    if (!this.scanout) return null;
    const r = this.resources.get(this.scanout.resource);
    if (!r) return null;
    return {
      width: r.width,
      height: r.height,
      format: r.format,
      pixels: r.pixels,
      rect: { ...this.scanout.rect },
      serial: this.scanoutSerial,
    };
  }

  notify(q: number): void {
    if (q > 1 || !this.ctx || !this.queues[q] || this.running) return;
    this.turn(this.generation);
  }

  /**
   * Serves both queues for at most TURN_BUDGET of work; the rest on the next turn, so that the
   * VMM's control socket, viewers and other devices are served in between.
   */
  private turn(gen: number): void {
    const ctx = this.ctx;
    if (gen !== this.generation || !ctx) return;
    this.running = true;
    this.budget = TURN_BUDGET;
    try {
      this.serveControl(ctx);
      this.serveCursor(ctx);
    } catch (e) {
      // Only a broken ring gets here (queue.ts); a bad command is answered, not thrown.
      this.running = false;
      ctx.fail((e as Error).message);
      return;
    }
    if (this.budget > 0) this.running = false;
    else setImmediate(() => this.turn(gen));
  }

  private serveControl(ctx: VirtioContext): void {
    const queue = this.queues[0];
    if (!queue) return;
    let answered = false;
    while (this.budget > 0) {
      if (this.pending) {
        if (!this.advance(ctx.mem, this.pending)) break;
        const p = this.pending;
        this.pending = null;
        queue.push(p.chain.head, this.respond(ctx.mem, p.chain, p.req, header(Resp.OkNodata)));
        answered = true;
        continue;
      }
      const chain = this.deferred ?? queue.pop();
      this.deferred = null;
      if (!chain) break;
      this.firstOfTurn = this.budget === TURN_BUDGET;
      this.budget -= COMMAND_COST;
      const written = this.control(ctx.mem, chain);
      if (written === undefined) continue; // a transfer now pending, or a command deferred
      queue.push(chain.head, written);
      answered = true;
    }
    if (answered) ctx.used(0);
  }

  private serveCursor(ctx: VirtioContext): void {
    const queue = this.queues[1];
    if (!queue) return;
    let answered = false;
    while (this.budget > 0) {
      const chain = queue.pop();
      if (!chain) break;
      this.budget -= COMMAND_COST;
      queue.push(chain.head, this.cursor(ctx.mem, chain));
      answered = true;
    }
    if (answered) ctx.used(1);
  }

  /**
   * One control command; returns the bytes written (its response), or undefined for a transfer
   * left pending (answered when it is done) or a command deferred to the next turn.
   */
  private control(mem: GuestMemory, chain: DescriptorChain): number | undefined {
    let hdr: DataView;
    try {
      if (chain.readableBytes < HDR)
        throw new GpuError(Resp.ErrUnspec, "request shorter than its header");
      hdr = view(gather(mem, chain.readable, 0, HDR));
    } catch (e) {
      return this.respond(mem, chain, null, this.refuse(e));
    }
    let reply: Uint8Array | null;
    try {
      reply = this.command(mem, chain, hdr);
    } catch (e) {
      reply = this.refuse(e);
    }
    return reply ? this.respond(mem, chain, hdr, reply) : undefined;
  }

  private refuse(e: unknown): Uint8Array {
    const code = e instanceof GpuError ? e.code : Resp.ErrUnspec;
    this.errors++;
    this.lastError = (e as Error).message;
    return header(code);
  }

  /** Writes `reply` (its header completed from the request's fence) into the chain. */
  private respond(
    mem: GuestMemory,
    chain: DescriptorChain,
    req: DataView | null,
    reply: Uint8Array,
  ): number {
    if (req && req.getUint32(4, true) & FLAG_FENCE) {
      const v = view(reply);
      v.setUint32(4, FLAG_FENCE, true);
      v.setBigUint64(8, req.getBigUint64(8, true), true);
      v.setUint32(16, req.getUint32(16, true), true); // ctx_id
    }
    // A response buffer too small for the answer: the guest gets what fits (it broke the rule).
    const n = Math.min(reply.length, chain.writableBytes);
    scatter(mem, chain.writable, 0, reply.subarray(0, n));
    return n;
  }

  /** A command's response, or null for a transfer now pending or a command deferred. */
  private command(mem: GuestMemory, chain: DescriptorChain, hdr: DataView): Uint8Array | null {
    const type = hdr.getUint32(0, true);
    const body = (len: number): DataView => {
      if (chain.readableBytes < HDR + len)
        throw new GpuError(
          Resp.ErrUnspec,
          `command 0x${type.toString(16)} is shorter than ${HDR + len} bytes`,
        );
      return view(gather(mem, chain.readable, HDR, len));
    };
    switch (type) {
      case Cmd.GetDisplayInfo: {
        const out = header(Resp.OkDisplayInfo, DISPLAY_INFO_BYTES);
        const v = view(out);
        v.setUint32(HDR + 8, this.o.width, true);
        v.setUint32(HDR + 12, this.o.height, true);
        v.setUint32(HDR + 16, 1, true); // enabled
        return out;
      }
      case Cmd.ResourceCreate2d: {
        const b = body(16);
        this.create(
          b.getUint32(0, true),
          b.getUint32(4, true),
          b.getUint32(8, true),
          b.getUint32(12, true),
        );
        return header(Resp.OkNodata);
      }
      case Cmd.ResourceUnref: {
        const id = body(8).getUint32(0, true);
        const r = this.resource(id);
        this.resources.delete(id);
        this.hostBytes -= r.pixels.length + RESOURCE_META_BYTES + (r.backing?.hostBytes ?? 0);
        if (this.scanout?.resource === id) this.scanout = null;
        return header(Resp.OkNodata);
      }
      case Cmd.SetScanout: {
        const b = body(24);
        const scanoutId = b.getUint32(16, true);
        if (scanoutId >= 1)
          throw new GpuError(Resp.ErrInvalidScanoutId, `scanout ${scanoutId} does not exist`);
        this.setScanout(b.getUint32(20, true), readRect(b, 0));
        return header(Resp.OkNodata);
      }
      case Cmd.ResourceFlush: {
        const b = body(24);
        const rect = readRect(b, 0);
        const id = b.getUint32(16, true);
        const r = this.resource(id);
        inside(rect, r, "flush");
        const shown = this.scanout;
        if (shown?.resource === id) {
          // Viewers convert the flushed rows of the scanout, all of them when it changed (even
          // for an empty rectangle): that counts as bytes copied.
          const rows = this.scanoutChanged
            ? shown.rect.height
            : Math.min(rect.height, shown.rect.height);
          this.scanoutChanged = false;
          this.budget -= rows * shown.rect.width * 4;
          this.o.onFlush?.(0, rect);
        }
        return header(Resp.OkNodata);
      }
      case Cmd.TransferToHost2d: {
        const b = body(32);
        const rect = readRect(b, 0);
        const offset = b.getBigUint64(16, true);
        const r = this.resource(b.getUint32(24, true));
        inside(rect, r, "transfer");
        return this.transfer(chain, hdr, r, rect, offset);
      }
      case Cmd.ResourceAttachBacking: {
        const b = body(8);
        const r = this.resource(b.getUint32(0, true));
        const n = b.getUint32(4, true);
        if (!this.firstOfTurn && n * ENTRY_COST > this.budget) {
          // Parsed in one go: it waits for a turn of its own rather than overrun this one.
          this.deferred = chain;
          this.budget = 0;
          return null;
        }
        r.backing = this.attach(mem, chain, r, n);
        return header(Resp.OkNodata);
      }
      case Cmd.ResourceDetachBacking: {
        const r = this.resource(body(8).getUint32(0, true));
        if (!r.backing) throw new GpuError(Resp.ErrUnspec, "the resource has no backing");
        this.hostBytes -= r.backing.hostBytes;
        r.backing = null;
        return header(Resp.OkNodata);
      }
      default:
        throw new GpuError(Resp.ErrUnspec, `unknown command 0x${type.toString(16)}`);
    }
  }

  /**
   * RESOURCE_CREATE_2D. Bounds: id not 0 and free, a known format, sides 1..16384, the VM's cap;
   * the zeroed pixels count against the turn's budget as bytes copied.
   */
  private create(id: number, format: number, width: number, height: number): void {
    if (id === 0 || this.resources.has(id))
      throw new GpuError(
        Resp.ErrInvalidResourceId,
        `resource id ${id} is ${id === 0 ? "reserved" : "in use"}`,
      );
    if (!FORMATS.has(format))
      throw new GpuError(Resp.ErrInvalidParameter, `format ${format} is not a 2D format`);
    if (width < 1 || height < 1 || width > MAX_RESOURCE_SIDE || height > MAX_RESOURCE_SIDE)
      throw new GpuError(Resp.ErrInvalidParameter, `resource of ${width}x${height} pixels`);
    if (this.resources.size >= MAX_RESOURCES)
      throw new GpuError(Resp.ErrOutOfMemory, `more than ${MAX_RESOURCES} resources`);
    const bytes = width * height * 4;
    this.charge(bytes + RESOURCE_META_BYTES);
    this.budget -= bytes;
    this.resources.set(id, {
      width,
      height,
      format,
      pixels: new Uint8Array(bytes),
      backing: null,
    });
  }

  /** SET_SCANOUT of resource `id` (0: display off). Bounds: inside the resource, MAX_SCANOUT_PIXELS. */
  private setScanout(id: number, rect: GpuRect): void {
    if (id === 0) {
      this.scanout = null; // the guest turned the display off
      return;
    }
    const r = this.resource(id);
    inside(rect, r, "scanout");
    if (rect.width === 0 || rect.height === 0)
      throw new GpuError(Resp.ErrInvalidParameter, "empty scanout rectangle");
    if (
      rect.width > MAX_MODE.width ||
      rect.height > MAX_MODE.width ||
      rect.width * rect.height > MAX_SCANOUT_PIXELS
    )
      throw new GpuError(
        Resp.ErrInvalidParameter,
        `a scanout of ${rect.width}x${rect.height} pixels (at most ${MAX_SCANOUT_PIXELS}, ` +
          `sides up to ${MAX_MODE.width})`,
      );
    const was = this.scanout;
    if (!was || was.resource !== id || !sameRect(was.rect, rect)) {
      this.scanoutChanged = true;
      this.scanoutSerial++;
    }
    this.scanout = { resource: id, rect };
  }

  /** Counts `bytes` more host memory, or refuses them past the VM's cap. */
  private charge(bytes: number): void {
    if (this.hostBytes + bytes > this.maxHostBytes)
      throw new GpuError(
        Resp.ErrOutOfMemory,
        `${bytes} more bytes would pass the VM's ${this.maxHostBytes}`,
      );
    this.hostBytes += bytes;
  }

  private resource(id: number): Resource {
    const r = this.resources.get(id);
    if (!r) throw new GpuError(Resp.ErrInvalidResourceId, `no resource ${id}`);
    return r;
  }

  /**
   * RESOURCE_ATTACH_BACKING's entries for `r`. Bounds: 1..MAX_BACKING_ENTRIES entries and at
   * most one per 4 KiB page of the resource plus BACKING_SLACK; the list's host bytes counted
   * against the VM's cap before it is made; each entry checked (gpu-backing.ts). A list costing
   * more than what is left of the turn's budget waits for the next turn (control()).
   */
  private attach(mem: GuestMemory, chain: DescriptorChain, r: Resource, n: number): Backing {
    return this.backing(mem, r, n, () => {
      if (chain.readableBytes < HDR + 8 + n * ENTRY_WIRE_BYTES)
        throw new GpuError(Resp.ErrUnspec, `${n} backing entries do not fit the request`);
      return view(gather(mem, chain.readable, HDR + 8, n * ENTRY_WIRE_BYTES));
    });
  }

  /** A backing of `n` entries read by `entries` for `r`, with attach()'s bounds. */
  private backing(mem: GuestMemory, r: Resource, n: number, entries: () => DataView): Backing {
    if (r.backing) throw new GpuError(Resp.ErrUnspec, "the resource already has backing");
    const most = Math.min(MAX_BACKING_ENTRIES, Math.ceil(r.pixels.length / 4096) + BACKING_SLACK);
    if (n === 0 || n > most)
      throw new GpuError(
        Resp.ErrInvalidParameter,
        `${n} backing entries for a ${r.width}x${r.height} resource (1..${most})`,
      );
    const raw = entries();
    const hostBytes = backingHostBytes(n);
    this.charge(hostBytes);
    this.budget -= n * ENTRY_COST;
    const b = Backing.parse(mem, raw, n);
    if (typeof b === "string") {
      this.hostBytes -= hostBytes;
      throw new GpuError(Resp.ErrInvalidParameter, b);
    }
    return b;
  }

  /**
   * TRANSFER_TO_HOST_2D: checks it and leaves it pending; advance() copies it row by row from
   * the backing (rows of width * 4 bytes, starting at `offset`) into the host copy. Bound:
   * every byte read lies inside the backing.
   */
  private transfer(
    chain: DescriptorChain,
    req: DataView,
    r: Resource,
    rect: GpuRect,
    offset: bigint,
  ): Uint8Array | null {
    const b = r.backing;
    if (!b) throw new GpuError(Resp.ErrUnspec, "transfer to a resource without backing");
    if (rect.width === 0 || rect.height === 0) return header(Resp.OkNodata);
    const stride = r.width * 4;
    const last = offset + BigInt((rect.height - 1) * stride + rect.width * 4);
    if (last > BigInt(b.bytes))
      throw new GpuError(
        Resp.ErrInvalidParameter,
        `transfer reads past the ${b.bytes}-byte backing`,
      );
    this.pending = { chain, req, r, b, rect, base: Number(offset), row: 0 };
    return null;
  }

  /** Copies rows of a pending transfer while the turn's budget lasts; true when it is done. */
  private advance(mem: GuestMemory, p: PendingTransfer): boolean {
    const { r, b, rect } = p;
    const stride = r.width * 4;
    const rowBytes = rect.width * 4;
    for (; p.row < rect.height; p.row++) {
      if (this.budget <= 0) return false;
      const dst = (rect.y + p.row) * stride + rect.x * 4;
      const walked = b.copy(mem, p.base + p.row * stride, r.pixels, dst, rowBytes);
      this.budget -= rowBytes + walked * ENTRY_COST;
    }
    return true;
  }

  /**
   * Each resource's id, size and format and its backing's entries (not its pixels: up to the
   * VM's cap of host memory), and what the scanout shows. Taken with no command being served
   * (`busy` false).
   */
  saveState(): DeviceState {
    if (this.running || this.pending || this.deferred)
      throw new DeviceStateError(`${this.name}: a command is being served (wait for busy false)`);
    const s = this.scanout;
    return {
      resources: [...this.resources].map(([id, r]) => ({
        id,
        width: r.width,
        height: r.height,
        format: r.format,
        ...(r.backing ? { backing: bytes(r.backing.wire()) } : {}),
      })),
      ...(s ? { scanout: { resource: s.resource, ...s.rect } } : {}),
    };
  }

  /**
   * Re-creates the resources and the scanout through the commands' own checks (ids, formats,
   * sizes, the VM's host-memory cap, backing entries inside RAM and not overlapping, the
   * scanout inside its resource), on a device of the same options first, so that a refusal
   * changes nothing. Each resource's pixels are copied again from its backing in guest RAM
   * (linear rows, as a whole-resource transfer from offset 0): the guest's frame as its memory
   * holds it, which may be newer than its last transfer. Guest RAM must be loaded first.
   */
  loadState(r: StateReader, mem: GuestMemory): void {
    const staged = new VirtioGpu(this.name, this.o);
    const list = r.list("resources", MAX_RESOURCES);
    const at = (where: string, f: () => void): void => {
      try {
        f();
      } catch (e) {
        if (e instanceof GpuError) throw new DeviceStateError(`${where}: ${e.message}`);
        throw e;
      }
    };
    for (let i = 0; i < list.length; i++) {
      const o = list.obj(i);
      const id = o.int("id", 1, 0xffff_ffff);
      const width = o.int("width", 1, MAX_RESOURCE_SIDE);
      const height = o.int("height", 1, MAX_RESOURCE_SIDE);
      const format = o.int("format", 0, 0xffff_ffff);
      const wire = o.has("backing")
        ? o.bytes("backing", MAX_BACKING_ENTRIES * ENTRY_WIRE_BYTES)
        : undefined;
      at(o.where, () => {
        staged.create(id, format, width, height);
        if (!wire) return;
        if (wire.length % ENTRY_WIRE_BYTES !== 0)
          throw new GpuError(Resp.ErrUnspec, "backing is not whole entries");
        const res = staged.resource(id);
        res.backing = staged.backing(mem, res, wire.length / ENTRY_WIRE_BYTES, () => view(wire));
        res.backing.copy(mem, 0, res.pixels, 0, Math.min(res.backing.bytes, res.pixels.length));
      });
    }
    if (r.has("scanout")) {
      const s = r.obj("scanout");
      const rect = {
        x: s.int("x", 0, 0xffff_ffff),
        y: s.int("y", 0, 0xffff_ffff),
        width: s.int("width", 0, 0xffff_ffff),
        height: s.int("height", 0, 0xffff_ffff),
      };
      const id = s.int("resource", 1, 0xffff_ffff);
      at(s.where, () => staged.setScanout(id, rect));
    }
    this.resources.clear();
    for (const [id, res] of staged.resources) this.resources.set(id, res);
    this.hostBytes = staged.hostBytes;
    this.scanout = staged.scanout;
    // Viewers convert all of it anew.
    this.scanoutChanged = true;
    this.scanoutSerial++;
  }

  /** Cursor commands: checked and accepted; moat draws no cursor of its own (viewers do). */
  private cursor(mem: GuestMemory, chain: DescriptorChain): number {
    if (chain.readableBytes < HDR + 32) {
      this.errors++;
      this.lastError = "cursor command shorter than 56 bytes";
      return 0;
    }
    const h = view(gather(mem, chain.readable, 0, HDR + 32));
    const type = h.getUint32(0, true);
    const scanoutId = h.getUint32(HDR, true);
    if ((type !== Cmd.UpdateCursor && type !== Cmd.MoveCursor) || scanoutId >= 1) {
      this.errors++;
      this.lastError = `bad cursor command 0x${type.toString(16)} for scanout ${scanoutId}`;
    }
    return 0;
  }
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function header(type: number, size = HDR): Uint8Array {
  const out = new Uint8Array(size);
  view(out).setUint32(0, type, true);
  return out;
}

function readRect(v: DataView, at: number): GpuRect {
  return {
    x: v.getUint32(at, true),
    y: v.getUint32(at + 4, true),
    width: v.getUint32(at + 8, true),
    height: v.getUint32(at + 12, true),
  };
}

function sameRect(a: GpuRect, b: GpuRect): boolean {
  return a.x === b.x && a.y === b.y && a.width === b.width && a.height === b.height;
}

/** Bound: the rectangle lies inside the resource (sums in doubles: no 32-bit wrap-around). */
function inside(rect: GpuRect, r: Resource, what: string): void {
  if (rect.x + rect.width > r.width || rect.y + rect.height > r.height)
    throw new GpuError(
      Resp.ErrInvalidParameter,
      `${what} rectangle ${rect.width}x${rect.height}+${rect.x}+${rect.y} is outside the ${r.width}x${r.height} resource`,
    );
}
