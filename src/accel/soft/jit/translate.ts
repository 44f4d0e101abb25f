// Translates the guest code reachable from one entry, within its 4 KiB page, into one
// WebAssembly function (a region of at most MAX_REGION_BLOCKS blocks; docs/jit.md). The function
// takes the entry's offset in the page, the budget, instret and the data TLB key; it keeps the
// integer registers it uses in locals, runs blocks that branch to each other inside the region
// without returning (a loop around a br_table on the offset), and returns a status (the core's
// jit.ts JS_*) with pc, instret and the budget left in the hart's ABI block. A jump out of the
// region returns to the core, which enters that target's own region. What it does not translate
// it leaves to the interpreter one instruction at a time (JS_INTERP).
import { Bytes, I32, I64, OP, type FuncImport } from "./wasm-encoder.js";
import {
  ABS_PC, Emitter, L_A, L_B, L_E, L_IR, L_KEY, L_KEYQ, L_LEN, L_N, L_OFF, L_PC, L_PO, L_ST, PAGE,
  G_DATA_KEY, declareLocals, fastPath, xl,
} from "./emitter.js";

export { GLOBALS } from "./emitter.js";
import { emitFpFast, hasFpFast } from "./translate-fp.js";

export const JS_JUMP = 0;
export const JS_INTERP = 1;
export const JS_FAULT = 2;

const ABI_PC = 0;
const ABI_NEXT = 8;
const ABI_IR = 16;
const ABI_N = 24;

// The interpreter's load kinds (cpu/exec.ts LK_*), for jitLoad's MMIO completion.
const LOAD_KINDS = [1, 2, 3, 4, 5, 6, 7]; // f3 0..6: lb lh lw ld lbu lhu lwu
const LOAD_SIZES = [1, 2, 4, 8, 1, 2, 4];
const LOAD_OPS = [OP.i64Load8S, OP.i64Load16S, OP.i64Load32S, OP.i64Load, OP.i64Load8U, OP.i64Load16U, OP.i64Load32U];
const STORE_OPS = [OP.i64Store8, OP.i64Store16, OP.i64Store32, OP.i64Store];

/** Bound: a block ends after this many instructions (the budget is checked per block). */
const MAX_BLOCK = 128;
/**
 * Bound: blocks in one region. V8 compiles a function of many blocks (each a br_table target
 * inside one loop) into code whose every entry is slower, and its optimizing compiler's time
 * grows faster than the function: at 24 blocks a Debian boot spent about 10 s of CPU in V8's
 * compiler threads at 8192 jumps, 5 s at 32768; 8 blocks halved that with the same spread.
 */
const MAX_REGION_BLOCKS = 8;

export const IMPORTS: FuncImport[] = [
  { name: "jitLoad", params: [I64, I32, I32], results: [I64] },
  { name: "jitStore", params: [I64, I32, I64], results: [] },
  { name: "jitFault", params: [], results: [I32] },
  { name: "jitMulDiv", params: [I64, I64, I32], results: [I64] },
  { name: "jitExec", params: [I32, I32], results: [I32] },
  { name: "jitFence", params: [], results: [] },
  { name: "jitCsr", params: [I32, I32], results: [I32] },
];
const F_LOAD = 0;
const F_STORE = 1;
const F_FAULT = 2;
const F_MULDIV = 3;
const F_EXEC = 4;
const F_FENCE = 5;
const F_CSR = 6;
const JS_CHECK = 4;


export interface PageContext {
  /** Virtual address of the page (a multiple of 4096). */
  pageVa: bigint;
  /** Where the page's code version is, and the version this translation is made at. */
  versionSlot: number;
  version: number;
  /** The page's bytes as the translator saw them. */
  code: Uint8Array;
  /** The entry's offset in the page. */
  entry: number;
  /** The 32-bit form of a compressed encoding, 0 if it is illegal. */
  expand(half: number): number;
  /** This hart's register files, ABI block and data TLBs (addresses in the shared memory). */
  xBase: number;
  fBase: number;
  abi: number;
  tlbR: number;
  tlbW: number;
}

