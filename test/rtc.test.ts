// Unit tests of the two real-time clock models on a fake host clock and timer: the goldfish RTC
// (riscv64) and the MC146818 CMOS RTC (x86-64). What they show, what a guest's write changes
// (its own offset, never the host's clock), their alarms and interrupts, hostile accesses.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { FakeRtcHost as FakeHost } from "./support/fake-rtc-host.js";
import {
  GOLDFISH_ALARM_HIGH,
  GOLDFISH_ALARM_LOW,
  GOLDFISH_ALARM_STATUS,
  GOLDFISH_CLEAR_ALARM,
  GOLDFISH_CLEAR_INTERRUPT,
  GOLDFISH_IRQ_ENABLED,
  GOLDFISH_TIME_HIGH,
  GOLDFISH_TIME_LOW,
  GoldfishRtc,
} from "../src/devices/goldfish-rtc.js";
import {
  A_UIP,
  B_24H,
  B_AIE,
  B_BINARY,
  B_SET,
  B_UIE,
  C_AF,
  C_IRQF,
  C_UF,
  CMOS_CENTURY,
  CMOS_DAY,
  CMOS_DAY_OF_WEEK,
  CMOS_HOURS,
  CMOS_HOURS_ALARM,
  CMOS_MINUTES,
  CMOS_MINUTES_ALARM,
  CMOS_MONTH,
  CMOS_SECONDS,
  CMOS_SECONDS_ALARM,
  CMOS_STATUS_A,
  CMOS_STATUS_B,
  CMOS_STATUS_C,
  CMOS_STATUS_D,
  CMOS_TIME_REGS,
  CMOS_YEAR,
  CmosRtc,
} from "../src/devices/legacy/cmos-rtc.js";

const NS = 1_000_000n;

// 2024-02-29 23:59:58.250 UTC, a Thursday (day of week 5 with Sunday = 1).
const T0 = Date.UTC(2024, 1, 29, 23, 59, 58, 250);

