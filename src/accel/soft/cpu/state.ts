// The architectural state of the one hart this module instance runs. Each hart worker
// instantiates the core separately, so WebAssembly globals are private to a hart; the register
// files live in the hart's private area of the shared memory because they are indexed.
import { HART_BASE, HART_STRIDE, HA_F, HA_X, SHARED_BASE, SHARED_STRIDE } from "./layout";

export const PRIV_U: u32 = 0;
export const PRIV_S: u32 = 1;
export const PRIV_M: u32 = 3;

export let hartId: u32 = 0;
export let xBase: u32 = HART_BASE + HA_X;
export let fBase: u32 = HART_BASE + HA_F;
export let hartArea: u32 = HART_BASE;
export let shared: u32 = SHARED_BASE;

export let pc: u64 = 0;
export let priv: u32 = PRIV_M;
export let instret: u64 = 0;

// Guest RAM: guest-physical [ramBase, ramBase + ramSize) lives at ramOffset in linear memory.
export let ramBase: u64 = 0x8000_0000;
export let ramSize: u64 = 0;
export let ramHostDelta: u64 = 0; // host = pa + ramHostDelta

// true: moat's SBI answers S-mode ecalls and no M-mode software runs.
export let sbiMode: bool = false;

// Machine CSRs.
export let mstatus: u64 = 0;
export let medeleg: u64 = 0;
export let mideleg: u64 = 0;
export let mie: u64 = 0;
export let mtvec: u64 = 0;
export let mcounteren: u64 = 0;
export let mcountinhibit: u64 = 0;
export let mscratch: u64 = 0;
export let mepc: u64 = 0;
export let mcause: u64 = 0;
export let mtval: u64 = 0;
// Supervisor CSRs (sstatus/sie/sip are views of the machine ones).
export let stvec: u64 = 0;
export let scounteren: u64 = 0;
export let sscratch: u64 = 0;
export let sepc: u64 = 0;
export let scause: u64 = 0;
export let stval: u64 = 0;
export let satp: u64 = 0;
// Floating point.
export let fflags: u32 = 0;
export let frm: u32 = 0;

// LR/SC reservation.
export let resValid: bool = false;
export let resAddr: u64 = 0;
export let resValue: u64 = 0;

/** Points the module at hart `id`'s areas. `id` < MAX_HARTS is checked by the caller. */
export function selectHart(id: u32): void {
  hartId = id;
  hartArea = HART_BASE + id * HART_STRIDE;
  xBase = hartArea + HA_X;
  fBase = hartArea + HA_F;
  shared = SHARED_BASE + id * SHARED_STRIDE;
}

@inline export function getX(i: u32): u64 {
  return load<u64>(xBase + (i << 3));
}

// x0 is hard-wired to zero: writes to it are dropped here, once.
@inline export function setX(i: u32, v: u64): void {
  if (i != 0) store<u64>(xBase + (i << 3), v);
}

@inline export function getF(i: u32): u64 {
  return load<u64>(fBase + (i << 3));
}

@inline export function setF(i: u32, v: u64): void {
  store<u64>(fBase + (i << 3), v);
}
