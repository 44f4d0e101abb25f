// Differential test of src/accel/soft/cpu/softfloat.ts against real RISC-V F/D instructions.
//
// The oracle (test/support/softfloat-oracle.c) is cross-compiled with riscv64-linux-gnu-gcc and
// run under qemu-riscv64; it executes each instruction with a static rounding mode and reports
// the result bits and fflags. The module under test is compiled with the repo's AssemblyScript
// into a temporary, non-shared wasm. Every op is checked in every rounding mode on random
// vectors biased towards edge cases; result bits AND flags must match.
//
// Environment knobs: SOFTFLOAT_VECTORS (vectors per op, default 25000), SOFTFLOAT_SEED,
// SOFTFLOAT_STATS=1 (print per-op flag coverage), SOFTFLOAT_SOURCE (test another copy).
// Needs Debian packages gcc-riscv64-linux-gnu and qemu-user.

import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { fromBits, toBits } from "./support/float-bits.js";

// ---------------------------------------------------------------------------------------
// Locations and tools

function findRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, "package.json");
    if (existsSync(pkg) && existsSync(path.join(dir, "src/accel/soft/cpu/softfloat.ts")))
      return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error("softfloat test: cannot find the repository root");
    dir = up;
  }
}

const ROOT = findRoot();
// SOFTFLOAT_SOURCE lets a mutation check point the test at a modified copy
const SOURCE = path.resolve(
  process.env.SOFTFLOAT_SOURCE ?? path.join(ROOT, "src/accel/soft/cpu/softfloat.ts"),
);
const ORACLE_C = path.join(ROOT, "test/support/softfloat-oracle.c");
const ASC = path.join(ROOT, "node_modules/assemblyscript/bin/asc.js");
const CC = "riscv64-linux-gnu-gcc";
const QEMU = "qemu-riscv64";

const VECTORS_PER_OP = Number(process.env.SOFTFLOAT_VECTORS ?? 25000);
const SEED = Number(process.env.SOFTFLOAT_SEED ?? 0x5eed1e);

function haveTool(cmd: string): boolean {
  return spawnSync(cmd, ["--version"], { stdio: "ignore" }).status === 0;
}

function run(cmd: string, args: string[], what: string, cwd?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], cwd });
    let out = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    p.stderr.on("data", (d: Buffer) => (out += d.toString()));
    p.on("error", reject);
    p.on("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`${what} failed (exit ${code}):\n${out}`)),
    );
  });
}

// ---------------------------------------------------------------------------------------
// Build everything once (asc twice and gcc, concurrently)

interface Built {
  exports: SoftFloat;
  prodWasm: Uint8Array<ArrayBuffer>;
  oracle: string;
}

type I32Fn = (...args: (number | bigint)[]) => number;
type I64Fn = (...args: (number | bigint)[]) => bigint;
interface SoftFloat {
  sfFlags: WebAssembly.Global;
  [name: string]: I32Fn | I64Fn | WebAssembly.Global | WebAssembly.Memory;
}

let builtPromise: Promise<Built> | undefined;
let tmpDir: string | undefined;
after(() => {
  if (tmpDir) rmSync(tmpDir, { recursive: true, force: true });
});

function build(): Promise<Built> {
  builtPromise ??= (async () => {
    const missing = [CC, QEMU].filter((t) => !haveTool(t));
    if (missing.length) {
      throw new Error(
        `softfloat test needs ${missing.join(" and ")} ` +
          "(apt-get install gcc-riscv64-linux-gnu qemu-user)",
      );
    }
    const dir = mkdtempSync(path.join(tmpdir(), "moat-softfloat-"));
    tmpDir = dir;
    let rel = path.relative(dir, SOURCE).replace(/\\/g, "/").replace(/\.ts$/, "");
    if (!rel.startsWith(".")) rel = "./" + rel;
    // test entry: everything from softfloat.ts plus two benchmark loops
    writeFileSync(
      path.join(dir, "entry.ts"),
      `export * from "${rel}";
import { f64Add, f64Mul } from "${rel}";
export function benchF64Add(n: i32, x: u64, y: u64, rm: u32): u64 {
  let acc: u64 = 0;
  for (let i = 0; i < n; i++) acc ^= f64Add(x ^ <u64>(i & 0xfff), y ^ (acc & 0xfff), rm);
  return acc;
}
export function benchF64Mul(n: i32, x: u64, y: u64, rm: u32): u64 {
  let acc: u64 = 0;
  for (let i = 0; i < n; i++) acc ^= f64Mul(x ^ <u64>(i & 0xfff), y ^ (acc & 0xfff), rm);
  return acc;
}
`,
    );
    const wasm = path.join(dir, "softfloat.wasm");
    const prod = path.join(dir, "softfloat-prod.wasm");
    const oracle = path.join(dir, "softfloat-oracle");
    await Promise.all([
      run(
        process.execPath,
        [ASC, path.join(dir, "entry.ts"), "-o", wasm, "-O3", "--runtime", "stub", "--noAssert"],
        "asc (test build)",
        dir, // not the repo root: asc would pick up its asconfig.json
      ),
      // the same source with the production flags (see asconfig.json)
      run(
        process.execPath,
        [
          ASC,
          SOURCE,
          "-o",
          prod,
          "-O3",
          "--runtime",
          "stub",
          "--importMemory",
          "--sharedMemory",
          "--enable",
          "threads",
          "--initialMemory",
          "64",
          "--maximumMemory",
          "65536",
          "--noAssert",
        ],
        "asc (production flags)",
        dir,
      ),
      run(CC, ["-static", "-O2", "-o", oracle, ORACLE_C], CC),
    ]);
    const mod = await WebAssembly.compile(new Uint8Array(readFileSync(wasm)));
    const instance = await WebAssembly.instantiate(mod, {
      env: {
        abort() {
          throw new Error("softfloat: abort called");
        },
      },
    });
    return {
      exports: instance.exports as unknown as SoftFloat,
      prodWasm: new Uint8Array(readFileSync(prod)),
      oracle,
    };
  })();
  return builtPromise;
}

