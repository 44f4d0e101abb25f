// Unit tests of the WebAssembly CPU core (dist/cpu.wasm), driven directly in this thread through
// test/support/core-harness.ts: decoder, ALU, M, a little F/D, RVC, Sv39/Sv48 MMU, MMIO exits,
// WFI, the trap-loop detector and the CLINT timer. The machine is M-mode only (no SBI).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  A0,
  A1,
  A2,
  A3,
  A4,
  C16,
  CODE,
  CSR,
  HANDLER,
  Hart,
  I,
  MSTATUS,
  PRIV_M,
  PRIV_S,
  PRIV_U,
  PTE,
  PageTable,
  RAM_BASE,
  RVC,
  Rng,
  S0,
  S1,
  S64,
  SP,
  T0,
  T1,
  T2,
  T3,
  T4,
  T5,
  T6,
  U64,
  hex,
  iType,
  rType,
  sType,
  type Insn,
} from "./support/core-harness.js";
import {
  EXIT_BUDGET,
  EXIT_HALT,
  EXIT_MMIO,
  EXIT_WFI,
  MIP_MSIP,
  MIP_MTIP,
  MIP_SEIP,
  MIP_STIP,
  SH_EXT,
  sharedBlock,
} from "../src/accel/soft/layout.js";

const SETUP = RAM_BASE + 0xc00n;
const INT = 1n << 63n;

/**
 * Prepares `h` for a program at CODE: resets it, clears mcause/mtval/mepc (reset leaves them),
 * points mtvec at HANDLER (`j .`) and leaves every register 0 and pc at CODE.
 */
function start(h: Hart, mtvec = HANDLER): void {
  h.reset(SETUP);
  h.code(HANDLER, [I.j(0)]);
  h.code(SETUP, [
    I.csrw(CSR.mcause, 0),
    I.csrw(CSR.mtval, 0),
    I.csrw(CSR.mepc, 0),
    I.csrw(CSR.mtvec, T0),
  ]);
  h.setX(T0, mtvec);
  assert.equal(h.run(4), EXIT_BUDGET);
  assert.equal(h.pc(), SETUP + 16n, "setup snippet ran");
  h.setX(T0, 0n);
  h.core.setPc(CODE);
}

/** Runs `insns` at CODE (set up by start()) with `regs`; returns run()'s exit code. */
function prog(h: Hart, insns: Insn[], regs: Record<number, bigint> = {}, budget = 200): number {
  start(h);
  h.code(CODE, insns);
  for (const [r, v] of Object.entries(regs)) h.setX(Number(r), v);
  return h.run(budget);
}

function assertTrap(
  h: Hart,
  cause: bigint,
  tval: bigint | undefined,
  epc: bigint,
  what = "",
): void {
  const info = `${what} pc=${hex(h.pc())} mcause=${h.csr(CSR.mcause)} mtval=${hex(h.csr(CSR.mtval))} mepc=${hex(h.csr(CSR.mepc))}`;
  assert.equal(h.pc(), HANDLER, `expected a trap to the handler: ${info}`);
  assert.equal(h.csr(CSR.mcause), cause, `mcause: ${info}`);
  if (tval !== undefined) assert.equal(h.csr(CSR.mtval), tval, `mtval: ${info}`);
  assert.equal(h.csr(CSR.mepc), epc, `mepc: ${info}`);
}

function assertNoTrap(h: Hart, pc: bigint, what = ""): void {
  assert.equal(
    h.pc(),
    pc,
    `${what}: pc=${hex(h.pc())}, expected ${hex(pc)} (mcause=${h.csr(CSR.mcause)} mtval=${hex(h.csr(CSR.mtval))} mepc=${hex(h.csr(CSR.mepc))})`,
  );
}

// ---- reference model for the integer ops ------------------------------------------------------

const M32 = 0xffff_ffffn;
const INT_MIN = 0x8000_0000_0000_0000n;
const sx32 = (v: bigint): bigint => U64(BigInt.asIntN(32, v));
const i32 = (v: bigint): bigint => BigInt.asIntN(32, v);

type Ref2 = (a: bigint, b: bigint) => bigint;
const REG_OPS: [string, (rd: number, rs1: number, rs2: number) => number, Ref2][] = [
  ["add", I.add, (a, b) => U64(a + b)],
  ["sub", I.sub, (a, b) => U64(a - b)],
  ["sll", I.sll, (a, b) => U64(a << (b & 63n))],
  ["slt", I.slt, (a, b) => (S64(a) < S64(b) ? 1n : 0n)],
  ["sltu", I.sltu, (a, b) => (a < b ? 1n : 0n)],
  ["xor", I.xor, (a, b) => a ^ b],
  ["srl", I.srl, (a, b) => a >> (b & 63n)],
  ["sra", I.sra, (a, b) => U64(S64(a) >> (b & 63n))],
  ["or", I.or, (a, b) => a | b],
  ["and", I.and, (a, b) => a & b],
  ["mul", I.mul, (a, b) => U64(a * b)],
  ["mulh", I.mulh, (a, b) => U64((S64(a) * S64(b)) >> 64n)],
  ["mulhsu", I.mulhsu, (a, b) => U64((S64(a) * b) >> 64n)],
  ["mulhu", I.mulhu, (a, b) => (a * b) >> 64n],
  [
    "div",
    I.div,
    (a, b) => (b === 0n ? U64(-1n) : a === INT_MIN && b === U64(-1n) ? a : U64(S64(a) / S64(b))),
  ],
  ["divu", I.divu, (a, b) => (b === 0n ? U64(-1n) : a / b)],
  [
    "rem",
    I.rem,
    (a, b) => (b === 0n ? a : a === INT_MIN && b === U64(-1n) ? 0n : U64(S64(a) % S64(b))),
  ],
  ["remu", I.remu, (a, b) => (b === 0n ? a : a % b)],
  ["addw", I.addw, (a, b) => sx32(a + b)],
  ["subw", I.subw, (a, b) => sx32(a - b)],
  ["sllw", I.sllw, (a, b) => sx32((a & M32) << (b & 31n))],
  ["srlw", I.srlw, (a, b) => sx32((a & M32) >> (b & 31n))],
  ["sraw", I.sraw, (a, b) => sx32(i32(a) >> (b & 31n))],
  ["mulw", I.mulw, (a, b) => sx32(a * b)],
  [
    "divw",
    I.divw,
    (a, b) =>
      i32(b) === 0n
        ? U64(-1n)
        : i32(a) === -(2n ** 31n) && i32(b) === -1n
          ? sx32(a)
          : sx32(i32(a) / i32(b)),
  ],
  ["divuw", I.divuw, (a, b) => ((b & M32) === 0n ? U64(-1n) : sx32((a & M32) / (b & M32)))],
  [
    "remw",
    I.remw,
    (a, b) =>
      i32(b) === 0n
        ? sx32(a)
        : i32(a) === -(2n ** 31n) && i32(b) === -1n
          ? 0n
          : sx32(i32(a) % i32(b)),
  ],
  ["remuw", I.remuw, (a, b) => ((b & M32) === 0n ? sx32(a) : sx32((a & M32) % (b & M32)))],
];

type RefI = (a: bigint, imm: number) => bigint;
const simm = (rng: Rng): number =>
  rng.int(3) === 0 ? rng.pick([0, 1, -1, 2047, -2048, 0x7ff, -2]) : rng.int(4096) - 2048;
const IMM_OPS: [
  string,
  (rd: number, rs1: number, imm: number) => number,
  (rng: Rng) => number,
  RefI,
][] = [
  ["addi", I.addi, simm, (a, i) => U64(a + BigInt(i))],
  ["slti", I.slti, simm, (a, i) => (S64(a) < BigInt(i) ? 1n : 0n)],
  ["sltiu", I.sltiu, simm, (a, i) => (a < U64(BigInt(i)) ? 1n : 0n)],
  ["xori", I.xori, simm, (a, i) => a ^ U64(BigInt(i))],
  ["ori", I.ori, simm, (a, i) => a | U64(BigInt(i))],
  ["andi", I.andi, simm, (a, i) => a & U64(BigInt(i))],
  ["slli", I.slli, (r) => r.int(64), (a, i) => U64(a << BigInt(i))],
  ["srli", I.srli, (r) => r.int(64), (a, i) => a >> BigInt(i)],
  ["srai", I.srai, (r) => r.int(64), (a, i) => U64(S64(a) >> BigInt(i))],
  ["addiw", I.addiw, simm, (a, i) => sx32(a + BigInt(i))],
  ["slliw", I.slliw, (r) => r.int(32), (a, i) => sx32((a & M32) << BigInt(i))],
  ["srliw", I.srliw, (r) => r.int(32), (a, i) => sx32((a & M32) >> BigInt(i))],
  ["sraiw", I.sraiw, (r) => r.int(32), (a, i) => sx32(i32(a) >> BigInt(i))],
];

/** Executes the single instruction `insn` at CODE with a1 = a, a2 = b; returns a0. */
function alu(h: Hart, insn: number, a: bigint, b: bigint): bigint {
  h.reset(CODE);
  h.code(CODE, [insn, I.j(0)]);
  h.setX(A1, a);
  h.setX(A2, b);
  h.setX(A0, 0xdead_beefn);
  assert.equal(h.run(1), EXIT_BUDGET);
  assert.equal(h.pc(), CODE + 4n, `insn ${hex(insn)} did not retire`);
  return h.x(A0);
}

