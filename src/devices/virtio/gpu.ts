// virtio-gpu, 2D only (virtio 1.2, section 5.7): the guest draws into resources it backs with its
// own pages, copies them to the host (TRANSFER_TO_HOST_2D), shows one on the scanout
// (SET_SCANOUT) and says what changed (RESOURCE_FLUSH). QEMU's display devices have been escape
// routes (CVE-2016-10029 and others), so every field is checked here: scanout ids, resource ids,
// sizes and formats, rectangles inside their resource, backing pages inside guest RAM and not
// overlapping, a transfer inside its backing, and a cap on the host memory all resources of a VM
// hold. A bad command gets the virtio-gpu error response; nothing a guest sends throws out of
// this model. The model owns no I/O: the VMM reads the scanout (VNC, screenshots) and hears of
// flushes through `onFlush`.
import {
  gather,
  scatter,
  type DescriptorChain,
  type GuestBuffer,
  type SplitQueue,
} from "./queue.js";
import { DeviceId, readConfigBytes, type VirtioContext, type VirtioDevice } from "./device.js";
import type { GuestMemory } from "../../memory/guest-memory.js";

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
/** Bound: the default host memory all of a VM's resources hold together. */
export const DEFAULT_MAX_HOST_BYTES = 256 << 20;

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

/** A resource's backing pages, with where each starts in the backing's byte range. */
interface Backing {
  entries: GuestBuffer[];
  /** starts[i]: the offset of entries[i] (ascending; a binary search finds a row's entry). */
  starts: number[];
  bytes: number;
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
class GpuError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export class VirtioGpu implements VirtioDevice {
  readonly deviceId = DeviceId.Gpu;
  readonly features = 0n; // no virgl, no EDID: 2D only
  readonly queueMaxSizes = [256, 16];
  /** Bound: the largest request, ATTACH_BACKING with MAX_BACKING_ENTRIES, and its response. */
  readonly maxChainBytes = HDR + 8 + MAX_BACKING_ENTRIES * 16 + DISPLAY_INFO_BYTES;
  private ctx: VirtioContext | undefined;
  private queues: readonly (SplitQueue | undefined)[] = [];
  private readonly resources = new Map<number, Resource>();
  private hostBytes = 0;
  private scanout: { resource: number; rect: GpuRect } | null = null;
  private readonly maxHostBytes: number;
  private readonly config = new Uint8Array(16);
  /** Commands answered with an error, by the message of the last one (for logs and tests). */
  errors = 0;
  lastError = "";

  constructor(
    readonly name: string,
    private readonly o: GpuOptions,
  ) {
    if (o.width < 1 || o.height < 1 || o.width > MAX_RESOURCE_SIDE || o.height > MAX_RESOURCE_SIDE)
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
    this.ctx = undefined;
    this.queues = [];
    this.resources.clear();
    this.hostBytes = 0;
    this.scanout = null;
  }

  /** The mode GET_DISPLAY_INFO offers. */
  get mode(): { width: number; height: number } {
    return { width: this.o.width, height: this.o.height };
  }

  /** Host memory the resources hold now (bounded by maxHostBytes). */
  get resourceBytes(): number {
    return this.hostBytes;
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
    };
  }

  notify(q: number): void {
    const ctx = this.ctx;
    const queue = this.queues[q];
    if (!ctx || !queue || q > 1) return;
    try {
      for (;;) {
        const chain = queue.pop();
        if (!chain) break;
        const written = q === 0 ? this.control(ctx.mem, chain) : this.cursor(ctx.mem, chain);
        queue.push(chain.head, written);
      }
      ctx.used(q);
    } catch (e) {
      // Only a broken ring gets here (queue.ts); a bad command is answered, not thrown.
      ctx.fail((e as Error).message);
    }
  }

