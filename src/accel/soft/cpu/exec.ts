// The interpreter loop: fetch (through a one-page fetch cache), expand compressed instructions,
// decode and execute RV64IMA + Zicsr + Zifencei + the privileged instructions; F/D go to fpu.ts.
import {
  EXC_BREAKPOINT, EXC_ECALL_U, EXC_ILLEGAL, EXC_INST_ACCESS, EXC_LOAD_MISALIGNED, EXC_STORE_MISALIGNED,
  MSTATUS_FS, MSTATUS_TSR, MSTATUS_TVM, MSTATUS_TW,
} from "./csr-bits";
import { FAULT_EXC, FAULT_MMIO, FAULT_RECHECK, clearFault, excCause, excTval, fault, mmioPc, raise } from "./fault";
import * as st from "./state";
import { PRIV_M, PRIV_S, PRIV_U, getF, getX, setF, setX } from "./state";
import {
  amoHost, fetchHost, fetchPage, fetchVpn, flushTlb, invalidateFetch, flushTlbPage, load16, load32, load64, load8, store16, store32,
  store64, store8,
} from "./mmu";
import {
  csrCheckInterrupts, clearCsrCheck, csrRead, csrWrite, dirtyFs, rmwBase, takeCounterWritten,
} from "./csr";
import {
  TRAP_LOOP_LIMIT, mret, pendingInterrupt, readMip, sret, takeTrap, trapsWithoutProgress,
} from "./trap";
import { expandCompressed } from "./compressed";
import { RVC_TABLE, SH_FENCE, SH_FLUSH, SH_FLUSH_ACK } from "./layout";
import { updateTimer } from "./clint";
import { execFma, execOpFp } from "./fpu";
import {
  ABI_IR, ABI_N, ABI_NEXT, ABI_PC, JS_CHECK, JS_FAULT, JS_JUMP, JS_NONE, JS_REQUEST, abiBase, ackCodeEpoch,
  jitBudget, jitDispatch, jitOn,
} from "./jit";
import { tlbLookup, tlbX } from "./mmu";

export const EXIT_BUDGET: i32 = 0; // ran the whole budget
export const EXIT_MMIO: i32 = 1; // an access for the device bus (see fault.ts mmio*)
export const EXIT_WFI: i32 = 2; // WFI with nothing pending: the host may sleep
export const EXIT_SBI: i32 = 3; // ecall from S-mode with moat's SBI: pc is at the ecall
export const EXIT_HALT: i32 = 4; // the hart cannot go on (trap loop); see haltCause/haltPc
export const EXIT_JIT: i32 = 5; // a page became hot (jit.ts jitReq*); run(jitBudget) goes on
let jitResumed = false; // the last run() returned EXIT_JIT

// An MMIO load waits for the host: which register receives the value, and how it is extended.
export const LK_SEXT8: u32 = 1;
export const LK_SEXT16: u32 = 2;
export const LK_SEXT32: u32 = 3;
export const LK_64: u32 = 4;
export const LK_ZEXT8: u32 = 5;
export const LK_ZEXT16: u32 = 6;
export const LK_ZEXT32: u32 = 7;
export const LK_F32: u32 = 8;
export const LK_F64: u32 = 9;
export let mmioRd: u32 = 0;
export let mmioKind: u32 = 0;

export let haltCause: u64 = 0;
export let haltPc: u64 = 0;
export let haltTval: u64 = 0;
let haltPending = false; // a trap loop was found outside run() (an MMIO fault)


@inline function sext32(v: u64): u64 {
  return <u64>(<i64>(<i32>(<u32>v)));
}

export function mulhu(a: u64, b: u64): u64 {
  const aL = a & 0xffff_ffff;
  const aH = a >> 32;
  const bL = b & 0xffff_ffff;
  const bH = b >> 32;
  const ll = aL * bL;
  const lh = aL * bH;
  const hl = aH * bL;
  const hh = aH * bH;
  const mid = (ll >> 32) + (lh & 0xffff_ffff) + (hl & 0xffff_ffff);
  return hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
}

