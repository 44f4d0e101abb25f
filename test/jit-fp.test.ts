// F and D in translated code (jit/translate-fp.ts) against the interpreter: the inline forms use
// the host's floats only where that is exact, and must leave the same registers, memory, fflags
// and mstatus as the core's own F/D code on every input, including the ones they hand back to
// the core. The inputs aim at the hard cases: fused multiply-adds whose addend cancels the
// product to within a few ulps (only an exact a*b+c rounds those right), exponents at and past
// the fast path's bounds, zeros, subnormals, infinities, NaNs and badly NaN-boxed singles (f12
// holds a raw integer in some passes). Every instruction with an inline form is in the loop,
// which stores every F register after each pass. The loop clears fflags every 4th pass (an inexact result must then accrue NX again) and runs
// with frm = RTZ in some passes (dynamic-rounding instructions must not take the RNE path) and
// with mstatus.FS Initial in others (the first F/D instruction must make it Dirty).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  A1,
  A2,
  A3,
  A4,
  A5,
  A6,
  A7,
  CODE,
  CSR,
  Hart,
  I,
  PRIV_M,
  RAM_BASE,
  S2,
  T0,
  T1,
  T2,
  T3,
  T4,
  hex,
  rType,
} from "./support/core-harness.js";
import { EXIT_WFI } from "../src/accel/soft/layout.js";

const N = 3000;
const IN = RAM_BASE + 0x10_0000n;
const OUT = RAM_BASE + 0x20_0000n;
const IN_STRIDE = 48;
const OUT_STRIDE = 352;

// xorshift32: the same inputs every run
let seed = 0x1234_5678;
function rnd(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 4294967296;
}
const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;

function double(): number {
  const r = rnd();
  if (r < 0.04) return pick([0, -0, Infinity, -Infinity, NaN, 5e-324, -2.2e-308, 1e300, -3e-300]);
  const e = r < 0.1 ? Math.floor(rnd() * 1000) - 500 : Math.floor(rnd() * 120) - 60;
  return (rnd() < 0.5 ? -1 : 1) * (1 + rnd()) * 2 ** e;
}
function single(): number {
  const r = rnd();
  if (r < 0.04) return pick([0, -0, Infinity, NaN, 1.4e-45, 3e38, -1e-38]);
  const e = r < 0.1 ? Math.floor(rnd() * 120) - 60 : Math.floor(rnd() * 40) - 20;
  return Math.fround((rnd() < 0.5 ? -1 : 1) * (1 + rnd()) * 2 ** e);
}

function inputs(h: Hart): void {
  const buf = new DataView(new ArrayBuffer(IN_STRIDE * N));
  for (let i = 0; i < N; i++) {
    const o = i * IN_STRIDE;
    const a = double();
    const b = rnd() < 0.8 ? Math.abs(double()) : double();
    // half the addends cancel a*b to within a few ulps
    let c = double();
    if (rnd() < 0.5 && Number.isFinite(a * b)) {
      buf.setFloat64(o + 16, -(a * b), true);
      const bits = buf.getBigUint64(o + 16, true) + BigInt(Math.floor(rnd() * 9) - 4);
      buf.setBigUint64(o + 16, BigInt.asUintN(64, bits), true);
      c = buf.getFloat64(o + 16, true);
    }
    buf.setFloat64(o, a, true);
    buf.setFloat64(o + 8, b, true);
    buf.setFloat64(o + 16, c, true);
    if (rnd() < 0.15) midpoint64(buf, o);
    let as = single();
    let bs = rnd() < 0.8 ? Math.abs(single()) : single();
    let cs = single();
    if (rnd() < 0.5) cs = Math.fround(-(as * bs) * (1 + (Math.floor(rnd() * 9) - 4) * 2 ** -23));
    if (rnd() < 0.15) {
      // 2^k (1 + 2^-12) 2^-24 * (1 - 4095 2^-24) = 2^k (2^-24 + 2^-60): with an addend of 2^k
      // the sum rounded to binary64 first is a binary32 midpoint, but the exact one is above it
      const k = Math.floor(rnd() * 41) - 20;
      const s = rnd() < 0.5 ? -1 : 1;
      as = s * (2 ** -24 + 2 ** -36) * 2 ** k;
      bs = 1 - 4095 * 2 ** -24;
      cs = s * 2 ** k;
    }
    buf.setFloat32(o + 24, as, true);
    buf.setFloat32(o + 28, bs, true);
    buf.setFloat32(o + 32, cs, true);
    const n =
      rnd() < 0.5
        ? BigInt(Math.floor(rnd() * 2 ** 40))
        : BigInt.asIntN(64, BigInt(Math.floor(rnd() * 2 ** 53)) << 11n);
    buf.setBigInt64(o + 40, n, true);
  }
  h.fill(IN, new Uint8Array(buf.buffer));
}

