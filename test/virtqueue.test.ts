// Hostile virtqueues: every way a driver can lie in a split queue ends in a VirtqueueError on
// the device side (and, through the virtio-mmio transport, in DEVICE_NEEDS_RESET with one log
// line), never in an exception escaping to the vCPU loop or an access outside guest RAM.
import { test } from "node:test";
import assert from "node:assert/strict";
import { GuestMemory } from "../src/memory/guest-memory.js";
import { SplitQueue, VirtqueueError, gather, scatter } from "../src/devices/virtio/queue.js";
import {
  CONFIG_OFFSET,
  STATUS_NEEDS_RESET,
  VirtioMmio,
} from "../src/devices/virtio/mmio-transport.js";
import { VirtioBlk, type BlockBackend } from "../src/devices/virtio/blk.js";
import { TokenBucket } from "../src/devices/rate-limiter.js";
import { parseDiskSpecs } from "../src/cli/device-options.js";

const RAM = 0x10_0000;
const DESC = 0x1000n;
const AVAIL = 0x2000n;
const USED = 0x3000n;
const N = 8;

function ram(): GuestMemory {
  return new GuestMemory(0n, new Uint8Array(RAM));
}

function queue(mem: GuestMemory, over: Partial<ConstructorParameters<typeof SplitQueue>[1]> = {}) {
  return new SplitQueue(mem, {
    size: N,
    desc: DESC,
    avail: AVAIL,
    used: USED,
    eventIdx: false,
    indirect: true,
    maxChainBytes: 1 << 20,
    ...over,
  });
}

function desc(
  mem: GuestMemory,
  table: bigint,
  i: number,
  addr: bigint,
  len: number,
  flags: number,
  next = 0,
): void {
  const o = table + BigInt(16 * i);
  mem.writeU64(o, addr);
  mem.writeU32(o + 8n, len);
  mem.writeU16(o + 12n, flags);
  mem.writeU16(o + 14n, next);
}

/** Makes `heads` available: avail.ring[k] = heads[k], avail.idx = heads.length (or `idx`). */
function offer(mem: GuestMemory, heads: number[], idx = heads.length): void {
  heads.forEach((h, k) => mem.writeU16(AVAIL + 4n + BigInt(2 * k), h));
  mem.writeU16(AVAIL + 2n, idx);
}

const NEXT = 1;
const WRITE = 2;
const INDIRECT = 4;

test("a well-formed chain: readable then writable buffers, indirect table, used ring and interrupts", () => {
  const mem = ram();
  const q = queue(mem);
  desc(mem, DESC, 0, 0x8000n, 16, NEXT, 1);
  desc(mem, DESC, 1, 0x9000n, 0, INDIRECT); // len set below
  const table = 0xa000n;
  desc(mem, table, 0, 0xb000n, 100, NEXT, 1);
  desc(mem, table, 1, 0xc000n, 1, WRITE);
  mem.writeU32(DESC + 16n + 8n, 32);
  mem.writeU64(DESC + 16n, table);
  offer(mem, [0]);
  const c = q.pop()!;
  assert.deepEqual(c.readable, [
    { addr: 0x8000n, len: 16 },
    { addr: 0xb000n, len: 100 },
  ]);
  assert.deepEqual(c.writable, [{ addr: 0xc000n, len: 1 }]);
  assert.equal(q.pop(), null);
  q.push(c.head, 1);
  assert.equal(mem.readU16(USED + 2n), 1);
  assert.equal(mem.readU32(USED + 4n), 0);
  assert.equal(mem.readU32(USED + 8n), 1);
  assert.equal(q.needsInterrupt(), true);
  assert.equal(q.needsInterrupt(), false, "nothing new since");
});

test("gather and scatter cross buffer boundaries and refuse to run past the chain", () => {
  const mem = ram();
  const bufs = [
    { addr: 0x8000n, len: 3 },
    { addr: 0x9000n, len: 5 },
  ];
  scatter(mem, bufs, 1, Uint8Array.of(1, 2, 3, 4));
  assert.deepEqual([...gather(mem, bufs, 0, 8)], [0, 1, 2, 3, 4, 0, 0, 0]);
  assert.throws(() => gather(mem, bufs, 4, 5), VirtqueueError);
  assert.throws(() => scatter(mem, bufs, 6, Uint8Array.of(1, 2, 3)), VirtqueueError);
});

