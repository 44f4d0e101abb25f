// Drives moat's WebAssembly CPU core (dist/cpu.wasm) directly in the calling thread, for unit
// tests: no workers, no VMM. One Hart = one instance of the core over its own shared memory,
// with a `now` import the test controls. Also: small instruction encoders (base formats, named
// RV64GC instructions and the compressed forms) and an Sv39/Sv48 page-table builder.
import { readFileSync } from "node:fs";
import type { CoreExports } from "../../src/accel/soft/core-exports.js";
import { RAM_OFFSET, SH_MIP, memoryPages, sharedBlock } from "../../src/accel/soft/layout.js";
import { createHartCore, type HartCore, type JitOptions } from "../../src/accel/soft/hart-core.js";
import { invalidateCodeRange } from "../../src/accel/soft/jit/code-versions.js";
import { DEFAULT_CPU_TIER, isCpuTier, type CpuTier } from "../../src/accel/soft/cpu-tier.js";

/** The tier harness harts run on: MOAT_CPU_TIER (interp or jit), else moat's default. */
export function harnessTier(): CpuTier {
  const t = process.env.MOAT_CPU_TIER;
  if (t === undefined || t === "") return DEFAULT_CPU_TIER;
  if (!isCpuTier(t)) throw new Error(`MOAT_CPU_TIER=${t}: not a CPU tier`);
  return t;
}

export const RAM_BASE = 0x8000_0000n;
/** Where tests put their code (the hart is reset here). */
export const CODE = RAM_BASE;
/** Where tests put an M-mode trap handler (usually just `j .`). */
export const HANDLER = RAM_BASE + 0x800n;

export const PRIV_U = 0;
export const PRIV_S = 1;
export const PRIV_M = 3;

// Register numbers.
export const ZERO = 0,
  RA = 1,
  SP = 2,
  GP = 3,
  TP = 4,
  T0 = 5,
  T1 = 6,
  T2 = 7,
  S0 = 8,
  S1 = 9;
export const A0 = 10,
  A1 = 11,
  A2 = 12,
  A3 = 13,
  A4 = 14,
  A5 = 15,
  A6 = 16,
  A7 = 17;
export const S2 = 18,
  S3 = 19,
  T3 = 28,
  T4 = 29,
  T5 = 30,
  T6 = 31;

export const U64 = (v: bigint): bigint => BigInt.asUintN(64, v);
export const S64 = (v: bigint): bigint => BigInt.asIntN(64, v);
export const hex = (v: bigint | number): string => "0x" + U64(BigInt(v)).toString(16);

let cachedModule: WebAssembly.Module | undefined;
/**
 * The compiled core: dist/cpu.wasm (this file is dist/test/support/core-harness.js), or the file
 * named by MOAT_CPU_WASM (to check a candidate or deliberately broken core against the tests).
 */
export function coreModule(): WebAssembly.Module {
  const file = process.env.MOAT_CPU_WASM ?? new URL("../../cpu.wasm", import.meta.url);
  cachedModule ??= new WebAssembly.Module(readFileSync(file));
  return cachedModule;
}

/** A 16-bit (compressed) instruction in a code listing. */
export class C16 {
  constructor(readonly half: number) {}
}
export type Insn = number | C16;

export class Hart {
  readonly memory: WebAssembly.Memory;
  readonly core: CoreExports;
  readonly ram: Uint8Array;
  private readonly dv: DataView;
  private readonly i32: Int32Array;
  /** What the core's `now` import returns: mtime in 10 MHz ticks. */
  ticks = 1000;

  /**
   * Hart 0 without SBI over a memory of its own, or with `over`, hart `over.hart` over another
   * Hart's memory: a second hart of the same machine.
   */
  readonly hartCore: HartCore;

