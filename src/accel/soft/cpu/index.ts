// The core's interface to the hart worker (src/accel/soft/hart-worker.ts). Values of 64 bits
// cross as BigInt; they cross only on exits, never per instruction.
import { MAX_HARTS, RAM_OFFSET } from "./layout";
import * as st from "./state";
import { PRIV_M, PRIV_S } from "./state";
import { initTlb, updateDataPriv, flushTlb } from "./mmu";
import { mmioAddr, mmioPc, mmioSize, mmioValue, mmioVa, mmioWrite, clearFault } from "./fault";
import { setMstatus } from "./csr";
import { EXC_LOAD_ACCESS, EXC_STORE_ACCESS } from "./csr-bits";
import { TRAP_LOOP_LIMIT, takeTrap, trapsWithoutProgress } from "./trap";
import { mmioKind, recordHalt, serviceFlushRequests } from "./exec";
import { invalidateFetch } from "./mmu";
import { jitEnable } from "./jit";

export { expandCompressed } from "./compressed";
export { saveState, loadState } from "./snapshot";
// Read by translated code (jit/emitter.ts GLOBALS): F/D to know when the host's floats are
// exact, CSR writes for the data TLB key.
export { fflags, frm, mstatus } from "./state";
export { dataKey } from "./mmu";
export {
  jitLoad, jitStore, jitFault, jitMulDiv, jitExec, jitFence, jitCsr,
} from "./jit-calls";
export {
  jitEnable, jitSetHot, jitFlushTable, jitClaim, jitAcked, jitInstall, jitDecline, jitPending, jitForget, jitReqVa, jitReqHost, jitBudget,
  jitClaimEpoch,
} from "./jit";
export {
  EXIT_JIT, run, completeMmioLoad, interruptsPending, EXIT_BUDGET, EXIT_MMIO, EXIT_WFI, EXIT_SBI, EXIT_HALT, haltCause,
  haltPc, haltTval,
} from "./exec";

/**
 * Prepares this instance to run hart `hart` (< MAX_HARTS) over guest RAM [ramBase, ramBase +
 * ramSize), which the host placed at RAM_OFFSET. Returns false if the arguments are out of range.
 */
export function init(hart: u32, ramBase: u64, ramSize: u64, sbi: bool): bool {
  if (hart >= MAX_HARTS || (ramSize & 0xfff) != 0 || ramSize == 0) return false;
  // Page-aligned, so that a page the MMU finds in RAM is wholly guest RAM (TLBs and the fetch
  // cache map whole pages).
  if ((ramBase & 0xfff) != 0) return false;
  if (<u64>RAM_OFFSET + ramSize > 0xffff_0000) return false;
  st.selectHart(hart);
  st.ramBase = ramBase;
  st.ramSize = ramSize;
  st.ramHostDelta = <u64>RAM_OFFSET - ramBase;
  st.sbiMode = sbi;
  initTlb();
  jitEnable(false, 1);
  return true;
}

/**
 * Puts the hart at `entry` in privilege `priv` with a0..a2 set, as firmware or a boot loader
 * would leave it. With moat's SBI every exception and supervisor interrupt is delegated to S.
 */
export function reset(entry: u64, priv: u32, a0: u64, a1: u64, a2: u64): void {
  for (let i: u32 = 0; i < 32; i++) {
    st.setX(i, 0);
    st.setF(i, 0);
  }
  st.setX(10, a0);
  st.setX(11, a1);
  st.setX(12, a2);
  st.pc = entry;
  st.priv = priv == PRIV_S ? PRIV_S : PRIV_M;
  st.satp = 0;
  st.fflags = 0;
  st.frm = 0;
  st.mie = 0;
  st.mtvec = 0;
  st.stvec = 0;
  st.resValid = false;
  if (st.sbiMode) {
    st.medeleg = 0xb1ff; // everything but ecall-from-S, which moat's SBI answers
    st.mideleg = 0x222;
    st.mcounteren = 7;
    // As OpenSBI does: user mode may read cycle, time and instret (Linux's vDSO clock_gettime
    // runs rdtime in user mode; without this busybox's mke2fs died of SIGILL).
    st.scounteren = 7;
  } else {
    st.medeleg = 0;
    st.mideleg = 0;
    st.mcounteren = 0;
    st.scounteren = 0;
  }
  setMstatus(0);
  updateDataPriv();
  flushTlb();
}

/** Flushes this hart's TLB (while it waits in an SBI remote fence of its own). */
export function serviceFlush(): void {
  serviceFlushRequests();
}

export function getPc(): u64 {
  return st.pc;
}
export function setPc(v: u64): void {
  st.pc = v;
  invalidateFetch(); // the next fetch checks the new pc (fetchSlow)
}
export function getPriv(): u32 {
  return st.priv;
}
export function getReg(i: u32): u64 {
  return st.getX(i & 31);
}
export function setReg(i: u32, v: u64): void {
  st.setX(i & 31, v);
}
export function getInstret(): u64 {
  return st.instret;
}

export function getMmioAddr(): u64 {
  return mmioAddr;
}
export function getMmioSize(): u32 {
  return mmioSize;
}
export function getMmioWrite(): bool {
  return mmioWrite;
}
export function getMmioValue(): u64 {
  return mmioValue;
}
export function getMmioPending(): u32 {
  return mmioKind;
}

/**
 * The device bus had nothing at the address of the last MMIO exit: the access becomes a
 * load/store access fault at the instruction that made it (which then did not retire), with
 * the virtual address in tval. If that completes a trap loop, the next run() returns EXIT_HALT.
 */
export function mmioFault(): void {
  st.pc = mmioPc;
  st.instret -= 1;
  const cause = mmioWrite ? EXC_STORE_ACCESS : EXC_LOAD_ACCESS;
  takeTrap(cause, mmioVa);
  clearFault();
  invalidateFetch();
  if (trapsWithoutProgress > TRAP_LOOP_LIMIT) recordHalt(cause, mmioVa, mmioPc);
}

/** Finishes an SBI call: a0/a1 get the SBI return pair and pc moves past the ecall. */
export function sbiReturn(error: u64, value: u64): void {
  st.setX(10, error);
  st.setX(11, value);
  st.pc += 4;
}

/** SBI HSM hart_start: enter `addr` in S-mode with a0 = hartid, a1 = opaque, satp = 0. */
export function hartStart(addr: u64, opaque: u64): void {
  reset(addr, PRIV_S, st.hartId, opaque, 0);
}

/** A few CSRs for diagnostics (halt reports); no side effects, no privilege checks. */
export function debugCsr(n: u32): u64 {
  switch (n) {
    case 0x300: return st.mstatus;
    case 0x305: return st.mtvec;
    case 0x341: return st.mepc;
    case 0x342: return st.mcause;
    case 0x343: return st.mtval;
    case 0x105: return st.stvec;
    case 0x141: return st.sepc;
    case 0x142: return st.scause;
    case 0x143: return st.stval;
    case 0x180: return st.satp;
    default: return 0;
  }
}

