// The F and D extensions: decoding of OP-FP and the fused multiply-adds, NaN-boxing of single
// precision values, rounding-mode selection and fflags accrual. The arithmetic itself is in
// softfloat.ts, exact for every rounding mode; fastfloat.ts takes the common RNE case on the
// host's floats when that is exact too.
import * as sf from "./softfloat";
import * as ff from "./fastfloat";
import { EXC_ILLEGAL } from "./csr-bits";
import { raise } from "./fault";
import { dirtyFs } from "./csr";
import * as st from "./state";
import { getF, getX, setF, setX } from "./state";

const SIGN64: u64 = 0x8000_0000_0000_0000;
const SIGN32: u32 = 0x8000_0000;
const BOX: u64 = 0xffff_ffff_0000_0000;

/** A single-precision operand: anything not properly NaN-boxed reads as the canonical NaN. */
@inline export function unbox32(v: u64): u32 {
  return (v & BOX) == BOX ? <u32>v : 0x7fc0_0000;
}

@inline function setF32(rd: u32, v: u32): void {
  setF(rd, BOX | <u64>v);
}

@inline function accrue(): void {
  if (sf.sfFlags != 0) {
    st.fflags |= sf.sfFlags;
    sf.sfFlags = 0;
    dirtyFs();
  }
}

/** Whether the host's floats give the exact result: round-to-nearest-even with NX already accrued (fastfloat.ts). */
@inline function fastMode(rm: i32): bool {
  return rm == 0 && (st.fflags & 1) != 0;
}

/** The rounding mode for `inst`, or -1 (illegal) for the reserved encodings 5 and 6 or a bad frm. */
@inline function roundingMode(inst: u32): i32 {
  let rm = (inst >> 12) & 7;
  if (rm == 7) rm = st.frm;
  return rm > 4 ? -1 : <i32>rm;
}

@inline function sext32(v: u32): u64 {
  return <u64>(<i64>(<i32>v));
}

/** Executes an FMADD/FMSUB/FNMSUB/FNMADD. Returns false with an illegal-instruction fault raised. */
export function execFma(inst: u32, raw: u32, opcode: u32): bool {
  const fmt = (inst >> 25) & 3;
  const rm = roundingMode(inst);
  if (rm < 0 || fmt > 1) {
    raise(EXC_ILLEGAL, raw);
    return false;
  }
  const rd = (inst >> 7) & 31;
  const rs1 = (inst >> 15) & 31;
  const rs2 = (inst >> 20) & 31;
  const rs3 = inst >> 27;
  // fmsub: a*b-c; fnmsub: -(a*b)+c; fnmadd: -(a*b)-c. Negation flips input signs, which the
  // spec allows because NaN results are canonical anyway.
  const negProd = opcode == 0x4b || opcode == 0x4f;
  const negAdd = opcode == 0x47 || opcode == 0x4f;
  if (fmt == 0) {
    let a = unbox32(getF(rs1));
    const b = unbox32(getF(rs2));
    let c = unbox32(getF(rs3));
    if (negProd) a ^= SIGN32;
    if (negAdd) c ^= SIGN32;
    const r = fastMode(rm) ? ff.fastF32MulAdd(a, b, c) : ff.DECLINED;
    setF32(rd, r != ff.DECLINED ? <u32>r : sf.f32MulAdd(a, b, c, rm));
  } else {
    let a = getF(rs1);
    const b = getF(rs2);
    let c = getF(rs3);
    if (negProd) a ^= SIGN64;
    if (negAdd) c ^= SIGN64;
    const r = fastMode(rm) ? ff.fastF64MulAdd(a, b, c) : ff.DECLINED;
    setF(rd, r != ff.DECLINED ? r : sf.f64MulAdd(a, b, c, rm));
  }
  accrue();
  dirtyFs();
  return true;
}

