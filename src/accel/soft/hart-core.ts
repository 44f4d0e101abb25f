// A hart's core: the WebAssembly interpreter instance over the VM's shared memory, and, on the
// jit tier, its code cache (jit/code-cache.ts). Every place that runs a hart (the hart worker,
// tests, fuzz targets) makes it here, so both tiers are run the same way.
import type { CoreExports } from "./core-exports.js";
import type { CpuTier } from "./cpu-tier.js";
import { CodeCache, type JitCore, type JitStats } from "./jit/code-cache.js";
import { EXIT_JIT } from "./layout.js";

export interface HartCore {
  readonly core: CoreExports;
  /** core.init, then the tier's own setup; false if the core refused the arguments. */
  init(hart: number, ramBase: bigint, ramSize: bigint, sbi: boolean, harts: number): boolean;
  /** Runs about `budget` instructions (translating pages that became hot); an EXIT_* code. */
  run(budget: number): number;
  /** The translator's counters (undefined on the interp tier). */
  jitStats(): JitStats | undefined;
  /** Compiles under way on V8's threads (async only): the caller lets its event loop run. */
  pendingCompiles(): number;
}

/** The jit tier's knobs (all optional). */
export interface JitOptions {
  /** Jumps that make an entry hot (default: the core's); 1 translates every entry at once. */
  hot?: number;
  /** Compile in the background (a hart worker, whose loop yields to its event loop for it). */
  asyncCompile?: boolean;
  /** The code cache's bound in bytes (default DEFAULT_CODE_CACHE_BYTES). */
  codeCacheBytes?: number;
}

export function createHartCore(
  module: WebAssembly.Module,
  memory: WebAssembly.Memory,
  now: () => number,
  tier: CpuTier,
  jit: JitOptions = {},
): HartCore {
  const table = new WebAssembly.Table({ element: "anyfunc", initial: 1 });
  const instance = new WebAssembly.Instance(module, { env: { memory, now, table } });
  const core = instance.exports as unknown as CoreExports;
  const jcore = instance.exports as unknown as JitCore;
  let cache: CodeCache | undefined;
  return {
    core,
    init(hart, ramBase, ramSize, sbi, harts) {
      if (core.init(hart, ramBase, ramSize, sbi ? 1 : 0) === 0) return false;
      if (tier === "jit") {
        cache = new CodeCache(jcore, memory, table, hart, jit.asyncCompile, jit.codeCacheBytes);
        jcore.jitEnable(1, harts);
        if (jit.hot !== undefined) jcore.jitSetHot(jit.hot);
      }
      return true;
    },
    run(budget) {
      let r = core.run(budget);
      while (r === EXIT_JIT) {
        cache!.handle();
        r = core.run(core.jitBudget.value as number);
      }
      cache?.compileBatch(); // what this slice translated, as one module
      if (cache?.failure) throw cache.failure;
      return r;
    },
    jitStats: () => (cache ? { ...cache.stats } : undefined),
    pendingCompiles: () => cache?.pending ?? 0,
  };
}
