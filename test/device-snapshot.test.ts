// The riscv64 machine's own devices saved and brought back (issue 22): the PLIC, the 16550 UART
// behind the serial console and the goldfish RTC, each driven into a state by register accesses
// as a guest would, saved, passed through JSON and loaded into a fresh device of the same
// configuration, which carries on; and hostile states refused by name, the fresh device left
// as it was made.
import { test } from "node:test";
import assert from "node:assert/strict";
import { load, mutated, refusedAsMade, viaJson } from "./support/device-state.js";
import { Plic } from "../src/arch/riscv64/plic.js";
import { SerialConsole } from "../src/vmm/serial-console.js";
import { GoldfishRtc } from "../src/devices/goldfish-rtc.js";
import { FakeRtcHost } from "./support/fake-rtc-host.js";

const CLAIM_S = 0x20_1004; // context 1 (hart 0, S-mode): claim/complete

test("PLIC: a restored PLIC has the same claims, enables and outputs", () => {
  const outs: [number, boolean][] = [];
  const a = new Plic(4, (c, l) => outs.push([c, l]));
  a.write(4 * 3, 4, 5n); // source 3 priority 5
  a.write(4 * 7, 4, 2n); // source 7 priority 2
  a.write(0x2080, 4, BigInt((1 << 3) | (1 << 7))); // context 1 enables 3 and 7
  a.write(0x20_1000, 4, 1n); // context 1 threshold 1
  a.setLevel(3, true);
  a.setLevel(7, true);
  assert.equal(a.read(CLAIM_S, 4), 3n, "the original claims 3 first");
  const saved = a.saveState();

  const got: [number, boolean][] = [];
  const b = new Plic(4, (c, l) => got.push([c, l]));
  load(b, viaJson(saved), "plic");
  assert.deepEqual(got, [[1, true]], "context 1's output is driven high again (7 is pending)");
  assert.deepEqual(b.saveState(), saved);
  // Both carry on alike: 7 is claimed next, 3 completed and re-pended while its line is high.
  for (const p of [a, b]) {
    assert.equal(p.read(CLAIM_S, 4), 7n);
    assert.equal(p.read(CLAIM_S, 4), 0n, "3 is in service, 7 claimed");
    p.write(CLAIM_S, 4, 3n);
    assert.equal(p.read(CLAIM_S, 4), 3n, "completed while high: pending again");
    assert.equal(p.read(0x2080, 4), BigInt((1 << 3) | (1 << 7)));
    assert.equal(p.read(0x20_1000, 4), 1n);
  }
});

test("PLIC: hostile states are refused by field, the PLIC left as made", () => {
  const p = new Plic(4, () => {});
  p.write(4 * 3, 4, 5n);
  p.setLevel(3, true);
  const s = p.saveState();
  const make = () => new Plic(4, () => {});
  refusedAsMade(make, mutated(s, "priority", [0, 8]), /priority/);
  refusedAsMade(make, mutated(s, "priority", [0, 1, 2]), /priority is not 32 values/);
  refusedAsMade(make, mutated(s, "level", 1), /level has source 0/);
  refusedAsMade(make, mutated(s, "pending", "8"), /pending is not an integer/);
  refusedAsMade(make, mutated(s, "inService", 8), /level, pending and inService disagree/);
  refusedAsMade(make, mutated(s, "enable", [0, 0]), /enable is not one per context \(4\)/);
  refusedAsMade(make, mutated(s, "enable", [1, 0, 0, 0]), /enable has source 0/);
  refusedAsMade(make, mutated(s, "threshold", [0, 0, 9, 0]), /threshold\[2\]/);
  refusedAsMade(make, mutated(s, "threshold", undefined), /threshold is missing/);
  refusedAsMade(make, null, /not an object/);
});

/** A serial console whose UART the guest has set up, with output collected. */
function serial(held = false) {
  const out: number[] = [];
  const irqs: boolean[] = [];
  const c = new SerialConsole(
    (b) => out.push(...b),
    (l) => irqs.push(l),
    held,
  );
  return { c, out, irqs };
}