describe("decoder: RV64I", () => {
  test("OP, OP-32 and M match a BigInt reference on edge and random operands", () => {
    const h = new Hart();
    const rng = new Rng(1);
    for (const [name, enc, ref] of REG_OPS) {
      for (let k = 0; k < 150; k++) {
        const a = rng.operand();
        const b = rng.operand();
        const got = alu(h, enc(A0, A1, A2), a, b);
        assert.equal(hex(got), hex(ref(a, b)), `${name} ${hex(a)}, ${hex(b)}`);
      }
    }
  });

  test("OP-IMM and OP-IMM-32 match a BigInt reference on edge and random operands", () => {
    const h = new Hart();
    const rng = new Rng(2);
    for (const [name, enc, immGen, ref] of IMM_OPS) {
      for (let k = 0; k < 150; k++) {
        const a = rng.operand();
        const imm = immGen(rng);
        const got = alu(h, enc(A0, A1, imm), a, 0n);
        assert.equal(hex(got), hex(ref(a, imm)), `${name} ${hex(a)}, ${imm}`);
      }
    }
  });

  test("rd = x0 discards the result; rd = rs1 = rs2 reads before writing", () => {
    const h = new Hart();
    h.reset(CODE);
    h.code(CODE, [I.addi(0, A1, 5), I.add(A1, A1, A1), I.sub(A2, A2, A2), I.j(0)]);
    h.setX(A1, 21n);
    h.setX(A2, 99n);
    h.run(3);
    assert.equal(h.x(0), 0n);
    assert.equal(h.x(A1), 42n);
    assert.equal(h.x(A2), 0n);
  });

  test("LUI and AUIPC sign-extend their 32-bit immediate", () => {
    const h = new Hart();
    h.reset(CODE);
    h.code(CODE, [
      I.lui(A0, 0x80000),
      I.lui(A1, 0x7ffff),
      I.auipc(A2, 0xfffff),
      I.auipc(A3, 1),
      I.j(0),
    ]);
    h.run(4);
    assert.equal(h.x(A0), 0xffff_ffff_8000_0000n);
    assert.equal(h.x(A1), 0x7fff_f000n);
    assert.equal(h.x(A2), U64(CODE + 8n - 0x1000n));
    assert.equal(h.x(A3), CODE + 12n + 0x1000n);
  });

  test("JAL and JALR link pc+4; JALR clears bit 0 of the target and reads rs1 before writing rd", () => {
    const h = new Hart();
    h.reset(CODE);
    h.code(CODE, [I.jal(1, 0x100)]);
    h.run(1);
    assert.equal(h.pc(), CODE + 0x100n);
    assert.equal(h.x(1), CODE + 4n);
    // backwards
    h.reset(CODE + 0x200n);
    h.code(CODE + 0x200n, [I.jal(A0, -0x1f0)]);
    h.run(1);
    assert.equal(h.pc(), CODE + 0x10n);
    assert.equal(h.x(A0), CODE + 0x204n);
    // jalr with an odd target and rd == rs1
    h.reset(CODE);
    h.code(CODE, [I.jalr(A1, A1, -3)]);
    h.setX(A1, CODE + 0x304n);
    h.run(1);
    assert.equal(h.pc(), CODE + 0x300n); // 0x304 - 3 = 0x301, bit 0 cleared
    assert.equal(h.x(A1), CODE + 4n);
    // jal x0 does not link
    h.reset(CODE);
    h.code(CODE, [I.jal(0, 8)]);
    h.run(1);
    assert.equal(h.x(0), 0n);
    assert.equal(h.pc(), CODE + 8n);
  });

  test("all six branches compare signed or unsigned, taken forward and backward", () => {
    const h = new Hart();
    const neg = U64(-1n);
    const cases: [string, (a: number, b: number, o: number) => number, bigint, bigint, boolean][] =
      [
        ["beq", I.beq, 5n, 5n, true],
        ["beq", I.beq, 5n, 6n, false],
        ["bne", I.bne, 5n, 6n, true],
        ["bne", I.bne, neg, neg, false],
        ["blt", I.blt, neg, 0n, true],
        ["blt", I.blt, 0n, neg, false],
        ["blt", I.blt, 3n, 3n, false],
        ["bge", I.bge, 0n, neg, true],
        ["bge", I.bge, 3n, 3n, true],
        ["bge", I.bge, neg, 0n, false],
        ["bltu", I.bltu, 0n, neg, true],
        ["bltu", I.bltu, neg, 0n, false],
        ["bgeu", I.bgeu, neg, 0n, true],
        ["bgeu", I.bgeu, 0n, neg, false],
        ["bgeu", I.bgeu, 7n, 7n, true],
        ["blt", I.blt, INT_MIN, 0x7fff_ffff_ffff_ffffn, true],
        ["bltu", I.bltu, 0x7fff_ffff_ffff_ffffn, INT_MIN, true],
      ];
    for (const [name, enc, a, b, taken] of cases) {
      for (const off of [0x7fe, -0x800, 16, -4096]) {
        const at = CODE + 0x1000n;
        h.reset(at);
        h.code(at, [enc(A1, A2, off)]);
        h.setX(A1, a);
        h.setX(A2, b);
        h.run(1);
        const want = taken ? U64(at + BigInt(off)) : at + 4n;
        assert.equal(h.pc(), want, `${name} ${hex(a)}, ${hex(b)}, ${off}`);
      }
    }
  });

  test("loads sign- or zero-extend each width; negative offsets work", () => {
    const h = new Hart();
    const data = RAM_BASE + 0x2000n;
    h.w64(data, 0x8182_8384_8586_8788n);
    const cases: [string, number, bigint][] = [
      ["lb", I.lb(A0, A1, 8), 0xffff_ffff_ffff_ff88n],
      ["lbu", I.lbu(A0, A1, 8), 0x88n],
      ["lh", I.lh(A0, A1, 8), 0xffff_ffff_ffff_8788n],
      ["lhu", I.lhu(A0, A1, 8), 0x8788n],
      ["lw", I.lw(A0, A1, 8), 0xffff_ffff_8586_8788n],
      ["lwu", I.lwu(A0, A1, 8), 0x8586_8788n],
      ["ld", I.ld(A0, A1, 8), 0x8182_8384_8586_8788n],
      ["lw+4", I.lw(A0, A1, 12), 0xffff_ffff_8182_8384n],
      ["lbu+7", I.lbu(A0, A1, 15), 0x81n],
    ];
    for (const [name, insn, want] of cases) {
      h.reset(CODE);
      h.code(CODE, [insn]);
      h.setX(A1, data - 8n);
      h.run(1);
      assert.equal(h.pc(), CODE + 4n, name);
      assert.equal(hex(h.x(A0)), hex(want), name);
    }
  });

  test("stores write exactly their width", () => {
    const h = new Hart();
    const data = RAM_BASE + 0x2000n;
    const cases: [string, number, bigint][] = [
      ["sb", I.sb(A2, A1, -8), 0xaaaa_aaaa_aaaa_aa11n],
      ["sh", I.sh(A2, A1, -8), 0xaaaa_aaaa_aaaa_2211n],
      ["sw", I.sw(A2, A1, -8), 0xaaaa_aaaa_4433_2211n],
      ["sd", I.sd(A2, A1, -8), 0x8877_6655_4433_2211n],
    ];
    for (const [name, insn, want] of cases) {
      h.w64(data, 0xaaaa_aaaa_aaaa_aaaan);
      h.w64(data + 8n, 0xbbbb_bbbb_bbbb_bbbbn);
      h.reset(CODE);
      h.code(CODE, [insn]);
      h.setX(A1, data + 8n);
      h.setX(A2, 0x8877_6655_4433_2211n);
      h.run(1);
      assert.equal(hex(h.r64(data)), hex(want), name);
      assert.equal(h.r64(data + 8n), 0xbbbb_bbbb_bbbb_bbbbn, `${name} wrote past its width`);
    }
  });

  test("FENCE and FENCE.I advance; ECALL from M is cause 11, EBREAK cause 3 with mtval = pc", () => {
    const h = new Hart();
    prog(h, [I.fence, I.fence_i, I.ecall], {}, 3);
    assertTrap(h, 11n, 0n, CODE + 8n, "ecall");
    prog(h, [I.ebreak], {}, 1);
    assertTrap(h, 3n, CODE, CODE, "ebreak");
  });

  test("Zicsr: register and immediate forms return the old value and write the new one", () => {
    const h = new Hart();
    prog(
      h,
      [
        I.csrrw(A0, CSR.mscratch, A1), // a0 = 0, mscratch = 0xf0
        I.csrrs(A2, CSR.mscratch, A3), // a2 = 0xf0, mscratch |= 0x0f
        I.csrrc(A3, CSR.mscratch, A1), // a3 = 0xff, mscratch = 0x0f
        I.csrrwi(T0, CSR.mscratch, 0x1c), // t0 = 0x0f, mscratch = 0x1c
        I.csrrsi(T1, CSR.mscratch, 0x3), // t1 = 0x1c, mscratch = 0x1f
        I.csrrci(T2, CSR.mscratch, 0x18), // t2 = 0x1f, mscratch = 0x07
        I.csrr(T3, CSR.mscratch),
        I.csrr(S0, CSR.mhartid),
        I.csrr(S1, CSR.misa),
        I.j(0),
      ],
      { [A1]: 0xf0n, [A3]: 0x0fn, [S0]: 77n },
      9,
    );
    assertNoTrap(h, CODE + 36n, "csr program");
    assert.deepEqual(
      [h.x(A0), h.x(A2), h.x(A3), h.x(T0), h.x(T1), h.x(T2), h.x(T3), h.x(S0)],
      [0n, 0xf0n, 0xffn, 0x0fn, 0x1cn, 0x1fn, 0x07n, 0n],
    );
    const misa = h.x(S1);
    assert.equal(misa >> 62n, 2n, "misa.MXL = 64");
    for (const ext of "ACDFIMSU")
      assert.ok((misa >> BigInt(ext.charCodeAt(0) - 65)) & 1n, `misa has ${ext}`);
  });

  test("illegal encodings trap with mcause 2 and mtval = the instruction bits", () => {
    const h = new Hart();
    const illegal: [string, number][] = [
      ["all ones", 0xffff_ffff],
      ["custom-0 opcode", 0x0000_000b],
      ["OP-V opcode", 0x0000_0057],
      ["opcode 0x7b", 0x0000_007b],
      ["slli with funct6 bit 26", iType(0x13, A0, 1, A1, 0x040)],
      ["srli with funct6 0x01", iType(0x13, A0, 5, A1, 0x040)],
      ["srai with funct6 0x18", iType(0x13, A0, 5, A1, 0x600)],
      ["sll with funct7 0x20", rType(0x33, A0, 1, A1, A2, 0x20)],
      ["add with funct7 0x02", rType(0x33, A0, 0, A1, A2, 0x02)],
      ["add with funct7 0x40", rType(0x33, A0, 0, A1, A2, 0x40)],
      ["load funct3 7", iType(0x03, A0, 7, A1, 0)],
      ["store funct3 4", sType(0x23, 4, A1, A2, 0)],
      ["store funct3 7", sType(0x23, 7, A1, A2, 0)],
      ["branch funct3 2", 0x0000_2063 | (A1 << 15)],
      ["branch funct3 3", 0x0000_3063 | (A1 << 15)],
      ["jalr funct3 1", iType(0x67, 1, 1, A1, 0)],
      ["slliw shamt 32", iType(0x1b, A0, 1, A1, 0x020)],
      ["sraiw funct7 0x21", iType(0x1b, A0, 5, A1, 0x420)],
      ["OP-IMM-32 funct3 2", iType(0x1b, A0, 2, A1, 0)],
      ["OP-32 funct3 2", rType(0x3b, A0, 2, A1, A2, 0)],
      ["OP-32 mulhw (funct3 1, M)", rType(0x3b, A0, 1, A1, A2, 1)],
      ["OP-32 subw-like funct3 1", rType(0x3b, A0, 1, A1, A2, 0x20)],
      ["MISC-MEM funct3 2", iType(0x0f, 0, 2, 0, 0)],
      ["SYSTEM funct3 4", iType(0x73, A0, 4, 0, 0x300)],
      ["uret", 0x0020_0073],
      ["ecall with rd != 0", 0x0000_00f3],
      ["csr 0x7c0 (not implemented)", I.csrr(A0, 0x7c0)],
      ["write to read-only mvendorid", I.csrw(CSR.mvendorid, A1)],
      ["csrrs to mhartid with rs1 != 0", I.csrrs(A0, CSR.mhartid, A1)],
      ["AMO funct3 0", rType(0x2f, A0, 0, A1, A2, 0)],
      ["AMO funct5 0x05", rType(0x2f, A0, 3, A1, A2, 0x05 << 2)],
      ["LR with rs2 != 0", rType(0x2f, A0, 3, A1, A2, 0x02 << 2)],
      ["fadd.d with FS off", I.fadd_d(1, 2, 3, 0)],
      ["fld with FS off", I.fld(1, A1, 0)],
      ["fmv.d.x with FS off", I.fmv_d_x(1, A1)],
      ["csrr fflags with FS off", I.csrr(A0, CSR.fflags)],
    ];
    for (const [name, insn] of illegal) {
      prog(h, [insn, I.j(0)], { [A1]: RAM_BASE + 0x2000n }, 1);
      assertTrap(h, 2n, BigInt(insn >>> 0), CODE, name);
    }
  });

  test("mret from S-mode and sret from U-mode are illegal; sret from M returns to SPP", () => {
    const h = new Hart();
    // mret to S at CODE+0x100 where another mret waits.
    prog(
      h,
      [I.csrw(CSR.mepc, A1), I.csrw(CSR.mstatus, A2), I.mret],
      { [A1]: CODE + 0x100n, [A2]: MSTATUS.MPP_S },
      0,
    );
    h.code(CODE + 0x100n, [I.mret]);
    h.run(4);
    assertTrap(h, 2n, BigInt(I.mret), CODE + 0x100n, "mret in S");
    assert.equal((h.csr(CSR.mstatus) >> 11n) & 3n, 1n, "MPP = S");
    prog(
      h,
      [I.csrw(CSR.mepc, A1), I.csrw(CSR.mstatus, A2), I.mret],
      { [A1]: CODE + 0x100n, [A2]: 0n },
      0,
    );
    h.code(CODE + 0x100n, [I.sret]);
    h.run(4);
    assertTrap(h, 2n, BigInt(I.sret), CODE + 0x100n, "sret in U");
    assert.equal(h.priv(), PRIV_M);
  });
});

describe("ALU edge cases", () => {
  test("shift amounts are masked: by 64 is by 0, by 63 is the last bit; W forms mask to 5 bits", () => {
    const h = new Hart();
    const v = 0x8000_0000_0000_0001n;
    assert.equal(alu(h, I.sll(A0, A1, A2), v, 64n), v);
    assert.equal(alu(h, I.sll(A0, A1, A2), v, 63n), 0x8000_0000_0000_0000n);
    assert.equal(alu(h, I.srl(A0, A1, A2), v, 63n), 1n);
    assert.equal(alu(h, I.sra(A0, A1, A2), v, 63n), U64(-1n));
    assert.equal(alu(h, I.sra(A0, A1, A2), v, 64n + 4n), U64(S64(v) >> 4n));
    assert.equal(alu(h, I.srl(A0, A1, A2), v, 0xffff_ffff_ffff_ffc1n), v >> 1n); // only the low 6 bits count
    assert.equal(alu(h, I.slli(A0, A1, 63), 3n, 0n), 0x8000_0000_0000_0000n);
    assert.equal(alu(h, I.srai(A0, A1, 63), v, 0n), U64(-1n));
    assert.equal(alu(h, I.srli(A0, A1, 63), v, 0n), 1n);
    assert.equal(alu(h, I.sllw(A0, A1, A2), 1n, 32n), 1n);
    assert.equal(alu(h, I.sllw(A0, A1, A2), 1n, 31n), 0xffff_ffff_8000_0000n);
    assert.equal(alu(h, I.srlw(A0, A1, A2), 0xffff_ffff_8000_0000n, 31n), 1n);
    assert.equal(alu(h, I.srlw(A0, A1, A2), 0x1_8000_0000n, 0n), 0xffff_ffff_8000_0000n);
    assert.equal(alu(h, I.sraw(A0, A1, A2), 0x8000_0000n, 63n), U64(-1n)); // 63 & 31 = 31
    assert.equal(
      alu(h, I.srliw(A0, A1, 0), 0xffff_ffff_0000_0000n | 0x8000_0000n, 0n),
      0xffff_ffff_8000_0000n,
    );
    assert.equal(alu(h, I.slliw(A0, A1, 31), 1n, 0n), 0xffff_ffff_8000_0000n);
    assert.equal(alu(h, I.sraiw(A0, A1, 31), 0x7fff_ffffn, 0n), 0n);
  });

  test("slt/sltu/slti/sltiu signedness", () => {
    const h = new Hart();
    const neg1 = U64(-1n);
    assert.equal(alu(h, I.slt(A0, A1, A2), neg1, 0n), 1n);
    assert.equal(alu(h, I.sltu(A0, A1, A2), neg1, 0n), 0n);
    assert.equal(alu(h, I.slt(A0, A1, A2), INT_MIN, 0x7fff_ffff_ffff_ffffn), 1n);
    assert.equal(alu(h, I.sltu(A0, A1, A2), INT_MIN, 0x7fff_ffff_ffff_ffffn), 0n);
    assert.equal(alu(h, I.slti(A0, A1, -1), U64(-2n), 0n), 1n);
    assert.equal(
      alu(h, I.sltiu(A0, A1, -1), U64(-2n), 0n),
      1n,
      "sltiu's immediate is sign-extended, then compared unsigned",
    );
    assert.equal(alu(h, I.sltiu(A0, A1, -1), neg1, 0n), 0n);
    assert.equal(alu(h, I.sltiu(A0, A1, 1), 0n, 0n), 1n, "seqz");
    assert.equal(alu(h, I.sltu(A0, 0, A2), 0n, 5n), 1n, "snez");
  });

  test("*W results are sign-extended from bit 31 and ignore the upper input bits", () => {
    const h = new Hart();
    assert.equal(alu(h, I.addw(A0, A1, A2), 0x7fff_ffffn, 1n), 0xffff_ffff_8000_0000n);
    assert.equal(alu(h, I.addw(A0, A1, A2), 0x1234_5678_0000_0001n, 0xabcd_0000_0000_0001n), 2n);
    assert.equal(alu(h, I.subw(A0, A1, A2), 0n, 1n), U64(-1n));
    assert.equal(alu(h, I.addiw(A0, A1, 0), 0x0000_0000_ffff_ffffn, 0n), U64(-1n), "sext.w");
    assert.equal(alu(h, I.addiw(A0, A1, -1), 0x8000_0000n, 0n), 0x7fff_ffffn);
    assert.equal(
      alu(h, I.mulw(A0, A1, A2), 0x1_0000_0000n + 0x10000n, 0x8000n),
      0xffff_ffff_8000_0000n,
    );
  });
});

