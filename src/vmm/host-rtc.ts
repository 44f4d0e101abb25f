// The host's side of a guest's real-time clock (devices/rtc-clock.ts): the host's wall clock,
// read at every access so that the guest follows the host's clock as it is set, and a timer
// for the RTC's alarm that never holds the process open.
import type { RtcHost } from "../devices/rtc-clock.js";

export const hostRtc: RtcHost = {
  nowNs: () => BigInt(Date.now()) * 1_000_000n,
  after: (ms, fire) => {
    const t = setTimeout(fire, ms);
    t.unref();
    return () => clearTimeout(t);
  },
};