interface Insn {
  off: number;
  len: number;
  inst: number; // 32-bit form
  raw: number; // as fetched (16 bits for a compressed one): an illegal instruction's tval
}

/** The type of every translated function: (offset, budget, instret, data TLB key) -> status. */
export const FUNC_PARAMS = [I32, I32, I64, I32];
export const FUNC_RESULTS = [I32];

export interface Translation {
  /** The function's body (locals and code): moduleBytes() puts one or more in a module. */
  body: Uint8Array;
  blocks: number;
  instructions: number;
}

function decode(code: Uint8Array, off: number, expand: (h: number) => number): Insn | null {
  if (off + 2 > PAGE) return null;
  const lo = code[off]! | (code[off + 1]! << 8);
  if ((lo & 3) !== 3) return { off, len: 2, inst: expand(lo) >>> 0, raw: lo };
  if (off + 4 > PAGE) return null; // straddles the page: the interpreter's
  const inst = (lo | (code[off + 2]! << 16) | (code[off + 3]! << 24)) >>> 0;
  return { off, len: 4, inst, raw: inst };
}

const sext = (v: number, bits: number): number => (v << (32 - bits)) >> (32 - bits);
const immI = (i: number): number => i >> 20;
const immS = (i: number): number => ((i >> 25) << 5) | ((i >>> 7) & 31);
const immB = (i: number): number =>
  sext(((i >>> 31) << 12) | (((i >>> 7) & 1) << 11) | (((i >>> 25) & 63) << 5) | (((i >>> 8) & 15) << 1), 13);
const immJ = (i: number): number =>
  sext(((i >>> 31) << 20) | (i & 0xff000) | (((i >>> 20) & 1) << 11) | (((i >>> 21) & 0x3ff) << 1), 21);

/** Whether the translator emits `inst` itself (else the interpreter runs it). */
function translatable(inst: number): boolean {
  const f3 = (inst >>> 12) & 7;
  const f7 = inst >>> 25;
  switch (inst & 0x7f) {
    case 0x13:
      if (f3 === 1) return inst >>> 26 === 0;
      if (f3 === 5) return inst >>> 26 === 0 || inst >>> 26 === 0x10;
      return true;
    case 0x33:
      return f7 === 0 || f7 === 1 || (f7 === 0x20 && (f3 === 0 || f3 === 5));
    case 0x1b:
      return f3 === 0 || (f3 === 1 && f7 === 0) || (f3 === 5 && (f7 === 0 || f7 === 0x20));
    case 0x3b:
      if (f7 === 0) return f3 === 0 || f3 === 1 || f3 === 5;
      if (f7 === 0x20) return f3 === 0 || f3 === 5;
      if (f7 === 1) return f3 === 0 || f3 >= 4;
      return false;
    case 0x37:
    case 0x17:
    case 0x6f:
      return true;
    case 0x67:
      return f3 === 0;
    case 0x63:
      return f3 !== 2 && f3 !== 3;
    case 0x03:
      return f3 !== 7;
    case 0x23:
      return f3 <= 3;
    case 0x0f:
      return f3 === 0; // fence (fence.i is the interpreter's)
    case 0x73: {
      // CSR instructions but the counters (their reads depend on instret: the interpreter's).
      const csr = inst >>> 20;
      return f3 !== 0 && f3 !== 4 && (csr & 0xe00) !== 0xc00 && (csr & 0xf00) !== 0xb00;
    }
    default:
      return byCore(inst);
  }
}

/**
 * AMOs, LR/SC, F and D: the core runs them (jit-calls.ts jitExec) on the registers in memory,
 * illegal encodings included (it raises the trap the interpreter would).
 */
function byCore(inst: number): boolean {
  switch (inst & 0x7f) {
    case 0x2f: case 0x07: case 0x27: case 0x43: case 0x47: case 0x4b: case 0x4f: case 0x53:
      return true;
    default:
      return false;
  }
}

