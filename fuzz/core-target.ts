// The soft CPU as a fuzz target: it decodes every guest instruction, walks guest page tables and
// computes every guest address, so it is the largest parser of guest bytes moat has. A fresh
// hart (one WebAssembly instance over its own memory, any of the 8 hart slots, moat's SBI on or
// off, as a hart worker has it) runs hostile code in
// any privilege with hostile registers, page tables and CSR writes; its exits are served as the
// hart worker serves them. Invariants: the core never traps (a WebAssembly trap would be the
// VMM's bug, not the guest's), exits for memory-mapped I/O only outside RAM with a real access
// size, and writes nothing in the shared memory outside its own hart's areas and guest RAM:
// not another hart's registers, TLBs or cross-hart block, not the unused gaps.
import fc from "fast-check";
import { CSR, Hart, I, RAM_BASE, iType } from "../test/support/core-harness.js";
import {
  EXIT_BUDGET,
  EXIT_HALT,
  EXIT_MMIO,
  EXIT_SBI,
  EXIT_WFI,
  HART_BASE,
  HART_STRIDE,
  MAX_HARTS,
  MIP_MSIP,
  RAM_OFFSET,
  RVC_TABLE,
  RVC_TABLE_BYTES,
  SHARED_BASE,
  SHARED_STRIDE,
  SH_MIP,
  SH_MTIMECMP,
  SH_WAKE,
  sharedBlock,
} from "../src/accel/soft/layout.js";
import type { FuzzTarget } from "./targets.js";

const RAM_BYTES = 1 << 20;
const ENTRY = RAM_BASE + 0x1000n;
const HANDLER = RAM_BASE + BigInt(RAM_BYTES / 2);
const TABLES = RAM_BASE + 0x1_0000n;
const TABLE_PAGES = 4;

/**
 * The ranges of the WebAssembly memory below guest RAM that hart `hart`'s work may not change:
 * everything but the cross-hart blocks (checked field by field, `otherBlocksChanged`), its
 * private area and the shared expansion table.
 */
function guarded(hart: number): [number, number][] {
  const own: [number, number][] = [
    [sharedBlock(0), sharedBlock(MAX_HARTS)],
    [HART_BASE + hart * HART_STRIDE, HART_BASE + (hart + 1) * HART_STRIDE],
    [RVC_TABLE, RVC_TABLE + RVC_TABLE_BYTES],
  ];
  const out: [number, number][] = [];
  let at = 0;
  for (const [s, e] of own) {
    if (s > at) out.push([at, s]);
    at = e;
  }
  out.push([at, RAM_OFFSET]);
  return out;
}

/**
 * Where another hart's cross-hart block changed beyond what the CLINT lets any hart write (its
 * MSIP bit, its mtimecmp, and the wake counter that goes with them), if it did.
 */
function otherBlocksChanged(hart: number, before: DataView, now: DataView): string | undefined {
  for (let h = 0; h < MAX_HARTS; h++) {
    if (h === hart) continue;
    const base = h * SHARED_STRIDE;
    for (let off = 0; off < SHARED_STRIDE; off += 4) {
      if (off === SH_WAKE || off === SH_MTIMECMP || off === SH_MTIMECMP + 4) continue;
      const mask = off === SH_MIP ? ~MIP_MSIP : -1;
      if ((before.getInt32(base + off, true) & mask) !== (now.getInt32(base + off, true) & mask))
        return `hart ${h}'s cross-hart block at +0x${off.toString(16)}`;
    }
  }
  return undefined;
}

let fresh: Buffer | undefined;
/** The memory below guest RAM of a hart just made (taken once). */
function reference(): Buffer {
  fresh ??= Buffer.from(new Uint8Array(new Hart(RAM_BYTES).memory.buffer, 0, RAM_OFFSET).slice());
  return fresh;
}

// The major opcodes of RV64GC's 32-bit encodings: the core's decoder gets past its first
// switch with these, and random upper bits reach every function field.
const MAJOR = [
  0x03, 0x07, 0x0f, 0x13, 0x17, 0x1b, 0x23, 0x27, 0x2f, 0x33, 0x37, 0x3b, 0x43, 0x47, 0x4b, 0x4f,
  0x53, 0x63, 0x67, 0x6f, 0x73,
];
// CSRs whose writes change how the core translates, traps or counts.
const CSRS = [
  0x180, 0x300, 0x302, 0x303, 0x304, 0x305, 0x341, 0x344, 0x100, 0x104, 0x105, 0x141, 0x144, 0x106,
  0x306, 0x30a, 0x10a, 0x3a0, 0x3b0, 0x001, 0x002, 0x003, 0xb00, 0xc00, 0x14d, 0x7b0,
];

