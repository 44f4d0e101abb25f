// Which execution tier a soft-CPU hart uses: the interpreter alone, or the interpreter plus the
// translator of hot guest code to WebAssembly (src/accel/soft/jit/). One list, one default, so
// the CLI, the VM spec and the hart worker agree.

export const CPU_TIERS = ["interp", "jit"] as const;
export type CpuTier = (typeof CPU_TIERS)[number];

/** The tier a VM gets when nobody chose one. */
export const DEFAULT_CPU_TIER: CpuTier = "jit";

export function isCpuTier(v: unknown): v is CpuTier {
  return typeof v === "string" && (CPU_TIERS as readonly string[]).includes(v);
}