/** Whether a byCore() instruction writes an integer register (rd). */
function writesX(inst: number): boolean {
  if ((inst & 0x7f) === 0x2f) return true;
  if ((inst & 0x7f) !== 0x53) return false;
  const f5 = inst >>> 27;
  return f5 === 0x14 || f5 === 0x18 || f5 === 0x1c; // compares, fcvt to integer, fmv.x/fclass
}

const isJump = (inst: number): boolean => {
  const op = inst & 0x7f;
  return op === 0x63 || op === 0x6f || op === 0x67;
};

/** Block starts of the region: reachable from the entry inside the page, breadth first. */
function findBlocks(ctx: PageContext): number[] {
  const starts = new Set<number>();
  const work: number[] = [];
  const add = (o: number): void => {
    if (starts.size >= MAX_REGION_BLOCKS) return;
    if (o >= 0 && o < PAGE && (o & 1) === 0 && !starts.has(o)) {
      starts.add(o);
      work.push(o);
    }
  };
  add(ctx.entry);
  for (let w = 0; w < work.length; w++) {
    let off = work[w]!;
    for (let n = 0; n < MAX_BLOCK; n++) {
      const d = decode(ctx.code, off, ctx.expand);
      if (!d) break;
      const { inst, len } = d;
      if (inst === 0 || !translatable(inst)) break;
      const op = inst & 0x7f;
      if (op === 0x63) {
        add(off + len);
        add(off + immB(inst));
        break;
      }
      if (op === 0x6f) {
        add(off + immJ(inst));
        break;
      }
      if (op === 0x67) break;
      off += len;
      if (starts.has(off)) break;
    }
  }
  return [...starts].sort((a, b) => a - b);
}

/**
 * Emits the function for the page in `ctx`. Bound: at most one block per even offset of the
 * page, MAX_BLOCK instructions per block.
 */
