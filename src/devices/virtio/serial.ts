// virtio-console with VIRTIO_CONSOLE_F_MULTIPORT (virtio 1.2, 5.3.6.2): named ports, the guest
// sees /dev/vport<dev>p<N> and udev's /dev/virtio-ports/<name>. Port 0 (the console port) is not
// used: ports are 1..n, as QEMU's virtserialport numbers them. The guest and device talk over
// the control queues (8-byte messages); each port has its own receive and transmit queue.
// The model owns no I/O: each port's host side is an object the VMM gives.
import { gather, scatter, type SplitQueue } from "./queue.js";
import { DeviceId, readConfigBytes, type VirtioContext, type VirtioDevice } from "./device.js";
import { InputQueue } from "../input-queue.js";
import { DeviceStateError, bytes, type DeviceState, type StateReader } from "../device-state.js";

export const VIRTIO_CONSOLE_F_MULTIPORT = 1n << 1n;

/** Control events (5.3.6.2). */
export const enum ControlEvent {
  DeviceReady = 0,
  DeviceAdd = 1,
  DeviceRemove = 2,
  PortReady = 3,
  ConsolePort = 4,
  Resize = 5,
  PortOpen = 6,
  PortName = 7,
}

const CONTROL_RX = 2;
const CONTROL_TX = 3;
const QUEUE_SIZE = 64;
/** Bound: bytes of one transmit chain (Linux sends at most a page at a time). */
const MAX_CHAIN = 64 * 1024;
/** Bound: control messages waiting for guest buffers (a port has at most 3 in flight). */
const MAX_PENDING_CONTROL = 64;
/** Bound: ports on one device; names are at most this many bytes. */
export const MAX_PORTS = 8;
export const MAX_PORT_NAME = 64;

/** The host side of one port. */
export interface SerialPortHost {
  /** Bytes the guest wrote to the port. */
  data(bytes: Uint8Array): void;
  /** A guest program opened (true) or closed (false) the port; also false at device reset. */
  guestOpen(open: boolean): void;
}

interface Port {
  readonly id: number;
  readonly name: string;
  readonly host: SerialPortHost;
  readonly input: InputQueue;
  ready: boolean;
  guestOpen: boolean;
  resume: (() => void) | undefined;
}

export class VirtioSerial implements VirtioDevice {
  readonly deviceId = DeviceId.Console;
  readonly features = VIRTIO_CONSOLE_F_MULTIPORT;
  readonly queueMaxSizes: number[];
  readonly maxChainBytes = MAX_CHAIN;
  /** Guest control messages ignored: unknown events, ids of no port, short messages. */
  controlRejected = 0;
  private readonly ports: Port[];
  private readonly config = new Uint8Array(12);
  private ctx: VirtioContext | undefined;
  private queues: readonly (SplitQueue | undefined)[] = [];
  private readonly controlOut: Uint8Array[] = [];

  /** Ports 1..n in order. Bound: MAX_PORTS ports, names of 1..MAX_PORT_NAME printable bytes. */
  constructor(
    readonly name: string,
    ports: { name: string; host: SerialPortHost }[],
  ) {
    if (ports.length < 1 || ports.length > MAX_PORTS)
      throw new RangeError(`virtio-serial: 1..${MAX_PORTS} ports, not ${ports.length}`);
    this.ports = ports.map((p, i) => {
      if (!/^[\x21-\x7e]{1,64}$/.test(p.name))
        throw new RangeError(`virtio-serial: bad port name '${p.name}'`);
      return {
        id: i + 1,
        name: p.name,
        host: p.host,
        input: new InputQueue(),
        ready: false,
        guestOpen: false,
        resume: undefined,
      };
    });
    const maxNrPorts = ports.length + 1;
    new DataView(this.config.buffer).setUint32(4, maxNrPorts, true);
    // rx/tx of port 0, the control pair, then rx/tx of each port.
    this.queueMaxSizes = Array.from({ length: 2 * maxNrPorts + 2 }, () => QUEUE_SIZE);
  }

  configRead(offset: number, size: number): bigint {
    return readConfigBytes(this.config, offset, size);
  }