export function mulh(a: u64, b: u64): u64 {
  let r = mulhu(a, b);
  if (<i64>a < 0) r -= b;
  if (<i64>b < 0) r -= a;
  return r;
}

export function mulhsu(a: u64, b: u64): u64 {
  let r = mulhu(a, b);
  if (<i64>a < 0) r -= b;
  return r;
}

/**
 * Fetches the instruction at `va` outside the fetch cache. Bound: reads only the 4 KiB pages
 * fetchPage() found wholly in RAM, so no pc makes it read past guest memory.
 */
function fetchSlow(va: u64): u32 {
  // With C, IALIGN is 16: no jump, branch or xret makes an odd pc, only a start address could
  // (reset, hartStart, setPc). Its halfword would end past the page, perhaps past memory.
  if ((va & 1) != 0) {
    raise(EXC_INST_ACCESS, va);
    return 0;
  }
  const page = fetchPage(va);
  if (fault != 0) return 0;
  const off = <u32>va & 0xfff;
  const lo = <u32>load<u16>(page + off);
  if ((lo & 3) != 3) {
    fetchVpn = va >> 12;
    fetchHost = page;
    return lo;
  }
  if (off == 0xffe) {
    // A 32-bit instruction straddling two pages.
    const page2 = fetchPage(va + 2);
    if (fault != 0) return 0;
    return lo | (<u32>load<u16>(page2) << 16);
  }
  fetchVpn = va >> 12;
  fetchHost = page;
  return load<u32>(page + off);
}

/** Records where an MMIO load's value goes (kind 0: a store, nothing to complete). */
@inline export function setMmioTarget(rd: u32, kind: u32): void {
  mmioRd = rd;
  mmioKind = kind;
}

/** Completes an MMIO load the host has served: writes `v` to the waiting register. */
export function completeMmioLoad(v: u64): void {
  switch (mmioKind) {
    case LK_SEXT8: setX(mmioRd, <u64>(<i64>(<i8>v))); break;
    case LK_SEXT16: setX(mmioRd, <u64>(<i64>(<i16>v))); break;
    case LK_SEXT32: setX(mmioRd, sext32(v)); break;
    case LK_64: setX(mmioRd, v); break;
    case LK_ZEXT8: setX(mmioRd, v & 0xff); break;
    case LK_ZEXT16: setX(mmioRd, v & 0xffff); break;
    case LK_ZEXT32: setX(mmioRd, v & 0xffff_ffff); break;
    case LK_F32: setF(mmioRd, 0xffff_ffff_0000_0000 | (v & 0xffff_ffff)); dirtyFs(); break;
    case LK_F64: setF(mmioRd, v); dirtyFs(); break;
  }
  mmioKind = 0;
}

// Result of the last run(): the pc after an MMIO access is already the next instruction.
function trapOrHalt(): bool {
  const cause = excCause;
  const tval = excTval;
  const at = st.pc;
  takeTrap(cause, tval);
  clearFault();
  invalidateFetch();
  if (trapsWithoutProgress > TRAP_LOOP_LIMIT) {
    recordHalt(cause, tval, at);
    return true;
  }
  return false;
}

/** Notes why the hart stops (the last trap of a trap loop) for the host's report. */
export function recordHalt(cause: u64, tval: u64, at: u64): void {
  haltPending = true;
  haltCause = cause;
  haltTval = tval;
  haltPc = at;
}

/**
 * Runs at most `budget` instructions. Returns an EXIT_* code. Never throws on guest input:
 * every guest error becomes a trap into the guest, or EXIT_HALT for a trap loop.
 */
