// Unit tests of the device models and the small VMM pieces that own no I/O: UART 16550, PLIC,
// the test finisher / control block, the MMIO bus, GuestMemory and the input queue.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { UART_RX_CAPACITY, Uart16550 } from "../src/devices/legacy/uart16550.js";
import { Plic, PLIC_SOURCES } from "../src/arch/riscv64/plic.js";
import { TestFinisher } from "../src/devices/legacy/test-finisher.js";
import { MmioBus, MmioBusError, type MmioDevice } from "../src/bus/mmio-bus.js";
import { GuestMemory, GuestMemoryError } from "../src/memory/guest-memory.js";
import { INPUT_HIGH_WATER, InputQueue } from "../src/devices/input-queue.js";

// UART register offsets and bits (16550A).
const RBR = 0,
  THR = 0,
  IER = 1,
  IIR = 2,
  FCR = 2,
  LCR = 3,
  MCR = 4,
  LSR = 5,
  MSR = 6,
  SCR = 7;
const IER_RDI = 0x01,
  IER_THRI = 0x02;
const LSR_DR = 0x01,
  LSR_THRE = 0x20,
  LSR_TEMT = 0x40;

function uart() {
  const out: number[] = [];
  const irq: boolean[] = [];
  let space = 0;
  const u = new Uart16550(
    (b) => out.push(b),
    (l) => irq.push(l),
    () => space++,
  );
  const rd = (off: number): number => Number(u.read(off, 1));
  const wr = (off: number, v: number): void => u.write(off, 1, BigInt(v));
  return { u, out, irq, rd, wr, spaceCalls: () => space, level: () => irq.at(-1) ?? false };
}

