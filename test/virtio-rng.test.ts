// virtio-rng and the token bucket that bounds it: the arithmetic with a fake clock, the device
// over the virtio-mmio transport (bounded per request and per second, hostile requests), and
// /dev/hwrng in the shipped guest through `moat run --rng`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { GuestMemory } from "../src/memory/guest-memory.js";
import { TokenBucket } from "../src/devices/rate-limiter.js";
import { MAX_PER_REQUEST, VirtioRng } from "../src/devices/virtio/rng.js";
import { STATUS_NEEDS_RESET, VirtioMmio } from "../src/devices/virtio/mmio-transport.js";
import { moat } from "./support/moat-cli.js";

test("token bucket: starts full, refills at its rate, never above its burst", () => {
  let now = 0;
  const b = new TokenBucket(1000, 100, () => now); // 1000 tokens/s, 100 at most
  assert.equal(b.take(250), 100, "a full bucket gives its burst");
  assert.equal(b.take(1), 0);
  assert.equal(b.msUntilNext(), 1);
  now = 50; // 50 ms: 50 tokens
  assert.equal(b.take(80), 50);
  now = 10_000; // long idle: capped at the burst
  assert.equal(b.take(1_000_000), 100);
  now = 10_000.5; // half a token: none whole yet
  assert.equal(b.take(1), 0);
  assert.equal(b.msUntilNext(), 1);
  // Debt: a cost larger than the bucket is taken, then paid off before the next one.
  now = 20_000;
  b.consume(300); // 100 there: 200 in debt
  assert.equal(b.msUntilPaid(), 200);
  now = 20_200;
  assert.equal(b.msUntilPaid(), 0);
  assert.throws(() => new TokenBucket(0, 1), /rate > 0/);
  assert.throws(() => new TokenBucket(1, 0), /burst >= 1/);
});

const DESC = 0x1000n;
const AVAIL = 0x2000n;
const USED = 0x3000n;
const N = 8;

function setup(bucket: TokenBucket) {
  const mem = new GuestMemory(0n, new Uint8Array(0x4_0000));
  const log: string[] = [];
  const dev = new VirtioRng("virtio-rng", bucket, (b) => b.fill(0xab));
  const t = new VirtioMmio(
    dev,
    mem,
    () => {},
    (l) => log.push(l),
  );
  const w = (off: number, v: number | bigint) => t.write(off, 4, BigInt(v));
  assert.equal(t.read(8, 4), 4n, "entropy device");
  w(0x70, 3);
  w(0x24, 1);
  w(0x20, 1); // VERSION_1
  w(0x70, 11);
  w(0x38, N);
  w(0x80, DESC);
  w(0x90, AVAIL);
  w(0xa0, USED);
  w(0x44, 1);
  w(0x70, 15);
  /** Offers one chain of a buffer at 0x8000 of `len` bytes (writable unless `readable`). */
  const ask = (len: number, readable = false) => {
    const idx = mem.readU16(AVAIL + 2n);
    mem.writeU64(DESC, 0x8000n);
    mem.writeU32(DESC + 8n, len);
    mem.writeU16(DESC + 12n, readable ? 0 : 2);
    mem.writeU16(AVAIL + 4n + BigInt(2 * (idx % N)), 0);
    mem.writeU16(AVAIL + 2n, idx + 1);
    w(0x50, 0);
  };
  const usedLen = (k: number) => mem.readU32(USED + 8n + BigInt(8 * k));
  return { mem, t, ask, usedLen, usedIdx: () => mem.readU16(USED + 2n), log };
}

const settle = async (ms = 0) => {
  await new Promise((r) => setTimeout(r, ms));
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

test("virtio-rng gives at most 4096 bytes a request and waits when its bucket is empty", async () => {
  let now = 0;
  const bucket = new TokenBucket(1000, 6000, () => now);
  const s = setup(bucket);
  s.ask(65536);
  await settle();
  assert.equal(s.usedIdx(), 1);
  assert.equal(s.usedLen(0), MAX_PER_REQUEST);
  assert.equal(s.mem.read(0x8000n, 1)[0], 0xab);
  s.ask(65536);
  await settle();
  assert.equal(s.usedLen(1), 6000 - MAX_PER_REQUEST, "what was left in the bucket");
  s.ask(100);
  await settle();
  assert.equal(s.usedIdx(), 2, "empty bucket: the request waits");
  now = 50; // 50 tokens later
  await settle(5);
  assert.equal(s.usedIdx(), 3);
  assert.equal(s.usedLen(2), 50);
});

test("virtio-rng: a request with a device-readable buffer puts the device into NEEDS_RESET", async () => {
  const s = setup(new TokenBucket(1e6, 1e6));
  s.ask(16, true);
  await settle();
  assert.equal(Number(s.t.read(0x70, 4)) & STATUS_NEEDS_RESET, STATUS_NEEDS_RESET);
  assert.equal(s.log.length, 1);
  assert.match(s.log[0]!, /^virtio-rng: request 0 has device-readable buffers/);
});

test("moat run --rng: the guest reads random bytes from /dev/hwrng", async () => {
  const r = await moat(
    [
      "run",
      "--rng",
      "--",
      "sh",
      "-c",
      "cat /sys/class/misc/hw_random/rng_current; head -c 4096 /dev/hwrng | od -An -v -tx1 | tr -s ' ' '\\n' | sort -u | wc -l",
    ],
    { timeoutMs: 120_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  const [current, distinct] = r.stdout.trim().split(/\r?\n/);
  assert.match(current!, /^virtio_rng/);
  // 4096 random bytes take (nearly) all 256 values, plus the empty line tr makes.
  assert.ok(Number(distinct) > 200, r.stdout);
});