const hostile: [string, (mem: GuestMemory) => void, RegExp, Record<string, unknown>?][] = [
  [
    "a descriptor loop",
    (m) => (
      desc(m, DESC, 0, 0x8000n, 8, NEXT, 1),
      desc(m, DESC, 1, 0x8000n, 8, NEXT, 0),
      offer(m, [0])
    ),
    /longer than the queue size/,
  ],
  [
    "a self loop",
    (m) => (desc(m, DESC, 3, 0x8000n, 8, NEXT, 3), offer(m, [3])),
    /longer than the queue size/,
  ],
  [
    "a buffer outside RAM",
    (m) => (desc(m, DESC, 0, BigInt(RAM) - 4n, 8, 0), offer(m, [0])),
    /outside guest RAM/,
  ],
  [
    "a buffer at a huge address",
    (m) => (desc(m, DESC, 0, 0xffff_ffff_ffff_fff0n, 64, 0), offer(m, [0])),
    /outside guest RAM/,
  ],
  [
    "a huge length",
    (m) => (desc(m, DESC, 0, 0x8000n, 0xffff_ffff, 0), offer(m, [0])),
    /outside guest RAM|more than/,
  ],
  ["a zero-length buffer", (m) => (desc(m, DESC, 0, 0x8000n, 0, 0), offer(m, [0])), /zero-length/],
  [
    "too many bytes in one chain",
    (m) => (
      desc(m, DESC, 0, 0x1_0000n, 0x8_0000, NEXT, 1),
      desc(m, DESC, 1, 0x9_0000n, 0x6_0000, 0),
      offer(m, [0])
    ),
    /more than 786432 bytes/,
    { maxChainBytes: 0xc_0000 },
  ],
  [
    "readable after writable",
    (m) => (
      desc(m, DESC, 0, 0x8000n, 8, NEXT | WRITE, 1),
      desc(m, DESC, 1, 0x9000n, 8, 0),
      offer(m, [0])
    ),
    /readable buffer after a writable/,
  ],
  ["a head outside the queue", (m) => offer(m, [N + 3]), /head 11 is outside/],
  [
    "a next outside the table",
    (m) => (desc(m, DESC, 0, 0x8000n, 8, NEXT, 200), offer(m, [0])),
    /next descriptor 200/,
  ],
  ["a runaway avail index", (m) => offer(m, [0], N + 1), /moved 9 entries ahead/],
  [
    "a nested indirect table",
    (m) => (
      desc(m, DESC, 0, 0xa000n, 16, INDIRECT),
      desc(m, 0xa000n, 0, 0xb000n, 16, INDIRECT),
      offer(m, [0])
    ),
    /nested indirect/,
  ],
  [
    "an indirect table with NEXT",
    (m) => (desc(m, DESC, 0, 0xa000n, 16, INDIRECT | NEXT, 1), offer(m, [0])),
    /indirect descriptor with NEXT/,
  ],
  [
    "an indirect table of odd size",
    (m) => (desc(m, DESC, 0, 0xa000n, 20, INDIRECT), offer(m, [0])),
    /indirect table of 20 bytes/,
  ],
  [
    "an indirect table larger than the queue",
    (m) => (desc(m, DESC, 0, 0xa000n, 16 * (N + 1), INDIRECT), offer(m, [0])),
    /indirect table of 144 bytes/,
  ],
  [
    "an indirect table outside RAM",
    (m) => (desc(m, DESC, 0, BigInt(RAM - 8), 16, INDIRECT), offer(m, [0])),
    /outside guest RAM/,
  ],
  [
    "an indirect loop",
    (m) => (
      desc(m, DESC, 0, 0xa000n, 32, INDIRECT),
      desc(m, 0xa000n, 0, 0x8000n, 8, NEXT, 1),
      desc(m, 0xa000n, 1, 0x8000n, 8, NEXT, 0),
      offer(m, [0])
    ),
    /longer than the queue size/,
  ],
  [
    "indirect without the feature",
    (m) => (desc(m, DESC, 0, 0xa000n, 16, INDIRECT), offer(m, [0])),
    /without VIRTIO_F_INDIRECT_DESC/,
    { indirect: false },
  ],
];