describe("UART 16550", () => {
  test("THR writes reach the sink, byte by byte, masked to 8 bits", () => {
    const t = uart();
    for (const b of [0x41, 0x00, 0xff, 0x1ff]) t.wr(THR, b);
    assert.deepEqual(t.out, [0x41, 0x00, 0xff, 0xff]);
  });

  test("LSR: THRE and TEMT always (transmit is instant); DR while received bytes wait", () => {
    const t = uart();
    assert.equal(t.rd(LSR), LSR_THRE | LSR_TEMT);
    t.wr(IER, IER_RDI);
    assert.equal(t.u.receive(Uint8Array.of(1, 2)), 2);
    assert.equal(t.rd(LSR), LSR_THRE | LSR_TEMT | LSR_DR);
    assert.equal(t.rd(RBR), 1);
    assert.equal(t.rd(LSR) & LSR_DR, LSR_DR);
    assert.equal(t.rd(RBR), 2);
    assert.equal(t.rd(LSR), LSR_THRE | LSR_TEMT);
    assert.equal(t.rd(RBR), 0, "reading an empty RBR gives 0");
  });

  test("IIR: no interrupt → 0x01; received data (0x04) before THRE (0x02); FIFO bits with FCR enable", () => {
    const t = uart();
    assert.equal(t.rd(IIR), 0x01);
    t.wr(IER, IER_RDI | IER_THRI); // enabling THRI with an empty transmitter raises it
    t.u.receive(Uint8Array.of(0x61));
    assert.equal(t.rd(IIR), 0x04, "RDI has priority");
    assert.equal(t.level(), true);
    assert.equal(t.rd(IIR), 0x04, "reading IIR while RDI is shown does not acknowledge THRE");
    t.rd(RBR);
    assert.equal(t.rd(IIR), 0x02, "then THRE");
    assert.equal(t.rd(IIR), 0x01, "reading IIR acknowledged THRE");
    assert.equal(t.level(), false);
    t.wr(FCR, 0x01);
    assert.equal(t.rd(IIR), 0xc1, "FIFOs enabled");
  });

  test("THRE interrupt: raised when enabled, cleared by reading IIR, raised again by the next THR write; irq follows", () => {
    const t = uart();
    t.wr(THR, 0x30); // THRI not enabled: no interrupt
    assert.deepEqual(t.irq, []);
    t.wr(IER, IER_THRI);
    assert.deepEqual(t.irq, [true]);
    assert.equal(t.rd(IIR), 0x02);
    assert.deepEqual(t.irq, [true, false]);
    t.wr(THR, 0x31);
    assert.deepEqual(t.irq, [true, false, true]);
    t.wr(IER, 0);
    assert.deepEqual(t.irq, [true, false, true, false], "disabling the source lowers the line");
    t.wr(IER, IER_THRI);
    assert.equal(t.level(), true, "re-enabling with an empty transmitter raises THRE again");
  });

  test("the irq line is only driven on changes and follows RDI", () => {
    const t = uart();
    t.wr(IER, IER_RDI);
    assert.deepEqual(t.irq, []);
    t.u.receive(Uint8Array.of(1, 2, 3));
    t.u.receive(Uint8Array.of(4));
    assert.deepEqual(t.irq, [true]);
    for (let i = 0; i < 4; i++) t.rd(RBR);
    assert.deepEqual(t.irq, [true, false]);
  });

  test("receive() takes nothing until IER.RDI is set, then at most UART_RX_CAPACITY bytes", async () => {
    const t = uart();
    const big = new Uint8Array(UART_RX_CAPACITY + 100).map((_, i) => i & 0xff);
    assert.equal(t.u.receive(big), 0);
    assert.equal(t.u.listening(), false);
    t.wr(IER, IER_RDI);
    assert.equal(t.u.listening(), true);
    await Promise.resolve(); // the port announces room (queued as a microtask)
    assert.ok(t.spaceCalls() >= 1, "onRxSpace when the guest starts listening");
    assert.equal(t.u.receive(big), UART_RX_CAPACITY);
    assert.equal(t.u.rxSpace(), 0);
    assert.equal(t.u.receive(Uint8Array.of(9)), 0, "full");
    assert.equal(t.rd(RBR), 0);
    assert.equal(t.rd(RBR), 1);
    assert.equal(t.u.receive(Uint8Array.of(7, 8, 9)), 2, "room for two");
    // drain everything and check order
    const got: number[] = [];
    while (t.rd(LSR) & LSR_DR) got.push(t.rd(RBR));
    assert.equal(got.length, UART_RX_CAPACITY);
    assert.deepEqual(got.slice(0, 3), [2, 3, 4]);
    assert.deepEqual(got.slice(-2), [7, 8]);
    assert.ok(t.spaceCalls() >= 2, "onRxSpace when drained");
    t.wr(IER, 0);
    assert.equal(t.u.receive(Uint8Array.of(1)), 0, "not listening again");
  });

  test("FCR clear-receive drops buffered input", () => {
    const t = uart();
    t.wr(IER, IER_RDI);
    t.u.receive(Uint8Array.of(1, 2, 3));
    t.wr(FCR, 0x03);
    assert.equal(t.rd(LSR) & LSR_DR, 0);
    assert.equal(t.level(), false);
    assert.equal(t.u.rxSpace(), UART_RX_CAPACITY);
  });

  test("DLAB: offsets 0 and 1 reach the divisor latch, not THR/IER", () => {
    const t = uart();
    t.wr(IER, IER_RDI);
    t.wr(LCR, 0x83);
    t.wr(0, 0x34);
    t.wr(1, 0x12);
    assert.equal(t.rd(0), 0x34);
    assert.equal(t.rd(1), 0x12);
    assert.deepEqual(t.out, [], "a DLL write is not transmitted");
    assert.equal(t.rd(LCR), 0x83);
    t.wr(LCR, 0x03);
    assert.equal(t.rd(IER), IER_RDI, "IER kept");
    t.wr(LCR, 0x80);
    assert.equal(t.rd(0), 0x34, "latch kept");
  });

  test("loopback: transmitted bytes come back as received data, not to the sink; MSR mirrors MCR", () => {
    const t = uart();
    t.wr(MCR, 0x10 | 0x0f);
    t.wr(THR, 0x55);
    t.wr(THR, 0x66);
    assert.deepEqual(t.out, []);
    assert.equal(t.rd(LSR) & LSR_DR, LSR_DR);
    assert.equal(t.rd(RBR), 0x55);
    assert.equal(t.rd(RBR), 0x66);
    assert.equal(t.rd(MSR), 0xf0, "DTR→DSR, RTS→CTS, OUT1→RI, OUT2→DCD");
    t.wr(MCR, 0x10 | 0x01);
    assert.equal(t.rd(MSR), 0x20);
    t.wr(MCR, 0);
    assert.equal(t.rd(MSR), 0xb0, "outside loopback: DCD, DSR, CTS up");
    t.wr(THR, 0x77);
    assert.deepEqual(t.out, [0x77]);
  });

  test("scratch register holds a byte", () => {
    const t = uart();
    t.wr(SCR, 0x1a5);
    assert.equal(t.rd(SCR), 0xa5);
  });

  test("reads and writes of every offset and size never throw and reads stay within 8 bits", () => {
    const t = uart();
    t.wr(IER, 0x0f);
    for (let off = 0; off < 0x100; off++) {
      for (const size of [1, 2, 4, 8]) {
        const v = t.u.read(off, size);
        assert.ok(v >= 0n && v <= 0xffn, `read ${off}/${size} = ${v}`);
      }
    }
    for (let off = 0; off < 0x100; off++) {
      if (off === LCR || off === MCR) continue;
      for (const size of [1, 2, 4, 8]) t.u.write(off, size, 0xffff_ffff_ffff_ffffn);
    }
    t.u.write(LCR, 1, 0xffn);
    t.u.write(MCR, 1, 0xffn);
    for (let off = 0; off < 0x100; off++) t.u.read(off, 1);
  });
});

