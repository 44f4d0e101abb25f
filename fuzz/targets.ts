// Every parser that takes guest bytes, as a fuzz target: the virtio devices through their
// transport (virtio-virtqueue chains, request formats, config writes, register writes), the split
// virtqueue on its own, the 16550 UART's and the RTCs' registers, and the guest agent's reply
// stream. Each target gives a fast-check generator of hostile input and runs one input on a
// fresh device.
import fc from "fast-check";
import { VirtioBlk, type BlockBackend } from "../src/devices/virtio/blk.js";
import { VirtioNet, type NetBackend } from "../src/devices/virtio/net.js";
import { VirtioConsole } from "../src/devices/virtio/console.js";
import { VirtioSerial } from "../src/devices/virtio/serial.js";
import { VirtioVsock } from "../src/devices/virtio/vsock.js";
import { VirtioBalloon } from "../src/devices/virtio/balloon.js";
import { MAX_PENDING, VirtioInput } from "../src/devices/virtio/input.js";
import { VirtioRng } from "../src/devices/virtio/rng.js";
import { SplitQueue, VirtqueueError } from "../src/devices/virtio/queue.js";
import { TokenBucket } from "../src/devices/rate-limiter.js";
import { Uart16550, UART_RX_CAPACITY } from "../src/devices/legacy/uart16550.js";
import { JsonStream, MAX_REPLY_BYTES } from "../src/agent/json-stream.js";
import { AgentClient } from "../src/agent/agent-client.js";
import { CSI_MAX, TerminalFilter, type TerminalPolicy } from "../src/vmm/terminal-filter.js";
import { GuestMemory } from "../src/memory/guest-memory.js";
import type { VirtioDevice } from "../src/devices/virtio/device.js";
import { DATA, le, placed, virtioHarness, virtioOps, type Op } from "./virtio-target.js";
import { gpuDevice, gpuRequest, gpuScenario } from "./gpu-target.js";
import { coreTarget } from "./core-target.js";
import { LateVsockHost } from "./vsock-host.js";
import { rtcTarget } from "./rtc-target.js";
import { stateTarget } from "./state-target.js";
import { hartRecordTarget, snapshotTarget } from "./snapshot-target.js";
import { qcow2Target } from "./qcow2-target.js";

export interface FuzzTarget<T = unknown> {
  name: string;
  /** What guest bytes it parses. */
  parses: string;
  input: fc.Arbitrary<T>;
  /** Runs one input on a fresh instance; throws (or rejects) when an invariant breaks. */
  run(input: T): Promise<void> | void;
}

const encoder = new TextEncoder();
const enc = (s: string): Uint8Array => encoder.encode(s);
const tick = () => new Promise<void>((r) => setImmediate(r));

/**
 * A device target: hostile driver programs, with well-formed request headers from `requests`
 * placed at the start of the data area's first pages (where descriptors often point), so the
 * fuzzer reaches past a device's first checks; and a device's own `scenario` (ops a hostile
 * guest would make of it) before the random ops.
 */
export function virtioTarget(
  name: string,
  parses: string,
  make: () => { dev: VirtioDevice; check?: () => string | undefined; settle?: boolean },
  requests: fc.Arbitrary<Uint8Array> = fc.uint8Array({ maxLength: 64 }),
  scenario: fc.Arbitrary<Op[]> = fc.constant([]),
): FuzzTarget<Op[]> {
  const probe = make().dev;
  const nq = probe.queueMaxSizes.length;
  const requestOps = fc.array(
    fc
      .tuple(fc.integer({ min: 0, max: 3 }), requests)
      .map(([page, bytes]) => placed(page * 0x1000, bytes)),
    { maxLength: 4 },
  );
  const pageDesc = fc.record({
    k: fc.constant("desc" as const),
    q: fc.integer({ min: 0, max: nq - 1 }),
    i: fc.integer({ min: 0, max: 7 }),
    addr: fc.integer({ min: 0, max: 4 }).map((p) => DATA + BigInt(p * 0x1000)),
    len: fc.constantFrom(16, 24, 44, 64, 512, 4096),
    flags: fc.constantFrom(0, 1, 2, 3),
    next: fc.integer({ min: 0, max: 7 }),
  });
  const input = fc
    .tuple(
      fc.record({
        k: fc.constant("up" as const),
        features: fc.integer({ min: 0, max: 0xffff_ffff }),
        size: fc.constantFrom(8, 16, 4),
        ok: fc.constant(true),
      }),
      requestOps,
      fc.array(pageDesc, { maxLength: 6 }),
      virtioOps(nq),
      scenario,
    )
    .map(([up, data, descs, ops, own]) => [up, ...data, ...descs, ...own, ...ops]);
  return {
    name,
    parses,
    input,
    async run(ops) {
      const { dev, check, settle } = make();
      const h = virtioHarness(dev, {
        ...(settle ? { settle: async () => (await tick(), await tick()) } : {}),
        ...(check ? { check } : {}),
      });
      try {
        await h.run(ops);
      } finally {
        dev.reset();
      }
    },
  };
}

