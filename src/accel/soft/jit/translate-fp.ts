// The inline form of the common F/D instructions: loads and stores through the data TLB, moves,
// sign injection, and arithmetic on the host's floats where that is exact (the same conditions
// as the core's cpu/fastfloat.ts, whose proofs and bounds this follows). Every other case --
// FS not Dirty, NX not yet accrued, a rounding mode other than RNE, an operand that could make
// a flag other than NX, a NaN-boxing failure, a TLB miss -- branches to the caller's "slow"
// label, where the core runs the instruction (jit-calls.ts jitExec).
import {
  F64_LOCALS, G_FFLAGS, G_FRM, G_MSTATUS, L_A, L_B, L_F, fastPath, type Emitter,
} from "./emitter.js";
import { OP } from "./wasm-encoder.js";


const MSTATUS_FS = 0x6000n;
const NX = 1;
const BOX = -0x1_0000_0000; // the upper 32 bits all ones: a NaN-boxed single
// fastfloat.ts's bounds: biased exponents in [1023-400, 1023+400] and [127-50, 127+50].
const EXP64_LO = 1023 - 400;
const EXP64_SPAN = 800;
const EXP32_LO = 127 - 50;
const EXP32_SPAN = 100;
const SPLIT = 134217729; // 2^27 + 1, Veltkamp's constant for binary64

/** Where the translator finds the hart's registers and data TLBs. */
export interface FpContext {
  fBase: number;
  tlbR: number;
  tlbW: number;
}

const enum Kind {
  None,
  Load,
  Store,
  Arith, // fadd, fsub, fmul, fdiv
  Sqrt,
  Fma,
  Sgnj,
  Compare, // double only
  MoveToX,
  MoveFromX,
  FromInt, // fcvt.d.{w,wu,l,lu}
  ToInt, // fcvt.{w,l}.d with rtz
}

/** Which inline form `inst` has (Kind.None: the core runs it). */
function kindOf(inst: number): Kind {
  const op = inst & 0x7f;
  const f3 = (inst >>> 12) & 7;
  const fmt = (inst >>> 25) & 3;
  const rs2 = (inst >>> 20) & 31;
  const rne = f3 === 0 || f3 === 7; // static RNE, or dynamic (frm checked at run time)
  switch (op) {
    case 0x07:
      return f3 === 2 || f3 === 3 ? Kind.Load : Kind.None;
    case 0x27:
      return f3 === 2 || f3 === 3 ? Kind.Store : Kind.None;
    case 0x43: case 0x47: case 0x4b: case 0x4f:
      return fmt <= 1 && rne ? Kind.Fma : Kind.None;
    case 0x53:
      break;
    default:
      return Kind.None;
  }
  if (fmt > 1) return Kind.None;
  const dbl = fmt === 1;
  switch (inst >>> 27) {
    case 0x00: case 0x01: case 0x02: case 0x03:
      return rne ? Kind.Arith : Kind.None;
    case 0x0b:
      return rne && rs2 === 0 ? Kind.Sqrt : Kind.None;
    case 0x04:
      return f3 <= 2 ? Kind.Sgnj : Kind.None;
    case 0x14:
      return dbl && f3 <= 2 ? Kind.Compare : Kind.None;
    case 0x1c:
      return f3 === 0 && rs2 === 0 ? Kind.MoveToX : Kind.None;
    case 0x1e:
      return f3 === 0 && rs2 === 0 ? Kind.MoveFromX : Kind.None;
    case 0x1a:
      return dbl && rs2 <= 3 && rne ? Kind.FromInt : Kind.None;
    case 0x18:
      return dbl && f3 === 1 && (rs2 === 0 || rs2 === 2) ? Kind.ToInt : Kind.None;
    default:
      return Kind.None;
  }
}

/** Whether emitFpFast() has an inline form for `inst`. */
export function hasFpFast(inst: number): boolean {
  return kindOf(inst) !== Kind.None;
}

/**
 * Emits the inline form of `inst` (hasFpFast() true), which branches to "slow" when the core
 * must run it and falls through when done. Integer registers go through the emitter's locals.
 * Bound: the operand exponents of fastfloat.ts, checked before every arithmetic operation.
 */