export function run(budget: i32): i32 {
  if (haltPending) return EXIT_HALT;
  serviceRequests();
  {
    const irq = pendingInterrupt();
    if (irq != 0) {
      takeTrap(irq, 0);
      invalidateFetch();
    }
  }
  if (jitOn) ackCodeEpoch();
  let n = budget;
  // pc and instret live in locals while the loop runs; st.pc/st.instret are synced around every
  // call that reads or writes them (traps, CSRs, privileged instructions) and on every exit.
  let pc = st.pc;
  let ir = st.instret;
  // With the translator on, every pc that is not the one after the last instruction (a jump, a
  // trap, a return from translated code) is a place to enter translated code; so is the
  // instruction after one that translated code left to the interpreter (`again`).
  // After EXIT_JIT the first instruction is interpreted, whatever the host did with the
  // request: every return to the host makes progress.
  let seq: u64 = jitResumed ? st.pc : <u64>-1;
  jitResumed = false;
  let again = false;
  while (n > 0) {
    if (jitOn && (pc != seq || again) && (<u32>pc & 1) == 0) {
      again = false;
      const h = tlbLookup(tlbX, pc, st.priv);
      if (h != 0) {
        const s = jitDispatch(pc, h & ~0xfff, n, ir);
        if (s == JS_REQUEST) {
          st.pc = pc;
          st.instret = ir;
          jitBudget = n;
          jitResumed = true;
          return EXIT_JIT;
        }
        if (s != JS_NONE) {
          const abi = abiBase();
          pc = load<u64>(abi + ABI_PC);
          ir = load<u64>(abi + ABI_IR);
          n = load<i32>(abi + ABI_N);
          seq = <u64>-1;
          if (s == JS_JUMP) continue;
          if (s == JS_CHECK) {
            pc = afterCsrWrite(pc, ir);
            continue;
          }
          if (s == JS_FAULT) {
            const r = finishFault(pc, load<u64>(abi + ABI_NEXT), ir);
            if (r >= 0) return r;
            pc = st.pc;
            ir = st.instret;
            continue;
          }
          // JS_INTERP: this one instruction here, then translated code again.
          again = true;
          if (n <= 0) break;
        }
      }
    }
    n--;
    const cur = pc;
    let inst: u32;
    if ((cur >> 12) == fetchVpn && (<u32>cur & 0xfff) <= 0xffc) {
      inst = load<u32>(fetchHost + (<u32>cur & 0xfff));
    } else {
      inst = fetchSlow(cur);
      if (fault != 0) {
        st.pc = cur;
        st.instret = ir;
        if (trapOrHalt()) return EXIT_HALT;
        pc = st.pc;
        continue;
      }
    }
    let raw = inst;
    let len: u64 = 4;
    if ((inst & 3) != 3) {
      raw = inst & 0xffff;
      const slot = RVC_TABLE + (raw << 2);
      inst = load<u32>(slot);
      if (inst == 0) {
        inst = expandCompressed(raw);
        store<u32>(slot, inst == 0 ? 1 : inst);
      } else if (inst == 1) inst = 0;
      len = 2;
      if (inst == 0) {
        raise(EXC_ILLEGAL, raw);
        st.pc = cur;
        st.instret = ir;
        if (trapOrHalt()) return EXIT_HALT;
        pc = st.pc;
        continue;
      }
    }
    const next = cur + len;
    seq = next;
    const rd = (inst >> 7) & 31;
    const f3 = (inst >> 12) & 7;
    const rs1 = (inst >> 15) & 31;
    const rs2 = (inst >> 20) & 31;
    ir++;
    switch (inst & 0x7f) {
      case 0x13: { // OP-IMM
        const a = getX(rs1);
        const imm = <u64>(<i64>(<i32>inst >> 20));
        let r: u64 = 0;
        switch (f3) {
          case 0: r = a + imm; break;
          case 1:
            if ((inst >> 26) != 0) { raise(EXC_ILLEGAL, raw); break; }
            r = a << (imm & 63);
            break;
          case 2: r = <i64>a < <i64>imm ? 1 : 0; break;
          case 3: r = a < imm ? 1 : 0; break;
          case 4: r = a ^ imm; break;
          case 5: {
            const hi = inst >> 26;
            if (hi == 0) r = a >> (imm & 63);
            else if (hi == 0x10) r = <u64>(<i64>a >> <i64>(imm & 63));
            else raise(EXC_ILLEGAL, raw);
            break;
          }
          case 6: r = a | imm; break;
          default: r = a & imm; break;
        }
        if (fault != 0) break;
        setX(rd, r);
        pc = next;
        continue;
      }
      case 0x33: { // OP
        const a = getX(rs1);
        const b = getX(rs2);
        const f7 = inst >> 25;
        let r: u64 = 0;
        if (f7 == 0) {
          switch (f3) {
            case 0: r = a + b; break;
            case 1: r = a << (b & 63); break;
            case 2: r = <i64>a < <i64>b ? 1 : 0; break;
            case 3: r = a < b ? 1 : 0; break;
            case 4: r = a ^ b; break;
            case 5: r = a >> (b & 63); break;
            case 6: r = a | b; break;
            default: r = a & b; break;
          }
        } else if (f7 == 0x20) {
          if (f3 == 0) r = a - b;
          else if (f3 == 5) r = <u64>(<i64>a >> <i64>(b & 63));
          else { raise(EXC_ILLEGAL, raw); break; }
        } else if (f7 == 1) {
          switch (f3) {
            case 0: r = a * b; break;
            case 1: r = mulh(a, b); break;
            case 2: r = mulhsu(a, b); break;
            case 3: r = mulhu(a, b); break;
            case 4:
              if (b == 0) r = <u64>-1;
              else if (a == 0x8000_0000_0000_0000 && b == <u64>-1) r = a;
              else r = <u64>(<i64>a / <i64>b);
              break;
            case 5: r = b == 0 ? <u64>-1 : a / b; break;
            case 6:
              if (b == 0) r = a;
              else if (a == 0x8000_0000_0000_0000 && b == <u64>-1) r = 0;
              else r = <u64>(<i64>a % <i64>b);
              break;
            default: r = b == 0 ? a : a % b; break;
          }
        } else { raise(EXC_ILLEGAL, raw); break; }
        setX(rd, r);
        pc = next;
        continue;
      }
      case 0x03: { // LOAD
        const addr = getX(rs1) + <u64>(<i64>(<i32>inst >> 20));
        let r: u64 = 0;
        let kind: u32 = 0;
        switch (f3) {
          case 0: r = <u64>(<i64>(<i8>load8(addr))); kind = LK_SEXT8; break;
          case 1: r = <u64>(<i64>(<i16>load16(addr))); kind = LK_SEXT16; break;
          case 2: r = sext32(load32(addr)); kind = LK_SEXT32; break;
          case 3: r = load64(addr); kind = LK_64; break;
          case 4: r = load8(addr); kind = LK_ZEXT8; break;
          case 5: r = load16(addr); kind = LK_ZEXT16; break;
          case 6: r = load32(addr); kind = LK_ZEXT32; break;
          default: raise(EXC_ILLEGAL, raw); break;
        }
        if (fault != 0) {
          if (fault == FAULT_MMIO) setMmioTarget(rd, kind);
          break;
        }
        setX(rd, r);
        pc = next;
        continue;
      }
      case 0x23: { // STORE
        const addr = getX(rs1) + <u64>(<i64>(((<i32>inst >> 25) << 5) | ((inst >> 7) & 31)));
        const v = getX(rs2);
        switch (f3) {
          case 0: store8(addr, <u32>v); break;
          case 1: store16(addr, <u32>v); break;
          case 2: store32(addr, <u32>v); break;
          case 3: store64(addr, v); break;
          default: raise(EXC_ILLEGAL, raw); break;
        }
        if (fault != 0) {
          if (fault == FAULT_MMIO) setMmioTarget(0, 0);
          break;
        }
        pc = next;
        continue;
      }
      case 0x63: { // BRANCH
        const a = getX(rs1);
        const b = getX(rs2);
        let taken: bool;
        switch (f3) {
          case 0: taken = a == b; break;
          case 1: taken = a != b; break;
          case 4: taken = <i64>a < <i64>b; break;
          case 5: taken = <i64>a >= <i64>b; break;
          case 6: taken = a < b; break;
          case 7: taken = a >= b; break;
          default: raise(EXC_ILLEGAL, raw); taken = false; break;
        }
        if (fault != 0) break;
        if (taken) {
          const imm = ((<i32>inst >> 31) << 12) | (((inst >> 7) & 1) << 11) |
            (((inst >> 25) & 63) << 5) | (((inst >> 8) & 15) << 1);
          pc = cur + <u64>(<i64>imm);
          // A forward branch is seldom where hot code starts (loops branch back, functions are
          // called): not a place to look for translated code, which saves cold code the lookup.
          if (imm > 0) seq = pc;
        } else pc = next;
        continue;
      }
      case 0x1b: { // OP-IMM-32
        const a = getX(rs1);
        const imm = <i32>inst >> 20;
        let r: u64 = 0;
        if (f3 == 0) r = sext32(<u64>(<u32>a + <u32>imm));
        else if (f3 == 1 && (inst >> 25) == 0) r = sext32(<u64>(<u32>a << (imm & 31)));
        else if (f3 == 5 && (inst >> 25) == 0) r = sext32(<u64>(<u32>a >> (imm & 31)));
        else if (f3 == 5 && (inst >> 25) == 0x20) r = <u64>(<i64>(<i32>a >> (imm & 31)));
        else { raise(EXC_ILLEGAL, raw); break; }
        setX(rd, r);
        pc = next;
        continue;
      }
      case 0x3b: { // OP-32
        const a = <u32>getX(rs1);
        const b = <u32>getX(rs2);
        const f7 = inst >> 25;
        let r: u32 = 0;
        if (f7 == 0) {
          if (f3 == 0) r = a + b;
          else if (f3 == 1) r = a << (b & 31);
          else if (f3 == 5) r = a >> (b & 31);
          else { raise(EXC_ILLEGAL, raw); break; }
        } else if (f7 == 0x20) {
          if (f3 == 0) r = a - b;
          else if (f3 == 5) r = <u32>(<i32>a >> (b & 31));
          else { raise(EXC_ILLEGAL, raw); break; }
        } else if (f7 == 1) {
          switch (f3) {
            case 0: r = a * b; break;
            case 4:
              if (b == 0) r = <u32>-1;
              else if (a == 0x8000_0000 && b == <u32>-1) r = a;
              else r = <u32>(<i32>a / <i32>b);
              break;
            case 5: r = b == 0 ? <u32>-1 : a / b; break;
            case 6:
              if (b == 0) r = a;
              else if (a == 0x8000_0000 && b == <u32>-1) r = 0;
              else r = <u32>(<i32>a % <i32>b);
              break;
            case 7: r = b == 0 ? a : a % b; break;
            default: raise(EXC_ILLEGAL, raw); break;
          }
          if (fault != 0) break;
        } else { raise(EXC_ILLEGAL, raw); break; }
        setX(rd, sext32(r));
        pc = next;
        continue;
      }
      case 0x37: // LUI
        setX(rd, <u64>(<i64>(<i32>(inst & 0xffff_f000))));
        pc = next;
        continue;
      case 0x17: // AUIPC
        setX(rd, cur + <u64>(<i64>(<i32>(inst & 0xffff_f000))));
        pc = next;
        continue;
      case 0x6f: { // JAL
        const imm = ((<i32>inst >> 31) << 20) | (inst & 0xff000) | (((inst >> 20) & 1) << 11) |
          (((inst >> 21) & 0x3ff) << 1);
        setX(rd, next);
        pc = cur + <u64>(<i64>imm);
        continue;
      }
      case 0x67: { // JALR
        if (f3 != 0) { raise(EXC_ILLEGAL, raw); break; }
        const t = (getX(rs1) + <u64>(<i64>(<i32>inst >> 20))) & ~<u64>1;
        setX(rd, next);
        pc = t;
        continue;
      }
      case 0x0f: // MISC-MEM: fence, fence.i
        // A sequentially consistent read-modify-write orders memory like a full fence
        // (binaryen rejects atomic.fence in a shared-memory module).
        if (f3 == 0) atomic.add<i32>(st.shared + SH_FENCE, 0);
        else if (f3 == 1) invalidateFetch();
        else { raise(EXC_ILLEGAL, raw); break; }
        pc = next;
        continue;
      case 0x73: { // SYSTEM
        if (f3 == 0) {
          st.pc = cur;
          st.instret = ir;
          const r = execPrivileged(inst, raw, cur, next);
          if (r >= 0) return r;
          if (fault != 0) break;
          // xRET may have re-enabled interrupts that are already pending.
          const irq = pendingInterrupt();
          if (irq != 0) takeTrap(irq, 0);
          pc = st.pc;
          continue;
        }
        if (f3 == 4) { raise(EXC_ILLEGAL, raw); break; }
        const csr = inst >> 20;
        const src: u64 = f3 >= 5 ? <u64>rs1 : getX(rs1);
        const op = f3 & 3;
        let old: u64 = 0;
        // Zicsr: a CSR instruction reads instret (and cycle, the same counter here) as it was
        // before the instruction; `ir` already counts it.
        st.instret = ir - 1;
        if (op == 1) {
          if (rd != 0) old = csrRead(csr, raw);
          if (fault != 0) break;
          csrWrite(csr, src, raw);
        } else {
          old = csrRead(csr, raw);
          if (fault != 0) break;
          if (rs1 != 0) {
            const base = rmwBase(csr, old);
            csrWrite(csr, op == 2 ? base | src : base & ~src, raw);
          }
        }
        if (fault != 0) break;
        setX(rd, old);
        // "If a CSR access instruction writes such a CSR, the write is done instead of the
        // increment": the next instruction reads exactly the written value.
        if (takeCounterWritten()) ir = st.instret;
        pc = next;
        if (csrCheckInterrupts) pc = afterCsrWrite(next, ir);
        continue;
      }
      case 0x2f: { // AMO
        execAmo(inst, raw, rd, f3, rs1, rs2);
        if (fault != 0) break;
        pc = next;
        continue;
      }
      case 0x07: case 0x27: // FLW/FLD, FSW/FSD
        execFpMem(inst, raw, rd, f3, rs1, rs2);
        if (fault != 0) break;
        pc = next;
        continue;
      case 0x43: case 0x47: case 0x4b: case 0x4f: // fused multiply-add family
        if ((st.mstatus & MSTATUS_FS) == 0) { raise(EXC_ILLEGAL, raw); break; }
        if (!execFma(inst, raw, inst & 0x7f)) break;
        pc = next;
        continue;
      case 0x53: // OP-FP
        if ((st.mstatus & MSTATUS_FS) == 0) { raise(EXC_ILLEGAL, raw); break; }
        if (!execOpFp(inst, raw)) break;
        pc = next;
        continue;
      default:
        raise(EXC_ILLEGAL, raw);
        break;
    }
    // Only instructions that stopped part-way get here (`ir` already counts this one).
    const r = finishFault(cur, next, ir - 1);
    if (r >= 0) return r;
    pc = st.pc;
    ir = st.instret;
  }
  st.pc = pc;
  st.instret = ir;
  return EXIT_BUDGET;
}

