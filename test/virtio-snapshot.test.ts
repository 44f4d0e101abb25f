// The virtio-mmio transport and its split queues saved and brought back (issue 22): a device the
// driver had running carries on in a fresh transport over a copy of guest RAM, with the
// driver's queues and the device's place in them; a state a driver could not have made (a
// queue outside RAM, a size that is not a power of two or above the maximum, an index beyond
// the ring, undefined status bits, wrong types) is refused by field and changes nothing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { TokenBucket } from "../src/devices/rate-limiter.js";
import { VirtioRng } from "../src/devices/virtio/rng.js";
import { DeviceStateError, type DeviceState } from "../src/devices/device-state.js";
import { DATA, VirtioGuest, settle } from "./support/virtio-guest.js";
import { mutated, refusedAsMade } from "./support/device-state.js";

let fill = 0;
const rng = () =>
  new VirtioRng("virtio-rng", new TokenBucket(1e9, 1e9), (b) => b.fill(++fill & 0xff));

test("transport: a restored rng serves the next request at the right place in its rings", async () => {
  const g = new VirtioGuest(rng()).up(1 << 29); // EVENT_IDX
  for (let i = 0; i < 3; i++) g.post(0, [{ addr: DATA + BigInt(i * 64), len: 16, write: true }]);
  await settle();
  assert.equal(g.usedIdx(0), 3);
  g.t.write(0x30, 4, 0n); // QueueSel, DriverFeaturesSel as a driver left them
  g.t.write(0x24, 4, 1n);
  const state = g.save();

  const r = g.restoreInto(rng());
  assert.equal(r.t.read(0x70, 4), 15n, "DRIVER_OK as the driver left it");
  assert.equal(r.t.read(0x44, 4), 1n, "queue 0 ready");
  assert.deepEqual(r.t.saveState(), state as DeviceState, "the same state back");
  const head = r.post(0, [{ addr: DATA + 0x1000n, len: 32, write: true }]);
  await settle();
  assert.equal(r.usedIdx(0), 4, "served as the fourth request");
  assert.deepEqual(r.used(0, 3), { id: head, len: 32 });
  assert.equal(r.mem.read(DATA + 0x1000n, 1)[0], fill & 0xff, "with the restored device's bytes");
  assert.equal(r.irqs.at(-1), true, "the driver is interrupted (EVENT_IDX state carried over)");
  assert.equal(r.log.length, 0);
});

test("transport: a request the guest made before the snapshot, never seen, is served after it", async () => {
  const g = new VirtioGuest(rng()).up();
  g.post(0, [{ addr: DATA, len: 8, write: true }], false); // made available, notify not yet run
  const r = g.restoreInto(rng());
  await settle();
  assert.equal(r.usedIdx(0), 1, "the restore notifies each ready queue once");
});

test("transport: a device set up but not running, and one reset, come back as they were", () => {
  const g = new VirtioGuest(rng());
  g.t.write(0x70, 4, 3n); // ACKNOWLEDGE | DRIVER
  g.t.write(0x38, 4, 8n); // QueueNum, not ready
  const r = g.restoreInto(rng());
  assert.equal(r.t.read(0x70, 4), 3n);
  assert.equal(r.t.read(0x44, 4), 0n);
  assert.deepEqual(r.t.saveState(), g.t.saveState());
});

test("transport: hostile states are refused by field, the transport left as made", async () => {
  const g = new VirtioGuest(rng()).up();
  g.post(0, [{ addr: DATA, len: 8, write: true }]);
  await settle();
  const s = g.t.saveState();
  const make = () => new VirtioGuest(rng()).t;
  const bad: [string, unknown, RegExp][] = [
    [
      "queues.0.desc",
      "0xfff80",
      /queues\[0\]: descriptor table at 0xfff80\+256 is outside guest RAM/,
    ],
    ["queues.0.used", "0x3002", /queues\[0\]: used ring at 0x3002 is misaligned/],
    ["queues.0.num", 12, /queues\[0\]: queue size 12 is not a power of two/],
    ["queues.0.num", 128, /queues\[0\]: queue 0 size 128 exceeds its maximum 64/],
    [
      "queues.0.lastAvail",
      18,
      /last_avail 18 is 17 entries past used.idx 1, beyond the ring \(16\)/,
    ],
    ["queues.0.usedIdx", 65536, /queues\[0\]: usedIdx is 65536, outside 0\.\.65535/],
    ["queues.0.signalledUsed", undefined, /signalledUsed is missing/],
    ["queues.0.ready", "yes", /queues\[0\]: ready is not true or false/],
    ["queues", [], /queues is not 1 queues/],
    ["status", 0x1f, /status 0x1f has undefined bits/],
    ["status", 3, /queues\[0\]: ready before FEATURES_OK/],
    ["status", 256, /status is 256/],
    ["driverFeatures", 5, /driverFeatures is not a 0x\.\.\. u64/],
    ["driverFeatures", "0x100000001", /driverFeatures were not offered/],
    ["driverFeatures", "0x1", /driverFeatures were not offered/],
    ["interruptStatus", 4, /interruptStatus is 4, outside 0\.\.3/],
    ["configGeneration", -1, /configGeneration/],
    ["device", [], /device: not an object/],
  ];
  for (const [field, value, why] of bad)
    refusedAsMade(make, mutated(s, field, value), why, "virtio-rng");
  refusedAsMade(make, "{}", /virtio-rng: not an object/, "virtio-rng");
});

test("transport: a device without snapshot support is refused when saved", () => {
  const dev = rng();
  Object.defineProperty(dev, "saveState", { value: undefined }); // as a device that has none
  const g = new VirtioGuest(dev);
  assert.throws(
    () => g.t.saveState(),
    (e: unknown) =>
      e instanceof DeviceStateError && /virtio-rng: cannot be snapshotted yet/.test(e.message),
  );
});
