// What translated code calls back into the core for: the slow paths of loads and stores (TLB
// miss, page crossing, MMIO, faults) and the M-extension operations that are not one WebAssembly
// instruction. Each does exactly what the interpreter does for the same instruction.
import { fault } from "./fault";
import { load16, load32, load64, load8, store16, store32, store64, store8 } from "./mmu";
import { FAULT_MMIO } from "./fault";
import {
  LK_64, LK_SEXT16, LK_SEXT32, LK_SEXT8, LK_ZEXT16, LK_ZEXT32, LK_ZEXT8, execAmo, execFpMem, mulh,
  mulhsu, mulhu, setMmioTarget,
} from "./exec";
import { EXC_ILLEGAL, MSTATUS_FS } from "./csr-bits";
import { raise } from "./fault";
import * as st from "./state";
import { execFma, execOpFp } from "./fpu";
import { SH_FENCE } from "./layout";
import { clearCsrCheck, csrCheckInterrupts, csrRead, csrWrite, rmwBase } from "./csr";
import { pendingInterrupt } from "./trap";
import { getX, setX } from "./state";

/**
 * A load of kind `kind` (LK_*) at `va` into x`rd`: the value, extended; on an MMIO access the
 * register is recorded for completeMmioLoad. The caller checks jitFault() after.
 */
export function jitLoad(va: u64, kind: u32, rd: u32): u64 {
  let r: u64 = 0;
  switch (kind) {
    case LK_SEXT8: r = <u64>(<i64>(<i8>load8(va))); break;
    case LK_SEXT16: r = <u64>(<i64>(<i16>load16(va))); break;
    case LK_SEXT32: r = <u64>(<i64>(<i32>load32(va))); break;
    case LK_64: r = load64(va); break;
    case LK_ZEXT8: r = load8(va); break;
    case LK_ZEXT16: r = load16(va); break;
    case LK_ZEXT32: r = load32(va); break;
  }
  if (fault == FAULT_MMIO) setMmioTarget(rd, kind);
  return r;
}

/** A store of `size` bytes (1, 2, 4, 8). The caller checks jitFault() after. */
export function jitStore(va: u64, size: u32, v: u64): void {
  switch (size) {
    case 1: store8(va, <u32>v); break;
    case 2: store16(va, <u32>v); break;
    case 4: store32(va, <u32>v); break;
    default: store64(va, v); break;
  }
  if (fault == FAULT_MMIO) setMmioTarget(0, 0);
}

/** The pending fault.ts FAULT_* (0: none). */
export function jitFault(): u32 {
  return fault;
}

/** OP with funct7 1 and funct3 `f3` (MUL..REMU), as the interpreter computes it (translated
 * code calls it for MULH, MULHSU and MULHU, which are not one WebAssembly instruction). */
export function jitMulDiv(a: u64, b: u64, f3: u32): u64 {
  switch (f3) {
    case 0: return a * b;
    case 1: return mulh(a, b);
    case 2: return mulhsu(a, b);
    case 3: return mulhu(a, b);
    case 4:
      if (b == 0) return <u64>-1;
      if (a == 0x8000_0000_0000_0000 && b == <u64>-1) return a;
      return <u64>(<i64>a / <i64>b);
    case 5: return b == 0 ? <u64>-1 : a / b;
    case 6:
      if (b == 0) return a;
      if (a == 0x8000_0000_0000_0000 && b == <u64>-1) return 0;
      return <u64>(<i64>a % <i64>b);
    default: return b == 0 ? a : a % b;
  }
}

/**
 * One AMO, LR/SC or F/D instruction (`inst`, `raw` as fetched), exactly as the interpreter runs
 * it, on the registers in memory: the caller has stored the integer registers it reads and
 * loads the one it writes. Returns the pending FAULT_* (0: done).
 */
export function jitExec(inst: u32, raw: u32): u32 {
  const rd = (inst >> 7) & 31;
  const f3 = (inst >> 12) & 7;
  const rs1 = (inst >> 15) & 31;
  const rs2 = (inst >> 20) & 31;
  const op = inst & 0x7f;
  if (op == 0x2f) {
    execAmo(inst, raw, rd, f3, rs1, rs2);
  } else if (op == 0x07 || op == 0x27) {
    execFpMem(inst, raw, rd, f3, rs1, rs2);
  } else if ((st.mstatus & MSTATUS_FS) == 0) {
    raise(EXC_ILLEGAL, raw);
  } else if (op == 0x53) {
    execOpFp(inst, raw);
  } else {
    execFma(inst, raw, op);
  }
  return fault;
}

/** FENCE: a sequentially consistent read-modify-write orders memory like a full fence. */
export function jitFence(): void {
  atomic.add<i32>(st.shared + SH_FENCE, 0);
}

/**
 * A CSR instruction (csrrw/s/c and their immediate forms) on the registers in memory, as the
 * interpreter runs it; the counters (0xB00-0xCFF, whose reads depend on instret) are not sent
 * here. Returns 0 (done; after sstatus/mstatus the caller reloads the data TLB key), 1 (done,
 * and the caller must leave: an interrupt became takeable, or the CSR may change what
 * translated code assumes, such as translation), or 2 (a fault: not done).
 */
export function jitCsr(inst: u32, raw: u32): u32 {
  const rd = (inst >> 7) & 31;
  const f3 = (inst >> 12) & 7;
  const rs1 = (inst >> 15) & 31;
  const csr = inst >> 20;
  const src: u64 = f3 >= 5 ? <u64>rs1 : getX(rs1);
  const op = f3 & 3;
  let old: u64 = 0;
  let wrote = false;
  if (op == 1) {
    if (rd != 0) old = csrRead(csr, raw);
    if (fault != 0) return 2;
    csrWrite(csr, src, raw);
    wrote = true;
  } else {
    old = csrRead(csr, raw);
    if (fault != 0) return 2;
    if (rs1 != 0) {
      const base = rmwBase(csr, old);
      csrWrite(csr, op == 2 ? base | src : base & ~src, raw);
      wrote = true;
    }
  }
  if (fault != 0) return 2;
  setX(rd, old);
  if (csrCheckInterrupts) {
    // The interpreter takes an interrupt this write made takeable before the next instruction;
    // translated code leaves only then (Linux toggles sstatus.SIE all the time).
    if (pendingInterrupt() != 0) return 1;
    clearCsrCheck();
  }
  if (!wrote) return 0;
  switch (csr) {
    // Scratch, trap and floating-point state: nothing translated code depends on.
    case 0x001: case 0x002: case 0x003: case 0x140: case 0x141: case 0x142: case 0x143: case 0x105:
    case 0x340: case 0x341: case 0x342: case 0x343: case 0x305:
    // Interrupt enables, pending bits and delegation: checked above.
    case 0x104: case 0x144: case 0x304: case 0x344: case 0x303:
    // sstatus/mstatus: translated code reads the data TLB key (SUM, MPRV) again after the call,
    // and FS live; an MXR change flushed the TLBs, which it reads at every access.
    case 0x100: case 0x300:
      return 0;
    default:
      return 1;
  }
}