describe("M extension", () => {
  test("mulh/mulhsu/mulhu with negative and extreme operands match BigInt", () => {
    const h = new Hart();
    const vals = [
      0n,
      1n,
      2n,
      U64(-1n),
      U64(-2n),
      INT_MIN,
      0x7fff_ffff_ffff_ffffn,
      0xffff_ffffn,
      0x1_0000_0000n,
      U64(-0x1_0000_0000n),
      0xdead_beef_cafe_baben,
      3n,
    ];
    for (const a of vals) {
      for (const b of vals) {
        assert.equal(
          hex(alu(h, I.mulh(A0, A1, A2), a, b)),
          hex(U64((S64(a) * S64(b)) >> 64n)),
          `mulh ${hex(a)} ${hex(b)}`,
        );
        assert.equal(
          hex(alu(h, I.mulhsu(A0, A1, A2), a, b)),
          hex(U64((S64(a) * b) >> 64n)),
          `mulhsu ${hex(a)} ${hex(b)}`,
        );
        assert.equal(
          hex(alu(h, I.mulhu(A0, A1, A2), a, b)),
          hex((a * b) >> 64n),
          `mulhu ${hex(a)} ${hex(b)}`,
        );
        assert.equal(
          hex(alu(h, I.mul(A0, A1, A2), a, b)),
          hex(U64(a * b)),
          `mul ${hex(a)} ${hex(b)}`,
        );
      }
    }
  });

  test("division by zero and INT_MIN / -1, 64-bit and W forms", () => {
    const h = new Hart();
    const m1 = U64(-1n);
    const d = (insn: number, a: bigint, b: bigint): string => hex(alu(h, insn, a, b));
    assert.equal(d(I.div(A0, A1, A2), 7n, 0n), hex(m1));
    assert.equal(d(I.divu(A0, A1, A2), 7n, 0n), hex(m1));
    assert.equal(d(I.rem(A0, A1, A2), U64(-7n), 0n), hex(U64(-7n)));
    assert.equal(d(I.remu(A0, A1, A2), 7n, 0n), hex(7n));
    assert.equal(d(I.div(A0, A1, A2), INT_MIN, m1), hex(INT_MIN));
    assert.equal(d(I.rem(A0, A1, A2), INT_MIN, m1), hex(0n));
    assert.equal(d(I.div(A0, A1, A2), U64(-7n), 2n), hex(U64(-3n)), "div rounds towards zero");
    assert.equal(
      d(I.rem(A0, A1, A2), U64(-7n), 2n),
      hex(U64(-1n)),
      "rem takes the dividend's sign",
    );
    assert.equal(d(I.rem(A0, A1, A2), 7n, U64(-2n)), hex(1n));
    assert.equal(d(I.divw(A0, A1, A2), 0x8000_0000n, 0xffff_ffffn), hex(0xffff_ffff_8000_0000n));
    assert.equal(d(I.remw(A0, A1, A2), 0x8000_0000n, m1), hex(0n));
    assert.equal(
      d(I.divw(A0, A1, A2), 5n, 0x1_0000_0000n),
      hex(m1),
      "divw by a value whose low word is 0",
    );
    assert.equal(d(I.divuw(A0, A1, A2), 5n, 0n), hex(m1));
    assert.equal(d(I.remw(A0, A1, A2), 0x1_8000_0005n, 0n), hex(0xffff_ffff_8000_0005n));
    assert.equal(d(I.remuw(A0, A1, A2), 0x1_8000_0005n, 0n), hex(0xffff_ffff_8000_0005n));
    assert.equal(d(I.divuw(A0, A1, A2), 0xffff_fffen, 2n), hex(0x7fff_ffffn));
    assert.equal(d(I.divuw(A0, A1, A2), 0xffff_fffen, 1n), hex(U64(-2n)));
  });
});

// ---- compressed ------------------------------------------------------------------------------

interface Snapshot {
  x: bigint[];
  pc: bigint;
  mem: Uint8Array;
  mcause: bigint;
  mtval: bigint;
  mepc: bigint;
}

const CDATA = RAM_BASE + 0x2000n;

function snapshotAfter(h: Hart, insn: Insn, regs: bigint[]): Snapshot {
  start(h);
  const junk = new Uint8Array(0x800);
  for (let i = 0; i < junk.length; i++) junk[i] = (i * 73 + 11) & 0xff;
  h.fill(CDATA, junk);
  h.code(CODE, [insn, I.j(0)]);
  for (let r = 1; r < 32; r++) h.setX(r, regs[r]!);
  h.run(1);
  const x: bigint[] = [];
  for (let r = 0; r < 32; r++) x.push(h.x(r));
  return {
    x,
    pc: h.pc(),
    mem: h.bytes(CDATA, 0x800),
    mcause: h.csr(CSR.mcause),
    mtval: h.csr(CSR.mtval),
    mepc: h.csr(CSR.mepc),
  };
}

describe("RVC", () => {
  test("each compressed instruction does what its 32-bit expansion does", () => {
    const h = new Hart();
    type Kind = "seq" | "jump" | "link" | "trap";
    const cases: [string, C16, number, Kind][] = [
      ["c.addi -7", RVC.addi(10, -7), I.addi(10, 10, -7), "seq"],
      ["c.addi 31", RVC.addi(10, 31), I.addi(10, 10, 31), "seq"],
      ["c.nop", RVC.nop(), I.addi(0, 0, 0), "seq"],
      ["c.addiw -1", RVC.addiw(11, -1), I.addiw(11, 11, -1), "seq"],
      ["c.addiw 0 (sext.w)", RVC.addiw(20, 0), I.addiw(20, 20, 0), "seq"],
      ["c.li -32", RVC.li(13, -32), I.addi(13, 0, -32), "seq"],
      ["c.li 17", RVC.li(25, 17), I.addi(25, 0, 17), "seq"],
      ["c.lui -1", RVC.lui(14, -1), I.lui(14, 0xfffff), "seq"],
      ["c.lui 5", RVC.lui(14, 5), I.lui(14, 5), "seq"],
      ["c.lui 31", RVC.lui(3, 31), I.lui(3, 31), "seq"],
      ["c.addi16sp -512", RVC.addi16sp(-512), I.addi(SP, SP, -512), "seq"],
      ["c.addi16sp 496", RVC.addi16sp(496), I.addi(SP, SP, 496), "seq"],
      ["c.addi16sp 16", RVC.addi16sp(16), I.addi(SP, SP, 16), "seq"],
      ["c.addi4spn 1020", RVC.addi4spn(15, 1020), I.addi(15, SP, 1020), "seq"],
      ["c.addi4spn 4", RVC.addi4spn(8, 4), I.addi(8, SP, 4), "seq"],
      ["c.slli 63", RVC.slli(10, 63), I.slli(10, 10, 63), "seq"],
      ["c.slli 1", RVC.slli(30, 1), I.slli(30, 30, 1), "seq"],
      ["c.srli 33", RVC.srli(11, 33), I.srli(11, 11, 33), "seq"],
      ["c.srai 63", RVC.srai(11, 63), I.srai(11, 11, 63), "seq"],
      ["c.srai 5", RVC.srai(14, 5), I.srai(14, 14, 5), "seq"],
      ["c.andi -3", RVC.andi(13, -3), I.andi(13, 13, -3), "seq"],
      ["c.andi 31", RVC.andi(15, 31), I.andi(15, 15, 31), "seq"],
      ["c.sub", RVC.sub(13, 14), I.sub(13, 13, 14), "seq"],
      ["c.xor", RVC.xor(14, 15), I.xor(14, 14, 15), "seq"],
      ["c.or", RVC.or(15, 13), I.or(15, 15, 13), "seq"],
      ["c.and", RVC.and(13, 15), I.and(13, 13, 15), "seq"],
      ["c.subw", RVC.subw(14, 13), I.subw(14, 14, 13), "seq"],
      ["c.addw", RVC.addw(15, 14), I.addw(15, 15, 14), "seq"],
      ["c.mv", RVC.mv(20, 21), I.add(20, 0, 21), "seq"],
      ["c.add", RVC.add(22, 23), I.add(22, 22, 23), "seq"],
      ["c.lw", RVC.lw(13, 8, 124), I.lw(13, 8, 124), "seq"],
      ["c.lw 4", RVC.lw(13, 8, 4), I.lw(13, 8, 4), "seq"],
      ["c.ld", RVC.ld(14, 9, 248), I.ld(14, 9, 248), "seq"],
      ["c.sw", RVC.sw(15, 8, 64), I.sw(15, 8, 64), "seq"],
      ["c.sd", RVC.sd(13, 9, 200), I.sd(13, 9, 200), "seq"],
      ["c.lwsp", RVC.lwsp(20, 252), I.lw(20, SP, 252), "seq"],
      ["c.ldsp", RVC.ldsp(21, 504), I.ld(21, SP, 504), "seq"],
      ["c.swsp", RVC.swsp(22, 252), I.sw(22, SP, 252), "seq"],
      ["c.sdsp", RVC.sdsp(23, 504), I.sd(23, SP, 504), "seq"],
      ["c.j -8", RVC.j(-8), I.jal(0, -8), "jump"],
      ["c.j 2046", RVC.j(2046), I.jal(0, 2046), "jump"],
      ["c.j -2048", RVC.j(-2048), I.jal(0, -2048), "jump"],
      ["c.j 0x2aa", RVC.j(0x2aa), I.jal(0, 0x2aa), "jump"],
      ["c.beqz taken", RVC.beqz(12, 254), I.beq(12, 0, 254), "jump"],
      ["c.beqz taken back", RVC.beqz(12, -256), I.beq(12, 0, -256), "jump"],
      ["c.beqz taken 0xaa", RVC.beqz(12, 0xaa), I.beq(12, 0, 0xaa), "jump"],
      ["c.beqz not taken", RVC.beqz(13, 8), I.beq(13, 0, 8), "seq"],
      ["c.bnez taken", RVC.bnez(13, -2), I.bne(13, 0, -2), "jump"],
      ["c.bnez not taken", RVC.bnez(12, 8), I.bne(12, 0, 8), "seq"],
      ["c.jr", RVC.jr(5), I.jalr(0, 5, 0), "jump"],
      ["c.jalr", RVC.jalr(5), I.jalr(1, 5, 0), "link"],
      ["c.ebreak", RVC.ebreak(), I.ebreak, "trap"],
    ];
    const rng = new Rng(3);
    for (let round = 0; round < 4; round++) {
      const regs: bigint[] = [0n];
      for (let r = 1; r < 32; r++) regs.push(rng.operand());
      regs[SP] = CDATA + 0x100n;
      regs[8] = CDATA + 0x200n;
      regs[9] = CDATA + 0x300n;
      regs[12] = 0n;
      regs[13] = regs[13]! | 1n;
      regs[5] = CODE + 0x40n;
      for (const [name, c, e, kind] of cases) {
        const sc = snapshotAfter(h, c, regs);
        const se = snapshotAfter(h, e, regs);
        const why = `${name} (c=${hex(c.half)}, expansion ${hex(e)}, round ${round})`;
        if (kind === "seq") {
          assert.equal(sc.pc, CODE + 2n, `${why}: pc`);
          assert.equal(se.pc, CODE + 4n, `${why}: reference pc`);
        } else if (kind === "trap") {
          assert.equal(sc.pc, HANDLER, why);
          assert.deepEqual([sc.mcause, sc.mtval, sc.mepc], [se.mcause, se.mtval, se.mepc], why);
        } else {
          assert.equal(hex(sc.pc), hex(se.pc), `${why}: target`);
        }
        if (kind === "link") {
          assert.equal(sc.x[1], CODE + 2n, `${why}: link = pc + 2`);
          sc.x[1] = se.x[1]!;
        }
        for (let r = 0; r < 32; r++) assert.equal(hex(sc.x[r]!), hex(se.x[r]!), `${why}: x${r}`);
        assert.deepEqual(sc.mem, se.mem, `${why}: memory`);
      }
    }
  });

  test("reserved compressed encodings are illegal with mtval = the 16 bits", () => {
    const h = new Hart();
    const reserved: [string, number][] = [
      ["all zero", 0x0000],
      ["c.addi4spn with imm 0", 0x0004],
      ["c.addiw rd=0", 0x2005],
      ["c.lui imm=0", 0x6281],
      ["c.addi16sp imm=0", 0x6101],
      ["c.lwsp rd=0", 0x4002],
      ["c.ldsp rd=0", 0x6002],
      ["c.jr rs1=0", 0x8002],
      ["quadrant 0 funct3 4", 0x8000],
      ["c.subw-space reserved 10", 0x9c41],
      ["c.subw-space reserved 11", 0x9c61],
      ["c.fld with FS off", RVC.fld(8, 9, 0).half],
      ["c.fsdsp with FS off", RVC.fsdsp(8, 0).half],
    ];
    for (const [name, half] of reserved) {
      prog(h, [new C16(half), new C16(0x0001), I.j(0)], { [S1]: CDATA, [SP]: CDATA }, 1);
      assertTrap(h, 2n, BigInt(half), CODE, name);
    }
  });

  test("c.fld/c.fsd/c.fldsp/c.fsdsp move doubles when FS is on", () => {
    const h = new Hart();
    h.w64(CDATA + 0x10n, 0x4009_21fb_5444_2d18n);
    h.w64(CDATA + 0x28n, 0xc000_0000_0000_0000n);
    prog(
      h,
      [
        I.csrs(CSR.mstatus, T6),
        RVC.fld(8, 9, 0x10),
        RVC.fldsp(7, 0x28),
        RVC.fsd(8, 9, 0x40),
        RVC.fsdsp(7, 0x48),
        I.fmv_x_d(A0, 8),
        I.fmv_x_d(A1, 7),
        I.j(0),
      ],
      { [T6]: MSTATUS.FS_INITIAL, [S1]: CDATA, [SP]: CDATA },
      7,
    );
    assertNoTrap(h, CODE + 4n + 8n + 8n, "rvc fp");
    assert.equal(h.x(A0), 0x4009_21fb_5444_2d18n);
    assert.equal(h.x(A1), 0xc000_0000_0000_0000n);
    assert.equal(h.r64(CDATA + 0x40n), 0x4009_21fb_5444_2d18n);
    assert.equal(h.r64(CDATA + 0x48n), 0xc000_0000_0000_0000n);
  });

  test("mixed 16- and 32-bit code: a 32-bit instruction at a 2-byte boundary", () => {
    const h = new Hart();
    h.reset(CODE);
    h.code(CODE, [RVC.li(10, 3), I.addi(10, 10, 100), RVC.addi(10, 1), I.j(0)]);
    h.run(10);
    assert.equal(h.x(A0), 104n);
    assert.equal(h.pc(), CODE + 8n);
  });
});