for (const [what, build, re, over] of hostile) {
  test(`hostile queue: ${what} is a VirtqueueError`, () => {
    const mem = ram();
    const q = queue(mem, over ?? {});
    build(mem);
    assert.throws(
      () => q.pop(),
      (e: unknown) => e instanceof VirtqueueError && re.test(e.message),
    );
  });
}

test("queue layouts that do not fit are refused", () => {
  const mem = ram();
  assert.throws(() => queue(mem, { size: 6 }), /not a power of two/);
  assert.throws(() => queue(mem, { size: 65536 }), /not a power of two/);
  assert.throws(() => queue(mem, { desc: 0x1008n }), /descriptor table .* misaligned/);
  assert.throws(() => queue(mem, { used: BigInt(RAM - 8) }), /used ring .* outside guest RAM/);
  assert.throws(() => queue(mem, { avail: 0xffff_ffff_ffff_fffen }), /available ring .* outside/);
});

test("EVENT_IDX: the device publishes avail_event and interrupts only past used_event", () => {
  const mem = ram();
  const q = queue(mem, { eventIdx: true });
  for (let i = 0; i < 3; i++) desc(mem, DESC, i, 0x8000n, 8, WRITE);
  offer(mem, [0, 1, 2]);
  mem.writeU16(AVAIL + 4n + BigInt(2 * N), 1); // used_event: interrupt once used passes 1
  const a = q.pop()!;
  assert.equal(mem.readU16(USED + 4n + BigInt(8 * N)), 1, "avail_event");
  q.push(a.head, 0);
  assert.equal(q.needsInterrupt(), false, "used idx 1 has not passed used_event 1");
  q.push(q.pop()!.head, 0);
  assert.equal(q.needsInterrupt(), true);
});

test("publishU16/observeU16: atomic where aligned, plain at an odd host address, on shared and private RAM", () => {
  for (const buf of [new SharedArrayBuffer(64), new ArrayBuffer(64)]) {
    for (const start of [0, 1]) {
      // start 1: RAM begins at an odd host address, so even guest addresses are odd host ones
      const mem = new GuestMemory(0x1000n, new Uint8Array(buf, start, 32));
      const written: number[] = [];
      const seen = new GuestMemory(0x1000n, new Uint8Array(buf, start, 32), (off) =>
        written.push(off),
      );
      seen.publishU16(0x1002n, 0xbeef);
      assert.equal(mem.readU16(0x1002n), 0xbeef);
      assert.equal(mem.observeU16(0x1002n), 0xbeef);
      seen.publishU16(0x1005n, 0x1234);
      assert.equal(mem.readU16(0x1005n), 0x1234, "at the address the plain accessors use");
      assert.equal(mem.observeU16(0x1005n), 0x1234);
      mem.writeU16(0x1008n, 0x5678);
      assert.equal(mem.observeU16(0x1008n), 0x5678);
      assert.deepEqual(written, [2, 5], "writes are reported (translated code on them goes stale)");
      assert.throws(() => mem.observeU16(0x101fn), /outside RAM/);
      assert.throws(() => mem.publishU16(0x1020n, 1), /outside RAM/);
    }
  }
});

test("publishU16/observeU16 on RAM past 2 GiB into its buffer (the soft CPU's RAM sits 16 MiB in; KVM's may be 3 GiB)", () => {
  // Untouched pages of a large ArrayBuffer are not committed: this costs a few pages.
  const buf = new ArrayBuffer(2 ** 31 + 4096);
  const mem = new GuestMemory(0x8000_0000n, new Uint8Array(buf, 2 ** 31, 4096));
  mem.publishU16(0x8000_0ffen, 0xcafe);
  assert.equal(mem.readU16(0x8000_0ffen), 0xcafe);
  assert.equal(new Uint8Array(buf)[2 ** 31 + 0xffe], 0xfe, "at its own bytes, little-endian");
  mem.writeU16(0x8000_0010n, 0x4242);
  assert.equal(mem.observeU16(0x8000_0010n), 0x4242);
});

