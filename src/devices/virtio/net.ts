// virtio-net (virtio 1.2, section 5.1): one receive and one transmit queue, the 12-byte
// virtio-net header in front of every frame, checksum and TSO offloads passed through to the
// host end as the driver negotiates them, mergeable receive buffers. The host end is a
// NetBackend the VMM gives (a TAP device); the model owns no I/O.
//
// Guest frames are hostile: a frame whose source MAC is not the NIC's own is dropped and
// counted (anti-spoofing), as is one shorter than an Ethernet header. The host kernel checks
// the vnet header itself when the frame is written to the TAP device.
import { gather, scatter, type DescriptorChain, type SplitQueue } from "./queue.js";
import { DeviceId, readConfigBytes, type VirtioContext, type VirtioDevice } from "./device.js";
import type { TokenBucket } from "../rate-limiter.js";
import type { DeviceState, StateReader } from "../device-state.js";

/** The host end of a NIC (a TAP device with IFF_VNET_HDR, as the VMM opened it). */
export interface NetBackend {
  /** Copies one waiting frame (vnet header first) into `buf`; its length, or -1 when none. */
  receive(buf: Uint8Array): number;
  /** Calls `ready` once, when receive() may find a frame again. */
  whenReadable(ready: () => void): void;
  /** Sends one frame, vnet header first; false when the host dropped it. */
  send(frame: Uint8Array): boolean;
  /** The offloads the guest driver accepts on receive (TUN_F_* bits). */
  setOffload(flags: number): void;
}

/** A NIC's rate limits, per direction: bytes per second and frames per second. */
export interface NetLimits {
  rxBytes?: TokenBucket | undefined;
  rxOps?: TokenBucket | undefined;
  txBytes?: TokenBucket | undefined;
  txOps?: TokenBucket | undefined;
}

export interface NetCounters {
  rxFrames: number;
  rxBytes: number;
  /** Host frames dropped: no guest buffer could ever hold them. */
  rxDropped: number;
  txFrames: number;
  txBytes: number;
  /** Guest frames dropped for a source MAC that is not the NIC's. */
  txSpoofed: number;
  /** Guest frames dropped as malformed or refused by the host. */
  txErrors: number;
}

export const VNET_HDR_BYTES = 12;
const ETH_HDR = 14;
/** Bound: the largest frame either way (a 64 KiB GSO packet with Ethernet and VLAN headers). */
export const MAX_FRAME = 65536 + ETH_HDR + 4;
const QUEUE_SIZE = 256;
const RXQ = 0;
const TXQ = 1;
/** Bound: a limited queue re-checks its buckets at least this often while it waits. */
const LIMIT_POLL_MS = 100;

const F_CSUM = 0n;
const F_GUEST_CSUM = 1n;
const F_MAC = 5n;
const F_GUEST_TSO4 = 7n;
const F_GUEST_TSO6 = 8n;
const F_GUEST_ECN = 9n;
const F_HOST_TSO4 = 11n;
const F_HOST_TSO6 = 12n;
const F_HOST_ECN = 13n;
const F_MRG_RXBUF = 15n;
const F_STATUS = 16n;

const TUN_F_CSUM = 1;
const TUN_F_TSO4 = 2;
const TUN_F_TSO6 = 4;
const TUN_F_TSO_ECN = 8;

/** Parses "52:54:00:12:34:56". Bound: six hex bytes, unicast (the low bit of the first clear). */
export function parseMac(text: string): Uint8Array {
  const m = /^([0-9a-f]{2})(?::([0-9a-f]{2})){5}$/i.exec(text);
  if (!m) throw new RangeError(`'${text}' is not a MAC address (six hex bytes, a:b:c:d:e:f)`);
  const mac = new Uint8Array(text.split(":").map((h) => parseInt(h, 16)));
  if (mac[0]! & 1)
    throw new RangeError(`${text} is a multicast address; a NIC needs a unicast one`);
  return mac;
}

export function formatMac(mac: Uint8Array): string {
  return [...mac].map((b) => b.toString(16).padStart(2, "0")).join(":");
}