// ---------------------------------------------------------------------------------------
// Formats and bit helpers

interface Fmt {
  width: 32 | 64;
  fracBits: number;
  expBits: number;
  bias: number;
  P: number;
  expMax: number; // all-ones exponent field
}
const F32: Fmt = {
  width: 32,
  fracBits: 23,
  expBits: 8,
  bias: 127,
  P: 24,
  expMax: 255,
};
const F64: Fmt = {
  width: 64,
  fracBits: 52,
  expBits: 11,
  bias: 1023,
  P: 53,
  expMax: 2047,
};

const mask = (n: number): bigint => (1n << BigInt(n)) - 1n;
const signBit = (f: Fmt): bigint => 1n << BigInt(f.width - 1);
const expOf = (f: Fmt, x: bigint): number => Number((x >> BigInt(f.fracBits)) & mask(f.expBits));

function mkF(f: Fmt, sign: number, expField: number, frac: bigint): bigint {
  const e = Math.max(0, Math.min(f.expMax, expField));
  return (
    (BigInt(sign) << BigInt(f.width - 1)) |
    (BigInt(e) << BigInt(f.fracBits)) |
    (frac & mask(f.fracBits))
  );
}

/** Moves the magnitude by k ulps (staying within +0 .. NaN space; sign kept). */
function perturb(f: Fmt, x: bigint, k: number): bigint {
  const sb = x & signBit(f);
  let m = (x & ~signBit(f)) + BigInt(k);
  if (m < 0n) m = 0n;
  if (m > mask(f.width - 1)) m = mask(f.width - 1);
  return sb | m;
}

// ---------------------------------------------------------------------------------------
// Random generation (xoshiro128**, deterministic from SEED)

