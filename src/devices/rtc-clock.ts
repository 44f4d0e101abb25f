// What a real-time clock model gets from the VMM (it owns no I/O): the host's wall clock and a
// one-shot timer for its alarm, and the guest's view of that clock. A guest that sets its RTC
// moves only its own offset from the host's clock: the host's clock is never written.

/** The host side of a real-time clock, injected so that the models are testable. */
export interface RtcHost {
  /** The host's wall clock: nanoseconds since the Unix epoch. */
  nowNs(): bigint;
  /** Calls `fire` once, about `ms` milliseconds from now; the result cancels it. */
  after(ms: number, fire: () => void): () => void;
}

/** Bound: a host timer waits at most this long (setTimeout's limit); longer waits re-arm. */
export const RTC_MAX_TIMER_MS = 2 ** 31 - 1;

export const NS_PER_SECOND = 1_000_000_000n;
export const NS_PER_MS = 1_000_000n;

/** The time a guest's RTC shows: the host's clock plus the guest's own offset. */
export class GuestClock {
  private offsetNs = 0n;

  constructor(private readonly host: RtcHost) {}

  /** Nanoseconds since the epoch as the guest sees them (may be before 1970 or far ahead). */
  nowNs(): bigint {
    return this.host.nowNs() + this.offsetNs;
  }

  /** The guest set its clock to `ns`: from now on it runs from there at the host's rate. */
  set(ns: bigint): void {
    this.offsetNs = ns - this.host.nowNs();
  }

  /** How far the guest's clock is from the host's (0 until the guest sets it). */
  get offset(): bigint {
    return this.offsetNs;
  }
}

/** Host milliseconds from guest time `nowNs` until `targetNs`: 0 if it is there, capped. */
export function msUntil(nowNs: bigint, targetNs: bigint): number {
  const ns = targetNs - nowNs;
  if (ns <= 0n) return 0;
  const ms = (ns + NS_PER_MS - 1n) / NS_PER_MS;
  return ms > BigInt(RTC_MAX_TIMER_MS) ? RTC_MAX_TIMER_MS : Number(ms);
}

/** A device's one host timer: arming replaces the armed one; nothing is armed after close. */
export class RtcTimer {
  private cancel: (() => void) | undefined;
  private closed = false;

  constructor(private readonly host: RtcHost) {}

  arm(ms: number, fire: () => void): void {
    this.stop();
    if (this.closed) return;
    this.cancel = this.host.after(ms, () => {
      this.cancel = undefined;
      fire();
    });
  }

  stop(): void {
    this.cancel?.();
    this.cancel = undefined;
  }

  /** The VM ended. */
  close(): void {
    this.closed = true;
    this.stop();
  }
}