// ---- through the transport ----

class MemBackend implements BlockBackend {
  readonly data = new Uint8Array(64 * 1024);
  readonly sizeBytes = this.data.length;
  flushes = 0;
  constructor(readonly readOnly = false) {}
  async read(o: number, l: number) {
    return this.data.slice(o, o + l);
  }
  async write(o: number, d: Uint8Array) {
    this.data.set(d, o);
  }
  async flush() {
    this.flushes++;
  }
  async discard(o: number, l: number) {
    this.data.fill(0, o, o + l);
  }
  async writeZeroes(o: number, l: number) {
    this.data.fill(0, o, o + l);
  }
}

/** Brings a virtio-blk device on the transport to DRIVER_OK with queue 0 at DESC/AVAIL/USED. */
function driverUp(
  mem: GuestMemory,
  dev: VirtioBlk,
  features = [0x0000_0000, 0x1],
  log: string[] = [],
) {
  let irq = false;
  const t = new VirtioMmio(
    dev,
    mem,
    (l) => (irq = l),
    (line) => log.push(line),
  );
  const w = (off: number, v: number | bigint) => t.write(off, 4, BigInt(v));
  assert.equal(t.read(0, 4), 0x74726976n);
  assert.equal(t.read(4, 4), 2n);
  assert.equal(t.read(8, 4), 2n, "block device");
  w(0x70, 1);
  w(0x70, 3);
  w(0x24, 0);
  w(0x20, features[0]!);
  w(0x24, 1);
  w(0x20, features[1]!);
  w(0x70, 11);
  w(0x30, 0);
  w(0x38, N);
  w(0x80, DESC);
  w(0x90, AVAIL);
  w(0xa0, USED);
  w(0x44, 1);
  w(0x70, 15);
  return { t, w, irq: () => irq, log };
}

const tick = () => new Promise((r) => setImmediate(r));
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await tick();
}

/** One request: header at 0x8000, data at 0x9000 (`dataLen`, writable if `input`), status at 0xa000. */
function request(mem: GuestMemory, type: number, sector: bigint, dataLen: number, input: boolean) {
  mem.writeU32(0x8000n, type);
  mem.writeU64(0x8008n, sector);
  desc(mem, DESC, 0, 0x8000n, 16, NEXT, dataLen ? 1 : 2);
  if (dataLen) desc(mem, DESC, 1, 0x9000n, dataLen, NEXT | (input ? WRITE : 0), 2);
  desc(mem, DESC, 2, 0xa000n, 1, WRITE);
  mem.writeU16(AVAIL + 4n + BigInt(2 * (mem.readU16(AVAIL + 2n) % N)), 0);
  mem.writeU16(AVAIL + 2n, mem.readU16(AVAIL + 2n) + 1);
}

test("virtio-blk over the transport: write, read back, flush, ID; errors as status, not exceptions", async () => {
  const mem = ram();
  const be = new MemBackend();
  const dev = new VirtioBlk("virtio-blk vda", be, "disk-serial-0123456789-long");
  const { t, w, irq } = driverUp(mem, dev);
  assert.equal(t.read(CONFIG_OFFSET, 8), BigInt(be.sizeBytes / 512), "capacity in sectors");
  mem.write(0x9000n, new TextEncoder().encode("x".repeat(512)));
  request(mem, 1, 3n, 512, false); // OUT sector 3
  w(0x50, 0);
  await settle();
  assert.equal(mem.read(0xa000n, 1)[0], 0, "status OK");
  assert.equal(be.data[3 * 512], 0x78);
  assert.ok(irq());
  w(0x64, Number(t.read(0x60, 4)));
  assert.equal(irq(), false);
  request(mem, 0, 3n, 512, true); // IN
  mem.zero(0x9000n, 512);
  w(0x50, 0);
  await settle();
  assert.equal(mem.read(0x9000n, 1)[0], 0x78);
  request(mem, 4, 0n, 0, false); // FLUSH
  w(0x50, 0);
  await settle();
  assert.equal(be.flushes, 1);
  request(mem, 8, 0n, 20, true); // GET_ID
  w(0x50, 0);
  await settle();
  assert.equal(Buffer.from(mem.read(0x9000n, 20)).toString(), "disk-serial-01234567");
  request(mem, 0, 127n, 1024, true); // past the end
  w(0x50, 0);
  await settle();
  assert.equal(mem.read(0xa000n, 1)[0], 1, "IOERR");
  request(mem, 0, 0n, 100, true); // not whole sectors
  w(0x50, 0);
  await settle();
  assert.equal(mem.read(0xa000n, 1)[0], 1, "IOERR");
  request(mem, 99, 0n, 0, false); // unknown type
  w(0x50, 0);
  await settle();
  assert.equal(mem.read(0xa000n, 1)[0], 2, "UNSUPP");
  assert.equal(Number(t.read(0x70, 4)) & STATUS_NEEDS_RESET, 0);
});