  constructor(
    readonly ramBytes = 4 << 20,
    over?: { memory: WebAssembly.Memory; hart: number; sbi: boolean },
    tier: CpuTier = harnessTier(),
    /** On the jit tier: jumps that make an entry hot (default 1: every entry translated at once). */
    hot = 1,
    jit: JitOptions = {},
  ) {
    const pages = memoryPages(ramBytes);
    this.memory =
      over?.memory ?? new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    this.hartCore = createHartCore(coreModule(), this.memory, () => this.ticks, tier, { hot, ...jit });
    this.core = this.hartCore.core;
    this.ram = new Uint8Array(this.memory.buffer, RAM_OFFSET, ramBytes);
    this.dv = new DataView(this.memory.buffer, RAM_OFFSET, ramBytes);
    this.i32 = new Int32Array(this.memory.buffer);
    const hart = over?.hart ?? 0;
    if (!this.init(hart, over?.sbi ?? false, hart + 1)) throw new Error("core.init refused");
    this.reset();
  }

  /** (Re)initialises the core as hart `hart` of a machine of `harts` harts (core.init). */
  init(hart: number, sbi: boolean, harts: number): boolean {
    return this.hartCore.init(hart, RAM_BASE, BigInt(this.ramBytes), sbi, harts);
  }

  /** Resets the hart (registers zero, satp 0, mtvec 0) at `entry` in privilege `priv`. */
  reset(entry = CODE, priv = PRIV_M): void {
    this.core.reset(entry, priv, 0n, 0n, 0n);
  }

  private off(pa: bigint, len: number): number {
    const o = pa - RAM_BASE;
    if (o < 0n || o + BigInt(len) > BigInt(this.ramBytes))
      throw new Error(`harness: ${hex(pa)} outside RAM`);
    return Number(o);
  }
  /** Offset of a write of `len` bytes at `pa`: translations of its pages become stale, as
   * after a device's DMA (the VMM writes through GuestMemory, which does the same). */
  private woff(pa: bigint, len: number): number {
    const o = this.off(pa, len);
    invalidateCodeRange(this.i32, o, len);
    return o;
  }
  w8(pa: bigint, v: number): void {
    this.dv.setUint8(this.woff(pa, 1), v);
  }
  w16(pa: bigint, v: number): void {
    this.dv.setUint16(this.woff(pa, 2), v, true);
  }
  w32(pa: bigint, v: number): void {
    this.dv.setUint32(this.woff(pa, 4), v >>> 0, true);
  }
  w64(pa: bigint, v: bigint): void {
    this.dv.setBigUint64(this.woff(pa, 8), U64(v), true);
  }
  r8(pa: bigint): number {
    return this.dv.getUint8(this.off(pa, 1));
  }
  r32(pa: bigint): number {
    return this.dv.getUint32(this.off(pa, 4), true);
  }
  r64(pa: bigint): bigint {
    return this.dv.getBigUint64(this.off(pa, 8), true);
  }
  bytes(pa: bigint, len: number): Uint8Array {
    const o = this.off(pa, len);
    return this.ram.slice(o, o + len);
  }
  fill(pa: bigint, data: Uint8Array): void {
    this.ram.set(data, this.woff(pa, data.length));
  }

  /** Writes a listing (32-bit words and C16 halves) at `pa`; returns the address after it. */
  code(pa: bigint, insns: Insn[]): bigint {
    let a = pa;
    for (const i of insns) {
      if (i instanceof C16) {
        this.w16(a, i.half);
        a += 2n;
      } else {
        this.w32(a, i);
        a += 4n;
      }
    }
    return a;
  }

  /** Integer register `i` as an unsigned 64-bit value. */
  x(i: number): bigint {
    return U64(this.core.getReg(i));
  }
  setX(i: number, v: bigint): void {
    this.core.setReg(i, S64(v));
  }
  pc(): bigint {
    return U64(this.core.getPc());
  }
  priv(): number {
    return this.core.getPriv();
  }
  csr(n: number): bigint {
    return U64(this.core.debugCsr(n));
  }
  run(budget: number): number {
    return this.hartCore.run(budget);
  }
  /** The software-visible mip bits in this hart's cross-hart block. */
  mip(): number {
    return Atomics.load(this.i32, (sharedBlock(0) + SH_MIP) >> 2);
  }
  get haltCause(): bigint {
    return U64(this.core.haltCause.value as bigint);
  }
  get haltPc(): bigint {
    return U64(this.core.haltPc.value as bigint);
  }
  get haltTval(): bigint {
    return U64(this.core.haltTval.value as bigint);
  }
}