  /** One control command; returns the bytes written (its response). */
  private control(mem: GuestMemory, chain: DescriptorChain): number {
    let hdr: DataView;
    try {
      if (chain.readableBytes < HDR)
        throw new GpuError(Resp.ErrUnspec, "request shorter than its header");
      hdr = view(gather(mem, chain.readable, 0, HDR));
    } catch (e) {
      return this.respond(mem, chain, null, this.refuse(e));
    }
    let reply: Uint8Array;
    try {
      reply = this.command(mem, chain, hdr.getUint32(0, true));
    } catch (e) {
      reply = this.refuse(e);
    }
    return this.respond(mem, chain, hdr, reply);
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

  private command(mem: GuestMemory, chain: DescriptorChain, type: number): Uint8Array {
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
        this.hostBytes -= r.pixels.length;
        if (this.scanout?.resource === id) this.scanout = null;
        return header(Resp.OkNodata);
      }
      case Cmd.SetScanout: {
        const b = body(24);
        const rect = readRect(b, 0);
        const scanoutId = b.getUint32(16, true);
        const id = b.getUint32(20, true);
        if (scanoutId >= 1)
          throw new GpuError(Resp.ErrInvalidScanoutId, `scanout ${scanoutId} does not exist`);
        if (id === 0) {
          this.scanout = null; // the guest turned the display off
          return header(Resp.OkNodata);
        }
        const r = this.resource(id);
        inside(rect, r, "scanout");
        if (rect.width === 0 || rect.height === 0)
          throw new GpuError(Resp.ErrInvalidParameter, "empty scanout rectangle");
        this.scanout = { resource: id, rect };
        return header(Resp.OkNodata);
      }
      case Cmd.ResourceFlush: {
        const b = body(24);
        const rect = readRect(b, 0);
        const id = b.getUint32(16, true);
        const r = this.resource(id);
        inside(rect, r, "flush");
        if (this.scanout?.resource === id) this.o.onFlush?.(0, rect);
        return header(Resp.OkNodata);
      }
      case Cmd.TransferToHost2d: {
        const b = body(32);
        const rect = readRect(b, 0);
        const offset = b.getBigUint64(16, true);
        const r = this.resource(b.getUint32(24, true));
        inside(rect, r, "transfer");
        this.transfer(mem, r, rect, offset);
        return header(Resp.OkNodata);
      }
      case Cmd.ResourceAttachBacking: {
        const b = body(8);
        const r = this.resource(b.getUint32(0, true));
        const n = b.getUint32(4, true);
        if (r.backing) throw new GpuError(Resp.ErrUnspec, "the resource already has backing");
        if (n === 0 || n > MAX_BACKING_ENTRIES)
          throw new GpuError(
            Resp.ErrInvalidParameter,
            `${n} backing entries (1..${MAX_BACKING_ENTRIES})`,
          );
        if (chain.readableBytes < HDR + 8 + n * 16)
          throw new GpuError(Resp.ErrUnspec, `${n} backing entries do not fit the request`);
        const raw = view(gather(mem, chain.readable, HDR + 8, n * 16));
        r.backing = this.backing(mem, raw, n);
        return header(Resp.OkNodata);
      }
      case Cmd.ResourceDetachBacking: {
        const r = this.resource(body(8).getUint32(0, true));
        if (!r.backing) throw new GpuError(Resp.ErrUnspec, "the resource has no backing");
        r.backing = null;
        return header(Resp.OkNodata);
      }
      default:
        throw new GpuError(Resp.ErrUnspec, `unknown command 0x${type.toString(16)}`);
    }
  }

  /** RESOURCE_CREATE_2D. Bounds: id not 0 and free, a known format, sides 1..16384, the VM's cap. */
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
    if (this.hostBytes + bytes > this.maxHostBytes)
      throw new GpuError(
        Resp.ErrOutOfMemory,
        `${bytes} more bytes would pass the VM's ${this.maxHostBytes}`,
      );
    this.resources.set(id, {
      width,
      height,
      format,
      pixels: new Uint8Array(bytes),
      backing: null,
    });
    this.hostBytes += bytes;
  }

  private resource(id: number): Resource {
    const r = this.resources.get(id);
    if (!r) throw new GpuError(Resp.ErrInvalidResourceId, `no resource ${id}`);
    return r;
  }

  /** Backing entries: each inside guest RAM, 1 byte at least, none overlapping another. */
  private backing(mem: GuestMemory, raw: DataView, n: number): Backing {
    const entries: GuestBuffer[] = [];
    for (let i = 0; i < n; i++) {
      const addr = raw.getBigUint64(i * 16, true);
      const len = raw.getUint32(i * 16 + 8, true);
      if (len === 0 || !mem.contains(addr, len))
        throw new GpuError(
          Resp.ErrInvalidParameter,
          `backing 0x${addr.toString(16)}+${len} is outside guest RAM`,
        );
      entries.push({ addr, len });
    }
    const sorted = [...entries].sort((a, b) => (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : 0));
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1]!;
      if (prev.addr + BigInt(prev.len) > sorted[i]!.addr)
        throw new GpuError(
          Resp.ErrInvalidParameter,
          `backing entries overlap at 0x${sorted[i]!.addr.toString(16)}`,
        );
    }
    const starts: number[] = [];
    let bytes = 0;
    for (const e of entries) {
      starts.push(bytes);
      bytes += e.len;
    }
    return { entries, starts, bytes };
  }

  /**
   * TRANSFER_TO_HOST_2D: row by row from the backing (rows of width * 4 bytes, starting at
   * `offset`) into the host copy. Bound: every byte read lies inside the backing.
   */
  private transfer(mem: GuestMemory, r: Resource, rect: GpuRect, offset: bigint): void {
    const b = r.backing;
    if (!b) throw new GpuError(Resp.ErrUnspec, "transfer to a resource without backing");
    const stride = r.width * 4;
    const rowBytes = rect.width * 4;
    if (rect.width === 0 || rect.height === 0) return;
    const last = offset + BigInt((rect.height - 1) * stride + rowBytes);
    if (last > BigInt(b.bytes))
      throw new GpuError(
        Resp.ErrInvalidParameter,
        `transfer reads past the ${b.bytes}-byte backing`,
      );
    const base = Number(offset);
    for (let row = 0; row < rect.height; row++) {
      // Each row starts with a binary search, not a walk of the backing from its first page:
      // a guest's many-page backing would otherwise cost rows x pages on the VMM thread.
      let src = base + row * stride;
      let dst = (rect.y + row) * stride + rect.x * 4;
      let left = rowBytes;
      for (let e = entryAt(b.starts, src); left > 0; e++) {
        const entry = b.entries[e]!;
        const skip = src - b.starts[e]!;
        const take = Math.min(entry.len - skip, left);
        r.pixels.set(mem.hostView(entry.addr + BigInt(skip), take), dst);
        src += take;
        dst += take;
        left -= take;
      }
    }
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

/** The index of the entry holding byte `offset` (starts ascending, starts[0] = 0). */
function entryAt(starts: number[], offset: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
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

/** Bound: the rectangle lies inside the resource (sums in doubles: no 32-bit wrap-around). */
function inside(rect: GpuRect, r: Resource, what: string): void {
  if (rect.x + rect.width > r.width || rect.y + rect.height > r.height)
    throw new GpuError(
      Resp.ErrInvalidParameter,
      `${what} rectangle ${rect.width}x${rect.height}+${rect.x}+${rect.y} is outside the ${r.width}x${r.height} resource`,
    );
}