/**
 * An FMA whose exact result lies just past a rounding midpoint that the product's low half
 * alone decides: 5 * 2^k times RN(0.2) * 2^(m-53-k) is 2^(m-53) (1 + 3 * 2^-55), and with the
 * addend 2^m a sum rounded twice lands on the midpoint (rounding to odd keeps it off).
 */
function midpoint64(buf: DataView, o: number): void {
  const k = Math.floor(rnd() * 41) - 20;
  const m = Math.floor(rnd() * 41) - 20;
  const s = rnd() < 0.5 ? -1 : 1;
  buf.setFloat64(o, s * 5 * 2 ** k, true);
  buf.setFloat64(o + 8, 0.2 * 2 ** (m - 53 - k), true);
  buf.setFloat64(o + 16, s * 2 ** m, true);
}

const fma = I.fma;
/** fsgnj (f3 0), fsgnjn (1), fsgnjx (2); fmt 0 single, 1 double. */
const sgnj = (f3: number, fmt: number, rd: number, rs1: number, rs2: number): number =>
  rType(0x53, rd, f3, rs1, rs2, 0x10 | fmt);

/** The loop over the inputs; returns the address after its final wfi. */
function program(h: Hart): bigint {
  const body = [
    // every 4th pass: fflags cleared; frm = RTZ while bit 8 of the count is set
    I.andi(A6, A1, 3),
    I.bne(A6, 0, 8),
    I.csrw(CSR.fflags, 0),
    I.srli(A6, A1, 8),
    I.andi(A6, A6, 1),
    I.csrw(CSR.frm, A6),
    // every 8th pass: mstatus.FS Initial (after the frm write, which makes it Dirty); the
    // fld after it, translated from there, must make it Dirty again
    I.andi(A6, A1, 7),
    I.bne(A6, 0, 20),
    I.lui(T2, 6),
    I.csrc(CSR.mstatus, T2),
    I.lui(T2, 2),
    I.csrs(CSR.mstatus, T2),
    I.fld(1, T0, 0),
    I.csrr(S2, CSR.mstatus), // FS as the fld left it
    I.fld(2, T0, 8),
    I.fld(3, T0, 16),
    I.flw(11, T0, 24),
    I.flw(12, T0, 28),
    I.flw(13, T0, 32),
    I.ld(A3, T0, 40),
    // every 4th pass (bit 1 of the count): f12 holds the raw integer, not a boxed single
    I.andi(A6, A1, 2),
    I.beq(A6, 0, 8),
    I.fmv_d_x(12, A3),
    fma(0x43, 1, 4, 1, 2, 3),
    fma(0x47, 1, 5, 1, 2, 3),
    fma(0x4b, 1, 6, 1, 2, 3),
    fma(0x4f, 1, 22, 1, 2, 3),
    I.fadd_d(7, 1, 3),
    I.fsub_d(8, 1, 3),
    I.fmul_d(9, 1, 2, 0), // static RNE
    I.fdiv_d(10, 1, 2),
    I.fsqrt_d(14, 2),
    fma(0x43, 0, 15, 11, 12, 13),
    fma(0x47, 0, 24, 11, 12, 13),
    fma(0x4b, 0, 25, 11, 12, 13),
    fma(0x4f, 0, 26, 11, 12, 13),
    I.fadd_s(16, 11, 13),
    I.fsub_s(23, 11, 13),
    I.fmul_s(17, 11, 12),
    I.fdiv_s(18, 11, 12),
    I.fsqrt_s(19, 12),
    sgnj(0, 1, 27, 1, 2),
    sgnj(1, 1, 21, 1, 2),
    sgnj(2, 1, 28, 1, 3),
    sgnj(0, 0, 29, 11, 12),
    sgnj(1, 0, 30, 11, 13),
    sgnj(2, 0, 31, 12, 13),
    I.fmv_w_x(0, A3),
    // the integer-to-double conversions, each stored at once (f20 is reused)
    ...[2, 0, 1, 3].flatMap((rs2, k) => [
      rType(0x53, 20, 7, A3, rs2, 0x69),
      I.fsd(20, T1, 256 + k * 8),
    ]),
    I.flt_d(A2, 1, 3),
    I.fle_d(A4, 1, 3),
    I.feq_d(A5, 1, 3),
    I.slli(A2, A2, 1),
    I.or(A2, A2, A4),
    I.slli(A2, A2, 1),
    I.or(A2, A2, A5),
    I.feq_d(A5, 1, 1),
    I.slli(A2, A2, 1),
    I.or(A2, A2, A5),
    I.fcvt_l_d(A4, 1),
    I.fcvt_w_d(A5, 2),
    I.fmv_x_w(T3, 16),
    I.fmv_x_d(T4, 7),
    ...Array.from({ length: 32 }, (_, f) => I.fsd(f, T1, f * 8)),
    I.sd(A2, T1, 288),
    I.sd(A4, T1, 296),
    I.sd(A5, T1, 304),
    I.csrr(A7, CSR.fflags),
    I.sd(A7, T1, 312),
    I.sd(S2, T1, 320),
    I.sd(T3, T1, 328),
    I.sd(T4, T1, 336),
    I.fsw(16, T1, 344),
    I.addi(T0, T0, IN_STRIDE),
    I.addi(T1, T1, OUT_STRIDE),
    I.addi(A1, A1, -1),
  ];
  const start = [I.lui(T2, 6), I.csrs(CSR.mstatus, T2), I.csrw(CSR.fflags, 0)];
  const loopAt = h.code(CODE, start);
  const after = h.code(loopAt, body);
  const end = h.code(after, [I.bne(A1, 0, Number(loopAt - after)), I.wfi]);
  h.reset(CODE, PRIV_M);
  h.setX(T0, IN);
  h.setX(T1, OUT);
  h.setX(A1, BigInt(N));
  return end;
}