test("an interrupt ACK that lands after a new completion does not swallow it", async () => {
  // On the soft CPU the driver's ACK is a posted write: it can reach the device after the
  // driver read the status and emptied the used ring, and after the next request completed.
  const mem = ram();
  const dev = new VirtioBlk("virtio-blk vda", new MemBackend(), "id");
  const { t, w, irq } = driverUp(mem, dev);
  request(mem, 4, 0n, 0, false); // FLUSH
  w(0x50, 0);
  await settle();
  assert.ok(irq());
  const seen = Number(t.read(0x60, 4)); // the driver's interrupt handler reads the status...
  assert.equal(seen, 1);
  request(mem, 4, 0n, 0, false); // ...meanwhile the next request completes...
  w(0x50, 0);
  await settle();
  w(0x64, seen); // ...and only then does its ACK arrive
  assert.equal(irq(), true, "the second completion still interrupts");
  assert.equal(t.read(0x60, 4), 1n);
  w(0x64, 1); // acknowledged after the driver saw it: the line drops
  assert.equal(irq(), false);
});

test("a read-only disk refuses writes even when the driver ignores VIRTIO_BLK_F_RO", async () => {
  const mem = ram();
  const be = new MemBackend(true);
  const dev = new VirtioBlk("virtio-blk vda", be, "ro");
  assert.ok(dev.features & (1n << 5n), "RO offered");
  const { w } = driverUp(mem, dev, [0, 1]); // the driver accepts no device feature at all
  mem.write(0x9000n, new Uint8Array(512).fill(7));
  request(mem, 1, 0n, 512, false);
  w(0x50, 0);
  await settle();
  assert.equal(mem.read(0xa000n, 1)[0], 1, "IOERR");
  assert.equal(be.data[0], 0, "the disk is unchanged");
});

test("a hostile queue through the transport: NEEDS_RESET, one log line, the VMM goes on; reset recovers", async () => {
  const mem = ram();
  const log: string[] = [];
  const dev = new VirtioBlk("virtio-blk vda", new MemBackend(), "x");
  const { t, w, irq } = driverUp(mem, dev, [0, 1], log);
  desc(mem, DESC, 0, 0x8000n, 16, NEXT, 0); // a loop
  offer(mem, [0]);
  w(0x50, 0);
  w(0x50, 0); // a notification storm changes nothing
  await settle();
  assert.equal(Number(t.read(0x70, 4)) & STATUS_NEEDS_RESET, STATUS_NEEDS_RESET);
  assert.equal(log.length, 1);
  assert.match(
    log[0]!,
    /^virtio-blk vda: chain from 0 is longer than the queue size 8.*needs a reset$/,
  );
  assert.ok(irq(), "config-change interrupt");
  assert.equal(Number(t.read(0x60, 4)) & 2, 2);
  w(0x50, 0);
  await settle();
  assert.equal(log.length, 1, "logged once");
  w(0x70, 0); // reset
  assert.equal(t.read(0x70, 4), 0n);
  assert.equal(irq(), false);
});

