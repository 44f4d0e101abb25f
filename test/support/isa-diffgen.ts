// Random RV64IMAFDC instruction sequences for differential testing (moat vs
// QEMU).  Everything is derived from a seed, so a failing seed reproduces.
//
// One program holds one "segment" per seed.  A segment
//   - loads x1, x3..x31 and f0..f31 with random "interesting" values, sets
//     sp (x2) to the middle of its own 1 KiB scratch buffer (random
//     contents), sets a random frm (0..4) and fflags;
//   - runs a few hundred random instructions: integer ALU and M ops, loads
//     and stores on the scratch buffer (naturally aligned, so nothing traps),
//     AMOs and LR/SC pairs on it, F/D arithmetic with random static rounding
//     modes or the dynamic one, FMA, sign injection, min/max, compares,
//     classify, every conversion, FP moves, frm changes, compressed
//     instructions (explicit c.* forms and assembler compression under
//     `.option rvc`), short forward branches, JAL/JALR over a few
//     instructions;
//   - dumps x1..x31, f0..f31, fcsr and a checksum of the scratch buffer as
//     hex lines after a "== seed N" header.
// Not generated, because results may legitimately differ between two
// correct implementations: misaligned accesses, counters (cycle/time/
// instret), traps, LR/SC forms whose outcome is implementation-defined (SC
// to another address than the LR within the reservation set, stores between
// LR and SC), frm values 5..7.
// On request (SegmentOptions, for moat's tier-against-tier test) segments
// also hold self-modifying code, traps and CSR writes: isa-diffgen-extra.ts.

import {
  genCsr,
  genSelfModifying,
  genTrap,
  trapCountLines,
  type ExtraGen,
} from "./isa-diffgen-extra.js";

const M64 = (1n << 64n) - 1n;

