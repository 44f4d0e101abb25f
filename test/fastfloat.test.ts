// The host-float fast paths (src/accel/soft/cpu/fastfloat.ts) against softfloat.ts, which
// test/softfloat.test.ts checks against real RISC-V instructions under QEMU.
//
// Wherever a fast path answers, its bits must equal softfloat's round-to-nearest-even result,
// and softfloat must raise no flag other than NX (the fast path is only used once NX is set).
// The vectors aim at what could go wrong: exponents at and beyond the bound, products whose
// low half matters (FMA addends that cancel the product to within a few ulps), halfway cases,
// and significands with few bits. Each op must also answer for most in-range vectors, so a
// fast path that declines everything fails.
//
// Environment knobs: FASTFLOAT_VECTORS (per op, default 60000), FASTFLOAT_SEED.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { fromBits, toBits } from "./support/float-bits.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const CPU = path.join(ROOT, "src/accel/soft/cpu");
const ASC = path.join(ROOT, "node_modules/assemblyscript/bin/asc.js");
const VECTORS = Number(process.env.FASTFLOAT_VECTORS ?? 60000);
const SEED = Number(process.env.FASTFLOAT_SEED ?? 0xfa57);

type Fn = (...args: bigint[]) => bigint;
interface Built {
  DECLINED: WebAssembly.Global;
  clearFlags: Fn;
  flags: Fn;
  sf64: Fn;
  ff64: Fn;
  sf32: Fn;
  ff32: Fn;
}

let dir = "";
let m: Built;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "moat-fastfloat-"));
  const rel = (f: string): string => path.relative(dir, path.join(CPU, f)).replace(/\.ts$/, "");
  // u32 arguments widened to u64 so that the JS side passes BigInts throughout
  writeFileSync(
    path.join(dir, "entry.ts"),
    `export * from "${rel("fastfloat.ts")}";
import * as sf from "${rel("softfloat.ts")}";
import * as ff from "${rel("fastfloat.ts")}";
export { sfFlags } from "${rel("softfloat.ts")}";
export function clearFlags(): u64 { sf.sfFlags = 0; return 0; }
export function flags(): u64 { return <u64>sf.sfFlags; }
export function sf64(op: u64, a: u64, b: u64, c: u64): u64 {
  if (op == 0) return sf.f64Add(a, b, 0);
  if (op == 1) return sf.f64Mul(a, b, 0);
  if (op == 2) return sf.f64Div(a, b, 0);
  if (op == 3) return sf.f64Sqrt(a, 0);
  return sf.f64MulAdd(a, b, c, 0);
}
export function ff64(op: u64, a: u64, b: u64, c: u64): u64 {
  if (op == 0) return ff.fastF64Add(a, b);
  if (op == 1) return ff.fastF64Mul(a, b);
  if (op == 2) return ff.fastF64Div(a, b);
  if (op == 3) return ff.fastF64Sqrt(a);
  return ff.fastF64MulAdd(a, b, c);
}
export function sf32(op: u64, a: u64, b: u64, c: u64): u64 {
  const x = <u32>a, y = <u32>b, z = <u32>c;
  if (op == 0) return <u64>sf.f32Add(x, y, 0);
  if (op == 1) return <u64>sf.f32Mul(x, y, 0);
  if (op == 2) return <u64>sf.f32Div(x, y, 0);
  if (op == 3) return <u64>sf.f32Sqrt(x, 0);
  return <u64>sf.f32MulAdd(x, y, z, 0);
}
export function ff32(op: u64, a: u64, b: u64, c: u64): u64 {
  const x = <u32>a, y = <u32>b, z = <u32>c;
  if (op == 0) return ff.fastF32Add(x, y);
  if (op == 1) return ff.fastF32Mul(x, y);
  if (op == 2) return ff.fastF32Div(x, y);
  if (op == 3) return ff.fastF32Sqrt(x);
  return ff.fastF32MulAdd(x, y, z);
}
`,
  );
  const out = path.join(dir, "fastfloat.wasm");
  const r = spawnSync(
    process.execPath,
    [ASC, "entry.ts", "-o", out, "-O3", "--runtime", "stub", "--noAssert"],
    { cwd: dir, encoding: "utf8" }, // not the repo root: asc would pick up its asconfig.json
  );
  assert.equal(r.status, 0, `asc failed:\n${r.stdout}${r.stderr}`);
  const mod = await WebAssembly.compile(new Uint8Array(readFileSync(out)));
  const instance = await WebAssembly.instantiate(mod, {
    env: {
      abort() {
        throw new Error("fastfloat: abort called");
      },
    },
  });
  m = instance.exports as unknown as Built;
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------
// Vectors

