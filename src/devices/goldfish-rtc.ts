// The goldfish RTC (device tree "google,goldfish-rtc", as on QEMU's riscv virt board; Linux's
// rtc-goldfish driver): the wall clock in nanoseconds since the epoch, and one alarm with an
// interrupt. Owns no I/O: the host's clock and the alarm's timer come from the VMM (RtcHost).
//
// Registers (32-bit, at the offsets below; anything else reads 0 and ignores writes):
//   TIME_LOW/TIME_HIGH   reading TIME_LOW returns the low half of the time and latches the high
//                        half, which TIME_HIGH then returns (one consistent 64-bit value).
//                        Writing TIME_HIGH stores the high half; writing TIME_LOW sets the
//                        time to (that high half << 32) | value. Setting the time moves only
//                        this VM's offset from the host's clock.
//   ALARM_LOW/ALARM_HIGH the alarm time (guest nanoseconds); writing ALARM_LOW arms it with the
//                        high half written before. When the guest's time reaches it, the alarm
//                        disarms and the interrupt becomes pending.
//   IRQ_ENABLED          bit 0: the interrupt line follows "pending" (read back as written).
//   CLEAR_ALARM          any write disarms the alarm.
//   ALARM_STATUS         1 while the alarm is armed.
//   CLEAR_INTERRUPT      any write clears the pending interrupt.
import type { MmioDevice } from "../bus/mmio-bus.js";
import type { IrqLine } from "./irq.js";
import { u64, type DeviceState, type Snapshottable, type StateReader } from "./device-state.js";
import { GuestClock, RtcTimer, msUntil, type RtcHost } from "./rtc-clock.js";

export const GOLDFISH_TIME_LOW = 0x00;
export const GOLDFISH_TIME_HIGH = 0x04;
export const GOLDFISH_ALARM_LOW = 0x08;
export const GOLDFISH_ALARM_HIGH = 0x0c;
export const GOLDFISH_IRQ_ENABLED = 0x10;
export const GOLDFISH_CLEAR_ALARM = 0x14;
export const GOLDFISH_ALARM_STATUS = 0x18;
export const GOLDFISH_CLEAR_INTERRUPT = 0x1c;

const U32 = 0xffff_ffffn;

export class GoldfishRtc implements MmioDevice, Snapshottable {
  readonly clock: GuestClock;
  private timeHigh = 0n;
  private alarmHigh = 0n;
  private alarmNs = 0n;
  private armed = false;
  private irqEnabled = false;
  private pending = false;
  private level = false;
  private readonly timer: RtcTimer;

  constructor(
    host: RtcHost,
    private readonly irq: IrqLine,
  ) {
    this.clock = new GuestClock(host);
    this.timer = new RtcTimer(host);
  }

  /** The guest's time as the 64-bit register pair shows it (wraps like the hardware's). */
  private timeNs(): bigint {
    return BigInt.asUintN(64, this.clock.nowNs());
  }

  /** Bound: only aligned 32-bit accesses are registers; every other access reads 0. */
  read(offset: number, size: number): bigint {
    if (size !== 4) return 0n;
    switch (offset) {
      case GOLDFISH_TIME_LOW: {
        const t = this.timeNs();
        this.timeHigh = t >> 32n;
        return t & U32;
      }
      case GOLDFISH_TIME_HIGH:
        return this.timeHigh;
      case GOLDFISH_ALARM_LOW:
        return this.alarmNs & U32;
      case GOLDFISH_ALARM_HIGH:
        return this.alarmNs >> 32n;
      case GOLDFISH_IRQ_ENABLED:
        return this.irqEnabled ? 1n : 0n;
      case GOLDFISH_ALARM_STATUS:
        return this.armed ? 1n : 0n;
      default:
        return 0n;
    }
  }

  /** Bound: only aligned 32-bit writes count; any 32-bit value is accepted. */
  write(offset: number, size: number, value: bigint): void {
    if (size !== 4) return;
    const v = value & U32;
    switch (offset) {
      case GOLDFISH_TIME_LOW:
        this.clock.set((this.timeHigh << 32n) | v);
        if (this.armed) this.schedule(); // the alarm is in guest time: it may be due now
        break;
      case GOLDFISH_TIME_HIGH:
        this.timeHigh = v;
        break;
      case GOLDFISH_ALARM_LOW:
        this.alarmNs = (this.alarmHigh << 32n) | v;
        this.armed = true;
        this.schedule();
        break;
      case GOLDFISH_ALARM_HIGH:
        this.alarmHigh = v;
        break;
      case GOLDFISH_IRQ_ENABLED:
        this.irqEnabled = (v & 1n) !== 0n;
        this.update();
        break;
      case GOLDFISH_CLEAR_ALARM:
        this.armed = false;
        this.timer.stop();
        break;
      case GOLDFISH_CLEAR_INTERRUPT:
        this.pending = false;
        this.update();
        break;
    }
  }

  /**
   * The alarm and the interrupt. Not the time: a restored guest's RTC reads the host's clock
   * (the snapshot's age is time that passed), and an offset the guest had set is dropped.
   */
  saveState(): DeviceState {
    return {
      timeHigh: Number(this.timeHigh),
      alarmHigh: Number(this.alarmHigh),
      alarmNs: u64(this.alarmNs),
      armed: this.armed,
      irqEnabled: this.irqEnabled,
      pending: this.pending,
    };
  }

  /** Bounds: 32-bit halves, a 64-bit alarm. An armed alarm that is due by now fires at once. */
  loadState(r: StateReader): void {
    const timeHigh = BigInt(r.int("timeHigh", 0, 0xffff_ffff));
    const alarmHigh = BigInt(r.int("alarmHigh", 0, 0xffff_ffff));
    const alarmNs = r.u64("alarmNs");
    const armed = r.bool("armed");
    const irqEnabled = r.bool("irqEnabled");
    const pending = r.bool("pending");
    Object.assign(this, { timeHigh, alarmHigh, alarmNs, armed, irqEnabled, pending });
    this.level = !(pending && irqEnabled); // so that update() drives the line either way
    this.update();
    this.schedule();
  }

  /** The VM ended: no alarm fires any more. */
  close(): void {
    this.timer.close();
  }

  /**
   * Arms the host timer for the alarm, or fires it if it is due. One timer at most; a wait
   * longer than the host timer allows re-arms when it ends (Bound: RTC_MAX_TIMER_MS).
   */
  private schedule(): void {
    this.timer.stop();
    if (!this.armed) return;
    const now = this.timeNs();
    if (now >= this.alarmNs) {
      this.armed = false;
      this.pending = true;
      this.update();
      return;
    }
    this.timer.arm(msUntil(now, this.alarmNs), () => this.schedule());
  }

  private update(): void {
    const level = this.pending && this.irqEnabled;
    if (level !== this.level) {
      this.level = level;
      this.irq(level);
    }
  }
}
