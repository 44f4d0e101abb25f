// Segment groups for the tier-against-tier differential test (test/tier-differential.test.ts),
// on top of isa-diffgen.ts's: self-modifying code, traps taken by common.h's M-mode handler,
// and CSR writes. Each is deterministic on one implementation, so moat's two tiers must dump
// the same state; but what a trap records (the mtval of an illegal instruction, whether a
// misaligned access traps, what an unmapped address does) may differ between two correct
// implementations, which is why the test against QEMU leaves them out.
//
// Registers: every group writes only the registers it picks (never x0, sp, or s10/s11, which
// common.h's ARM_TRAP, DISARM_TRAP and CHECK use as scratch) plus s10/s11.

const M64 = (1n << 64n) - 1n;
const hex64 = (v: bigint) => "0x" + (v & M64).toString(16).padStart(16, "0");
const sext = (v: bigint, bits: number) => BigInt.asUintN(64, BigInt.asIntN(bits, v));

/** What a group needs from the segment generator (isa-diffgen.ts's state). */
export interface ExtraGen {
  r: {
    int(lo: number, hi: number): number;
    pick<T>(a: readonly T[]): T;
    chance(p: number): boolean;
    u64(): bigint;
  };
  /** One instruction or directive, indented. */
  emit(s: string): void;
  /** A label definition (`name:`). */
  mark(label: string): void;
  /** A fresh local label. */
  label(): string;
  /** Lines for the segment's data section. */
  data: string[];
}

/** Registers a group may take: all but x0, sp (x2), s10 (x26) and s11 (x27). */
const POOL = Array.from({ length: 32 }, (_, i) => `x${i}`).filter(
  (x) => !["x0", "x2", "x26", "x27"].includes(x),
);
const FREGS = Array.from({ length: 32 }, (_, i) => `f${i}`);

/** `n` distinct registers from the pool. */
function regs(g: ExtraGen, n: number): string[] {
  const left = [...POOL];
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(left.splice(g.r.int(0, left.length - 1), 1)[0]!);
  return out;
}

// ------------------------------------------------------------------ self-modifying code

/** One version of the rewritten site: its instructions (as assembly) and what they do to V. */
interface Version {
  asm: string[];
  apply(v: bigint): bigint;
}

/** How a site is rewritten: load width and the store sequence, the site's size. */
type Width = "w" | "h" | "hh" | "b" | "d";
const WIDTHS: readonly Width[] = ["w", "w", "h", "hh", "b", "d"];
const SITE_BYTES: Record<Width, number> = { w: 4, h: 2, hh: 4, b: 4, d: 8 };

function version(g: ExtraGen, v: string, w: Width, avoid: Set<string>): Version {
  const one = (compressed: boolean): Version => {
    for (;;) {
      const r = g.r;
      const k = r.int(0, 9);
      const imm = compressed ? r.int(-32, 31) : r.int(-2048, 2047);
      if (imm === 0) continue;
      const op = k < 6 ? "addi" : k < 8 || compressed ? "addiw" : "xori";
      const asm = compressed ? `c.${op} ${v}, ${imm}` : `${op} ${v}, ${v}, ${imm}`;
      if (avoid.has(asm)) continue; // each version differs from the one it replaces
      const i = BigInt(imm);
      const apply =
        op === "addi"
          ? (x: bigint) => (x + i) & M64
          : op === "addiw"
            ? (x: bigint) => sext(x + i, 32)
            : (x: bigint) => x ^ (i & M64);
      return { asm: [asm], apply };
    }
  };
  if (w === "h") return one(true);
  if (w !== "d") return one(false);
  const a = one(false);
  const b = one(false);
  return { asm: [...a.asm, ...b.asm], apply: (x) => b.apply(a.apply(x)) };
}

function versions(g: ExtraGen, v: string, w: Width, n: number): Version[] {
  const out: Version[] = [];
  for (let i = 0; i < n; i++) out.push(version(g, v, w, new Set(out.at(-1)?.asm ?? [])));
  return out;
}

function siteLines(g: ExtraGen, ver: Version, w: Width): void {
  if (w === "h") g.emit(".option rvc");
  for (const a of ver.asm) g.emit(a);
  if (w === "h") g.emit(".option norvc");
}