test("F/D in translated code leaves what the interpreter leaves: results, fflags, mstatus", () => {
  const out = new Map<string, { mem: Uint8Array; fflags: bigint; mstatus: bigint }>();
  for (const tier of ["interp", "jit"] as const) {
    seed = 0x1234_5678;
    const h = new Hart(8 << 20, undefined, tier);
    inputs(h);
    const end = program(h);
    for (let i = 0; i < 10_000 && h.run(100_000) !== EXIT_WFI; i++);
    assert.equal(hex(h.pc()), hex(end), `${tier}: the program did not reach its end`);
    out.set(tier, {
      mem: h.bytes(OUT, OUT_STRIDE * N),
      fflags: h.csr(CSR.fflags),
      mstatus: h.csr(CSR.mstatus),
    });
    if (tier === "jit")
      assert.ok((h.hartCore.jitStats()?.translations ?? 0) > 0, "nothing was translated");
  }
  const a = out.get("interp")!;
  const b = out.get("jit")!;
  for (let i = 0; i < N; i++) {
    const x = a.mem.subarray(i * OUT_STRIDE, (i + 1) * OUT_STRIDE);
    const y = b.mem.subarray(i * OUT_STRIDE, (i + 1) * OUT_STRIDE);
    for (let k = 0; k < OUT_STRIDE; k += 8) {
      const u = new DataView(x.buffer, x.byteOffset + k, 8).getBigUint64(0, true);
      const v = new DataView(y.buffer, y.byteOffset + k, 8).getBigUint64(0, true);
      assert.equal(hex(v), hex(u), `pass ${i}, result ${k / 8}: jit differs from interp`);
    }
  }
  assert.equal(b.fflags, a.fflags, "fflags");
  assert.equal(b.mstatus, a.mstatus, "mstatus");
});