// ---- PLIC ------------------------------------------------------------------------------------

const PRIO = (s: number): number => 4 * s;
const PENDING = 0x1000;
const ENABLE = (ctx: number): number => 0x2000 + 0x80 * ctx;
const THRESHOLD = (ctx: number): number => 0x20_0000 + 0x1000 * ctx;
const CLAIM = (ctx: number): number => 0x20_0000 + 0x1000 * ctx + 4;

function plic(contexts = 2) {
  const events: [number, boolean][] = [];
  const p = new Plic(contexts, (c, l) => events.push([c, l]));
  const rd = (off: number): number => Number(p.read(off, 4));
  const wr = (off: number, v: number): void => p.write(off, 4, BigInt(v >>> 0));
  const line = (ctx: number): boolean => {
    for (let i = events.length - 1; i >= 0; i--) if (events[i]![0] === ctx) return events[i]![1];
    return false;
  };
  return { p, events, rd, wr, line };
}

describe("PLIC", () => {
  test("priorities are stored per source (capped at 7); source 0 has none", () => {
    const t = plic();
    t.wr(PRIO(1), 3);
    t.wr(PRIO(31), 99);
    t.wr(PRIO(0), 5);
    assert.equal(t.rd(PRIO(1)), 3);
    assert.equal(t.rd(PRIO(31)), 7);
    assert.equal(t.rd(PRIO(0)), 0);
  });

  test("enables are per context, bit 0 cannot be set", () => {
    const t = plic(4);
    t.wr(ENABLE(1), 0xffff_ffff);
    assert.equal(t.rd(ENABLE(1)) >>> 0, 0xffff_fffe);
    assert.equal(t.rd(ENABLE(0)), 0);
    assert.equal(t.rd(ENABLE(3)), 0);
  });

  test("a raised, enabled source above the threshold drives the context's line; threshold masks", () => {
    const t = plic();
    t.wr(PRIO(10), 2);
    t.wr(ENABLE(1), 1 << 10);
    t.wr(THRESHOLD(1), 2);
    t.p.setLevel(10, true);
    assert.equal(t.line(1), false, "priority 2 is not above threshold 2");
    assert.equal(t.line(0), false, "context 0 has it disabled");
    assert.equal(t.rd(PENDING), 1 << 10, "pending all the same");
    t.wr(THRESHOLD(1), 1);
    assert.equal(t.line(1), true);
    t.wr(THRESHOLD(1), 7);
    assert.equal(t.line(1), false);
    t.wr(THRESHOLD(1), 0);
    assert.equal(t.line(1), true);
    t.wr(PRIO(10), 0);
    assert.equal(t.line(1), false, "priority 0 never interrupts");
  });

  test("claim returns the highest-priority source (lowest id on ties) and clears its pending bit", () => {
    const t = plic();
    for (const [s, pr] of [
      [3, 1],
      [5, 4],
      [7, 4],
      [31, 2],
    ] as const)
      t.wr(PRIO(s), pr);
    t.wr(ENABLE(0), (1 << 3) | (1 << 5) | (1 << 7) | (1 << 31));
    for (const s of [3, 5, 7, 31]) t.p.setLevel(s, true);
    assert.equal(t.rd(PENDING) >>> 0, ((1 << 3) | (1 << 5) | (1 << 7) | (1 << 31)) >>> 0);
    assert.equal(t.rd(CLAIM(0)), 5);
    assert.equal((t.rd(PENDING) >>> 0) & (1 << 5), 0);
    assert.equal(t.rd(CLAIM(0)), 7);
    assert.equal(t.rd(CLAIM(0)), 31);
    assert.equal(t.rd(CLAIM(0)), 3);
    assert.equal(t.rd(CLAIM(0)), 0, "nothing left");
    assert.equal(t.line(0), false);
  });

  test("a claimed source is not re-signalled until completed; completion with the line high re-pends it", () => {
    const t = plic();
    t.wr(PRIO(10), 1);
    t.wr(ENABLE(1), 1 << 10);
    t.p.setLevel(10, true);
    assert.equal(t.line(1), true);
    assert.equal(t.rd(CLAIM(1)), 10);
    assert.equal(t.line(1), false, "claimed: line drops");
    t.p.setLevel(10, false);
    t.p.setLevel(10, true);
    assert.equal(t.line(1), false, "in service: not forwarded again");
    assert.equal(t.rd(PENDING), 0);
    assert.equal(t.rd(CLAIM(1)), 0, "and not claimable");
    t.wr(CLAIM(1), 10);
    assert.equal(t.line(1), true, "completed with the line still high: pending again");
    assert.equal(t.rd(CLAIM(1)), 10);
    t.p.setLevel(10, false);
    t.wr(CLAIM(1), 10);
    assert.equal(t.line(1), false, "completed with the line low: quiet");
    assert.equal(t.rd(PENDING), 0);
  });

  test("lowering a line withdraws a request that was not yet claimed", () => {
    const t = plic();
    t.wr(PRIO(4), 1);
    t.wr(ENABLE(0), 1 << 4);
    t.p.setLevel(4, true);
    t.p.setLevel(4, false);
    assert.equal(t.line(0), false);
    assert.equal(t.rd(CLAIM(0)), 0);
  });

  test("a source at or below the threshold is not claimable (as QEMU's sifive_plic)", () => {
    const t = plic();
    t.wr(PRIO(10), 1);
    t.wr(ENABLE(1), 1 << 10);
    t.wr(THRESHOLD(1), 1);
    t.p.setLevel(10, true);
    assert.equal(t.line(1), false);
    assert.equal(t.rd(CLAIM(1)), 0, "masked by the threshold");
  });

  test("out-of-range offsets, sources and contexts are ignored", () => {
    const t = plic(2);
    for (const s of [0, -1, PLIC_SOURCES, 32, 1000]) t.p.setLevel(s, true);
    assert.equal(t.rd(PENDING), 0);
    assert.deepEqual(t.events, []);
    t.wr(ENABLE(5), 0xffff_ffff); // context 5 does not exist
    t.wr(THRESHOLD(9), 3);
    assert.equal(t.rd(ENABLE(5)), 0);
    assert.equal(t.rd(THRESHOLD(9)), 0);
    assert.equal(t.rd(CLAIM(9)), 0);
    t.wr(CLAIM(0), 0);
    t.wr(CLAIM(0), 99);
    t.wr(CLAIM(0), 0xffff_ffff);
    t.wr(ENABLE(0) + 4, 0xffff_ffff); // a second enable word: only 32 sources
    assert.equal(t.rd(ENABLE(0) + 4), 0);
    assert.equal(t.rd(ENABLE(0)), 0);
    t.wr(PRIO(40), 5); // beyond the sources
    assert.equal(t.rd(PRIO(40)), 0);
    for (const off of [0x1004, 0x1ffc, 0x1f_fffc, 0x3f_fffc, 0x5f_fffc, 0x20_0008]) {
      assert.equal(typeof t.p.read(off, 4), "bigint");
      t.p.write(off, 4, 0xffn);
    }
    assert.deepEqual(t.events, []);
  });

  test("complete of a source that was never claimed changes nothing", () => {
    const t = plic();
    t.wr(PRIO(2), 1);
    t.wr(ENABLE(0), 1 << 2);
    t.wr(CLAIM(0), 2);
    assert.equal(t.rd(PENDING), 0);
    t.p.setLevel(2, true);
    assert.equal(t.rd(CLAIM(0)), 2);
  });
});