/** Loads the next version's bytes from [P] into W and stores them over the site at [T]. */
function rewrite(g: ExtraGen, w: Width, t: string, p: string, word: string): void {
  const load = { w: "lwu", h: "lhu", hh: "lwu", b: "lwu", d: "ld" }[w];
  g.emit(`${load} ${word}, 0(${p})`);
  if (w === "w") g.emit(`sw ${word}, 0(${t})`);
  else if (w === "h") g.emit(`sh ${word}, 0(${t})`);
  else if (w === "d") g.emit(`sd ${word}, 0(${t})`);
  else {
    const step = w === "hh" ? 2 : 1;
    for (let off = 0; off < 4; off += step) {
      if (off > 0) g.emit(`srli ${word}, ${word}, ${8 * step}`);
      g.emit(`${step === 2 ? "sh" : "sb"} ${word}, ${off}(${t})`);
    }
  }
  g.emit("fence.i");
}

/** The table of versions, in the data section, `stride` bytes each. */
function table(g: ExtraGen, name: string, vers: Version[], w: Width): void {
  g.data.push("        .balign 8", `${name}:`);
  if (w === "h") g.data.push("        .option rvc");
  for (const ver of vers) for (const a of ver.asm) g.data.push(`        ${a}`);
  if (w === "h") g.data.push("        .option norvc");
  g.data.push(`${name}_end:`);
}

/**
 * Code that rewrites an instruction which then runs again: either a site in a hot inner loop,
 * rewritten between rounds (a translator has translated it before each rewrite), or a site
 * rewritten just before it runs, in the same block, every iteration. The block ends with a
 * CHECK of V against the value only the rewritten versions give (the program fails otherwise).
 */
export function genSelfModifying(g: ExtraGen): void {
  const r = g.r;
  const [t, p, e, ci, co, v, word] = regs(g, 7) as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const w = r.pick(WIDTHS);
  const stride = SITE_BYTES[w];
  const tbl = g.label();
  const site = g.label();
  const start = g.label();
  let value = r.u64();
  // Unexecuted padding only: the site must be naturally aligned for its stores.
  g.emit(`j ${start}`);
  g.emit(".balign 8");
  g.mark(start);
  g.emit(`li ${v}, ${hex64(value)}`);
  g.emit(`la ${t}, ${site}`);
  g.emit(`la ${p}, ${tbl}`);
  if (r.chance(0.5)) {
    // Behind: version k runs `reps` times, then the next one is written over it.
    const rounds = r.int(2, 5);
    const reps = r.pick([1, 2, 3, 17, 64, 200]);
    const vers = versions(g, v, w, rounds);
    const round = g.label();
    const inner = g.label();
    const done = g.label();
    g.emit(`li ${co}, ${rounds}`);
    g.mark(round);
    g.emit(`li ${ci}, ${reps}`);
    g.emit(`j ${inner}`);
    g.emit(".balign 8");
    g.mark(inner);
    g.mark(site);
    siteLines(g, vers[0]!, w);
    g.emit(`addi ${ci}, ${ci}, -1`);
    g.emit(`bnez ${ci}, ${inner}`);
    g.emit(`addi ${co}, ${co}, -1`);
    g.emit(`beqz ${co}, ${done}`);
    g.emit(`addi ${p}, ${p}, ${stride}`);
    rewrite(g, w, t, p, word);
    g.emit(`j ${round}`);
    g.mark(done);
    table(g, tbl, vers, w);
    for (const ver of vers) for (let i = 0; i < reps; i++) value = ver.apply(value);
  } else {
    // Ahead: every iteration writes the next version (cycling through the table), then runs it
    // in the same block; the site's first contents never run.
    const n = r.int(2, 4);
    const iters = r.pick([2, 3, 5, 40, 150]);
    const vers = versions(g, v, w, n + 1);
    const loop = g.label();
    const wrapped = g.label();
    g.emit(`la ${e}, ${tbl}_end`);
    g.emit(`li ${ci}, ${iters}`);
    g.emit(`j ${loop}`);
    g.emit(".balign 8");
    g.mark(loop);
    rewrite(g, w, t, p, word);
    // The site 8-aligned for sd: the rewrite above is three 4-byte instructions.
    if (w === "d") g.emit("nop");
    g.mark(site);
    siteLines(g, vers[n]!, w);
    g.emit(`addi ${p}, ${p}, ${stride}`);
    g.emit(`bltu ${p}, ${e}, ${wrapped}`);
    g.emit(`la ${p}, ${tbl}`);
    g.mark(wrapped);
    g.emit(`addi ${ci}, ${ci}, -1`);
    g.emit(`bnez ${ci}, ${loop}`);
    table(g, tbl, vers.slice(0, n), w);
    for (let i = 0; i < iters; i++) value = vers[i % n]!.apply(value);
  }
  g.emit(`CHECK ${v}, ${hex64(value)}`);
}

// ----------------------------------------------------------------------------- traps

/** Unmapped in moat's (and QEMU's virt) address map: loads, stores and fetches fault. */
const UNMAPPED = [0x9000_0000n, 0x2_0000_0000n, 0x7000_0000n];

