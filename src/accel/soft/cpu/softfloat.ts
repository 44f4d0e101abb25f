// IEEE-754 binary32 / binary64 arithmetic with exact RISC-V F/D semantics.
//
// WebAssembly's own float instructions only round to nearest-even and expose no exception
// flags, so every operation here is done on integer significands and rounded explicitly in
// any of the five RISC-V rounding modes. All values travel as raw bits (f32 in u32, f64 in
// u64). Exception flags are OR-ed into `sfFlags`; the caller reads and clears it.
//
// RISC-V specifics implemented here:
//   - every NaN result is the canonical NaN (0x7fc00000 / 0x7ff8000000000000);
//   - tininess is detected after rounding; UF is raised when the result is tiny and inexact;
//   - fmin/fmax follow F/D 2.2 (IEEE 754-2019 minimumNumber/maximumNumber, -0 < +0);
//   - fused multiply-add raises NV for inf * 0 even when the addend is a quiet NaN;
//   - float -> integer conversions saturate and raise NV (never NX) when out of range.
//
// Memory-free by design: the module runs over one shared memory in several workers, so this
// file uses only locals, a few wasm globals (per instance) and integer arithmetic. Functions
// that need a second result (an exponent, the high half of a 128-bit value) leave it in a
// scratch global read immediately after the call.
//
// Internal convention: a finite nonzero value is (sign, e, sig) where sig is a u64 whose
// leading one is at bit 62 and value = sig * 2^(e - 62). Bits shifted out are "jammed"
// (OR-ed) into bit 0, which is always far below the rounding position.

/** Accumulated exception flags: NV=0x10 DZ=0x08 OF=0x04 UF=0x02 NX=0x01. */
export let sfFlags: u32 = 0;

// @ts-ignore: decorator
@inline const FLAG_NV: u32 = 0x10;
// @ts-ignore: decorator
@inline const FLAG_DZ: u32 = 0x08;
// @ts-ignore: decorator
@inline const FLAG_OF: u32 = 0x04;
// @ts-ignore: decorator
@inline const FLAG_UF: u32 = 0x02;
// @ts-ignore: decorator
@inline const FLAG_NX: u32 = 0x01;

// @ts-ignore: decorator
@inline const RM_RTZ: u32 = 1;
// @ts-ignore: decorator
@inline const RM_RDN: u32 = 2;
// @ts-ignore: decorator
@inline const RM_RUP: u32 = 3;
// @ts-ignore: decorator
@inline const RM_RMM: u32 = 4;
// Anything else (0 = RNE, and values the CPU should never pass) rounds to nearest-even.

// Scratch "second return values".
let gExp: i32 = 0;
let gHi: u64 = 0;

// ---------------------------------------------------------------------------------------
// Format parameters. F is f32 or f64, used only as a compile-time tag.

// @ts-ignore: decorator
@inline function fracBits<F>(): i32 {
  return sizeof<F>() == 8 ? 52 : 23;
}
// @ts-ignore: decorator
@inline function expAll<F>(): u64 {
  return sizeof<F>() == 8 ? 0x7ff : 0xff;
}
// @ts-ignore: decorator
@inline function bias<F>(): i32 {
  return sizeof<F>() == 8 ? 1023 : 127;
}
// @ts-ignore: decorator
@inline function emin<F>(): i32 {
  return 1 - bias<F>();
}
// @ts-ignore: decorator
@inline function emax<F>(): i32 {
  return bias<F>();
}
// @ts-ignore: decorator
@inline function signBit<F>(): u64 {
  return sizeof<F>() == 8 ? 0x8000000000000000 : 0x80000000;
}
// @ts-ignore: decorator
@inline function infBits<F>(): u64 {
  return expAll<F>() << <u64>fracBits<F>();
}
// @ts-ignore: decorator
@inline function quietBit<F>(): u64 {
  return <u64>1 << <u64>(fracBits<F>() - 1);
}
// @ts-ignore: decorator
@inline function canonNaN<F>(): u64 {
  return infBits<F>() | quietBit<F>();
}
/** Number of bits below the last kept significand bit in the bit-62 convention: 10 or 39. */
// @ts-ignore: decorator
@inline function roundBits<F>(): i32 {
  return 62 - fracBits<F>();
}