class MemDisk implements BlockBackend {
  readonly data = new Uint8Array(64 * 1024);
  readonly sizeBytes = this.data.length;
  readonly readOnly = false;
  async read(o: number, l: number) {
    if (o < 0 || o + l > this.sizeBytes) throw new Error(`disk read outside: ${o}+${l}`);
    return this.data.slice(o, o + l);
  }
  async write(o: number, d: Uint8Array) {
    if (o < 0 || o + d.length > this.sizeBytes)
      throw new Error(`disk write outside: ${o}+${d.length}`);
    this.data.set(d, o);
  }
  async flush() {}
  async discard(o: number, l: number) {
    if (o < 0 || o + l > this.sizeBytes) throw new Error(`discard outside: ${o}+${l}`);
  }
  async writeZeroes(o: number, l: number) {
    if (o < 0 || o + l > this.sizeBytes) throw new Error(`write-zeroes outside: ${o}+${l}`);
  }
}

/** A host network that has three frames for the guest and takes what it sends. */
class FakeNet implements NetBackend {
  sent = 0;
  private inbox = 3;
  receive(buf: Uint8Array): number {
    if (this.inbox === 0) return -1; // nothing now (EAGAIN)
    this.inbox--;
    const n = Math.min(buf.length, 12 + 60);
    buf.fill(0x5a, 0, n);
    buf.fill(0, 0, 12); // a zero vnet header
    return n;
  }
  whenReadable(): void {}
  send(frame: Uint8Array): boolean {
    if (frame.length > 65550) throw new Error(`a frame of ${frame.length} bytes reached the host`);
    this.sent++;
    return true;
  }
  setOffload(): void {}
}

const blkRequest = fc
  .tuple(fc.constantFrom(0, 1, 4, 8, 11, 13, 99), fc.bigInt({ min: 0n, max: 200n }))
  .map(([type, sector]) => le([type, 0, sector]));

/** vsock packets, on two guest and two host ports so that connections meet and are made again. */
const vsockPacket = fc
  .tuple(
    fc.constantFrom(1, 2, 3, 4, 5, 6, 7, 0, 99, 1, 1, 3, 3, 4),
    // Control packets carry nothing; a length the chain does not hold resets the connection.
    fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, fc.integer({ min: 0, max: 5000 })),
    fc.constantFrom(1, 2, 3, 3),
    fc.integer({ min: 0, max: 3 }),
  )
  .map(([op, len, srcCid, ports]) => {
    const d = new DataView(new ArrayBuffer(44));
    d.setBigUint64(0, BigInt(srcCid), true);
    d.setBigUint64(8, 2n, true);
    d.setUint32(16, 1000 + (ports & 1), true);
    d.setUint32(20, 1024 + (ports >> 1), true);
    d.setUint32(24, len, true);
    d.setUint16(28, 1, true); // stream
    d.setUint16(30, op, true);
    d.setUint32(36, 65536, true);
    return new Uint8Array(d.buffer);
  });

/**
 * vsock traffic as a driver makes it: a packet written to one of pages 0-3 and sent on the
 * transmit queue in one readable buffer, a receive buffer (pages 4-7) offered for what the
 * device sends back, or a device reset and set-up again, in any order.
 */