// ---- test finisher / control block -----------------------------------------------------------

function finisher() {
  const ev: string[] = [];
  const f = new TestFinisher({
    powerOff: (s) => ev.push(`off ${s}`),
    reset: () => ev.push("reset"),
    bootMark: () => ev.push("boot"),
    inputReady: () => ev.push("input"),
  });
  return { f, ev };
}

describe("test finisher", () => {
  test("0x5555 powers off with 0, (code << 16) | 0x3333 with code, 0x7777 resets", () => {
    const { f, ev } = finisher();
    f.write(0, 4, 0x5555n);
    f.write(0, 4, (7n << 16n) | 0x3333n);
    f.write(0, 4, 0x3333n);
    f.write(0, 4, (0xffffn << 16n) | 0x3333n);
    f.write(0, 4, 0x7777n);
    f.write(0, 4, (5n << 16n) | 0x5555n); // pass ignores the upper half
    assert.deepEqual(ev, ["off 0", "off 7", "off 0", "off 65535", "reset", "off 0"]);
  });

  test("offset 8 is the boot marker, 0xc input-ready; other values and offsets are ignored; reads are 0", () => {
    const { f, ev } = finisher();
    f.write(8, 4, 1n);
    f.write(0xc, 4, 1n);
    for (const v of [0n, 1n, 0x1234n, 0x5554n, 0x7778n, 0x3334n, 0xffff_ffff_0000_0000n])
      f.write(0, 4, v);
    for (const off of [4, 0x10, 0xff8]) f.write(off, 4, 0x5555n);
    assert.deepEqual(ev, ["boot", "input"]);
    assert.equal(f.read(0, 4), 0n);
    assert.equal(f.read(8, 4), 0n);
  });
});

