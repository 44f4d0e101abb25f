// Address translation (Sv39, Sv48), the software TLBs and every guest memory access.
// Guest RAM is reached only through addresses this file has bounds-checked against
// [ramBase, ramBase + ramSize); anything else becomes a CLINT access or an MMIO exit.
import {
  CLINT_BASE, CLINT_SIZE, HA_TLB_R, HA_TLB_W, HA_TLB_X, TLB_ENTRIES,
} from "./layout";
import {
  EXC_INST_ACCESS, EXC_INST_PAGE, EXC_LOAD_ACCESS, EXC_LOAD_PAGE, EXC_STORE_ACCESS,
  EXC_STORE_PAGE, MSTATUS_MPP_SHIFT, MSTATUS_MPRV, MSTATUS_MXR, MSTATUS_SUM,
} from "./csr-bits";
import {
  PRIV_M, PRIV_S, PRIV_U, hartArea, mstatus, priv, ramHostDelta, ramSize, ramBase, satp,
} from "./state";
import { fault, raise, requestMmio } from "./fault";
import { clintRead, clintWrite } from "./clint";
import { invalidateCode } from "./jit";

export const ACC_R: u32 = 0;
export const ACC_W: u32 = 1;
export const ACC_X: u32 = 2;

const PTE_V: u64 = 1;
const PTE_R: u64 = 2;
const PTE_W: u64 = 4;
const PTE_X: u64 = 8;
const PTE_U: u64 = 16;
const PTE_A: u64 = 64;
const PTE_D: u64 = 128;
const PPN_MASK: u64 = 0xfff_ffff_ffff; // 44 bits

// Effective privilege for loads/stores (MPRV) and instruction fetch; part of every TLB tag.
export let dataPriv: u32 = PRIV_M;
// dataPriv plus SUM (bit 2): the TLB key for loads and stores, so toggling SUM around every
// user access needs no flush.
export let dataKey: u32 = PRIV_M;
// Fetch cache: the host address of the page the last instruction came from.
export let fetchVpn: u64 = <u64>-1;
export let fetchHost: u32 = 0;

/** Forgets the cached fetch page (after any change of privilege or translation). */
@inline export function invalidateFetch(): void {
  fetchVpn = <u64>-1;
}

export let tlbR: u32 = 0;
export let tlbW: u32 = 0;
export let tlbX: u32 = 0;

/** Recomputes the effective data privilege after priv or mstatus changed. */
export function updateDataPriv(): void {
  dataPriv = priv;
  if (priv == PRIV_M && (mstatus & MSTATUS_MPRV) != 0) {
    dataPriv = <u32>((mstatus >> MSTATUS_MPP_SHIFT) & 3);
  }
  dataKey = dataPriv | ((mstatus & MSTATUS_SUM) != 0 ? 4 : 0);
  invalidateFetch();
}

export function initTlb(): void {
  tlbR = hartArea + HA_TLB_R;
  tlbW = hartArea + HA_TLB_W;
  tlbX = hartArea + HA_TLB_X;
  flushTlb();
}

/** Drops every cached translation (satp, SUM/MXR changes, sfence.vma without address). */
export function flushTlb(): void {
  invalidateFetch();
  memory.fill(tlbR, 0xff, TLB_ENTRIES * 16);
  memory.fill(tlbW, 0xff, TLB_ENTRIES * 16);
  memory.fill(tlbX, 0xff, TLB_ENTRIES * 16);
}

/** Drops the cached translations of one virtual page (sfence.vma with an address). */
export function flushTlbPage(va: u64): void {
  invalidateFetch();
  const off = (<u32>(va >> 12) & (TLB_ENTRIES - 1)) << 4;
  store<u64>(tlbR + off, <u64>-1);
  store<u64>(tlbW + off, <u64>-1);
  store<u64>(tlbX + off, <u64>-1);
}

@inline export function tlbLookup(tlb: u32, va: u64, key: u32): u32 {
  const vpn = va >> 12;
  const e = tlb + ((<u32>vpn & (TLB_ENTRIES - 1)) << 4);
  if (load<u64>(e) == ((vpn << 3) | <u64>key)) return <u32>(va + load<u64>(e, 8));
  return 0;
}

function tlbFill(tlb: u32, va: u64, key: u32, pa: u64): void {
  // Stores through a write entry are not checked again: translations of the page end here.
  if (tlb == tlbW) invalidateCode(<u32>((pa & ~<u64>0xfff) + ramHostDelta));
  const vpn = va >> 12;
  const e = tlb + ((<u32>vpn & (TLB_ENTRIES - 1)) << 4);
  store<u64>(e, (vpn << 3) | <u64>key);
  store<u64>(e, ((pa & ~<u64>0xfff) + ramHostDelta) - (va & ~<u64>0xfff), 8);
}

@inline export function inRam(pa: u64, size: u64): bool {
  return pa >= ramBase && pa - ramBase <= ramSize - size;
}

function pageFault(acc: u32, va: u64): void {
  raise(acc == ACC_X ? EXC_INST_PAGE : acc == ACC_W ? EXC_STORE_PAGE : EXC_LOAD_PAGE, va);
}