describe("goldfish RTC", () => {
  function rtc(ms = T0) {
    const host = new FakeHost(ms);
    const irq: boolean[] = [];
    const r = new GoldfishRtc(host, (l) => irq.push(l));
    const rd = (off: number): bigint => r.read(off, 4);
    const wr = (off: number, v: bigint): void => r.write(off, 4, v);
    const time = (): bigint => {
      const lo = rd(GOLDFISH_TIME_LOW);
      return (rd(GOLDFISH_TIME_HIGH) << 32n) | lo;
    };
    const setTime = (ns: bigint): void => {
      wr(GOLDFISH_TIME_HIGH, ns >> 32n);
      wr(GOLDFISH_TIME_LOW, ns & 0xffff_ffffn);
    };
    const setAlarm = (ns: bigint): void => {
      wr(GOLDFISH_ALARM_HIGH, ns >> 32n);
      wr(GOLDFISH_ALARM_LOW, ns & 0xffff_ffffn);
    };
    return { host, irq, r, rd, wr, time, setTime, setAlarm, level: () => irq.at(-1) ?? false };
  }

  test("reads the host's time in nanoseconds, low half first (it latches the high half)", () => {
    const t = rtc();
    assert.equal(t.time(), BigInt(T0) * NS);
    t.host.advance(1500);
    assert.equal(t.time(), BigInt(T0 + 1500) * NS);
    // The high half read after the low half belongs to the same instant even if the time
    // moved on in between (here across a change of the high half).
    const edge = rtc(Number(((1n << 32n) * 300n - 1n) / NS)); // 1 ms before a high-half change
    const lo = edge.rd(GOLDFISH_TIME_LOW);
    edge.host.advance(5);
    const hi = edge.rd(GOLDFISH_TIME_HIGH);
    assert.equal(hi, 299n);
    assert.ok(lo > 0xff00_0000n);
  });

  test("a guest's write moves its own clock, not the host's; the clock runs on from there", () => {
    const t = rtc();
    const set = 1_000_000_000n * NS; // 2001-09-09
    t.setTime(set);
    assert.equal(t.time(), set);
    assert.equal(t.host.nowNs(), BigInt(T0) * NS, "the host's clock is untouched");
    t.host.advance(2000);
    assert.equal(t.time(), set + 2000n * NS);
    assert.equal(t.r.clock.offset, set - BigInt(T0) * NS);
    // A second RTC (another VM) on the same host still shows the host's time.
    const other = new GoldfishRtc(t.host, () => {});
    assert.equal(other.read(GOLDFISH_TIME_LOW, 4), t.host.nowNs() & 0xffff_ffffn);
    // The 64-bit register wraps like the hardware's instead of failing.
    t.setTime(0xffff_ffff_ffff_ffffn);
    t.host.advance(1);
    assert.equal(t.time(), NS - 1n);
  });

  test("the alarm fires when the guest's time reaches it: status, interrupt, clear", () => {
    const t = rtc();
    t.wr(GOLDFISH_IRQ_ENABLED, 1n);
    assert.equal(t.rd(GOLDFISH_IRQ_ENABLED), 1n);
    const at = BigInt(T0 + 10_000) * NS;
    t.setAlarm(at);
    assert.equal(t.rd(GOLDFISH_ALARM_STATUS), 1n);
    assert.equal((t.rd(GOLDFISH_ALARM_HIGH) << 32n) | t.rd(GOLDFISH_ALARM_LOW), at);
    t.host.advance(9_999);
    assert.equal(t.level(), false);
    t.host.advance(1);
    assert.equal(t.level(), true, "the interrupt is raised at the alarm time");
    assert.equal(t.rd(GOLDFISH_ALARM_STATUS), 0n, "a fired alarm is disarmed");
    t.wr(GOLDFISH_CLEAR_INTERRUPT, 1n);
    assert.equal(t.level(), false);
    assert.equal(t.host.live(), 0);
  });

  test("an alarm in the past fires at once; one disabled by IRQ_ENABLED stays pending", () => {
    const t = rtc();
    t.setAlarm(BigInt(T0 - 1) * NS);
    assert.equal(t.rd(GOLDFISH_ALARM_STATUS), 0n);
    assert.equal(t.level(), false, "interrupt not enabled");
    t.wr(GOLDFISH_IRQ_ENABLED, 1n);
    assert.equal(t.level(), true, "pending shows once enabled");
    t.wr(GOLDFISH_IRQ_ENABLED, 0n);
    assert.equal(t.level(), false);
  });

  test("CLEAR_ALARM cancels; a guest setting its clock past the alarm fires it", () => {
    const t = rtc();
    t.wr(GOLDFISH_IRQ_ENABLED, 1n);
    t.setAlarm(BigInt(T0 + 60_000) * NS);
    t.wr(GOLDFISH_CLEAR_ALARM, 1n);
    assert.equal(t.rd(GOLDFISH_ALARM_STATUS), 0n);
    assert.equal(t.host.live(), 0);
    t.host.advance(120_000);
    assert.equal(t.level(), false);
    t.setAlarm(BigInt(T0 + 3_600_000) * NS);
    t.setTime(BigInt(T0 + 7_200_000) * NS);
    assert.equal(t.level(), true);
  });

  test("an alarm years away waits on re-armed host timers within setTimeout's limit", () => {
    const t = rtc();
    t.wr(GOLDFISH_IRQ_ENABLED, 1n);
    const far = 100 * 86_400_000; // 100 days: more than one host timer can wait
    t.setAlarm(BigInt(T0 + far) * NS);
    t.host.advance(far - 1);
    assert.equal(t.level(), false);
    assert.ok(t.host.armed >= 4, "re-armed");
    t.host.advance(1);
    assert.equal(t.level(), true);
  });

  test("hostile accesses: odd sizes and offsets read 0 and change nothing; close stops the alarm", () => {
    const t = rtc();
    for (const size of [1, 2, 8]) {
      assert.equal(t.r.read(GOLDFISH_TIME_LOW, size), 0n);
      t.r.write(GOLDFISH_TIME_LOW, size, 0n);
    }
    for (const off of [0x01, 0x02, 0x20, 0x24, 0xffc]) {
      assert.equal(t.rd(off), 0n);
      t.wr(off, 0xffff_ffffn);
    }
    t.wr(GOLDFISH_IRQ_ENABLED, 0xffff_fffen); // bit 0 clear: disabled
    assert.equal(t.rd(GOLDFISH_IRQ_ENABLED), 0n);
    assert.equal(t.time(), BigInt(T0) * NS, "no write above set the time");
    t.wr(GOLDFISH_IRQ_ENABLED, 1n);
    t.setAlarm(BigInt(T0 + 1000) * NS);
    t.r.close();
    t.host.advance(5000);
    assert.equal(t.level(), false, "no interrupt after the VM ended");
  });
});

