// JavaScript's view of the core's memory layout (src/accel/soft/cpu/layout.ts; keep in step).

export const SHARED_BASE = 0x000f_0000;
export const SHARED_STRIDE = 0x100;
export const HART_BASE = 0x0010_0000;
export const HART_STRIDE = 0x1_0000;
/** The compressed-encoding expansion table: a u32 per 16-bit encoding, shared by all harts. */
export const RVC_TABLE = 0x0040_0000;
export const RVC_TABLE_BYTES = 0x1_0000 * 4;
/** The translator's code versions, a u32 per guest-RAM page (cpu/layout.ts CODE_VERSIONS). */
export const CODE_VERSIONS = 0x0044_0000;
export const CODE_PAGES = (0x0080_0000 - 0x0044_0000) >> 2;
// Offsets inside a hart's private area (cpu/layout.ts HA_*): its register files, data TLBs and
// the translator's ABI block.
export const HA_X = 0x000;
export const HA_F = 0x100;
export const HA_TLB_R = 0x1000;
export const HA_TLB_W = 0x2000;
export const HA_JIT_ABI = 0x4000;
/** A hart's state record for snapshots (cpu/snapshot.ts; hart-state.ts reads it). */
export const HA_STATE = 0x8000;

/** Each hart's entry table of the translator (cpu/layout.ts JIT_TABLES), 1 MiB apiece. */
export const JIT_TABLES = 0x0080_0000;
export const RAM_OFFSET = 0x0100_0000;
export const MAX_HARTS = 8;
export const WASM_PAGE = 0x1_0000;

// Byte offsets inside a hart's cross-hart block.
export const SH_MIP = 0x00;
export const SH_EXT = 0x04;
export const SH_MTIMECMP = 0x08;
/** mtimecmp's value at reset: no timer deadline. */
export const NO_DEADLINE = 0xffff_ffff_ffff_ffffn;
export const SH_WAKE = 0x10;
export const SH_FLUSH = 0x14;
export const SH_HSM = 0x18;
export const SH_FLUSH_ACK = 0x1c;
export const SH_START_ADDR = 0x20;
export const SH_OPAQUE = 0x28;
export const SH_IDLE = 0x30;

export const MIP_SSIP = 1 << 1;
export const MIP_MSIP = 1 << 3;
export const MIP_STIP = 1 << 5;
export const MIP_MTIP = 1 << 7;
export const MIP_SEIP = 1 << 9;
export const MIP_MEIP = 1 << 11;

// SBI HSM states.
export const HSM_STARTED = 0;
export const HSM_STOPPED = 1;
export const HSM_START_PENDING = 2;

// The core's exit codes (cpu/exec.ts).
export const EXIT_BUDGET = 0;
export const EXIT_MMIO = 1;
export const EXIT_WFI = 2;
export const EXIT_SBI = 3;
export const EXIT_HALT = 4;
/** A page became hot: the host translates it, then runs the core on (never leaves the hart). */
export const EXIT_JIT = 5;
/** Not a core exit: the hart worker's exit-counter slot for MMIO writes it posted. */
export const EXIT_SLOT_POSTED = 8;
/** Not exits: the translator's counters (jit/code-cache.ts JitStats), slot by slot. */
export const JIT_STAT_SLOTS = {
  translations: 9,
  codeBytes: 10,
  translateMs: 11,
  flushes: 12,
  declined: 13,
  reinstalls: 14,
} as const;

/** mtime ticks per second: the device tree's timebase-frequency. */
export const TIMEBASE_HZ = 10_000_000;

/** Byte offset of hart `h`'s cross-hart block. */
export function sharedBlock(h: number): number {
  return SHARED_BASE + h * SHARED_STRIDE;
}

/** Wasm pages needed for `ramBytes` of guest RAM after the core's own areas. */
export function memoryPages(ramBytes: number): number {
  return Math.ceil((RAM_OFFSET + ramBytes) / WASM_PAGE);
}

/** The largest guest RAM a 32-bit WebAssembly memory can hold after the core's areas. */
export const MAX_RAM_BYTES = 0xffff_0000 - RAM_OFFSET;
