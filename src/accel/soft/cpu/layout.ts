// Where things live in the one shared WebAssembly memory that every hart worker instantiates the
// core over. Mirrored for JavaScript in src/accel/soft/layout.ts; keep the two in step.
//
//   0x0000_0000  AssemblyScript's own static data (the core keeps none that matters)
//   0x000F_0000  cross-hart block: 256 bytes per hart, touched with atomics from any thread
//   0x0010_0000  private hart areas: 64 KiB per hart (registers, TLBs)
//   0x0040_0000  expansion table of the 65536 compressed encodings (shared by all harts)
//   0x0044_0000  code versions: a u32 per 4 KiB page of guest RAM (translated code, jit.ts)
//   0x0080_0000  the translator's entry tables: 1 MiB per hart (jit.ts)
//   0x0100_0000  guest RAM (guest-physical RAM_BASE maps here)

export const SHARED_BASE: u32 = 0x000f_0000;
export const SHARED_STRIDE: u32 = 0x100;
export const HART_BASE: u32 = 0x0010_0000;
export const HART_STRIDE: u32 = 0x1_0000;
export const RAM_OFFSET: u32 = 0x0100_0000;
// u32 per 16-bit encoding: 0 = not expanded yet, 1 = illegal, else the 32-bit instruction.
// Expansion is a pure function of the encoding, so harts share the table; racing fills write
// the same value.
export const RVC_TABLE: u32 = 0x0040_0000;
export const MAX_HARTS: u32 = 8;
// A u32 per guest-RAM page: even = no translated code on the page, odd = translations exist.
// A write that may change the page (a TLB fill for writing, a device's DMA) makes it even again,
// so a translation made at one version is stale at any other. Bound: pages past CODE_PAGES
// (3.75 GiB of RAM) are never translated.
export const CODE_VERSIONS: u32 = 0x0044_0000;
export const CODE_PAGES: u32 = (0x0080_0000 - 0x0044_0000) >> 2;
// VM-wide: bumped by a hart that starts translating a page; each hart drops its write TLB when
// it sees a new value and acknowledges in SH_CODE_ACK (see jit.ts for why).
export const VM_CODE_EPOCH: u32 = SHARED_BASE + MAX_HARTS * SHARED_STRIDE;

// Offsets inside a hart's cross-hart block (all 4- or 8-byte aligned for atomics).
export const SH_MIP: u32 = 0x00; // i32: software-visible mip bits (MSIP, MTIP, SSIP, STIP, SEIP)
export const SH_EXT: u32 = 0x04; // i32: interrupt lines driven by the PLIC (MEIP/SEIP bit positions)
export const SH_MTIMECMP: u32 = 0x08; // u64
export const SH_WAKE: u32 = 0x10; // i32: bumped (and notified) whenever the hart should re-check
export const SH_FLUSH: u32 = 0x14; // i32: remote TLB-flush requests (generation counter)
export const SH_HSM: u32 = 0x18; // i32: SBI HSM state
export const SH_FLUSH_ACK: u32 = 0x1c; // i32: last flush generation this hart has honoured
export const SH_START_ADDR: u32 = 0x20; // u64
export const SH_OPAQUE: u32 = 0x28; // u64
export const SH_IDLE: u32 = 0x30; // i32: 1 while the hart sleeps in WFI or is stopped
export const SH_FENCE: u32 = 0x34; // i32: target of the read-modify-write that implements FENCE
export const SH_CODE_ACK: u32 = 0x38; // i32: the last VM_CODE_EPOCH this hart has honoured

// Offsets inside a private hart area.
export const HA_X: u32 = 0x000; // 32 x u64 integer registers
export const HA_F: u32 = 0x100; // 32 x u64 floating-point registers (NaN-boxed)
export const HA_TLB_R: u32 = 0x1000; // 256 x {tag u64, addend u64}
export const HA_TLB_W: u32 = 0x2000;
export const HA_TLB_X: u32 = 0x3000;
export const TLB_ENTRIES: u32 = 256;
// How a translated function hands back pc and instret (jit.ts), in the private hart area.
export const HA_JIT_ABI: u32 = 0x4000;
// A snapshot's record of the hart's architectural state (snapshot.ts), STATE_BYTES long.
export const HA_STATE: u32 = 0x8000;
// Each hart's 1 MiB: a table from guest entries to translated functions (JIT_ENTRIES x 32
// bytes), then JIT_COUNTERS untagged u16 counts of jumps to entries not in the table yet.
export const JIT_TABLES: u32 = 0x0080_0000;
export const JIT_TABLE_STRIDE: u32 = 0x10_0000;
export const JIT_ENTRIES: u32 = 16384;
export const JIT_COUNTERS: u32 = 65536;

// Guest-physical addresses of the devices the core handles itself.
export const CLINT_BASE: u64 = 0x0200_0000;
export const CLINT_SIZE: u64 = 0x1_0000;
