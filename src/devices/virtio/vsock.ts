// virtio-vsock (virtio 1.2, section 5.10): stream sockets between the guest (its CID from the
// config) and the host (CID 2). The model keeps each connection's state and credit and moves
// packets; the VMM's VsockBackend does the host side (Unix sockets, as Firecracker does).
//
// Guest packets are hostile: a header that is not 44 bytes, a packet for another CID, an
// unknown type or op, or data beyond the credit moat gave get that connection reset (RST), not
// the device; a malformed ring still ends in DEVICE_NEEDS_RESET as for every device.
import { gather, scatter, type DescriptorChain, type SplitQueue } from "./queue.js";
import { DeviceId, readConfigBytes, type VirtioContext, type VirtioDevice } from "./device.js";
import type { DeviceState, StateReader } from "../device-state.js";

export const HOST_CID = 2;
const HDR = 44;
const TYPE_STREAM = 1;
const OP_REQUEST = 1;
const OP_RESPONSE = 2;
const OP_RST = 3;
const OP_SHUTDOWN = 4;
const OP_RW = 5;
const OP_CREDIT_UPDATE = 6;
const OP_CREDIT_REQUEST = 7;
const SHUTDOWN_SEND = 2;
const SHUTDOWN_BOTH = 3;
const RXQ = 0;
const TXQ = 1;
const EVENTQ = 2;
/** The event queue's one event (virtio 1.2, 5.10.6.7): the guest drops every connection. */
const EVENT_TRANSPORT_RESET = 0;
const QUEUE_SIZE = 128;
/** Bound: bytes the guest may have in flight to the host per connection (our buf_alloc). */
export const BUF_ALLOC = 256 * 1024;
/** Bound: payload of one packet either way. */
const MAX_PAYLOAD = 64 * 1024;
/** Bound: host bytes waiting per connection for guest credit before the host side pauses. */
const HOST_PENDING = 256 * 1024;
/**
 * Bound: connections per VM, counted from the guest's REQUEST (or a host client's CONNECT)
 * until the host side has closed its socket, so host sockets never outnumber it.
 */
export const MAX_CONNECTIONS = 1024;
/** Bound: control packets (responses, resets, credit updates) waiting for receive buffers. */
const MAX_CONTROL = 4096;

/** A connection: the guest's port and the host's port. */
export interface VsockKey {
  guestPort: number;
  hostPort: number;
}

/**
 * The host side of the device (the VMM's Unix-socket muxer). Each connection's key is one
 * object, given to connect() or returned by hostConnect(): the device answers only calls with
 * that object (a late call for a connection the guest has since dropped, or re-made with the
 * same ports, changes nothing), and the backend calls released() with it exactly once, when it
 * holds nothing more for it (its socket is closed, or was never made).
 */
export interface VsockBackend {
  /** The guest asks for host port `hostPort`: answer with accept() or refuse() on the device. */
  connect(key: VsockKey): void;
  /** Data from the guest; call the device's consumed() once it has left the host buffer. */
  data(key: VsockKey, bytes: Uint8Array): void;
  /** The guest will send no more (shutdown) or the connection is gone (reset: true). */
  closed(key: VsockKey, reset: boolean): void;
  /** A host-initiated connection was accepted by the guest. */
  established(key: VsockKey): void;
}

interface Conn {
  key: VsockKey;
  state: "connecting-in" | "connecting-out" | "open" | "closing";
  /** Credit the guest gave: its buffer size and what it has consumed. */
  peerBufAlloc: number;
  peerFwdCnt: number;
  /** Bytes sent to the guest (for credit). */
  txCnt: number;
  /** Bytes of guest data received / handed on by the host (our fwd_cnt). */
  rxCnt: number;
  fwdCnt: number;
  lastFwdSent: number;
  pending: Uint8Array[];
  pendingBytes: number;
  resume: (() => void) | undefined;
  hostDone: boolean;
  /** The backend has not released this connection yet (its host socket may be open). */
  hostOpen: boolean;
}

