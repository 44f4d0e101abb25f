// Runs fuzz targets for a time or a number of inputs each and reports executions, speed and
// the first failure (fast-check shrinks it to a smallest failing input).
import fc from "fast-check";
import v8 from "node:v8";
import { runInNewContext } from "node:vm";
import { TARGETS, type FuzzTarget } from "./targets.js";
import { depth } from "./virtio-target.js";

export interface FuzzResult {
  target: string;
  execs: number;
  seconds: number;
  /** The broken invariant and the shrunk input, when one was found. */
  failure?: string;
  /** Device targets: share of runs in which the device wrote guest RAM, and stopped itself. */
  wrotePct?: number;
  failedPct?: number;
  /** Growth of heap plus array buffers over the run, MiB (after a full GC). */
  heapGrowthMiB: number;
}

/** Bound: what one target may leave allocated after its run. */
const MAX_HEAP_GROWTH_MIB = 64;

/** A full GC, so that growth counts what is still reachable (exposed here when node lacks --expose-gc). */
const gc: () => void =
  (globalThis as { gc?: () => void }).gc ??
  (() => {
    v8.setFlagsFromString("--expose-gc");
    return runInNewContext("gc") as () => void;
  })();

function heapMiB(): number {
  gc();
  const m = process.memoryUsage();
  return (m.heapUsed + m.arrayBuffers) / (1 << 20);
}

/** Runs one target for `seconds` (or `runs` inputs, whichever ends first). */
export async function fuzzTarget(
  t: FuzzTarget<never>,
  o: { seconds: number; runs?: number; seed?: number },
): Promise<FuzzResult> {
  const escaped: unknown[] = [];
  const onRejection = (e: unknown) => escaped.push(e);
  process.on("unhandledRejection", onRejection);
  const before = heapMiB();
  depth.runs = depth.wrote = depth.failed = 0;
  const start = performance.now();
  let execs = 0;
  const prop = fc.asyncProperty(t.input as fc.Arbitrary<unknown>, async (input) => {
    execs++;
    await (t.run as (i: unknown) => Promise<void> | void)(input);
    // One turn of the event loop: timers and I/O callbacks a device left run now (and an
    // unhandled rejection is reported), and what the input allocated can be freed.
    await new Promise((r) => setImmediate(r));
    if (escaped.length) throw new Error(`an unhandled rejection: ${String(escaped[0])}`);
  });
  const r = await fc.check(prop, {
    numRuns: o.runs ?? 1_000_000_000,
    interruptAfterTimeLimit: o.seconds * 1000,
    markInterruptAsFailure: false,
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
  });
  process.off("unhandledRejection", onRejection);
  const seconds = (performance.now() - start) / 1000;
  const growth = heapMiB() - before;
  const res: FuzzResult = { target: t.name, execs, seconds, heapGrowthMiB: growth };
  if (depth.runs) {
    res.wrotePct = (100 * depth.wrote) / depth.runs;
    res.failedPct = (100 * depth.failed) / depth.runs;
  }
  if (r.failed) {
    const input = JSON.stringify(r.counterexample, (_k, v) =>
      typeof v === "bigint" ? `${v}n` : v instanceof Uint8Array ? [...v] : v,
    );
    res.failure =
      `${r.errorInstance instanceof Error ? r.errorInstance.message : String(r.errorInstance)}` +
      ` (seed ${r.seed}, path ${r.counterexamplePath}) input: ${input?.slice(0, 2000)}`;
  } else if (growth > MAX_HEAP_GROWTH_MIB) {
    res.failure = `the run left ${growth.toFixed(0)} MiB allocated`;
  }
  return res;
}

export function targetNames(): string[] {
  return TARGETS.map((t) => t.name);
}

export function findTarget(name: string): FuzzTarget<never> | undefined {
  return TARGETS.find((t) => t.name === name);
}