// test/guest/hostile.c counts a device's stops so: its status read may come before the device
// has looked at a notified queue, and the stop then comes before the driver's reset.
test("ConfigGeneration read after a reset counts each stop logged before it, also one the driver's status read missed", async () => {
  for (const looksFirst of [true, false]) {
    const mem = ram();
    const log: string[] = [];
    const { t, w } = driverUp(
      mem,
      new VirtioBlk("virtio-blk vda", new MemBackend(), "x"),
      [0, 1],
      log,
    );
    const gen = () => Number(t.read(0xfc, 4));
    const before = gen();
    desc(mem, DESC, 0, 0x8000n, 16, NEXT, 0); // a loop
    offer(mem, [0]);
    w(0x50, 0);
    assert.equal(Number(t.read(0x70, 4)) & STATUS_NEEDS_RESET, 0, "not looked at yet");
    if (looksFirst) await settle();
    w(0x70, 0); // reset
    await settle();
    assert.equal(log.length, looksFirst ? 1 : 0);
    assert.equal(
      gen() - before,
      log.length,
      `the device ${looksFirst ? "looked" : "was reset"} first`,
    );
  }
});

test("bad register accesses are ignored; bad queue settings put the device into NEEDS_RESET", () => {
  const mem = ram();
  const log: string[] = [];
  const dev = new VirtioBlk("virtio-blk vda", new MemBackend(), "x");
  const t = new VirtioMmio(
    dev,
    mem,
    () => {},
    (l) => log.push(l),
  );
  t.write(0x70, 2, 0xffffn); // not a 32-bit access: ignored
  assert.equal(t.read(0x70, 4), 0n);
  assert.equal(t.read(0x71, 4), 0n, "misaligned read: 0");
  t.write(0x70, 4, 3n);
  t.write(0x70, 4, 11n); // FEATURES_OK without VERSION_1: refused
  assert.equal(Number(t.read(0x70, 4)) & 8, 0);
  t.write(0x70, 4, 0n);
  t.write(0x24, 4, 1n);
  t.write(0x20, 4, 1n);
  t.write(0x70, 4, 11n);
  assert.equal(Number(t.read(0x70, 4)) & 8, 8);
  t.write(0x30, 4, 0n);
  t.write(0x38, 4, 4096n); // larger than the device's maximum
  t.write(0x44, 4, 1n);
  assert.equal(Number(t.read(0x70, 4)) & STATUS_NEEDS_RESET, STATUS_NEEDS_RESET);
  assert.match(log[0]!, /queue 0 size 4096 exceeds its maximum 256/);
  t.write(0x30, 4, 7n); // a queue that does not exist
  t.write(0x44, 4, 1n);
  assert.equal(t.read(CONFIG_OFFSET + 200, 4), 0n, "past the config space: 0");
});

test("virtio-blk rate limits: requests over the ops rate wait in the ring until the bucket refills", async () => {
  let now = 0;
  const ops = new TokenBucket(10, 2, () => now); // 10 requests/s, bursts of 2
  const mem = ram();
  const dev = new VirtioBlk("virtio-blk vda", new MemBackend(), "x", { ops });
  const { w } = driverUp(mem, dev);
  const used = () => mem.readU16(USED + 2n);
  for (let i = 0; i < 4; i++) request(mem, 4, 0n, 0, false); // four FLUSH requests
  w(0x50, 0);
  await settle();
  assert.equal(
    used(),
    3,
    "two from the burst, a third on credit (a bucket may go into debt by one request)",
  );
  now = 150; // 1.5 tokens later: out of debt
  await new Promise((r) => setTimeout(r, 150));
  await settle();
  assert.equal(used(), 4);
});

test("parseDiskSpecs: ro, bps and iops with K/M/G, and clear refusals", () => {
  assert.deepEqual(parseDiskSpecs(["a.img", "b.img,ro,bps=10M,iops=500"]), [
    { path: "a.img", read_only: false },
    { path: "b.img", read_only: true, bps: 10 * 1024 * 1024, iops: 500 },
  ]);
  assert.throws(() => parseDiskSpecs(["a.img,bps=0"]), /positive whole number/);
  assert.throws(() => parseDiskSpecs(["a.img,iops=1.5"]), /positive whole number/);
  assert.throws(() => parseDiskSpecs(["a.img,bps=9T"]), /positive whole number/);
  assert.throws(() => parseDiskSpecs(["a.img,fast"]), /unknown option 'fast'/);
  assert.throws(() => parseDiskSpecs([",ro"]), /no file name/);
  assert.throws(() => parseDiskSpecs(Array(9).fill("x")), /at most 8/);
});