const keyOf = (k: VsockKey) => `${k.guestPort}:${k.hostPort}`;

export class VirtioVsock implements VirtioDevice {
  readonly deviceId = DeviceId.Vsock;
  readonly features = 0n;
  readonly queueMaxSizes = [QUEUE_SIZE, QUEUE_SIZE, QUEUE_SIZE];
  readonly maxChainBytes = HDR + MAX_PAYLOAD;
  private readonly config = new Uint8Array(8);
  private ctx: VirtioContext | undefined;
  private queues: readonly (SplitQueue | undefined)[] = [];
  private readonly conns = new Map<string, Conn>();
  private readonly control: Uint8Array[] = [];
  private nextHostPort = 1 << 30;
  /** Connections already forgotten whose host end the backend has not released yet. */
  private hostHeld = 0;
  /** Packets the guest sent that were refused (bad header, wrong CID, over credit...). */
  rejected = 0;
  /** Restored from a snapshot: the guest is to be told its connections are gone. */
  private resetDue = false;

  constructor(
    readonly name: string,
    readonly guestCid: number,
    private readonly backend: VsockBackend,
  ) {
    if (!Number.isInteger(guestCid) || guestCid < 3 || guestCid > 0xffff_fffe)
      throw new RangeError(`guest CID ${guestCid}: 3..4294967294`);
    new DataView(this.config.buffer).setBigUint64(0, BigInt(guestCid), true);
  }

  get connections(): number {
    return this.conns.size;
  }

  /** What counts against MAX_CONNECTIONS: live connections and host ends not yet released. */
  get held(): number {
    return this.conns.size + this.hostHeld;
  }

  configRead(offset: number, size: number): bigint {
    return readConfigBytes(this.config, offset, size);
  }

  configWrite(): void {}

  activate(ctx: VirtioContext, queues: readonly (SplitQueue | undefined)[]): void {
    this.ctx = ctx;
    this.queues = queues;
    this.transportReset();
  }

  /**
   * The guest's CID. Connections are not saved: their host ends (sockets of the VMM that took
   * the snapshot) do not exist in the restored VM. The restored device has none and tells the
   * guest so with a TRANSPORT_RESET event: Linux resets every vsock socket (its programs see
   * ECONNRESET, as after a peer's RST) and reads the CID again, so a clone given another CID
   * is known by it from then on.
   */
  saveState(): DeviceState {
    return { guestCid: this.guestCid };
  }

  /** Bound: a guest CID (3..0xfffffffe). */
  loadState(r: StateReader): void {
    r.int("guestCid", 3, 0xffff_fffe);
    this.resetDue = true;
  }

  /** Puts a due TRANSPORT_RESET event into the guest's first event buffer. */
  private transportReset(): void {
    const ctx = this.ctx;
    const q = this.queues[EVENTQ];
    if (!this.resetDue || !ctx || !q) return;
    const chain = q.pop();
    if (!chain) return; // the guest's next event buffer brings it
    if (chain.writableBytes < 4)
      throw new Error(`event buffer ${chain.head} holds less than 4 bytes`);
    scatter(ctx.mem, chain.writable, 0, Uint8Array.of(EVENT_TRANSPORT_RESET, 0, 0, 0));
    q.push(chain.head, 4);
    this.resetDue = false;
    ctx.used(EVENTQ);
  }

  reset(): void {
    this.resetDue = false;
    this.ctx = undefined;
    this.queues = [];
    this.control.length = 0;
    // The guest forgot every connection: so does the host side.
    for (const c of [...this.conns.values()]) this.drop(c, false, true);
  }

  notify(q: number): void {
    if (q === TXQ) this.fromGuest();
    else if (q === RXQ) this.toGuest();
    else if (q === EVENTQ) this.transportReset();
  }

  // --- the host side calls these ---