test("UART: a restored serial console gives the guest the same bytes and registers", () => {
  const { c: a } = serial();
  const u = a.uart;
  u.write(3, 1, 0x80n); // DLAB
  u.write(0, 1, 0x01n); // divisor 1
  u.write(3, 1, 0x03n); // 8N1
  u.write(7, 1, 0x5an);
  u.write(2, 1, 0x01n); // FIFO on
  u.write(1, 1, 0x01n); // receive interrupts on: the driver listens
  a.sendInput(new TextEncoder().encode("hello"), () => {});
  assert.equal(u.read(0, 1), BigInt("h".charCodeAt(0)));
  const saved = a.saveState();

  const { c: b, irqs } = serial(true);
  load(b, viaJson(saved), "serial");
  assert.deepEqual(irqs, [true], "the receive interrupt is driven again");
  for (const x of [a, b]) {
    let s = "";
    while ((x.uart.read(5, 1) & 1n) !== 0n) s += String.fromCharCode(Number(x.uart.read(0, 1)));
    assert.equal(s, "ello", "the same bytes follow");
    assert.equal(x.uart.read(7, 1), 0x5an);
    assert.equal(x.uart.read(3, 1), 0x03n);
    assert.equal(x.uart.read(2, 1) & 0xc0n, 0xc0n, "FIFO on");
    x.uart.write(3, 1, 0x83n);
    assert.equal(x.uart.read(0, 1), 1n, "divisor latch");
    x.uart.write(3, 1, 0x03n);
  }
  // Not held: input typed after the restore reaches the guest.
  b.sendInput(new TextEncoder().encode("!"), () => {});
  assert.equal(b.uart.read(0, 1), BigInt("!".charCodeAt(0)));
});

test("UART: held input stays held after a restore, and hostile states are refused", () => {
  const { c: a } = serial(true);
  a.uart.write(1, 1, 0x01n);
  const saved = a.saveState();
  const { c: b } = serial(false);
  load(b, viaJson(saved), "serial");
  b.sendInput(Uint8Array.of(0x41), () => {});
  assert.equal(b.uart.read(5, 1) & 1n, 0n, "held until the guest's command is ready");
  b.release();
  assert.equal(b.uart.read(0, 1), 0x41n);

  const make = () => serial().c;
  refusedAsMade(make, mutated(saved, "uart.ier", 0x10), /uart: ier is 16, outside 0\.\.15/);
  refusedAsMade(make, mutated(saved, "uart.mcr", 0x20), /mcr/);
  refusedAsMade(make, mutated(saved, "uart.fifoEnabled", 1), /fifoEnabled is not true or false/);
  refusedAsMade(
    make,
    mutated(saved, "uart.rx", Buffer.alloc(4097).toString("base64")),
    /rx holds more than 4096 bytes/,
  );
  refusedAsMade(make, mutated(saved, "held", undefined), /held is missing/);
});

test("RTC: the alarm survives a restore and fires on the host's clock", () => {
  const host = new FakeRtcHost(1_000_000);
  const lines: boolean[] = [];
  const a = new GoldfishRtc(host, (l) => lines.push(l));
  const alarm = BigInt(1_000_000 + 5_000) * 1_000_000n;
  a.write(0x10, 4, 1n); // IRQ enabled
  a.write(0x0c, 4, alarm >> 32n);
  a.write(0x08, 4, alarm & 0xffff_ffffn);
  assert.equal(a.read(0x18, 4), 1n, "armed");
  const saved = a.saveState();
  a.close();

  const host2 = new FakeRtcHost(1_000_000 + 1_000);
  const got: boolean[] = [];
  const b = new GoldfishRtc(host2, (l) => got.push(l));
  load(b, viaJson(saved), "rtc");
  assert.equal(b.read(0x18, 4), 1n, "still armed");
  assert.equal(b.read(0x10, 4), 1n);
  assert.equal(b.read(0x08, 4), alarm & 0xffff_ffffn);
  assert.equal(host2.live(), 1, "its timer is armed on the new host");
  assert.deepEqual(got, [false], "the line is driven to what the state says");
  host2.advance(3_999);
  assert.deepEqual(got, [false]);
  host2.advance(1);
  assert.deepEqual(got, [false, true], "the alarm fires when the host's clock reaches it");
  assert.equal(b.read(0x18, 4), 0n);
  // The time is the host's: the snapshot carries none.
  b.read(0, 4);
  assert.equal(b.read(4, 4), (BigInt(host2.ms) * 1_000_000n) >> 32n);

  const make = () => new GoldfishRtc(new FakeRtcHost(0), () => {});
  refusedAsMade(make, mutated(saved, "alarmNs", "0x1_0"), /rtc: alarmNs is not a 0x/, "rtc");
  refusedAsMade(make, mutated(saved, "timeHigh", 2 ** 32), /timeHigh/);
  refusedAsMade(make, mutated(saved, "armed", "yes"), /armed is not true or false/);
});

test("RTC: an alarm that came due while the VM was saved fires at once on restore", () => {
  const host = new FakeRtcHost(0);
  const a = new GoldfishRtc(host, () => {});
  a.write(0x10, 4, 1n);
  a.write(0x0c, 4, 0n);
  a.write(0x08, 4, 2_000_000n); // 2 ms
  const got: boolean[] = [];
  const b = new GoldfishRtc(new FakeRtcHost(10), (l) => got.push(l));
  load(b, viaJson(a.saveState()), "rtc");
  assert.deepEqual(got, [false, true]);
  assert.equal(b.read(0x18, 4), 0n, "disarmed, the interrupt pending");
});