/**
 * After a CSR write that may have made an interrupt takeable (the interpreter's, or translated
 * code's JS_CHECK), the next instruction being at `at`: takes it. Returns the pc to go on at.
 */
function afterCsrWrite(at: u64, ir: u64): u64 {
  clearCsrCheck();
  invalidateFetch();
  const irq = pendingInterrupt();
  if (irq == 0) return at;
  st.pc = at;
  st.instret = ir;
  takeTrap(irq, 0);
  return st.pc;
}

/**
 * The instruction at `at` (followed by `nx`) stopped part-way with `fault` set; `irBefore` is
 * instret before it. A device access (MMIO) retires and leaves for the host; a CLINT store
 * retires and may make an interrupt takeable; an exception does not retire and traps. Leaves
 * st.pc/st.instret where to go on; returns an EXIT_* code to leave run(), or -1 to go on.
 */
function finishFault(at: u64, nx: u64, irBefore: u64): i32 {
  if (fault == FAULT_MMIO) {
    clearFault();
    mmioPc = at;
    st.pc = nx;
    st.instret = irBefore + 1;
    return EXIT_MMIO;
  }
  if (fault == FAULT_RECHECK) {
    clearFault();
    st.pc = nx;
    st.instret = irBefore + 1;
    const irq = pendingInterrupt();
    if (irq != 0) takeTrap(irq, 0);
    return -1;
  }
  st.pc = at;
  st.instret = irBefore;
  if (fault == FAULT_EXC && trapOrHalt()) return EXIT_HALT;
  return -1;
}

