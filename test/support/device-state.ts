// Helpers for device snapshot tests: a state as it comes back from a file, a state with one
// field changed, and the check that a refused state names its field and changes nothing.
import assert from "node:assert/strict";
import {
  DeviceStateError,
  StateReader,
  type DeviceState,
  type Snapshottable,
} from "../../src/devices/device-state.js";

/** `state` as it comes back from a snapshot file. */
export const viaJson = (state: DeviceState): unknown => JSON.parse(JSON.stringify(state));

/** Loads `state` into `dev` under the name `where`. */
export const load = (dev: Snapshottable, state: unknown, where: string): void =>
  dev.loadState(new StateReader(state, where));

/** Loading `state` into a fresh device from `make` is refused naming `field`, leaving it as made. */
export function refusedAsMade(
  make: () => Snapshottable,
  state: unknown,
  field: RegExp,
  where = "dev",
): void {
  const dev = make();
  const before = JSON.stringify(dev.saveState());
  assert.throws(
    () => load(dev, state, where),
    (e: unknown) => e instanceof DeviceStateError && field.test(e.message),
    `refused naming ${field}`,
  );
  assert.equal(JSON.stringify(dev.saveState()), before, "the fresh device is left as made");
}

/** `state` with `path` (a.b.c) set to `value`. */
export function mutated(state: DeviceState, path: string, value: unknown): unknown {
  const copy = viaJson(state) as Record<string, unknown>;
  const keys = path.split(".");
  let o = copy;
  for (const k of keys.slice(0, -1)) o = o[k] as Record<string, unknown>;
  const last = keys[keys.length - 1]!;
  if (value === undefined) delete o[last];
  else o[last] = value;
  return copy;
}
