// virtio-input (virtio 1.2, section 5.8): a keyboard or a tablet (absolute pointer) whose events
// come from the host (a VNC viewer, later the web console), or the machine's power button (one
// key, KEY_POWER, pressed when the operator asks the guest to shut down). The guest reads the device's
// identity and capabilities from config space, then gives the device empty buffers on the
// event queue; the host's events fill them. Its status queue (LEDs) is read and dropped.
// Bounds: config reads outside the selected item read 0; events wait in a queue of at most
// MAX_PENDING (the oldest go first when a guest stops reading); each buffer must hold one event.
import { scatter, type SplitQueue } from "./queue.js";
import { DeviceId, readConfigBytes, type VirtioContext, type VirtioDevice } from "./device.js";
import type { DeviceState, StateReader } from "../device-state.js";

// Linux input event types and codes (include/uapi/linux/input-event-codes.h).
export const EV_SYN = 0;
export const EV_KEY = 1;
export const EV_ABS = 3;
export const SYN_REPORT = 0;
export const ABS_X = 0;
export const ABS_Y = 1;
export const BTN_LEFT = 0x110;
export const BTN_RIGHT = 0x111;
export const BTN_MIDDLE = 0x112;
const INPUT_PROP_DIRECT = 0;
/** Key codes a keyboard offers: KEY_ESC (1) to KEY_MICMUTE (248). */
export const KEY_FIRST = 1;
export const KEY_LAST = 248;
/** The power button's one key. */
export const KEY_POWER = 116;
/** The power button's name, which the guest's /init looks for (docs/guest.md). */
export const POWER_BUTTON_NAME = "moat power button";

const CFG_ID_NAME = 0x01;
const CFG_ID_SERIAL = 0x02;
const CFG_ID_DEVIDS = 0x03;
const CFG_PROP_BITS = 0x10;
const CFG_EV_BITS = 0x11;
const CFG_ABS_INFO = 0x12;

/** Bound: events waiting for the guest to give buffers. */
export const MAX_PENDING = 1024;
/** The tablet's axes run 0..ABS_MAX (a viewer's coordinates are scaled onto them). */
export const ABS_MAX = 0x7fff;

export type InputKind = "keyboard" | "tablet" | "power";

export interface InputEvent {
  type: number;
  code: number;
  value: number;
}

export class VirtioInput implements VirtioDevice {
  readonly deviceId = DeviceId.Input;
  readonly features = 0n;
  readonly queueMaxSizes = [64, 64];
  readonly maxChainBytes = 4096;
  private ctx: VirtioContext | undefined;
  private queues: readonly (SplitQueue | undefined)[] = [];
  /** select, subsel, size, 5 reserved, then up to 128 bytes of the selected item. */
  private readonly config = new Uint8Array(136);
  private readonly pending: InputEvent[] = [];
  /** Events dropped because the guest did not read them in time (oldest first). */
  dropped = 0;

  constructor(
    readonly name: string,
    readonly kind: InputKind,
  ) {}

  /** The config space: select, subsel, size, then the selected item (at offset 8). */
  configRead(offset: number, size: number): bigint {
    return readConfigBytes(this.config, offset, size);
  }

  /** Only select (offset 0) and subsel (offset 1) are writable, a byte each. */
  configWrite(offset: number, size: number, value: bigint): void {
    if (size !== 1 || (offset !== 0 && offset !== 1)) return;
    this.config[offset] = Number(value & 0xffn);
    // The item is built once per selection, not on each of the driver's byte-wide reads.
    const item = this.item(this.config[0]!, this.config[1]!);
    this.config.fill(0, 2);
    this.config[2] = Math.min(item.length, 128);
    this.config.set(item.subarray(0, 128), 8);
  }

  /**
   * The config item the driver selected. Events not yet in a guest buffer are the host's (the
   * viewer that sent them is not attached to the restored VM) and are not saved: a restored
   * guest sees no half of a key press.
   */
  saveState(): DeviceState {
    return { select: this.config[0]!, subsel: this.config[1]! };
  }

  loadState(r: StateReader): void {
    const select = r.int("select", 0, 0xff);
    const subsel = r.int("subsel", 0, 0xff);
    this.configWrite(0, 1, BigInt(select));
    this.configWrite(1, 1, BigInt(subsel));
  }

  activate(ctx: VirtioContext, queues: readonly (SplitQueue | undefined)[]): void {
    this.ctx = ctx;
    this.queues = queues;
    this.flush();
  }

  reset(): void {
    this.ctx = undefined;
    this.queues = [];
    this.pending.length = 0;
  }

  notify(q: number): void {
    if (q === 0) this.flush();
    else if (q === 1) this.drainStatus();
  }

  /** Queues host events (a SYN_REPORT ends each group); they reach the guest as it gives buffers. */
  send(events: readonly InputEvent[]): void {
    for (const e of events) {
      if (this.pending.length >= MAX_PENDING) {
        this.pending.shift();
        this.dropped++;
      }
      this.pending.push(e);
    }
    this.flush();
  }

  /** A key pressed (true) or released, with its report. Bound: codes this device offers. */
  key(code: number, down: boolean): void {
    if (this.kind === "power" ? code !== KEY_POWER : !isKeyboardCode(code)) return;
    this.send([
      { type: EV_KEY, code, value: down ? 1 : 0 },
      { type: EV_SYN, code: SYN_REPORT, value: 0 },
    ]);
  }