export class VirtioNet implements VirtioDevice {
  readonly deviceId = DeviceId.Net;
  readonly features =
    (1n << F_CSUM) |
    (1n << F_GUEST_CSUM) |
    (1n << F_MAC) |
    (1n << F_GUEST_TSO4) |
    (1n << F_GUEST_TSO6) |
    (1n << F_GUEST_ECN) |
    (1n << F_HOST_TSO4) |
    (1n << F_HOST_TSO6) |
    (1n << F_HOST_ECN) |
    (1n << F_MRG_RXBUF) |
    (1n << F_STATUS);
  readonly queueMaxSizes = [QUEUE_SIZE, QUEUE_SIZE];
  /** Bound: a transmit chain holds a header and one frame; receive chains are ours to fill. */
  readonly maxChainBytes = VNET_HDR_BYTES + MAX_FRAME;
  readonly counters: NetCounters = {
    rxFrames: 0,
    rxBytes: 0,
    rxDropped: 0,
    txFrames: 0,
    txBytes: 0,
    txSpoofed: 0,
    txErrors: 0,
  };
  private readonly config = new Uint8Array(8);
  private ownMac: Uint8Array;
  private ctx: VirtioContext | undefined;
  private queues: readonly (SplitQueue | undefined)[] = [];
  private mergeable = false;
  private generation = 0;
  /** Receive chains taken from the ring and not yet filled (mergeable buffers). */
  private rxChains: DescriptorChain[] = [];
  private rxRoom = 0;
  /** A host frame read from the backend and waiting for guest buffers (or the rate). */
  private readonly rxBuf = new Uint8Array(VNET_HDR_BYTES + MAX_FRAME);
  private rxLen = 0;
  private rxWaiting = false;
  private rxTimer: ReturnType<typeof setTimeout> | undefined;
  private txTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly name: string,
    mac: Uint8Array,
    private readonly backend: NetBackend,
    private limits: NetLimits = {},
    /**
     * A clone's NIC: a restore keeps the MAC it was made with (the clone's own) instead of the
     * snapshot's, and the guest reads it when its driver probes the device again.
     */
    private readonly clone = false,
  ) {
    if (mac.length !== 6) throw new RangeError("a MAC address has 6 bytes");
    this.ownMac = mac;
    this.config.set(mac, 0);
    this.config[6] = 1; // status: VIRTIO_NET_S_LINK_UP
  }

  /** The MAC in config space: the only source address the guest's frames may have. */
  get mac(): Uint8Array {
    return this.ownMac;
  }

  /** Replaces the rate limits (at start or while the VM runs). */
  setLimits(limits: NetLimits): void {
    this.limits = limits;
    this.kick();
  }

  configRead(offset: number, size: number): bigint {
    return readConfigBytes(this.config, offset, size);
  }

  /**
   * The MAC the guest was given. Receive buffers the device holds go back to the ring
   * (heldChains); a frame read from the host and not yet delivered is dropped, as a real NIC
   * drops what it had in flight, and the VMM opens the TAP device again for the restored VM.
   */
  saveState(): DeviceState {
    return { mac: formatMac(this.mac) };
  }

  /**
   * Bound: a unicast MAC. A restored VM is its parent again and its guest knows the saved MAC,
   * so the device takes it; a clone's keeps its own (the guest is told to probe again).
   */
  loadState(r: StateReader): void {
    const saved = parseMac(r.str("mac", 17, /^[0-9a-f][02468ace](:[0-9a-f]{2}){5}$/));
    if (this.clone) return;
    this.ownMac = saved;
    this.config.set(saved, 0);
  }

  heldChains(q: number): number {
    return q === RXQ ? this.rxChains.length : 0;
  }

  configWrite(): void {
    // The MAC is the host's to set (VIRTIO_NET_F_CTRL_MAC_ADDR is not offered).
  }

  activate(
    ctx: VirtioContext,
    queues: readonly (SplitQueue | undefined)[],
    features: bigint,
  ): void {
    this.ctx = ctx;
    this.queues = queues;
    this.mergeable = (features & (1n << F_MRG_RXBUF)) !== 0n;
    const has = (f: bigint) => (features & (1n << f)) !== 0n;
    let offload = 0;
    if (has(F_GUEST_CSUM)) {
      offload |= TUN_F_CSUM;
      if (has(F_GUEST_TSO4)) offload |= TUN_F_TSO4;
      if (has(F_GUEST_TSO6)) offload |= TUN_F_TSO6;
      if (has(F_GUEST_ECN) && (offload & (TUN_F_TSO4 | TUN_F_TSO6)) !== 0) offload |= TUN_F_TSO_ECN;
    }
    this.backend.setOffload(offload);
    this.kick();
  }

  reset(): void {
    this.generation++;
    this.ctx = undefined;
    this.queues = [];
    this.rxChains = [];
    this.rxRoom = 0;
    clearTimeout(this.rxTimer);
    clearTimeout(this.txTimer);
    this.rxTimer = this.txTimer = undefined;
    // A frame already read from the host is kept for the next driver; TSO frames may not fit
    // its buffers then, and are dropped at delivery.
    this.backend.setOffload(0);
  }

  notify(q: number): void {
    if (q === TXQ) this.transmit();
    else if (q === RXQ) this.receive();
  }

  private kick(): void {
    this.transmit();
    this.receive();
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      // Also reached from host events, outside the transport's guard.
      this.ctx?.fail((e as Error).message);
    }
  }

  /** Whether direction `d` is over its rate; if so, it comes back when the buckets allow. */
  private overRate(d: "rx" | "tx"): boolean {
    const wait = Math.max(
      this.limits[`${d}Bytes`]?.msUntilPaid() ?? 0,
      this.limits[`${d}Ops`]?.msUntilPaid() ?? 0,
    );
    if (wait <= 0) return false;
    const gen = this.generation;
    const timer = d === "rx" ? "rxTimer" : "txTimer";
    this[timer] = setTimeout(
      () => {
        this[timer] = undefined;
        if (gen === this.generation) {
          if (d === "rx") this.receive();
          else this.transmit();
        }
      },
      Math.min(wait, LIMIT_POLL_MS),
    );
    return true;
  }

  /** Guest to host: every transmit chain is one frame behind its vnet header. */
  private transmit(): void {
    const ctx = this.ctx;
    const q = this.queues[TXQ];
    if (!ctx || !q || this.txTimer) return;
    this.guard(() => {
      let sent = false;
      while (q.hasAvailable()) {
        if (this.overRate("tx")) break;
        const chain = q.pop()!;
        if (chain.writableBytes > 0)
          throw new Error(`transmit chain ${chain.head} has writable buffers`);
        this.sendFrame(gather(ctx.mem, chain.readable, 0, chain.readableBytes));
        q.push(chain.head, 0);
        sent = true;
      }
      if (sent) ctx.used(TXQ);
    });
  }

  private sendFrame(packet: Uint8Array): void {
    const c = this.counters;
    const frameLen = packet.length - VNET_HDR_BYTES;
    if (frameLen < ETH_HDR) {
      c.txErrors++;
      return;
    }
    this.limits.txOps?.consume(1);
    this.limits.txBytes?.consume(frameLen);
    const src = packet.subarray(VNET_HDR_BYTES + 6, VNET_HDR_BYTES + 12);
    for (let i = 0; i < 6; i++) {
      if (src[i] !== this.mac[i]) {
        c.txSpoofed++;
        return;
      }
    }
    packet[10] = packet[11] = 0; // num_buffers means nothing on transmit
    if (!this.backend.send(packet)) {
      c.txErrors++;
      return;
    }
    c.txFrames++;
    c.txBytes += frameLen;
  }

  /** Host to guest: frames from the backend into the guest's receive buffers, one at a time. */
  private receive(): void {
    const ctx = this.ctx;
    const q = this.queues[RXQ];
    if (!ctx || !q || this.rxTimer) return;
    this.guard(() => {
      let delivered = false;
      for (;;) {
        if (this.rxLen === 0) {
          const n = this.backend.receive(this.rxBuf);
          if (n < 0) {
            if (!this.rxWaiting) {
              // One wait at a time, across resets too: the driver that comes after a reset
              // (a re-probe) is served by the wait its predecessor set up.
              this.rxWaiting = true;
              this.backend.whenReadable(() => {
                this.rxWaiting = false;
                this.receive();
              });
            }
            break;
          }
          if (n <= VNET_HDR_BYTES) continue; // nothing behind the header: not a frame
          this.rxLen = n;
        }
        if (this.overRate("rx")) break;
        const r = this.deliver(q);
        if (r === "wait") break; // the driver's next rx notify brings buffers
        if (r === "ok") delivered = true;
        this.rxLen = 0;
      }
      if (delivered) ctx.used(RXQ);
    });
  }

  /**
   * Puts the frame in rxBuf into receive buffers. Bound: without mergeable buffers, one chain
   * per frame (too small a chain: the frame is dropped); with them, at most a queue's worth of
   * chains (a frame that does not fit in all of them is dropped).
   */
  private deliver(q: SplitQueue): "ok" | "wait" | "dropped" {
    const mem = this.ctx!.mem;
    const len = this.rxLen;
    const want = this.mergeable ? len : 1;
    while ((this.mergeable ? this.rxRoom < want : this.rxChains.length < 1) && q.hasAvailable()) {
      const chain = q.pop()!;
      if (chain.readableBytes > 0)
        throw new Error(`receive chain ${chain.head} has device-readable buffers`);
      this.rxChains.push(chain);
      this.rxRoom += chain.writableBytes;
      if (this.rxChains.length >= q.size) break;
    }
    const c = this.counters;
    if (!this.mergeable) {
      const chain = this.rxChains[0];
      if (!chain) return "wait";
      if (chain.writableBytes < len) {
        c.rxDropped++;
        return "dropped"; // the chain stays for the next frame
      }
      this.rxChains.shift();
      this.rxRoom -= chain.writableBytes;
      this.rxBuf[10] = 1;
      this.rxBuf[11] = 0;
      scatter(mem, chain.writable, 0, this.rxBuf.subarray(0, len));
      q.push(chain.head, len);
    } else {
      if (this.rxRoom < len) {
        if (this.rxChains.length < q.size) return "wait";
        c.rxDropped++;
        return "dropped";
      }
      let used = 0;
      let room = 0;
      while (room < len) room += this.rxChains[used++]!.writableBytes;
      this.rxBuf[10] = used & 0xff;
      this.rxBuf[11] = used >> 8;
      let off = 0;
      for (const chain of this.rxChains.splice(0, used)) {
        const n = Math.min(chain.writableBytes, len - off);
        scatter(mem, chain.writable, 0, this.rxBuf.subarray(off, off + n));
        q.push(chain.head, n);
        this.rxRoom -= chain.writableBytes;
        off += n;
      }
    }
    c.rxFrames++;
    c.rxBytes += len - VNET_HDR_BYTES;
    this.limits.rxOps?.consume(1);
    this.limits.rxBytes?.consume(len - VNET_HDR_BYTES);
    return "ok";
  }
}
