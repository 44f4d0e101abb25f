// The VM generation ID device (src/devices/vmgenid.ts): the guest reads a random 16-byte ID at
// any width, a new generation changes it and raises the interrupt until the guest reads it, the
// state round-trips through a snapshot (ID and line), and hostile states are refused by field.
// The devicetree node the guest kernel binds to is checked here too.
import { test } from "node:test";
import assert from "node:assert/strict";
import { VmGenId, VMGENID_BYTES } from "../src/devices/vmgenid.js";
import { load, mutated, refusedAsMade, viaJson } from "./support/device-state.js";
import { buildDeviceTree } from "../src/arch/riscv64/device-tree.js";
import { VMGENID_BASE, VMGENID_IRQ, VMGENID_SIZE } from "../src/arch/riscv64/memory-map.js";

/** A source of "random" bytes that counts: 0..15 first, then 1..16, and so on. */
function counting(): (n: number) => Uint8Array {
  let k = 0;
  return (n) => {
    const b = Uint8Array.from({ length: n }, (_, i) => (k + i) & 0xff);
    k++;
    return b;
  };
}

/** The ID as the guest's driver reads it: four 32-bit words. */
function readId(d: VmGenId): Uint8Array {
  const out = new Uint8Array(VMGENID_BYTES);
  const dv = new DataView(out.buffer);
  for (let off = 0; off < VMGENID_BYTES; off += 4) dv.setUint32(off, Number(d.read(off, 4)), true);
  return out;
}

test("vmgenid: the guest reads the random ID at any width, little-endian; writes change nothing", () => {
  const lines: boolean[] = [];
  const d = new VmGenId((l) => lines.push(l), counting());
  const id = Uint8Array.from({ length: 16 }, (_, i) => i);
  assert.deepEqual(readId(d), id);
  assert.deepEqual(d.generation(), id);
  assert.equal(d.read(0, 8), 0x0706050403020100n);
  assert.equal(d.read(8, 8), 0x0f0e0d0c0b0a0908n);
  assert.equal(d.read(5, 1), 5n);
  assert.equal(d.read(14, 2), 0x0f0en);
  d.write(0, 4, 0xffff_ffffn);
  assert.deepEqual(readId(d), id, "read-only");
  assert.deepEqual(lines, [], "no interrupt at boot");
});

test("vmgenid: a new generation changes the ID and holds the interrupt until the guest reads it", () => {
  const lines: boolean[] = [];
  const d = new VmGenId((l) => lines.push(l), counting());
  const first = readId(d);
  d.newGeneration();
  assert.deepEqual(lines, [true], "raised");
  assert.equal(d.saveState().raised, true);
  const second = readId(d);
  assert.notDeepEqual(second, first);
  assert.deepEqual(
    second,
    Uint8Array.from({ length: 16 }, (_, i) => i + 1),
  );
  assert.deepEqual(lines, [true, false], "the read acknowledged it, once");
  readId(d);
  assert.deepEqual(lines, [true, false]);
  d.newGeneration();
  d.newGeneration();
  assert.deepEqual(lines, [true, false, true], "a line already high stays so");
});

test("vmgenid: the host's RNG must give 16 bytes", () => {
  assert.throws(
    () =>
      new VmGenId(
        () => {},
        () => new Uint8Array(8),
      ),
    /8 random bytes, not 16/,
  );
});

test("vmgenid: the ID and the line survive a snapshot; a clone's new generation differs", () => {
  const a = new VmGenId(() => {}, counting());
  a.newGeneration(); // raised, not yet read
  const saved = a.saveState();
  const lines: boolean[] = [];
  const b = new VmGenId(
    (l) => lines.push(l),
    () => new Uint8Array(16).fill(0xee),
  );
  load(b, viaJson(saved), "vmgenid");
  assert.deepEqual(lines, [true], "the line is driven to its saved level");
  assert.deepEqual(b.saveState(), saved);
  assert.deepEqual(b.generation(), a.generation());
  assert.deepEqual(readId(b), readId(a));
  b.newGeneration();
  assert.deepEqual(b.generation(), new Uint8Array(16).fill(0xee));
  assert.notDeepEqual(b.generation(), a.generation());
});

test("vmgenid: hostile states are refused by field, the device left as made", () => {
  const d = new VmGenId(() => {}, counting());
  const s = d.saveState();
  const make = () =>
    new VmGenId(
      () => {},
      () => new Uint8Array(16).fill(3),
    );
  refusedAsMade(make, mutated(s, "id", Buffer.alloc(15).toString("base64")), /id holds 15 bytes/);
  refusedAsMade(
    make,
    mutated(s, "id", Buffer.alloc(17).toString("base64")),
    /id holds more than 16/,
  );
  refusedAsMade(make, mutated(s, "id", "not base64!"), /id is not base64/);
  refusedAsMade(make, mutated(s, "id", 5), /id is not base64/);
  refusedAsMade(make, mutated(s, "id", undefined), /id is missing/);
  refusedAsMade(make, mutated(s, "raised", 1), /raised is not true or false/);
  refusedAsMade(make, mutated(s, "raised", undefined), /raised is missing/);
  refusedAsMade(make, null, /not an object/);
});

test("vmgenid: the devicetree has a microsoft,vmgenid node with its 16 bytes and PLIC source", () => {
  const dtb = buildDeviceTree({
    harts: 1,
    ramBase: 0x8000_0000n,
    ramSize: 128n << 20n,
    bootargs: "",
    virtio: [],
  });
  const text = Buffer.from(dtb).toString("latin1");
  const node = `vmgenid@${VMGENID_BASE.toString(16)}\0`;
  const at = text.indexOf(node);
  assert.ok(at > 0, "the node is there");
  assert.ok(text.includes("microsoft,vmgenid\0"), "its compatible");
  // Its reg: two u64 cells pairs (address, size) right after the node's name and compatible.
  const reg = Buffer.alloc(16);
  reg.writeBigUInt64BE(VMGENID_BASE, 0);
  reg.writeBigUInt64BE(VMGENID_SIZE, 8);
  assert.ok(Buffer.from(dtb).indexOf(reg, at) > at, "reg: base and 16 bytes");
  assert.equal(VMGENID_SIZE, BigInt(VMGENID_BYTES));
  const irq = Buffer.alloc(4);
  irq.writeUInt32BE(VMGENID_IRQ, 0);
  assert.ok(Buffer.from(dtb).indexOf(irq, at) > at, "interrupts: its PLIC source");
});
