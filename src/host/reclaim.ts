// Memory reclaim between VMs through their balloons (docs/host.md, "Memory"). Each round the
// daemon reads host memory and each ballooned VM's own statistics, then:
//   - a guest short of memory (free < keep/2) gets memory back at once, pressure or not;
//   - while the host is under pressure, a guest with idle memory (free > keep) inflates by the
//     idle part, a step at a time, so its pages return to the host;
//   - once the host is out of pressure, balloons deflate a step a round, giving guests their
//     memory back.
// "keep" is the free memory a guest is always left: a share of its RAM, at least a floor.

export interface ReclaimPolicy {
  /** Seconds between rounds. */
  intervalMs: number;
  /** The host is under pressure when MemAvailable is below this share of MemTotal (percent)... */
  hostLowPercent: number;
  /** ...or when tasks stalled on memory more than this share of the last 10 s (PSI, percent). */
  pressurePercent: number;
  /** Free memory each guest keeps: this share of its RAM (percent), but at least keepMinMiB. */
  guestKeepPercent: number;
  guestKeepMinMiB: number;
  /** Bound: the most a balloon moves in one round, MiB. */
  stepMiB: number;
}

export const DEFAULT_RECLAIM: ReclaimPolicy = {
  intervalMs: 5000,
  hostLowPercent: 15,
  pressurePercent: 10,
  guestKeepPercent: 20,
  guestKeepMinMiB: 24,
  stepMiB: 256,
};

export interface HostPressureInput {
  totalBytes: number;
  availableBytes: number;
  pressureSome10?: number;
}

export function underPressure(h: HostPressureInput, p: ReclaimPolicy): boolean {
  if (h.availableBytes < (h.totalBytes * p.hostLowPercent) / 100) return true;
  return h.pressureSome10 !== undefined && h.pressureSome10 > p.pressurePercent;
}

export interface GuestMemoryView {
  memoryMiB: number;
  targetMiB: number;
  /** Free memory the guest reports (MemFree, excluding pages already in the balloon). */
  freeMiB: number;
}

/** The next balloon target for one VM, or undefined to leave it. Never above RAM - keep. */
export function nextTarget(
  g: GuestMemoryView,
  pressed: boolean,
  p: ReclaimPolicy,
): number | undefined {
  const keep = Math.max(p.guestKeepMinMiB, (g.memoryMiB * p.guestKeepPercent) / 100);
  const ceiling = Math.max(0, Math.floor(g.memoryMiB - keep));
  let t: number;
  if (g.freeMiB < keep / 2 && g.targetMiB > 0) {
    t = g.targetMiB - Math.min(p.stepMiB, Math.ceil(keep - g.freeMiB));
  } else if (pressed && g.freeMiB > keep) {
    t = g.targetMiB + Math.min(p.stepMiB, Math.floor(g.freeMiB - keep));
  } else if (!pressed && g.targetMiB > 0) {
    t = g.targetMiB - p.stepMiB;
  } else return undefined;
  t = Math.max(0, Math.min(ceiling, Math.round(t)));
  return t === g.targetMiB ? undefined : t;
}