// @ts-ignore: decorator
@inline function isNaNF<F>(x: u64): bool {
  return (x & ~signBit<F>()) > infBits<F>();
}
// @ts-ignore: decorator
@inline function isSNaNF<F>(x: u64): bool {
  return isNaNF<F>(x) && (x & quietBit<F>()) == 0;
}
// @ts-ignore: decorator
@inline function isInfF<F>(x: u64): bool {
  return (x & ~signBit<F>()) == infBits<F>();
}
// @ts-ignore: decorator
@inline function isZeroF<F>(x: u64): bool {
  return (x & ~signBit<F>()) == 0;
}
// @ts-ignore: decorator
@inline function signOf<F>(x: u64): u32 {
  return <u32>(x >> <u64>(sizeof<F>() * 8 - 1)) & 1;
}

// ---------------------------------------------------------------------------------------
// Integer helpers

/** x >> n, OR-ing every bit shifted out into bit 0. n >= 0. */
// @ts-ignore: decorator
@inline function shiftRightJam(x: u64, n: i32): u64 {
  if (n == 0) return x;
  if (n < 64) return (x >> <u64>n) | <u64>((x << <u64>(64 - n)) != 0);
  return <u64>(x != 0);
}

/** Full 64x64 -> 128-bit product: returns the low half, high half in gHi. */
// @ts-ignore: decorator
@inline function mul128(a: u64, b: u64): u64 {
  const a0 = a & 0xffffffff;
  const a1 = a >> 32;
  const b0 = b & 0xffffffff;
  const b1 = b >> 32;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const p11 = a1 * b1;
  const mid = (p00 >> 32) + (p01 & 0xffffffff) + (p10 & 0xffffffff);
  gHi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
  return (mid << 32) | (p00 & 0xffffffff);
}

/** 128-bit (hi:lo) >> n with jamming; returns the low half, high half in gHi. */
function shr128Jam(hi: u64, lo: u64, n: i32): u64 {
  if (n == 0) {
    gHi = hi;
    return lo;
  }
  if (n < 64) {
    gHi = hi >> <u64>n;
    return (lo >> <u64>n) | (hi << <u64>(64 - n)) | <u64>((lo << <u64>(64 - n)) != 0);
  }
  gHi = 0;
  if (n == 64) return hi | <u64>(lo != 0);
  if (n < 128) return (hi >> <u64>(n - 64)) | <u64>(((hi << <u64>(128 - n)) | lo) != 0);
  return <u64>((hi | lo) != 0);
}

/**
 * Unpacks a finite nonzero value: returns its significand with the leading one at bit 62
 * (subnormals are normalized) and leaves the exponent in gExp.
 */
// @ts-ignore: decorator
@inline function unpack<F>(x: u64): u64 {
  const fb = fracBits<F>();
  const ef = <i32>((x >> <u64>fb) & expAll<F>());
  const frac = x & ((<u64>1 << <u64>fb) - 1);
  if (ef != 0) {
    gExp = ef - bias<F>();
    return (frac | (<u64>1 << <u64>fb)) << <u64>(62 - fb);
  }
  const lz = <i32>clz(frac);
  gExp = emin<F>() + 63 - fb - lz;
  return frac << <u64>(lz - 1);
}

// ---------------------------------------------------------------------------------------
// Rounding

function overflow<F>(sign: u32, rm: u32): u64 {
  sfFlags |= FLAG_OF | FLAG_NX;
  let toInf = true;
  if (rm == RM_RTZ) toInf = false;
  else if (rm == RM_RDN) toInf = sign != 0;
  else if (rm == RM_RUP) toInf = sign == 0;
  const sb: u64 = sign ? signBit<F>() : 0;
  return sb | (toInf ? infBits<F>() : infBits<F>() - 1);
}

/**
 * Rounds sign * sig * 2^(e - 62) (sig: leading one at bit 62, sticky in bit 0) to format F
 * in mode rm, raising NX/UF/OF as appropriate, and returns the packed bits.
 */
