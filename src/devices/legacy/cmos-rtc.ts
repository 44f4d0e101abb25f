// The PC's CMOS real-time clock, an MC146818 on ports 0x70 (index) and 0x71 (data), as Linux's
// rtc_cmos driver and its x86 wall-clock code use it. Owns no I/O: the host's clock and the
// once-a-second timer come from the VMM (RtcHost); the interrupt is ISA IRQ 8.
//
// - Port 0x70 (write): bits 0-6 pick one of 128 registers; bit 7 is the NMI mask, kept and
//   otherwise ignored (this machine has no NMI source behind it). Reads of 0x70 give 0xff.
// - Time and date (0x00 seconds, 0x02 minutes, 0x04 hours, 0x06 day of week 1-7 (Sunday 1),
//   0x07 day, 0x08 month, 0x09 year, 0x32 century) are the guest's clock, in BCD or binary and
//   12 or 24 hours as status B says. Writing one of them (or B's SET bit going 1 -> 0 after
//   writes while it was 1) sets the guest's clock, which moves only this VM's offset from the
//   host's clock. A written date is taken as a calendar takes it: February 30 is March 1 or 2.
// - A (0x0a): bit 7 update in progress (read-only, set around each second's update while the
//   divider runs, DV = 010), bits 0-6 kept. B (0x0b): kept; SET stops the clock's registers
//   (they keep what they showed) and clears UIE. C (0x0c): the flags IRQF, AF, UF, cleared by
//   reading. D (0x0d): 0x80, the battery is good.
// - Alarm (0x01, 0x03, 0x05): fires when seconds, minutes and hours match (a value with bits
//   6-7 set matches anything). AF (alarm) and UF (update ended) raise IRQ 8 while AIE or UIE is
//   on; meanwhile a host timer runs once a second. The periodic interrupt (PIE, status A's
//   rate) is not emulated: PF never sets (Linux 6.1 keeps its periodic timer in software).
// - Everything else (0x0e-0x7f but 0x32) is plain CMOS RAM, zero at power-on.
import type { MmioDevice } from "../../bus/mmio-bus.js";
import type { IrqLine } from "../irq.js";
import {
  GuestClock,
  NS_PER_MS,
  NS_PER_SECOND,
  RtcTimer,
  msUntil,
  type RtcHost,
} from "../rtc-clock.js";
import {
  DeviceStateError,
  bytes,
  type DeviceState,
  type StateReader,
} from "../device-state.js";

export const CMOS_PORT = 0x70;
export const CMOS_PORTS = 2;
export const CMOS_IRQ = 8;

export const CMOS_SECONDS = 0x00;
export const CMOS_SECONDS_ALARM = 0x01;
export const CMOS_MINUTES = 0x02;
export const CMOS_MINUTES_ALARM = 0x03;
export const CMOS_HOURS = 0x04;
export const CMOS_HOURS_ALARM = 0x05;
export const CMOS_DAY_OF_WEEK = 0x06;
export const CMOS_DAY = 0x07;
export const CMOS_MONTH = 0x08;
export const CMOS_YEAR = 0x09;
export const CMOS_STATUS_A = 0x0a;
export const CMOS_STATUS_B = 0x0b;
export const CMOS_STATUS_C = 0x0c;
export const CMOS_STATUS_D = 0x0d;
export const CMOS_CENTURY = 0x32;

export const A_UIP = 0x80;
const A_DV_MASK = 0x70;
const A_DV_RUNNING = 0x20;
export const B_SET = 0x80;
export const B_PIE = 0x40;
export const B_AIE = 0x20;
export const B_UIE = 0x10;
export const B_BINARY = 0x04;
export const B_24H = 0x02;
export const C_IRQF = 0x80;
export const C_AF = 0x20;
export const C_UF = 0x10;
export const D_VRT = 0x80;
const HOUR_PM = 0x80;
const ALARM_ANY = 0xc0;

/** Power-on values: the 32.768 kHz divider running at 1024 Hz; BCD, 24 hours. */
const A_RESET = 0x26;
const B_RESET = B_24H;