describe("CMOS RTC (MC146818)", () => {
  function cmos(ms = T0) {
    const host = new FakeHost(ms);
    const irq: boolean[] = [];
    const r = new CmosRtc(host, (l) => irq.push(l));
    const rd = (reg: number): number => {
      r.write(0, 1, BigInt(reg));
      return Number(r.read(1, 1));
    };
    const wr = (reg: number, v: number): void => {
      r.write(0, 1, BigInt(reg));
      r.write(1, 1, BigInt(v));
    };
    const time = (): number[] => CMOS_TIME_REGS.map(rd);
    return { host, irq, r, rd, wr, time, level: () => irq.at(-1) ?? false };
  }

  test("power-on state: BCD, 24 hours, the host's time; A's divider runs, D says valid", () => {
    const t = cmos();
    assert.equal(t.rd(CMOS_STATUS_B), B_24H);
    assert.equal(t.rd(CMOS_STATUS_A) & 0x7f, 0x26);
    assert.equal(t.rd(CMOS_STATUS_D), 0x80);
    assert.equal(t.rd(CMOS_STATUS_C), 0);
    // 2024-02-29 23:59:58, Thursday: BCD
    assert.deepEqual(t.time(), [0x58, 0x59, 0x23, 0x05, 0x29, 0x02, 0x24, 0x20]);
    t.host.advance(2000); // 2024-03-01 00:00:00.250, Friday
    assert.deepEqual(t.time(), [0x00, 0x00, 0x00, 0x06, 0x01, 0x03, 0x24, 0x20]);
  });

  test("binary and 12-hour formats per status B", () => {
    const t = cmos(Date.UTC(1999, 11, 31, 13, 5, 9));
    t.wr(CMOS_STATUS_B, B_24H | B_BINARY);
    assert.deepEqual(t.time(), [9, 5, 13, 6, 31, 12, 99, 19]);
    t.wr(CMOS_STATUS_B, B_BINARY); // 12 hours: 1 PM
    assert.equal(t.rd(CMOS_HOURS), 0x80 | 1);
    t.wr(CMOS_STATUS_B, 0); // BCD, 12 hours
    assert.equal(t.rd(CMOS_HOURS), 0x81);
    const midnight = cmos(Date.UTC(2000, 0, 1, 0, 30));
    midnight.wr(CMOS_STATUS_B, 0);
    assert.equal(midnight.rd(CMOS_HOURS), 0x12, "12 AM");
    const noon = cmos(Date.UTC(2000, 0, 1, 12, 30));
    noon.wr(CMOS_STATUS_B, 0);
    assert.equal(noon.rd(CMOS_HOURS), 0x92, "12 PM");
  });

  test("Linux's way of setting the time (SET, registers, SET off) moves only the VM's offset", () => {
    const t = cmos();
    t.wr(CMOS_STATUS_B, B_24H | B_SET);
    assert.equal(t.rd(CMOS_STATUS_A) & A_UIP, 0, "no update in progress while SET");
    t.host.advance(3000);
    assert.equal(t.rd(CMOS_SECONDS), 0x58, "SET stops the registers");
    for (const [reg, v] of [
      [CMOS_YEAR, 0x30],
      [CMOS_MONTH, 0x07],
      [CMOS_DAY, 0x04],
      [CMOS_HOURS, 0x12],
      [CMOS_MINUTES, 0x34],
      [CMOS_SECONDS, 0x56],
    ] as const) {
      t.wr(reg, v);
    }
    t.wr(CMOS_STATUS_B, B_24H);
    assert.deepEqual(t.time(), [0x56, 0x34, 0x12, 0x05, 0x04, 0x07, 0x30, 0x20]);
    t.host.advance(4000);
    assert.equal(t.rd(CMOS_SECONDS), 0x00);
    assert.equal(t.rd(CMOS_MINUTES), 0x35);
    assert.equal(t.host.ms, T0 + 7000, "the host's clock is untouched");
    assert.equal(t.r.clock.offset, BigInt(Date.UTC(2030, 6, 4, 12, 34, 56) - (T0 + 3000)) * NS);
  });

  test("a write to a time register while the clock runs sets that field; century too", () => {
    const t = cmos();
    t.wr(CMOS_CENTURY, 0x21);
    assert.equal(t.rd(CMOS_CENTURY), 0x21);
    assert.equal(t.rd(CMOS_YEAR), 0x24);
    assert.equal(t.rd(CMOS_DAY_OF_WEEK), 0x03, "2124-02-29 is a Tuesday (Sunday is 1)");
    t.wr(CMOS_MINUTES, 0x07);
    assert.deepEqual(t.time(), [0x58, 0x07, 0x23, 0x03, 0x29, 0x02, 0x24, 0x21]);
    assert.equal(t.host.ms, T0, "the host's clock is untouched");
  });

  test("UIP is set only around a second's update, and not while the divider is reset", () => {
    const t = cmos(Date.UTC(2024, 0, 1, 0, 0, 0, 500));
    assert.equal(t.rd(CMOS_STATUS_A) & A_UIP, 0);
    t.host.advance(500); // at the second boundary
    assert.equal(t.rd(CMOS_STATUS_A) & A_UIP, A_UIP);
    t.host.advance(1);
    assert.equal(t.rd(CMOS_STATUS_A) & A_UIP, A_UIP, "the update lasts about 2 ms");
    t.host.advance(1);
    assert.equal(t.rd(CMOS_STATUS_A) & A_UIP, 0);
    t.host.advance(998); // the next boundary
    t.wr(CMOS_STATUS_A, 0x70 | 0x06); // divider reset
    assert.equal(t.rd(CMOS_STATUS_A), 0x76, "no update while the divider is reset");
    t.host.advance(500);
    t.wr(CMOS_STATUS_A, 0xa6); // a guest writing UIP does not set it
    assert.equal(t.rd(CMOS_STATUS_A), 0x26, "UIP is read-only; the rest is kept");
  });

  test("update and alarm interrupts on IRQ 8, through status C which clears on read", () => {
    const t = cmos(Date.UTC(2024, 0, 1, 10, 0, 0, 100));
    assert.equal(t.host.live(), 0, "no timer while no interrupt is enabled");
    t.wr(CMOS_SECONDS_ALARM, 0x03);
    t.wr(CMOS_MINUTES_ALARM, 0xc0); // any minute
    t.wr(CMOS_HOURS_ALARM, 0xff); // any hour
    t.wr(CMOS_STATUS_B, B_24H | B_AIE);
    assert.equal(t.host.live(), 1);
    t.host.advance(1000); // 10:00:01
    assert.equal(t.level(), false, "UF alone does not interrupt with only AIE on");
    t.host.advance(2000); // 10:00:03: the alarm
    assert.equal(t.level(), true);
    const c = t.rd(CMOS_STATUS_C);
    assert.equal(c & (C_IRQF | C_AF), C_IRQF | C_AF);
    assert.equal(c & C_UF, C_UF, "updates set UF whether or not it is enabled");
    assert.equal(t.level(), false, "reading C lowers the line");
    assert.equal(t.rd(CMOS_STATUS_C), 0);
    t.wr(CMOS_STATUS_B, B_24H | B_UIE);
    t.host.advance(1000);
    assert.equal(t.level(), true);
    assert.equal(t.rd(CMOS_STATUS_C), C_IRQF | C_UF);
    t.wr(CMOS_STATUS_B, B_24H);
    assert.equal(t.host.live(), 0, "the timer stops with the interrupts");
    t.host.advance(1000);
    assert.equal(t.rd(CMOS_STATUS_C), C_UF, "flags without IRQF when not enabled");
    // SET turns UIE off (MC146818).
    t.wr(CMOS_STATUS_B, B_24H | B_SET | B_UIE);
    assert.equal(t.rd(CMOS_STATUS_B), B_24H | B_SET);
    t.r.close();
  });

  test("hostile indexes and values: every register index is served, nothing throws", () => {
    const t = cmos();
    // Bit 7 of the index is the NMI mask, not part of the index.
    t.r.write(0, 1, BigInt(0x80 | CMOS_STATUS_D));
    assert.equal(Number(t.r.read(1, 1)), 0x80);
    assert.equal(t.r.nmiMask, true);
    assert.equal(Number(t.r.read(0, 1)), 0xff, "the index port reads 0xff");
    // CMOS RAM keeps what is written, including the byte at index 0x7f.
    for (const reg of [0x0e, 0x31, 0x33, 0x7f]) {
      t.wr(reg, reg ^ 0xa5);
      assert.equal(t.rd(reg), reg ^ 0xa5);
    }
    t.wr(CMOS_STATUS_C, 0xff);
    t.wr(CMOS_STATUS_D, 0x00);
    assert.equal(t.rd(CMOS_STATUS_D), 0x80, "D is read-only");
    // Garbage in every time register, in both formats and with SET: the clock stays a clock.
    for (const b of [0, B_BINARY, B_24H, B_24H | B_BINARY]) {
      t.wr(CMOS_STATUS_B, b | B_SET);
      for (const reg of [
        CMOS_SECONDS,
        CMOS_MINUTES,
        CMOS_HOURS,
        CMOS_DAY,
        CMOS_MONTH,
        CMOS_YEAR,
        CMOS_CENTURY,
      ]) {
        t.wr(reg, 0xff);
      }
      t.wr(CMOS_STATUS_B, b);
      const regs = t.time();
      assert.ok(
        regs.every((v) => Number.isInteger(v) && v >= 0 && v <= 0xff),
        String(regs),
      );
      t.wr(CMOS_MONTH, 0x00);
      t.wr(CMOS_HOURS, 0x00);
    }
    // Day 0 of month 0 of the year 0: the calendar goes before year 0, the registers stay bytes.
    t.wr(CMOS_STATUS_B, B_24H | B_SET);
    for (const reg of [CMOS_CENTURY, CMOS_YEAR, CMOS_MONTH, CMOS_DAY]) t.wr(reg, 0);
    t.wr(CMOS_STATUS_B, B_24H);
    for (const b of [0, B_BINARY, B_24H, B_24H | B_BINARY]) {
      t.wr(CMOS_STATUS_B, b);
      const regs = t.time();
      assert.ok(
        regs.every((v) => Number.isInteger(v) && v >= 0 && v <= 0xff),
        String(regs),
      );
    }
    // February 30 carries into March, as a calendar would.
    t.wr(CMOS_STATUS_B, B_24H | B_SET);
    t.wr(CMOS_CENTURY, 0x20);
    t.wr(CMOS_YEAR, 0x23);
    t.wr(CMOS_MONTH, 0x02);
    t.wr(CMOS_DAY, 0x30);
    t.wr(CMOS_STATUS_B, B_24H);
    assert.equal(t.rd(CMOS_MONTH), 0x03);
    assert.equal(t.rd(CMOS_DAY), 0x02);
    // Multi-byte port accesses go byte by byte: a word write to 0x70 picks A and writes it.
    t.r.write(0, 2, BigInt(CMOS_STATUS_A | (0x2f << 8)));
    assert.equal(t.rd(CMOS_STATUS_A) & 0x7f, 0x2f);
    const word = t.r.read(0, 2);
    assert.equal(word & 0xffn, 0xffn);
    assert.equal((word >> 8n) & 0x7fn, 0x2fn);
  });

  test("an alarm missed while the timer ran late still fires; catching up is bounded", () => {
    const t = cmos(Date.UTC(2024, 0, 1, 10, 0, 0, 100));
    t.wr(CMOS_SECONDS_ALARM, 0x30);
    t.wr(CMOS_MINUTES_ALARM, 0x00);
    t.wr(CMOS_HOURS_ALARM, 0x10);
    t.wr(CMOS_STATUS_B, B_24H | B_AIE);
    // The host timer is late by a minute: 10:00:30 passed in between.
    t.host.timers.forEach((x) => (x.live = false));
    t.host.ms += 60_000;
    assert.equal(t.rd(CMOS_STATUS_C) & C_AF, C_AF);
    // Two days without a look: the alarm time passed, found within the last day.
    t.host.ms += 2 * 86_400_000;
    const started = performance.now();
    assert.equal(t.rd(CMOS_STATUS_C) & C_AF, C_AF);
    assert.ok(performance.now() - started < 2000);
    t.r.close();
  });
});