function roundPack<F>(sign: u32, e: i32, sig: u64, rm: u32): u64 {
  const S = roundBits<F>();
  const mask: u64 = (<u64>1 << <u64>S) - 1;
  const half: u64 = <u64>1 << <u64>(S - 1);
  const sb: u64 = sign ? signBit<F>() : 0;
  let inc: u64 = half;
  let tieEven = false;
  if (rm == RM_RTZ) inc = 0;
  else if (rm == RM_RDN) inc = sign ? mask : 0;
  else if (rm == RM_RUP) inc = sign ? 0 : mask;
  else if (rm != RM_RMM) tieEven = true;

  if (e > emax<F>()) return overflow<F>(sign, rm);

  if (e < emin<F>()) {
    // Tininess after rounding: would the value, rounded to full precision with an unbounded
    // exponent, still be below 2^emin? Only e == emin-1 can round up to 2^emin.
    const tiny = e < emin<F>() - 1 || sig + inc < 0x8000000000000000;
    sig = shiftRightJam(sig, emin<F>() - e);
    const r = sig & mask;
    let q = (sig + inc) >> <u64>S;
    if (tieEven && r == half) q &= ~(<u64>1);
    if (r != 0) sfFlags |= tiny ? FLAG_NX | FLAG_UF : FLAG_NX;
    // q <= 2^(P-1): a carry into the hidden bit turns into exponent field 1 by itself.
    return sb | q;
  }

  const r = sig & mask;
  let q = (sig + inc) >> <u64>S;
  if (tieEven && r == half) q &= ~(<u64>1);
  if (q >> <u64>(fracBits<F>() + 1)) {
    q >>= 1;
    e++;
    if (e > emax<F>()) return overflow<F>(sign, rm);
  }
  if (r != 0) sfFlags |= FLAG_NX;
  // q carries the hidden bit, which adds the final 1 to the exponent field.
  return sb | ((<u64>(e + bias<F>() - 1) << <u64>fracBits<F>()) + q);
}

// ---------------------------------------------------------------------------------------
// Add / subtract

/**
 * Rounds sa*ma*2^(ea-62) + sb*mb*2^(eb-62). Both significands have their leading one at bit
 * 62 and bit 0 clear (so a jammed subtrahend keeps the difference on the right side of every
 * rounding boundary).
 */
function addCore<F>(sa: u32, ea: i32, ma: u64, sb: u32, eb: i32, mb: u64, rm: u32): u64 {
  if (ea < eb || (ea == eb && ma < mb)) {
    const tm = ma;
    ma = mb;
    mb = tm;
    const te = ea;
    ea = eb;
    eb = te;
    const ts = sa;
    sa = sb;
    sb = ts;
  }
  const d = ea - eb;
  if (sa == sb) {
    let s = ma + shiftRightJam(mb, d);
    if (s >> 63) {
      s = (s >> 1) | (s & 1);
      ea++;
    }
    return roundPack<F>(sa, ea, s, rm);
  }
  const s = ma - shiftRightJam(mb, d);
  if (s == 0) return rm == RM_RDN ? signBit<F>() : 0;
  // d >= 2 loses at most one leading bit (sticky moves to bit 1: still far below rounding);
  // d <= 1 is exact.
  const sh = <i32>clz(s) - 1;
  return roundPack<F>(sa, ea - sh, s << <u64>sh, rm);
}

function addG<F>(a: u64, b: u64, rm: u32): u64 {
  if (isNaNF<F>(a) || isNaNF<F>(b)) {
    if (isSNaNF<F>(a) || isSNaNF<F>(b)) sfFlags |= FLAG_NV;
    return canonNaN<F>();
  }
  const sa = signOf<F>(a);
  const sb = signOf<F>(b);
  if (isInfF<F>(a)) {
    if (isInfF<F>(b) && sa != sb) {
      sfFlags |= FLAG_NV;
      return canonNaN<F>();
    }
    return a;
  }
  if (isInfF<F>(b)) return b;
  if (isZeroF<F>(a)) {
    if (isZeroF<F>(b)) return sa == sb ? a : rm == RM_RDN ? signBit<F>() : 0;
    return b;
  }
  if (isZeroF<F>(b)) return a;
  const ma = unpack<F>(a);
  const ea = gExp;
  const mb = unpack<F>(b);
  const eb = gExp;
  return addCore<F>(sa, ea, ma, sb, eb, mb, rm);
}

// ---------------------------------------------------------------------------------------
// Multiply

/**
 * Product of two significands (leading one at bit 62): returns it with its leading one at
 * bit 62 (jammed) and leaves the exponent increment (0 or 1) in gExp. Exact for f32.
 */
// @ts-ignore: decorator
@inline function mulSig<F>(ma: u64, mb: u64): u64 {
  if (sizeof<F>() == 8) {
    // (ma<<1)*(mb<<1) is in [2^126, 2^128)
    const lo = mul128(ma << 1, mb << 1);
    const hi = gHi;
    const jam = (hi & 1) | <u64>(lo != 0);
    if (hi >> 63) {
      gExp = 1;
      return (hi >> 1) | jam;
    }
    gExp = 0;
    return hi | jam;
  } else {
    // 24-bit x 24-bit: exact 48-bit product in [2^46, 2^48)
    const p = (ma >> 39) * (mb >> 39);
    if (p >> 47) {
      gExp = 1;
      return p << 15;
    }
    gExp = 0;
    return p << 16;
  }
}