/** A trapping (or possibly trapping) instruction with its set-up and its clean-up. */
interface Fault {
  setup: string[];
  insn: string[];
  after: string[];
}

function fault(g: ExtraGen, b: string, rd: string, rs: string): Fault {
  const r = g.r;
  const f = () => r.pick(FREGS);
  const addr = () => hex64(r.pick(UNMAPPED) + BigInt(r.int(0, 511) * 8));
  /** An offset from sp inside the scratch buffer, misaligned for `size`. */
  const odd = (size: number) => r.int(-512, 511 - size) | 1;
  const none: string[] = [];
  switch (r.int(0, 15)) {
    case 0:
      return {
        setup: none,
        insn: [r.pick([".word 0", ".half 0", ".word 0xffffffff"])],
        after: none,
      };
    case 1:
      return {
        setup: none,
        insn: [`.insn i 0x0b, 0, ${rd}, ${rs}, ${r.int(-2048, 2047)}`],
        after: none,
      };
    case 2:
      // A write to a read-only counter, a CSR that does not exist.
      return {
        setup: none,
        insn: [r.pick([`csrw cycle, ${rs}`, `csrr ${rd}, 0x8ff`, `csrw mhartid, ${rs}`])],
        after: none,
      };
    case 3:
      // A reserved static rounding mode, or the dynamic one set to a reserved value.
      return r.chance(0.5)
        ? {
            setup: none,
            insn: [`.insn r 0x53, ${r.int(5, 6)}, ${r.pick([0, 1])}, ${f()}, ${f()}, ${f()}`],
            after: none,
          }
        : {
            setup: [`fsrmi ${r.int(5, 7)}`],
            insn: [`fadd.d ${f()}, ${f()}, ${f()}`],
            after: [`fsrmi ${r.int(0, 4)}`],
          };
    case 4:
      // The FPU off (mstatus.FS): an FP instruction is illegal until it is on again.
      return {
        setup: [`li ${b}, MSTATUS_FS`, `csrc mstatus, ${b}`],
        insn: [r.pick([`fadd.s ${f()}, ${f()}, ${f()}`, `fmv.x.d ${rd}, ${f()}`, `frcsr ${rd}`])],
        after: [`li ${b}, MSTATUS_FS`, `csrs mstatus, ${b}`],
      };
    case 5:
      return { setup: none, insn: [r.pick(["ecall", "ebreak"])], after: none };
    case 6:
      return { setup: none, insn: [".option rvc", "c.ebreak", ".option norvc"], after: none };
    case 7:
    case 8: {
      const op = r.pick(["ld", "lw", "lhu", "lb", "flw", "fld"]);
      const dst = op.startsWith("f") ? f() : rd;
      return { setup: [`li ${b}, ${addr()}`], insn: [`${op} ${dst}, 0(${b})`], after: none };
    }
    case 9: {
      const op = r.pick(["sd", "sw", "sh", "sb", "amoadd.w", "amoswap.d"]);
      const insn = op.startsWith("amo") ? `${op} ${rd}, ${rs}, (${b})` : `${op} ${rs}, 0(${b})`;
      return { setup: [`li ${b}, ${addr()}`], insn: [insn], after: none };
    }
    case 10:
      // A jump to nowhere: the link register is written, the fetch there faults.
      return { setup: [`li ${b}, ${addr()}`], insn: [`jalr ${rd}, 0(${b})`], after: none };
    case 11: {
      const op = r.pick(["amoadd.d", "amoor.w", "lr.d", "lr.w", "sc.w"]);
      const insn = op.startsWith("lr") ? `${op} ${rd}, (${b})` : `${op} ${rd}, ${rs}, (${b})`;
      return { setup: [`addi ${b}, sp, ${odd(8)}`], insn: [insn], after: none };
    }
    default: {
      // Misaligned loads and stores inside the scratch buffer (done in hardware by moat).
      const [op, size] = r.pick([
        ["ld", 8],
        ["lw", 4],
        ["lhu", 2],
        ["sd", 8],
        ["sw", 4],
        ["sh", 2],
        ["fld", 8],
        ["fsw", 4],
      ] as const);
      const reg = op.startsWith("f") ? f() : op.startsWith("s") ? rs : rd;
      return { setup: none, insn: [`${op} ${reg}, ${odd(size)}(sp)`], after: none };
    }
  }
}

/**
 * A (possibly) trapping instruction in a loop run 1 to 40 times, each run armed for common.h's
 * M-mode handler, which resumes after it; cause, mepc, mtval and mstatus at the trap are folded
 * into the registers. Armed and disarmed each time, so one that does not trap leaves -1 there.
 */