function accessFault(acc: u32, va: u64): void {
  raise(acc == ACC_X ? EXC_INST_ACCESS : acc == ACC_W ? EXC_STORE_ACCESS : EXC_LOAD_ACCESS, va);
}

/**
 * Translates `va` for an access of kind `acc` at privilege `ep`. Returns the physical address,
 * or raises a page/access fault and returns 0. Page-table entries are read only from RAM and
 * only once per level; A/D updates use compare-and-swap so a racing hart's change is not lost.
 */
export function translate(va: u64, acc: u32, ep: u32): u64 {
  // Another hart may change a PTE between our read and our A/D update; walk again then, a
  // bounded number of times (a guest racing forever gets a page fault, which it can retry).
  for (let attempt = 0; attempt < WALK_RETRIES; attempt++) {
    walkRaced = false;
    const pa = walk(va, acc, ep);
    if (!walkRaced) return pa;
  }
  pageFault(acc, va);
  return 0;
}

const WALK_RETRIES = 16;
let walkRaced = false; // set by walk() when its A/D update lost a race

function walk(va: u64, acc: u32, ep: u32): u64 {
  const mode = satp >> 60;
  if (ep == PRIV_M || mode == 0) return va;
  const levels: i32 = mode == 8 ? 3 : 4;
  const vaBits: u64 = mode == 8 ? 39 : 48;
  // The upper bits must all equal the top implemented bit.
  if (<u64>((<i64>(va << (64 - vaBits))) >> (64 - vaBits)) != va) {
    pageFault(acc, va);
    return 0;
  }
  let table = (satp & PPN_MASK) << 12;
  for (let i = levels - 1; i >= 0; i--) {
    const shift = 12 + 9 * <u64>i;
    const pteAddr = table + ((va >> shift) & 0x1ff) * 8;
    if (!inRam(pteAddr, 8)) {
      accessFault(acc, va);
      return 0;
    }
    const host = <u32>(pteAddr + ramHostDelta);
    let pte = atomic.load<u64>(host);
    if ((pte & PTE_V) == 0 || ((pte & PTE_R) == 0 && (pte & PTE_W) != 0) || (pte >> 54) != 0) {
      pageFault(acc, va);
      return 0;
    }
    if ((pte & (PTE_R | PTE_X)) == 0) {
      if (i == 0) break;
      table = ((pte >> 10) & PPN_MASK) << 12;
      continue;
    }
    // A leaf: permissions.
    if (acc == ACC_X) {
      if ((pte & PTE_X) == 0) break;
    } else if (acc == ACC_R) {
      if ((pte & PTE_R) == 0 && !((mstatus & MSTATUS_MXR) != 0 && (pte & PTE_X) != 0)) break;
    } else if ((pte & PTE_W) == 0) break;
    if ((pte & PTE_U) != 0) {
      if (ep == PRIV_S && (acc == ACC_X || (mstatus & MSTATUS_SUM) == 0)) break;
    } else if (ep == PRIV_U) break;
    const ppn = (pte >> 10) & PPN_MASK;
    const lowMask: u64 = (<u64>1 << (9 * <u64>i)) - 1;
    if ((ppn & lowMask) != 0) break; // misaligned superpage
    const need = acc == ACC_W ? PTE_A | PTE_D : PTE_A;
    if ((pte & need) != need) {
      invalidateCode(host & ~0xfff); // a page table that is also code stays exact
      const old = atomic.cmpxchg<u64>(host, pte, pte | need);
      if (old != pte) {
        walkRaced = true; // changed under us: walk again
        return 0;
      }
    }
    const pageMask: u64 = (<u64>1 << shift) - 1;
    return ((ppn << 12) & ~pageMask) | (va & pageMask);
  }
  pageFault(acc, va);
  return 0;
}

// ---- data accesses -------------------------------------------------------------------------

function loadSlow(va: u64, size: u32): u64 {
  if ((va & 0xfff) + <u64>size > 0x1000) {
    // Misaligned across a page boundary: byte by byte, each byte translated.
    let v: u64 = 0;
    for (let i: u32 = 0; i < size; i++) {
      const b = loadSlow(va + i, 1);
      if (faultPending()) return 0;
      v |= b << (8 * <u64>i);
    }
    return v;
  }
  const pa = translate(va, ACC_R, dataPriv);
  if (faultPending()) return 0;
  if (inRam(pa, size)) {
    tlbFill(tlbR, va, dataKey, pa);
    const h = <u32>(pa + ramHostDelta);
    if (size == 8) return load<u64>(h);
    if (size == 4) return load<u32>(h);
    if (size == 2) return load<u16>(h);
    return load<u8>(h);
  }
  if (pa >= CLINT_BASE && pa < CLINT_BASE + CLINT_SIZE) {
    return clintRead(<u32>(pa - CLINT_BASE), size);
  }
  if ((pa & (<u64>size - 1)) != 0) {
    accessFault(ACC_R, va);
    return 0;
  }
  requestMmio(va, pa, size, false, 0);
  return 0;
}

