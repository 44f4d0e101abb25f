// The CLINT lives inside the core: its registers are cross-hart words in shared memory, and
// serving them here spares every timer read a round trip to the device thread.
import { MAX_HARTS, SHARED_BASE, SHARED_STRIDE, SH_MIP, SH_MTIMECMP, SH_WAKE } from "./layout";
import { MIP_MSIP, MIP_MTIP, MIP_STIP } from "./csr-bits";
import { requestRecheck } from "./fault";
import * as st from "./state";

@external("env", "now")
declare function hostNow(): f64;

/** mtime: host monotonic time in 10 MHz ticks, common to all harts (the JS side supplies it). */
export function mtime(): u64 {
  return <u64>hostNow();
}

/** Wakes hart `h` if it sleeps in WFI so it re-reads its interrupt state. */
export function wakeHart(h: u32): void {
  const p = SHARED_BASE + h * SHARED_STRIDE + SH_WAKE;
  atomic.add<i32>(p, 1);
  atomic.notify(p, 1);
}

/** Reads a CLINT register. `off` < CLINT_SIZE; unknown or out-of-range offsets read 0. */
export function clintRead(off: u32, size: u32): u64 {
  if (off < 0x4000) {
    const h = off >> 2;
    if (h >= MAX_HARTS) return 0;
    const mip = atomic.load<i32>(SHARED_BASE + h * SHARED_STRIDE + SH_MIP);
    return (mip & MIP_MSIP) != 0 ? 1 : 0;
  }
  if (off >= 0xbff8) {
    const t = mtime();
    return off == 0xbff8 ? (size == 4 ? t & 0xffff_ffff : t) : t >> 32;
  }
  if (off >= 0x4000 && off < 0x4000 + MAX_HARTS * 8) {
    const h = (off - 0x4000) >> 3;
    const v = atomic.load<u64>(SHARED_BASE + h * SHARED_STRIDE + SH_MTIMECMP);
    if (size == 8) return v;
    return (off & 4) != 0 ? v >> 32 : v & 0xffff_ffff;
  }
  return 0;
}

/** Writes a CLINT register; writes outside the defined registers are ignored. */
export function clintWrite(off: u32, size: u32, value: u64): void {
  if (off < 0x4000) {
    const h = off >> 2;
    if (h >= MAX_HARTS) return;
    const p = SHARED_BASE + h * SHARED_STRIDE + SH_MIP;
    if ((value & 1) != 0) atomic.or<i32>(p, MIP_MSIP);
    else atomic.and<i32>(p, ~MIP_MSIP);
    wakeHart(h);
    requestRecheck();
    return;
  }
  if (off >= 0x4000 && off < 0x4000 + MAX_HARTS * 8) {
    const h = (off - 0x4000) >> 3;
    const p = SHARED_BASE + h * SHARED_STRIDE + SH_MTIMECMP;
    if (size == 8) atomic.store<u64>(p, value);
    else {
      const old = atomic.load<u64>(p);
      const nv = (off & 4) != 0
        ? (old & 0xffff_ffff) | (value << 32)
        : (old & 0xffff_ffff_0000_0000) | (value & 0xffff_ffff);
      atomic.store<u64>(p, nv);
    }
    // The pending bit follows the new deadline at once (harts poll the clock only now and then).
    updateTimer(SHARED_BASE + h * SHARED_STRIDE, st.sbiMode);
    wakeHart(h);
    requestRecheck();
  }
}

/**
 * Raises or lowers this hart's timer interrupt from mtime and its mtimecmp: MTIP when M-mode
 * software runs the machine, STIP when moat's SBI stands in for it.
 */
export function updateTimer(shared: u32, sbi: bool): void {
  const cmp = atomic.load<u64>(shared + SH_MTIMECMP);
  const bit: i32 = sbi ? MIP_STIP : MIP_MTIP;
  const p = shared + SH_MIP;
  if (mtime() >= cmp) {
    if ((atomic.load<i32>(p) & bit) == 0) atomic.or<i32>(p, bit);
  } else if ((atomic.load<i32>(p) & bit) != 0) {
    atomic.and<i32>(p, ~bit);
  }
}
