// A hart's architectural state as one record in its private area (HA_STATE), for snapshots:
// saveState writes it for the host to copy out; the host copies a record in and loadState
// installs it. Both run between slices only (no MMIO access, SBI call or trap is in flight),
// so the exit registers are not part of it; TLBs, the fetch cache and translated code are
// derived state, rebuilt after a load. The x and f registers are in memory already and are
// copied into the record too, so that one record is the whole hart.
import * as st from "./state";
import { HA_STATE } from "./layout";
import { legalTvec, requestInterruptCheck, setMstatus } from "./csr";
import { MEDELEG_WRITABLE, MIDELEG_WRITABLE, MIE_WRITABLE, MSTATUS_WRITABLE } from "./csr-bits";
import { flushTlb, invalidateFetch, updateDataPriv } from "./mmu";

/** The record's layout version; a record of another version is refused. */
export const STATE_VERSION: u64 = 1;
// Slot numbers (u64 each); keep in step with src/accel/soft/hart-state.ts.
const N_SCALARS: u32 = 29;
const X_SLOT: u32 = N_SCALARS;
const F_SLOT: u32 = N_SCALARS + 32;
/** The record's size in bytes. */
export const STATE_BYTES: u32 = (N_SCALARS + 64) << 3;

@inline function put(slot: u32, v: u64): void {
  store<u64>(st.hartArea + HA_STATE + (slot << 3), v);
}
@inline function get(slot: u32): u64 {
  return load<u64>(st.hartArea + HA_STATE + (slot << 3));
}

/** Writes this hart's state to its record. */
export function saveState(): void {
  put(0, STATE_VERSION);
  put(1, st.pc);
  put(2, st.priv);
  put(3, st.instret);
  put(4, st.mstatus);
  put(5, st.medeleg);
  put(6, st.mideleg);
  put(7, st.mie);
  put(8, st.mtvec);
  put(9, st.mcounteren);
  put(10, st.mcountinhibit);
  put(11, st.mscratch);
  put(12, st.mepc);
  put(13, st.mcause);
  put(14, st.mtval);
  put(15, st.stvec);
  put(16, st.scounteren);
  put(17, st.sscratch);
  put(18, st.sepc);
  put(19, st.scause);
  put(20, st.stval);
  put(21, st.satp);
  put(22, st.fflags);
  put(23, st.frm);
  put(24, st.resValid ? 1 : 0);
  put(25, st.resAddr);
  put(26, st.resValue);
  put(27, st.sbiMode ? 1 : 0);
  put(28, 0); // reserved
  for (let i: u32 = 0; i < 32; i++) {
    put(X_SLOT + i, st.getX(i));
    put(F_SLOT + i, st.getF(i));
  }
}

/**
 * Installs the record as this hart's state. Returns 0, or 1 + the slot of the first value the
 * hart cannot hold (the record is then not installed). Bound: every CSR goes through the same
 * legal-value rules as a guest's write; a privilege, satp mode, frm or the SBI mode the core
 * was not made for is refused rather than masked.
 */
export function loadState(): u32 {
  if (get(0) != STATE_VERSION) return 1 + 0;
  if ((get(1) & 1) != 0) return 1 + 1;
  const priv = get(2);
  if (priv != st.PRIV_U && priv != st.PRIV_S && priv != st.PRIV_M) return 1 + 2;
  const satpMode = get(21) >> 60;
  if (satpMode != 0 && satpMode != 8 && satpMode != 9) return 1 + 21;
  if (get(22) > 0x1f) return 1 + 22;
  if (get(23) > 7) return 1 + 23;
  if (get(24) > 1) return 1 + 24;
  if (get(27) != (st.sbiMode ? 1 : 0)) return 1 + 27;
  st.pc = get(1);
  st.priv = <u32>priv;
  st.instret = get(3);
  st.medeleg = get(5) & MEDELEG_WRITABLE;
  st.mideleg = get(6) & MIDELEG_WRITABLE;
  st.mie = get(7) & MIE_WRITABLE;
  st.mtvec = legalTvec(get(8), 0);
  st.mcounteren = get(9) & 0xffff_ffff;
  st.mcountinhibit = get(10) & 0xffff_fffd;
  st.mscratch = get(11);
  st.mepc = get(12) & ~<u64>1;
  st.mcause = get(13);
  st.mtval = get(14);
  st.stvec = legalTvec(get(15), 0);
  st.scounteren = get(16) & 0xffff_ffff;
  st.sscratch = get(17);
  st.sepc = get(18) & ~<u64>1;
  st.scause = get(19);
  st.stval = get(20);
  st.satp = get(21) & 0xf000_0fff_ffff_ffff;
  st.fflags = <u32>get(22);
  st.frm = <u32>get(23);
  st.resValid = get(24) == 1;
  st.resAddr = get(25);
  st.resValue = get(26);
  for (let i: u32 = 0; i < 32; i++) {
    st.setX(i, get(X_SLOT + i));
    st.setF(i, get(F_SLOT + i));
  }
  setMstatus(get(4) & MSTATUS_WRITABLE);
  updateDataPriv();
  flushTlb();
  invalidateFetch();
  requestInterruptCheck();
  return 0;
}