function mulG<F>(a: u64, b: u64, rm: u32): u64 {
  if (isNaNF<F>(a) || isNaNF<F>(b)) {
    if (isSNaNF<F>(a) || isSNaNF<F>(b)) sfFlags |= FLAG_NV;
    return canonNaN<F>();
  }
  const s = signOf<F>(a) ^ signOf<F>(b);
  const sg: u64 = s ? signBit<F>() : 0;
  if (isInfF<F>(a) || isInfF<F>(b)) {
    if (isZeroF<F>(a) || isZeroF<F>(b)) {
      sfFlags |= FLAG_NV;
      return canonNaN<F>();
    }
    return sg | infBits<F>();
  }
  if (isZeroF<F>(a) || isZeroF<F>(b)) return sg;
  const ma = unpack<F>(a);
  let e = gExp;
  const mb = unpack<F>(b);
  e += gExp;
  const sig = mulSig<F>(ma, mb);
  return roundPack<F>(s, e + gExp, sig, rm);
}

// ---------------------------------------------------------------------------------------
// Divide

function divG<F>(a: u64, b: u64, rm: u32): u64 {
  if (isNaNF<F>(a) || isNaNF<F>(b)) {
    if (isSNaNF<F>(a) || isSNaNF<F>(b)) sfFlags |= FLAG_NV;
    return canonNaN<F>();
  }
  const s = signOf<F>(a) ^ signOf<F>(b);
  const sg: u64 = s ? signBit<F>() : 0;
  if (isInfF<F>(a)) {
    if (isInfF<F>(b)) {
      sfFlags |= FLAG_NV;
      return canonNaN<F>();
    }
    return sg | infBits<F>();
  }
  if (isInfF<F>(b)) return sg;
  if (isZeroF<F>(b)) {
    if (isZeroF<F>(a)) {
      sfFlags |= FLAG_NV;
      return canonNaN<F>();
    }
    sfFlags |= FLAG_DZ;
    return sg | infBits<F>();
  }
  if (isZeroF<F>(a)) return sg;
  const ma = unpack<F>(a);
  let e = gExp;
  const mb = unpack<F>(b);
  e -= gExp;
  if (sizeof<F>() == 8) {
    // Long division, 11 quotient bits per step: 1 + 5*11 = 56 quotient bits.
    let A = ma >> 10;
    const B = mb >> 10;
    if (A < B) {
      A <<= 1;
      e--;
    }
    let q: u64 = 1;
    let r = A - B;
    for (let i = 0; i < 5; i++) {
      r <<= 11;
      const t = r / B;
      r -= t * B;
      q = (q << 11) | t;
    }
    return roundPack<F>(s, e, (q << 7) | <u64>(r != 0), rm);
  } else {
    const A = ma >> 39;
    const B = mb >> 39;
    const n = A << 40;
    const q = n / B; // in (2^39, 2^41)
    const r = n - q * B;
    const sh = <i32>clz(q) - 1;
    return roundPack<F>(s, e + 22 - sh, (q << <u64>sh) | <u64>(r != 0), rm);
  }
}

// ---------------------------------------------------------------------------------------
// Square root
//
// The hardware square root (WebAssembly f32.sqrt / f64.sqrt) is correctly rounded to
// nearest-even. Its result r is checked exactly: r*r is compared with x in integer
// arithmetic. r*r == x means exact; otherwise the sign of r*r - x says on which side of r the
// true root lies, and since r is the nearest value, the directed modes need at most a
// one-ulp step toward zero (RTZ/RDN) or away (RUP). The root of a binary32/64 value is never
// exactly halfway between two neighbours, so RMM equals RNE. The root of a positive finite
// value is always a normal number, so the step never crosses a binade boundary in a way
// that matters: bits +- 1 is exactly the next/previous representable value.

function sqrtFinish<F>(r: u64, cmp: i32, rm: u32): u64 {
  // cmp: sign of (r*r - x)
  if (cmp == 0) return r;
  sfFlags |= FLAG_NX;
  if (cmp < 0 && rm == RM_RUP) return r + 1;
  if (cmp > 0 && (rm == RM_RTZ || rm == RM_RDN)) return r - 1;
  return r;
}

