// A device's log lines are rate-limited where the VMM attaches its virtio devices: a guest that
// makes a device fail and resets it, over and over, gets a burst of lines, then a few a minute,
// and the count of the lines left out when one passes again.
import { test } from "node:test";
import assert from "node:assert/strict";
import { GuestMemory } from "../src/memory/guest-memory.js";
import { MmioBus } from "../src/bus/mmio-bus.js";
import { STATUS_NEEDS_RESET, type VirtioMmio } from "../src/devices/virtio/mmio-transport.js";
import { VirtioRng } from "../src/devices/virtio/rng.js";
import { TokenBucket } from "../src/devices/rate-limiter.js";
import { LOG_BURST, LOG_PER_MINUTE } from "../src/devices/log-limiter.js";
import { attachVirtio, slotTable } from "../src/vmm/virtio-slots.js";
import { driveUp } from "./support/virtio-driver.js";

const Q = { index: 0, size: 8, desc: 0x1000n, avail: 0x2000n, used: 0x3000n };

/** One cycle of the attack: set up, offer a zero-length buffer, see the stop, reset. */
async function stopAndReset(t: VirtioMmio, mem: GuestMemory): Promise<void> {
  const w = driveUp(t, [Q]);
  mem.writeU64(Q.desc, 0x8000n);
  mem.writeU32(Q.desc + 8n, 0); // zero length: hostile
  mem.writeU16(Q.desc + 12n, 2);
  mem.writeU16(Q.avail + 4n, 0);
  mem.writeU16(Q.avail + 2n, 1);
  w(0x50, 0);
  await new Promise((r) => setImmediate(r)); // the device runs on the VMM's next turn
  assert.equal(Number(t.read(0x70, 4)) & STATUS_NEEDS_RESET, STATUS_NEEDS_RESET);
  w(0x70, 0);
}

test("a guest looping NEEDS_RESET and reset on virtio-rng: a burst of log lines, then a few a minute with the count left out", async () => {
  let now = 0;
  const lines: string[] = [];
  const mem = new GuestMemory(0n, new Uint8Array(0x4_0000));
  const rng = (name: string) => new VirtioRng(name, new TokenBucket(1e6, 1e6), (b) => b.fill(1));
  const [a, b] = attachVirtio(
    new MmioBus(),
    mem,
    slotTable([rng("virtio-rng"), rng("virtio-rng b")], 2),
    { base: 0x1000_0000n, stride: 0x1000n, slots: 2, setIrq: () => {} },
    (l) => lines.push(l),
    () => now,
  ) as [VirtioMmio, VirtioMmio];
  const cycles = 1000;
  for (let i = 0; i < cycles; i++) await stopAndReset(a, mem);
  assert.equal(lines.length, LOG_BURST, "the burst, then nothing");
  assert.ok(lines.every((l) => /^virtio-rng: zero-length buffer .*needs a reset$/.test(l)));
  // Another device has a bucket of its own.
  await stopAndReset(b, mem);
  assert.match(lines.at(-1)!, /^virtio-rng b: zero-length buffer/);
  // Within the minute's rate, the next line passes with the count of those left out.
  now += 60_000 / LOG_PER_MINUTE;
  await stopAndReset(a, mem);
  assert.deepEqual(lines.slice(LOG_BURST + 1, LOG_BURST + 2), [
    `virtio-rng: ${cycles - LOG_BURST} similar lines suppressed`,
  ]);
  assert.match(lines.at(-1)!, /^virtio-rng: zero-length buffer/);
  assert.equal(lines.length, LOG_BURST + 3);
  // An hour of the attack at the same pace logs what the rate allows, whatever the cycles.
  for (let minute = 0; minute < 60; minute++) {
    for (let i = 0; i < 50; i++) await stopAndReset(a, mem);
    now += 60_000;
  }
  const hour = lines.length - (LOG_BURST + 3);
  // A minute's lines, and one count before the first of them.
  assert.ok(hour <= 60 * (LOG_PER_MINUTE + 1), `${hour} lines in an hour of 3,000 stops`);
  assert.ok(hour >= 59 * LOG_PER_MINUTE, `${hour} lines: the rate lets that many through`);
});