// ---- MMIO bus --------------------------------------------------------------------------------

class Regs implements MmioDevice {
  log: string[] = [];
  read(offset: number, size: number): bigint {
    this.log.push(`r ${offset} ${size}`);
    return 0xffff_ffff_ffff_ffffn;
  }
  write(offset: number, size: number, value: bigint): void {
    this.log.push(`w ${offset} ${size} ${value.toString(16)}`);
  }
}

describe("MMIO bus", () => {
  test("overlapping ranges are refused, adjacent ones accepted, empty ones refused", () => {
    const bus = new MmioBus();
    bus.map(0x1000n, 0x100n, "a", new Regs());
    for (const [base, size] of [
      [0x1000n, 0x100n],
      [0xf80n, 0x100n],
      [0x10ffn, 0x10n],
      [0x1010n, 0x10n],
      [0x0n, 0x10000n],
    ] as const) {
      assert.throws(
        () => bus.map(base, size, "b", new Regs()),
        MmioBusError,
        `${base.toString(16)}+${size.toString(16)}`,
      );
    }
    bus.map(0x1100n, 0x100n, "after", new Regs());
    bus.map(0xf00n, 0x100n, "before", new Regs());
    assert.throws(() => bus.map(0x3000n, 0n, "empty", new Regs()), MmioBusError);
    assert.throws(() => bus.map(0x3000n, -5n, "negative", new Regs()), MmioBusError);
  });

  test("accesses inside a device reach it with the offset; straddling its end is unmapped", () => {
    const bus = new MmioBus();
    const d = new Regs();
    bus.map(0x1000n, 0x100n, "d", d);
    bus.map(0x1100n, 0x100n, "next", new Regs());
    assert.equal(bus.read(0x1008n, 4), 0xffff_ffffn, "value masked to the access size");
    assert.equal(bus.read(0x10f8n, 8), 0xffff_ffff_ffff_ffffn, "last 8 bytes");
    assert.equal(bus.read(0x10fcn, 8), null, "straddles into the next device");
    assert.equal(bus.write(0x10ffn, 2, 1n), false);
    assert.equal(bus.write(0x10ffn, 1, 0x1ffn), true);
    assert.equal(bus.read(0xfffn, 2), null, "starts before the device");
    assert.equal(bus.read(0x2000n, 1), null, "nothing there");
    assert.equal(bus.read(0xffff_ffff_ffff_fff8n, 8), null);
    assert.deepEqual(d.log, ["r 8 4", "r 248 8", "w 255 1 ff"]);
  });
});