const vsockScenario: fc.Arbitrary<Op[]> = fc
  .array(
    fc.oneof(
      {
        weight: 6,
        arbitrary: fc
          .tuple(fc.integer({ min: 0, max: 3 }), vsockPacket)
          .map(([page, pkt]): Op[] => {
            const len = new DataView(pkt.buffer).getUint32(24, true);
            const buf = { page, off: 0, len: Math.min(44 + len, 4096) };
            return [
              placed(page * 0x1000, pkt),
              { k: "request", q: 1, readable: [buf], writable: [], notify: true },
            ];
          }),
      },
      {
        weight: 2,
        arbitrary: fc.integer({ min: 4, max: 7 }).map((page): Op[] => [
          {
            k: "request",
            q: 0,
            readable: [],
            writable: [{ page, off: 0, len: 4096 }],
            notify: true,
          },
        ]),
      },
      {
        weight: 1,
        arbitrary: fc.constant<Op[]>([
          { k: "reset" },
          { k: "up", features: 0, size: 16, ok: true },
        ]),
      },
    ),
    { maxLength: 24 },
  )
  .map((steps) => steps.flat());

/**
 * virtio-vsock against a host end whose connects complete later (fuzz/vsock-host.ts); `device`
 * makes the device (a test plants a bug in one).
 */
export function vsockTarget(
  device: (host: LateVsockHost) => VirtioVsock = (host) =>
    new VirtioVsock("virtio-vsock fuzz", 3, host),
): FuzzTarget<Op[]> {
  return virtioTarget(
    "virtio-vsock",
    "vsock packets: header, operation, credit, payload length; REQUEST, RST and SHUTDOWN against host connects that complete later",
    () => {
      const host = new LateVsockHost();
      const dev = device(host);
      host.device = dev;
      return { dev, check: () => host.check(), settle: true };
    },
    vsockPacket,
    vsockScenario,
  );
}

const controlMessage = fc
  .tuple(
    fc.integer({ min: 0, max: 4 }),
    fc.integer({ min: 0, max: 10 }),
    fc.integer({ min: 0, max: 1 }),
  )
  .map(([id, event, value]) => le([id, event | (value << 16)]));

const balloonData = fc.oneof(
  fc.array(fc.integer({ min: 0, max: 0xffff_ffff }), { maxLength: 16 }).map((pfns) => le(pfns)),
  fc
    .array(fc.tuple(fc.integer({ min: 0, max: 12 }), fc.bigInt({ min: 0n, max: 1n << 40n })), {
      maxLength: 8,
    })
    .map((stats) => {
      const d = new DataView(new ArrayBuffer(10 * stats.length));
      stats.forEach(([tag, v], i) => {
        d.setUint16(10 * i, tag, true);
        d.setBigUint64(10 * i + 2, v, true);
      });
      return new Uint8Array(d.buffer);
    }),
);

export const TARGETS: FuzzTarget<never>[] = [
  virtioTarget(
    "virtio-blk",
    "block requests: header, sectors, data segments, status; discard/write-zeroes ranges",
    () => ({ dev: new VirtioBlk("virtio-blk fuzz", new MemDisk(), "fuzz"), settle: true }),
    blkRequest,
  ),
  virtioTarget(
    "virtio-net",
    "transmit chains (vnet header, frame), receive buffers, the control queue",
    () => ({ dev: new VirtioNet("virtio-net fuzz", new Uint8Array(6), new FakeNet()) }),
    fc.uint8Array({ minLength: 12, maxLength: 80 }),
  ),
  virtioTarget("virtio-console", "console output chains and input buffers", () => {
    const dev = new VirtioConsole("virtio-console fuzz", () => {});
    dev.sendInput(new Uint8Array(100).fill(0x41), () => {});
    return { dev };
  }),
  virtioTarget(
    "virtio-serial",
    "multiport control messages (port ready, open, unknown events and ports), port data",
    () => {
      const dev = new VirtioSerial("virtio-serial fuzz", [
        { name: "org.qemu.guest_agent.0", host: { data: () => {}, guestOpen: () => {} } },
      ]);
      return { dev };
    },
    controlMessage,
  ),
  vsockTarget(),
  virtioTarget(
    "virtio-balloon",
    "inflate/deflate PFN arrays, statistics, free page reports",
    () => ({
      dev: new VirtioBalloon("virtio-balloon fuzz", 0x10_0000, {
        release: (b) => {
          if (b.length > 0x10_0000) throw new Error(`released ${b.length} bytes`);
        },
      }),
    }),
    balloonData,
  ),
  virtioTarget(
    "virtio-gpu",
    "2D control commands and cursor commands: ids, formats, rectangles, backing entries; " +
      "backing lists of many entries, many transfers and flushes per notify",
    gpuDevice,
    gpuRequest,
    gpuScenario,
  ),
  virtioTarget(
    "virtio-input",
    "event buffers, status queue events, config selection writes",
    () => {
      const dev = new VirtioInput("virtio-input fuzz", "keyboard");
      for (let i = 0; i < MAX_PENDING + 10; i++) dev.key(30, i % 2 === 0);
      const pending = dev as unknown as { pending: unknown[] };
      return {
        dev,
        check: () =>
          pending.pending.length > MAX_PENDING
            ? `${pending.pending.length} events pending`
            : undefined,
      };
    },
  ),
  virtioTarget("virtio-rng", "entropy request buffers", () => ({
    dev: new VirtioRng("virtio-rng fuzz", new TokenBucket(1 << 20, 1 << 20), (b) => b.fill(7)),
  })),
  splitQueueTarget(),
  uartTarget(),
  rtcTarget(),
  stateTarget(),
  snapshotTarget(),
  hartRecordTarget(),
  qcow2Target(),
  agentTarget(),
  terminalTarget(),
  coreTarget(),
] as FuzzTarget<never>[];

