// The soft CPU as a fuzz target: it decodes every guest instruction, walks guest page tables and
// computes every guest address, so it is the largest parser of guest bytes moat has. A fresh
// hart (one WebAssembly instance over its own memory, any of the 8 hart slots, moat's SBI on or
// off, as a hart worker has it) runs hostile code in
// any privilege with hostile registers, page tables and CSR writes; its exits are served as the
// hart worker serves them, SBI calls by moat's own SBI with hostile arguments (hart_start at RAM's
// edges and odd addresses, bad hart ids and masks, suspend types, fence ranges). A hart that
// hart_start starts gets a WebAssembly instance of its own over the same memory and runs in turn.
// Invariants: the core never traps (a WebAssembly trap would be the VMM's bug, not the guest's)
// and the SBI never throws, MMIO exits only outside RAM with a real access size, and nothing is
// written in the shared memory outside the running harts' areas and guest RAM: not another
// hart's registers or TLBs, not the unused gaps, and in another hart's cross-hart block only
// what the CLINT (for the core) or the SBI call lets a hart change.
import fc from "fast-check";
import { CSR, Hart, I, RAM_BASE, iType } from "../test/support/core-harness.js";
import { U64 } from "../src/accel/soft/core-exports.js";
import { handleSbi, type SbiHost } from "../src/accel/soft/sbi.js";
import {
  EXIT_BUDGET,
  EXIT_HALT,
  EXIT_MMIO,
  EXIT_SBI,
  EXIT_WFI,
  HART_BASE,
  HART_STRIDE,
  HSM_START_PENDING,
  HSM_STARTED,
  HSM_STOPPED,
  MAX_HARTS,
  MIP_MSIP,
  MIP_SSIP,
  RAM_OFFSET,
  RVC_TABLE,
  RVC_TABLE_BYTES,
  CODE_VERSIONS,
  SHARED_BASE,
  SHARED_STRIDE,
  SH_FLUSH,
  SH_HSM,
  SH_IDLE,
  SH_MIP,
  SH_MTIMECMP,
  SH_OPAQUE,
  SH_START_ADDR,
  SH_WAKE,
  sharedBlock,
} from "../src/accel/soft/layout.js";
import type { FuzzTarget } from "./targets.js";
import { CPU_TIERS, type CpuTier } from "../src/accel/soft/cpu-tier.js";

const RAM_BYTES = 1 << 20;
const RAM_END = RAM_BASE + BigInt(RAM_BYTES); // also the end of the WebAssembly memory
const ENTRY = RAM_BASE + 0x1000n;
const HANDLER = RAM_BASE + BigInt(RAM_BYTES / 2);
const TABLES = RAM_BASE + 0x1_0000n;
const TABLE_PAGES = 4;

/**
 * The ranges of the WebAssembly memory below guest RAM that the running harts' work may not
 * change: everything but the cross-hart blocks (checked field by field, `otherBlocksChanged`),
 * their private areas and the shared expansion table.
 */