/** UIP is set from this long before each second's update until the update ends (MC146818). */
const UIP_BEFORE_NS = 244_000n;
const UIP_AFTER_NS = 1_984_000n;

/**
 * Bound: when the once-a-second timer runs late (or the guest's clock jumps), at most this many
 * of the seconds it missed are checked against the alarm; one day covers every alarm pattern.
 */
export const CMOS_ALARM_CATCH_UP_SECONDS = 86_400;

/** The registers a calendar time fills, in this order. */
export const CMOS_TIME_REGS = [
  CMOS_SECONDS,
  CMOS_MINUTES,
  CMOS_HOURS,
  CMOS_DAY_OF_WEEK,
  CMOS_DAY,
  CMOS_MONTH,
  CMOS_YEAR,
  CMOS_CENTURY,
] as const;
/** A time register's place in CMOS_TIME_REGS. */
const TIME_SLOT = new Map<number, number>(CMOS_TIME_REGS.map((r, i) => [r, i]));

export class CmosRtc implements MmioDevice {
  readonly clock: GuestClock;
  /** Bound: 128 registers, the index's 7 bits. Time registers hold what SET froze. */
  private readonly regs = new Uint8Array(128);
  private index = 0;
  private nmiMasked = false;
  private flags = 0;
  private level = false;
  /** The guest second up to which UF and the alarm have been accounted. */
  private seenSecond: bigint;
  private readonly timer: RtcTimer;

  constructor(
    host: RtcHost,
    private readonly irq: IrqLine,
  ) {
    this.clock = new GuestClock(host);
    this.timer = new RtcTimer(host);
    this.regs[CMOS_STATUS_A] = A_RESET;
    this.regs[CMOS_STATUS_B] = B_RESET;
    this.seenSecond = this.second();
  }

  /** Whether the guest last wrote the NMI-mask bit set (kept for completeness). */
  get nmiMask(): boolean {
    return this.nmiMasked;
  }

  /** Bound: a wider access is taken byte by byte, port by port; only 0x71 has data. */
  read(offset: number, size: number): bigint {
    let v = 0n;
    for (let i = 0; i < size; i++) {
      const b = offset + i === 1 ? this.readData() : 0xff;
      v |= BigInt(b) << BigInt(8 * i);
    }
    return v;
  }

  /** Byte by byte as read(): 0x70 takes the index and NMI mask, 0x71 the data. */
  write(offset: number, size: number, value: bigint): void {
    for (let i = 0; i < size; i++) {
      const b = Number((value >> BigInt(8 * i)) & 0xffn);
      if (offset + i === 0) {
        this.index = b & 0x7f;
        this.nmiMasked = (b & 0x80) !== 0;
      } else if (offset + i === 1) {
        this.writeData(b);
      }
    }
  }

  /** The VM ended: no timer runs any more. */
  close(): void {
    this.timer.close();
  }

  /**
   * The registers, the index, the NMI mask and the interrupt flags. Not the time: a restored
   * guest's clock reads the host's (as goldfish-rtc.ts), an offset the guest had set is dropped.
   */
  saveState(): DeviceState {
    return { regs: bytes(this.regs), index: this.index, nmi: this.nmiMasked, flags: this.flags };
  }

  /** Bounds: 128 register bytes, a 7-bit index, the flags AF and UF only. */
  loadState(r: StateReader): void {
    const regs = r.bytes("regs", 128);
    if (regs.length !== 128) throw new DeviceStateError(`${r.where}: regs is not 128 bytes`);
    const index = r.int("index", 0, 0x7f);
    const nmi = r.bool("nmi");
    const flags = r.int("flags", 0, C_AF | C_UF);
    if (flags & ~(C_AF | C_UF))
      throw new DeviceStateError(`${r.where}: flags has bits other than AF and UF`);
    this.regs.set(regs);
    this.regs[CMOS_STATUS_A] = regs[CMOS_STATUS_A]! & ~A_UIP;
    this.index = index;
    this.nmiMasked = nmi;
    this.flags = flags;
    this.seenSecond = this.second();
    // The opposite of what the flags ask for, so that updateIrq drives the line either way.
    this.level = (this.flags & this.enabledFlags()) === 0;
    this.updateIrq();
    this.scheduleTick();
  }

