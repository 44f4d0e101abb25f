// The function builder the translator writes code with (translate.ts, translate-fp.ts): the
// locals every translated function has, labelled blocks, guest registers as locals, and the
// inline data-TLB check of loads and stores.
import { BLOCK_VOID, Bytes, F64, I32, I64, OP, type GlobalImport } from "./wasm-encoder.js";

export const PAGE = 4096;

/** The core's globals translated code reads (cpu/index.ts exports them), in import order. */
export const GLOBALS: GlobalImport[] = [
  { name: "fflags", type: I32 },
  { name: "frm", type: I32 },
  { name: "mstatus", type: I64 },
  { name: "dataKey", type: I32 },
];
export const G_FFLAGS = 0;
export const G_FRM = 1;
export const G_MSTATUS = 2;
export const G_DATA_KEY = 3;

// Locals: the four parameters, then scratch, then x1..x31, then a second operand and the
// float scratch locals of translate-fp.ts.
export const L_OFF = 0;
export const L_N = 1;
export const L_IR = 2;
export const L_KEY = 3;
export const L_KEYQ = 4;
export const L_ST = 5;
export const L_A = 6; // i64: an address or operand
export const L_E = 7; // i32: a TLB entry
export const L_PO = 8; // i32: the exit's pc as an offset from the page (or ABS_PC)
export const L_LEN = 9; // i32: for JS_FAULT, the faulting instruction's length
export const L_PC = 10; // i64: the exit's pc when L_PO is ABS_PC
export const xl = (r: number): number => 10 + r;
export const L_B = 42; // i64: a second operand
/** L_PO's value when the exit's pc is in L_PC (a register jump out of the page). */
export const ABS_PC = 0x7fff_ffff;
/** f64 scratch locals: L_F .. L_F + F64_LOCALS - 1. */
export const L_F = 43;
export const F64_LOCALS = 16;

/** Writes the locals' declarations (the layout above) at the start of a function body. */
export function declareLocals(body: Bytes): void {
  body.u32(6);
  body.u32(1).byte(I64); // keyq
  body.u32(1).byte(I32); // st
  body.u32(1).byte(I64); // a
  body.u32(3).byte(I32); // e, po, len
  body.u32(1 + 31 + 1).byte(I64); // pc, x1..x31, b
  body.u32(F64_LOCALS).byte(F64);
}

/** Builds one function's code: opcodes, labelled blocks and the guest registers' locals. */
export class Emitter {
  readonly b = new Bytes();
  private readonly labels: string[] = [];
  /** Where each open label is in `labels` (innermost last), so depth() is not a search. */
  private readonly at = new Map<string, number[]>();
  readonly used = new Set<number>();
  readonly written = new Set<number>();

  op(o: number): this {
    this.b.byte(o);
    return this;
  }
  i32(v: number): this {
    this.b.byte(OP.i32Const).s32(v);
    return this;
  }
  i64(v: bigint | number): this {
    this.b.byte(OP.i64Const);
    if (typeof v === "number") this.b.s64n(v);
    else this.b.s64(v);
    return this;
  }
  f64(v: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, true);
    this.b.byte(OP.f64Const).bytes(b);
    return this;
  }
  get(l: number): this {
    this.b.byte(OP.localGet).u32(l);
    return this;
  }
  set(l: number): this {
    this.b.byte(OP.localSet).u32(l);
    return this;
  }
  tee(l: number): this {
    this.b.byte(OP.localTee).u32(l);
    return this;
  }
  mem(o: number, offset = 0): this {
    this.b.byte(o).u32(0).u32(offset);
    return this;
  }
  /** Pushes an imported global (globals.ts G_*). */
  global(g: number): this {
    this.b.byte(OP.globalGet).u32(g);
    return this;
  }
  call(f: number): this {
    this.b.byte(OP.call).u32(f);
    return this;
  }
  open(kind: number, label: string, type = BLOCK_VOID): this {
    this.b.byte(kind).byte(type);
    let stack = this.at.get(label);
    if (!stack) this.at.set(label, (stack = []));
    stack.push(this.labels.length);
    this.labels.push(label);
    return this;
  }
  end(): this {
    this.b.byte(OP.end);
    this.at.get(this.labels.pop()!)!.pop();
    return this;
  }
  depth(label: string): number {
    const stack = this.at.get(label);
    const i = stack?.[stack.length - 1];
    if (i === undefined) throw new Error(`translator: no label ${label}`);
    return this.labels.length - 1 - i;
  }
  br(label: string): this {
    this.b.byte(OP.br).u32(this.depth(label));
    return this;
  }
  brIf(label: string): this {
    this.b.byte(OP.brIf).u32(this.depth(label));
    return this;
  }
  /** Pushes x`r` (0 for x0). */
  x(r: number): this {
    if (r === 0) return this.i64(0n);
    this.used.add(r);
    return this.get(xl(r));
  }
  /** Pops into x`r` (dropped for x0). */
  setX(r: number): this {
    if (r === 0) return this.op(OP.drop);
    this.used.add(r);
    this.written.add(r);
    return this.set(xl(r));
  }
}

/**
 * The inline TLB check for an access of `size` at L_A through `tlb`: branches to "slow" on a
 * miss or a page crossing, else leaves the host address (i32) on the stack.
 */
export function fastPath(e: Emitter, size: number, tlb: number): void {
  if (size > 1) {
    e.get(L_A).op(OP.i32WrapI64).i32(0xfff).op(OP.i32And).i32(PAGE - size).op(OP.i32GtU).brIf("slow");
  }
  e.get(L_A).i64(12n).op(OP.i64ShrU).op(OP.i32WrapI64).i32(255).op(OP.i32And).i32(4).op(OP.i32Shl);
  e.i32(tlb).op(OP.i32Add).tee(L_E).mem(OP.i64Load);
  e.get(L_A).i64(12n).op(OP.i64ShrU).i64(3n).op(OP.i64Shl).get(L_KEYQ).op(OP.i64Or);
  e.op(OP.i64Ne).brIf("slow");
  e.get(L_A).get(L_E).mem(OP.i64Load, 8).op(OP.i64Add).op(OP.i32WrapI64);
}