const word = fc.oneof(
  fc.integer({ min: 0, max: 0xffff_ffff }),
  fc
    .tuple(fc.constantFrom(...MAJOR), fc.integer({ min: 0, max: (1 << 25) - 1 }))
    .map(([op, hi]) => ((hi << 7) | op) >>> 0),
  // CSRRW/CSRRS/CSRRC x?, csr, x1..x7 (the registers holding addresses and satp values).
  fc
    .tuple(
      fc.constantFrom(...CSRS),
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 1, max: 7 }),
      fc.integer({ min: 0, max: 31 }),
    )
    .map(([csr, f3, rs1, rd]) => iType(0x73, rd, f3, rs1, csr)),
  // Two compressed instructions.
  fc
    .tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }))
    .map(([a, b]) => ((((b & ~3) | (b & 3 || 1)) << 16) | (a & ~3) | (a & 3 || 2)) >>> 0),
  fc.constantFrom(I.ecall, I.ebreak, I.mret, I.sret, I.wfi, I.sfence_vma(0, 0)),
);

const ramAddr = fc.integer({ min: 0, max: RAM_BYTES + 0x100 }).map((o) => RAM_BASE + BigInt(o));
const reg = fc.oneof(
  ramAddr,
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  fc.bigInt({ min: -64n, max: 64n }),
  // satp for Sv39 or Sv48 with its root page table somewhere in (or just past) RAM.
  fc
    .tuple(fc.constantFrom(8n, 9n), fc.integer({ min: 0, max: (RAM_BYTES >> 12) + 4 }))
    .map(([mode, page]) => (mode << 60n) | ((RAM_BASE >> 12n) + BigInt(page))),
  // Device addresses: the CLINT, the UART, the PLIC, and nothing.
  fc.constantFrom(0x0200_0000n, 0x0200_bff8n, 0x1000_0000n, 0x0c00_0000n, 0x4000_0000n, 0n),
);

export interface CoreInput {
  /** Which hart's areas the instance uses (0-7), and whether moat's SBI is on. */
  hart: number;
  sbi: boolean;
  priv: number;
  regs: bigint[];
  code: number[];
  /** satp and extra mstatus bits (MPRV, SUM, MXR, FS, TVM, TW, TSR) set before entering. */
  satp: bigint;
  mstatus: bigint;
  /** Page-table entries: [table page, index, value]. */
  ptes: [number, number, bigint][];
  /** How MMIO accesses are answered, in turn: a value, or a fault (null). */
  mmio: (bigint | null)[];
  /**
   * Later rounds on the same hart, without a reset: new code and page-table entries written
   * into RAM (as a device writing guest memory would), then more slices. The hart keeps its
   * TLBs, CSRs and privilege from before.
   */
  later: { code: number[]; ptes: [number, number, bigint][] }[];
}

/**
 * The soft CPU: hostile instruction streams, registers, page tables and device answers.
 * `afterRun` (for the harness's own test) acts on the memory as a buggy core would.
 */