function sqrtG<F>(a: u64, rm: u32): u64 {
  if (isNaNF<F>(a)) {
    if (isSNaNF<F>(a)) sfFlags |= FLAG_NV;
    return canonNaN<F>();
  }
  if (isZeroF<F>(a)) return a;
  if (signOf<F>(a)) {
    sfFlags |= FLAG_NV;
    return canonNaN<F>();
  }
  if (isInfF<F>(a)) return a;
  const mx = unpack<F>(a);
  const ex = gExp;
  if (sizeof<F>() == 8) {
    const r = reinterpret<u64>(sqrt<f64>(reinterpret<f64>(a)));
    const mr = (r & 0xfffffffffffff) | 0x10000000000000;
    const er = <i32>(r >> 52) - 1023;
    // r^2 = mr^2 * 2^(2er-104), x = mx * 2^(ex-62): compare mr^2 with mx << t
    const t = ex - 2 * er + 42; // 41..43
    const xlo = mx << <u64>t;
    const xhi = mx >> <u64>(64 - t);
    const lo = mul128(mr, mr);
    const hi = gHi;
    let cmp: i32 = 0;
    if (hi != xhi) cmp = hi < xhi ? -1 : 1;
    else if (lo != xlo) cmp = lo < xlo ? -1 : 1;
    return sqrtFinish<F>(r, cmp, rm);
  } else {
    const r = <u64>reinterpret<u32>(sqrt<f32>(reinterpret<f32>(<u32>a)));
    const mr = (r & 0x7fffff) | 0x800000;
    const er = <i32>(r >> 23) - 127;
    // r^2 = mr^2 * 2^(2er-46), x = mx * 2^(ex-62): compare mr^2 * 2^16 with mx * 2^k
    const k = ex - 2 * er; // -1..1
    const L = (mr * mr) << 16;
    const R = k >= 0 ? mx << <u64>k : mx >> 1; // mx has 39 trailing zeros
    return sqrtFinish<F>(r, L == R ? 0 : L < R ? -1 : 1, rm);
  }
}

// ---------------------------------------------------------------------------------------
// Fused multiply-add: a*b + c with a single rounding

function fmaG<F>(a: u64, b: u64, c: u64, rm: u32): u64 {
  const aNaN = isNaNF<F>(a);
  const bNaN = isNaNF<F>(b);
  const cNaN = isNaNF<F>(c);
  const infTimesZero =
    (isInfF<F>(a) && isZeroF<F>(b)) || (isZeroF<F>(a) && isInfF<F>(b));
  if (aNaN || bNaN || cNaN || infTimesZero) {
    if (infTimesZero || isSNaNF<F>(a) || isSNaNF<F>(b) || isSNaNF<F>(c)) sfFlags |= FLAG_NV;
    return canonNaN<F>();
  }
  const sp = signOf<F>(a) ^ signOf<F>(b);
  const sc = signOf<F>(c);
  if (isInfF<F>(a) || isInfF<F>(b)) {
    if (isInfF<F>(c) && sc != sp) {
      sfFlags |= FLAG_NV;
      return canonNaN<F>();
    }
    return (sp ? signBit<F>() : 0) | infBits<F>();
  }
  if (isInfF<F>(c)) return c;
  if (isZeroF<F>(a) || isZeroF<F>(b)) {
    if (isZeroF<F>(c)) {
      if (sp == sc) return c;
      return rm == RM_RDN ? signBit<F>() : 0;
    }
    return c;
  }
  const ma = unpack<F>(a);
  const ea = gExp;
  const mb = unpack<F>(b);
  const eb = gExp;
  if (isZeroF<F>(c)) {
    // exact product is nonzero: adding a zero cannot change it
    const sig = mulSig<F>(ma, mb);
    return roundPack<F>(sp, ea + eb + gExp, sig, rm);
  }
  const mc = unpack<F>(c);
  const ec = gExp;
  if (sizeof<F>() == 4) {
    // the 48-bit product is exact in the bit-62 convention
    const sig = mulSig<F>(ma, mb);
    return addCore<F>(sp, ea + eb + gExp, sig, sc, ec, mc, rm);
  }
  return fma64Core(sp, ea + eb, ma, mb, sc, ec, mc, rm);
}

/**
 * binary64 a*b + c for finite nonzero operands, in 128-bit arithmetic. Convention here:
 * X (hi:lo) with its leading one at bit 125, value = X * 2^(E - 125).
 */