/** Executes an OP-FP instruction. Returns false with an illegal-instruction fault raised. */
export function execOpFp(inst: u32, raw: u32): bool {
  const f7 = inst >> 25;
  const fmt = f7 & 3;
  const f5 = f7 >> 2;
  const rd = (inst >> 7) & 31;
  const rs1 = (inst >> 15) & 31;
  const rs2 = (inst >> 20) & 31;
  const f3 = (inst >> 12) & 7;
  if (fmt > 1) return illegal(raw);
  const dbl = fmt == 1;
  switch (f5) {
    case 0x00: case 0x01: case 0x02: case 0x03: {
      const rm = roundingMode(inst);
      if (rm < 0) return illegal(raw);
      if (dbl) {
        const a = getF(rs1);
        const b = getF(rs2);
        let r = ff.DECLINED;
        if (fastMode(rm)) {
          if (f5 <= 1) r = ff.fastF64Add(a, f5 == 0 ? b : b ^ SIGN64);
          else if (f5 == 2) r = ff.fastF64Mul(a, b);
          else r = ff.fastF64Div(a, b);
        }
        if (r == ff.DECLINED) {
          if (f5 == 0) r = sf.f64Add(a, b, rm);
          else if (f5 == 1) r = sf.f64Sub(a, b, rm);
          else if (f5 == 2) r = sf.f64Mul(a, b, rm);
          else r = sf.f64Div(a, b, rm);
        }
        setF(rd, r);
      } else {
        const a = unbox32(getF(rs1));
        const b = unbox32(getF(rs2));
        let r = ff.DECLINED;
        if (fastMode(rm)) {
          if (f5 <= 1) r = ff.fastF32Add(a, f5 == 0 ? b : b ^ SIGN32);
          else if (f5 == 2) r = ff.fastF32Mul(a, b);
          else r = ff.fastF32Div(a, b);
        }
        if (r == ff.DECLINED) {
          if (f5 == 0) r = sf.f32Add(a, b, rm);
          else if (f5 == 1) r = sf.f32Sub(a, b, rm);
          else if (f5 == 2) r = sf.f32Mul(a, b, rm);
          else r = sf.f32Div(a, b, rm);
        }
        setF32(rd, <u32>r);
      }
      break;
    }
    case 0x0b: { // fsqrt
      const rm = roundingMode(inst);
      if (rm < 0 || rs2 != 0) return illegal(raw);
      if (dbl) {
        const a = getF(rs1);
        const r = fastMode(rm) ? ff.fastF64Sqrt(a) : ff.DECLINED;
        setF(rd, r != ff.DECLINED ? r : sf.f64Sqrt(a, rm));
      } else {
        const a = unbox32(getF(rs1));
        const r = fastMode(rm) ? ff.fastF32Sqrt(a) : ff.DECLINED;
        setF32(rd, r != ff.DECLINED ? <u32>r : sf.f32Sqrt(a, rm));
      }
      break;
    }
    case 0x04: { // fsgnj, fsgnjn, fsgnjx
      if (f3 > 2) return illegal(raw);
      if (dbl) {
        const a = getF(rs1);
        const b = getF(rs2);
        let r: u64;
        if (f3 == 0) r = (a & ~SIGN64) | (b & SIGN64);
        else if (f3 == 1) r = (a & ~SIGN64) | (~b & SIGN64);
        else r = a ^ (b & SIGN64);
        setF(rd, r);
      } else {
        const a = unbox32(getF(rs1));
        const b = unbox32(getF(rs2));
        let r: u32;
        if (f3 == 0) r = (a & ~SIGN32) | (b & SIGN32);
        else if (f3 == 1) r = (a & ~SIGN32) | (~b & SIGN32);
        else r = a ^ (b & SIGN32);
        setF32(rd, r);
      }
      break;
    }
    case 0x05: { // fmin, fmax
      if (f3 > 1) return illegal(raw);
      if (dbl) {
        const a = getF(rs1);
        const b = getF(rs2);
        setF(rd, f3 == 0 ? sf.f64Min(a, b) : sf.f64Max(a, b));
      } else {
        const a = unbox32(getF(rs1));
        const b = unbox32(getF(rs2));
        setF32(rd, f3 == 0 ? sf.f32Min(a, b) : sf.f32Max(a, b));
      }
      break;
    }
    case 0x08: { // fcvt.s.d (fmt S, rs2 1), fcvt.d.s (fmt D, rs2 0)
      const rm = roundingMode(inst);
      if (rm < 0) return illegal(raw);
      if (dbl) {
        if (rs2 != 0) return illegal(raw);
        setF(rd, sf.f32ToF64(unbox32(getF(rs1))));
      } else {
        if (rs2 != 1) return illegal(raw);
        setF32(rd, sf.f64ToF32(getF(rs1), rm));
      }
      break;
    }
    case 0x14: { // fle, flt, feq
      if (f3 > 2) return illegal(raw);
      let r: u32;
      if (dbl) {
        const a = getF(rs1);
        const b = getF(rs2);
        r = f3 == 0 ? sf.f64Le(a, b) : f3 == 1 ? sf.f64Lt(a, b) : sf.f64Eq(a, b);
      } else {
        const a = unbox32(getF(rs1));
        const b = unbox32(getF(rs2));
        r = f3 == 0 ? sf.f32Le(a, b) : f3 == 1 ? sf.f32Lt(a, b) : sf.f32Eq(a, b);
      }
      setX(rd, r);
      accrue();
      return true; // no FP register written; fflags accrual is enough to mark FS dirty below
    }
    case 0x18: { // fcvt.{w,wu,l,lu}.{s,d}
      const rm = roundingMode(inst);
      if (rm < 0 || rs2 > 3) return illegal(raw);
      let r: u64;
      if (dbl) {
        const a = getF(rs1);
        if (rs2 == 0) r = sext32(sf.f64ToI32(a, rm));
        else if (rs2 == 1) r = sext32(sf.f64ToU32(a, rm));
        else if (rs2 == 2) r = sf.f64ToI64(a, rm);
        else r = sf.f64ToU64(a, rm);
      } else {
        const a = unbox32(getF(rs1));
        if (rs2 == 0) r = sext32(sf.f32ToI32(a, rm));
        else if (rs2 == 1) r = sext32(sf.f32ToU32(a, rm));
        else if (rs2 == 2) r = sf.f32ToI64(a, rm);
        else r = sf.f32ToU64(a, rm);
      }
      setX(rd, r);
      break;
    }
    case 0x1a: { // fcvt.{s,d}.{w,wu,l,lu}
      const rm = roundingMode(inst);
      if (rm < 0 || rs2 > 3) return illegal(raw);
      const x = getX(rs1);
      if (dbl) {
        let r: u64;
        if (rs2 == 0) r = sf.i32ToF64(<u32>x, rm);
        else if (rs2 == 1) r = sf.u32ToF64(<u32>x, rm);
        else if (rs2 == 2) r = sf.i64ToF64(x, rm);
        else r = sf.u64ToF64(x, rm);
        setF(rd, r);
      } else {
        let r: u32;
        if (rs2 == 0) r = sf.i32ToF32(<u32>x, rm);
        else if (rs2 == 1) r = sf.u32ToF32(<u32>x, rm);
        else if (rs2 == 2) r = sf.i64ToF32(x, rm);
        else r = sf.u64ToF32(x, rm);
        setF32(rd, r);
      }
      break;
    }
    case 0x1c: { // fmv.x.{w,d} (f3 0), fclass (f3 1)
      if (rs2 != 0 || f3 > 1) return illegal(raw);
      if (f3 == 0) {
        setX(rd, dbl ? getF(rs1) : sext32(<u32>getF(rs1)));
      } else {
        setX(rd, dbl ? sf.f64Class(getF(rs1)) : sf.f32Class(unbox32(getF(rs1))));
      }
      return true; // reads only: FS unchanged
    }
    case 0x1e: { // fmv.{w,d}.x
      if (rs2 != 0 || f3 != 0) return illegal(raw);
      if (dbl) setF(rd, getX(rs1));
      else setF32(rd, <u32>getX(rs1));
      break;
    }
    default:
      return illegal(raw);
  }
  accrue();
  dirtyFs();
  return true;
}

function illegal(raw: u32): bool {
  raise(EXC_ILLEGAL, raw);
  return false;
}