export function coreTarget(
  afterRun?: (memory: SharedArrayBuffer, input: CoreInput) => void,
): FuzzTarget<CoreInput> {
  // Page tables: four pages at TABLES, entries biased to the low indexes the code's and
  // RAM's addresses select, values either random or a PTE (random flags) to a table or RAM.
  const pte = fc.tuple(
    fc.integer({ min: 0, max: TABLE_PAGES - 1 }),
    fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 511 })),
    fc.oneof(
      fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      fc
        .tuple(
          fc.oneof(
            fc.integer({ min: 0, max: TABLE_PAGES - 1 }).map((p) => (TABLES >> 12n) + BigInt(p)),
            fc
              .integer({ min: 0, max: (RAM_BYTES >> 12) + 4 })
              .map((p) => (RAM_BASE >> 12n) + BigInt(p)),
            fc.constant(RAM_BASE >> 12n), // a gigapage or megapage over all of RAM
          ),
          fc.integer({ min: 0, max: 0xff }),
        )
        .map(([ppn, flags]) => (ppn << 10n) | BigInt(flags)),
    ),
  );
  // satp: bare, or Sv39/Sv48 rooted at one of the table pages; mstatus bits the walk honours.
  const satp = fc.oneof(
    fc.constant(0n),
    fc
      .tuple(fc.constantFrom(8n, 9n), fc.integer({ min: 0, max: TABLE_PAGES - 1 }))
      .map(([mode, p]) => (mode << 60n) | ((TABLES >> 12n) + BigInt(p))),
  );
  const mstatusBits = fc
    .subarray([1 << 17, 1 << 18, 1 << 19, 1 << 13, 3 << 13, 1 << 20, 1 << 21, 1 << 22, 1 << 9])
    .map((bits) => BigInt(bits.reduce((a, b) => a | b, 0)));
  return {
    name: "riscv-core",
    parses: "guest instructions (RV64GC, compressed), CSR writes, page tables, MMIO answers",
    input: fc.record({
      hart: fc.integer({ min: 0, max: MAX_HARTS - 1 }),
      sbi: fc.boolean(),
      priv: fc.constantFrom(0, 1, 3),
      regs: fc.array(reg, { minLength: 27, maxLength: 27 }),
      code: fc.array(word, { minLength: 1, maxLength: 256 }),
      satp,
      mstatus: mstatusBits,
      ptes: fc.array(pte, { maxLength: 64 }),
      mmio: fc.array(fc.option(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })), { maxLength: 8 }),
      later: fc.array(
        fc.record({
          code: fc.array(word, { minLength: 1, maxLength: 128 }),
          ptes: fc.array(pte, { maxLength: 16 }),
        }),
        { maxLength: 3 },
      ),
    }),
    run(input) {
      const h = new Hart(RAM_BYTES);
      if (!h.core.init(input.hart, RAM_BASE, BigInt(RAM_BYTES), input.sbi ? 1 : 0))
        throw new Error("core.init refused");
      // Page-table entries, and the code once where the hart enters it and once where its
      // traps go.
      const load = (r: { code: number[]; ptes: [number, number, bigint][] }): void => {
        for (const [page, i, v] of r.ptes) h.w64(TABLES + BigInt(page * 4096 + i * 8), v);
        h.code(ENTRY, r.code);
        h.code(HANDLER, r.code);
      };
      load(input);
      // A preamble in M-mode points mtvec and stvec at the second copy and enters the first in
      // the input's privilege (mret) with the input's satp; x28-x31 carry its operands, x1-x27
      // the input's values.
      h.code(RAM_BASE, [
        I.csrw(CSR.satp, 28),
        I.csrw(CSR.mtvec, 31),
        I.csrw(CSR.stvec, 31),
        I.csrw(CSR.mepc, 29),
        I.csrw(CSR.mstatus, 30),
        I.mret,
      ]);
      h.reset(RAM_BASE, 3);
      input.regs.forEach((v, i) => h.setX(i + 1, v));
      h.setX(29, ENTRY);
      h.setX(28, input.satp);
      h.setX(30, (BigInt(input.priv) << 11n) | input.mstatus);
      h.setX(31, HANDLER);
      let mmio = 0;
      // False once the hart is stuck in a trap loop: the VMM stops a VM there, so no more runs.
      const slices = (n: number): boolean => {
        for (let slice = 0; slice < n; slice++) {
          const r = h.run(250);
          if (r === EXIT_HALT) return false;
          if (r === EXIT_MMIO) {
            const addr = BigInt.asUintN(64, h.core.getMmioAddr());
            const size = h.core.getMmioSize();
            if (addr >= RAM_BASE && addr < RAM_BASE + BigInt(RAM_BYTES))
              throw new Error(`MMIO exit for RAM address 0x${addr.toString(16)}`);
            if (![1, 2, 4, 8].includes(size)) throw new Error(`MMIO access of ${size} bytes`);
            const answer = input.mmio[mmio++ % Math.max(1, input.mmio.length)];
            if (answer === null) h.core.mmioFault();
            else if (h.core.getMmioWrite() === 0) h.core.completeMmioLoad(answer ?? 0n);
          } else if (r === EXIT_SBI) h.core.sbiReturn(-2n, 0n);
          else if (r !== EXIT_BUDGET && r !== EXIT_WFI) throw new Error(`unknown exit ${r}`);
        }
        return true;
      };
      let running = slices(40);
      for (const round of input.later) {
        if (!running) break;
        load(round);
        running = slices(20);
      }
      afterRun?.(h.memory.buffer as SharedArrayBuffer, input);
      // Compared with a fresh instance's memory: nothing set up above writes below RAM outside
      // the hart's own areas, so any difference there is the run's.
      const ref = reference();
      const ranges = guarded(input.hart);
      const now = Buffer.from(h.memory.buffer, 0, RAM_OFFSET);
      const other = otherBlocksChanged(
        input.hart,
        new DataView(ref.buffer, ref.byteOffset + SHARED_BASE, MAX_HARTS * SHARED_STRIDE),
        new DataView(h.memory.buffer, SHARED_BASE, MAX_HARTS * SHARED_STRIDE),
      );
      if (other) throw new Error(`the core changed ${other}`);
      for (const [s, e] of ranges) {
        if (now.subarray(s, e).equals(ref.subarray(s, e))) continue;
        let at = s;
        while (now[at] === ref[at]) at++;
        throw new Error(`the core wrote outside its hart's areas at 0x${at.toString(16)}`);
      }
    },
  };
}