  configWrite(): void {
    // emerg_wr (early console writes) is not offered (no EMERG_WRITE).
  }

  activate(ctx: VirtioContext, queues: readonly (SplitQueue | undefined)[]): void {
    this.ctx = ctx;
    this.queues = queues;
  }

  reset(): void {
    this.ctx = undefined;
    this.queues = [];
    this.controlOut.length = 0;
    for (const p of this.ports) {
      p.ready = false;
      if (p.guestOpen) {
        p.guestOpen = false;
        p.host.guestOpen(false);
      }
    }
  }

  notify(q: number): void {
    if (q === CONTROL_TX) this.controlIn();
    else if (q === CONTROL_RX) this.flushControl();
    else if (q >= 4) {
      const port = this.ports[(q >> 1) - 2];
      if (!port) return;
      if (q & 1) this.transmit(port, q);
      else this.deliver(port);
    }
  }

  /**
   * Each port's name (checked against this device's on restore), whether the guest driver
   * made it ready and whether a guest program has it open, and the control messages the guest
   * has yet to take. Host input queued for a port is the host's and is not saved.
   */
  saveState(): DeviceState {
    return {
      ports: this.ports.map((p) => ({ name: p.name, ready: p.ready, guestOpen: p.guestOpen })),
      controlOut: this.controlOut.map((m) => bytes(m)),
    };
  }

  /**
   * Bounds: this device's ports, by name and in order; at most MAX_PENDING_CONTROL messages of
   * 8..8+MAX_PORT_NAME bytes. Each port the guest has open is reported open to its host side.
   */
  loadState(r: StateReader): void {
    const list = r.list("ports", this.ports.length);
    if (list.length !== this.ports.length)
      throw new DeviceStateError(`${r.where}: ports is not ${this.ports.length} ports`);
    const ports = this.ports.map((p, i) => {
      const o = list.obj(i);
      if (o.str("name", MAX_PORT_NAME) !== p.name)
        throw new DeviceStateError(`${o.where}: name is not '${p.name}'`);
      return { ready: o.bool("ready"), guestOpen: o.bool("guestOpen") };
    });
    const msgs = r.list("controlOut", MAX_PENDING_CONTROL);
    const controlOut: Uint8Array[] = [];
    for (let i = 0; i < msgs.length; i++) {
      const m = msgs.bytesAt(i, 8 + MAX_PORT_NAME);
      if (m.length < 8) throw new DeviceStateError(`${msgs.where}[${i}]: shorter than 8 bytes`);
      controlOut.push(m);
    }
    this.controlOut.splice(0, this.controlOut.length, ...controlOut);
    this.ports.forEach((p, i) => {
      p.ready = ports[i]!.ready;
      p.guestOpen = ports[i]!.guestOpen;
      if (p.guestOpen) p.host.guestOpen(true);
    });
  }

  /** Is a guest program holding port `index` (0-based, in constructor order) open? */
  isOpen(index: number): boolean {
    return this.ports[index]?.guestOpen === true;
  }

  /**
   * Host bytes for port `index`. Returns false when the producer should pause until `resume`
   * runs (64 KiB queued at most). Dropped while no guest program has the port open: the guest
   * driver would discard them, and nothing is kept for a reader that is not there.
   */
  send(index: number, data: Uint8Array, resume: () => void): boolean {
    const port = this.ports[index];
    if (!port || !port.guestOpen) return true;
    const more = port.input.push(data);
    if (!more) port.resume = resume;
    this.deliver(port);
    return more;
  }

  private rxQueue(port: Port): number {
    return 2 * port.id + 2;
  }

  private queueControl(id: number, event: ControlEvent, value: number, extra?: Uint8Array): void {
    if (this.controlOut.length >= MAX_PENDING_CONTROL) return;
    const m = new Uint8Array(8 + (extra?.length ?? 0));
    const v = new DataView(m.buffer);
    v.setUint32(0, id, true);
    v.setUint16(4, event, true);
    v.setUint16(6, value, true);
    if (extra) m.set(extra, 8);
    this.controlOut.push(m);
    this.flushControl();
  }

