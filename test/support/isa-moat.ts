// The moat side of the ISA tests: runBare() from src/vmm/bare.ts.
//
// It is loaded with a dynamic import so that the QEMU half of the tests
// compiles and runs even before src/vmm/bare.ts exists; the moat half then
// fails with a clear message.  The types below are the agreed signature.

import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { CPU_TIERS, isCpuTier, type CpuTier } from "../../src/accel/soft/cpu-tier.js";

import type { BareRunOptions, BareRunResult } from "../../src/vmm/bare.js";
export type { BareRunOptions, BareRunResult };

export type RunBare = (opts: BareRunOptions) => Promise<BareRunResult>;

/** dist/test/support/ -> dist/src/vmm/bare.js */
const BARE_URL = new URL("../../src/vmm/bare.js", import.meta.url);

let cached: Promise<RunBare> | undefined;

/**
 * runBare(), on `defaults.cpuTier` for every run that names no tier of its own (the soft CPU's
 * default when neither does).
 */
export function loadRunBare(defaults: { cpuTier?: CpuTier } = {}): Promise<RunBare> {
  cached ??= (async () => {
    const file = fileURLToPath(BARE_URL);
    if (!existsSync(file)) {
      throw new Error(
        `moat's runBare is not available: ${file} does not exist (src/vmm/bare.ts not landed or not built)`,
      );
    }
    const mod = (await import(BARE_URL.href)) as { runBare?: unknown };
    if (typeof mod.runBare !== "function") throw new Error(`${file} does not export runBare()`);
    return mod.runBare as RunBare;
  })();
  const tier = defaults.cpuTier;
  if (tier === undefined) return cached;
  return cached.then((run) => (o) => run({ cpuTier: tier, ...o }));
}

/**
 * The tier named by MOAT_CPU_TIER (so the ISA and differential tests run on either), or
 * undefined when it is unset: the soft CPU's default then.
 */
export function envCpuTier(): CpuTier | undefined {
  const v = process.env.MOAT_CPU_TIER;
  if (v === undefined || v === "") return undefined;
  if (!isCpuTier(v))
    throw new Error(`MOAT_CPU_TIER must be one of ${CPU_TIERS.join(", ")}, not '${v}'`);
  return v;
}
