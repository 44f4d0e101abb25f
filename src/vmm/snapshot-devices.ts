// A VM's devices around a snapshot, the same on every machine: held still while the CPUs' state
// is taken (a disk finishes the request it serves, a display its command), saved by name, and on
// restore each given its own state, none missing and none left over.
import type { VirtioDevice } from "../devices/virtio/device.js";
import { StateReader, type DeviceState, type Snapshottable } from "../devices/device-state.js";
import { SnapshotError } from "./snapshot-file.js";

/** A device that serves requests on its own time (virtio-blk): held still for a snapshot. */
interface Quiescent {
  quiesce(): Promise<void>;
  release(): void;
}

/** `p`, or a SnapshotError saying `what` after `ms`. */
async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new SnapshotError(`${what} within ${ms} ms`, "conflict")),
          ms,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs `take` (the CPUs' state) with the VM's virtio devices settled: the ones that serve
 * requests on their own time quiesced first, a display's command finished after; then `save`.
 * The devices take requests again after (the VM may go on). Bound: `timeoutMs` for each wait.
 */
export async function withDevicesSettled<T>(
  devices: readonly VirtioDevice[],
  timeoutMs: number,
  take: () => Promise<T>,
  save: (cpu: T) => Record<string, DeviceState>,
): Promise<{ cpu: T; devices: Record<string, DeviceState> }> {
  const own = devices as readonly Partial<Quiescent & { busy: boolean }>[];
  const quiesced = own.filter((d) => typeof d.quiesce === "function") as Quiescent[];
  try {
    await withTimeout(
      Promise.all(quiesced.map((d) => d.quiesce())),
      timeoutMs,
      "a disk request did not complete",
    );
    const cpu = await take();
    const end = performance.now() + timeoutMs;
    // A display command is served over several turns of the event loop: wait for its end.
    while (own.some((d) => d.busy === true)) {
      if (performance.now() > end)
        throw new SnapshotError("the display is still busy with a command", "conflict");
      await new Promise((r) => setTimeout(r, 5));
    }
    return { cpu, devices: save(cpu) };
  } finally {
    for (const d of quiesced) d.release();
  }
}

/** The virtio transports (with their devices) by the names a snapshot gives them: virtioSLOT. */
export function virtioStates(
  slots: readonly { slot: number }[],
  transports: readonly Snapshottable[],
): [string, Snapshottable][] {
  return transports.map((t, i) => [`virtio${slots[i]!.slot}`, t]);
}

/** Every named device's state, and the machine's own (`machine`). */
export function saveDevices(
  named: readonly [string, Snapshottable][],
  machine: DeviceState,
): Record<string, DeviceState> {
  const out: Record<string, DeviceState> = { machine };
  for (const [name, d] of named) out[name] = d.saveState();
  return out;
}

/**
 * Gives each named device its state from `saved`; returns the machine's own, to be read by the
 * caller. A device the snapshot lacks, or one the snapshot has and the VM does not, is refused.
 */
export function loadDevices(
  named: readonly [string, Snapshottable][],
  saved: Record<string, DeviceState>,
): StateReader {
  const devices = new Map(Object.entries(saved));
  const machine = new StateReader(devices.get("machine"), "machine");
  devices.delete("machine");
  for (const [name, d] of named) {
    const state = devices.get(name);
    if (state === undefined)
      throw new SnapshotError(`the snapshot has no state for ${name}, which this VM has`);
    d.loadState(new StateReader(state, name));
    devices.delete(name);
  }
  const extra = [...devices.keys()];
  if (extra.length > 0)
    throw new SnapshotError(`the snapshot has devices this VM does not: ${extra.join(", ")}`);
  return machine;
}