class Rng {
  private s = new Uint32Array(4);
  constructor(seed: number) {
    let z = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      // splitmix32
      z = (z + 0x9e3779b9) >>> 0;
      let t = z;
      t = Math.imul(t ^ (t >>> 16), 0x85ebca6b) >>> 0;
      t = Math.imul(t ^ (t >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (t ^ (t >>> 16)) >>> 0;
    }
  }
  u32(): number {
    const s = this.s;
    const r = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return r;
  }
  /** uniform integer in [0, n) */
  int(n: number): number {
    return Math.floor((this.u32() / 4294967296) * n);
  }
  /** uniform integer in [lo, hi] */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  chance(p: number): boolean {
    return this.u32() / 4294967296 < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  /** uniform n-bit bigint */
  bits(n: number): bigint {
    let v = 0n;
    let left = n;
    while (left > 0) {
      const take = Math.min(32, left);
      v = (v << BigInt(take)) | BigInt(this.u32() >>> (32 - take));
      left -= take;
    }
    return v;
  }
}
function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

function specials(f: Fmt): bigint[] {
  const out: bigint[] = [];
  const fm = mask(f.fracBits);
  const q = 1n << BigInt(f.fracBits - 1);
  const mags: bigint[] = [
    0n, // zero
    1n, // min subnormal
    2n,
    fm, // max subnormal
    fm - 1n,
    q, // a subnormal with only the top bit
    mkF(f, 0, 1, 0n), // min normal
    mkF(f, 0, 1, 1n),
    mkF(f, 0, f.expMax - 1, fm), // max finite
    mkF(f, 0, f.expMax - 1, fm - 1n),
    mkF(f, 0, f.expMax, 0n), // infinity
    mkF(f, 0, f.bias, 0n), // 1
    mkF(f, 0, f.bias, q), // 1.5
    mkF(f, 0, f.bias - 1, 0n), // 0.5
    mkF(f, 0, f.bias + 1, 0n), // 2
    mkF(f, 0, f.bias + 1, q), // 3
    mkF(f, 0, f.bias, 1n), // 1 + ulp
    mkF(f, 0, f.bias - 1, fm), // 1 - ulp/2
  ];
  for (const m of mags) out.push(m, m | signBit(f));
  const nanExp = mkF(f, 0, f.expMax, 0n);
  out.push(nanExp | q); // canonical qNaN
  out.push(nanExp | q | 1n | signBit(f)); // negative qNaN with payload
  out.push(nanExp | fm); // qNaN all ones
  out.push(nanExp | 1n); // sNaN
  out.push(nanExp | (q - 1n) | signBit(f)); // sNaN, negative, full payload
  out.push(nanExp | (q >> 1n)); // sNaN
  return out;
}

class Gen {
  readonly sp32 = specials(F32);
  readonly sp64 = specials(F64);
  constructor(readonly rng: Rng) {}

  special(f: Fmt): bigint {
    return this.rng.pick(f.width === 32 ? this.sp32 : this.sp64);
  }

  frac(f: Fmt): bigint {
    const r = this.rng;
    switch (r.int(7)) {
      case 0:
      case 1:
      case 2:
        return r.bits(f.fracBits);
      case 3: {
        // few significant bits at the top: exact results and ties
        const k = r.int(f.fracBits + 1);
        return r.bits(k) << BigInt(f.fracBits - k);
      }
      case 4:
        return mask(f.fracBits) - r.bits(r.int(10)); // (nearly) all ones
      case 5: {
        let v = 0n;
        for (let i = r.range(1, 3); i > 0; i--) v |= 1n << BigInt(r.int(f.fracBits));
        return v;
      }
      default:
        return r.bits(r.int(10)); // (nearly) zero
    }
  }

  expField(f: Fmt): number {
    const r = this.rng;
    switch (r.int(8)) {
      case 0:
        return r.range(1, f.expMax - 1);
      case 1:
        return r.range(0, f.P + 2); // subnormal and lowest normals
      case 2:
        return r.range(f.expMax - f.P - 2, f.expMax - 1); // highest normals
      case 3:
        return 0;
      default:
        return f.bias + r.range(-40, 40);
    }
  }

  float(f: Fmt): bigint {
    const r = this.rng;
    const c = r.int(20);
    if (c < 2) return this.special(f);
    if (c < 4) return r.bits(f.width);
    return mkF(f, r.int(2), this.expField(f), this.frac(f));
  }

  withExp(f: Fmt, e: number): bigint {
    return mkF(f, this.rng.int(2), Math.max(0, Math.min(f.expMax - 1, e)), this.frac(f));
  }

  pair(f: Fmt, kind: "add" | "mul" | "div" | "cmp"): [bigint, bigint] {
    const r = this.rng;
    const c = r.int(10);
    if (c < 3) return [this.float(f), this.float(f)];
    const a = this.float(f);
    const ea = expOf(f, a);
    if (kind === "add") {
      if (c < 6) return [a, this.withExp(f, ea + r.range(-(f.P + 4), f.P + 4))];
      if (c < 8) {
        // cancellation / doubling: b = +-a moved by a few ulps
        const b = perturb(f, a, r.range(-4, 4));
        return [a, r.chance(0.7) ? b ^ signBit(f) : b];
      }
      if (c < 9) return [a, this.withExp(f, ea - r.range(f.P, 3 * f.P))];
      return [this.withExp(f, r.range(0, 2)), this.withExp(f, r.range(0, 2))];
    }
    if (kind === "mul" || kind === "div") {
      if (c < 5) {
        // exponents chosen so that the result lands near underflow or overflow:
        // result exponent field ~ target (mul: ea + eb - bias, div: ea - eb + bias)
        const target = r.chance(0.5) ? r.range(-f.P - 4, 3) : r.range(f.expMax - 4, f.expMax + 2);
        const top = f.expMax - 1;
        const lo =
          kind === "mul" ? Math.max(1, target + f.bias - top) : Math.max(1, target - f.bias);
        const hi =
          kind === "mul" ? Math.min(top, target + f.bias) : Math.min(top, target - f.bias + top);
        const ea2 = lo <= hi ? r.range(lo, hi) : r.range(1, top);
        const eb = kind === "mul" ? target - ea2 + f.bias : ea2 - target + f.bias;
        return [this.withExp(f, ea2), this.withExp(f, eb)];
      }
      if (c < 8) return this.boundaryPair(f, kind, r.chance(0.7) ? 1 - f.bias - 1 : f.bias);
      // exact products / quotients and ties: few significant bits
      const k = f.width === 32 ? 12 : 26;
      const x = mkF(
        f,
        r.int(2),
        f.bias + r.range(-30, 30),
        r.bits(r.int(k)) << BigInt(f.fracBits - k),
      );
      const y = mkF(
        f,
        r.int(2),
        f.bias + r.range(-30, 30),
        r.bits(r.int(k)) << BigInt(f.fracBits - k),
      );
      if (kind === "mul") return [x, perturb(f, y, r.range(-1, 1))];
      const xy = toBits(f, fromBits(f, x) * fromBits(f, y));
      return [perturb(f, xy, r.chance(0.7) ? 0 : r.range(-2, 2)), y];
    }
    // cmp: equal, negated, neighbouring, zeros of both signs, NaNs
    if (c < 5) return [a, a];
    if (c < 7) return [a, perturb(f, a, r.range(-2, 2)) ^ (r.chance(0.3) ? signBit(f) : 0n)];
    if (c < 8) return [r.chance(0.5) ? 0n : signBit(f), r.chance(0.5) ? 0n : signBit(f)];
    return [a, this.special(f)];
  }

  /**
   * Operands whose product (or quotient) lies within a few ulps below 2^(T+1), T an unbiased
   * exponent: with T = emin-1 this probes tininess-after-rounding at the underflow threshold,
   * with T = emax the rounding into overflow.
   */
  boundaryPair(f: Fmt, kind: "mul" | "div", T: number): [bigint, bigint] {
    const r = this.rng;
    const emin = 1 - f.bias;
    const emax = f.bias;
    const sigOf = (x: number): bigint => {
      // x in [1, 2): fraction bits, rounded to nearest by the float conversion
      const b = BigInt(Math.round((x - 1) * 2 ** f.fracBits));
      return b > mask(f.fracBits) ? mask(f.fracBits) : b;
    };
    // target significand c, a few ulps below 2
    const c = 2 - (r.int(6) + r.u32() / 4294967296) * 2 ** -(f.P - 1);
    const mx = 1 + r.u32() / 4294967296 + (f.width === 64 ? r.u32() / 2 ** 64 : 0);
    let ea: number, eb: number, ma: number, mb: number;
    if (kind === "mul") {
      // (mx * c/mx) * 2^(ea+eb) = c * 2^T
      ma = mx;
      mb = c / mx;
      ea = r.range(Math.max(emin, T - emax), Math.min(emax, T - emin));
      eb = T - ea;
    } else {
      // (c*mx/2) / mx * 2^(ea-eb) = c * 2^T
      mb = mx;
      ma = (c * mx) / 2;
      eb = r.range(Math.max(emin, emin - T - 1), Math.min(emax, emax - T - 1));
      ea = T + 1 + eb;
    }
    const a = mkF(f, r.int(2), ea + f.bias, sigOf(ma));
    const b = mkF(f, r.int(2), eb + f.bias, sigOf(mb));
    return [a, perturb(f, b, r.range(-2, 2))];
  }

  triple(f: Fmt): [bigint, bigint, bigint] {
    const r = this.rng;
    if (r.chance(0.02)) {
      // inf * 0 (+ anything, NaNs included): NV even when the addend is a quiet NaN
      const inf = mkF(f, r.int(2), f.expMax, 0n);
      const zero = r.chance(0.5) ? 0n : signBit(f);
      const [a, b] = r.chance(0.5) ? [inf, zero] : [zero, inf];
      return [a, b, r.chance(0.5) ? this.special(f) : this.float(f)];
    }
    if (r.chance(0.1)) {
      // product just below the smallest normal, plus a small addend of either sign
      const [a, b] = this.boundaryPair(f, "mul", -f.bias);
      return [
        a,
        b,
        r.chance(0.5) ? this.withExp(f, 0) : mkF(f, r.int(2), r.range(0, 2), r.bits(r.int(8))),
      ];
    }
    const [a, b] = r.chance(0.6) ? this.pair(f, "mul") : [this.float(f), this.float(f)];
    const c = r.int(8);
    if (c < 2) return [a, b, this.float(f)];
    if (c < 5) {
      // c close to -(a*b): massive cancellation
      const p = fromBits(f, a) * fromBits(f, b);
      let cb = perturb(f, toBits(f, -p), r.chance(0.3) ? 0 : r.range(-3, 3));
      if (r.chance(0.15)) cb ^= signBit(f);
      return [a, b, cb];
    }
    if (c < 7) {
      const ep = expOf(f, a) + expOf(f, b) - f.bias;
      return [a, b, this.withExp(f, ep + r.range(-(f.P + 6), f.P + 6))];
    }
    return [a, b, r.chance(0.5) ? this.special(f) : this.withExp(f, r.range(0, 3))];
  }

  sqrtArg(f: Fmt): bigint {
    const r = this.rng;
    const c = r.int(10);
    if (c < 3) {
      const x = this.float(f);
      return r.chance(0.75) ? x & ~signBit(f) : x;
    }
    if (c < 7) {
      // perfect squares and their neighbours
      const k = f.width === 32 ? 12 : 26;
      const range = f.width === 32 ? 60 : 500;
      const root = mkF(
        f,
        0,
        f.bias + r.range(-range, range),
        r.bits(r.int(k + 1)) << BigInt(f.fracBits - k),
      );
      const sq = toBits(f, fromBits(f, root) * fromBits(f, root));
      return perturb(f, sq, r.chance(0.5) ? 0 : r.range(-2, 2));
    }
    if (c < 9) return mkF(f, 0, r.range(0, 2), this.frac(f));
    return this.special(f);
  }

  /** floats around integer boundaries, for fcvt.{w,wu,l,lu} */
  toIntArg(f: Fmt): bigint {
    const r = this.rng;
    const c = r.int(10);
    if (c < 3) return this.float(f);
    const sign = r.chance(0.5) ? -1 : 1;
    let x: number;
    if (c < 7) {
      const base = r.pick([0, 1, 2, 2 ** 31, 2 ** 32, 2 ** 63, 2 ** 64, 2 ** r.int(70)]);
      const off = r.pick([0, 0, 0.5, -0.5, 1, -1, 0.25, -0.25, 0.75, -0.75, 1.5, -1.5, 2.5, -2]);
      x = sign * (base + off);
    } else {
      x =
        sign *
        (r.int(20) + r.pick([0, 0.5, 0.25, 0.75, r.u32() / 4294967296])) *
        2 ** r.range(-3, 3);
    }
    return perturb(f, toBits(f, x), r.chance(0.5) ? 0 : r.range(-3, 3));
  }

  /** integers for fcvt.{s,d}.{w,wu,l,lu}: returns the w-bit two's complement pattern */
  intArg(w: 32 | 64, signed: boolean, f: Fmt): bigint {
    const r = this.rng;
    const c = r.int(10);
    let v: bigint;
    if (c < 3) v = r.bits(w);
    else if (c < 5) {
      const k = r.int(w);
      v = r.pick([0n, 1n, 2n, 3n, mask(w), mask(w - 1), 1n << BigInt(w - 1), 1n << BigInt(k)]);
      v += BigInt(r.range(-2, 2));
    } else {
      // a random width with bits around the rounding position: exact ties and near ties
      const L = r.range(1, w);
      v = (1n << BigInt(L - 1)) | r.bits(L - 1);
      if (L > f.P && r.chance(0.7)) {
        const cut = L - f.P - 1; // position of the round bit
        v &= ~mask(cut + 1);
        if (r.chance(0.7)) v |= 1n << BigInt(cut);
        if (r.chance(0.3) && cut > 0) v |= 1n << BigInt(r.int(cut));
      }
      if (signed && r.chance(0.5)) v = -v;
    }
    return BigInt.asUintN(w, v);
  }
}

// ---------------------------------------------------------------------------------------
// The ops: oracle op code (test/support/softfloat-oracle.c), generator, and how to call the
// module. Every call returns the result as the oracle reports it: binary32 results, fclass
// and comparison results zero-extended, fcvt.w[u] results sign-extended (that is what lands
// in rd; the CPU sign-extends the module's 32-bit result).

type Vec = [bigint, bigint, bigint];
interface OpDef {
  name: string;
  code: number;
  out?: Fmt; // format of a floating-point result
  rm: boolean;
  gen: (g: Gen) => Vec;
  call: (sf: SoftFloat, v: Vec, rm: number) => bigint;
}

const D = 32;
const SB32 = 0x80000000n;
const SB64 = 1n << 63n;

const n32 = (x: bigint): number => Number(x & 0xffffffffn);
const u32r = (x: number): bigint => BigInt(x >>> 0);
const s32r = (x: number): bigint => BigInt.asUintN(64, BigInt(x | 0));
const u64r = (x: bigint): bigint => BigInt.asUintN(64, x);
const sext32 = (x: bigint): bigint => BigInt.asUintN(64, BigInt.asIntN(32, x));

function fn32(sf: SoftFloat, name: string): I32Fn {
  return sf[name] as I32Fn;
}
function fn64(sf: SoftFloat, name: string): I64Fn {
  return sf[name] as I64Fn;
}

function buildOps(): OpDef[] {
  const ops: OpDef[] = [];
  for (const f of [F32, F64]) {
    const S = f.width === 32 ? "f32" : "f64";
    const base = f.width === 32 ? 0 : D;
    const is32 = f.width === 32;
    const sb = is32 ? SB32 : SB64;
    // float result from a call with float/int args
    const fres = (sf: SoftFloat, name: string, args: (number | bigint)[]): bigint =>
      is32 ? u32r(fn32(sf, name)(...args)) : u64r(fn64(sf, name)(...args));
    const arg = (x: bigint): number | bigint => (is32 ? n32(x) : x);
    const z: bigint = 0n;

    const bin = (
      name: string,
      code: number,
      kind: "add" | "mul" | "div" | "cmp",
      rm = true,
    ): void => {
      ops.push({
        name: `${S}${name}`,
        code: base + code,
        out: f,
        rm,
        gen: (g) => [...g.pair(f, kind), z] as Vec,
        call: (sf, v, m) =>
          fres(sf, `${S}${name}`, rm ? [arg(v[0]), arg(v[1]), m] : [arg(v[0]), arg(v[1])]),
      });
    };
    bin("Add", 0, "add");
    bin("Sub", 1, "add");
    bin("Mul", 2, "mul");
    bin("Div", 3, "div");
    ops.push({
      name: `${S}Sqrt`,
      code: base + 4,
      out: f,
      rm: true,
      gen: (g) => [g.sqrtArg(f), z, z],
      call: (sf, v, m) => fres(sf, `${S}Sqrt`, [arg(v[0]), m]),
    });
    // fmadd, fmsub, fnmsub, fnmadd: the CPU negates inputs and calls MulAdd
    const fma = (name: string, code: number, negA: boolean, negC: boolean): void => {
      ops.push({
        name,
        code: base + code,
        out: f,
        rm: true,
        gen: (g) => g.triple(f),
        call: (sf, v, m) =>
          fres(sf, `${S}MulAdd`, [
            arg(negA ? v[0] ^ sb : v[0]),
            arg(v[1]),
            arg(negC ? v[2] ^ sb : v[2]),
            m,
          ]),
      });
    };
    fma(`${S}MulAdd`, 5, false, false);
    fma(`${S}MulAdd(fmsub)`, 6, false, true);
    fma(`${S}MulAdd(fnmsub)`, 7, true, false);
    fma(`${S}MulAdd(fnmadd)`, 8, true, true);
    bin("Min", 9, "cmp", false);
    bin("Max", 10, "cmp", false);
    for (const [name, code] of [
      ["Eq", 11],
      ["Lt", 12],
      ["Le", 13],
    ] as const) {
      ops.push({
        name: `${S}${name}`,
        code: base + code,
        rm: false,
        gen: (g) => [...g.pair(f, "cmp"), z] as Vec,
        call: (sf, v) => u32r(fn32(sf, `${S}${name}`)(arg(v[0]), arg(v[1]))),
      });
    }
    ops.push({
      name: `${S}Class`,
      code: base + 14,
      rm: false,
      gen: (g) => [g.float(f), z, z],
      call: (sf, v) => u32r(fn32(sf, `${S}Class`)(arg(v[0]))),
    });
    if (is32) {
      ops.push({
        name: "f32ToF64",
        code: 15,
        out: F64,
        rm: false,
        gen: (g) => [g.float(F32), z, z],
        call: (sf, v) => u64r(fn64(sf, "f32ToF64")(n32(v[0]))),
      });
    } else {
      ops.push({
        name: "f64ToF32",
        code: D + 15,
        out: F32,
        rm: true,
        gen: (g) => {
          const r = g.rng;
          const c = r.int(8);
          if (c < 4) return [g.float(F64), z, z];
          if (c < 6) {
            // binary64 values near binary32 boundaries: extremes, subnormals, ties
            const e = r.pick([1023 - 126, 1023 - 150, 1023 + 127, 1023]) + r.range(-26, 3);
            return [mkF(F64, r.int(2), e, g.frac(F64)), z, z];
          }
          // just below 2^-126 and 2^128: tininess after rounding, rounding into overflow
          const e = r.chance(0.7) ? 1023 - 127 : 1023 + 127;
          return [mkF(F64, r.int(2), e, mask(52) - r.bits(r.range(0, 32))), z, z];
        },
        call: (sf, v, m) => u32r(fn32(sf, "f64ToF32")(v[0], m)),
      });
    }
    const toInt: [string, number, boolean][] = [
      ["I32", 16, true],
      ["U32", 17, true],
      ["I64", 18, false],
      ["U64", 19, false],
    ];
    for (const [t, code, narrow] of toInt) {
      ops.push({
        name: `${S}To${t}`,
        code: base + code,
        rm: true,
        gen: (g) => [g.toIntArg(f), z, z],
        call: (sf, v, m) =>
          narrow
            ? s32r(fn32(sf, `${S}To${t}`)(arg(v[0]), m))
            : u64r(fn64(sf, `${S}To${t}`)(arg(v[0]), m)),
      });
    }
    const fromInt: [string, number, 32 | 64, boolean][] = [
      ["i32", 20, 32, true],
      ["u32", 21, 32, false],
      ["i64", 22, 64, true],
      ["u64", 23, 64, false],
    ];
    for (const [t, code, w, signed] of fromInt) {
      const exact = !is32 && w === 32; // fcvt.d.w[u] cannot round
      ops.push({
        name: `${t}To${is32 ? "F32" : "F64"}`,
        code: base + code,
        out: f,
        rm: !exact,
        // the oracle gets 32-bit integers sign-extended, as they sit in a register
        gen: (g) => {
          const v = g.intArg(w, signed, f);
          return [w === 32 ? sext32(v) : v, z, z];
        },
        call: (sf, v, m) =>
          fres(sf, `${t}To${is32 ? "F32" : "F64"}`, [w === 32 ? n32(v[0]) : v[0], m]),
      });
    }
  }
  return ops;
}

// ---------------------------------------------------------------------------------------
// Running the oracle

const REC_IN = 32;
const REC_OUT = 16;

interface Batch {
  op: OpDef[];
  rm: Uint8Array;
  vec: Vec[];
}

function generate(ops: OpDef[], perOp: number, seed: number): Batch {
  const g = new Gen(new Rng(seed));
  const batch: Batch = {
    op: [],
    rm: new Uint8Array(ops.length * perOp),
    vec: [],
  };
  let i = 0;
  for (const op of ops) {
    for (let k = 0; k < perOp; k++, i++) {
      batch.op.push(op);
      batch.rm[i] = op.rm ? k % 5 : 0;
      batch.vec.push(op.gen(g));
    }
  }
  return batch;
}

function runOracle(oracle: string, b: Batch): { res: BigUint64Array; flags: Uint8Array } {
  const n = b.vec.length;
  const input = Buffer.alloc(n * REC_IN);
  for (let i = 0; i < n; i++) {
    const o = i * REC_IN;
    const v = b.vec[i]!;
    input.writeUInt32LE(b.op[i]!.code, o);
    input.writeUInt32LE(b.rm[i]!, o + 4);
    input.writeBigUInt64LE(v[0], o + 8);
    input.writeBigUInt64LE(v[1], o + 16);
    input.writeBigUInt64LE(v[2], o + 24);
  }
  const p = spawnSync(QEMU, [oracle], { input, maxBuffer: n * REC_OUT + 1024 });
  if (p.error) throw p.error;
  if (p.status !== 0)
    throw new Error(`oracle exited with status ${p.status}: ${p.stderr.toString()}`);
  const out = p.stdout;
  if (out.length !== n * REC_OUT)
    throw new Error(`oracle returned ${out.length} bytes, expected ${n * REC_OUT}`);
  const res = new BigUint64Array(n);
  const flags = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    res[i] = out.readBigUInt64LE(i * REC_OUT);
    flags[i] = Number(out.readBigUInt64LE(i * REC_OUT + 8));
  }
  return { res, flags };
}

const RM_NAMES = ["rne", "rtz", "rdn", "rup", "rmm"];
const hex = (x: bigint): string => "0x" + x.toString(16);
function flagStr(f: number): string {
  const names = ["NX", "UF", "OF", "DZ", "NV"];
  const s = names.filter((_, i) => f & (1 << i)).reverse();
  return s.length ? s.join("|") : "-";
}

// ---------------------------------------------------------------------------------------
// Tests

test("softfloat: production build uses no memory, data or imports besides env.memory", async () => {
  const built = await build();
  const mod = new WebAssembly.Module(built.prodWasm);
  const imports = WebAssembly.Module.imports(mod).map((i) => `${i.module}.${i.name}:${i.kind}`);
  assert.deepEqual(imports, ["env.memory:memory"]);
  // walk the sections: no data (11) or data count (12) section may exist
  const bytes = built.prodWasm;
  let p = 8;
  const sections: number[] = [];
  while (p < bytes.length) {
    const id = bytes[p++]!;
    let size = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[p++]!;
      size |= (b & 0x7f) << shift;
      shift += 7;
      if (!(b & 0x80)) break;
    }
    sections.push(id);
    p += size;
  }
  assert.ok(!sections.includes(11), "production softfloat has a data section");
  assert.ok(!sections.includes(12), "production softfloat has a data count section");
  const names = WebAssembly.Module.exports(mod).map((e) => e.name);
  for (const want of ["sfFlags", "f32MulAdd", "f64MulAdd", "f64ToU64", "u64ToF32", "f64Class"]) {
    assert.ok(names.includes(want), `production softfloat does not export ${want}`);
  }
});