  private get b(): number {
    return this.regs[CMOS_STATUS_B]!;
  }

  private readData(): number {
    const r = this.index;
    const slot = TIME_SLOT.get(r);
    if (slot !== undefined) {
      return this.b & B_SET ? this.regs[r]! : this.timeRegs(this.clock.nowNs())[slot]!;
    }
    switch (r) {
      case CMOS_STATUS_A:
        return (this.regs[r]! & ~A_UIP) | (this.updating() ? A_UIP : 0);
      case CMOS_STATUS_C: {
        this.account();
        const c = this.flags | (this.flags & this.enabledFlags() ? C_IRQF : 0);
        this.flags = 0;
        this.updateIrq();
        return c;
      }
      case CMOS_STATUS_D:
        return D_VRT;
      default:
        return this.regs[r]!;
    }
  }

  private writeData(v: number): void {
    const r = this.index;
    const slot = TIME_SLOT.get(r);
    if (slot !== undefined) {
      if (this.b & B_SET) {
        this.regs[r] = v;
        return;
      }
      const regs = this.timeRegs(this.clock.nowNs());
      regs[slot] = v;
      this.setTime(regs);
      return;
    }
    switch (r) {
      case CMOS_STATUS_A:
        this.regs[r] = v & ~A_UIP;
        return;
      case CMOS_STATUS_B: {
        const was = this.b;
        this.account();
        // SET stops updates and turns the update-ended interrupt off (MC146818).
        const b = v & B_SET ? v & ~B_UIE : v;
        if (b & B_SET && !(was & B_SET)) {
          const regs = this.timeRegs(this.clock.nowNs());
          CMOS_TIME_REGS.forEach((reg, i) => (this.regs[reg] = regs[i]!));
        }
        this.regs[r] = b;
        if (was & B_SET && !(b & B_SET)) {
          this.setTime(CMOS_TIME_REGS.map((reg) => this.regs[reg]!));
        }
        this.updateIrq();
        this.scheduleTick();
        return;
      }
      case CMOS_STATUS_C:
      case CMOS_STATUS_D:
        return; // read-only
      default:
        this.regs[r] = v;
        if (r === CMOS_SECONDS_ALARM || r === CMOS_MINUTES_ALARM || r === CMOS_HOURS_ALARM) {
          this.account();
        }
    }
  }

  /** The guest's second count (floor, also before 1970). */
  private second(): bigint {
    const ns = this.clock.nowNs();
    const s = ns / NS_PER_SECOND;
    return ns < 0n && s * NS_PER_SECOND !== ns ? s - 1n : s;
  }

  /** UIP: the divider runs, updates are not stopped by SET, and a second's update is near. */
  private updating(): boolean {
    if (this.b & B_SET || (this.regs[CMOS_STATUS_A]! & A_DV_MASK) !== A_DV_RUNNING) return false;
    const ns = this.clock.nowNs();
    const frac = ((ns % NS_PER_SECOND) + NS_PER_SECOND) % NS_PER_SECOND;
    return frac < UIP_AFTER_NS || frac >= NS_PER_SECOND - UIP_BEFORE_NS;
  }

  private enabledFlags(): number {
    return (this.b & B_AIE ? C_AF : 0) | (this.b & B_UIE ? C_UF : 0);
  }

  private updateIrq(): void {
    const level = (this.flags & this.enabledFlags()) !== 0;
    if (level !== this.level) {
      this.level = level;
      this.irq(level);
    }
  }