export function emitFpFast(e: Emitter, inst: number, ctx: FpContext): void {
  const kind = kindOf(inst);
  const rd = (inst >>> 7) & 31;
  const f3 = (inst >>> 12) & 7;
  const rs1 = (inst >>> 15) & 31;
  const rs2 = (inst >>> 20) & 31;
  const rs3 = inst >>> 27;
  const dbl = ((inst >>> 25) & 3) === 1;
  const fAt = (r: number): number => ctx.fBase + r * 8;

  // mstatus.FS Dirty: the instruction may run (FS is not Off) and needs no FS update.
  e.global(G_MSTATUS).i64(MSTATUS_FS).op(OP.i64And).i64(MSTATUS_FS).op(OP.i64Ne).brIf("slow");
  const needNx = (): void => {
    e.global(G_FFLAGS).i32(NX).op(OP.i32And).op(OP.i32Eqz).brIf("slow");
  };
  // A dynamic rounding mode (f3 7) is RNE only while frm is 0.
  const needFrmRne = (): void => {
    if (f3 === 7) e.global(G_FRM).brIf("slow");
  };
  const needRne = (): void => {
    needFrmRne();
    needNx();
  };

  switch (kind) {
    case Kind.Load: {
      const size = f3 === 3 ? 8 : 4;
      e.x(rs1).i64(inst >> 20).op(OP.i64Add).set(L_A);
      e.i32(fAt(rd));
      fastPath(e, size, ctx.tlbR);
      if (size === 8) e.mem(OP.i64Load);
      else e.mem(OP.i64Load32U).i64(BOX).op(OP.i64Or);
      e.mem(OP.i64Store);
      return;
    }
    case Kind.Store: {
      const size = f3 === 3 ? 8 : 4;
      const imm = ((inst >> 25) << 5) | ((inst >>> 7) & 31);
      e.x(rs1).i64(imm).op(OP.i64Add).set(L_A);
      fastPath(e, size, ctx.tlbW);
      e.i32(fAt(rs2)).mem(OP.i64Load).mem(size === 8 ? OP.i64Store : OP.i64Store32);
      return;
    }
    case Kind.Sgnj: {
      const sign = dbl ? -(2n ** 63n) : 0x8000_0000n;
      if (!dbl) {
        boxed(e, fAt(rs1));
        boxed(e, fAt(rs2));
      }
      e.i32(fAt(rd));
      e.i32(fAt(rs1)).mem(OP.i64Load).i64(~sign & (dbl ? -1n : 0xffff_ffffn)).op(OP.i64And);
      if (f3 === 2) {
        // fsgnjx: the sign of rs1 xor that of rs2
        e.i32(fAt(rs1)).mem(OP.i64Load).i32(fAt(rs2)).mem(OP.i64Load).op(OP.i64Xor);
      } else {
        e.i32(fAt(rs2)).mem(OP.i64Load);
        if (f3 === 1) e.i64(-1n).op(OP.i64Xor);
      }
      e.i64(sign).op(OP.i64And).op(OP.i64Or);
      if (!dbl) e.i64(BOX).op(OP.i64Or);
      e.mem(OP.i64Store);
      return;
    }
    case Kind.MoveToX:
      e.i32(fAt(rs1)).mem(OP.i64Load);
      if (!dbl) e.op(OP.i32WrapI64).op(OP.i64ExtendI32S);
      e.setX(rd);
      return;
    case Kind.MoveFromX:
      e.i32(fAt(rd)).x(rs1);
      if (!dbl) e.i64(0xffff_ffffn).op(OP.i64And).i64(BOX).op(OP.i64Or);
      e.mem(OP.i64Store);
      return;
    case Kind.Compare: {
      // Neither operand a NaN (no flag then): the host's comparison is RISC-V's.
      for (const r of [rs1, rs2]) {
        e.i32(fAt(r)).mem(OP.i64Load).i64(2n ** 63n - 1n).op(OP.i64And);
        e.i64(0x7ff0_0000_0000_0000n).op(OP.i64GtU).brIf("slow");
      }
      e.i32(fAt(rs1)).mem(OP.f64Load).i32(fAt(rs2)).mem(OP.f64Load);
      e.op(f3 === 0 ? OP.f64Le : f3 === 1 ? OP.f64Lt : OP.f64Eq).op(OP.i64ExtendI32U).setX(rd);
      return;
    }
    case Kind.FromInt: {
      // A 32-bit integer is exact in a double: only the 64-bit ones can be inexact.
      needFrmRne();
      if (rs2 >= 2) needNx();
      e.i32(fAt(rd)).x(rs1);
      if (rs2 <= 1) e.op(OP.i32WrapI64);
      e.op([OP.f64ConvertI32S, OP.f64ConvertI32U, OP.f64ConvertI64S, OP.f64ConvertI64U][rs2]!);
      e.mem(OP.f64Store);
      return;
    }
    case Kind.ToInt: {
      // |x| < 2^31 (w) or 2^62 (l), not a NaN: truncation is exact but for NX, already set.
      needNx();
      e.i32(fAt(rs1)).mem(OP.i64Load).i64(52n).op(OP.i64ShrU).i64(0x7ffn).op(OP.i64And);
      e.i64(1023 + (rs2 === 0 ? 31 : 62)).op(OP.i64GeU).brIf("slow");
      e.i32(fAt(rs1)).mem(OP.f64Load).op(OP.i64TruncF64S);
      if (rs2 === 0) e.op(OP.i32WrapI64).op(OP.i64ExtendI32S);
      e.setX(rd);
      return;
    }
    default:
      break;
  }

  // Arithmetic: RNE with NX set, operands inside the bounds.
  needRne();
  const op = inst & 0x7f;
  const f5 = inst >>> 27;
  const srcs = kind === Kind.Sqrt ? [rs1] : kind === Kind.Fma ? [rs1, rs2, rs3] : [rs1, rs2];
  for (const r of srcs) (dbl ? inRange64 : inRange32)(e, fAt(r));
  if (kind === Kind.Sqrt) {
    // a negative operand is NV (a single's sign is bit 31 of its box)
    e.i32(fAt(rs1)).mem(OP.i64Load);
    if (!dbl) e.op(OP.i32WrapI64).i32(0).op(OP.i32LtS);
    else e.i64(0n).op(OP.i64LtS);
    e.brIf("slow");
  }
  e.i32(fAt(rd));
  if (kind === Kind.Fma) {
    const negProd = op === 0x4b || op === 0x4f;
    const negAdd = op === 0x47 || op === 0x4f;
    if (dbl) fma64(e, fAt(rs1), fAt(rs2), fAt(rs3), negProd, negAdd);
    else fma32(e, fAt(rs1), fAt(rs2), fAt(rs3), negProd, negAdd);
  } else if (dbl) {
    e.i32(fAt(rs1)).mem(OP.f64Load);
    if (kind === Kind.Sqrt) e.op(OP.f64Sqrt);
    else e.i32(fAt(rs2)).mem(OP.f64Load).op([OP.f64Add, OP.f64Sub, OP.f64Mul, OP.f64Div][f5]!);
    e.mem(OP.f64Store);
    return;
  } else {
    single(e, fAt(rs1));
    if (kind === Kind.Sqrt) e.op(OP.f32Sqrt);
    else single(e, fAt(rs2)).op([OP.f32Add, OP.f32Sub, OP.f32Mul, OP.f32Div][f5]!);
  }
  if (!dbl) e.op(OP.i32ReinterpretF32).op(OP.i64ExtendI32U).i64(BOX).op(OP.i64Or).mem(OP.i64Store);
  else e.op(OP.i64ReinterpretF64).mem(OP.i64Store);
}