  /** The host accepted a guest's connection. */
  accept(key: VsockKey): void {
    const c = this.live(key);
    if (!c || c.state !== "connecting-in") return;
    c.state = "open";
    this.sendControl(c, OP_RESPONSE);
  }

  /** The host refused a guest's connection (nothing listens on that port). */
  refuse(key: VsockKey): void {
    const c = this.live(key);
    if (c) this.drop(c, true);
  }

  /** The backend holds nothing more for `key` (see VsockBackend): it stops counting. */
  released(key: VsockKey): void {
    const c = this.live(key);
    if (c) c.hostOpen = false;
    else if (this.hostHeld > 0) this.hostHeld--;
  }

  /**
   * A host process connects to guest port `guestPort`; resolves through established() or
   * closed(). Returns the key, or null when the VM has too many connections or no driver.
   */
  hostConnect(guestPort: number): VsockKey | null {
    if (!this.ctx || this.held >= MAX_CONNECTIONS) return null;
    const key = { guestPort, hostPort: this.nextHostPort++ };
    if (this.nextHostPort > 0xffff_fff0) this.nextHostPort = 1 << 30;
    const c = this.newConn(key, "connecting-out");
    this.sendControl(c, OP_REQUEST);
    return key;
  }

  /**
   * Host data for the guest. Returns false when the host side should pause until `resume`
   * runs (HOST_PENDING bytes are waiting for the guest's credit).
   */
  send(key: VsockKey, bytes: Uint8Array, resume: () => void): boolean {
    const c = this.live(key);
    if (!c || c.hostDone) return true;
    for (let o = 0; o < bytes.length; o += MAX_PAYLOAD) {
      const part = bytes.subarray(o, o + MAX_PAYLOAD);
      c.pending.push(part);
      c.pendingBytes += part.length;
    }
    this.toGuest();
    if (c.pendingBytes < HOST_PENDING) return true;
    c.resume = resume;
    return false;
  }

  /** `n` bytes of guest data left the host buffer: credit for the guest. */
  consumed(key: VsockKey, n: number): void {
    const c = this.live(key);
    if (!c) return;
    c.fwdCnt += n;
    if (c.fwdCnt - c.lastFwdSent >= BUF_ALLOC / 4) this.sendControl(c, OP_CREDIT_UPDATE);
  }

  /** The host end closed: after what is pending, the guest gets SHUTDOWN; RST if `reset`. */
  hostClose(key: VsockKey, reset = false): void {
    const c = this.live(key);
    if (!c) return;
    if (reset || c.state === "connecting-in" || c.state === "connecting-out") {
      this.drop(c, true);
      return;
    }
    c.hostDone = true;
    this.toGuest();
  }

  // --- internals ---

  /** The connection `key` (the object the backend was given) names, if it still exists. */
  private live(key: VsockKey): Conn | undefined {
    const c = this.conns.get(keyOf(key));
    return c?.key === key ? c : undefined;
  }

  private newConn(key: VsockKey, state: Conn["state"]): Conn {
    const c: Conn = {
      key,
      state,
      peerBufAlloc: 0,
      peerFwdCnt: 0,
      txCnt: 0,
      rxCnt: 0,
      fwdCnt: 0,
      lastFwdSent: 0,
      pending: [],
      pendingBytes: 0,
      resume: undefined,
      hostDone: false,
      hostOpen: true,
    };
    this.conns.set(keyOf(key), c);
    return c;
  }

  /** Forgets a connection; tells the guest (RST) and/or the host side. */
  private drop(c: Conn, tellGuest: boolean, tellHost = false): void {
    this.conns.delete(keyOf(c.key));
    // Its host socket still counts until the backend releases it.
    if (c.hostOpen) this.hostHeld++;
    if (tellGuest) this.sendControl(c, OP_RST);
    if (tellHost) this.backend.closed(c.key, true);
  }