// ---- floating point --------------------------------------------------------------------------

/** Runs `body` in M-mode with mstatus.FS = Initial and frm = `frm`. */
function fpProg(h: Hart, body: Insn[], regs: Record<number, bigint>, frm = 0): void {
  const insns = [I.csrs(CSR.mstatus, T6), I.csrw(CSR.frm, T5), ...body, I.j(0)];
  prog(h, insns, { [T6]: MSTATUS.FS_INITIAL, [T5]: BigInt(frm), ...regs }, insns.length - 1);
}

const f64bits = (x: number): bigint => {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, x, true);
  return dv.getBigUint64(0, true);
};
const bitsF64 = (v: bigint): number => {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setBigUint64(0, v, true);
  return dv.getFloat64(0, true);
};

describe("floating point through the core", () => {
  test("fadd.d with rm = dyn rounds by frm (all five modes), sets NX; a static rm overrides frm", () => {
    const h = new Hart();
    const one = 0x3ff0_0000_0000_0000n;
    const half = 0x3ca0_0000_0000_0000n; // 2^-53: exactly half an ulp of 1.0
    const up = 0x3ff0_0000_0000_0001n;
    const sign = 1n << 63n;
    const want: [number, bigint, bigint][] = [
      [0, one, one | sign], // RNE: ties to even
      [1, one, one | sign], // RTZ
      [2, one, up | sign], // RDN
      [3, up, one | sign], // RUP
      [4, up, up | sign], // RMM: ties away
    ];
    for (const [rm, pos, neg] of want) {
      fpProg(
        h,
        [
          I.fmv_d_x(1, A1),
          I.fmv_d_x(2, A2),
          I.fadd_d(3, 1, 2),
          I.fmv_x_d(A0, 3),
          I.fmv_d_x(1, S0),
          I.fmv_d_x(2, S1),
          I.fadd_d(3, 1, 2),
          I.fmv_x_d(A3, 3),
          I.csrr(T0, CSR.fflags),
        ],
        { [A1]: one, [A2]: half, [S0]: one | sign, [S1]: half | sign },
        rm,
      );
      assert.equal(hex(h.x(A0)), hex(pos), `rm ${rm}: 1 + 2^-53`);
      assert.equal(hex(h.x(A3)), hex(neg), `rm ${rm}: -1 - 2^-53`);
      assert.equal(h.x(T0), 1n, `rm ${rm}: fflags = NX`);
    }
    // static RUP in the instruction while frm = RNE
    fpProg(
      h,
      [I.fmv_d_x(1, A1), I.fmv_d_x(2, A2), I.fadd_d(3, 1, 2, 3), I.fmv_x_d(A0, 3)],
      { [A1]: one, [A2]: half },
      0,
    );
    assert.equal(h.x(A0), up);
  });

  test("an invalid frm (5, 6, 7) with rm = dyn and a reserved static rm are illegal", () => {
    const h = new Hart();
    for (const frm of [5, 6, 7]) {
      fpProg(h, [I.fadd_d(3, 1, 2)], {}, frm);
      assertTrap(h, 2n, BigInt(I.fadd_d(3, 1, 2)), CODE + 8n, `frm ${frm}`);
    }
    for (const rm of [5, 6]) {
      fpProg(h, [I.fadd_d(3, 1, 2, rm)], {}, 0);
      assertTrap(h, 2n, BigInt(I.fadd_d(3, 1, 2, rm)), CODE + 8n, `static rm ${rm}`);
    }
    const half = rType(0x53, 3, 0, 1, 2, 0x02); // fadd.h: fmt 2
    fpProg(h, [half], {}, 0);
    assertTrap(h, 2n, BigInt(half), CODE + 8n, "fmt H");
  });

  test("NaN boxing: fadd.s on a register that is not NaN-boxed gives the canonical NaN, no flags", () => {
    const h = new Hart();
    fpProg(
      h,
      [
        I.fmv_d_x(1, A1), // 1.0f without the upper ones: not a valid single
        I.fmv_w_x(2, A2), // 1.0f properly boxed
        I.fadd_s(3, 1, 2),
        I.fmv_x_d(A0, 3),
        I.fadd_s(4, 2, 2),
        I.fmv_x_d(A3, 4),
        I.fclass_s(S0, 1),
        I.fmv_x_w(S1, 1),
        I.csrr(T0, CSR.fflags),
      ],
      { [A1]: 0x3f80_0000n, [A2]: 0x3f80_0000n },
    );
    assert.equal(hex(h.x(A0)), hex(0xffff_ffff_7fc0_0000n), "canonical NaN, boxed");
    assert.equal(hex(h.x(A3)), hex(0xffff_ffff_4000_0000n), "2.0f, boxed");
    assert.equal(h.x(S0), 1n << 9n, "fclass.s of an unboxed value: quiet NaN");
    assert.equal(h.x(S1), 0x3f80_0000n, "fmv.x.w moves the low bits as they are");
    assert.equal(h.x(T0), 0n, "no flags");
  });

  test("fflags: DZ, NV, NX accrue and stay; FS becomes Dirty and SD reads 1", () => {
    const h = new Hart();
    const one = f64bits(1),
      zero = f64bits(0),
      three = f64bits(3),
      m1 = f64bits(-1);
    const steps: [string, Insn[], bigint, number][] = [
      ["1/0", [I.fdiv_d(3, 1, 2)], f64bits(Infinity), 0x08],
      ["0/0", [I.fdiv_d(3, 2, 2)], 0x7ff8_0000_0000_0000n, 0x10],
      ["1/3", [I.fdiv_d(3, 1, 4)], f64bits(1 / 3), 0x01],
      ["sqrt(-1)", [I.fsqrt_d(3, 5)], 0x7ff8_0000_0000_0000n, 0x10],
    ];
    for (const [name, insns, res, flag] of steps) {
      fpProg(
        h,
        [
          I.fmv_d_x(1, A1),
          I.fmv_d_x(2, A2),
          I.fmv_d_x(4, A3),
          I.fmv_d_x(5, S0),
          ...insns,
          I.fmv_x_d(A0, 3),
          I.csrr(T0, CSR.fflags),
        ],
        { [A1]: one, [A2]: zero, [A3]: three, [S0]: m1 },
      );
      assert.equal(hex(h.x(A0)), hex(res), name);
      assert.equal(h.x(T0), BigInt(flag), `${name}: fflags`);
    }
    fpProg(
      h,
      [
        I.fmv_d_x(1, A1),
        I.fmv_d_x(2, A2),
        I.fdiv_d(3, 1, 2),
        I.fdiv_d(3, 2, 2),
        I.csrr(T0, CSR.fflags),
        I.csrr(S1, CSR.mstatus),
      ],
      { [A1]: one, [A2]: zero },
    );
    assert.equal(h.x(T0), 0x18n, "flags accrue");
    assert.equal((h.x(S1) >> 13n) & 3n, 3n, "FS = Dirty");
    assert.equal(h.x(S1) >> 63n, 1n, "SD");
  });

  test("fadd/fsub/fmul/fdiv/fsqrt.d (RNE) agree bit for bit with the host on random operands", () => {
    const h = new Hart();
    const rng = new Rng(4);
    const rand = (): bigint => {
      // exponents clustered so that results are mostly normal, with some extremes
      const e = rng.int(10) === 0 ? BigInt(rng.int(2048)) : BigInt(1023 - 40 + rng.int(80));
      return ((rng.u64() & 1n) << 63n) | (e << 52n) | (rng.u64() & 0xf_ffff_ffff_ffffn);
    };
    const ops: [
      string,
      (d: number, a: number, b: number, rm?: number) => number,
      (a: number, b: number) => number,
    ][] = [
      ["fadd.d", I.fadd_d, (a, b) => a + b],
      ["fsub.d", I.fsub_d, (a, b) => a - b],
      ["fmul.d", I.fmul_d, (a, b) => a * b],
      ["fdiv.d", I.fdiv_d, (a, b) => a / b],
      ["fsqrt.d", (d, a) => I.fsqrt_d(d, a), (a) => Math.sqrt(a)],
    ];
    for (const [name, enc, ref] of ops) {
      for (let k = 0; k < 60; k++) {
        const a = rand();
        const b = rand();
        const r = ref(bitsF64(a), bitsF64(b));
        if (Number.isNaN(r)) continue; // NaN payloads differ by design (canonical NaN)
        fpProg(h, [I.fmv_d_x(1, A1), I.fmv_d_x(2, A2), enc(3, 1, 2, 0), I.fmv_x_d(A0, 3)], {
          [A1]: a,
          [A2]: b,
        });
        assert.equal(hex(h.x(A0)), hex(f64bits(r)), `${name} ${hex(a)} ${hex(b)}`);
      }
    }
  });
});

// ---- MMU -------------------------------------------------------------------------------------

const LOW_PA = RAM_BASE + 0x1000n; // code run in S/U
const DATA_PA = RAM_BASE + 0x2000n;
const DATA2_PA = RAM_BASE + 0x4000n; // deliberately not adjacent to DATA_PA
const EXTRA_PA = RAM_BASE + 0x7000n;
const POOL = RAM_BASE + 0x10_0000n;
const MEGA_PA = RAM_BASE + 0x20_0000n;
const LOW_VA = 0x40_0000n;
const DATA_VA = 0x60_0000n;
const MEGA_VA = 0x80_0000n;
const GIGA_VA = 0x4000_0000n;
const { V, R, W, X, U, A, D } = PTE;

interface LowerOpts {
  priv?: number;
  mstatus?: bigint;
  regs?: Record<number, bigint>;
  codeFlags?: bigint;
  budget?: number;
  medeleg?: bigint;
  stvec?: bigint;
}

/** run()'s result in the last lower() call. */
let lastExit = -1;

/**
 * Enters `insns` (followed by `j .`) at LOW_VA in S- or U-mode through mret with satp from `pt`.
 * Returns the VA of the final `j .` (where the hart sits if nothing trapped).
 */
function lower(h: Hart, pt: PageTable, insns: Insn[], o: LowerOpts = {}): bigint {
  const priv = o.priv ?? PRIV_S;
  start(h);
  h.code(CODE, [
    I.csrw(CSR.medeleg, T3),
    I.csrw(CSR.stvec, T4),
    I.csrw(CSR.satp, T0),
    I.csrw(CSR.mepc, T1),
    I.csrw(CSR.mstatus, T2),
    I.mret,
  ]);
  const end = h.code(LOW_PA, insns);
  h.code(end, [I.j(0)]);
  pt.map(LOW_VA, LOW_PA, o.codeFlags ?? V | R | X | A | (priv === PRIV_U ? U : 0n));
  h.setX(T0, pt.satp());
  h.setX(T1, LOW_VA);
  h.setX(T2, (BigInt(priv) << 11n) | (o.mstatus ?? 0n));
  h.setX(T3, o.medeleg ?? 0n);
  h.setX(T4, o.stvec ?? 0n);
  for (const [r, v] of Object.entries(o.regs ?? {})) h.setX(Number(r), v);
  lastExit = h.run(o.budget ?? 200);
  return LOW_VA + (end - LOW_PA);
}