/** Branches to "slow" unless the register at `at` holds a NaN-boxed single. */
function boxed(e: Emitter, at: number): void {
  e.i32(at).mem(OP.i64Load).i64(32n).op(OP.i64ShrU).i64(0xffff_ffffn).op(OP.i64Ne).brIf("slow");
}

/** Branches to "slow" unless the double at `at` is normal with exponent within 2^±400. */
function inRange64(e: Emitter, at: number): void {
  e.i32(at).mem(OP.i64Load).i64(52n).op(OP.i64ShrU).i64(0x7ffn).op(OP.i64And);
  e.i64(EXP64_LO).op(OP.i64Sub).i64(EXP64_SPAN).op(OP.i64GtU).brIf("slow");
}

/** Branches to "slow" unless the register at `at` is a NaN-boxed normal single within 2^±50. */
function inRange32(e: Emitter, at: number): void {
  boxed(e, at);
  e.i32(at).mem(OP.i64Load).i64(23n).op(OP.i64ShrU).i64(0xffn).op(OP.i64And);
  e.i64(EXP32_LO).op(OP.i64Sub).i64(EXP32_SPAN).op(OP.i64GtU).brIf("slow");
}

/** Pushes the single held (NaN-boxed) at `at` as an f32. */
function single(e: Emitter, at: number): Emitter {
  return e.i32(at).mem(OP.i64Load).op(OP.i32WrapI64).op(OP.f32ReinterpretI32);
}

// f64 scratch locals of the FMAs.
const [FX, FY, FZ, PH, XH, XL, YH, YL, PL, TH, TL, T, V0, VZ, VERR] = Array.from(
  { length: 15 },
  (_, i) => L_F + i,
);
if (15 > F64_LOCALS) throw new Error("translate-fp: too few f64 locals");

/** Sets `out` to x's high 26 bits (Veltkamp's split, as fastfloat.ts hi26). */
function hi26(e: Emitter, x: number, out: number): void {
  // t = SPLIT * x; out = t - (t - x)
  e.f64(SPLIT).get(x).op(OP.f64Mul).set(T);
  e.get(T).get(T).get(x).op(OP.f64Sub).op(OP.f64Sub).set(out);
}