/** FLW/FLD/FSW/FSD (a fault, an MMIO access included, is left in `fault`). */
export function execFpMem(inst: u32, raw: u32, rd: u32, f3: u32, rs1: u32, rs2: u32): void {
  if ((st.mstatus & MSTATUS_FS) == 0 || (f3 != 2 && f3 != 3)) {
    raise(EXC_ILLEGAL, raw);
    return;
  }
  if ((inst & 0x7f) == 0x07) {
    const addr = getX(rs1) + <u64>(<i64>(<i32>inst >> 20));
    const v: u64 = f3 == 2 ? 0xffff_ffff_0000_0000 | <u64>load32(addr) : load64(addr);
    if (fault != 0) {
      if (fault == FAULT_MMIO) setMmioTarget(rd, f3 == 2 ? LK_F32 : LK_F64);
      return;
    }
    setF(rd, v);
    dirtyFs();
  } else {
    const addr = getX(rs1) + <u64>(<i64>(((<i32>inst >> 25) << 5) | ((inst >> 7) & 31)));
    const v = getF(rs2);
    if (f3 == 2) store32(addr, <u32>v);
    else store64(addr, v);
    if (fault == FAULT_MMIO) setMmioTarget(0, 0);
  }
}

/** Honours remote TLB-flush requests (SBI remote fences from other harts). */
export function serviceFlushRequests(): void {
  const want = atomic.load<i32>(st.shared + SH_FLUSH);
  if (want != atomic.load<i32>(st.shared + SH_FLUSH_ACK)) {
    flushTlb();
    atomic.store<i32>(st.shared + SH_FLUSH_ACK, want);
  }
}