/**
 * The split virtqueue's chain walk on its own: random descriptor tables (with indirect tables
 * and EVENT_IDX), random available rings. It returns chains whose every buffer is inside RAM
 * and whose total is within the bound, or throws VirtqueueError; nothing else.
 */
function splitQueueTarget(): FuzzTarget<{
  size: number;
  indirect: boolean;
  eventIdx: boolean;
  table: Uint8Array;
  avail: number[];
  pops: number;
}> {
  return {
    name: "virtqueue",
    parses: "descriptor chains: next links, loops, indirect tables, lengths, addresses",
    input: fc.record({
      size: fc.constantFrom(1, 2, 4, 8, 16),
      indirect: fc.boolean(),
      eventIdx: fc.boolean(),
      table: fc.uint8Array({ minLength: 256, maxLength: 256 }),
      avail: fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 2, maxLength: 18 }),
      pops: fc.integer({ min: 1, max: 20 }),
    }),
    run(i) {
      const mem = new GuestMemory(0x1000n, new Uint8Array(0x10000));
      const maxChainBytes = 0x8000;
      const q = new SplitQueue(mem, {
        size: i.size,
        desc: 0x2000n,
        avail: 0x3000n,
        used: 0x4000n,
        eventIdx: i.eventIdx,
        indirect: i.indirect,
        maxChainBytes,
      });
      // Descriptors point into RAM often: rewrite half of the addresses to land inside it.
      const t = new DataView(i.table.buffer.slice(0));
      for (let d = 0; d < 16; d += 2) t.setBigUint64(16 * d, 0x5000n + BigInt(d * 0x100), true);
      mem.write(0x2000n, new Uint8Array(t.buffer));
      mem.write(0x5000n, new Uint8Array(t.buffer)); // an indirect table's worth of the same
      i.avail.forEach((v, k) => mem.writeU16(0x3000n + BigInt(2 * k), v));
      for (let p = 0; p < i.pops; p++) {
        let chain;
        try {
          chain = q.pop();
        } catch (e) {
          if (e instanceof VirtqueueError) return;
          throw e;
        }
        if (!chain) return;
        let total = 0;
        for (const b of [...chain.readable, ...chain.writable]) {
          if (!mem.contains(b.addr, b.len)) throw new Error("a buffer outside RAM was returned");
          total += b.len;
        }
        if (total > maxChainBytes) throw new Error(`a chain of ${total} bytes was returned`);
        q.push(chain.head, 0);
      }
    },
  };
}

/** The 16550 UART's registers, read and written at random, with host input arriving. */
function uartTarget(): FuzzTarget<{ off: number; write: boolean; value: number; rx: number }[]> {
  return {
    name: "uart16550",
    parses: "serial port register reads and writes (divisor latch, FIFO control, scratch)",
    input: fc.array(
      fc.record({
        off: fc.integer({ min: 0, max: 9 }),
        write: fc.boolean(),
        value: fc.integer({ min: 0, max: 255 }),
        rx: fc.integer({ min: 0, max: 5000 }),
      }),
      { maxLength: 200 },
    ),
    run(ops) {
      let out = 0;
      const u = new Uart16550(
        () => out++,
        () => {},
        () => {},
      );
      for (const o of ops) {
        if (o.rx > 4900) u.receive(new Uint8Array(o.rx));
        if (o.write) u.write(o.off, 1, BigInt(o.value));
        else {
          const v = u.read(o.off, 1);
          if (v < 0n || v > 255n) throw new Error(`register ${o.off} read ${v}`);
        }
        if (u.rxSpace() < 0 || u.rxSpace() > UART_RX_CAPACITY)
          throw new Error(`rx space ${u.rxSpace()}`);
      }
    },
  };
}