function guarded(harts: number[]): [number, number][] {
  const areas = harts.map((h): [number, number] => [
    HART_BASE + h * HART_STRIDE,
    HART_BASE + (h + 1) * HART_STRIDE,
  ]);
  const own: [number, number][] = [
    [sharedBlock(0), sharedBlock(MAX_HARTS) + 4],
    ...areas.sort((a, b) => a[0] - b[0]),
    [RVC_TABLE, RVC_TABLE + RVC_TABLE_BYTES],
    // The translator's code versions and the VM's code epoch (cpu/jit.ts).
    [CODE_VERSIONS, RAM_OFFSET],
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

/**
 * Where an SBI call made by hart `hart` changed another hart's cross-hart block beyond what
 * one may: an IPI (SSIP, wake), a remote fence (its flush counter, wake), a hart_start of a
 * STOPPED hart (START_PENDING with its start address and opaque, wake).
 */
function sbiChanged(hart: number, before: DataView, now: DataView): string | undefined {
  for (let h = 0; h < MAX_HARTS; h++) {
    if (h === hart) continue;
    const base = h * SHARED_STRIDE;
    const hsm = (v: DataView): number => v.getInt32(base + SH_HSM, true);
    const started = hsm(before) === HSM_STOPPED && hsm(now) === HSM_START_PENDING;
    for (let off = 0; off < SHARED_STRIDE; off += 4) {
      if (off === SH_WAKE || off === SH_FLUSH) continue;
      if (started && (off === SH_HSM || (off >= SH_START_ADDR && off < SH_OPAQUE + 8))) continue;
      const mask = off === SH_MIP ? ~MIP_SSIP : -1;
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
const any64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
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

// ---- SBI calls with hostile arguments ----------------------------------------------------

const EXT_HSM = 0x48534dn;
const hartId = fc.oneof(
  { weight: 4, arbitrary: fc.bigInt({ min: 1n, max: BigInt(MAX_HARTS - 1) }) },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: BigInt(MAX_HARTS + 1) }) },
  { weight: 1, arbitrary: fc.constantFrom(U64(-1n), 64n, 1n << 63n) },
);
/** Start addresses: RAM's edges (its last byte was a WebAssembly trap), odd ones, devices. */
const startAddr = fc.oneof(
  fc.constantFrom(
    RAM_END - 1n,
    RAM_END - 2n,
    RAM_END - 3n,
    RAM_END - 4n,
    RAM_END,
    RAM_BASE - 2n,
    RAM_BASE + 1n,
    ENTRY,
    HANDLER,
    0n,
    U64(-2n),
    0x0200_0000n,
    0x1000_0000n,
  ),
  ramAddr,
  any64,
);
const hartMask = fc.oneof(fc.constantFrom(0n, 1n, 0xffn, U64(-1n), 1n << 63n), any64);
/** hart_suspend types: retentive, non-retentive, reserved and platform-specific ones. */
const suspendType = fc.oneof(
  fc.constantFrom(0n, 1n, 0x1000_0000n, 0x8000_0000n, 0x8000_0001n, 0x9000_0000n, 0xffff_ffffn),
  any64,
);
const anyArg = fc.oneof(hartId, startAddr, hartMask, suspendType);

/** One SBI call: a7 (extension), a6 (function), a0..a4. */
export interface SbiCall {
  ext: bigint;
  fid: bigint;
  args: bigint[];
}
const sbiCall = (
  ext: fc.Arbitrary<bigint>,
  fid: fc.Arbitrary<bigint>,
  args: fc.Arbitrary<bigint>[],
): fc.Arbitrary<SbiCall> => fc.record({ ext, fid, args: fc.tuple(...args) });
const fids = fc.bigInt({ min: 0n, max: 7n });
const SBI_CALLS = fc.oneof(
  // hart_start most, then hart_stop, hart_get_status and more functions than HSM has.
  {
    weight: 4,
    arbitrary: sbiCall(fc.constant(EXT_HSM), fc.constant(0n), [hartId, startAddr, any64]),
  },
  { weight: 2, arbitrary: sbiCall(fc.constant(EXT_HSM), fids, [hartId, startAddr, any64]) },
  {
    weight: 1,
    arbitrary: sbiCall(fc.constant(EXT_HSM), fc.constant(3n), [suspendType, startAddr, any64]),
  },
  // IPI and remote fences: (hart_mask, hart_mask_base, start_addr, size, asid).
  {
    weight: 2,
    arbitrary: sbiCall(fc.constantFrom(0x735049n, 0x52464e43n), fids, [
      hartMask,
      fc.oneof(hartId, any64),
      anyArg,
      fc.oneof(fc.constantFrom(0n, 1n, 0x1000n, U64(-1n)), any64),
      any64,
    ]),
  },
  // The rest: legacy calls, base, timer, debug console, system reset, and no extension at all.
  {
    weight: 1,
    arbitrary: sbiCall(
      fc.oneof(
        fc.constantFrom(0n, 1n, 2n, 8n, 0x10n, 0x54494d45n, 0x53525354n, 0x4442434en),
        any64,
      ),
      fc.oneof(fids, any64),
      [anyArg, anyArg, anyArg, anyArg, anyArg],
    ),
  },
);

export interface CoreInput {
  /** Which hart's areas the instance uses (0-7), and whether moat's SBI is on. */
  hart: number;
  sbi: boolean;
  /** The interpreter alone, or with the translator (translating every page at once). */
  tier: CpuTier;
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
  /** Harts the SBI knows of (at least hart + 1). */
  harts: number;
  /** The arguments of the SBI calls (ecalls from S with SBI on), in turn. */
  calls: SbiCall[];
  /** The last 4 bytes of RAM, where hart_start may send a hart. */
  tail: number;
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
    parses:
      "guest instructions (RV64GC, compressed), CSR writes, page tables, MMIO answers, SBI calls",
    input: fc.record({
      hart: fc.integer({ min: 0, max: MAX_HARTS - 1 }),
      sbi: fc.boolean(),
      tier: fc.constantFrom(...CPU_TIERS),
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
      harts: fc.integer({ min: 1, max: MAX_HARTS }),
      calls: fc.array(SBI_CALLS, { maxLength: 8 }),
      tail: fc.oneof(
        fc.integer({ min: 0, max: 0xffff_ffff }),
        // A 32-bit encoding's low half in RAM's last halfword: its fetch crosses RAM's end.
        fc.integer({ min: 0, max: 0xffff }).map((lo) => ((lo << 16) | 0xffff) >>> 0),
      ),
    }),
    run(input) {
      const h = new Hart(RAM_BYTES, undefined, input.tier);
      const harts = Math.max(input.harts, input.hart + 1);
      if (!h.init(input.hart, input.sbi, harts)) throw new Error("core.init refused");
      const mem = h.memory.buffer as SharedArrayBuffer;
      const i32 = new Int32Array(mem);
      // As the VMM sets them before any hart runs: the boot hart STARTED, the others STOPPED.
      // Harts run in turn here, so a hart that is not running is idle (it flushes its TLB
      // before it runs again), as a hart asleep in WFI is.
      for (let t = 0; t < harts; t++) {
        Atomics.store(
          i32,
          (sharedBlock(t) + SH_HSM) >> 2,
          t === input.hart ? HSM_STARTED : HSM_STOPPED,
        );
        Atomics.store(i32, (sharedBlock(t) + SH_IDLE) >> 2, 1);
      }
      // With SBI, the code starts with one ecall per SBI call, and so does its handler: from S
      // they are SBI calls, from U they trap to S, which makes them (from M, a trap loop).
      const lead = input.sbi && input.priv !== 3 ? input.calls.map(() => I.ecall) : [];
      // Page-table entries, and the code once where the hart enters it and once where its
      // traps go.
      const load = (r: { code: number[]; ptes: [number, number, bigint][] }): void => {
        for (const [page, i, v] of r.ptes) h.w64(TABLES + BigInt(page * 4096 + i * 8), v);
        h.code(ENTRY, [...lead, ...r.code]);
        h.code(HANDLER, [...lead, ...r.code]);
      };
      load(input);
      h.w32(RAM_END - 4n, input.tail);
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

      // Each step of a hart is checked against the cross-hart blocks as the step before left
      // them: the core may change another hart's block only as the CLINT lets it, the SBI only
      // as the call lets it.
      const blocks = (): DataView =>
        new DataView(mem.slice(SHARED_BASE, SHARED_BASE + MAX_HARTS * SHARED_STRIDE));
      let expected = blocks();
      const checked = (hart: number, by: "core" | "SBI"): void => {
        const now = blocks();
        const what = (by === "core" ? otherBlocksChanged : sbiChanged)(hart, expected, now);
        if (what) throw new Error(`the ${by} changed ${what} (hart ${hart})`);
        expected = now;
      };
      const cores = new Map<number, Hart>([[input.hart, h]]);
      const running = new Set([input.hart]);
      let mmio = 0;
      let call = 0;
      let reset = false;
      const sbiHost = (hart: number, c: Hart): SbiHost => ({
        hart,
        harts,
        core: c.core,
        i32,
        u64: new BigUint64Array(mem),
        ramBase: RAM_BASE,
        ramSize: BigInt(RAM_BYTES),
        ram: h.ram,
        consolePut: () => {},
        consoleGet: () => -1,
        systemReset: () => (reset = true),
      });
      /** What a stopped hart's worker does once another hart started it. */
      const startPending = (): void => {
        for (let t = 0; t < harts; t++) {
          const blk = sharedBlock(t);
          if (Atomics.load(i32, (blk + SH_HSM) >> 2) !== HSM_START_PENDING) continue;
          let c = cores.get(t);
          if (!c) {
            c = new Hart(RAM_BYTES, { memory: h.memory, hart: t, sbi: true }, input.tier);
            c.init(t, true, harts);
            cores.set(t, c);
          }
          const u64 = new BigUint64Array(mem);
          c.core.hartStart(u64[(blk + SH_START_ADDR) >> 3]!, u64[(blk + SH_OPAQUE) >> 3]!);
          Atomics.store(i32, (blk + SH_HSM) >> 2, HSM_STARTED);
          running.add(t);
          expected = blocks();
        }
      };
      /**
       * `n` slices of hart `t`, its exits served as its worker serves them. "end" once the VMM
       * would end the VM (a trap loop, a system reset), "stopped" after hart_stop.
       */
      const slices = (t: number, n: number): "run" | "stopped" | "end" => {
        const c = cores.get(t)!;
        const idle = (sharedBlock(t) + SH_IDLE) >> 2;
        Atomics.store(i32, idle, 0);
        expected = blocks();
        try {
          for (let slice = 0; slice < n; slice++) {
            const r = c.run(250);
            checked(t, "core");
            if (r === EXIT_HALT) return "end";
            if (r === EXIT_MMIO) {
              const addr = BigInt.asUintN(64, c.core.getMmioAddr());
              const size = c.core.getMmioSize();
              if (addr >= RAM_BASE && addr < RAM_END)
                throw new Error(`MMIO exit for RAM address 0x${addr.toString(16)}`);
              if (![1, 2, 4, 8].includes(size)) throw new Error(`MMIO access of ${size} bytes`);
              const answer = input.mmio[mmio++ % Math.max(1, input.mmio.length)];
              if (answer === null) c.core.mmioFault();
              else if (c.core.getMmioWrite() === 0) c.core.completeMmioLoad(answer ?? 0n);
              checked(t, "core");
            } else if (r === EXIT_SBI) {
              const next = input.calls[call++];
              if (next) {
                next.args.forEach((v, i) => c.setX(10 + i, v));
                c.setX(16, next.fid);
                c.setX(17, next.ext);
              }
              const goOn = handleSbi(sbiHost(t, c));
              checked(t, "SBI");
              if (reset) return "end";
              startPending();
              if (!goOn) return "stopped";
            } else if (r !== EXIT_BUDGET && r !== EXIT_WFI) throw new Error(`unknown exit ${r}`);
          }
          return "run";
        } finally {
          Atomics.store(i32, idle, 1);
          expected = blocks();
        }
      };
      /** A turn for hart `t`; false once the VM ends. */
      const turn = (t: number, n: number): boolean => {
        const s = slices(t, n);
        if (s === "stopped") running.delete(t);
        return s !== "end";
      };
      // The boot hart, then each hart it started; then each later round the same way.
      const round = (n: number): boolean => {
        for (const t of [input.hart, ...[...running].filter((t) => t !== input.hart)]) {
          if (running.has(t) && !turn(t, t === input.hart ? n : 10)) return false;
        }
        return true;
      };
      let on = round(40);
      for (const r of input.later) {
        if (!on) break;
        load(r);
        on = round(20);
      }
      afterRun?.(mem, input);
      // The cross-hart blocks as the last step left them (the CLINT's allowance, for what
      // afterRun plants); the memory below RAM as a fresh instance has it, outside the running
      // harts' areas (nothing set up above writes there).
      const other = otherBlocksChanged(input.hart, expected, blocks());
      if (other) throw new Error(`the core changed ${other}`);
      const ref = reference();
      const now = Buffer.from(mem, 0, RAM_OFFSET);
      for (const [s, e] of guarded([...cores.keys()])) {
        if (now.subarray(s, e).equals(ref.subarray(s, e))) continue;
        let at = s;
        while (now[at] === ref[at]) at++;
        throw new Error(`the core wrote outside its hart's areas at 0x${at.toString(16)}`);
      }
    },
  };
}