for (const levels of [3, 4] as const) {
  const mode = levels === 3 ? "Sv39" : "Sv48";
  describe(`MMU ${mode}`, () => {
    const setup = (): { h: Hart; pt: PageTable } => {
      const h = new Hart();
      return { h, pt: new PageTable(h, levels, POOL) };
    };

    test("a mapped load works and sets A but not D; a store sets D", () => {
      const { h, pt } = setup();
      pt.map(DATA_VA, DATA_PA, V | R | W);
      h.w64(DATA_PA + 8n, 0x1122_3344_5566_7788n);
      const done = lower(h, pt, [I.ld(A0, S0, 8)], { regs: { [S0]: DATA_VA } });
      assertNoTrap(h, done, "load");
      assert.equal(h.priv(), PRIV_S);
      assert.equal(h.x(A0), 0x1122_3344_5566_7788n);
      assert.equal(pt.pte(DATA_VA) & (A | D), A, "A set by the load, D not");
      const done2 = lower(h, pt, [I.sd(A1, S0, 16)], {
        regs: { [S0]: DATA_VA, [A1]: 0x0bad_cafen },
      });
      assertNoTrap(h, done2, "store");
      assert.equal(h.r64(DATA_PA + 16n), 0x0bad_cafen);
      assert.equal(pt.pte(DATA_VA) & (A | D), A | D, "D set by the store");
    });

    test("unmapped: load → 13, store → 15, with mtval = the address and mepc = the instruction", () => {
      const { h, pt } = setup();
      lower(h, pt, [I.addi(A1, 0, 1), I.ld(A0, S0, 0)], { regs: { [S0]: 0x70_0008n } });
      assertTrap(h, 13n, 0x70_0008n, LOW_VA + 4n, "load");
      assert.equal((h.csr(CSR.mstatus) >> 11n) & 3n, 1n, "MPP = S");
      lower(h, pt, [I.sd(A0, S0, -8)], { regs: { [S0]: 0x70_0008n } });
      assertTrap(h, 15n, 0x70_0000n, LOW_VA, "store");
    });

    test("a write to a read-only page → 15 and memory is unchanged", () => {
      const { h, pt } = setup();
      pt.map(DATA_VA, DATA_PA, V | R | A);
      h.w64(DATA_PA, 0x5555n);
      lower(h, pt, [I.sd(A1, S0, 0)], { regs: { [S0]: DATA_VA, [A1]: 0x6666n } });
      assertTrap(h, 15n, DATA_VA, LOW_VA);
      assert.equal(h.r64(DATA_PA), 0x5555n);
      assert.equal(pt.pte(DATA_VA) & D, 0n, "no D on a failed store");
    });

    test("fetch from a page without X → 12", () => {
      const { h, pt } = setup();
      pt.map(DATA_VA, DATA_PA, V | R | W | A | D);
      h.code(DATA_PA, [I.j(0)]);
      lower(h, pt, [I.jalr(0, S0, 0)], { regs: { [S0]: DATA_VA } });
      assertTrap(h, 12n, DATA_VA, DATA_VA);
    });

    test("U pages from S: load faults without SUM, works with SUM; S never executes U pages", () => {
      const { h, pt } = setup();
      pt.map(DATA_VA, DATA_PA, V | R | W | U);
      h.w64(DATA_PA, 42n);
      lower(h, pt, [I.ld(A0, S0, 0)], { regs: { [S0]: DATA_VA } });
      assertTrap(h, 13n, DATA_VA, LOW_VA, "without SUM");
      const done = lower(h, pt, [I.ld(A0, S0, 0)], {
        regs: { [S0]: DATA_VA },
        mstatus: MSTATUS.SUM,
      });
      assertNoTrap(h, done, "with SUM");
      assert.equal(h.x(A0), 42n);
      lower(h, pt, [I.addi(0, 0, 0)], { codeFlags: V | R | X | U | A, mstatus: MSTATUS.SUM });
      assertTrap(h, 12n, LOW_VA, LOW_VA, "S fetching a U page");
    });

    test("U-mode: its own pages work, S pages fault", () => {
      const { h, pt } = setup();
      pt.map(DATA_VA, DATA_PA, V | R | W | U);
      pt.map(DATA_VA + 0x1000n, DATA2_PA, V | R | W);
      h.w64(DATA_PA, 7n);
      const done = lower(h, pt, [I.ld(A0, S0, 0)], { priv: PRIV_U, regs: { [S0]: DATA_VA } });
      assertNoTrap(h, done, "U page");
      assert.equal(h.priv(), PRIV_U);
      assert.equal(h.x(A0), 7n);
      lower(h, pt, [I.ld(A0, S0, 0)], {
        priv: PRIV_U,
        regs: { [S0]: DATA_VA + 0x1000n },
        mstatus: MSTATUS.SUM,
      });
      assertTrap(h, 13n, DATA_VA + 0x1000n, LOW_VA, "S page from U (SUM does not matter)");
      assert.equal((h.csr(CSR.mstatus) >> 11n) & 3n, 0n, "MPP = U");
    });

    test("MXR makes execute-only pages readable", () => {
      const { h, pt } = setup();
      pt.map(DATA_VA, DATA_PA, V | X | A);
      h.w64(DATA_PA, 99n);
      lower(h, pt, [I.ld(A0, S0, 0)], { regs: { [S0]: DATA_VA } });
      assertTrap(h, 13n, DATA_VA, LOW_VA, "without MXR");
      const done = lower(h, pt, [I.ld(A0, S0, 0)], {
        regs: { [S0]: DATA_VA },
        mstatus: MSTATUS.MXR,
      });
      assertNoTrap(h, done, "with MXR");
      assert.equal(h.x(A0), 99n);
    });

    test("2 MiB and 1 GiB superpages translate; misaligned superpages fault", () => {
      const { h, pt } = setup();
      pt.map(MEGA_VA, MEGA_PA, V | R | W | A | D, 1);
      pt.map(GIGA_VA, RAM_BASE, V | R | A, 2);
      h.w64(MEGA_PA + 0x1_2348n, 0xabcdn);
      h.w64(DATA_PA + 8n, 0x1234n);
      const done = lower(h, pt, [I.ld(A0, S0, 0), I.ld(A1, S1, 8)], {
        regs: { [S0]: MEGA_VA + 0x1_2348n, [S1]: GIGA_VA + (DATA_PA - RAM_BASE) },
      });
      assertNoTrap(h, done, "aligned superpages");
      assert.equal(h.x(A0), 0xabcdn);
      assert.equal(h.x(A1), 0x1234n);
      pt.map(MEGA_VA, MEGA_PA + 0x1000n, V | R | W | A | D, 1);
      lower(h, pt, [I.ld(A0, S0, 0)], { regs: { [S0]: MEGA_VA + 8n } });
      assertTrap(h, 13n, MEGA_VA + 8n, LOW_VA, "misaligned 2 MiB page");
      pt.map(GIGA_VA, MEGA_PA, V | R | A, 2);
      lower(h, pt, [I.ld(A0, S0, 0)], { regs: { [S0]: GIGA_VA + 16n } });
      assertTrap(h, 13n, GIGA_VA + 16n, LOW_VA, "misaligned 1 GiB page");
    });

    test("malformed PTEs fault: W without R, reserved bits, a pointer at level 0", () => {
      const { h, pt } = setup();
      for (const [name, pte] of [
        ["W without R", V | W | A | D],
        ["reserved bit 60", V | R | A | (1n << 60n)],
        ["PBMT bits without Svpbmt", V | R | A | (1n << 61n)],
      ] as const) {
        h.w64(pt.pteAddr(DATA_VA), ((DATA_PA >> 12n) << 10n) | pte);
        lower(h, pt, [I.ld(A0, S0, 0)], { regs: { [S0]: DATA_VA } });
        assertTrap(h, 13n, DATA_VA, LOW_VA, name);
      }
      h.w64(pt.pteAddr(DATA_VA), ((DATA2_PA >> 12n) << 10n) | V); // non-leaf at the last level
      lower(h, pt, [I.ld(A0, S0, 0)], { regs: { [S0]: DATA_VA } });
      assertTrap(h, 13n, DATA_VA, LOW_VA, "pointer at level 0");
    });

    test("non-canonical addresses fault; high canonical addresses translate", () => {
      const { h, pt } = setup();
      const high = 0xffff_ffff_c000_2000n;
      pt.map(high, DATA_PA, V | R | A);
      h.w64(DATA_PA, 0x77n);
      const done = lower(h, pt, [I.ld(A0, S0, 0)], { regs: { [S0]: high } });
      assertNoTrap(h, done, "high half");
      assert.equal(h.x(A0), 0x77n);
      pt.map(DATA_VA, DATA_PA, V | R | A);
      // Each differs from the mapped DATA_VA only in bits the walk ignores: without the
      // canonical-address check they would reach DATA_PA.
      const bad = [
        (1n << 63n) | DATA_VA,
        levels === 3 ? (1n << 39n) | DATA_VA : (1n << 48n) | DATA_VA,
      ];
      for (const va of bad) {
        lower(h, pt, [I.ld(A0, S0, 0)], { regs: { [S0]: va } });
        assertTrap(h, 13n, va, LOW_VA, `non-canonical ${hex(va)}`);
      }
      if (levels === 4) {
        // valid under Sv48 only
        const mid = 0x0000_0080_0000_0000n;
        pt.map(mid, DATA_PA, V | R | A);
        const d2 = lower(h, pt, [I.ld(A0, S0, 0)], { regs: { [S0]: mid } });
        assertNoTrap(h, d2, "Sv48 address above 2^39");
        assert.equal(h.x(A0), 0x77n);
      }
    });

    test("misaligned loads within a page and across pages mapped to non-adjacent frames", () => {
      const { h, pt } = setup();
      pt.map(DATA_VA, DATA_PA, V | R | W);
      pt.map(DATA_VA + 0x1000n, DATA2_PA, V | R | W);
      for (let i = 0; i < 8; i++) {
        h.w8(DATA_PA + 0xff8n + BigInt(i), 0xa0 + i);
        h.w8(DATA2_PA + BigInt(i), 0xb0 + i);
      }
      for (let i = 0; i < 16; i++) h.w8(DATA_PA + 0x10n + BigInt(i), 0xc0 + i);
      const done = lower(
        h,
        pt,
        [
          I.ld(A0, S0, 0xffd - 0x800),
          I.lw(A1, S0, 0xffe - 0x800),
          I.lh(A2, S0, 0xfff - 0x800),
          I.ld(A3, S0, 0x13 - 0x800),
          I.lhu(T5, S0, 0x11 - 0x800),
        ],
        { regs: { [S0]: DATA_VA + 0x800n } },
      );
      assertNoTrap(h, done, "misaligned loads");
      assert.equal(hex(h.x(A0)), hex(0xb4b3_b2b1_b0a7_a6a5n), "ld across the page boundary");
      assert.equal(hex(h.x(A1)), hex(0xffff_ffff_b1b0_a7a6n), "lw across");
      assert.equal(hex(h.x(A2)), hex(0xffff_ffff_ffff_b0a7n), "lh across");
      assert.equal(hex(h.x(A3)), hex(0xcac9_c8c7_c6c5_c4c3n), "ld within the page");
      assert.equal(hex(h.x(T5)), hex(0xc2c1n), "lhu within");
    });

    test("a misaligned store across pages writes both frames; if the second is read-only nothing is written", () => {
      const { h, pt } = setup();
      pt.map(DATA_VA, DATA_PA, V | R | W);
      pt.map(DATA_VA + 0x1000n, DATA2_PA, V | R | W);
      const done = lower(h, pt, [I.sd(A1, S0, 0)], {
        regs: { [S0]: DATA_VA + 0xffcn, [A1]: 0x8877_6655_4433_2211n },
      });
      assertNoTrap(h, done, "store across");
      assert.equal(h.r32(DATA_PA + 0xffcn), 0x4433_2211);
      assert.equal(h.r32(DATA2_PA), 0x8877_6655);
      pt.map(DATA_VA + 0x1000n, DATA2_PA, V | R | A);
      h.w64(DATA_PA + 0xff8n, 0n);
      h.w64(DATA2_PA, 0n);
      lower(h, pt, [I.sd(A1, S0, 0)], { regs: { [S0]: DATA_VA + 0xffcn, [A1]: U64(-1n) } });
      assert.equal(h.pc(), HANDLER);
      assert.equal(h.csr(CSR.mcause), 15n);
      const tval = h.csr(CSR.mtval);
      assert.ok(
        tval >= DATA_VA + 0x1000n && tval < DATA_VA + 0x1004n,
        `mtval ${hex(tval)} is in the faulting part`,
      );
      assert.equal(h.r64(DATA_PA + 0xff8n), 0n, "first page untouched");
      assert.equal(h.r64(DATA2_PA), 0n, "second page untouched");
    });

    test("a misaligned load whose second page is unmapped faults with mtval in that page", () => {
      const { h, pt } = setup();
      pt.map(DATA_VA, DATA_PA, V | R | W);
      lower(h, pt, [I.ld(A0, S0, 0)], { regs: { [S0]: DATA_VA + 0xffan, [A0]: 5n } });
      assert.equal(h.csr(CSR.mcause), 13n);
      const tval = h.csr(CSR.mtval);
      assert.ok(tval >= DATA_VA + 0x1000n && tval < DATA_VA + 0x1002n, `mtval ${hex(tval)}`);
      assert.equal(h.x(A0), 5n, "rd unchanged");
    });

    test("misaligned AMO → 6 and misaligned LR → 4, with mtval = the address", () => {
      const { h, pt } = setup();
      pt.map(DATA_VA, DATA_PA, V | R | W | A | D);
      lower(h, pt, [I.amoadd_d(A0, S0, A1)], { regs: { [S0]: DATA_VA + 4n, [A1]: 1n } });
      assertTrap(h, 6n, DATA_VA + 4n, LOW_VA, "amoadd.d");
      lower(h, pt, [I.amoswap_w(A0, S0, A1)], { regs: { [S0]: DATA_VA + 2n } });
      assertTrap(h, 6n, DATA_VA + 2n, LOW_VA, "amoswap.w");
      lower(h, pt, [I.sc_d(A0, S0, A1)], { regs: { [S0]: DATA_VA + 1n } });
      assertTrap(h, 6n, DATA_VA + 1n, LOW_VA, "sc.d");
      lower(h, pt, [I.lr_w(A0, S0)], { regs: { [S0]: DATA_VA + 2n } });
      assertTrap(h, 4n, DATA_VA + 2n, LOW_VA, "lr.w");
      // aligned ones work through the MMU
      h.w64(DATA_PA + 8n, 40n);
      const done = lower(
        h,
        pt,
        [I.amoadd_d(A0, S0, A1), I.lr_d(A2, S0), I.sc_d(A3, S0, A1), I.amomax_d(T5, S0, A1)],
        {
          regs: { [S0]: DATA_VA + 8n, [A1]: 2n },
        },
      );
      assertNoTrap(h, done, "aligned AMOs");
      assert.deepEqual([h.x(A0), h.x(A2), h.x(A3), h.x(T5)], [40n, 42n, 0n, 2n]);
      assert.equal(h.r64(DATA_PA + 8n), 2n);
    });

    test("an AMO to a read-only page is a store page fault (15)", () => {
      const { h, pt } = setup();
      pt.map(DATA_VA, DATA_PA, V | R | A);
      lower(h, pt, [I.amoadd_w(A0, S0, A1)], { regs: { [S0]: DATA_VA } });
      assertTrap(h, 15n, DATA_VA, LOW_VA);
    });

    test("a 32-bit instruction straddling two pages (non-adjacent frames) runs; second page unmapped → 12 at that page", () => {
      const { h, pt } = setup();
      pt.map(LOW_VA + 0x1000n, EXTRA_PA, V | R | X | A);
      const addi = I.addi(A0, 0, 123);
      h.w16(LOW_PA + 0xffen, addi & 0xffff);
      h.w16(EXTRA_PA, addi >>> 16);
      h.code(EXTRA_PA + 2n, [I.j(0)]);
      lower(h, pt, [I.jal(0, 0xffe)]);
      assertNoTrap(h, LOW_VA + 0x1002n, "straddling instruction");
      assert.equal(h.x(A0), 123n);
      const h2 = new Hart();
      const pt2 = new PageTable(h2, levels, POOL);
      h2.w16(LOW_PA + 0xffen, addi & 0xffff);
      lower(h2, pt2, [I.jal(0, 0xffe)]);
      assertTrap(h2, 12n, LOW_VA + 0x1000n, LOW_VA + 0xffen, "second half unmapped");
    });

    test("M-mode with MPRV and MPP = S translates loads and stores", () => {
      const { h, pt } = setup();
      pt.map(DATA_VA, DATA_PA, V | R | W | A | D);
      h.w64(DATA_PA, 0x4242n);
      prog(
        h,
        [
          I.csrw(CSR.satp, T0),
          I.csrw(CSR.mstatus, T2),
          I.ld(A0, S0, 0),
          I.csrw(CSR.mstatus, 0),
          I.ld(A1, S1, 0),
          I.j(0),
        ],
        {
          [T0]: pt.satp(),
          [T2]: MSTATUS.MPRV | MSTATUS.MPP_S,
          [S0]: DATA_VA,
          [S1]: DATA_PA,
        },
        5,
      );
      assertNoTrap(h, CODE + 20n, "MPRV");
      assert.equal(h.x(A0), 0x4242n, "translated");
      assert.equal(h.x(A1), 0x4242n, "untranslated again without MPRV");
    });

    test("sfence.vma makes a changed PTE visible", () => {
      const { h, pt } = setup();
      pt.map(DATA_VA, DATA_PA, V | R | W | A | D);
      const leaf = pt.pteAddr(DATA_VA);
      // Map the page-table page itself so S-mode can rewrite its own PTE.
      pt.map(0x90_0000n, leaf & ~0xfffn, V | R | W | A | D);
      h.w64(DATA_PA, 1n);
      h.w64(DATA2_PA, 2n);
      const newPte = ((DATA2_PA >> 12n) << 10n) | V | R | W | A | D;
      const done = lower(
        h,
        pt,
        [I.ld(A0, S0, 0), I.sd(A2, S1, 0), I.sfence_vma(0, 0), I.ld(A1, S0, 0)],
        {
          regs: { [S0]: DATA_VA, [S1]: 0x90_0000n + (leaf & 0xfffn), [A2]: newPte },
        },
      );
      assertNoTrap(h, done, "sfence program");
      assert.equal(h.x(A0), 1n);
      assert.equal(h.x(A1), 2n, "the new mapping after sfence.vma");
    });

    test("with medeleg a page fault from S goes to S: scause, stval, sepc, SPP", () => {
      const { h, pt } = setup();
      const stvec = LOW_VA + 0x100n;
      h.code(LOW_PA + 0x100n, [I.j(0)]);
      lower(h, pt, [I.ld(A0, S0, 0)], { regs: { [S0]: 0x70_0000n }, medeleg: 1n << 13n, stvec });
      assert.equal(h.pc(), stvec, "trapped to stvec");
      assert.equal(h.priv(), PRIV_S);
      assert.equal(h.csr(CSR.scause), 13n);
      assert.equal(h.csr(CSR.stval), 0x70_0000n);
      assert.equal(h.csr(CSR.sepc), LOW_VA);
      assert.equal(h.csr(CSR.mstatus) & MSTATUS.SPP, MSTATUS.SPP, "SPP = S");
      assert.equal(h.csr(CSR.mcause), 0n, "M saw nothing");
    });
  });
}