  /** A packet header from the host; a connection's carries its credit (fwd_cnt). */
  private header(to: Conn | VsockKey, op: number, len: number, flags = 0): Uint8Array {
    const c = "key" in to ? to : undefined;
    const k = c ? c.key : (to as VsockKey);
    const h = new Uint8Array(HDR);
    const v = new DataView(h.buffer);
    v.setBigUint64(0, BigInt(HOST_CID), true);
    v.setBigUint64(8, BigInt(this.guestCid), true);
    v.setUint32(16, k.hostPort, true);
    v.setUint32(20, k.guestPort, true);
    v.setUint32(24, len, true);
    v.setUint16(28, TYPE_STREAM, true);
    v.setUint16(30, op, true);
    v.setUint32(32, flags, true);
    v.setUint32(36, BUF_ALLOC, true);
    v.setUint32(40, (c?.fwdCnt ?? 0) >>> 0, true);
    if (c) c.lastFwdSent = c.fwdCnt;
    return h;
  }

  private sendControl(c: Conn | VsockKey, op: number, flags = 0): void {
    if (this.control.length >= MAX_CONTROL) return; // a guest that never offers buffers
    this.control.push(this.header(c, op, 0, flags));
    this.toGuest();
  }

  /** Packets from the guest (transmit queue). */
  private fromGuest(): void {
    const ctx = this.ctx;
    const q = this.queues[TXQ];
    if (!ctx || !q) return;
    let any = false;
    for (let chain = q.pop(); chain; chain = q.pop()) {
      if (chain.writableBytes > 0)
        throw new Error(`transmit chain ${chain.head} has writable buffers`);
      this.packet(ctx, chain);
      q.push(chain.head, 0);
      any = true;
    }
    if (any) ctx.used(TXQ);
  }

  private packet(ctx: VirtioContext, chain: DescriptorChain): void {
    if (chain.readableBytes < HDR) {
      this.rejected++;
      return;
    }
    const h = gather(ctx.mem, chain.readable, 0, HDR);
    const v = new DataView(h.buffer);
    const src = v.getBigUint64(0, true);
    const dst = v.getBigUint64(8, true);
    const key = { guestPort: v.getUint32(16, true), hostPort: v.getUint32(20, true) };
    const len = v.getUint32(24, true);
    const type = v.getUint16(28, true);
    const op = v.getUint16(30, true);
    const bufAlloc = v.getUint32(36, true);
    const fwdCnt = v.getUint32(40, true);
    if (src !== BigInt(this.guestCid) || dst !== BigInt(HOST_CID) || type !== TYPE_STREAM) {
      this.rejected++;
      // A stream packet for the host from another source gets nothing; wrong type: RST.
      if (src === BigInt(this.guestCid) && op !== OP_RST) this.sendControl(key, OP_RST);
      return;
    }
    if (len > chain.readableBytes - HDR || len > MAX_PAYLOAD) {
      this.rejected++;
      const c = this.conns.get(keyOf(key));
      if (c) this.drop(c, true, true);
      return;
    }
    let c = this.conns.get(keyOf(key));
    if (c) {
      c.peerBufAlloc = bufAlloc;
      c.peerFwdCnt = fwdCnt;
    }
    switch (op) {
      case OP_REQUEST: {
        if (c || this.held >= MAX_CONNECTIONS) {
          this.rejected += c ? 1 : 0;
          this.sendControl(key, OP_RST);
          return;
        }
        c = this.newConn(key, "connecting-in");
        c.peerBufAlloc = bufAlloc;
        c.peerFwdCnt = fwdCnt;
        this.backend.connect(c.key);
        return;
      }
      case OP_RESPONSE:
        if (!c || c.state !== "connecting-out") {
          if (c) this.drop(c, true, true);
          else this.sendControl(key, OP_RST);
          return;
        }
        c.state = "open";
        this.backend.established(c.key);
        this.toGuest();
        return;
      case OP_RW: {
        // "closing": one side has shut down; the other may still send.
        if (!c || (c.state !== "open" && c.state !== "closing")) {
          if (!c) this.sendControl(key, OP_RST);
          return;
        }
        // Credit: the guest may have at most BUF_ALLOC bytes the host has not consumed.
        if (c.rxCnt + len - c.fwdCnt > BUF_ALLOC) {
          this.rejected++;
          this.drop(c, true, true);
          return;
        }
        c.rxCnt += len;
        if (len > 0) this.backend.data(c.key, gather(ctx.mem, chain.readable, HDR, len));
        return;
      }
      case OP_CREDIT_UPDATE:
        this.toGuest();
        return;
      case OP_CREDIT_REQUEST:
        if (c) this.sendControl(c, OP_CREDIT_UPDATE);
        return;
      case OP_SHUTDOWN:
        if (!c) return;
        // Linux sends SHUTDOWN, then waits for our RST to finish the close. Before the
        // connection is made there is nothing to half-close: it is dropped.
        if (
          (v.getUint32(32, true) & SHUTDOWN_BOTH) === SHUTDOWN_BOTH ||
          c.hostDone ||
          (c.state !== "open" && c.state !== "closing")
        ) {
          this.drop(c, true, true);
        } else {
          c.state = "closing";
          this.backend.closed(c.key, false);
        }
        return;
      case OP_RST:
        if (c) this.drop(c, false, true);
        return;
      default:
        this.rejected++;
        if (c) this.drop(c, true, true);
        else this.sendControl(key, OP_RST);
    }
  }

