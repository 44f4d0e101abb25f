// The little of the WebAssembly binary format the translator writes: LEB128 numbers, the
// opcodes it uses, and a module of one function that imports the core's memory and calls.
// Written here rather than taken from a library: the format is small and stable, and the
// translator needs only these pieces (docs/jit.md).

/** A growable byte buffer with the encodings of the binary format. */
export class Bytes {
  private buf: Uint8Array;
  length = 0;

  constructor(capacity = 1024) {
    this.buf = new Uint8Array(capacity);
  }

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const b = new Uint8Array(size);
    b.set(this.buf.subarray(0, this.length));
    this.buf = b;
  }

  byte(b: number): this {
    this.room(1);
    this.buf[this.length++] = b;
    return this;
  }

  bytes(b: ArrayLike<number>): this {
    this.room(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
    return this;
  }

  u32(v: number): this {
    v >>>= 0;
    do {
      let b = v & 0x7f;
      v >>>= 7;
      if (v !== 0) b |= 0x80;
      this.byte(b);
    } while (v !== 0);
    return this;
  }

  s32(v: number): this {
    v |= 0;
    for (;;) {
      const b = v & 0x7f;
      v >>= 7;
      const done = (v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0);
      this.byte(done ? b : b | 0x80);
      if (done) return this;
    }
  }

  s64(v: bigint): this {
    v = BigInt.asIntN(64, v);
    for (;;) {
      const b = Number(v & 0x7fn);
      v >>= 7n;
      const done = (v === 0n && (b & 0x40) === 0) || (v === -1n && (b & 0x40) !== 0);
      this.byte(done ? b : b | 0x80);
      if (done) return this;
    }
  }

  /** A signed LEB128 of a safe integer (no BigInt: the translator's addresses fit in 53 bits). */
  s64n(v: number): this {
    if (!Number.isSafeInteger(v)) throw new RangeError(`s64n: ${v} is not a safe integer`);
    if (v >= -0x8000_0000 && v <= 0x7fff_ffff) return this.s32(v);
    for (;;) {
      const b = ((v % 128) + 128) % 128;
      v = Math.floor(v / 128);
      const done = (v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0);
      this.byte(done ? b : b | 0x80);
      if (done) return this;
    }
  }

  /** A name (ASCII: the translator's names are its own). */
  name(s: string): this {
    this.u32(s.length);
    for (let i = 0; i < s.length; i++) this.byte(s.charCodeAt(i) & 0x7f);
    return this;
  }

  /** A length-prefixed copy of `body`. */
  vec(body: Bytes): this {
    return this.u32(body.length).bytes(body.view());
  }

  view(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

export const I32 = 0x7f;
export const I64 = 0x7e;
export const F32 = 0x7d;
export const F64 = 0x7c;
export const BLOCK_VOID = 0x40;

// Opcodes (the subset the translator emits).
export const OP = {
  unreachable: 0x00,
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  brTable: 0x0e,
  return: 0x0f,
  call: 0x10,
  drop: 0x1a,
  select: 0x1b,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  globalGet: 0x23,
  i32Load: 0x28,
  i64Load: 0x29,
  f64Load: 0x2b,
  i64Load8S: 0x30,
  i64Load8U: 0x31,
  i64Load16S: 0x32,
  i64Load16U: 0x33,
  i64Load32S: 0x34,
  i64Load32U: 0x35,
  i32Store: 0x36,
  i64Store: 0x37,
  f64Store: 0x39,
  i64Store8: 0x3c,
  i64Store16: 0x3d,
  i64Store32: 0x3e,
  i32Const: 0x41,
  i64Const: 0x42,
  f64Const: 0x44,
  i32Eqz: 0x45,
  i32Eq: 0x46,
  i32Ne: 0x47,
  i32LtS: 0x48,
  i32LeS: 0x4c,
  i32GtU: 0x4b,
  i64Eqz: 0x50,
  i64Eq: 0x51,
  i64Ne: 0x52,
  i64LtS: 0x53,
  i64LtU: 0x54,
  i64GtS: 0x55,
  i64GtU: 0x56,
  i64LeS: 0x57,
  i64LeU: 0x58,
  i64GeS: 0x59,
  i64GeU: 0x5a,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Mul: 0x6c,
  i32And: 0x71,
  i32Or: 0x72,
  i32Xor: 0x73,
  i32Shl: 0x74,
  i32ShrS: 0x75,
  i32ShrU: 0x76,
  i64Add: 0x7c,
  i64Sub: 0x7d,
  i64Mul: 0x7e,
  i64DivS: 0x7f,
  i64DivU: 0x80,
  i64RemS: 0x81,
  i64RemU: 0x82,
  i64And: 0x83,
  i64Or: 0x84,
  i64Xor: 0x85,
  i64Shl: 0x86,
  i64ShrS: 0x87,
  i64ShrU: 0x88,
  f64Eq: 0x61,
  f64Ne: 0x62,
  f64Lt: 0x63,
  f64Le: 0x65,
  f32Sqrt: 0x91,
  f32Add: 0x92,
  f32Sub: 0x93,
  f32Mul: 0x94,
  f32Div: 0x95,
  f64Neg: 0x9a,
  f64Sqrt: 0x9f,
  f64Add: 0xa0,
  f64Sub: 0xa1,
  f64Mul: 0xa2,
  f64Div: 0xa3,
  i32WrapI64: 0xa7,
  i64TruncF64S: 0xb0,
  i64ExtendI32S: 0xac,
  i64ExtendI32U: 0xad,
  f32DemoteF64: 0xb6,
  f64ConvertI32S: 0xb7,
  f64ConvertI32U: 0xb8,
  f64ConvertI64S: 0xb9,
  f64ConvertI64U: 0xba,
  f64PromoteF32: 0xbb,
  i32ReinterpretF32: 0xbc,
  i64ReinterpretF64: 0xbd,
  f32ReinterpretI32: 0xbe,
  f64ReinterpretI64: 0xbf,
} as const;

/** An imported mutable global: its name in module "core" and its value type. */
export interface GlobalImport {
  name: string;
  type: number;
}

/** An imported function: its name in module "core" and its type. */
export interface FuncImport {
  name: string;
  params: number[];
  results: number[];
}

function funcType(out: Bytes, params: number[], results: number[]): void {
  out.byte(0x60).u32(params.length).bytes(params).u32(results.length).bytes(results);
}

function section(out: Bytes, id: number, body: Bytes): void {
  out.byte(id).vec(body);
}

/**
 * A module that imports the shared memory ("core"."memory", `pages` to `maxPages`) and
 * `imports` (functions, then the mutable `globals`, numbered from 0 in that order), and exports
 * functions "f0", "f1", ... of type params -> results, whose bodies
 * (locals and code, each ending in `end`) are `bodies`. Several functions share one module
 * because V8's cost per module, not per function, is most of compiling a small one.
 */
export function moduleBytes(
  imports: FuncImport[],
  globals: GlobalImport[],
  memory: { pages: number; maxPages: number },
  fn: { params: number[]; results: number[]; bodies: Uint8Array[] },
): Uint8Array {
  const out = new Bytes(256 + fn.bodies.reduce((n, b) => n + b.length + 5, 0));
  out.bytes([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  const types = new Bytes();
  types.u32(imports.length + 1);
  for (const i of imports) funcType(types, i.params, i.results);
  funcType(types, fn.params, fn.results);
  section(out, 1, types);
  const imp = new Bytes();
  imp.u32(imports.length + globals.length + 1);
  imp.name("core").name("memory").byte(0x02).byte(0x03).u32(memory.pages).u32(memory.maxPages);
  imports.forEach((i, n) => imp.name("core").name(i.name).byte(0x00).u32(n));
  for (const g of globals) imp.name("core").name(g.name).byte(0x03).byte(g.type).byte(0x01);
  section(out, 2, imp);
  const funcs = new Bytes();
  funcs.u32(fn.bodies.length);
  for (let k = 0; k < fn.bodies.length; k++) funcs.u32(imports.length);
  section(out, 3, funcs);
  const exp = new Bytes();
  exp.u32(fn.bodies.length);
  fn.bodies.forEach((_, k) => exp.name(`f${k}`).byte(0x00).u32(imports.length + k));
  section(out, 7, exp);
  const code = new Bytes(fn.bodies.reduce((n, b) => n + b.length + 5, 8));
  code.u32(fn.bodies.length);
  for (const b of fn.bodies) code.u32(b.length).bytes(b);
  section(out, 10, code);
  return out.view().slice();
}
