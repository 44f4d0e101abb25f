// Taking traps (exceptions and interrupts), returning from them, and deciding which pending
// interrupt, if any, is taken now.
import {
  INTERRUPT, MIP_MEIP, MIP_MSIP, MIP_MTIP, MIP_SEIP, MIP_SSIP, MIP_STIP, MSTATUS_MIE,
  MSTATUS_MPIE, MSTATUS_MPP, MSTATUS_MPP_SHIFT, MSTATUS_MPRV, MSTATUS_SIE, MSTATUS_SPIE,
  MSTATUS_SPP,
} from "./csr-bits";
import { SH_EXT, SH_MIP } from "./layout";
import {
  PRIV_M, PRIV_S, instret, medeleg, mideleg, mie, mstatus, mtvec, pc, priv, shared, stvec,
} from "./state";
import * as st from "./state";
import { updateDataPriv } from "./mmu";
import { updateTimer } from "./clint";

// Trap-loop detection: traps taken with no instruction retired in between.
export let trapsWithoutProgress: u32 = 0;
let lastTrapInstret: u64 = <u64>-1;
export const TRAP_LOOP_LIMIT: u32 = 64;

/** The effective mip: this hart's software-visible bits plus the PLIC's lines. */
@inline export function readMip(): u32 {
  return atomic.load<i32>(shared + SH_MIP) | atomic.load<i32>(shared + SH_EXT);
}

/**
 * The PLIC-driven lines that are not also set in the software-visible mip word (a write to mip
 * must not latch them into the software SEIP bit).
 */
export function extLines(): u64 {
  const ext = atomic.load<i32>(shared + SH_EXT);
  const sw = atomic.load<i32>(shared + SH_MIP);
  return <u64>(ext & ~sw);
}

/** Enters the trap handler for `cause` (INTERRUPT bit set for interrupts) with `tval`. */
export function takeTrap(cause: u64, tval: u64): void {
  if (instret == lastTrapInstret) trapsWithoutProgress++;
  else trapsWithoutProgress = 0;
  lastTrapInstret = instret;

  const isInt = (cause & INTERRUPT) != 0;
  const code = cause & 63;
  const deleg = isInt ? mideleg : medeleg;
  if (priv <= PRIV_S && ((deleg >> code) & 1) != 0) {
    st.scause = cause;
    st.sepc = pc & ~<u64>1; // xepc[0] is 0 (IALIGN 16); only a start address can be odd
    st.stval = tval;
    let s = mstatus & ~(MSTATUS_SPP | MSTATUS_SPIE | MSTATUS_SIE);
    if (priv == PRIV_S) s |= MSTATUS_SPP;
    if ((mstatus & MSTATUS_SIE) != 0) s |= MSTATUS_SPIE;
    st.mstatus = s;
    st.priv = PRIV_S;
    const base = stvec & ~<u64>3;
    st.pc = isInt && (stvec & 3) == 1 ? base + 4 * code : base;
  } else {
    st.mcause = cause;
    st.mepc = pc & ~<u64>1;
    st.mtval = tval;
    let s = mstatus & ~(MSTATUS_MPP | MSTATUS_MPIE | MSTATUS_MIE);
    s |= (<u64>priv) << MSTATUS_MPP_SHIFT;
    if ((mstatus & MSTATUS_MIE) != 0) s |= MSTATUS_MPIE;
    st.mstatus = s;
    st.priv = PRIV_M;
    const base = mtvec & ~<u64>3;
    st.pc = isInt && (mtvec & 3) == 1 ? base + 4 * code : base;
  }
  updateDataPriv();
}

/** mret: back to MPP with MIE restored. The caller checked the privilege. */
export function mret(): void {
  const mpp = <u32>((mstatus & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT);
  let s = mstatus & ~(MSTATUS_MIE | MSTATUS_MPP);
  if ((mstatus & MSTATUS_MPIE) != 0) s |= MSTATUS_MIE;
  s |= MSTATUS_MPIE;
  if (mpp != PRIV_M) s &= ~MSTATUS_MPRV;
  st.mstatus = s;
  st.priv = mpp;
  st.pc = st.mepc;
  updateDataPriv();
}

/** sret: back to SPP with SIE restored. The caller checked privilege and TSR. */
export function sret(): void {
  const spp = (mstatus & MSTATUS_SPP) != 0 ? PRIV_S : 0;
  let s = mstatus & ~(MSTATUS_SIE | MSTATUS_SPP);
  if ((mstatus & MSTATUS_SPIE) != 0) s |= MSTATUS_SIE;
  s |= MSTATUS_SPIE;
  s &= ~MSTATUS_MPRV; // SPP is never M
  st.mstatus = s;
  st.priv = spp;
  st.pc = st.sepc;
  updateDataPriv();
}

// Bound: pendingInterrupt() reads the host's clock (a call out of the core, about 0.15 us) on
// one call in TIMER_POLL_CALLS. It runs after every xRET and interrupt-enabling CSR write, so a
// system call read the clock several times. A new deadline sets or clears the pending bit
// when it is written (CLINT here, the SBI's set_timer on the host side, then every run()),
// and every run() (a slice) and WFI reads the clock, so a deadline that passes while the hart
// runs is seen at most TIMER_POLL_CALLS such calls or one slice late.
const TIMER_POLL_CALLS: u32 = 8;
let timerPolls: u32 = 0;

/**
 * The interrupt to take now (its cause with the INTERRUPT bit), or 0. Priority per the spec:
 * MEI, MSI, MTI, SEI, SSI, STI; M-level before S-level.
 */
export function pendingInterrupt(): u64 {
  if ((mie & (MIP_MTIP | MIP_STIP)) != 0 && ++timerPolls >= TIMER_POLL_CALLS) {
    timerPolls = 0;
    updateTimer(shared, st.sbiMode);
  }
  const pending = <u64>readMip() & mie;
  if (pending == 0) return 0;
  const m = pending & ~mideleg;
  const mEnabled = priv < PRIV_M || (mstatus & MSTATUS_MIE) != 0;
  if (m != 0 && mEnabled) {
    if ((m & MIP_MEIP) != 0) return INTERRUPT | 11;
    if ((m & MIP_MSIP) != 0) return INTERRUPT | 3;
    if ((m & MIP_MTIP) != 0) return INTERRUPT | 7;
    if ((m & MIP_SEIP) != 0) return INTERRUPT | 9;
    if ((m & MIP_SSIP) != 0) return INTERRUPT | 1;
    if ((m & MIP_STIP) != 0) return INTERRUPT | 5;
  }
  const s = pending & mideleg;
  const sEnabled = priv < PRIV_S || (priv == PRIV_S && (mstatus & MSTATUS_SIE) != 0);
  if (s != 0 && sEnabled) {
    if ((s & MIP_SEIP) != 0) return INTERRUPT | 9;
    if ((s & MIP_SSIP) != 0) return INTERRUPT | 1;
    if ((s & MIP_STIP) != 0) return INTERRUPT | 5;
  }
  return 0;
}
