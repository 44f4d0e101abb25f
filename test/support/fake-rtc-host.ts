// A host clock for the RTC models that a test (or the fuzzer) moves by hand, with timers that
// fire in order as it passes them, and a check on every delay the models ask for.
import type { RtcHost } from "../../src/devices/rtc-clock.js";
import { RTC_MAX_TIMER_MS } from "../../src/devices/rtc-clock.js";

export class FakeRtcHost implements RtcHost {
  timers: { at: number; fire: () => void; live: boolean }[] = [];
  /** Timers armed so far. */
  armed = 0;
  constructor(public ms: number) {}

  nowNs(): bigint {
    return BigInt(this.ms) * 1_000_000n;
  }

  after(ms: number, fire: () => void): () => void {
    if (!Number.isInteger(ms) || ms < 0 || ms > RTC_MAX_TIMER_MS) {
      throw new Error(`a timer of ${ms} ms`);
    }
    this.armed++;
    const t = { at: this.ms + ms, fire, live: true };
    this.timers.push(t);
    return () => (t.live = false);
  }

  /** Timers armed and not yet fired or cancelled. */
  live(): number {
    return this.timers.filter((t) => t.live).length;
  }

  /**
   * Moves the clock forward by `ms` at once, as a host whose event loop was held up: each timer
   * armed now and due by then fires once, late; timers they arm are left for later.
   */
  jump(ms: number): void {
    this.ms += ms;
    const due = this.timers.filter((t) => t.live && t.at <= this.ms);
    for (const t of due) {
      if (!t.live) continue;
      t.live = false;
      t.fire();
    }
    this.timers = this.timers.filter((t) => t.live);
  }

  /** Moves the clock forward by `ms`, firing due timers in order. */
  advance(ms: number): void {
    const end = this.ms + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.live && t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      due.live = false;
      this.ms = Math.max(this.ms, due.at);
      due.fire();
    }
    this.ms = end;
    this.timers = this.timers.filter((t) => t.live);
  }
}