/** Timer state and remote TLB-flush requests, checked between slices. */
function serviceRequests(): void {
  updateTimer(st.shared, st.sbiMode);
  serviceFlushRequests();
}

/** For WFI: true if an enabled interrupt is pending (updating the timer bits first). */
export function interruptsPending(): bool {
  serviceRequests();
  return (<u64>readMip() & st.mie) != 0;
}

/**
 * ecall, ebreak, mret, sret, wfi, sfence.vma. Returns an EXIT_* code to leave the loop, or -1
 * to go on (with a fault raised if the instruction trapped).
 */
function execPrivileged(inst: u32, raw: u32, cur: u64, next: u64): i32 {
  const priv = st.priv;
  if (inst == 0x0000_0073) { // ecall
    if (st.sbiMode && priv == PRIV_S) return EXIT_SBI;
    raise(EXC_ECALL_U + <u64>priv, 0);
    return -1;
  }
  if (inst == 0x0010_0073) { // ebreak
    raise(EXC_BREAKPOINT, cur);
    return -1;
  }
  if (inst == 0x3020_0073) { // mret
    if (priv != PRIV_M) { raise(EXC_ILLEGAL, raw); return -1; }
    mret();
    invalidateFetch();
    return -1;
  }
  if (inst == 0x1020_0073) { // sret
    if (priv == PRIV_U || (priv == PRIV_S && (st.mstatus & MSTATUS_TSR) != 0)) {
      raise(EXC_ILLEGAL, raw);
      return -1;
    }
    sret();
    invalidateFetch();
    return -1;
  }
  if (inst == 0x1050_0073) { // wfi
    if (priv == PRIV_U || (priv == PRIV_S && (st.mstatus & MSTATUS_TW) != 0)) {
      raise(EXC_ILLEGAL, raw);
      return -1;
    }
    st.pc = next;
    if ((<u64>readMip() & st.mie) != 0) return -1;
    return EXIT_WFI;
  }
  if ((inst >> 25) == 0x09 && ((inst >> 7) & 31) == 0) { // sfence.vma
    if (priv == PRIV_U || (priv == PRIV_S && (st.mstatus & MSTATUS_TVM) != 0)) {
      raise(EXC_ILLEGAL, raw);
      return -1;
    }
    const rs1 = (inst >> 15) & 31;
    if (rs1 == 0) flushTlb();
    else flushTlbPage(getX(rs1));
    invalidateFetch();
    st.pc = next;
    return -1;
  }
  raise(EXC_ILLEGAL, raw);
  return -1;
}