export function translatePage(ctx: PageContext): Translation {
  const starts = findBlocks(ctx);
  const startSet = new Set(starts);
  const blockOf = new Map(starts.map((s, i) => [s, i]));
  const e = new Emitter();
  // Addresses as signed numbers: canonical Sv39/Sv48 addresses and RAM fit in 53 bits.
  const pageVa = Number(BigInt.asIntN(64, ctx.pageVa));
  let instructions = 0;

  /** Leaves the function: status, pc (as its offset from the page), instret advanced by `retired`. */
  // The budget is taken for a whole block at its start: an exit inside the block gives back
  // what the block did not run (`blockLen` - retired), so the budget stays exact.
  let blockLen = 0;
  const exitIn = (status: number, pcOff: number, retired: number, len?: number): void => {
    if (blockLen !== retired) e.get(L_N).i32(blockLen - retired).op(OP.i32Add).set(L_N);
    exit(status, pcOff, retired, len);
  };
  const exit = (status: number, pcOff: number, retired: number, len?: number): void => {
    e.i32(status).set(L_ST).i32(pcOff).set(L_PO);
    if (len !== undefined) e.i32(len).set(L_LEN);
    if (retired !== 0) e.get(L_IR).i64(retired).op(OP.i64Add).set(L_IR);
    e.br("exit");
  };
  /**
   * Goes from body `from` to the code at page offset `target` (instret already advanced): falls
   * into the next body when `fallsThrough`, branches forward to a later body directly (body i
   * sits just after the end of block b{i}, which encloses every earlier body), and goes back
   * through the loop's br_table only for an earlier body. Forward branches then add no edge to
   * the loop, which V8 compiles faster and runs without the table.
   */
  const goTo = (target: number, from: number, fallsThrough: boolean): void => {
    const t = blockOf.get(target);
    if (t !== undefined && fallsThrough && t === from + 1) return; // the next body follows
    if (t !== undefined && t > from) {
      e.br(`b${t}`);
      return;
    }
    if (t !== undefined) {
      e.i32(target).set(L_OFF).br("disp");
      return;
    }
    exit(JS_JUMP, target, 0);
  };

  e.get(L_KEY).op(OP.i64ExtendI32U).set(L_KEYQ);
  e.open(OP.block, "exit");
  e.open(OP.loop, "disp");
  e.open(OP.block, "miss");
  for (let i = starts.length - 1; i >= 0; i--) e.open(OP.block, `b${i}`);
  // br_table on (off - first) >> 1 over [first, last start]; anything else leaves the region.
  const first = starts.length > 0 ? starts[0]! : 0;
  const last = starts.length > 0 ? starts[starts.length - 1]! : 0;
  e.get(L_OFF).i32(first).op(OP.i32Sub).i32(1).op(OP.i32ShrU);
  e.b.byte(OP.brTable).u32(((last - first) >> 1) + 1);
  for (let o = first; o <= last; o += 2) {
    const bi = blockOf.get(o);
    e.b.u32(bi !== undefined ? e.depth(`b${bi}`) : e.depth("miss"));
  }
  e.b.u32(e.depth("miss"));

  starts.forEach((start, bi) => {
    e.end(); // end of block b{bi}: its body follows
    let off = start;
    let k = 0; // instructions of this block so far
    const insns: Insn[] = [];
    let straddles = false; // stopped at an instruction that crosses the page's end
    for (let n = 0; n < MAX_BLOCK; n++) {
      const d = decode(ctx.code, off, ctx.expand);
      if (!d) {
        straddles = off < PAGE;
        break;
      }
      insns.push(d);
      if (d.inst === 0 || !translatable(d.inst) || isJump(d.inst)) break;
      off += d.len;
      if (startSet.has(off)) break;
    }
    const lenRetired = insns.filter((d) => d.inst !== 0 && translatable(d.inst)).length;
    blockLen = lenRetired;
    if (lenRetired > 0) {
      // The budget is exact, as the interpreter's: a block that would overrun it is left to
      // the interpreter, one instruction at a time.
      e.get(L_N).i32(lenRetired).op(OP.i32LtS).open(OP.if, "budget");
      exit(JS_INTERP, start, 0);
      e.end();
      e.get(L_N).i32(lenRetired).op(OP.i32Sub).set(L_N);
    }
    let ended = false;
    for (const d of insns) {
      const { inst, len } = d;
      const at = d.off;
      const pcNum = pageVa + at;
      if (inst === 0 || !translatable(inst)) {
        exit(JS_INTERP, at, k);
        ended = true;
        break;
      }
      instructions++;
      const rd = (inst >>> 7) & 31;
      const f3 = (inst >>> 12) & 7;
      const rs1 = (inst >>> 15) & 31;
      const rs2 = (inst >>> 20) & 31;
      const f7 = inst >>> 25;
      switch (inst & 0x7f) {
        case 0x13: {
          const imm = immI(inst);
          e.x(rs1);
          switch (f3) {
            case 0: e.i64(imm).op(OP.i64Add); break;
            case 1: e.i64(imm & 63).op(OP.i64Shl); break;
            case 2: e.i64(imm).op(OP.i64LtS).op(OP.i64ExtendI32U); break;
            case 3: e.i64(imm).op(OP.i64LtU).op(OP.i64ExtendI32U); break;
            case 4: e.i64(imm).op(OP.i64Xor); break;
            case 5: e.i64(imm & 63).op(inst >>> 26 === 0 ? OP.i64ShrU : OP.i64ShrS); break;
            case 6: e.i64(imm).op(OP.i64Or); break;
            default: e.i64(imm).op(OP.i64And); break;
          }
          e.setX(rd);
          break;
        }
        case 0x33: {
          if (f7 === 1 && f3 >= 4) {
            divRem(e, rs1, rs2, f3, 64);
            e.setX(rd);
            break;
          }
          e.x(rs1).x(rs2);
          if (f7 === 1) {
            if (f3 === 0) e.op(OP.i64Mul);
            else e.i32(f3).call(F_MULDIV);
          } else if (f7 === 0x20) {
            e.op(f3 === 0 ? OP.i64Sub : OP.i64ShrS);
          } else {
            switch (f3) {
              case 0: e.op(OP.i64Add); break;
              case 1: e.op(OP.i64Shl); break;
              case 2: e.op(OP.i64LtS).op(OP.i64ExtendI32U); break;
              case 3: e.op(OP.i64LtU).op(OP.i64ExtendI32U); break;
              case 4: e.op(OP.i64Xor); break;
              case 5: e.op(OP.i64ShrU); break;
              case 6: e.op(OP.i64Or); break;
              default: e.op(OP.i64And); break;
            }
          }
          e.setX(rd);
          break;
        }
        case 0x1b: {
          const imm = immI(inst);
          e.x(rs1).op(OP.i32WrapI64);
          if (f3 === 0) e.i32(imm).op(OP.i32Add);
          else if (f3 === 1) e.i32(imm & 31).op(OP.i32Shl);
          else e.i32(imm & 31).op(f7 === 0 ? OP.i32ShrU : OP.i32ShrS);
          e.op(OP.i64ExtendI32S).setX(rd);
          break;
        }
        case 0x3b: {
          if (f7 === 1 && f3 !== 0) {
            divRem(e, rs1, rs2, f3, 32);
            e.setX(rd);
            break;
          }
          e.x(rs1).op(OP.i32WrapI64).x(rs2).op(OP.i32WrapI64);
          if (f7 === 1) e.op(OP.i32Mul);
          else if (f7 === 0x20) e.op(f3 === 0 ? OP.i32Sub : OP.i32ShrS);
          else e.op(f3 === 0 ? OP.i32Add : f3 === 1 ? OP.i32Shl : OP.i32ShrU);
          e.op(OP.i64ExtendI32S).setX(rd);
          break;
        }
        case 0x37:
          e.i64(inst & 0xfffff000 | 0).setX(rd);
          break;
        case 0x17:
          e.i64(pcNum + (inst & 0xfffff000 | 0)).setX(rd);
          break;
        case 0x6f: {
          e.i64(pcNum + len).setX(rd);
          e.get(L_IR).i64(k + 1).op(OP.i64Add).set(L_IR);
          const t = at + immJ(inst);
          if (t >= 0 && t < PAGE) goTo(t, bi, false);
          else exit(JS_JUMP, t, 0);
          ended = true;
          break;
        }
        case 0x67: {
          // The target before rd is written (rd may be rs1).
          e.x(rs1).i64(immI(inst)).op(OP.i64Add).i64(-2).op(OP.i64And).set(L_A);
          e.i64(pcNum + len).setX(rd);
          e.get(L_IR).i64(k + 1).op(OP.i64Add).set(L_IR);
          // Inside this page: dispatch here; else leave.
          e.get(L_A).i64(-4096).op(OP.i64And).i64(pageVa).op(OP.i64Eq);
          e.open(OP.if, "jalr");
          e.get(L_A).op(OP.i32WrapI64).i32(0xfff).op(OP.i32And).set(L_OFF).br("disp");
          e.end();
          e.i32(JS_JUMP).set(L_ST).i32(ABS_PC).set(L_PO).get(L_A).set(L_PC).br("exit");
          ended = true;
          break;
        }
        case 0x63: {
          e.get(L_IR).i64(k + 1).op(OP.i64Add).set(L_IR);
          e.x(rs1).x(rs2);
          e.op([OP.i64Eq, OP.i64Ne, 0, 0, OP.i64LtS, OP.i64GeS, OP.i64LtU, OP.i64GeU][f3]!);
          const t = at + immB(inst);
          e.open(OP.if, "taken");
          if (t >= 0 && t < PAGE) goTo(t, bi, false);
          else exit(JS_JUMP, t, 0);
          e.end();
          const ft = at + len;
          if (ft < PAGE) goTo(ft, bi, true);
          else exit(JS_JUMP, ft, 0);
          ended = true;
          break;
        }
        case 0x03: {
          const size = LOAD_SIZES[f3]!;
          e.x(rs1).i64(immI(inst)).op(OP.i64Add).set(L_A);
          e.open(OP.block, "done", I64);
          e.open(OP.block, "slow");
          fastPath(e, size, ctx.tlbR);
          e.mem(LOAD_OPS[f3]!).br("done");
          e.end();
          e.get(L_A).i32(LOAD_KINDS[f3]!).i32(rd).call(F_LOAD);
          e.call(F_FAULT).open(OP.if, "fault");
          exitIn(JS_FAULT, at, k, len);
          e.end();
          e.end();
          e.setX(rd);
          break;
        }
        case 0x0f:
          e.call(F_FENCE);
          break;
        case 0x73: {
          if (f3 < 4 && rs1 !== 0) e.i32(ctx.xBase + rs1 * 8).x(rs1).mem(OP.i64Store);
          e.i32(inst | 0).i32(d.raw | 0).call(F_CSR).set(L_E);
          e.get(L_E).i32(2).op(OP.i32Eq).open(OP.if, "fault");
          exitIn(JS_FAULT, at, k, len);
          e.end();
          if (rd !== 0) e.i32(ctx.xBase + rd * 8).mem(OP.i64Load).setX(rd);
          e.get(L_E).open(OP.if, "check");
          exitIn(JS_CHECK, at + len, k + 1);
          e.end();
          const csr = inst >>> 20;
          if (csr === 0x100 || csr === 0x300) {
            // sstatus/mstatus: SUM and MPRV are part of the data TLB key (jitCsr stays for them).
            e.global(G_DATA_KEY).tee(L_KEY).op(OP.i64ExtendI32U).set(L_KEYQ);
          }
          break;
        }
        case 0x2f: case 0x07: case 0x27: case 0x43: case 0x47: case 0x4b: case 0x4f: case 0x53: {
          const inline = hasFpFast(inst);
          if (inline) {
            e.open(OP.block, "fpdone");
            e.open(OP.block, "slow");
            emitFpFast(e, inst, ctx);
            e.br("fpdone");
            e.end();
          }
          // The core reads the integer registers from memory: store the ones it may read.
          for (const r of new Set([rs1, rs2])) if (r !== 0) e.i32(ctx.xBase + r * 8).x(r).mem(OP.i64Store);
          e.i32(inst | 0).i32(d.raw | 0).call(F_EXEC).open(OP.if, "fault");
          exitIn(JS_FAULT, at, k, len);
          e.end();
          if (writesX(inst) && rd !== 0) e.i32(ctx.xBase + rd * 8).mem(OP.i64Load).setX(rd);
          const op = inst & 0x7f;
          if (op === 0x2f || op === 0x27) {
            // It may have written this very page: then its code is stale, leave.
            e.i32(ctx.versionSlot).mem(OP.i32Load).i32(ctx.version | 0).op(OP.i32Ne).open(OP.if, "stale");
            exitIn(JS_JUMP, at + len, k + 1);
            e.end();
          }
          if (inline) e.end();
          break;
        }
        case 0x23: {
          const size = 1 << f3;
          e.x(rs1).i64(immS(inst)).op(OP.i64Add).set(L_A);
          e.open(OP.block, "done");
          e.open(OP.block, "slow");
          fastPath(e, size, ctx.tlbW);
          e.x(rs2).mem(STORE_OPS[f3]!).br("done");
          e.end();
          e.get(L_A).i32(size).x(rs2).call(F_STORE);
          e.call(F_FAULT).open(OP.if, "fault");
          exitIn(JS_FAULT, at, k, len);
          e.end();
          // The store may have written this very page: then its code is stale, leave.
          e.i32(ctx.versionSlot).mem(OP.i32Load).i32(ctx.version | 0).op(OP.i32Ne).open(OP.if, "stale");
          exitIn(JS_JUMP, at + len, k + 1);
          e.end();
          e.end();
          break;
        }
      }
      if (ended) break;
      k++;
    }
    if (!ended && straddles) {
      exit(JS_INTERP, off, k);
    } else if (!ended) {
      // Fell off the block: into the next block's code (or out of the page).
      e.get(L_IR).i64(k).op(OP.i64Add).set(L_IR);
      if (off < PAGE) goTo(off, bi, true);
      else exit(JS_JUMP, off, 0);
    }
  });
  // The last body always branches or leaves, so only the br_table reaches "miss": a jump (a
  // register jump inside the page) to code outside the region, which the core enters itself.
  e.end(); // miss
  e.i32(JS_JUMP).set(L_ST).get(L_OFF).set(L_PO);
  e.br("exit");
  e.end(); // disp
  e.end(); // exit
  for (const r of [...e.written].sort((a, b) => a - b)) {
    e.i32(ctx.xBase + r * 8).get(xl(r)).mem(OP.i64Store);
  }
  // pc = the page plus L_PO, unless the exit put it in L_PC.
  e.get(L_PO).i32(ABS_PC).op(OP.i32Ne).open(OP.if, "rel");
  e.i64(pageVa).get(L_PO).op(OP.i64ExtendI32S).op(OP.i64Add).set(L_PC);
  e.end();
  e.i32(ctx.abi).get(L_PC).mem(OP.i64Store, ABI_PC);
  e.i32(ctx.abi).get(L_PC).get(L_LEN).op(OP.i64ExtendI32U).op(OP.i64Add).mem(OP.i64Store, ABI_NEXT);
  e.i32(ctx.abi).get(L_IR).mem(OP.i64Store, ABI_IR);
  e.i32(ctx.abi).get(L_N).mem(OP.i32Store, ABI_N);
  e.get(L_ST);
  e.op(OP.end);

  // Prologue: the locals, and the registers the code uses.
  const body = new Bytes();
  declareLocals(body);
  for (const r of [...e.used].sort((a, b) => a - b)) {
    body.byte(OP.i32Const).s32(ctx.xBase + r * 8);
    body.byte(OP.i64Load).u32(0).u32(0);
    body.byte(OP.localSet).u32(xl(r));
  }
  body.bytes(e.b.view());
  return { body: body.view().slice(), blocks: starts.length, instructions };
}

