// Control and status registers: access checks, WARL behaviour, and the views (sstatus, sie,
// sip) onto the machine registers. Unknown CSRs are illegal instructions.
import {
  EXC_ILLEGAL, MEDELEG_WRITABLE, MIDELEG_WRITABLE, MIE_WRITABLE, MIP_M_WRITABLE, MIP_SSIP,
  MSTATUS_FS, MSTATUS_MIE, MSTATUS_MPP, MSTATUS_MXR, MSTATUS_SD, MSTATUS_SIE, MSTATUS_SXL,
  MSTATUS_TVM, MSTATUS_UXL, MSTATUS_WRITABLE, SSTATUS_READABLE, SSTATUS_WRITABLE,
} from "./csr-bits";
import { SH_MIP } from "./layout";
import * as st from "./state";
import { PRIV_M, PRIV_S, PRIV_U } from "./state";
import { flushTlb, updateDataPriv } from "./mmu";
import { raise } from "./fault";
import { mtime, updateTimer } from "./clint";
import { extLines, readMip } from "./trap";

// misa: MXL=64, extensions A C D F I M S U.
const MISA: u64 =
  (<u64>2 << 62) | (1 << 0) | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 8) | (1 << 12) | (1 << 18) |
  (1 << 20);

/** Set after a CSR write that may unmask an interrupt: the interpreter re-checks at once. */
export let csrCheckInterrupts: bool = false;

/**
 * Set by a write to mcycle/minstret: the writing instruction then does not count itself
 * (Zicsr: "the write is done instead of the increment"); the interpreter takes it at once.
 */
let counterWritten: bool = false;

function withSd(s: u64): u64 {
  return (s & MSTATUS_FS) == MSTATUS_FS ? s | MSTATUS_SD : s & ~MSTATUS_SD;
}

function counterAllowed(n: u32): bool {
  const bit: u64 = <u64>1 << (n & 31);
  if (st.priv < PRIV_M && (st.mcounteren & bit) == 0) return false;
  if (st.priv == PRIV_U && (st.scounteren & bit) == 0) return false;
  return true;
}

function fpEnabled(): bool {
  return (st.mstatus & MSTATUS_FS) != 0;
}

/**
 * Reads CSR `n` for the instruction `inst` (used as mtval when illegal). Checks the privilege
 * the CSR number encodes; returns 0 with an illegal-instruction fault raised when not allowed.
 */
export function csrRead(n: u32, inst: u32): u64 {
  if (((n >> 8) & 3) > st.priv) {
    raise(EXC_ILLEGAL, inst);
    return 0;
  }
  switch (n) {
    case 0x001: if (!fpEnabled()) break; return st.fflags;
    case 0x002: if (!fpEnabled()) break; return st.frm;
    case 0x003: if (!fpEnabled()) break; return (st.frm << 5) | st.fflags;
    case 0xc00: if (!counterAllowed(0)) break; return st.instret;
    case 0xc01: if (!counterAllowed(1)) break; return mtime();
    case 0xc02: if (!counterAllowed(2)) break; return st.instret;
    case 0x100: return withSd(st.mstatus) & SSTATUS_READABLE;
    case 0x104: return st.mie & st.mideleg;
    case 0x105: return st.stvec;
    case 0x106: return st.scounteren;
    case 0x10a: return 0; // senvcfg
    case 0x140: return st.sscratch;
    case 0x141: return st.sepc;
    case 0x142: return st.scause;
    case 0x143: return st.stval;
    case 0x144:
      updateTimer(st.shared, st.sbiMode);
      return <u64>readMip() & st.mideleg;
    case 0x180:
      if (st.priv == PRIV_S && (st.mstatus & MSTATUS_TVM) != 0) break;
      return st.satp;
    case 0x300: return withSd(st.mstatus);
    case 0x301: return MISA;
    case 0x302: return st.medeleg;
    case 0x303: return st.mideleg;
    case 0x304: return st.mie;
    case 0x305: return st.mtvec;
    case 0x306: return st.mcounteren;
    case 0x30a: return 0; // menvcfg
    case 0x320: return st.mcountinhibit;
    case 0x340: return st.mscratch;
    case 0x341: return st.mepc;
    case 0x342: return st.mcause;
    case 0x343: return st.mtval;
    case 0x344:
      updateTimer(st.shared, st.sbiMode);
      return <u64>readMip();
    case 0xb00: return st.instret;
    case 0xb02: return st.instret;
    case 0xf11: return 0; // mvendorid
    case 0xf12: return 0; // marchid
    case 0xf13: return 0; // mimpid
    case 0xf14: return st.hartId;
    case 0xf15: return 0; // mconfigptr
    default:
      // hpmcounters, their events and the PMP registers: implemented as hard-wired zero
      // (a hart with no performance counters beyond the basic ones and no PMP entries).
      if (n >= 0xc03 && n <= 0xc1f) {
        if (!counterAllowed(n - 0xc00)) break;
        return 0;
      }
      if ((n >= 0xb03 && n <= 0xb1f) || (n >= 0x323 && n <= 0x33f)) return 0;
      if (n >= 0x3a0 && n <= 0x3ef) return 0;
  }
  raise(EXC_ILLEGAL, inst);
  return 0;
}

/**
 * Writes `v` to CSR `n`. Read-only CSRs and those above the current privilege raise an
 * illegal-instruction fault; WARL fields keep only legal values.
 */