// ---- base instruction formats -----------------------------------------------------------------

const b = (v: number, hi: number, lo: number): number =>
  Math.floor(v / 2 ** lo) & (2 ** (hi - lo + 1) - 1);

export function rType(
  op: number,
  rd: number,
  f3: number,
  rs1: number,
  rs2: number,
  f7: number,
): number {
  return ((f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0;
}
export function iType(op: number, rd: number, f3: number, rs1: number, imm: number): number {
  return (((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0;
}
export function sType(op: number, f3: number, rs1: number, rs2: number, imm: number): number {
  return (
    ((b(imm & 0xfff, 11, 5) << 25) |
      (rs2 << 20) |
      (rs1 << 15) |
      (f3 << 12) |
      (b(imm & 0xfff, 4, 0) << 7) |
      op) >>>
    0
  );
}
export function bType(f3: number, rs1: number, rs2: number, imm: number): number {
  const i = imm & 0x1fff;
  return (
    ((b(i, 12, 12) << 31) |
      (b(i, 10, 5) << 25) |
      (rs2 << 20) |
      (rs1 << 15) |
      (f3 << 12) |
      (b(i, 4, 1) << 8) |
      (b(i, 11, 11) << 7) |
      0x63) >>>
    0
  );
}
/** `imm20` is the 20-bit value that lands in bits 31:12. */
export function uType(op: number, rd: number, imm20: number): number {
  return (((imm20 & 0xfffff) << 12) | (rd << 7) | op) >>> 0;
}
export function jType(rd: number, imm: number): number {
  const i = imm & 0x1fffff;
  return (
    ((b(i, 20, 20) << 31) |
      (b(i, 10, 1) << 21) |
      (b(i, 11, 11) << 20) |
      (b(i, 19, 12) << 12) |
      (rd << 7) |
      0x6f) >>>
    0
  );
}

type R3 = (rd: number, rs1: number, rs2: number) => number;
type RI = (rd: number, rs1: number, imm: number) => number;
const op =
  (f3: number, f7: number): R3 =>
  (rd, rs1, rs2) =>
    rType(0x33, rd, f3, rs1, rs2, f7);
const op32 =
  (f3: number, f7: number): R3 =>
  (rd, rs1, rs2) =>
    rType(0x3b, rd, f3, rs1, rs2, f7);
const opImm =
  (f3: number, hi = 0): RI =>
  (rd, rs1, imm) =>
    iType(0x13, rd, f3, rs1, imm | hi);
const opImm32 =
  (f3: number, hi = 0): RI =>
  (rd, rs1, imm) =>
    iType(0x1b, rd, f3, rs1, imm | hi);
const load =
  (f3: number): RI =>
  (rd, rs1, off) =>
    iType(0x03, rd, f3, rs1, off);
const store =
  (f3: number) =>
  (rs2: number, rs1: number, off: number): number =>
    sType(0x23, f3, rs1, rs2, off);
const branch =
  (f3: number) =>
  (rs1: number, rs2: number, off: number): number =>
    bType(f3, rs1, rs2, off);
const csrOp =
  (f3: number) =>
  (rd: number, csr: number, rs1: number): number =>
    iType(0x73, rd, f3, rs1, csr);
const amo =
  (f5: number, f3: number) =>
  (rd: number, rs1: number, rs2: number): number =>
    rType(0x2f, rd, f3, rs1, rs2, f5 << 2);
/** OP-FP with a rounding-mode field (7 = dynamic, from frm). */
const fpRm =
  (f7: number) =>
  (rd: number, rs1: number, rs2: number, rm = 7): number =>
    rType(0x53, rd, rm, rs1, rs2, f7);

/** Named instructions (RV64GC subset the tests need). */
export const I = {
  lui: (rd: number, imm20: number) => uType(0x37, rd, imm20),
  auipc: (rd: number, imm20: number) => uType(0x17, rd, imm20),
  jal: (rd: number, off: number) => jType(rd, off),
  j: (off: number) => jType(0, off),
  jalr: (rd: number, rs1: number, off: number) => iType(0x67, rd, 0, rs1, off),
  beq: branch(0),
  bne: branch(1),
  blt: branch(4),
  bge: branch(5),
  bltu: branch(6),
  bgeu: branch(7),
  lb: load(0),
  lh: load(1),
  lw: load(2),
  ld: load(3),
  lbu: load(4),
  lhu: load(5),
  lwu: load(6),
  sb: store(0),
  sh: store(1),
  sw: store(2),
  sd: store(3),
  addi: opImm(0),
  slti: opImm(2),
  sltiu: opImm(3),
  xori: opImm(4),
  ori: opImm(6),
  andi: opImm(7),
  slli: opImm(1),
  srli: opImm(5),
  srai: opImm(5, 0x400),
  add: op(0, 0),
  sub: op(0, 0x20),
  sll: op(1, 0),
  slt: op(2, 0),
  sltu: op(3, 0),
  xor: op(4, 0),
  srl: op(5, 0),
  sra: op(5, 0x20),
  or: op(6, 0),
  and: op(7, 0),
  mul: op(0, 1),
  mulh: op(1, 1),
  mulhsu: op(2, 1),
  mulhu: op(3, 1),
  div: op(4, 1),
  divu: op(5, 1),
  rem: op(6, 1),
  remu: op(7, 1),
  addiw: opImm32(0),
  slliw: opImm32(1),
  srliw: opImm32(5),
  sraiw: opImm32(5, 0x400),
  addw: op32(0, 0),
  subw: op32(0, 0x20),
  sllw: op32(1, 0),
  srlw: op32(5, 0),
  sraw: op32(5, 0x20),
  mulw: op32(0, 1),
  divw: op32(4, 1),
  divuw: op32(5, 1),
  remw: op32(6, 1),
  remuw: op32(7, 1),
  fence: 0x0ff0000f,
  fence_i: 0x0000100f,
  ecall: 0x00000073,
  ebreak: 0x00100073,
  mret: 0x30200073,
  sret: 0x10200073,
  wfi: 0x10500073,
  sfence_vma: (rs1: number, rs2: number) => rType(0x73, 0, 0, rs1, rs2, 0x09),
  csrrw: csrOp(1),
  csrrs: csrOp(2),
  csrrc: csrOp(3),
  csrrwi: csrOp(5),
  csrrsi: csrOp(6),
  csrrci: csrOp(7),
  csrr: (rd: number, csr: number) => iType(0x73, rd, 2, 0, csr),
  csrw: (csr: number, rs1: number) => iType(0x73, 0, 1, rs1, csr),
  csrs: (csr: number, rs1: number) => iType(0x73, 0, 2, rs1, csr),
  csrc: (csr: number, rs1: number) => iType(0x73, 0, 3, rs1, csr),
  lr_w: (rd: number, rs1: number) => rType(0x2f, rd, 2, rs1, 0, 0x02 << 2),
  lr_d: (rd: number, rs1: number) => rType(0x2f, rd, 3, rs1, 0, 0x02 << 2),
  sc_w: amo(0x03, 2),
  sc_d: amo(0x03, 3),
  amoswap_w: amo(0x01, 2),
  amoadd_w: amo(0x00, 2),
  amoadd_d: amo(0x00, 3),
  amoswap_d: amo(0x01, 3),
  amomax_d: amo(0x14, 3),
  amominu_w: amo(0x18, 2),
  fadd_s: fpRm(0x00),
  fadd_d: fpRm(0x01),
  fsub_d: fpRm(0x05),
  fmul_d: fpRm(0x09),
  fdiv_d: fpRm(0x0d),
  fdiv_s: fpRm(0x0c),
  fsqrt_d: (rd: number, rs1: number, rm = 7) => rType(0x53, rd, rm, rs1, 0, 0x2d),
  fmv_x_d: (rd: number, rs1: number) => rType(0x53, rd, 0, rs1, 0, 0x71),
  fmv_d_x: (rd: number, rs1: number) => rType(0x53, rd, 0, rs1, 0, 0x79),
  fmv_x_w: (rd: number, rs1: number) => rType(0x53, rd, 0, rs1, 0, 0x70),
  fmv_w_x: (rd: number, rs1: number) => rType(0x53, rd, 0, rs1, 0, 0x78),
  fclass_s: (rd: number, rs1: number) => rType(0x53, rd, 1, rs1, 0, 0x70),
  fld: (rd: number, rs1: number, off: number) => iType(0x07, rd, 3, rs1, off),
  flw: (rd: number, rs1: number, off: number) => iType(0x07, rd, 2, rs1, off),
  fsd: (rs2: number, rs1: number, off: number) => sType(0x27, 3, rs1, rs2, off),
  fsw: (rs2: number, rs1: number, off: number) => sType(0x27, 2, rs1, rs2, off),
  fsub_s: fpRm(0x04),
  fmul_s: fpRm(0x08),
  fsqrt_s: (rd: number, rs1: number, rm = 7) => rType(0x53, rd, rm, rs1, 0, 0x2c),
  fsgnjn_d: (rd: number, rs1: number, rs2: number) => rType(0x53, rd, 1, rs1, rs2, 0x11),
  fle_d: (rd: number, rs1: number, rs2: number) => rType(0x53, rd, 0, rs1, rs2, 0x51),
  flt_d: (rd: number, rs1: number, rs2: number) => rType(0x53, rd, 1, rs1, rs2, 0x51),
  feq_d: (rd: number, rs1: number, rs2: number) => rType(0x53, rd, 2, rs1, rs2, 0x51),
  fcvt_d_l: (rd: number, rs1: number, rm = 7) => rType(0x53, rd, rm, rs1, 2, 0x69),
  fcvt_l_d: (rd: number, rs1: number, rm = 1) => rType(0x53, rd, rm, rs1, 2, 0x61),
  fcvt_w_d: (rd: number, rs1: number, rm = 1) => rType(0x53, rd, rm, rs1, 0, 0x61),
  /** fmadd (op 0x43), fmsub (0x47), fnmsub (0x4b), fnmadd (0x4f); fmt 0 single, 1 double. */
  fma: (op: number, fmt: number, rd: number, rs1: number, rs2: number, rs3: number, rm = 7) =>
    (((rs3 << 27) | (fmt << 25) | (rs2 << 20) | (rs1 << 15) | (rm << 12) | (rd << 7) | op) >>> 0),
};

// CSR numbers.
export const CSR = {
  fflags: 0x001,
  frm: 0x002,
  fcsr: 0x003,
  sstatus: 0x100,
  sie: 0x104,
  stvec: 0x105,
  sepc: 0x141,
  scause: 0x142,
  stval: 0x143,
  satp: 0x180,
  mstatus: 0x300,
  misa: 0x301,
  medeleg: 0x302,
  mideleg: 0x303,
  mie: 0x304,
  mtvec: 0x305,
  mscratch: 0x340,
  mepc: 0x341,
  mcause: 0x342,
  mtval: 0x343,
  mip: 0x344,
  mcycle: 0xb00,
  minstret: 0xb02,
  cycle: 0xc00,
  instret: 0xc02,
  mvendorid: 0xf11,
  mhartid: 0xf14,
};

export const MSTATUS = {
  SIE: 1n << 1n,
  MIE: 1n << 3n,
  SPIE: 1n << 5n,
  MPIE: 1n << 7n,
  SPP: 1n << 8n,
  MPP_S: 1n << 11n,
  MPP_M: 3n << 11n,
  FS_INITIAL: 1n << 13n,
  FS: 3n << 13n,
  MPRV: 1n << 17n,
  SUM: 1n << 18n,
  MXR: 1n << 19n,
};

// ---- compressed (RVC) encoders, written from the spec's tables ----------------------------------

/** Places bits [hi:lo] of v at position `at`. */
const put = (v: number, hi: number, lo: number, at: number): number => b(v, hi, lo) << at;
const rp = (r: number): number => {
  if (r < 8 || r > 15) throw new Error(`x${r} is not a compressed register`);
  return r - 8;
};
const ci = (f3: number, opc: number, rd: number, imm6: number): C16 =>
  new C16((f3 << 13) | put(imm6 & 63, 5, 5, 12) | (rd << 7) | put(imm6 & 63, 4, 0, 2) | opc);

export const RVC = {
  addi4spn: (rd: number, imm: number) =>
    new C16(
      put(imm, 5, 4, 11) |
        put(imm, 9, 6, 7) |
        put(imm, 2, 2, 6) |
        put(imm, 3, 3, 5) |
        (rp(rd) << 2),
    ),
  fld: (rd: number, rs1: number, off: number) =>
    new C16((1 << 13) | put(off, 5, 3, 10) | (rp(rs1) << 7) | put(off, 7, 6, 5) | (rp(rd) << 2)),
  lw: (rd: number, rs1: number, off: number) =>
    new C16(
      (2 << 13) |
        put(off, 5, 3, 10) |
        (rp(rs1) << 7) |
        put(off, 2, 2, 6) |
        put(off, 6, 6, 5) |
        (rp(rd) << 2),
    ),
  ld: (rd: number, rs1: number, off: number) =>
    new C16((3 << 13) | put(off, 5, 3, 10) | (rp(rs1) << 7) | put(off, 7, 6, 5) | (rp(rd) << 2)),
  fsd: (rs2: number, rs1: number, off: number) =>
    new C16((5 << 13) | put(off, 5, 3, 10) | (rp(rs1) << 7) | put(off, 7, 6, 5) | (rp(rs2) << 2)),
  sw: (rs2: number, rs1: number, off: number) =>
    new C16(
      (6 << 13) |
        put(off, 5, 3, 10) |
        (rp(rs1) << 7) |
        put(off, 2, 2, 6) |
        put(off, 6, 6, 5) |
        (rp(rs2) << 2),
    ),
  sd: (rs2: number, rs1: number, off: number) =>
    new C16((7 << 13) | put(off, 5, 3, 10) | (rp(rs1) << 7) | put(off, 7, 6, 5) | (rp(rs2) << 2)),
  nop: () => new C16(0x0001),
  addi: (rd: number, imm: number) => ci(0, 1, rd, imm),
  addiw: (rd: number, imm: number) => ci(1, 1, rd, imm),
  li: (rd: number, imm: number) => ci(2, 1, rd, imm),
  /** `imm` is nzimm[17:12] as a 6-bit signed value. */
  lui: (rd: number, imm: number) => ci(3, 1, rd, imm),
  addi16sp: (imm: number) =>
    new C16(
      (3 << 13) |
        put(imm, 9, 9, 12) |
        (2 << 7) |
        put(imm, 4, 4, 6) |
        put(imm, 6, 6, 5) |
        put(imm, 8, 7, 3) |
        put(imm, 5, 5, 2) |
        1,
    ),
  srli: (rd: number, sh: number) =>
    new C16((4 << 13) | put(sh, 5, 5, 12) | (0 << 10) | (rp(rd) << 7) | put(sh, 4, 0, 2) | 1),
  srai: (rd: number, sh: number) =>
    new C16((4 << 13) | put(sh, 5, 5, 12) | (1 << 10) | (rp(rd) << 7) | put(sh, 4, 0, 2) | 1),
  andi: (rd: number, imm: number) =>
    new C16(
      (4 << 13) | put(imm & 63, 5, 5, 12) | (2 << 10) | (rp(rd) << 7) | put(imm & 63, 4, 0, 2) | 1,
    ),
  sub: (rd: number, rs2: number) => new C16(0x8c01 | (rp(rd) << 7) | (0 << 5) | (rp(rs2) << 2)),
  xor: (rd: number, rs2: number) => new C16(0x8c01 | (rp(rd) << 7) | (1 << 5) | (rp(rs2) << 2)),
  or: (rd: number, rs2: number) => new C16(0x8c01 | (rp(rd) << 7) | (2 << 5) | (rp(rs2) << 2)),
  and: (rd: number, rs2: number) => new C16(0x8c01 | (rp(rd) << 7) | (3 << 5) | (rp(rs2) << 2)),
  subw: (rd: number, rs2: number) => new C16(0x9c01 | (rp(rd) << 7) | (0 << 5) | (rp(rs2) << 2)),
  addw: (rd: number, rs2: number) => new C16(0x9c01 | (rp(rd) << 7) | (1 << 5) | (rp(rs2) << 2)),
  j: (off: number) =>
    new C16(
      (5 << 13) |
        put(off, 11, 11, 12) |
        put(off, 4, 4, 11) |
        put(off, 9, 8, 9) |
        put(off, 10, 10, 8) |
        put(off, 6, 6, 7) |
        put(off, 7, 7, 6) |
        put(off, 3, 1, 3) |
        put(off, 5, 5, 2) |
        1,
    ),
  beqz: (rs1: number, off: number) =>
    new C16(
      (6 << 13) |
        put(off, 8, 8, 12) |
        put(off, 4, 3, 10) |
        (rp(rs1) << 7) |
        put(off, 7, 6, 5) |
        put(off, 2, 1, 3) |
        put(off, 5, 5, 2) |
        1,
    ),
  bnez: (rs1: number, off: number) =>
    new C16(
      (7 << 13) |
        put(off, 8, 8, 12) |
        put(off, 4, 3, 10) |
        (rp(rs1) << 7) |
        put(off, 7, 6, 5) |
        put(off, 2, 1, 3) |
        put(off, 5, 5, 2) |
        1,
    ),
  slli: (rd: number, sh: number) => new C16(put(sh, 5, 5, 12) | (rd << 7) | put(sh, 4, 0, 2) | 2),
  fldsp: (rd: number, off: number) =>
    new C16((1 << 13) | put(off, 5, 5, 12) | (rd << 7) | put(off, 4, 3, 5) | put(off, 8, 6, 2) | 2),
  lwsp: (rd: number, off: number) =>
    new C16((2 << 13) | put(off, 5, 5, 12) | (rd << 7) | put(off, 4, 2, 4) | put(off, 7, 6, 2) | 2),
  ldsp: (rd: number, off: number) =>
    new C16((3 << 13) | put(off, 5, 5, 12) | (rd << 7) | put(off, 4, 3, 5) | put(off, 8, 6, 2) | 2),
  jr: (rs1: number) => new C16((4 << 13) | (rs1 << 7) | 2),
  mv: (rd: number, rs2: number) => new C16((4 << 13) | (rd << 7) | (rs2 << 2) | 2),
  ebreak: () => new C16(0x9002),
  jalr: (rs1: number) => new C16((4 << 13) | (1 << 12) | (rs1 << 7) | 2),
  add: (rd: number, rs2: number) => new C16((4 << 13) | (1 << 12) | (rd << 7) | (rs2 << 2) | 2),
  fsdsp: (rs2: number, off: number) =>
    new C16((5 << 13) | put(off, 5, 3, 10) | put(off, 8, 6, 7) | (rs2 << 2) | 2),
  swsp: (rs2: number, off: number) =>
    new C16((6 << 13) | put(off, 5, 2, 9) | put(off, 7, 6, 7) | (rs2 << 2) | 2),
  sdsp: (rs2: number, off: number) =>
    new C16((7 << 13) | put(off, 5, 3, 10) | put(off, 8, 6, 7) | (rs2 << 2) | 2),
};

// ---- page tables -----------------------------------------------------------------------------

export const PTE = { V: 1n, R: 2n, W: 4n, X: 8n, U: 16n, G: 32n, A: 64n, D: 128n };

/** Builds Sv39 (levels 3) or Sv48 (levels 4) page tables in guest RAM from a pool of pages. */
export class PageTable {
  readonly root: bigint;
  private next: bigint;

  constructor(
    private readonly hart: Hart,
    readonly levels: 3 | 4,
    pool: bigint,
  ) {
    this.next = pool;
    this.root = this.alloc();
  }

  private alloc(): bigint {
    const p = this.next;
    this.next += 0x1000n;
    this.hart.fill(p, new Uint8Array(0x1000));
    return p;
  }

  satp(): bigint {
    return (BigInt(this.levels === 3 ? 8 : 9) << 60n) | (this.root >> 12n);
  }

  /** Address of the PTE for `va` at `level` (0 = 4 KiB leaf), creating tables on the way. */
  pteAddr(va: bigint, level = 0): bigint {
    let table = this.root;
    for (let l = this.levels - 1; ; l--) {
      const idx = (va >> BigInt(12 + 9 * l)) & 0x1ffn;
      const addr = table + idx * 8n;
      if (l === level) return addr;
      const pte = this.hart.r64(addr);
      if ((pte & PTE.V) === 0n) {
        const t = this.alloc();
        this.hart.w64(addr, ((t >> 12n) << 10n) | PTE.V);
        table = t;
      } else table = ((pte >> 10n) & 0xfff_ffff_ffffn) << 12n;
    }
  }

  /** Maps `va` to `pa` with leaf `flags` at `level` (0: 4 KiB, 1: 2 MiB, 2: 1 GiB). */
  map(va: bigint, pa: bigint, flags: bigint, level = 0): bigint {
    const a = this.pteAddr(va, level);
    this.hart.w64(a, ((pa >> 12n) << 10n) | flags);
    return a;
  }

  pte(va: bigint, level = 0): bigint {
    return this.hart.r64(this.pteAddr(va, level));
  }
}

/** A small deterministic PRNG (xorshift64*), so failures reproduce. */
export class Rng {
  private s: bigint;
  constructor(seed: bigint | number) {
    this.s = U64(BigInt(seed)) || 0x9e3779b97f4a7c15n;
  }
  u64(): bigint {
    let x = this.s;
    x ^= x >> 12n;
    x = U64(x ^ (x << 25n));
    x ^= x >> 27n;
    this.s = x;
    return U64(x * 0x2545f4914f6cdd1dn);
  }
  int(n: number): number {
    return Number(this.u64() % BigInt(n));
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)]!;
  }
  /** 64-bit operands biased towards the edges (0, ±1, INT_MIN/MAX, 32-bit boundaries). */
  operand(): bigint {
    const edges = [
      0n,
      1n,
      2n,
      U64(-1n),
      U64(-2n),
      0x7fff_ffff_ffff_ffffn,
      0x8000_0000_0000_0000n,
      0x7fff_ffffn,
      0x8000_0000n,
      0xffff_ffffn,
      0x1_0000_0000n,
      U64(-0x8000_0000n),
      63n,
      64n,
      31n,
      32n,
    ];
    switch (this.int(4)) {
      case 0:
        return this.pick(edges);
      case 1:
        return U64(BigInt.asIntN(16, this.u64()));
      default:
        return this.u64();
    }
  }
}