function fma64Core(sp: u32, ep: i32, ma: u64, mb: u64, sc: u32, ec: i32, mc: u64, rm: u32): u64 {
  // product (ma<<1)*mb in [2^125, 2^127); its low 20+ bits are zero so >>1 is exact
  let plo = mul128(ma << 1, mb);
  let phi = gHi;
  if (phi >> 62) {
    plo = (plo >> 1) | (phi << 63);
    phi >>= 1;
    ep++;
  }
  // addend: mc * 2^63 (mc has zero low bits, so the 1-bit split is exact)
  const chi = mc >> 1;
  const clo: u64 = 0;

  let bhi: u64, blo: u64, be: i32, bs: u32;
  let shi: u64, slo: u64, se: i32, ss: u32;
  if (ep > ec || (ep == ec && (phi > chi || (phi == chi && plo >= clo)))) {
    bhi = phi; blo = plo; be = ep; bs = sp;
    shi = chi; slo = clo; se = ec; ss = sc;
  } else {
    bhi = chi; blo = clo; be = ec; bs = sc;
    shi = phi; slo = plo; se = ep; ss = sp;
  }
  slo = shr128Jam(shi, slo, be - se);
  shi = gHi;
  let hi: u64, lo: u64;
  if (bs == ss) {
    lo = blo + slo;
    hi = bhi + shi + <u64>(lo < blo);
    if (hi >> 62) {
      lo = (lo >> 1) | (hi << 63) | (lo & 1);
      hi >>= 1;
      be++;
    }
  } else {
    lo = blo - slo;
    hi = bhi - shi - <u64>(blo < slo);
    if ((hi | lo) == 0) return rm == RM_RDN ? 0x8000000000000000 : 0;
    const lz = hi != 0 ? <i32>clz(hi) : 64 + <i32>clz(lo);
    const sh = lz - 2;
    if (sh >= 64) {
      hi = lo << <u64>(sh - 64);
      lo = 0;
    } else if (sh > 0) {
      hi = (hi << <u64>sh) | (lo >> <u64>(64 - sh));
      lo <<= <u64>sh;
    }
    be -= sh;
  }
  // leading one at 125 -> 62 (drop 63 bits, jammed)
  const sig = (hi << 1) | (lo >> 63) | <u64>((lo << 1) != 0);
  return roundPack<f64>(bs, be, sig, rm);
}

// ---------------------------------------------------------------------------------------
// min / max / compare / classify

function minMaxG<F>(a: u64, b: u64, isMax: bool): u64 {
  const aNaN = isNaNF<F>(a);
  const bNaN = isNaNF<F>(b);
  if (aNaN || bNaN) {
    if (isSNaNF<F>(a) || isSNaNF<F>(b)) sfFlags |= FLAG_NV;
    if (aNaN && bNaN) return canonNaN<F>();
    return aNaN ? b : a;
  }
  const sa = signOf<F>(a);
  const sb = signOf<F>(b);
  // a < b in the total order of non-NaN values with -0 < +0
  const lt = sa != sb ? sa != 0 : sa != 0 ? a > b : a < b;
  return lt != isMax ? a : b;
}

function eqG<F>(a: u64, b: u64): u32 {
  if (isNaNF<F>(a) || isNaNF<F>(b)) {
    if (isSNaNF<F>(a) || isSNaNF<F>(b)) sfFlags |= FLAG_NV;
    return 0;
  }
  return <u32>(a == b || ((a | b) & ~signBit<F>()) == 0);
}

function ltG<F>(a: u64, b: u64, orEqual: bool): u32 {
  if (isNaNF<F>(a) || isNaNF<F>(b)) {
    sfFlags |= FLAG_NV;
    return 0;
  }
  if (a == b || ((a | b) & ~signBit<F>()) == 0) return <u32>orEqual;
  const sa = signOf<F>(a);
  const sb = signOf<F>(b);
  if (sa != sb) return sa;
  return <u32>(sa != 0 ? a > b : a < b);
}

function classG<F>(a: u64): u32 {
  const s = signOf<F>(a);
  const ef = (a >> <u64>fracBits<F>()) & expAll<F>();
  const frac = a & ((<u64>1 << <u64>fracBits<F>()) - 1);
  if (ef == expAll<F>()) {
    if (frac == 0) return s ? 1 << 0 : 1 << 7;
    return frac & quietBit<F>() ? 1 << 9 : 1 << 8;
  }
  if (ef == 0) {
    if (frac == 0) return s ? 1 << 3 : 1 << 4;
    return s ? 1 << 2 : 1 << 5;
  }
  return s ? 1 << 1 : 1 << 6;
}

// ---------------------------------------------------------------------------------------
// Conversions

// @ts-ignore: decorator
@inline const K_I32: i32 = 0;
// @ts-ignore: decorator
@inline const K_U32: i32 = 1;
// @ts-ignore: decorator
@inline const K_I64: i32 = 2;
// @ts-ignore: decorator
@inline const K_U64: i32 = 3;