export function csrWrite(n: u32, v: u64, inst: u32): void {
  if (((n >> 8) & 3) > st.priv || (n >> 10) == 3) {
    raise(EXC_ILLEGAL, inst);
    return;
  }
  switch (n) {
    case 0x001: if (!fpEnabled()) break; st.fflags = <u32>v & 0x1f; dirtyFs(); return;
    case 0x002: if (!fpEnabled()) break; st.frm = <u32>v & 7; dirtyFs(); return;
    case 0x003:
      if (!fpEnabled()) break;
      st.fflags = <u32>v & 0x1f;
      st.frm = (<u32>v >> 5) & 7;
      dirtyFs();
      return;
    case 0x100:
      setMstatus((st.mstatus & ~SSTATUS_WRITABLE) | (v & SSTATUS_WRITABLE));
      return;
    case 0x104:
      st.mie = (st.mie & ~st.mideleg) | (v & st.mideleg);
      csrCheckInterrupts = true;
      return;
    case 0x105: st.stvec = legalTvec(v, st.stvec); return;
    case 0x106: st.scounteren = v & 0xffff_ffff; return;
    case 0x10a: return;
    case 0x140: st.sscratch = v; return;
    case 0x141: st.sepc = v & ~<u64>1; return;
    case 0x142: st.scause = v; return;
    case 0x143: st.stval = v; return;
    case 0x144:
      if ((st.mideleg & MIP_SSIP) != 0) setMipBits(MIP_SSIP, <u32>v & MIP_SSIP);
      return;
    case 0x180: {
      if (st.priv == PRIV_S && (st.mstatus & MSTATUS_TVM) != 0) break;
      const mode = v >> 60;
      // WARL: bare, Sv39 and Sv48 only; no ASID bits (ASIDLEN = 0).
      if (mode != 0 && mode != 8 && mode != 9) return;
      st.satp = v & 0xf000_0fff_ffff_ffff;
      flushTlb();
      return;
    }
    case 0x300: setMstatus((st.mstatus & ~MSTATUS_WRITABLE) | (v & MSTATUS_WRITABLE)); return;
    case 0x301: return; // misa: not writable
    case 0x302: st.medeleg = v & MEDELEG_WRITABLE; return;
    case 0x303: st.mideleg = v & MIDELEG_WRITABLE; csrCheckInterrupts = true; return;
    case 0x304: st.mie = v & MIE_WRITABLE; csrCheckInterrupts = true; return;
    case 0x305: st.mtvec = legalTvec(v, st.mtvec); return;
    case 0x306: st.mcounteren = v & 0xffff_ffff; return;
    case 0x30a: return;
    case 0x320: st.mcountinhibit = v & 0xffff_fffd; return;
    case 0x340: st.mscratch = v; return;
    case 0x341: st.mepc = v & ~<u64>1; return;
    case 0x342: st.mcause = v; return;
    case 0x343: st.mtval = v; return;
    case 0x344: setMipBits(MIP_M_WRITABLE, <u32>v & MIP_M_WRITABLE); return;
    case 0xb00: case 0xb02: // mcycle and minstret share one counter
      st.instret = v;
      counterWritten = true;
      return;
    default:
      if ((n >= 0xb03 && n <= 0xb1f) || (n >= 0x323 && n <= 0x33f)) return;
      if (n >= 0x3a0 && n <= 0x3ef) return;
  }
  raise(EXC_ILLEGAL, inst);
}

export function legalTvec(v: u64, old: u64): u64 {
  const mode = v & 3;
  if (mode >= 2) return (v & ~<u64>3) | (old & 3);
  return v;
}

function setMipBits(mask: u32, value: u32): void {
  const p = st.shared + SH_MIP;
  for (;;) {
    const old = atomic.load<i32>(p);
    const nv = (old & ~mask) | value;
    if (atomic.cmpxchg<i32>(p, old, nv) == old) break;
  }
  csrCheckInterrupts = true;
}

/** Installs a new mstatus: WARL MPP, fixed UXL/SXL, TLB flush when translation inputs change. */
export function setMstatus(v: u64): void {
  let nv = v;
  if ((nv & MSTATUS_MPP) == (<u64>2 << 11)) nv &= ~MSTATUS_MPP; // MPP=2 is reserved: U
  nv = (nv & ~MSTATUS_SD) | MSTATUS_UXL | MSTATUS_SXL;
  const changed = nv ^ st.mstatus;
  st.mstatus = nv;
  if ((changed & MSTATUS_MXR) != 0) {
    flushTlb();
  }
  updateDataPriv();
  // Only a change of the global enables can make a pending interrupt takeable. (Linux toggles
  // SUM around every user access: that must not cost an interrupt check.)
  if ((changed & (MSTATUS_MIE | MSTATUS_SIE)) != 0) csrCheckInterrupts = true;
}

/**
 * The value a csrrs/csrrc modifies: what csrRead returned, except that for mip/sip the PLIC's
 * lines (OR-ed into reads) must not be latched into the software-writable SEIP bit.
 */
export function rmwBase(n: u32, readValue: u64): u64 {
  return n == 0x344 || n == 0x144 ? readValue & ~extLines() : readValue;
}

@inline export function dirtyFs(): void {
  st.mstatus |= MSTATUS_FS;
}

/** Makes the interpreter check for a takeable interrupt before its next instruction. */
export function requestInterruptCheck(): void {
  csrCheckInterrupts = true;
}

export function clearCsrCheck(): void {
  csrCheckInterrupts = false;
}

/** Whether the last CSR instruction wrote mcycle/minstret; clears the mark. */
export function takeCounterWritten(): bool {
  const w = counterWritten;
  counterWritten = false;
  return w;
}