/**
 * DIV, DIVU, REM, REMU (f3 4-7) of x`rs1` by x`rs2` on `bits` (64, or 32 for the W forms,
 * sign-extended), leaving the result: RISC-V's answers where WebAssembly would trap (a zero
 * divisor, the most negative number divided by -1).
 */
function divRem(e: Emitter, rs1: number, rs2: number, f3: number, bits: 32 | 64): void {
  const w = bits === 32;
  e.x(rs1);
  if (w) e.op(OP.i32WrapI64).op(OP.i64ExtendI32S); // (the low word, sign-extended: see below)
  e.set(L_A).x(rs2);
  if (w) e.op(OP.i32WrapI64).op(OP.i64ExtendI32S);
  e.set(L_B);
  // For the W forms, L_A/L_B hold the low words sign-extended (for DIVW/REMW) or, for the
  // unsigned ones, zero-extended: fixed up here.
  if (w && (f3 === 5 || f3 === 7)) {
    e.get(L_A).i64(0xffff_ffff).op(OP.i64And).set(L_A);
    e.get(L_B).i64(0xffff_ffff).op(OP.i64And).set(L_B);
  }
  const min = w ? -0x8000_0000 : -(2 ** 63);
  e.get(L_B).op(OP.i64Eqz).open(OP.if, "zero", I64);
  // x / 0 = all ones; x % 0 = x.
  if (f3 === 4 || f3 === 5) e.i64(-1);
  else e.get(L_A);
  e.op(OP.else);
  if (f3 === 4 || f3 === 6) {
    // min / -1 = min (wasm traps), min % -1 = 0 (wasm's rem_s gives 0 too).
    e.get(L_A);
    if (w) e.i64(min);
    else e.b.byte(OP.i64Const).bytes([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f]);
    e.op(OP.i64Eq).get(L_B).i64(-1).op(OP.i64Eq).op(OP.i32And).open(OP.if, "ovf", I64);
    e.get(L_A).i64(0);
    e.op(f3 === 4 ? OP.i64Or : OP.i64And); // min (DIV) or 0 (REM)
    e.op(OP.else);
    e.get(L_A).get(L_B).op(f3 === 4 ? OP.i64DivS : OP.i64RemS);
    e.end();
  } else {
    e.get(L_A).get(L_B).op(f3 === 5 ? OP.i64DivU : OP.i64RemU);
  }
  e.end();
  if (w) e.op(OP.i32WrapI64).op(OP.i64ExtendI32S);
}