let state = SEED >>> 0 || 1;
function u32(): number {
  // xorshift32
  state ^= state << 13;
  state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5;
  state >>>= 0;
  return state;
}
const int = (n: number): number => Math.floor((u32() / 4294967296) * n);

interface Fmt {
  width: 32 | 64;
  frac: number;
  bias: number;
  bound: number; // the fast path's exponent bound
}
const F64: Fmt = { width: 64, frac: 52, bias: 1023, bound: 400 };
const F32: Fmt = { width: 32, frac: 23, bias: 127, bound: 50 };

function randFrac(f: Fmt): bigint {
  const full = (BigInt(u32()) << 32n) | BigInt(u32());
  const k = int(4);
  const frac = full & ((1n << BigInt(f.frac)) - 1n);
  if (k === 0) return frac & ~((1n << BigInt(int(f.frac))) - 1n); // few significant bits
  if (k === 1) return (1n << BigInt(f.frac)) - 1n - BigInt(int(4)); // all ones
  return frac;
}

/** A value whose unbiased exponent is near the fast path's range (sometimes just outside). */
function randValue(f: Fmt): bigint {
  // a quarter over the whole exponent range, so that a bound set too wide shows
  const spread = int(4) === 0 ? f.bias : f.bound + 3;
  const e = int(2 * spread + 1) - spread;
  const sign = BigInt(int(2));
  const field = BigInt(Math.max(0, Math.min(2 * f.bias, e + f.bias)));
  const special = int(40);
  if (special === 0) return sign << BigInt(f.width - 1); // a zero
  if (special === 1) return (sign << BigInt(f.width - 1)) | BigInt(int(1000) + 1); // subnormal
  if (special === 2) return ((2n * BigInt(f.bias) + 1n) << BigInt(f.frac)) | BigInt(int(2)); // inf/NaN
  return (sign << BigInt(f.width - 1)) | (field << BigInt(f.frac)) | randFrac(f);
}

/** An addend that cancels a*b to within a few ulps, where the product's low half decides. */
function cancelling(f: Fmt, a: bigint, b: bigint): bigint {
  const p = -(fromBits(f, a) * fromBits(f, b));
  let c = toBits(f, f.width === 32 ? Math.fround(p) : p);
  const k = BigInt(int(9) - 4);
  const mag = c & ((1n << BigInt(f.width - 1)) - 1n);
  if (mag > 8n) c += k;
  return c;
}

const OPS = ["add", "mul", "div", "sqrt", "fma"] as const;

for (const f of [F64, F32]) {
  for (const [op, name] of OPS.entries()) {
    test(`fast f${f.width} ${name} equals softfloat's RNE result wherever it answers`, () => {
      const sfn = f.width === 64 ? m.sf64 : m.sf32;
      const ffn = f.width === 64 ? m.ff64 : m.ff32;
      const declined = (m.DECLINED.value as bigint) & 0xffff_ffff_ffff_ffffn;
      let answered = 0;
      let inRange = 0;
      for (let i = 0; i < VECTORS; i++) {
        const a = randValue(f);
        let b = randValue(f);
        let c = randValue(f);
        if (op === 4 && int(2) === 0) c = cancelling(f, a, b);
        if (op === 0 && int(4) === 0)
          b = cancelling(f, a, toBits(f, 1)) ^ (1n << BigInt(f.width - 1));
        const fast = BigInt.asUintN(64, ffn(BigInt(op), a, b, c));
        const exp = (x: bigint): number =>
          Number((x >> BigInt(f.frac)) & ((1n << BigInt(f.width - 1 - f.frac)) - 1n)) - f.bias;
        const normalIn = (x: bigint): boolean => Math.abs(exp(x)) <= f.bound;
        const used = op === 3 ? [a] : op === 4 ? [a, b, c] : [a, b];
        if (used.every(normalIn) && !(op === 3 && a >> BigInt(f.width - 1) === 1n)) inRange++;
        if (fast === declined) continue;
        answered++;
        m.clearFlags();
        const want = BigInt.asUintN(64, sfn(BigInt(op), a, b, c));
        const flags = Number(m.flags());
        const hex = (x: bigint): string => "0x" + x.toString(16);
        const what = `${name}(${used.map(hex).join(", ")})`;
        assert.equal(hex(fast), hex(want), `${what}: fast path's bits differ from softfloat's`);
        assert.equal(flags & ~1, 0, `${what}: answered although softfloat raises flags ${flags}`);
      }
      // nearly every in-range vector must be answered: the fast path has to carry the load
      assert.ok(inRange > VECTORS / 4, `generator made only ${inRange} in-range vectors`);
      assert.ok(answered >= inRange * 0.99, `answered ${answered} of ${inRange} in-range vectors`);
    });
  }
}