// ---- MMIO ------------------------------------------------------------------------------------

const UART = 0x1000_0000n;

describe("MMIO exits", () => {
  test("loads of every width leave the core with EXIT_MMIO and completeMmioLoad extends into rd", () => {
    const h = new Hart();
    const cases: [string, number, number, bigint, bigint][] = [
      ["lb", I.lb(A0, T0, 5), 1, 0x80n, 0xffff_ffff_ffff_ff80n],
      ["lbu", I.lbu(A0, T0, 5), 1, 0x80n, 0x80n],
      ["lh", I.lh(A0, T0, 6), 2, 0x8001n, 0xffff_ffff_ffff_8001n],
      ["lhu", I.lhu(A0, T0, 6), 2, 0x8001n, 0x8001n],
      ["lw", I.lw(A0, T0, 4), 4, 0x8000_0002n, 0xffff_ffff_8000_0002n],
      ["lwu", I.lwu(A0, T0, 4), 4, 0x8000_0002n, 0x8000_0002n],
      ["ld", I.ld(A0, T0, 8), 8, 0x8000_0000_0000_0003n, 0x8000_0000_0000_0003n],
    ];
    for (const [name, insn, size, value, want] of cases) {
      const r = prog(h, [insn, I.addi(A1, A0, 0), I.j(0)], { [T0]: UART, [A0]: 0x5555n }, 10);
      assert.equal(r, EXIT_MMIO, name);
      const off = BigInt((insn >>> 20) & 0xfff);
      assert.equal(U64(h.core.getMmioAddr()), UART + off, `${name}: address`);
      assert.equal(h.core.getMmioSize(), size, `${name}: size`);
      assert.equal(h.core.getMmioWrite(), 0, `${name}: a read`);
      assert.notEqual(h.core.getMmioPending(), 0, `${name}: a load is pending`);
      assert.equal(h.pc(), CODE + 4n, `${name}: pc is past the load`);
      assert.equal(h.x(A0), 0x5555n, `${name}: rd not yet written`);
      h.core.completeMmioLoad(S64(value));
      assert.equal(h.core.getMmioPending(), 0);
      assert.equal(hex(h.x(A0)), hex(want), `${name}: value`);
      assert.equal(h.run(10), EXIT_BUDGET);
      assert.equal(h.x(A1), want, `${name}: the next instruction sees it`);
    }
  });

  test("stores leave with EXIT_MMIO carrying address, size and value", () => {
    const h = new Hart();
    const v = 0x8877_6655_4433_2211n;
    for (const [name, insn, size] of [
      ["sb", I.sb(A1, T0, 0), 1],
      ["sh", I.sh(A1, T0, 2), 2],
      ["sw", I.sw(A1, T0, 4), 4],
      ["sd", I.sd(A1, T0, 8), 8],
    ] as const) {
      const r = prog(h, [insn, I.j(0)], { [T0]: UART, [A1]: v }, 10);
      assert.equal(r, EXIT_MMIO, name);
      assert.equal(h.core.getMmioWrite(), 1, name);
      assert.equal(h.core.getMmioSize(), size, name);
      assert.equal(U64(h.core.getMmioAddr()), UART + BigInt(size === 1 ? 0 : size), name);
      assert.equal(
        U64(h.core.getMmioValue()) & ((1n << BigInt(8 * size)) - 1n),
        v & ((1n << BigInt(8 * size)) - 1n),
        name,
      );
      assert.equal(h.pc(), CODE + 4n);
      assert.equal(h.run(5), EXIT_BUDGET);
      assertNoTrap(h, CODE + 4n, name);
    }
  });

  test("fld from MMIO completes into the FP register", () => {
    const h = new Hart();
    const r = prog(
      h,
      [I.csrs(CSR.mstatus, T6), I.fld(1, T0, 0), I.fmv_x_d(A0, 1), I.j(0)],
      { [T6]: MSTATUS.FS_INITIAL, [T0]: UART },
      10,
    );
    assert.equal(r, EXIT_MMIO);
    assert.equal(h.core.getMmioSize(), 8);
    h.core.completeMmioLoad(S64(0x4000_0000_0000_0001n));
    h.run(10);
    assert.equal(h.x(A0), 0x4000_0000_0000_0001n);
  });

  test("mmioFault() turns the access into a load (5) or store (7) access fault at the instruction", () => {
    const h = new Hart();
    assert.equal(
      prog(h, [I.addi(A2, 0, 1), I.lw(A0, T0, 0), I.j(0)], { [T0]: UART + 0x100n, [A0]: 9n }, 10),
      EXIT_MMIO,
    );
    h.core.mmioFault();
    assertTrap(h, 5n, UART + 0x100n, CODE + 4n, "load");
    assert.equal(h.x(A0), 9n, "rd unchanged");
    assert.equal(h.run(5), EXIT_BUDGET);
    assert.equal(prog(h, [I.sd(A0, T0, 8)], { [T0]: UART + 0x100n }, 10), EXIT_MMIO);
    h.core.mmioFault();
    assertTrap(h, 7n, UART + 0x108n, CODE, "store");
  });

  test("a faulting MMIO access does not count as retired (minstret)", () => {
    const h = new Hart();
    h.code(HANDLER + 0x10n, [I.csrr(S1, CSR.minstret), I.j(0)]);
    assert.equal(
      prog(h, [I.csrr(S0, CSR.minstret), I.lw(A0, T0, 0)], { [T0]: UART + 0x100n }, 10),
      EXIT_MMIO,
    );
    h.core.mmioFault();
    h.core.setPc(HANDLER + 0x10n);
    h.run(1);
    const plain = new Hart();
    plain.code(HANDLER + 0x10n, [I.csrr(S1, CSR.minstret), I.j(0)]);
    prog(plain, [I.csrr(S0, CSR.minstret), 0xffff_ffff], {}, 2);
    plain.core.setPc(HANDLER + 0x10n);
    plain.run(1);
    const illegalDelta = plain.x(S1) - plain.x(S0);
    assert.equal(
      h.x(S1) - h.x(S0),
      illegalDelta,
      "an MMIO load that faults retires like any other faulting instruction: not at all",
    );
  });

  test("a misaligned MMIO access is an access fault without leaving the core", () => {
    const h = new Hart();
    assert.equal(prog(h, [I.lw(A0, T0, 2)], { [T0]: UART }, 1), EXIT_BUDGET);
    assertTrap(h, 5n, UART + 2n, CODE);
  });

  test("AMOs on MMIO are store access faults; instruction fetch from MMIO is an instruction access fault", () => {
    const h = new Hart();
    assert.equal(prog(h, [I.amoadd_w(A0, T0, A1)], { [T0]: UART }, 1), EXIT_BUDGET);
    assertTrap(h, 7n, UART, CODE, "amoadd.w");
    prog(h, [I.jalr(0, T0, 0)], { [T0]: UART }, 2);
    assertTrap(h, 1n, UART, UART, "fetch");
  });

  test("an MMIO access through the MMU exits with the physical address; its fault reports the virtual one", () => {
    const h = new Hart();
    const pt = new PageTable(h, 3, POOL);
    pt.map(0x5000n, UART, V | R | W | A | D);
    lower(h, pt, [I.lbu(A0, S0, 5)], { regs: { [S0]: 0x5000n } });
    assert.equal(lastExit, EXIT_MMIO);
    assert.equal(h.pc(), LOW_VA + 4n);
    assert.equal(U64(h.core.getMmioAddr()), UART + 5n);
    assert.equal(h.core.getMmioPending() !== 0, true);
    h.core.mmioFault();
    assertTrap(h, 5n, 0x5005n, LOW_VA, "mtval must be the faulting virtual address");
  });

  test("the CLINT is served inside the core: mtime reads the host clock", () => {
    const h = new Hart();
    h.ticks = 123_456_789;
    assert.equal(
      prog(
        h,
        [I.ld(A0, T0, 0), I.lw(A1, T0, 4), I.csrr(A2, 0xc01), I.j(0)],
        { [T0]: 0x200_bff8n },
        3,
      ),
      EXIT_BUDGET,
    );
    assert.equal(h.x(A0), 123_456_789n);
    assert.equal(h.x(A1), 0n);
    assert.equal(h.x(A2), 123_456_789n, "rdtime");
  });
});

