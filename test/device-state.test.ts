// The reader every device's snapshot state goes through: each value typed and bounded, and a
// refusal names the device, the field and why (a snapshot is hostile input).
import { test } from "node:test";
import assert from "node:assert/strict";
import { DeviceStateError, StateReader, bytes, u64 } from "../src/devices/device-state.js";

const refused = (fn: () => unknown, message: RegExp): void =>
  assert.throws(fn, (e: unknown) => e instanceof DeviceStateError && message.test(e.message));

test("a device's saved state reads back as it was written", () => {
  const saved = {
    status: 15,
    ready: true,
    desc: u64(0x8000_1000n),
    config: bytes(new Uint8Array([1, 2, 3, 250])),
    queues: [{ size: 256 }, { size: 128 }],
    lines: [0, 1, 1],
    name: "vda",
  };
  const r = new StateReader(JSON.parse(JSON.stringify(saved)), "virtio-blk vda");
  assert.equal(r.int("status", 0, 255), 15);
  assert.equal(r.bool("ready"), true);
  assert.equal(r.u64("desc"), 0x8000_1000n);
  assert.deepEqual([...r.bytes("config", 4)], [1, 2, 3, 250]);
  const q = r.list("queues", 8);
  assert.equal(q.obj(1).int("size", 1, 32768), 128);
  assert.deepEqual(r.list("lines", 3).ints(0, 1), [0, 1, 1]);
  assert.equal(r.str("name", 8, /^[a-z]+$/), "vda");
  assert.equal(u64(-1n), "0xffffffffffffffff");
});

test("a value out of its bounds, of the wrong type or missing is refused by name", () => {
  const r = new StateReader(
    {
      n: 300,
      f: 1.5,
      s: "0x1_0",
      big: "0x10000000000000000",
      b: "!!",
      long: "AAAAAAAA",
      l: [1, 2, 3],
      o: [],
    },
    "plic",
  );
  refused(() => r.int("n", 0, 255), /^plic: n is 300, outside 0\.\.255$/);
  refused(() => r.int("f", 0, 255), /f is not an integer/);
  refused(() => r.int("missing", 0, 1), /missing is missing/);
  refused(() => r.u64("s"), /s is not a 0x\.\.\. u64/);
  refused(() => r.u64("big"), /not a 0x/);
  refused(() => r.u64("l"), /not a 0x/);
  refused(() => new StateReader({ a: "0x100" }, "x").u64("a", 0xffn), /above 0xff/);
  refused(() => r.bytes("b", 10), /b is not base64/);
  refused(() => r.bytes("long", 5), /holds more than 5 bytes/);
  refused(() => r.list("l", 2), /l has more than 2 items/);
  refused(() => r.list("l", 3).ints(2, 3), /plic: l\[0\]: not an integer in 2\.\.3/);
  refused(() => r.obj("o"), /plic: o: not an object/);
  refused(() => new StateReader(null, "uart"), /uart: not an object/);
  // A key from the prototype is not a field.
  refused(() => r.int("toString", 0, 1), /toString is missing/);
});
