// F/D arithmetic on the host's own floats, for the common case only.
//
// WebAssembly's float instructions round to nearest-even and report no flags. A guest in RNE
// whose fflags already hold NX (true from its first inexact operation on) needs no inexact
// report, so for operands whose exponents keep every result normal and finite (no NV, DZ, OF
// or UF possible) the host's result bits are the exact RISC-V result. Everything else --
// other rounding modes, NX clear, zeros, subnormals, infinities, NaNs, large or tiny
// exponents -- is declined and goes to softfloat.ts.
//
// The fused multiply-add has no host instruction: it is the rounding of an exact a*b+c,
// got from Dekker's exact product, Knuth's exact sum and one addition rounded to odd
// (Boldo and Melquiond, "Emulation of FMA and correctly rounded sums: proved algorithms using
// rounding to odd", IEEE Trans. Computers 57(4), 2008).
//
// Every function returns the result's bits, or DECLINED (a NaN, which no fast path yields).

/** The value a fast path returns when it cannot decide the exact result and flags. */
export const DECLINED: u64 = 0xffff_ffff_ffff_ffff;

// Bound: operands' unbiased exponents within [-FAST64_EXP, FAST64_EXP]. Products and quotients
// then stay within 2^±802, and every partial sum and error term the FMA makes is a multiple of
// 2^-906: no overflow and no subnormal anywhere.
// @ts-ignore: decorator
@inline const FAST64_EXP: u64 = 400;
// Bound: single-precision operands within 2^±50; products and FMA partial results then stay
// inside binary32's normal range (2^-126 .. 2^127), which is also what the RNE demotion needs.
// @ts-ignore: decorator
@inline const FAST32_EXP: u32 = 50;
// Veltkamp's splitting constant for binary64: 2^27 + 1.
// @ts-ignore: decorator
@inline const SPLIT: f64 = 134217729.0;

/** A normal binary64 with exponent in [-FAST64_EXP, FAST64_EXP] (zero, subnormals, inf, NaN fail). */
// @ts-ignore: decorator
@inline function ok64(x: u64): bool {
  return ((x >> 52) & 0x7ff) - (1023 - FAST64_EXP) <= 2 * FAST64_EXP;
}

/** A normal binary32 with exponent in [-FAST32_EXP, FAST32_EXP]. */
// @ts-ignore: decorator
@inline function ok32(x: u32): bool {
  return ((x >> 23) & 0xff) - (127 - FAST32_EXP) <= 2 * FAST32_EXP;
}

// @ts-ignore: decorator
@inline function d(x: u64): f64 {
  return reinterpret<f64>(x);
}
// @ts-ignore: decorator
@inline function bits(x: f64): u64 {
  return reinterpret<u64>(x);
}
// @ts-ignore: decorator
@inline function s(x: u32): f32 {
  return reinterpret<f32>(x);
}
// @ts-ignore: decorator
@inline function bits32(x: f32): u64 {
  return <u64>reinterpret<u32>(x);
}

/** a + b (sub: b with its sign flipped by the caller). */
export function fastF64Add(a: u64, b: u64): u64 {
  return ok64(a) && ok64(b) ? bits(d(a) + d(b)) : DECLINED;
}

export function fastF64Mul(a: u64, b: u64): u64 {
  return ok64(a) && ok64(b) ? bits(d(a) * d(b)) : DECLINED;
}

export function fastF64Div(a: u64, b: u64): u64 {
  return ok64(a) && ok64(b) ? bits(d(a) / d(b)) : DECLINED;
}

/** Square root of a positive operand (a negative one is NV: declined). */
export function fastF64Sqrt(a: u64): u64 {
  return ok64(a) && (a >> 63) == 0 ? bits(sqrt<f64>(d(a))) : DECLINED;
}

/** The high part of x rounded to 26 bits, for Dekker's product (x within 2^±400: no overflow). */
// @ts-ignore: decorator
@inline function hi26(x: f64): f64 {
  const t = SPLIT * x;
  return t - (t - x);
}

/**
 * x rounded to odd: x itself when exact (err == 0), else whichever neighbour of the exact
 * value x + err has an odd last bit. x is never zero when err is not (an inexact sum is not 0).
 */
// @ts-ignore: decorator
@inline function roundToOdd(x: f64, err: f64): f64 {
  let b = bits(x);
  if (err != 0 && (b & 1) == 0) {
    // the exact value lies between x and its neighbour towards err: that neighbour is odd
    b = (b >> 63) == (bits(err) >> 63) ? b + 1 : b - 1;
  }
  return d(b);
}

/** RN(a*b + c), the caller having applied fmsub/fnmadd's sign flips to a and c. */
export function fastF64MulAdd(a: u64, b: u64, c: u64): u64 {
  if (!(ok64(a) && ok64(b) && ok64(c))) return DECLINED;
  const x = d(a);
  const y = d(b);
  const z = d(c);
  // exact product: ph + pl == x*y
  const ph = x * y;
  const xh = hi26(x);
  const xl = x - xh;
  const yh = hi26(y);
  const yl = y - yh;
  const pl = ((xh * yh - ph) + xh * yl + xl * yh) + xl * yl;
  // exact sum: th + tl == z + ph
  const th = z + ph;
  const zv = th - ph;
  const tl = (z - zv) + (ph - (th - zv));
  // v = RO(tl + pl), then one rounding to nearest gives RN(th + tl + pl)
  const v0 = tl + pl;
  const vz = v0 - pl;
  const verr = (tl - vz) + (pl - (v0 - vz));
  return bits(th + roundToOdd(v0, verr));
}

export function fastF32Add(a: u32, b: u32): u64 {
  return ok32(a) && ok32(b) ? bits32(s(a) + s(b)) : DECLINED;
}

export function fastF32Mul(a: u32, b: u32): u64 {
  return ok32(a) && ok32(b) ? bits32(s(a) * s(b)) : DECLINED;
}

export function fastF32Div(a: u32, b: u32): u64 {
  return ok32(a) && ok32(b) ? bits32(s(a) / s(b)) : DECLINED;
}

export function fastF32Sqrt(a: u32): u64 {
  return ok32(a) && (a >> 31) == 0 ? bits32(sqrt<f32>(s(a))) : DECLINED;
}

/** RN32(a*b + c): the product is exact in binary64, the sum rounded to odd there, then to 24 bits. */
export function fastF32MulAdd(a: u32, b: u32, c: u32): u64 {
  if (!(ok32(a) && ok32(b) && ok32(c))) return DECLINED;
  const p = <f64>s(a) * <f64>s(b);
  const z = <f64>s(c);
  const t = p + z;
  const zv = t - p;
  const err = (p - (t - zv)) + (z - zv);
  return bits32(<f32>roundToOdd(t, err));
}