function storeSlow(va: u64, size: u32, v: u64): void {
  if ((va & 0xfff) + <u64>size > 0x1000) {
    // Check both pages before writing anything, so a fault leaves memory untouched.
    const last = va + <u64>size - 1;
    translate(va, ACC_W, dataPriv);
    if (faultPending()) return;
    translate(last, ACC_W, dataPriv);
    if (faultPending()) return;
    for (let i: u32 = 0; i < size; i++) {
      storeSlow(va + i, 1, v >> (8 * <u64>i));
      if (faultPending()) return;
    }
    return;
  }
  const pa = translate(va, ACC_W, dataPriv);
  if (faultPending()) return;
  if (inRam(pa, size)) {
    tlbFill(tlbW, va, dataKey, pa);
    const h = <u32>(pa + ramHostDelta);
    if (size == 8) store<u64>(h, v);
    else if (size == 4) store<u32>(h, <u32>v);
    else if (size == 2) store<u16>(h, <u16>v);
    else store<u8>(h, <u8>v);
    return;
  }
  if (pa >= CLINT_BASE && pa < CLINT_BASE + CLINT_SIZE) {
    clintWrite(<u32>(pa - CLINT_BASE), size, v);
    return;
  }
  if ((pa & (<u64>size - 1)) != 0) {
    accessFault(ACC_W, va);
    return;
  }
  requestMmio(va, pa, size, true, v);
}

@inline function faultPending(): bool {
  return fault != 0;
}

@inline export function load64(va: u64): u64 {
  if ((va & 0xfff) <= 0xff8) {
    const h = tlbLookup(tlbR, va, dataKey);
    if (h != 0) return load<u64>(h);
  }
  return loadSlow(va, 8);
}
@inline export function load32(va: u64): u32 {
  if ((va & 0xfff) <= 0xffc) {
    const h = tlbLookup(tlbR, va, dataKey);
    if (h != 0) return load<u32>(h);
  }
  return <u32>loadSlow(va, 4);
}
@inline export function load16(va: u64): u32 {
  if ((va & 0xfff) <= 0xffe) {
    const h = tlbLookup(tlbR, va, dataKey);
    if (h != 0) return load<u16>(h);
  }
  return <u32>loadSlow(va, 2);
}
@inline export function load8(va: u64): u32 {
  const h = tlbLookup(tlbR, va, dataKey);
  if (h != 0) return load<u8>(h);
  return <u32>loadSlow(va, 1);
}

@inline export function store64(va: u64, v: u64): void {
  if ((va & 0xfff) <= 0xff8) {
    const h = tlbLookup(tlbW, va, dataKey);
    if (h != 0) {
      store<u64>(h, v);
      return;
    }
  }
  storeSlow(va, 8, v);
}
@inline export function store32(va: u64, v: u32): void {
  if ((va & 0xfff) <= 0xffc) {
    const h = tlbLookup(tlbW, va, dataKey);
    if (h != 0) {
      store<u32>(h, v);
      return;
    }
  }
  storeSlow(va, 4, v);
}
@inline export function store16(va: u64, v: u32): void {
  if ((va & 0xfff) <= 0xffe) {
    const h = tlbLookup(tlbW, va, dataKey);
    if (h != 0) {
      store<u16>(h, <u16>v);
      return;
    }
  }
  storeSlow(va, 2, v);
}
@inline export function store8(va: u64, v: u32): void {
  const h = tlbLookup(tlbW, va, dataKey);
  if (h != 0) {
    store<u8>(h, <u8>v);
    return;
  }
  storeSlow(va, 1, v);
}

/**
 * Host address for an atomic access of `size` bytes at `va` (aligned, checked by the caller),
 * translated for writing. RAM only: an AMO on anything else is a store access fault. 0 on fault.
 */
export function amoHost(va: u64, size: u32, forLoad: bool): u32 {
  const acc = forLoad ? ACC_R : ACC_W;
  const h = tlbLookup(forLoad ? tlbR : tlbW, va, dataKey);
  if (h != 0) return h;
  const pa = translate(va, acc, dataPriv);
  if (faultPending()) return 0;
  if (!inRam(pa, size)) {
    accessFault(acc, va);
    return 0;
  }
  tlbFill(forLoad ? tlbR : tlbW, va, dataKey, pa);
  return <u32>(pa + ramHostDelta);
}

// ---- instruction fetch ---------------------------------------------------------------------

/**
 * Host address of the 4 KiB page holding `va` for instruction fetch at the current privilege,
 * or 0 with an instruction page/access fault raised. Code must be in RAM.
 */
export function fetchPage(va: u64): u32 {
  const h = tlbLookup(tlbX, va, priv);
  if (h != 0) return h & ~0xfff;
  const pa = translate(va, ACC_X, priv);
  if (faultPending()) return 0;
  if (!inRam(pa & ~<u64>0xfff, 0x1000)) {
    accessFault(ACC_X, va);
    return 0;
  }
  tlbFill(tlbX, va, priv, pa);
  return <u32>((pa & ~<u64>0xfff) + ramHostDelta);
}