/** Why `out` (a filter's output) is unsafe for a terminal, if it is. */
function terminalUnsafe(policy: TerminalPolicy, out: Buffer): string | undefined {
  for (let i = 0; i < out.length; i++) {
    const b = out[i]!;
    const next = out[i + 1];
    if (b === 0xc2 && next !== undefined && next >= 0x80 && next <= 0x9f)
      return `C1 control U+00${next.toString(16)} at ${i}`;
    if (policy === "log" && (b < 0x20 || b === 0x7f) && ![0x08, 0x09, 0x0a, 0x0d, 0x1b].includes(b))
      return `control 0x${b.toString(16)} at ${i}`;
    if (b !== 0x1b) continue;
    if (next !== undefined && [0x5d, 0x50, 0x58, 0x5e, 0x5f].includes(next))
      return `string introducer ESC ${String.fromCharCode(next)} at ${i}`;
    if (
      policy === "log" &&
      !/^\[[0-9;:]*m/.test(out.subarray(i + 1, i + CSI_MAX + 2).toString("latin1"))
    )
      return `a sequence other than SGR at ${i}`;
  }
  return undefined;
}

/** Guest output on its way to a terminal: escape sequences cut anywhere, in both policies. */
function terminalTarget(): FuzzTarget<{ policy: TerminalPolicy; chunks: Uint8Array[] }> {
  const piece = fc.oneof(
    fc.uint8Array({ maxLength: 64 }),
    fc.constantFrom(
      ...["\x1b", "\x1b[", "\x1b]", "\x1bP", "\x1b_", "\x1b\\", "\x07", "\x18", "m", "t", ";"].map(
        enc,
      ),
      new Uint8Array([0xc2]),
      new Uint8Array([0x9b]),
      new Uint8Array([0x9d]),
    ),
    fc
      .string({
        unit: fc.constantFrom("\x1b", "[", "]", "P", "?", "1", ";", "m", "t", "\x07", "x"),
      })
      .map(enc),
  );
  return {
    name: "terminal-output",
    parses: "guest console and exec output bound for a terminal: ESC, CSI, OSC/DCS/APC strings, C1",
    input: fc.record({
      policy: fc.constantFrom<TerminalPolicy>("log", "interactive"),
      chunks: fc.array(piece, { maxLength: 30 }),
    }),
    run({ policy, chunks }) {
      const f = new TerminalFilter(policy);
      const parts: Buffer[] = [];
      for (const c of chunks) {
        parts.push(f.write(c));
        if (f.heldBytes > CSI_MAX + 1) throw new Error(`${f.heldBytes} bytes held`);
      }
      const out = Buffer.concat(parts);
      const whole = new TerminalFilter(policy).write(Buffer.concat(chunks));
      if (!whole.equals(out)) throw new Error("the output depends on where the input was cut");
      const why = terminalUnsafe(policy, out);
      if (why) throw new Error(`${policy}: ${why}`);
      if (!new TerminalFilter(policy).write(out).equals(out))
        throw new Error(`${policy}: filtering the output again changes it`);
    },
  };
}

/** The guest agent's reply stream: bytes from the guest, cut anywhere. */
function agentTarget(): FuzzTarget<Uint8Array[]> {
  return {
    name: "agent-replies",
    parses: "qemu-guest-agent replies: JSON values, 0xff resync markers, depth and size",
    input: fc.array(
      fc.oneof(
        fc.uint8Array({ maxLength: 512 }),
        fc.json().map(enc),
        fc.integer({ min: 1, max: 100 }).map((d) => enc(`{"return":${"[".repeat(d)}`)),
        fc.constantFrom(enc("\xff"), new Uint8Array([0xff]), enc('{"return": "')),
      ),
      { maxLength: 20 },
    ),
    run(chunks) {
      const s = new JsonStream();
      const c = new AgentClient(() => {});
      c.guestOpen(true);
      for (const b of chunks) {
        s.push(b);
        c.data(b);
        if (s.pending > MAX_REPLY_BYTES) throw new Error(`${s.pending} bytes held`);
      }
    },
  };
}
