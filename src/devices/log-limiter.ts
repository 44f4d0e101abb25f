// Rate limits for a device's log lines. A guest decides how often a device fails (a zero-length
// buffer, NEEDS_RESET, a reset, again, thousands of times a second), and each failure is one
// line in the VMM's log: without a limit the guest grows that log as fast as it likes. Lines of
// one kind from one device pass in a burst, then at a steady rate; the others are counted, and
// the count is logged with the next line that passes.
import { TokenBucket } from "./rate-limiter.js";
import type { DeviceLog } from "./virtio/device.js";

/** Bound: lines of one kind one device logs at once (a guest's first failures all show). */
export const LOG_BURST = 20;
/** Bound: lines of one kind one device logs per minute once its burst is spent. */
export const LOG_PER_MINUTE = 6;

/** What a limited line tells its sink beside its text (a JSON log's fields). */
export interface DeviceLogFields {
  device: string;
  kind: string;
  /** On the line that reports them: how many lines of this kind were left out. */
  suppressed?: number;
}

/**
 * A device's log: each kind of line gets its own token bucket (LOG_BURST, then
 * LOG_PER_MINUTE), so a flood of one kind does not hide another. Bound: the kinds are the
 * callers' fixed strings, one per call site, never guest data. `now` is the clock, in ms.
 */
export function limitedLog(
  device: string,
  sink: (line: string, fields: DeviceLogFields) => void,
  now: () => number = () => performance.now(),
): DeviceLog {
  const kinds = new Map<string, { bucket: TokenBucket; suppressed: number }>();
  return (line, kind) => {
    let k = kinds.get(kind);
    if (!k) {
      k = { bucket: new TokenBucket(LOG_PER_MINUTE / 60, LOG_BURST, now), suppressed: 0 };
      kinds.set(kind, k);
    }
    if (k.bucket.take(1) === 0) {
      k.suppressed++;
      return;
    }
    if (k.suppressed > 0) {
      sink(`${device}: ${k.suppressed} similar lines suppressed`, {
        device,
        kind,
        suppressed: k.suppressed,
      });
      k.suppressed = 0;
    }
    sink(line, { device, kind });
  };
}