/** Small deterministic PRNG (splitmix32 seeding + mulberry32). */
export class Rng {
  private s: number;
  constructor(seed: number) {
    let z = (seed >>> 0) + 0x9e3779b9;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    this.s = (z ^ (z >>> 16)) >>> 0;
  }
  u32(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** integer in [lo, hi] */
  int(lo: number, hi: number): number {
    return lo + (this.u32() % (hi - lo + 1));
  }
  u64(): bigint {
    return (BigInt(this.u32()) << 32n) | BigInt(this.u32());
  }
  pick<T>(a: readonly T[]): T {
    return a[this.u32() % a.length]!;
  }
  chance(p: number): boolean {
    return this.u32() / 4294967296 < p;
  }
}

const hex64 = (v: bigint) => "0x" + (v & M64).toString(16).padStart(16, "0");

const XREGS = Array.from({ length: 32 }, (_, i) => `x${i}`);
/** Registers a random instruction may write: everything but x0 and sp. */
const WRITABLE = XREGS.filter((r) => r !== "x0" && r !== "x2");
/** x8..x15: the registers compressed instructions can name with 3 bits. */
const CREGS = ["x8", "x9", "x10", "x11", "x12", "x13", "x14", "x15"];
const FREGS = Array.from({ length: 32 }, (_, i) => `f${i}`);
const FCREGS = ["f8", "f9", "f10", "f11", "f12", "f13", "f14", "f15"];
const RMS = ["rne", "rtz", "rdn", "rup", "rmm", "dyn", ""];

const INTERESTING_X: bigint[] = [
  0n,
  1n,
  2n,
  3n,
  5n,
  7n,
  0x7ffn,
  0x800n,
  31n,
  32n,
  63n,
  64n,
  M64,
  M64 - 1n,
  M64 - 4n,
  0x7fffffffffffffffn,
  0x8000000000000000n,
  0x8000000000000001n,
  0x7fffffffn,
  0x80000000n,
  0xffffffffn,
  0x100000000n,
  0xffffffff80000000n,
  0xffffffff7fffffffn,
  0x00000000ffff0000n,
  0x8000n,
  0xffffffffffff8000n,
];

const D = (x: number) => {
  const b = new DataView(new ArrayBuffer(8));
  b.setFloat64(0, x, true);
  return b.getBigUint64(0, true);
};
const S = (x: number) => {
  const b = new DataView(new ArrayBuffer(4));
  b.setFloat32(0, x, true);
  return BigInt(b.getUint32(0, true));
};
const boxS = (bits: bigint) => 0xffffffff00000000n | (bits & 0xffffffffn);

const INTERESTING_D: bigint[] = [
  0n,
  1n << 63n,
  D(1),
  D(-1),
  D(0.5),
  D(1.5),
  D(2.5),
  D(-2.5),
  D(3),
  D(1 / 3),
  D(-0.1),
  D(10),
  D(2 ** 31),
  D(-(2 ** 31)),
  D(2 ** 31 - 0.5),
  D(2 ** 32),
  D(2 ** 32 - 0.5),
  D(2 ** 63),
  D(-(2 ** 63)),
  D(2 ** 64),
  D(1e300),
  D(-1e-300),
  D(Math.PI),
  0x7ff0000000000000n,
  0xfff0000000000000n,
  0x7ff8000000000000n,
  0x7ff0000000000001n,
  0xfff8000000000123n,
  0x7ff4000000000000n,
  1n,
  0x000fffffffffffffn,
  0x0010000000000000n,
  0x8000000000000001n,
  0x7fefffffffffffffn,
  0xffefffffffffffffn,
  0x3ff0000000000001n,
];
const INTERESTING_S: bigint[] = [
  0n,
  0x80000000n,
  S(1),
  S(-1),
  S(0.5),
  S(1.5),
  S(2.5),
  S(-3.5),
  S(3),
  S(1 / 3),
  S(-0.1),
  S(100),
  S(2 ** 31),
  S(-(2 ** 31)),
  S(2 ** 32),
  S(2 ** 63),
  S(-(2 ** 63)),
  S(16777217),
  S(Math.E),
  0x7f800000n,
  0xff800000n,
  0x7fc00000n,
  0x7f800001n,
  0xffc00123n,
  0x7fa00000n,
  1n,
  0x007fffffn,
  0x00800000n,
  0x80000001n,
  0x7f7fffffn,
  0xff7fffffn,
  0x3f800001n,
];

function randX(r: Rng): bigint {
  const k = r.int(0, 9);
  if (k <= 4) return r.pick(INTERESTING_X);
  if (k === 5) return BigInt.asUintN(64, BigInt.asIntN(32, BigInt(r.u32())));
  if (k === 6) return BigInt.asUintN(64, BigInt(r.int(-2048, 2047)));
  return r.u64();
}

function randF(r: Rng): bigint {
  const k = r.int(0, 11);
  if (k <= 2) return r.pick(INTERESTING_D);
  if (k <= 5) return boxS(r.pick(INTERESTING_S));
  if (k === 6) return D((r.int(-100000, 100000) / 2 ** r.int(0, 20)) * (r.chance(0.5) ? 1 : 3));
  if (k === 7) return boxS(S(r.int(-100000, 100000) / 2 ** r.int(0, 12)));
  if (k === 8) return boxS(BigInt(r.u32()));
  if (k === 9) return BigInt(r.u32()); // not NaN-boxed: a single-precision op sees the canonical NaN
  return r.u64();
}

interface Gen {
  r: Rng;
  out: string[];
  label: number;
  prefix: string;
  rvc: boolean;
}

function rd(g: Gen): string {
  return g.r.chance(0.03) ? "x0" : g.r.pick(WRITABLE);
}
const rs = (g: Gen) => g.r.pick(XREGS);
const fr = (g: Gen) => g.r.pick(FREGS);
const emit = (g: Gen, s: string) => g.out.push("        " + s);
const newLabel = (g: Gen) => `.L${g.prefix}_${g.label++}`;
function withRm(g: Gen, s: string): string {
  const rm = g.r.pick(RMS);
  return rm ? `${s}, ${rm}` : s;
}

/** Offset from sp (x2) inside the [-512, 512) scratch buffer, aligned to size. */
function memOff(g: Gen, size: number): number {
  return g.r.int(-512 / size, 512 / size - 1) * size;
}

const ALU_RR = [
  "add",
  "sub",
  "sll",
  "slt",
  "sltu",
  "xor",
  "srl",
  "sra",
  "or",
  "and",
  "addw",
  "subw",
  "sllw",
  "srlw",
  "sraw",
];
const MUL_RR = [
  "mul",
  "mulh",
  "mulhsu",
  "mulhu",
  "div",
  "divu",
  "rem",
  "remu",
  "mulw",
  "divw",
  "divuw",
  "remw",
  "remuw",
];
const LOADS: [string, number][] = [
  ["lb", 1],
  ["lh", 2],
  ["lw", 4],
  ["ld", 8],
  ["lbu", 1],
  ["lhu", 2],
  ["lwu", 4],
];
const STORES: [string, number][] = [
  ["sb", 1],
  ["sh", 2],
  ["sw", 4],
  ["sd", 8],
];
const AMOS = [
  "amoswap",
  "amoadd",
  "amoxor",
  "amoand",
  "amoor",
  "amomin",
  "amomax",
  "amominu",
  "amomaxu",
];
const ORDER = ["", ".aq", ".rl", ".aqrl"];

function genAlu(g: Gen): void {
  const r = g.r;
  switch (r.int(0, 5)) {
    case 0:
    case 1:
      emit(g, `${r.pick(ALU_RR)} ${rd(g)}, ${rs(g)}, ${rs(g)}`);
      break;
    case 2: {
      const op = r.pick(["addi", "slti", "sltiu", "xori", "ori", "andi", "addiw"]);
      emit(
        g,
        `${op} ${rd(g)}, ${rs(g)}, ${r.pick([r.int(-2048, 2047), r.int(-16, 16), -1, 0, 2047, -2048])}`,
      );
      break;
    }
    case 3: {
      const op = r.pick(["slli", "srli", "srai", "slliw", "srliw", "sraiw"]);
      emit(g, `${op} ${rd(g)}, ${rs(g)}, ${op.endsWith("w") ? r.int(0, 31) : r.int(0, 63)}`);
      break;
    }
    case 4:
      emit(
        g,
        `${r.pick(["lui", "auipc"])} ${rd(g)}, ${r.pick([r.int(0, 0xfffff), 0x80000, 0x7ffff, 0xfffff, 0])}`,
      );
      break;
    default:
      emit(g, `${r.pick(MUL_RR)} ${rd(g)}, ${rs(g)}, ${rs(g)}`);
  }
}

function genMem(g: Gen): void {
  const r = g.r;
  const k = r.int(0, 5);
  if (k <= 1) {
    const [op, size] = r.pick(LOADS);
    emit(g, `${op} ${rd(g)}, ${memOff(g, size)}(sp)`);
  } else if (k === 2) {
    const [op, size] = r.pick(STORES);
    emit(g, `${op} ${rs(g)}, ${memOff(g, size)}(sp)`);
  } else if (k === 3) {
    // through another base register
    const base = r.pick(WRITABLE);
    const size = r.pick([1, 2, 4, 8]);
    const a = r.int(-32, 31) * 8;
    const b = memOff(g, size) - a;
    if (b < -2048 || b > 2047 || a + b < -512 || a + b > 512 - size) return;
    emit(g, `addi ${base}, sp, ${a}`);
    if (r.chance(0.5)) {
      const [op] = r.pick(LOADS.filter(([, s]) => s === size));
      emit(g, `${op} ${rd(g)}, ${b}(${base})`);
    } else {
      const [op] = r.pick(STORES.filter(([, s]) => s === size));
      emit(g, `${op} ${rs(g)}, ${b}(${base})`);
    }
  } else if (k === 4) {
    const d = r.chance(0.5);
    emit(g, `${d ? "fld" : "flw"} ${fr(g)}, ${memOff(g, d ? 8 : 4)}(sp)`);
  } else {
    const d = r.chance(0.5);
    emit(g, `${d ? "fsd" : "fsw"} ${fr(g)}, ${memOff(g, d ? 8 : 4)}(sp)`);
  }
}

function genAtomic(g: Gen): void {
  const r = g.r;
  const w = r.chance(0.5) ? "w" : "d";
  const size = w === "w" ? 4 : 8;
  const addr = r.pick(WRITABLE);
  emit(g, `addi ${addr}, sp, ${memOff(g, size)}`);
  if (r.chance(0.75)) {
    emit(g, `${r.pick(AMOS)}.${w}${r.pick(ORDER)} ${rd(g)}, ${rs(g)}, (${addr})`);
    return;
  }
  // LR/SC on the same address with only register ops in between: the SC
  // must succeed; a second SC must fail (the first one consumed the
  // reservation).
  const notAddr = () => {
    let x: string;
    do x = rd(g);
    while (x === addr);
    return x;
  };
  emit(g, `lr.${w}${r.pick(ORDER)} ${notAddr()}, (${addr})`);
  for (let i = r.int(0, 2); i > 0; i--)
    emit(g, `${r.pick(ALU_RR)} ${notAddr()}, ${rs(g)}, ${rs(g)}`);
  emit(g, `sc.${w}${r.pick(ORDER)} ${notAddr()}, ${rs(g)}, (${addr})`);
  if (r.chance(0.3)) emit(g, `sc.${w} ${rd(g)}, ${rs(g)}, (${addr})`);
}

function genFp(g: Gen): void {
  const r = g.r;
  const p = r.chance(0.5) ? "d" : "s";
  switch (r.int(0, 9)) {
    case 0:
    case 1:
      emit(
        g,
        withRm(g, `${r.pick(["fadd", "fsub", "fmul", "fdiv"])}.${p} ${fr(g)}, ${fr(g)}, ${fr(g)}`),
      );
      break;
    case 2:
      emit(g, withRm(g, `fsqrt.${p} ${fr(g)}, ${fr(g)}`));
      break;
    case 3:
      emit(
        g,
        withRm(
          g,
          `${r.pick(["fmadd", "fmsub", "fnmsub", "fnmadd"])}.${p} ${fr(g)}, ${fr(g)}, ${fr(g)}, ${fr(g)}`,
        ),
      );
      break;
    case 4:
      emit(
        g,
        `${r.pick(["fsgnj", "fsgnjn", "fsgnjx", "fmin", "fmax"])}.${p} ${fr(g)}, ${fr(g)}, ${fr(g)}`,
      );
      break;
    case 5:
      emit(g, `${r.pick(["feq", "flt", "fle"])}.${p} ${rd(g)}, ${fr(g)}, ${fr(g)}`);
      if (r.chance(0.3)) emit(g, `fclass.${p} ${rd(g)}, ${fr(g)}`);
      break;
    case 6: {
      const t = r.pick(["w", "wu", "l", "lu"]);
      emit(g, withRm(g, `fcvt.${t}.${p} ${rd(g)}, ${fr(g)}`));
      break;
    }
    case 7: {
      const t = r.pick(["w", "wu", "l", "lu"]);
      const s = `fcvt.${p}.${t} ${fr(g)}, ${rs(g)}`;
      emit(g, p === "d" && (t === "w" || t === "wu") ? s : withRm(g, s)); // exact: no rm operand
      break;
    }
    case 8:
      if (r.chance(0.5)) emit(g, withRm(g, `fcvt.s.d ${fr(g)}, ${fr(g)}`));
      else emit(g, `fcvt.d.s ${fr(g)}, ${fr(g)}`);
      break;
    default:
      switch (r.int(0, 5)) {
        case 0:
          emit(g, `fmv.x.w ${rd(g)}, ${fr(g)}`);
          break;
        case 1:
          emit(g, `fmv.w.x ${fr(g)}, ${rs(g)}`);
          break;
        case 2:
          emit(g, `fmv.x.d ${rd(g)}, ${fr(g)}`);
          break;
        case 3:
          emit(g, `fmv.d.x ${fr(g)}, ${rs(g)}`);
          break;
        case 4:
          emit(g, `fsrmi ${r.int(0, 4)}`);
          break;
        default:
          emit(
            g,
            r.pick([
              `frflags ${rd(g)}`,
              `fsflagsi ${r.int(0, 31)}`,
              `frcsr ${rd(g)}`,
              `frrm ${rd(g)}`,
            ]),
          );
      }
  }
}

const nz = (g: Gen, lo: number, hi: number) => {
  let v: number;
  do v = g.r.int(lo, hi);
  while (v === 0);
  return v;
};

function genCompressed(g: Gen): void {
  const r = g.r;
  const cr = () => r.pick(CREGS);
  const xr = () => r.pick(WRITABLE);
  const lines: string[] = [];
  switch (r.int(0, 13)) {
    case 0:
      lines.push(`c.addi ${xr()}, ${nz(g, -32, 31)}`, `c.addiw ${xr()}, ${r.int(-32, 31)}`);
      break;
    case 1:
      lines.push(
        `c.li ${xr()}, ${r.int(-32, 31)}`,
        `c.lui ${r.pick(WRITABLE)}, ${r.pick([nz(g, 1, 31), r.int(0xfffe0, 0xfffff)])}`,
      );
      break;
    case 2:
      lines.push(
        `c.slli ${xr()}, ${r.int(1, 63)}`,
        `c.${r.pick(["srli", "srai"])} ${cr()}, ${r.int(1, 63)}`,
      );
      break;
    case 3:
      lines.push(`c.andi ${cr()}, ${r.int(-32, 31)}`);
      break;
    case 4:
      lines.push(`c.mv ${xr()}, ${r.pick(WRITABLE)}`, `c.add ${xr()}, ${r.pick(WRITABLE)}`);
      break;
    case 5:
      lines.push(`c.${r.pick(["sub", "xor", "or", "and", "subw", "addw"])} ${cr()}, ${cr()}`);
      break;
    case 6: {
      // c.lw / c.ld / c.sw / c.sd / c.fld / c.fsd through a 3-bit base register
      const base = cr();
      const a = r.int(-64, 32) * 8; // base = sp + a, a + [0, 248] stays in the buffer
      const [op, size, reg] = r.pick([
        ["c.lw", 4, cr()],
        ["c.ld", 8, cr()],
        ["c.sw", 4, cr()],
        ["c.sd", 8, cr()],
        ["c.fld", 8, r.pick(FCREGS)],
        ["c.fsd", 8, r.pick(FCREGS)],
      ] as const);
      const off = r.int(0, (size === 4 ? 124 : 248) / size) * size;
      if (a + off > 512 - size) return;
      emit(g, `addi ${base}, sp, ${a}`);
      lines.push(`${op} ${reg}, ${off}(${base})`);
      break;
    }
    case 7: {
      const [op, size, reg] = r.pick([
        ["c.lwsp", 4, xr()],
        ["c.ldsp", 8, xr()],
        ["c.swsp", 4, rs(g)],
        ["c.sdsp", 8, rs(g)],
        ["c.fldsp", 8, fr(g)],
        ["c.fsdsp", 8, fr(g)],
      ] as const);
      const max = op === "c.lwsp" || op === "c.swsp" ? 252 : 504;
      const off = r.int(0, Math.min(max, 512 - size) / size) * size;
      lines.push(`${op} ${reg}, ${off}(sp)`);
      break;
    }
    case 8: {
      const n = nz(g, -31, 31) * 16;
      lines.push(
        `c.addi4spn ${cr()}, sp, ${r.int(1, 255) * 4}`,
        `c.addi16sp sp, ${n}`,
        `c.addi16sp sp, ${-n}`,
      );
      break;
    }
    case 9: {
      const l = newLabel(g);
      lines.push(
        `c.${r.pick(["beqz", "bnez"])} ${cr()}, ${l}`,
        `c.addi ${xr()}, ${nz(g, -32, 31)}`,
        `c.${r.pick(["sub", "and"])} ${cr()}, ${cr()}`,
      );
      lines.push(`${l}:`);
      break;
    }
    case 10: {
      const l = newLabel(g);
      lines.push(`c.j ${l}`, `c.li ${xr()}, ${r.int(-32, 31)}`, `${l}:`);
      break;
    }
    default:
      // ordinary mnemonics: the assembler compresses what it can
      g.out.push("        .option rvc");
      for (let i = r.int(1, 4); i > 0; i--) {
        if (r.chance(0.5)) genAlu(g);
        else genMem(g);
      }
      g.out.push("        .option norvc");
      return;
  }
  g.out.push("        .option rvc");
  for (const l of lines) g.out.push(l.endsWith(":") ? l : "        " + l);
  g.out.push("        .option norvc");
}

function genControl(g: Gen): void {
  const r = g.r;
  const l = newLabel(g);
  const k = r.int(0, 3);
  if (k <= 1) {
    emit(g, `${r.pick(["beq", "bne", "blt", "bge", "bltu", "bgeu"])} ${rs(g)}, ${rs(g)}, ${l}`);
  } else if (k === 2) {
    emit(g, `jal ${rd(g)}, ${l}`);
  } else {
    // auipc + jalr over exactly one 4-byte instruction; odd offsets have
    // bit 0 cleared by jalr.
    const t = r.pick(WRITABLE);
    emit(g, `auipc ${t}, 0`);
    emit(g, `jalr ${rd(g)}, ${r.pick([12, 13])}(${t})`);
    emit(g, `addi ${rd(g)}, ${rs(g)}, ${r.int(-2048, 2047)}`);
    return;
  }
  for (let i = r.int(1, 3); i > 0; i--) genAlu(g);
  g.out.push(`${l}:`);
}

export interface SegmentOptions {
  /** Number of random instruction groups (default 300). */
  length?: number;
  /** Some groups rewrite code that runs again after a fence.i (isa-diffgen-extra.ts). */
  selfModifying?: boolean;
  /** Some groups trap (illegal instructions, faulting or misaligned accesses, ecall). */
  traps?: boolean;
  /** Some groups read and write CSRs (scratch, FP, mstatus.SIE, satp, medeleg). */
  csrWrites?: boolean;
}

/** Share of groups that are extra kinds, when any is asked for. */
const EXTRA_SHARE = 0.08;

function extraKinds(opts: SegmentOptions): ((g: ExtraGen) => void)[] {
  return [
    ...(opts.selfModifying ? [genSelfModifying] : []),
    ...(opts.traps ? [genTrap] : []),
    ...(opts.csrWrites ? [genCsr] : []),
  ];
}

/** Assembly of one segment (label `seg_<seed>`); falls through at the end. */
export function generateSegment(
  seed: number,
  opts: SegmentOptions = {},
): { text: string; data: string } {
  const r = new Rng(seed);
  const g: Gen = { r, out: [], label: 0, prefix: `s${seed}`, rvc: false };
  const name = `seg_${seed}`;
  const xinit = Array.from({ length: 32 }, () => randX(r));
  const finit = Array.from({ length: 32 }, () => randF(r));
  const buf = Array.from({ length: 128 }, () => (r.chance(0.2) ? r.pick(INTERESTING_X) : r.u64()));

  g.out.push(`// ---- seed ${seed}`, `${name}:`);
  emit(g, `la x1, ${name}_init`);
  for (let i = 0; i < 32; i++) emit(g, `fld f${i}, ${256 + 8 * i}(x1)`);
  for (let i = 3; i < 32; i++) emit(g, `ld x${i}, ${8 * i}(x1)`);
  emit(g, `la sp, ${name}_buf + 512`);
  emit(g, `fsrmi ${r.int(0, 4)}`);
  emit(g, `fsflagsi ${r.int(0, 31)}`);
  emit(g, `ld x1, 8(x1)`);

  const n = opts.length ?? 300;
  const extras = extraKinds(opts);
  const extraData: string[] = [];
  const eg: ExtraGen = {
    r,
    emit: (s) => emit(g, s),
    mark: (l) => g.out.push(`${l}:`),
    label: () => newLabel(g),
    data: extraData,
  };
  for (let i = 0; i < n; i++) {
    // Without extras no random number is drawn here: each seed's program stays what it was.
    if (extras.length > 0 && r.chance(EXTRA_SHARE)) {
      r.pick(extras)(eg);
      continue;
    }
    const k = r.int(0, 99);
    if (k < 24) genAlu(g);
    else if (k < 40) genMem(g);
    else if (k < 48) genAtomic(g);
    else if (k < 74) genFp(g);
    else if (k < 90) genCompressed(g);
    else genControl(g);
  }
  // Save every register (x31 via mscratch) before anything is clobbered.
  emit(g, "csrw mscratch, x31");
  emit(g, "la x31, dump_save");
  for (let i = 1; i < 31; i++) emit(g, `sd x${i}, ${8 * i}(x31)`);
  emit(g, "csrr x30, mscratch");
  emit(g, "sd x30, 248(x31)");
  for (let i = 0; i < 32; i++) emit(g, `fsd f${i}, ${256 + 8 * i}(x31)`);
  emit(g, "frcsr x30");
  emit(g, "sd x30, 512(x31)");
  emit(g, `la a0, ${name}_hdr`);
  emit(g, "call dump_print");

  const data = [
    `        .balign 8`,
    `${name}_init:`,
    ...xinit.map((v) => `        .dword ${hex64(v)}`),
    ...finit.map((v) => `        .dword ${hex64(v)}`),
    `${name}_buf:`,
    ...buf.map((v) => `        .dword ${hex64(v)}`),
    `${name}_hdr:`,
    `        .asciz "== seed ${seed}\\n"`,
    ...extraData,
  ];
  return { text: g.out.join("\n"), data: data.join("\n") };
}

/**
 * Prints the registers saved in dump_save by the end of a segment, plus a
 * checksum of the scratch buffer.  Entered with a0 = header string and sp =
 * scratch buffer + 512.
 */
function dumpRoutine(): string {
  const o: string[] = [];
  const e = (s: string) => o.push("        " + s);
  o.push("dump_print:");
  e("mv s0, ra");
  // checksum of the 1 KiB scratch buffer: h = rotl(h, 5) ^ word
  e("addi t0, sp, -512");
  e("li t1, 128");
  e("li a2, 0");
  o.push("1:");
  e("ld a3, 0(t0)");
  e("slli a4, a2, 5");
  e("srli a2, a2, 59");
  e("or a2, a2, a4");
  e("xor a2, a2, a3");
  e("addi t0, t0, 8");
  e("addi t1, t1, -1");
  e("bnez t1, 1b");
  e("la s1, dump_save");
  e("sd a2, 520(s1)");
  e("mv a1, a0");
  e("call t2, __puts"); // any distance (clobbers t1)
  const names = [
    ...XREGS.slice(1).map((x, i) => [x, 8 * (i + 1)] as const),
    ...FREGS.map((f, i) => [f, 256 + 8 * i] as const),
    ["fcsr", 512] as const,
    ["mem", 520] as const,
  ];
  for (const [nm, off] of names) {
    e(`la a1, dump_name_${nm}`);
    e("call t2, __puts"); // any distance (clobbers t1)
    e("la s1, dump_save");
    e(`ld a1, ${off}(s1)`);
    e("call t2, __puthex");
    e("li a0, '\\n'");
    e("call t3, __putc");
  }
  e("mv ra, s0");
  e("ret");
  o.push("        .section .rodata");
  for (const [nm] of names) o.push(`dump_name_${nm}: .asciz "${nm} "`);
  o.push("        .bss", "        .balign 8", "dump_save: .skip 528", "        .text");
  return o.join("\n");
}

/** A complete program: one segment per seed (with traps, then how many), then PASS. */
export function generateProgram(seeds: readonly number[], opts: SegmentOptions = {}): string {
  const segs = seeds.map((s) => generateSegment(s, opts));
  return [
    "// Generated by test/support/isa-diffgen.ts - differential test (moat vs QEMU).",
    `// Seeds: ${seeds.join(" ")}`,
    '#include "common.h"',
    ...segs.map((s) => s.text),
    ...(opts.traps ? trapCountLines() : []),
    "        PASS",
    "",
    dumpRoutine(),
    "",
    "        .data",
    ...segs.map((s) => s.data),
    "",
  ].join("\n");
}

/** Lines of the dump for each seed ("== seed N" header excluded). */
export function splitDump(output: string): Map<number, string[]> {
  const m = new Map<number, string[]>();
  let cur: string[] | undefined;
  for (const line of output.split("\n")) {
    const h = /^== seed (\d+)$/.exec(line);
    if (h) {
      cur = [];
      m.set(Number(h[1]), cur);
    } else if (cur && /^(x\d+|f\d+|fcsr|mem) [0-9a-f]{16}$/.test(line)) {
      cur.push(line);
    }
  }
  return m;
}

/** Number of lines a complete segment dump has. */
export const DUMP_LINES = 31 + 32 + 2;