export function genTrap(g: ExtraGen): void {
  const r = g.r;
  const [c, acc, x, y, b, rd] = regs(g, 6) as [string, string, string, string, string, string];
  // rs may be anything but the loop's own registers (a store's data, an AMO's operand).
  const rs = r.pick(POOL.filter((q) => q !== c && q !== acc));
  const f = fault(g, b, rd, rs);
  const loop = g.label();
  const resume = g.label();
  g.emit(`li ${c}, ${r.pick([1, 1, 2, 3, 40])}`);
  g.mark(loop);
  g.emit(`ARM_TRAP ${resume}`);
  for (const s of f.setup) g.emit(s);
  for (const s of f.insn) g.emit(s);
  g.mark(resume);
  g.emit("DISARM_TRAP"); // leaves s11 = trap_info
  for (const s of f.after) g.emit(s);
  g.emit(`ld ${x}, TI_CAUSE(s11)`);
  g.emit(`ld ${y}, TI_EPC(s11)`);
  g.emit(`add ${acc}, ${acc}, ${x}`);
  g.emit(`xor ${acc}, ${acc}, ${y}`);
  g.emit(`ld ${x}, ${r.pick(["TI_TVAL", "TI_TVAL", "TI_STATUS", "TI_COUNT"])}(s11)`);
  g.emit(`sub ${acc}, ${acc}, ${x}`);
  g.emit(`addi ${c}, ${c}, -1`);
  g.emit(`bnez ${c}, ${loop}`);
}

/**
 * Code that prints how many traps common.h's M-mode handler took ("traps N", hex), for the end
 * of a program whose segments trap.
 */
export function trapCountLines(): string[] {
  return [
    "        la a1, trap_count_name",
    "        call t2, __puts",
    "        la t0, trap_info",
    "        ld a1, TI_COUNT(t0)",
    "        call t2, __puthex",
    "        li a0, '\\n'",
    "        call t3, __putc",
    "        .section .rodata",
    'trap_count_name: .asciz "traps "',
    "        .text",
  ];
}

// ------------------------------------------------------------------------ CSR writes

/**
 * CSR reads and writes that leave execution deterministic in M-mode: the scratch registers,
 * fflags/frm/fcsr (frm only to valid modes), mstatus.SIE (no interrupt is pending), satp and
 * medeleg (not used in M-mode, but a translator may drop code on them), fences.
 */
export function genCsr(g: ExtraGen): void {
  const r = g.r;
  const [rd, rs, t] = regs(g, 3) as [string, string, string];
  const rw = () => r.pick(["csrrw", "csrrs", "csrrc"]);
  const rwi = () => r.pick(["csrrwi", "csrrsi", "csrrci"]);
  switch (r.int(0, 8)) {
    case 0:
    case 1: {
      const csr = r.pick(["mscratch", "sscratch"]);
      g.emit(
        r.chance(0.6) ? `${rw()} ${rd}, ${csr}, ${rs}` : `${rwi()} ${rd}, ${csr}, ${r.int(0, 31)}`,
      );
      if (r.chance(0.4)) g.emit(`csrr ${rs}, ${csr}`);
      break;
    }
    case 2:
      g.emit(
        r.chance(0.5) ? `${rw()} ${rd}, fflags, ${rs}` : `${rwi()} ${rd}, fflags, ${r.int(0, 31)}`,
      );
      break;
    case 3:
      g.emit(r.chance(0.7) ? `csrrwi ${rd}, frm, ${r.int(0, 4)}` : `csrr ${rd}, frm`);
      break;
    case 4:
      g.emit(`andi ${t}, ${rs}, 0x1f`);
      g.emit(`ori ${t}, ${t}, ${r.int(0, 4) << 5}`);
      g.emit(`csrrw ${rd}, fcsr, ${t}`);
      break;
    case 5:
      g.emit(
        r.pick([`csrr ${rd}, mstatus`, `csrrsi ${rd}, mstatus, 2`, `csrrci ${rd}, mstatus, 2`]),
      );
      break;
    case 6:
      g.emit(r.chance(0.5) ? `csrrw ${rd}, satp, ${rs}` : `csrrw ${rd}, satp, x0`);
      if (r.chance(0.5)) g.emit("sfence.vma");
      break;
    case 7:
      g.emit(`csrrw ${rd}, medeleg, ${rs}`);
      break;
    default:
      g.emit(r.pick(["fence.i", "sfence.vma", `sfence.vma ${rs}`, "fence rw, rw"]));
      g.emit(`csrr ${rd}, ${r.pick(["misa", "mhartid", "mvendorid", "marchid", "mimpid"])}`);
  }
}