/**
 * Pushes RN(a*b + c) of the doubles at `a`, `b`, `c` (signs flipped as asked) as an f64: Dekker's
 * exact product, Knuth's exact sum, one sum rounded to odd, one rounding (fastfloat.ts).
 */
function fma64(e: Emitter, a: number, b: number, c: number, negProd: boolean, negAdd: boolean): void {
  e.i32(a).mem(OP.f64Load);
  if (negProd) e.op(OP.f64Neg);
  e.set(FX);
  e.i32(b).mem(OP.f64Load).set(FY);
  e.i32(c).mem(OP.f64Load);
  if (negAdd) e.op(OP.f64Neg);
  e.set(FZ);
  e.get(FX).get(FY).op(OP.f64Mul).set(PH);
  hi26(e, FX, XH);
  e.get(FX).get(XH).op(OP.f64Sub).set(XL);
  hi26(e, FY, YH);
  e.get(FY).get(YH).op(OP.f64Sub).set(YL);
  // pl = ((xh*yh - ph) + xh*yl + xl*yh) + xl*yl
  e.get(XH).get(YH).op(OP.f64Mul).get(PH).op(OP.f64Sub);
  e.get(XH).get(YL).op(OP.f64Mul).op(OP.f64Add);
  e.get(XL).get(YH).op(OP.f64Mul).op(OP.f64Add);
  e.get(XL).get(YL).op(OP.f64Mul).op(OP.f64Add).set(PL);
  // th = z + ph; zv = th - ph; tl = (z - zv) + (ph - (th - zv))   [zv in T]
  e.get(FZ).get(PH).op(OP.f64Add).set(TH);
  e.get(TH).get(PH).op(OP.f64Sub).set(T);
  e.get(FZ).get(T).op(OP.f64Sub).get(PH).get(TH).get(T).op(OP.f64Sub).op(OP.f64Sub).op(OP.f64Add).set(TL);
  // v0 = tl + pl; vz = v0 - pl; verr = (tl - vz) + (pl - (v0 - vz))
  e.get(TL).get(PL).op(OP.f64Add).set(V0);
  e.get(V0).get(PL).op(OP.f64Sub).set(VZ);
  e.get(TL).get(VZ).op(OP.f64Sub).get(PL).get(V0).get(VZ).op(OP.f64Sub).op(OP.f64Sub).op(OP.f64Add).set(VERR);
  roundToOdd(e, V0, VERR);
  e.get(TH).op(OP.f64Add);
}

/** Pushes RN32(a*b + c) of the singles at `a`, `b`, `c` as an f32 (fastfloat.ts fastF32MulAdd). */
function fma32(e: Emitter, a: number, b: number, c: number, negProd: boolean, negAdd: boolean): void {
  single(e, a).op(OP.f64PromoteF32);
  if (negProd) e.op(OP.f64Neg);
  single(e, b).op(OP.f64PromoteF32).op(OP.f64Mul).set(PH); // exact: 48 bits
  single(e, c).op(OP.f64PromoteF32);
  if (negAdd) e.op(OP.f64Neg);
  e.set(FZ);
  // t = p + z; zv = t - p; err = (p - (t - zv)) + (z - zv)
  e.get(PH).get(FZ).op(OP.f64Add).set(TH);
  e.get(TH).get(PH).op(OP.f64Sub).set(T);
  e.get(PH).get(TH).get(T).op(OP.f64Sub).op(OP.f64Sub).get(FZ).get(T).op(OP.f64Sub).op(OP.f64Add).set(VERR);
  roundToOdd(e, TH, VERR);
  e.op(OP.f32DemoteF64);
}

/**
 * Pushes `x` rounded to odd given the exact error `err` of the sum that made it: x when err is
 * 0 or x's last bit is 1, else x's neighbour towards err (fastfloat.ts roundToOdd).
 */
function roundToOdd(e: Emitter, x: number, err: number): void {
  e.get(x).op(OP.i64ReinterpretF64).set(L_A);
  // L_B = (sign(x) == sign(err)) ? 1 : -1
  e.get(L_A).get(err).op(OP.i64ReinterpretF64).op(OP.i64Xor).i64(63n).op(OP.i64ShrS).i64(1n).op(OP.i64Or).set(L_B);
  // bits + (err != 0 && even ? L_B : 0)
  e.get(L_A);
  e.get(L_B).i64(0n);
  e.get(err).f64(0).op(OP.f64Ne).get(L_A).op(OP.i32WrapI64).i32(1).op(OP.i32And).op(OP.i32Eqz).op(OP.i32And);
  e.op(OP.select).op(OP.i64Add).op(OP.f64ReinterpretI64);
}