// ---- guest memory ----------------------------------------------------------------------------

describe("GuestMemory", () => {
  const base = 0x8000_0000n;
  const mk = (): { m: GuestMemory; bytes: Uint8Array } => {
    const bytes = new Uint8Array(0x1000);
    return { m: new GuestMemory(base, bytes), bytes };
  };

  test("every out-of-range or wrapping range throws GuestMemoryError", () => {
    const { m } = mk();
    const bad: [bigint, number][] = [
      [base - 1n, 1],
      [base - 1n, 2],
      [base + 0x1000n, 1],
      [base + 0xfffn, 2],
      [base, 0x1001],
      [base + 0x800n, 0x801],
      [0n, 1],
      [base + (1n << 64n), 1],
      [(1n << 64n) - 1n, 2],
      [base, -1],
      [base, 1.5],
      [base, Number.NaN],
      [base, Infinity],
      [base - (1n << 64n), 1],
      [base + 0x1000n, 0x1_0000_0000],
    ];
    for (const [addr, len] of bad) {
      assert.throws(
        () => m.read(addr, len),
        GuestMemoryError,
        `read 0x${addr.toString(16)}+${len}`,
      );
      assert.throws(
        () => m.zero(addr, len),
        GuestMemoryError,
        `zero 0x${addr.toString(16)}+${len}`,
      );
      assert.equal(m.contains(addr, len), false);
      if (Number.isInteger(len) && len >= 0 && len < 0x10000) {
        assert.throws(
          () => m.write(addr, new Uint8Array(len)),
          GuestMemoryError,
          `write 0x${addr.toString(16)}+${len}`,
        );
      }
    }
    for (const a of [base + 0xffdn, base + 0x1000n, base - 4n]) {
      assert.throws(() => m.readU32(a), GuestMemoryError);
      assert.throws(() => m.writeU32(a, 1), GuestMemoryError);
    }
    for (const a of [base + 0xff9n, base + 0xffcn]) {
      assert.throws(() => m.readU64(a), GuestMemoryError);
      assert.throws(() => m.writeU64(a, 1n), GuestMemoryError);
    }
  });

  test("a write that fails writes nothing (writeU64 straddling the end)", () => {
    const { m, bytes } = mk();
    assert.throws(() => m.writeU64(base + 0xffcn, 0x1111_2222_3333_4444n), GuestMemoryError);
    assert.deepEqual([...bytes.subarray(0xffc)], [0, 0, 0, 0], "the in-range half was left alone");
    assert.throws(() => m.write(base + 0xffen, Uint8Array.of(1, 2, 3)), GuestMemoryError);
    assert.deepEqual([...bytes.subarray(0xffc)], [0, 0, 0, 0]);
  });

  test("ranges touching the ends are fine; empty ranges at the end are fine", () => {
    const { m, bytes } = mk();
    m.write(base + 0xff8n, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
    assert.equal(m.readU64(base + 0xff8n), 0x0807_0605_0403_0201n);
    m.writeU32(base, 0xdead_beef);
    assert.equal(m.readU32(base), 0xdead_beef);
    assert.equal(bytes[0], 0xef);
    assert.equal(m.read(base + 0x1000n, 0).length, 0);
    assert.equal(m.contains(base, 0x1000), true);
    m.zero(base, 0x1000);
    assert.ok(bytes.every((b) => b === 0));
  });

  test("reads are copies: later writes on either side do not show through", () => {
    const { m, bytes } = mk();
    bytes[0x10] = 7;
    const r = m.read(base + 0x10n, 4);
    bytes[0x10] = 8;
    assert.equal(r[0], 7, "guest write after the read");
    r[1] = 99;
    assert.equal(bytes[0x11], 0, "writing the copy leaves RAM alone");
    const src = Uint8Array.of(1, 2, 3);
    m.write(base, src);
    src[0] = 42;
    assert.equal(bytes[0], 1, "write() copies too");
  });
});

// ---- input queue -----------------------------------------------------------------------------

describe("InputQueue", () => {
  test("push returns false at and above the high-water mark", () => {
    const q = new InputQueue();
    assert.equal(q.push(new Uint8Array(INPUT_HIGH_WATER - 1)), true);
    assert.equal(q.push(new Uint8Array(1)), false);
    assert.equal(q.size, INPUT_HIGH_WATER);
    assert.equal(q.push(new Uint8Array(0)), false, "an empty push reports the state");
    assert.equal(q.size, INPUT_HIGH_WATER);
  });

  test("drainInto: partial takes keep the rest in order; a take of 0 stops", () => {
    const q = new InputQueue();
    q.push(Uint8Array.of(1, 2, 3));
    q.push(new Uint8Array(0));
    q.push(Uint8Array.of(4, 5));
    const got: number[] = [];
    q.drainInto((c) => {
      got.push(c[0]!, c[1]!);
      return 2;
    });
    assert.deepEqual(got, [1, 2], "stopped after the partial take");
    assert.equal(q.size, 3);
    q.drainInto(() => 0);
    assert.equal(q.size, 3);
    const rest: number[] = [];
    q.drainInto((c) => {
      rest.push(...c);
      return c.length;
    });
    assert.deepEqual(rest, [3, 4, 5]);
    assert.equal(q.size, 0);
    assert.equal(q.push(Uint8Array.of(9)), true, "below the mark again");
  });

  test("popByte returns every byte once, in order, across chunk boundaries", () => {
    const q = new InputQueue();
    q.push(Uint8Array.of(1));
    q.push(Uint8Array.of(2));
    q.push(Uint8Array.of(3, 4));
    q.push(Uint8Array.of(5));
    const got: number[] = [];
    for (let i = 0; i < 6; i++) got.push(q.popByte());
    assert.deepEqual(got, [1, 2, 3, 4, 5, -1]);
    assert.equal(q.size, 0);
  });

  test("a full drain empties the queue and resets the size", () => {
    const q = new InputQueue();
    for (let i = 0; i < 100; i++) q.push(new Uint8Array(1000).fill(i));
    assert.equal(q.push(new Uint8Array(0)), false);
    let n = 0;
    q.drainInto((c) => {
      n += c.length;
      return c.length;
    });
    assert.equal(n, 100_000);
    assert.equal(q.size, 0);
    assert.equal(q.popByte(), -1);
  });
});