  /** Fills the guest's receive buffers: control packets first, then data within credit. */
  private toGuest(): void {
    const ctx = this.ctx;
    const q = this.queues[RXQ];
    if (!ctx || !q) return;
    let any = false;
    try {
      while (q.hasAvailable()) {
        const next = this.nextPacket();
        if (!next) break;
        const chain = q.pop()!;
        if (chain.readableBytes > 0)
          throw new Error(`receive chain ${chain.head} has device-readable buffers`);
        if (chain.writableBytes < HDR)
          throw new Error(`receive chain ${chain.head} holds no header`);
        const bytes = next(chain.writableBytes - HDR);
        scatter(ctx.mem, chain.writable, 0, bytes);
        q.push(chain.head, bytes.length);
        any = true;
      }
    } catch (e) {
      ctx.fail((e as Error).message);
      return;
    }
    if (any) ctx.used(RXQ);
  }

  /** The next packet for the guest, built once the buffer room is known; null if none. */
  private nextPacket(): ((room: number) => Uint8Array) | null {
    const ctl = this.control.shift();
    if (ctl) return () => ctl;
    for (const c of this.conns.values()) {
      if (c.state !== "open" && c.state !== "closing") continue;
      const credit = c.peerBufAlloc - ((c.txCnt - c.peerFwdCnt) >>> 0);
      if (c.pendingBytes > 0 && credit > 0) {
        return (room) => {
          const first = c.pending[0]!;
          const n = Math.min(first.length, credit, room);
          const out = new Uint8Array(HDR + n);
          out.set(this.header(c, OP_RW, n), 0);
          out.set(first.subarray(0, n), HDR);
          if (n === first.length) c.pending.shift();
          else c.pending[0] = first.subarray(n);
          c.pendingBytes -= n;
          c.txCnt = (c.txCnt + n) >>> 0;
          if (c.resume && c.pendingBytes < HOST_PENDING / 2) {
            const r = c.resume;
            c.resume = undefined;
            queueMicrotask(r);
          }
          return out;
        };
      }
      if (c.hostDone && c.pendingBytes === 0) {
        c.hostDone = false;
        c.state = "closing";
        // The host will send no more; it still reads what the guest sends.
        return () => this.header(c, OP_SHUTDOWN, 0, SHUTDOWN_SEND);
      }
    }
    return null;
  }
}