  /** Control messages from the guest. Bound: each is read from one chain of at most 64 KiB. */
  private controlIn(): void {
    const ctx = this.ctx;
    const q = this.queues[CONTROL_TX];
    if (!ctx || !q) return;
    for (let chain = q.pop(); chain; chain = q.pop()) {
      if (chain.writableBytes > 0) {
        ctx.fail(`control chain ${chain.head} has writable buffers`);
        return;
      }
      const msg = gather(ctx.mem, chain.readable, 0, Math.min(chain.readableBytes, 8));
      q.push(chain.head, 0);
      if (msg.length < 8) {
        this.controlRejected++;
        continue;
      }
      const v = new DataView(msg.buffer, msg.byteOffset, 8);
      this.control(v.getUint32(0, true), v.getUint16(4, true), v.getUint16(6, true));
    }
    ctx.used(CONTROL_TX);
  }

  private control(id: number, event: number, value: number): void {
    if (event === ControlEvent.DeviceReady) {
      if (value !== 1) return;
      for (const p of this.ports) this.queueControl(p.id, ControlEvent.DeviceAdd, 0);
      return;
    }
    const port = this.ports[id - 1];
    if (!port) {
      this.controlRejected++;
      return;
    }
    switch (event) {
      case ControlEvent.PortReady:
        if (value !== 1 || port.ready) return;
        port.ready = true;
        this.queueControl(port.id, ControlEvent.PortName, 0, new TextEncoder().encode(port.name));
        // The host side is always there: the guest may read and write at once.
        this.queueControl(port.id, ControlEvent.PortOpen, 1);
        return;
      case ControlEvent.PortOpen: {
        const open = value === 1;
        if (open === port.guestOpen) return;
        port.guestOpen = open;
        if (!open) port.input.take(port.input.size);
        port.host.guestOpen(open);
        if (open) this.deliver(port);
        return;
      }
      default:
        this.controlRejected++;
    }
  }

  private flushControl(): void {
    const ctx = this.ctx;
    const q = this.queues[CONTROL_RX];
    if (!ctx || !q) return;
    let delivered = false;
    while (this.controlOut.length > 0 && q.hasAvailable()) {
      const chain = q.pop()!;
      const m = this.controlOut[0]!;
      if (chain.readableBytes > 0 || chain.writableBytes < m.length) {
        ctx.fail(`control receive chain ${chain.head} cannot take a ${m.length}-byte message`);
        return;
      }
      this.controlOut.shift();
      scatter(ctx.mem, chain.writable, 0, m);
      q.push(chain.head, m.length);
      delivered = true;
    }
    if (delivered) ctx.used(CONTROL_RX);
  }

  private transmit(port: Port, qi: number): void {
    const ctx = this.ctx;
    const q = this.queues[qi];
    if (!ctx || !q) return;
    for (let chain = q.pop(); chain; chain = q.pop()) {
      if (chain.writableBytes > 0) {
        ctx.fail(`port ${port.id} transmit chain ${chain.head} has writable buffers`);
        return;
      }
      const bytes = gather(ctx.mem, chain.readable, 0, chain.readableBytes);
      q.push(chain.head, 0);
      port.host.data(bytes);
    }
    ctx.used(qi);
  }

  private deliver(port: Port): void {
    const ctx = this.ctx;
    const qi = this.rxQueue(port);
    const q = this.queues[qi];
    if (!ctx || !q) return;
    let delivered = false;
    while (port.input.size > 0 && q.hasAvailable()) {
      const chain = q.pop()!;
      if (chain.readableBytes > 0) {
        ctx.fail(`port ${port.id} receive chain ${chain.head} has readable buffers`);
        return;
      }
      const bytes = port.input.take(chain.writableBytes);
      scatter(ctx.mem, chain.writable, 0, bytes);
      q.push(chain.head, bytes.length);
      delivered = true;
    }
    if (delivered) ctx.used(qi);
    if (port.resume && port.input.size < 16 * 1024) {
      const r = port.resume;
      port.resume = undefined;
      r();
    }
  }
}