// ---- WFI, trap loops, timer -----------------------------------------------------------------

describe("WFI, trap-loop detector, timer", () => {
  test("WFI with nothing pending returns EXIT_WFI with pc past it", () => {
    const h = new Hart();
    assert.equal(prog(h, [I.addi(A0, 0, 1), I.wfi, I.addi(A0, 0, 2), I.j(0)], {}, 100), EXIT_WFI);
    assert.equal(h.pc(), CODE + 8n);
    assert.equal(h.x(A0), 1n);
    assert.equal(h.run(10), EXIT_BUDGET);
    assert.equal(h.x(A0), 2n);
  });

  test("WFI with an enabled interrupt pending falls through even with mstatus.MIE = 0", () => {
    const h = new Hart();
    // msip for hart 0: software interrupt pending; mie.MSIE set, MIE clear.
    const r = prog(
      h,
      [I.sw(A1, T0, 0), I.csrw(CSR.mie, A2), I.wfi, I.addi(A0, 0, 2), I.j(0)],
      {
        [T0]: 0x200_0000n,
        [A1]: 1n,
        [A2]: BigInt(MIP_MSIP),
      },
      100,
    );
    assert.equal(r, EXIT_BUDGET);
    assert.equal(h.x(A0), 2n);
    assert.ok((h.mip() & MIP_MSIP) !== 0, "MSIP is pending");
  });

  test("WFI in U-mode is illegal", () => {
    const h = new Hart();
    prog(h, [I.csrw(CSR.mepc, A1), I.csrw(CSR.mstatus, 0), I.mret], { [A1]: CODE + 0x100n }, 3);
    h.code(CODE + 0x100n, [I.wfi]);
    h.run(1);
    assertTrap(h, 2n, BigInt(I.wfi), CODE + 0x100n);
  });

  test("a trap loop (mtvec at unmapped 0x0) ends run() with EXIT_HALT and haltCause/haltPc set", () => {
    const h = new Hart();
    h.reset(CODE); // mtvec = 0
    h.code(CODE, [I.addi(A0, 0, 1), 0xffff_ffff]);
    const t = performance.now();
    const r = h.run(1_000_000);
    assert.equal(r, EXIT_HALT);
    assert.ok(performance.now() - t < 1000, "promptly");
    assert.equal(h.haltCause, 1n, "instruction access fault at 0x0");
    assert.equal(h.haltPc, 0n);
    assert.equal(h.haltTval, 0n);
    assert.equal(h.csr(CSR.mcause), 1n);
  });

  test("many traps that make progress in between are not a trap loop", () => {
    const h = new Hart();
    // loop: ecall; addi s0, s0, -1; bnez s0, loop; j .   handler: mepc += 4; mret
    h.code(HANDLER + 0x40n, [
      I.csrr(T0, CSR.mepc),
      I.addi(T0, T0, 4),
      I.csrw(CSR.mepc, T0),
      I.mret,
    ]);
    start(h, HANDLER + 0x40n);
    h.code(CODE, [I.ecall, I.addi(S0, S0, -1), I.bne(S0, 0, -8), I.j(0)]);
    h.setX(S0, 300n);
    assert.equal(h.run(100_000), EXIT_BUDGET);
    assert.equal(h.x(S0), 0n);
    assert.equal(h.pc(), CODE + 12n);
  });

  test("a trap loop through MMIO faults (handler = the faulting load) is detected too", () => {
    const h = new Hart();
    start(h, CODE); // mtvec points at the faulting load itself
    h.code(CODE, [I.ld(A0, 0, 0)]); // load from 0x0: an MMIO exit the bus cannot serve
    let r = EXIT_BUDGET;
    let exits = 0;
    for (; exits < 1000; exits++) {
      r = h.run(1000);
      if (r !== EXIT_MMIO) break;
      h.core.mmioFault();
    }
    assert.equal(
      r,
      EXIT_HALT,
      `after ${exits} MMIO faults the core never reported the loop (last exit ${r})`,
    );
    assert.equal(h.haltCause, 5n);
  });

  test("timer: mtimecmp (written by a guest sd) in the past sets MTIP, in the future clears it, time passing sets it", () => {
    const h = new Hart();
    h.ticks = 10_000;
    const mtimecmp = 0x200_4000n;
    prog(h, [I.sd(A1, T0, 0), I.csrr(A0, CSR.mip), I.j(0)], { [T0]: mtimecmp, [A1]: 5_000n }, 2);
    assert.ok((h.x(A0) & BigInt(MIP_MTIP)) !== 0n, `mip ${hex(h.x(A0))} has MTIP`);
    assert.ok((h.mip() & MIP_MTIP) !== 0);
    prog(h, [I.sd(A1, T0, 0), I.csrr(A0, CSR.mip), I.j(0)], { [T0]: mtimecmp, [A1]: 20_000n }, 2);
    assert.equal(h.x(A0) & BigInt(MIP_MTIP), 0n, "future mtimecmp: no MTIP");
    h.ticks = 20_000;
    h.core.setPc(CODE + 4n);
    h.run(1);
    assert.ok((h.x(A0) & BigInt(MIP_MTIP)) !== 0n, "time reached mtimecmp");
    // mtimecmp reads back through the CLINT, both halves
    prog(
      h,
      [I.sd(A1, T0, 0), I.ld(A2, T0, 0), I.lw(A3, T0, 4), I.j(0)],
      { [T0]: mtimecmp, [A1]: 0x1_0000_0005n },
      3,
    );
    assert.equal(h.x(A2), 0x1_0000_0005n);
    assert.equal(h.x(A3), 1n);
  });

  test("timer interrupt is taken right after an mtimecmp store puts the deadline in the past", () => {
    const h = new Hart();
    h.ticks = 10_000;
    prog(
      h,
      [
        I.sd(A1, T0, 0),
        I.csrw(CSR.mie, A2),
        I.csrs(CSR.mstatus, A3),
        I.sd(A4, T0, 0),
        I.addi(A0, 0, 1),
        I.j(0),
      ],
      { [T0]: 0x200_4000n, [A1]: 20_000n, [A4]: 5_000n, [A2]: BigInt(MIP_MTIP), [A3]: MSTATUS.MIE },
      5,
    );
    assertTrap(h, INT | 7n, 0n, CODE + 16n, "taken after the second sd");
    assert.equal(h.x(A0), 0n);
  });

  test("timer interrupt fires once mtime reaches mtimecmp", () => {
    const h = new Hart();
    h.ticks = 10_000;
    prog(
      h,
      [I.sd(A1, T0, 0), I.csrw(CSR.mie, A2), I.csrs(CSR.mstatus, A3), I.addi(A0, A0, 1), I.j(-4)],
      { [T0]: 0x200_4000n, [A1]: 20_000n, [A2]: BigInt(MIP_MTIP), [A3]: MSTATUS.MIE },
      50,
    );
    assert.equal(h.csr(CSR.mcause), 0n, "not yet");
    assert.ok(h.x(A0) > 10n, "the loop ran");
    h.ticks = 20_001;
    h.run(10);
    assert.equal(h.pc(), HANDLER);
    assert.equal(h.csr(CSR.mcause), INT | 7n);
    assert.equal(h.csr(CSR.mstatus) & MSTATUS.MIE, 0n, "MIE cleared");
    assert.equal(h.csr(CSR.mstatus) & MSTATUS.MPIE, MSTATUS.MPIE, "MPIE = old MIE");
  });

  test("a CLINT msip write raises a machine software interrupt at once", () => {
    const h = new Hart();
    prog(
      h,
      [I.csrw(CSR.mie, A2), I.csrs(CSR.mstatus, A3), I.sw(A1, T0, 0), I.addi(A0, 0, 1), I.j(0)],
      {
        [T0]: 0x200_0000n,
        [A1]: 1n,
        [A2]: BigInt(MIP_MSIP),
        [A3]: MSTATUS.MIE,
      },
      10,
    );
    assertTrap(h, INT | 3n, 0n, CODE + 12n);
    assert.equal(h.x(A0), 0n);
  });
});

// ---- privileged architecture odds and ends --------------------------------------------------

/** Runs `lowInsns` at CODE + 0x100 in privilege `priv` (satp = 0) with mstatus extra bits. */
function bareLower(
  h: Hart,
  priv: number,
  lowInsns: Insn[],
  mstatus = 0n,
  regs: Record<number, bigint> = {},
  budget = 20,
): void {
  prog(
    h,
    [I.csrw(CSR.mepc, T1), I.csrw(CSR.mstatus, T2), I.mret],
    { [T1]: CODE + 0x100n, [T2]: (BigInt(priv) << 11n) | mstatus },
    0,
  );
  h.code(CODE + 0x100n, [...lowInsns, I.j(0)]);
  for (const [r, v] of Object.entries(regs)) h.setX(Number(r), v);
  h.run(budget);
}

describe("privileged architecture", () => {
  test("ecall from U is cause 8, from S cause 9 (no SBI in this machine)", () => {
    const h = new Hart();
    bareLower(h, PRIV_U, [I.ecall]);
    assertTrap(h, 8n, 0n, CODE + 0x100n, "U");
    bareLower(h, PRIV_S, [I.ecall]);
    assertTrap(h, 9n, 0n, CODE + 0x100n, "S");
    assert.equal(
      h.core.run(1),
      EXIT_BUDGET,
      "an S-mode ecall never exits with EXIT_SBI when init(sbi = 0)",
    );
  });

  test("interrupt priority: MEI > MSI > MTI; vectored mtvec jumps to base + 4 * cause", () => {
    const h = new Hart();
    h.ticks = 10_000; // mtimecmp = 0: MTIP pending
    const base = RAM_BASE + 0x3000n;
    h.code(base, new Array(16).fill(I.j(0)));
    prog(
      h,
      [
        I.csrw(CSR.mtvec, T3),
        I.sw(A1, T0, 0),
        I.csrw(CSR.mie, A2),
        I.csrs(CSR.mstatus, A3),
        I.j(0),
      ],
      {
        [T3]: base | 1n,
        [T0]: 0x200_0000n,
        [A1]: 1n,
        [A2]: BigInt(MIP_MSIP | MIP_MTIP),
        [A3]: MSTATUS.MIE,
      },
      10,
    );
    assert.equal(h.csr(CSR.mcause), INT | 3n, "MSI before MTI");
    assert.equal(h.pc(), base + 12n, "vectored: base + 4 * 3");
    assert.equal(h.csr(CSR.mepc), CODE + 16n);
  });

  test("LR/SC: SC without a reservation or to another address fails and leaves memory alone; a pair succeeds once", () => {
    const h = new Hart();
    const a = RAM_BASE + 0x2000n;
    h.w64(a, 5n);
    h.w64(a + 8n, 6n);
    prog(
      h,
      [
        I.sc_d(A0, S0, A1), // no reservation: fails
        I.lr_d(A2, S0),
        I.sc_d(A3, S1, A1), // other address: fails
        I.lr_d(A2, S0),
        I.sc_d(A4, S0, A1), // succeeds
        I.sc_d(T5, S0, A1), // reservation gone: fails
        I.j(0),
      ],
      { [S0]: a, [S1]: a + 8n, [A1]: 99n },
      6,
    );
    assert.deepEqual([h.x(A0), h.x(A3), h.x(A4), h.x(T5)], [1n, 1n, 0n, 1n]);
    assert.deepEqual([h.r64(a), h.r64(a + 8n)], [99n, 6n]);
    assert.equal(h.x(A2), 5n);
  });

  test("32-bit AMOs sign-extend the old value and compare as 32-bit", () => {
    const h = new Hart();
    const a = RAM_BASE + 0x2000n;
    h.w64(a, 0xaaaa_aaaa_7fff_ffffn);
    prog(
      h,
      [I.amoadd_w(A0, S0, A1), I.amominu_w(A2, S0, A3), I.lr_w(A4, S0), I.j(0)],
      {
        [S0]: a,
        [A1]: 1n,
        [A3]: 0xffff_ffff_0000_0001n,
      },
      3,
    );
    assert.equal(h.x(A0), 0x7fff_ffffn);
    assert.equal(h.x(A2), 0xffff_ffff_8000_0000n, "old value sign-extended");
    assert.equal(
      h.r64(a),
      0xaaaa_aaaa_0000_0001n,
      "minu(0x80000000, 1) = 1; the upper word untouched",
    );
    assert.equal(h.x(A4), 1n);
  });

  test("CSR WARL fields: MPP=2 reads as U, unsupported satp modes are ignored, tvec modes 2/3 keep the old mode, mepc bit 0 is 0", () => {
    const h = new Hart();
    prog(
      h,
      [
        I.csrw(CSR.mstatus, A1),
        I.csrr(A0, CSR.mstatus),
        I.csrw(CSR.satp, A2),
        I.csrr(A3, CSR.satp),
        I.csrw(CSR.mtvec, A4),
        I.csrw(CSR.mtvec, T5),
        I.csrr(T6, CSR.mtvec),
        I.csrw(CSR.mepc, S0),
        I.csrr(S1, CSR.mepc),
        I.j(0),
      ],
      {
        [A1]: 2n << 11n,
        [A2]: (10n << 60n) | 0x1234n,
        [A4]: RAM_BASE | 1n,
        [T5]: RAM_BASE + 0x100n + 2n,
        [S0]: 0x8000_0001n,
      },
      9,
    );
    assert.equal((h.x(A0) >> 11n) & 3n, 0n);
    assert.equal(h.x(A3), 0n, "satp unchanged by a write of mode 10");
    assert.equal(
      h.x(T6),
      RAM_BASE + 0x100n + 1n,
      "mode 2 is reserved: the old vectored mode stays",
    );
    assert.equal(h.x(S1), 0x8000_0000n);
  });

  test("TSR, TW and TVM trap sret, wfi, sfence.vma and satp accesses in S-mode", () => {
    const h = new Hart();
    const TVM = 1n << 20n,
      TW = 1n << 21n,
      TSR = 1n << 22n;
    bareLower(h, PRIV_S, [I.sret], TSR);
    assertTrap(h, 2n, BigInt(I.sret), CODE + 0x100n, "sret with TSR");
    bareLower(h, PRIV_S, [I.wfi], TW);
    assertTrap(h, 2n, BigInt(I.wfi), CODE + 0x100n, "wfi with TW");
    bareLower(h, PRIV_S, [I.sfence_vma(0, 0)], TVM);
    assertTrap(h, 2n, BigInt(I.sfence_vma(0, 0)), CODE + 0x100n, "sfence.vma with TVM");
    bareLower(h, PRIV_S, [I.csrr(A0, CSR.satp)], TVM);
    assertTrap(h, 2n, BigInt(I.csrr(A0, CSR.satp)), CODE + 0x100n, "satp with TVM");
    bareLower(h, PRIV_S, [I.csrr(A0, CSR.satp), I.sfence_vma(0, 0)], 0n);
    assertNoTrap(h, CODE + 0x108n, "without TVM");
  });

  test("counters: U-mode rdtime/rdinstret need mcounteren and scounteren; M-mode CSRs are illegal below M", () => {
    const h = new Hart();
    h.ticks = 777;
    bareLower(h, PRIV_U, [I.csrr(A0, 0xc01)]);
    assertTrap(h, 2n, BigInt(I.csrr(A0, 0xc01)), CODE + 0x100n, "rdtime without mcounteren");
    prog(
      h,
      [I.csrw(0x306, A1), I.csrw(0x106, A1), I.csrw(CSR.mepc, T1), I.csrw(CSR.mstatus, 0), I.mret],
      { [A1]: 7n, [T1]: CODE + 0x100n },
      0,
    );
    h.code(CODE + 0x100n, [I.csrr(A0, 0xc01), I.csrr(A2, 0xc02), I.j(0)]);
    h.run(7);
    assertNoTrap(h, CODE + 0x108n, "rdtime with both enables");
    assert.equal(h.x(A0), 777n);
    assert.ok(h.x(A2) > 0n);
    bareLower(h, PRIV_S, [I.csrr(A0, CSR.mstatus)]);
    assertTrap(h, 2n, BigInt(I.csrr(A0, CSR.mstatus)), CODE + 0x100n, "mstatus from S");
    bareLower(h, PRIV_U, [I.csrr(A0, CSR.sstatus)]);
    assertTrap(h, 2n, BigInt(I.csrr(A0, CSR.sstatus)), CODE + 0x100n, "sstatus from U");
  });

  test("mret to S clears MPRV; MPIE becomes MIE and is then set", () => {
    const h = new Hart();
    prog(
      h,
      [I.csrw(CSR.mepc, T1), I.csrw(CSR.mstatus, T2), I.mret],
      {
        [T1]: CODE + 0x100n,
        [T2]: MSTATUS.MPP_S | MSTATUS.MPRV | MSTATUS.MPIE,
      },
      3,
    );
    h.code(CODE + 0x100n, [I.j(0)]);
    const s = h.csr(CSR.mstatus);
    assert.equal(h.priv(), PRIV_S);
    assert.equal(s & MSTATUS.MPRV, 0n, "MPRV cleared");
    assert.equal(s & MSTATUS.MIE, MSTATUS.MIE, "MIE = old MPIE");
    assert.equal(s & MSTATUS.MPIE, MSTATUS.MPIE, "MPIE set");
    assert.equal((s >> 11n) & 3n, 0n, "MPP = U");
  });
});