/** Float -> integer (fcvt.{w,wu,l,lu}); returns the two's complement bits (32-bit kinds: low 32). */
function toIntG<F>(a: u64, rm: u32, kind: i32): u64 {
  const sign = signOf<F>(a);
  let posMax: u64, negMin: u64;
  if (kind == K_I32) {
    posMax = 0x7fffffff;
    negMin = 0x80000000;
  } else if (kind == K_U32) {
    posMax = 0xffffffff;
    negMin = 0;
  } else if (kind == K_I64) {
    posMax = 0x7fffffffffffffff;
    negMin = 0x8000000000000000;
  } else {
    posMax = 0xffffffffffffffff;
    negMin = 0;
  }
  if (isNaNF<F>(a)) {
    sfFlags |= FLAG_NV;
    return posMax;
  }
  if (isZeroF<F>(a)) return 0;
  let invalid = isInfF<F>(a);
  let mag: u64 = 0;
  let inexact = false;
  if (!invalid) {
    let sig = unpack<F>(a);
    const e = gExp;
    if (e > 63) invalid = true;
    else if (e >= 62) mag = sig << <u64>(e - 62);
    else {
      let sh = 62 - e;
      if (sh > 63) {
        sig = 1; // |a| < 1/2: only the sticky matters
        sh = 63;
      }
      const mask = (<u64>1 << <u64>sh) - 1;
      const r = sig & mask;
      mag = sig >> <u64>sh;
      if (r != 0) {
        inexact = true;
        const half = <u64>1 << <u64>(sh - 1);
        let up = false;
        if (rm == RM_RTZ) up = false;
        else if (rm == RM_RDN) up = sign != 0;
        else if (rm == RM_RUP) up = sign == 0;
        else if (rm == RM_RMM) up = r >= half;
        else up = r > half || (r == half && (mag & 1) != 0);
        if (up) mag++;
      }
    }
    if (!invalid) invalid = sign ? mag > negMin : mag > posMax;
  }
  if (invalid) {
    sfFlags |= FLAG_NV;
    return sign ? negMin : posMax;
  }
  if (inexact) sfFlags |= FLAG_NX;
  const res = sign ? <u64>0 - mag : mag;
  return kind == K_I32 || kind == K_U32 ? res & 0xffffffff : res;
}

/** Integer magnitude (with sign) -> float. */
function fromIntG<F>(sign: u32, mag: u64, rm: u32): u64 {
  if (mag == 0) return 0;
  const lz = <i32>clz(mag);
  if (lz == 0) return roundPack<F>(sign, 63, (mag >> 1) | (mag & 1), rm);
  return roundPack<F>(sign, 63 - lz, mag << <u64>(lz - 1), rm);
}

// ---------------------------------------------------------------------------------------
// Exported API: binary32

export function f32Add(a: u32, b: u32, rm: u32): u32 {
  return <u32>addG<f32>(a, b, rm);
}
export function f32Sub(a: u32, b: u32, rm: u32): u32 {
  return <u32>addG<f32>(a, b ^ 0x80000000, rm);
}
export function f32Mul(a: u32, b: u32, rm: u32): u32 {
  return <u32>mulG<f32>(a, b, rm);
}
export function f32Div(a: u32, b: u32, rm: u32): u32 {
  return <u32>divG<f32>(a, b, rm);
}
export function f32Sqrt(a: u32, rm: u32): u32 {
  return <u32>sqrtG<f32>(a, rm);
}
export function f32MulAdd(a: u32, b: u32, c: u32, rm: u32): u32 {
  return <u32>fmaG<f32>(a, b, c, rm);
}
export function f32Min(a: u32, b: u32): u32 {
  return <u32>minMaxG<f32>(a, b, false);
}
export function f32Max(a: u32, b: u32): u32 {
  return <u32>minMaxG<f32>(a, b, true);
}
export function f32Eq(a: u32, b: u32): u32 {
  return eqG<f32>(a, b);
}
export function f32Lt(a: u32, b: u32): u32 {
  return ltG<f32>(a, b, false);
}
export function f32Le(a: u32, b: u32): u32 {
  return ltG<f32>(a, b, true);
}
export function f32Class(a: u32): u32 {
  return classG<f32>(a);
}

// ---------------------------------------------------------------------------------------
// Exported API: binary64