test("softfloat: hand-checked values", async () => {
  const { exports: sf } = await build();
  const flags = sf.sfFlags;
  const check = (what: string, got: bigint, want: bigint, wantFlags: number): void => {
    assert.equal(hex(got), hex(want), `${what}: result`);
    assert.equal(flagStr(flags.value as number), flagStr(wantFlags), `${what}: flags`);
    flags.value = 0;
  };
  flags.value = 0;
  check(
    "1+2",
    u64r(fn64(sf, "f64Add")(0x3ff0000000000000n, 0x4000000000000000n, 0)),
    0x4008000000000000n,
    0,
  );
  check("1/3 rne", u32r(fn32(sf, "f32Div")(0x3f800000, 0x40400000, 0)), 0x3eaaaaabn, 0x01);
  check("1/3 rtz", u32r(fn32(sf, "f32Div")(0x3f800000, 0x40400000, 1)), 0x3eaaaaaan, 0x01);
  check("1/0", u64r(fn64(sf, "f64Div")(0x3ff0000000000000n, 0n, 0)), 0x7ff0000000000000n, 0x08);
  check("0/0", u64r(fn64(sf, "f64Div")(0n, 0n, 0)), 0x7ff8000000000000n, 0x10);
  check(
    "max*2 rtz",
    u64r(fn64(sf, "f64Mul")(0x7fefffffffffffffn, 0x4000000000000000n, 1)),
    0x7fefffffffffffffn,
    0x05,
  );
  check("minsub/2 rup", u32r(fn32(sf, "f32Mul")(1, 0x3f000000, 3)), 1n, 0x03);
  check("sqrt(-1)", u64r(fn64(sf, "f64Sqrt")(0xbff0000000000000n, 0)), 0x7ff8000000000000n, 0x10);
  check("sqrt(4)", u32r(fn32(sf, "f32Sqrt")(0x40800000, 2)), 0x40000000n, 0);
  check("fcvt.w.s(-2.5) rne", s32r(fn32(sf, "f32ToI32")(0xc0200000, 0)), u64r(-2n), 0x01);
  check("fcvt.wu.d(-1)", s32r(fn32(sf, "f64ToU32")(0xbff0000000000000n, 0)), 0n, 0x10);
  check(
    "fcvt.l.d(NaN)",
    u64r(fn64(sf, "f64ToI64")(0x7ff8000000000000n, 0)),
    0x7fffffffffffffffn,
    0x10,
  );
  check("fmin(qNaN, -0)", u32r(fn32(sf, "f32Min")(0x7fc00000, 0x80000000)), 0x80000000n, 0);
  check("fmax(sNaN, 1)", u32r(fn32(sf, "f32Max")(0x7f800001, 0x3f800000)), 0x3f800000n, 0x10);
  check(
    "fma(inf, 0, qNaN)",
    u64r(fn64(sf, "f64MulAdd")(0x7ff0000000000000n, 0n, 0x7ff8000000000000n, 0)),
    0x7ff8000000000000n,
    0x10,
  );
  check("fclass(-subnormal)", u32r(fn32(sf, "f32Class")(0x80000001)), 4n, 0);
  check(
    "u64 max -> f32 rtz",
    u32r(fn32(sf, "u64ToF32")(0xffffffffffffffffn, 1)),
    0x5f7fffffn,
    0x01,
  );
});