describe("counters: cycle and instret as Zicsr reads and writes them", () => {
  // The RISC-V unprivileged spec (Zicsr, "CSR Instructions"): "Some CSRs, such as the
  // instructions-retired counter, instret, may be modified as side effects of instruction
  // execution. In these cases, if a CSR access instruction reads a CSR, it reads the value
  // prior to the execution of the instruction. If a CSR access instruction writes such a CSR,
  // the write is done instead of the increment." And the privileged spec (mcycle/minstret):
  // "Any CSR write takes effect after the writing instruction has otherwise completed."
  // So a read returns the count of the instructions retired before it, and after
  // `csrw minstret, X` the next instruction reads X (+0): the writing instruction does not
  // count itself, and the reader reads the value from before its own retirement.
  // In this core cycle counts retired instructions (one per instruction, like instret): the
  // four CSRs are views of one counter, so a write through either machine CSR shows in all.
  const NOP = I.addi(0, 0, 0);
  const X = 0x1234_5678_9abc_def0n;
  const READERS: [string, number][] = [
    ["cycle", CSR.cycle],
    ["instret", CSR.instret],
    ["mcycle", CSR.mcycle],
    ["minstret", CSR.minstret],
  ];
  const WRITERS: [string, number][] = [
    ["mcycle", CSR.mcycle],
    ["minstret", CSR.minstret],
  ];

  /** Runs `insns` at CODE for `budget` instructions; returns the counter as the program began. */
  function counted(h: Hart, insns: Insn[], regs: Record<number, bigint>, budget: number): bigint {
    start(h);
    const base = U64(h.core.getInstret());
    h.code(CODE, insns);
    for (const [r, v] of Object.entries(regs)) h.setX(Number(r), v);
    assert.equal(h.run(budget), EXIT_BUDGET);
    return base;
  }

  for (const [name, csr] of READERS) {
    test(`csrr ${name} reads the count of the instructions before it, not itself`, () => {
      const h = new Hart();
      const base = counted(h, [I.csrr(A0, csr), NOP, NOP, NOP, I.csrr(A1, csr), I.j(0)], {}, 5);
      assertNoTrap(h, CODE + 20n, name);
      assert.equal(h.x(A0), base, "the first instruction of the program reads the count before it");
      assert.equal(h.x(A1), base + 4n, "after four instructions (the first read among them)");
      assert.equal(U64(h.core.getInstret()), base + 5n, "both reads retired");
    });
  }

  test("consecutive reads differ by exactly 1, across all four names of the one counter", () => {
    const h = new Hart();
    const base = counted(
      h,
      [
        I.csrr(A0, CSR.cycle),
        I.csrr(A1, CSR.instret),
        I.csrr(A2, CSR.mcycle),
        I.csrr(A3, CSR.minstret),
        I.csrr(A4, CSR.cycle),
        I.csrrs(S0, CSR.minstret, 0), // csrrs with rs1 = x0 does not write: it counts itself
        I.csrr(S1, CSR.minstret),
        I.j(0),
      ],
      {},
      7,
    );
    assertNoTrap(h, CODE + 28n);
    assert.deepEqual(
      [A0, A1, A2, A3, A4, S0, S1].map((r) => h.x(r) - base),
      [0n, 1n, 2n, 3n, 4n, 5n, 6n],
    );
  });

  for (const [wname, wcsr] of WRITERS)
    for (const [rname, rcsr] of READERS)
      test(`csrw ${wname}, X: the next csrr ${rname} reads X, the one after X + 1`, () => {
        const h = new Hart();
        const base = counted(
          h,
          [I.csrrw(A2, wcsr, T0), I.csrr(A0, rcsr), I.csrr(A1, rcsr), I.j(0)],
          { [T0]: X },
          3,
        );
        assertNoTrap(h, CODE + 12n);
        assert.equal(h.x(A2), base, "csrrw returns the count from before it");
        assert.equal(
          h.x(A0),
          X,
          "the write is done instead of the writing instruction's increment",
        );
        assert.equal(h.x(A1), X + 1n, "the first read retired");
        assert.equal(U64(h.core.getInstret()), X + 2n, "the counter the hart reports agrees");
      });

  test("writing back the value just read leaves the counter where it was", () => {
    // Tells "the write is done instead of the increment" from "the increment unless the
    // value changed": writing the current value must still replace the increment.
    const h = new Hart();
    const base = counted(
      h,
      [I.csrr(A0, CSR.minstret), I.csrw(CSR.minstret, A0), I.csrr(A1, CSR.minstret), I.j(0)],
      {},
      3,
    );
    assert.equal(h.x(A0), base);
    assert.equal(h.x(A1), base, "the csrw replaced its own increment");
  });

  test("immediate and set/clear forms modify the count from before the instruction", () => {
    const h = new Hart();
    counted(
      h,
      [
        I.csrw(CSR.mcycle, T0), // counter = 0xff
        I.csrrci(A0, CSR.minstret, 0x0f), // reads 0xff, writes 0xf0
        I.csrr(A1, CSR.cycle),
        I.csrrsi(A2, CSR.mcycle, 0x03), // reads 0xf1, writes 0xf3
        I.csrr(A3, CSR.instret),
        I.csrrwi(A4, CSR.minstret, 0x05), // reads 0xf4, writes 5
        I.csrr(S0, CSR.minstret),
        I.j(0),
      ],
      { [T0]: 0xffn },
      7,
    );
    assertNoTrap(h, CODE + 28n);
    assert.deepEqual(
      [A0, A1, A2, A3, A4, S0].map((r) => h.x(r)),
      [0xffn, 0xf0n, 0xf1n, 0xf3n, 0xf4n, 5n],
    );
  });

  test("a counter write that traps neither retires nor writes", () => {
    const h = new Hart();
    // cycle is read-only: writing it is an illegal instruction, which does not retire.
    const base = counted(h, [I.csrr(A0, CSR.minstret), I.csrw(CSR.cycle, T0)], { [T0]: X }, 2);
    assertTrap(h, 2n, BigInt(I.csrw(CSR.cycle, T0)), CODE + 4n, "csrw cycle");
    assert.equal(h.x(A0), base);
    assert.equal(U64(h.core.getInstret()), base + 1n, "only the read retired");
  });
});

describe("mip read-modify-write", () => {
  test("csrs mip does not latch the PLIC's SEIP line into the software SEIP bit", () => {
    // Regression: OpenSBI's `csrs mip, STIP` while the PLIC held SEIP high made SEIP stick
    // after the line dropped, and Linux then looped in its PLIC handler claiming nothing.
    const h = new Hart();
    const ext = (sharedBlock(0) + SH_EXT) >> 2;
    const i32 = new Int32Array(h.memory.buffer);
    Atomics.store(i32, ext, MIP_SEIP);
    prog(h, [I.csrrs(A0, CSR.mip, A2), I.j(0)], { [A2]: BigInt(MIP_STIP) }, 2);
    assert.ok((h.x(A0) & BigInt(MIP_SEIP)) !== 0n, "a read shows the line");
    Atomics.store(i32, ext, 0);
    assert.equal(h.mip() & MIP_SEIP, 0, "the software SEIP bit stayed clear");
    assert.ok((h.mip() & MIP_STIP) !== 0, "the written bit took");
  });
});

describe("instruction fetch at the edges of RAM", () => {
  // Hart's RAM ends where the WebAssembly memory ends: a read past it would be a wasm trap.
  const END = RAM_BASE + BigInt(new Hart().ramBytes);
  const LOW32 = 0x0013; // the low half of addi: a 32-bit encoding

  test("a 32-bit instruction in RAM's last halfword is an instruction access fault at RAM's end; a 16-bit one runs", () => {
    const h = new Hart();
    start(h);
    h.w16(END - 2n, LOW32);
    h.core.setPc(END - 2n);
    assert.equal(h.run(1), EXIT_BUDGET);
    assertTrap(h, 1n, END, END - 2n, "second half past RAM");
    start(h);
    h.w16(END - 2n, RVC.li(A0, 7).half);
    h.core.setPc(END - 2n);
    h.run(2);
    assert.equal(h.x(A0), 7n, "c.li ran");
    assertTrap(h, 1n, END, END, "the next fetch is past RAM");
  });

  test("an odd pc is an instruction access fault (xepc bit 0 clear), never a read past RAM or the page", () => {
    // RAM's last bytes, a page's last bytes, and inside the page the fetch cache holds.
    for (const pc of [END - 1n, END - 3n, CODE + 0xfffn, CODE + 0xffdn, CODE + 0x101n]) {
      const h = new Hart();
      start(h);
      h.code(CODE, [I.j(0)]);
      // 0xff bytes around pc: any halfword there reads as the start of a 32-bit encoding.
      h.fill(pc - 1n, new Uint8Array(END - pc >= 3n ? 4 : Number(END - pc) + 1).fill(0xff));
      h.core.setPc(CODE);
      h.run(1); // the fetch cache now holds CODE's page
      h.core.setPc(pc);
      assert.equal(h.run(1), EXIT_BUDGET, hex(pc));
      assertTrap(h, 1n, pc, pc - 1n, hex(pc));
    }
  });

  test("SBI hart_start at RAM's last byte: the new hart takes an instruction access fault, the core does not trap", () => {
    const h = new Hart();
    assert.equal(h.core.init(1, RAM_BASE, BigInt(h.ramBytes), 1), 1);
    h.w8(END - 1n, 0xff);
    h.core.hartStart(END - 1n, 0n);
    assert.equal(h.run(1), EXIT_BUDGET);
    assert.equal(h.priv(), PRIV_S, "delegated to S");
    assert.equal(h.csr(0x142), 1n, "scause");
    assert.equal(h.csr(0x143), END - 1n, "stval");
    assert.equal(h.csr(0x141), END - 2n, "sepc");
    // stvec is 0 after hart_start: a trap loop, which the VMM reports and ends the VM for.
    assert.equal(h.run(1000), EXIT_HALT);
    assert.equal(h.haltCause, 1n);
  });
});