/**
 * One AMO on the word at host address `h` (T: u32 or u64, S: its signed twin); returns the old
 * value. min/max have no WebAssembly instruction: a compare-and-swap loop.
 */
@inline function amoOp<T, S>(h: u32, b: T, f5: u32): T {
  switch (f5) {
    case 0x01: return atomic.xchg<T>(h, b);
    case 0x00: return atomic.add<T>(h, b);
    case 0x04: return atomic.xor<T>(h, b);
    case 0x0c: return atomic.and<T>(h, b);
    case 0x08: return atomic.or<T>(h, b);
  }
  let o: T;
  do {
    o = atomic.load<T>(h);
    let nv: T;
    if (f5 == 0x10) nv = <S>o < <S>b ? o : b;
    else if (f5 == 0x14) nv = <S>o > <S>b ? o : b;
    else if (f5 == 0x18) nv = o < b ? o : b;
    else nv = o > b ? o : b;
    if (atomic.cmpxchg<T>(h, o, nv) == o) break;
  } while (true);
  return o;
}

/** LR/SC and the AMOs, atomic across harts through WebAssembly's atomic instructions. */
export function execAmo(inst: u32, raw: u32, rd: u32, f3: u32, rs1: u32, rs2: u32): void {
  if (f3 != 2 && f3 != 3) { raise(EXC_ILLEGAL, raw); return; }
  const f5 = inst >> 27;
  const addr = getX(rs1);
  const size: u32 = f3 == 2 ? 4 : 8;
  const isLr = f5 == 0x02;
  if (isLr && rs2 != 0) { raise(EXC_ILLEGAL, raw); return; }
  switch (f5) {
    case 0x00: case 0x01: case 0x02: case 0x03: case 0x04: case 0x08: case 0x0c: case 0x10:
    case 0x14: case 0x18: case 0x1c:
      break;
    default:
      raise(EXC_ILLEGAL, raw);
      return;
  }
  if ((addr & (<u64>size - 1)) != 0) {
    raise(isLr ? EXC_LOAD_MISALIGNED : EXC_STORE_MISALIGNED, addr);
    return;
  }
  const h = amoHost(addr, size, isLr);
  if (h == 0) return;
  const v = getX(rs2);
  if (isLr) {
    const r: u64 = size == 4 ? sext32(<u64>atomic.load<u32>(h)) : atomic.load<u64>(h);
    st.resValid = true;
    st.resAddr = addr;
    st.resValue = r;
    setX(rd, r);
    return;
  }
  if (f5 == 0x03) { // SC
    let ok = false;
    if (st.resValid && st.resAddr == addr) {
      if (size == 4) {
        ok = atomic.cmpxchg<u32>(h, <u32>st.resValue, <u32>v) == <u32>st.resValue;
      } else {
        ok = atomic.cmpxchg<u64>(h, st.resValue, v) == st.resValue;
      }
    }
    st.resValid = false;
    setX(rd, ok ? 0 : 1);
    return;
  }
  const old: u64 = size == 4 ? sext32(<u64>amoOp<u32, i32>(h, <u32>v, f5)) : amoOp<u64, i64>(h, v, f5);
  setX(rd, old);
}