test("softfloat matches RISC-V F/D (qemu-riscv64) in every rounding mode", async (t) => {
  const built = await build();
  const sf = built.exports;
  const ops = buildOps();
  const t0 = Date.now();
  const batch = generate(ops, VECTORS_PER_OP, SEED);
  const t1 = Date.now();
  const oracle = runOracle(built.oracle, batch);
  const t2 = Date.now();
  const flags = sf.sfFlags;

  interface Miss {
    rm: number;
    v: Vec;
    want: bigint;
    wantF: number;
    got: bigint;
    gotF: number;
  }
  const misses = new Map<OpDef, Miss[]>();
  const missCount = new Map<OpDef, number>();
  // coverage: per op, how often the oracle raised each flag, and how many results were
  // subnormal or a rounded-to-min-normal boundary case with / without UF
  const stats = new Map<OpDef, number[]>();
  let total = 0;
  for (let i = 0; i < batch.vec.length; i++) {
    const op = batch.op[i]!;
    const rm = batch.rm[i]!;
    const v = batch.vec[i]!;
    let st = stats.get(op);
    if (!st) stats.set(op, (st = [0, 0, 0, 0, 0, 0, 0, 0, 0]));
    const wf = oracle.flags[i]!;
    for (let k = 0; k < 5; k++) if (wf & (1 << k)) st[k]!++;
    if (op.out) {
      const m = oracle.res[i]! & ~signBit(op.out);
      const minNormal = 1n << BigInt(op.out.fracBits);
      if (m !== 0n && m < minNormal) st[5]!++;
      if (m === minNormal && wf & 1) st[wf & 2 ? 6 : 7]!++;
    }
    flags.value = 0;
    const got = op.call(sf, v, rm);
    const gotF = flags.value as number;
    total++;
    if (got !== oracle.res[i] || gotF !== oracle.flags[i]) {
      missCount.set(op, (missCount.get(op) ?? 0) + 1);
      const list = misses.get(op) ?? [];
      if (list.length < 8)
        list.push({
          rm,
          v,
          want: oracle.res[i]!,
          wantF: oracle.flags[i]!,
          got,
          gotF,
        });
      misses.set(op, list);
    }
  }
  const t3 = Date.now();
  t.diagnostic(
    `${total} vectors over ${ops.length} ops (seed ${SEED}): generate ${t1 - t0} ms, ` +
      `qemu ${t2 - t1} ms, wasm+compare ${t3 - t2} ms; mismatches ${[...missCount.values()].reduce((a, b) => a + b, 0)}`,
  );

  if (process.env.SOFTFLOAT_STATS) {
    for (const op of ops) {
      const st = stats.get(op)!;
      const pct = (k: number): string => ((100 * st[k]!) / VECTORS_PER_OP).toFixed(1) + "%";
      t.diagnostic(
        `${op.name}: NX ${pct(0)} UF ${pct(1)} OF ${pct(2)} DZ ${pct(3)} NV ${pct(4)}` +
          (op.out
            ? `; subnormal results ${st[5]}, rounded to min normal: tiny ${st[6]} / not tiny ${st[7]}`
            : ""),
      );
    }
  }

  for (const op of ops) {
    await t.test(op.name, () => {
      const list = misses.get(op);
      if (!list) return;
      const arity = op.name.includes("MulAdd") ? 3 : /Sqrt|Class|To|^[iu]\d/.test(op.name) ? 1 : 2;
      const lines = list.map(
        (m) =>
          `  ${op.rm ? RM_NAMES[m.rm] : "   "} (${m.v.slice(0, arity).map(hex).join(", ")}): ` +
          `riscv ${hex(m.want)} ${flagStr(m.wantF)}, softfloat ${hex(m.got)} ${flagStr(m.gotF)}`,
      );
      assert.fail(
        `${op.name}: ${missCount.get(op)} of ${VECTORS_PER_OP} vectors differ from the RISC-V oracle; first ones:\n` +
          lines.join("\n"),
      );
    });
  }
});

test("softfloat: speed of f64 add/mul inside wasm", async (t) => {
  const { exports: sf } = await build();
  const n = 2_000_000;
  for (const [name, fn] of [
    ["f64Add", "benchF64Add"],
    ["f64Mul", "benchF64Mul"],
  ] as const) {
    for (const rm of [0, 1]) {
      const f = fn64(sf, fn);
      f(10000, 0x3ff3c0ca428c59fbn, 0x400921fb54442d18n, rm); // warm up
      const s = process.hrtime.bigint();
      f(n, 0x3ff3c0ca428c59fbn, 0x400921fb54442d18n, rm);
      const ns = Number(process.hrtime.bigint() - s);
      t.diagnostic(`${name} ${RM_NAMES[rm]}: ${((n / ns) * 1e3).toFixed(1)} M ops/s`);
    }
  }
});