export function f64Add(a: u64, b: u64, rm: u32): u64 {
  return addG<f64>(a, b, rm);
}
export function f64Sub(a: u64, b: u64, rm: u32): u64 {
  return addG<f64>(a, b ^ 0x8000000000000000, rm);
}
export function f64Mul(a: u64, b: u64, rm: u32): u64 {
  return mulG<f64>(a, b, rm);
}
export function f64Div(a: u64, b: u64, rm: u32): u64 {
  return divG<f64>(a, b, rm);
}
export function f64Sqrt(a: u64, rm: u32): u64 {
  return sqrtG<f64>(a, rm);
}
export function f64MulAdd(a: u64, b: u64, c: u64, rm: u32): u64 {
  return fmaG<f64>(a, b, c, rm);
}
export function f64Min(a: u64, b: u64): u64 {
  return minMaxG<f64>(a, b, false);
}
export function f64Max(a: u64, b: u64): u64 {
  return minMaxG<f64>(a, b, true);
}
export function f64Eq(a: u64, b: u64): u32 {
  return eqG<f64>(a, b);
}
export function f64Lt(a: u64, b: u64): u32 {
  return ltG<f64>(a, b, false);
}
export function f64Le(a: u64, b: u64): u32 {
  return ltG<f64>(a, b, true);
}
export function f64Class(a: u64): u32 {
  return classG<f64>(a);
}

// ---------------------------------------------------------------------------------------
// Exported API: conversions

export function f32ToF64(a: u32): u64 {
  const x = <u64>a;
  if (isNaNF<f32>(x)) {
    if (isSNaNF<f32>(x)) sfFlags |= FLAG_NV;
    return canonNaN<f64>();
  }
  const sg: u64 = <u64>signOf<f32>(x) << 63;
  if (isInfF<f32>(x)) return sg | infBits<f64>();
  if (isZeroF<f32>(x)) return sg;
  const sig = unpack<f32>(x);
  // every binary32 value is a normal binary64 value
  return sg | (<u64>(gExp + 1023) << 52) | ((sig >> 10) & 0xfffffffffffff);
}

export function f64ToF32(a: u64, rm: u32): u32 {
  if (isNaNF<f64>(a)) {
    if (isSNaNF<f64>(a)) sfFlags |= FLAG_NV;
    return <u32>canonNaN<f32>();
  }
  const s = signOf<f64>(a);
  const sg: u32 = s << 31;
  if (isInfF<f64>(a)) return sg | <u32>infBits<f32>();
  if (isZeroF<f64>(a)) return sg;
  const sig = unpack<f64>(a);
  return <u32>roundPack<f32>(s, gExp, sig, rm);
}

export function f32ToI32(a: u32, rm: u32): u32 {
  return <u32>toIntG<f32>(a, rm, K_I32);
}
export function f32ToU32(a: u32, rm: u32): u32 {
  return <u32>toIntG<f32>(a, rm, K_U32);
}
export function f32ToI64(a: u32, rm: u32): u64 {
  return toIntG<f32>(a, rm, K_I64);
}
export function f32ToU64(a: u32, rm: u32): u64 {
  return toIntG<f32>(a, rm, K_U64);
}
export function f64ToI32(a: u64, rm: u32): u32 {
  return <u32>toIntG<f64>(a, rm, K_I32);
}
export function f64ToU32(a: u64, rm: u32): u32 {
  return <u32>toIntG<f64>(a, rm, K_U32);
}
export function f64ToI64(a: u64, rm: u32): u64 {
  return toIntG<f64>(a, rm, K_I64);
}
export function f64ToU64(a: u64, rm: u32): u64 {
  return toIntG<f64>(a, rm, K_U64);
}

export function i32ToF32(v: u32, rm: u32): u32 {
  const s = v >> 31;
  const mag: u32 = s ? <u32>0 - v : v;
  return <u32>fromIntG<f32>(s, <u64>mag, rm);
}
export function u32ToF32(v: u32, rm: u32): u32 {
  return <u32>fromIntG<f32>(0, <u64>v, rm);
}
export function i64ToF32(v: u64, rm: u32): u32 {
  const s = <u32>(v >> 63);
  return <u32>fromIntG<f32>(s, s ? <u64>0 - v : v, rm);
}
export function u64ToF32(v: u64, rm: u32): u32 {
  return <u32>fromIntG<f32>(0, v, rm);
}
export function i32ToF64(v: u32, rm: u32): u64 {
  const s = v >> 31;
  const mag: u32 = s ? <u32>0 - v : v;
  return fromIntG<f64>(s, <u64>mag, rm);
}
export function u32ToF64(v: u32, rm: u32): u64 {
  return fromIntG<f64>(0, <u64>v, rm);
}
export function i64ToF64(v: u64, rm: u32): u64 {
  const s = <u32>(v >> 63);
  return fromIntG<f64>(s, s ? <u64>0 - v : v, rm);
}
export function u64ToF64(v: u64, rm: u32): u64 {
  return fromIntG<f64>(0, v, rm);
}