  /** A key pressed and released at once (a button's click). */
  tap(code: number): void {
    this.key(code, true);
    this.key(code, false);
  }

  /**
   * The pointer at (x, y) of a w x h screen with `buttons` (bit 0 left, 1 middle, 2 right, as
   * RFB sends them); changed buttons only. Bound: positions clamp to the screen.
   */
  pointer(x: number, y: number, w: number, h: number, buttons: number, prev: number): void {
    const scale = (v: number, n: number): number =>
      n <= 1 ? 0 : Math.round((Math.min(Math.max(v, 0), n - 1) * ABS_MAX) / (n - 1));
    const ev: InputEvent[] = [
      { type: EV_ABS, code: ABS_X, value: scale(x, w) },
      { type: EV_ABS, code: ABS_Y, value: scale(y, h) },
    ];
    const map: [number, number][] = [
      [1, BTN_LEFT],
      [2, BTN_MIDDLE],
      [4, BTN_RIGHT],
    ];
    for (const [bit, code] of map)
      if ((buttons ^ prev) & bit) ev.push({ type: EV_KEY, code, value: buttons & bit ? 1 : 0 });
    ev.push({ type: EV_SYN, code: SYN_REPORT, value: 0 });
    this.send(ev);
  }

  private flush(): void {
    const ctx = this.ctx;
    const q = this.queues[0];
    if (!ctx || !q) return;
    let any = false;
    try {
      while (this.pending.length > 0) {
        const chain = q.pop();
        if (!chain) break;
        if (chain.writableBytes < 8)
          throw new Error(`event buffer ${chain.head} holds less than one event`);
        const e = this.pending.shift()!;
        const b = new DataView(new ArrayBuffer(8));
        b.setUint16(0, e.type, true);
        b.setUint16(2, e.code, true);
        b.setInt32(4, e.value, true);
        scatter(ctx.mem, chain.writable, 0, new Uint8Array(b.buffer));
        q.push(chain.head, 8);
        any = true;
      }
    } catch (e) {
      ctx.fail((e as Error).message);
      return;
    }
    if (any) ctx.used(0);
  }

  /** LED and other status events from the guest: taken and dropped (moat shows no LEDs). */
  private drainStatus(): void {
    const ctx = this.ctx;
    const q = this.queues[1];
    if (!ctx || !q) return;
    try {
      for (let chain = q.pop(); chain; chain = q.pop()) q.push(chain.head, 0);
      ctx.used(1);
    } catch (e) {
      ctx.fail((e as Error).message);
    }
  }

  /** The config item that select/subsel name (empty: none). */
  private item(select: number, subsel: number): Uint8Array {
    const text = (s: string) => new TextEncoder().encode(s);
    switch (select) {
      case CFG_ID_NAME:
        return text(this.kind === "power" ? POWER_BUTTON_NAME : `moat ${this.kind}`);
      case CFG_ID_SERIAL:
        return text(this.name);
      case CFG_ID_DEVIDS: {
        const ids = new DataView(new ArrayBuffer(8));
        ids.setUint16(0, 0x06, true); // BUS_VIRTUAL
        ids.setUint16(2, 0x6d6f, true); // vendor "mo"
        ids.setUint16(4, PRODUCT[this.kind], true);
        ids.setUint16(6, 1, true);
        return new Uint8Array(ids.buffer);
      }
      case CFG_PROP_BITS:
        return this.kind === "tablet" ? bitmap([INPUT_PROP_DIRECT]) : new Uint8Array(0);
      case CFG_EV_BITS:
        return this.eventBits(subsel);
      case CFG_ABS_INFO: {
        if (this.kind !== "tablet" || (subsel !== ABS_X && subsel !== ABS_Y))
          return new Uint8Array(0);
        const info = new DataView(new ArrayBuffer(20)); // min, max, fuzz, flat, res
        info.setUint32(4, ABS_MAX, true);
        return new Uint8Array(info.buffer);
      }
      default:
        return new Uint8Array(0);
    }
  }

  private eventBits(type: number): Uint8Array {
    if (this.kind === "power") return type === EV_KEY ? bitmap([KEY_POWER]) : new Uint8Array(0);
    if (this.kind === "keyboard") {
      if (type !== EV_KEY) return new Uint8Array(0);
      const codes: number[] = [];
      for (let c = KEY_FIRST; c <= KEY_LAST; c++) codes.push(c);
      return bitmap(codes);
    }
    if (type === EV_KEY) return bitmap([BTN_LEFT, BTN_RIGHT, BTN_MIDDLE]);
    if (type === EV_ABS) return bitmap([ABS_X, ABS_Y]);
    return new Uint8Array(0);
  }
}

/** The product id each kind reports (vendor "mo"). */
const PRODUCT: Record<InputKind, number> = { keyboard: 1, tablet: 2, power: 3 };

function isKeyboardCode(code: number): boolean {
  return Number.isInteger(code) && code >= KEY_FIRST && code <= KEY_LAST;
}

/** A little-endian bitmap with the given bits set, as long as its highest bit needs. */
function bitmap(bits: number[]): Uint8Array {
  const out = new Uint8Array((Math.max(...bits) >> 3) + 1);
  for (const b of bits) out[b >> 3]! |= 1 << (b & 7);
  return out;
}