  /**
   * Brings UF and AF up to the guest's current second: every update since the last look sets
   * UF, and AF if that second matched the alarm. Nothing happens while SET stops the clock.
   */
  private account(): void {
    const now = this.second();
    if (this.b & B_SET || now <= this.seenSecond) {
      this.seenSecond = now;
      return;
    }
    this.flags |= C_UF;
    const missed = now - this.seenSecond;
    const from =
      missed > CMOS_ALARM_CATCH_UP_SECONDS
        ? now - BigInt(CMOS_ALARM_CATCH_UP_SECONDS) + 1n
        : this.seenSecond + 1n;
    for (let s = from; s <= now && !(this.flags & C_AF); s++) {
      if (this.alarmMatches(this.timeRegs(s * NS_PER_SECOND))) this.flags |= C_AF;
    }
    this.seenSecond = now;
  }

  private alarmMatches(regs: number[]): boolean {
    const want = [CMOS_SECONDS_ALARM, CMOS_MINUTES_ALARM, CMOS_HOURS_ALARM];
    return want.every((a, i) => {
      const v = this.regs[a]!;
      return (v & ALARM_ANY) === ALARM_ANY || v === regs[i];
    });
  }

  /** While an interrupt is enabled: a host timer at each of the guest's second boundaries. */
  private scheduleTick(): void {
    this.timer.stop();
    if (this.b & B_SET || !this.enabledFlags()) return;
    const next = (this.second() + 1n) * NS_PER_SECOND;
    this.timer.arm(msUntil(this.clock.nowNs(), next), () => {
      this.account();
      this.updateIrq();
      this.scheduleTick();
    });
  }

  /**
   * The register values (CMOS_TIME_REGS order) for guest time `ns`, in B's format. Bound: every
   * value is a byte: BCD shows a number modulo 100, binary modulo 256 (a year before 0 or a
   * century above 99 too); a time outside the host calendar's range shows as zeros.
   */
  private timeRegs(ns: bigint): number[] {
    const ms = ns / NS_PER_MS - (ns < 0n && ns % NS_PER_MS !== 0n ? 1n : 0n);
    const d = new Date(Number(ms));
    if (!Number.isFinite(d.getTime())) return CMOS_TIME_REGS.map(() => 0);
    const bin = (this.b & B_BINARY) !== 0;
    const mod = (n: number, m: number): number => ((n % m) + m) % m;
    const enc = (n: number): number =>
      bin ? mod(n, 256) : (Math.floor(mod(n, 100) / 10) << 4) | mod(n, 10);
    const h = d.getUTCHours();
    const hour =
      this.b & B_24H ? enc(h) : enc(h % 12 === 0 ? 12 : h % 12) | (h >= 12 ? HOUR_PM : 0);
    const year = d.getUTCFullYear();
    return [
      enc(d.getUTCSeconds()),
      enc(d.getUTCMinutes()),
      hour,
      enc(d.getUTCDay() + 1),
      enc(d.getUTCDate()),
      enc(d.getUTCMonth() + 1),
      enc(mod(year, 100)),
      enc(Math.floor(year / 100)),
    ];
  }

  /**
   * Sets the guest's clock from register values (CMOS_TIME_REGS order) in B's format; the new
   * second starts now. Bound: any byte decodes to a number (BCD digits above 9 count as their
   * value), and the calendar carries what overflows, so the time is always finite.
   */
  private setTime(regs: number[]): void {
    const bin = (this.b & B_BINARY) !== 0;
    const dec = (v: number): number => (bin ? v : (v >> 4) * 10 + (v & 0x0f));
    const [sec, min, hourReg, , day, month, year, century] = regs as [
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    let hour = dec(hourReg);
    if (!(this.b & B_24H)) hour = (dec(hourReg & ~HOUR_PM) % 12) + (hourReg & HOUR_PM ? 12 : 0);
    const d = new Date(0);
    d.setUTCFullYear(dec(century) * 100 + dec(year), dec(month) - 1, dec(day));
    d.setUTCHours(hour, dec(min), dec(sec), 0);
    const ms = d.getTime();
    if (!Number.isFinite(ms)) return;
    this.clock.set(BigInt(ms) * NS_PER_MS);
    this.seenSecond = this.second();
    this.scheduleTick();
  }
}
