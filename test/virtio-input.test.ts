// virtio-input on its own: the config space a Linux driver reads, events into the guest's
// buffers, and the bounds (a guest that never reads, a buffer too small for an event).
import { test } from "node:test";
import assert from "node:assert/strict";
import { AVAIL, DESC, USED, queueInRam } from "./support/split-queue.js";
import {
  ABS_MAX,
  EV_ABS,
  EV_KEY,
  KEY_POWER,
  MAX_PENDING,
  VirtioInput,
  type InputKind,
} from "../src/devices/virtio/input.js";

const N = 16;

function setup(kind: InputKind) {
  const { mem, q } = queueInRam(0x10_0000, N, 4096);
  const dev = new VirtioInput(`virtio-input ${kind}`, kind);
  let failed = "";
  dev.activate({ mem, used: () => {}, fail: (r) => (failed = r), configChanged: () => {} }, [
    q,
    undefined,
  ]);
  let avail = 0;
  /** Offers `n` writable buffers of `len` bytes at 0x8000 + i * 0x100. */
  const offer = (n: number, len = 8) => {
    for (let i = 0; i < n; i++) {
      const slot = avail % N;
      const d = new DataView(new ArrayBuffer(16));
      d.setBigUint64(0, 0x8000n + BigInt(slot * 0x100), true);
      d.setUint32(8, len, true);
      d.setUint16(12, 2, true); // WRITE
      mem.write(DESC + BigInt(slot * 16), new Uint8Array(d.buffer));
      mem.writeU16(AVAIL + 4n + BigInt(2 * slot), slot);
      mem.writeU16(AVAIL + 2n, ++avail);
    }
    dev.notify(0);
  };
  const event = (slot: number) => {
    const b = new DataView(mem.read(0x8000n + BigInt(slot * 0x100), 8).buffer);
    return [b.getUint16(0, true), b.getUint16(2, true), b.getInt32(4, true)];
  };
  const cfg = (select: number, subsel: number) => {
    dev.configWrite(0, 1, BigInt(select));
    dev.configWrite(1, 1, BigInt(subsel));
    const size = Number(dev.configRead(2, 1));
    const out: number[] = [];
    for (let i = 0; i < size; i++) out.push(Number(dev.configRead(8 + i, 1)));
    return out;
  };
  return { dev, mem, offer, event, cfg, used: () => mem.readU16(USED + 2n), failed: () => failed };
}

test("virtio-input: a keyboard and a tablet describe themselves; events fill the guest's buffers", () => {
  const k = setup("keyboard");
  assert.equal(Buffer.from(k.cfg(0x01, 0)).toString(), "moat keyboard");
  const keys = k.cfg(0x11, EV_KEY);
  assert.ok(keys[30 >> 3]! & (1 << (30 & 7)), "KEY_A offered");
  assert.deepEqual(k.cfg(0x11, EV_ABS), [], "a keyboard has no axes");
  assert.equal(k.dev.configRead(200, 4), 0n, "outside the config space");
  k.dev.key(30, true); // before any buffer: it waits
  assert.equal(k.used(), 0);
  k.offer(4);
  assert.equal(k.used(), 2);
  assert.deepEqual(k.event(0), [EV_KEY, 30, 1]);
  assert.deepEqual(k.event(1), [0, 0, 0], "SYN_REPORT");
  k.dev.key(999, true); // not a key the keyboard has: ignored
  assert.equal(k.used(), 2);

  const t = setup("tablet");
  assert.deepEqual(t.cfg(0x11, EV_ABS), [0b11]);
  const abs = Buffer.from(t.cfg(0x12, 0));
  assert.equal(abs.readUInt32LE(4), ABS_MAX);
  t.offer(8);
  t.dev.pointer(1023, 0, 1024, 768, 1, 0); // top-right, left button down
  assert.deepEqual(t.event(0), [EV_ABS, 0, ABS_MAX]);
  assert.deepEqual(t.event(1), [EV_ABS, 1, 0]);
  assert.deepEqual(t.event(2), [EV_KEY, 0x110, 1]);
  t.dev.pointer(5000, -3, 1024, 768, 1, 1); // clamped, no button change
  assert.deepEqual(t.event(4), [EV_ABS, 0, ABS_MAX]);
  assert.deepEqual(t.event(5), [EV_ABS, 1, 0]);
  assert.deepEqual(t.event(6), [0, 0, 0]);
});

test("virtio-input: the power button has one key, KEY_POWER; a tap is a press and a release", () => {
  const p = setup("power");
  assert.equal(Buffer.from(p.cfg(0x01, 0)).toString(), "moat power button");
  // EV_KEY's bitmap: bit 116 alone (udev then tags it "power-switch" for systemd-logind).
  const keys = p.cfg(0x11, EV_KEY);
  assert.equal(keys.length, (KEY_POWER >> 3) + 1);
  assert.deepEqual(
    keys.flatMap((b, i) =>
      [0, 1, 2, 3, 4, 5, 6, 7].filter((j) => b & (1 << j)).map((j) => i * 8 + j),
    ),
    [KEY_POWER],
  );
  assert.deepEqual(p.cfg(0x11, EV_ABS), []);
  assert.deepEqual(p.cfg(0x03, 0).slice(4, 6), [3, 0], "its own product id");
  p.offer(8);
  p.dev.key(30, true); // KEY_A: not on a power button
  assert.equal(p.used(), 0);
  p.dev.tap(KEY_POWER);
  assert.equal(p.used(), 4);
  assert.deepEqual([0, 1, 2, 3].map(p.event), [
    [EV_KEY, KEY_POWER, 1],
    [0, 0, 0],
    [EV_KEY, KEY_POWER, 0],
    [0, 0, 0],
  ]);
});

test("virtio-input: a guest that never reads holds at most MAX_PENDING events; a tiny buffer stops the device", () => {
  const k = setup("keyboard");
  for (let i = 0; i < MAX_PENDING; i++) k.dev.key(30, i % 2 === 0);
  assert.equal(k.dev.dropped, MAX_PENDING, "two events a key: half of them dropped, oldest first");
  k.offer(1);
  assert.deepEqual(k.event(0), [EV_KEY, 30, 1]);
  assert.equal(k.failed(), "");
  const s = setup("keyboard");
  s.dev.key(2, true);
  s.offer(1, 4);
  assert.match(s.failed(), /holds less than one event/);
});
