// The translator (docs/jit.md) against the interpreter, through the core harness: the same
// program on both tiers must end in the same state, and the translator's own duties (code that
// changes, a host write into code, the code-cache bound, interrupts while translated code runs)
// must hold. Every jit hart here translates an entry at its first jump (hot = 1) unless a test
// says otherwise.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  A0, A1, A2, A3, A4, A5, CODE, CSR, HANDLER, Hart, I, MSTATUS, PRIV_M, PTE, PageTable, RAM_BASE, S0, T0, T1, T2, hex,
} from "./support/core-harness.js";
import { EXIT_WFI } from "../src/accel/soft/layout.js";
import { GuestMemory } from "../src/memory/guest-memory.js";
import { invalidateCodeRange } from "../src/accel/soft/jit/code-versions.js";
import { SH_MTIMECMP, sharedBlock } from "../src/accel/soft/layout.js";

const MIE_MTIE = 1n << 7n;
const MSTATUS_MIE = 1n << 3n;

/**
 * Runs slices until the program's `wfi` (with no interrupt enabled the core returns at once, on
 * both tiers alike, so instret is exact); `at` is the address after it.
 */
function runTo(h: Hart, at: bigint, slices = 2000, budget = 100_000): void {
  for (let i = 0; i < slices; i++) if (h.run(budget) === EXIT_WFI) break;
  assert.equal(hex(h.pc()), hex(at), "the program did not reach its end");
}

/** A sum loop: a0 += a1 for a1 = N..1, then a store and a load of the sum. */
function sumLoop(h: Hart, n: number): bigint {
  const end = h.code(CODE, [
    I.addi(A0, 0, 0),
    I.lui(A1, n >>> 12),
    I.add(A0, A0, A1),
    I.addi(A1, A1, -1),
    I.bne(A1, 0, -8),
    I.sd(A0, T0, 0),
    I.ld(A2, T0, 0),
  ]);
  h.code(end, [I.wfi]);
  h.reset(CODE, PRIV_M);
  h.setX(T0, RAM_BASE + 0x10_0000n);
  return end + 4n;
}

describe("translator", () => {
  test("a hot loop runs translated and ends as on the interpreter (registers, memory, instret)", () => {
    const out = new Map<string, [bigint, bigint, bigint]>();
    for (const tier of ["interp", "jit"] as const) {
      const h = new Hart(4 << 20, undefined, tier);
      const end = sumLoop(h, 0x40_000);
      runTo(h, end);
      out.set(tier, [h.x(A0), h.x(A2), h.core.getInstret()]);
      if (tier === "jit") assert.ok((h.hartCore.jitStats()?.translations ?? 0) > 0, "nothing was translated");
    }
    assert.deepEqual(out.get("jit"), out.get("interp"));
  });

  test("a store that rewrites the next instruction of translated code takes effect at once", () => {
    // The loop's body: sw rewrites `addi a0, a0, 1` (at PATCH) into `addi a0, a0, 100` on the
    // 3rd pass (t1 counts down); each pass then runs PATCH. Result: 2 x 1 + 3 x 100.
    for (const tier of ["interp", "jit"] as const) {
      const h = new Hart(4 << 20, undefined, tier);
      const newInsn = I.addi(A0, A0, 100);
      const PATCH = CODE + 0x28n;
      const prog = [
        I.addi(A0, 0, 0), // 0x00
        I.addi(T1, 0, 5), // 0x04 passes
        I.lui(A2, newInsn >>> 12), // 0x08
        I.addi(A2, A2, newInsn & 0xfff), // 0x0c (the low 12 bits have their top bit clear)
        I.addi(A1, 0, 3), // 0x10
        I.bne(T1, A1, 8), // 0x14 not the 3rd-to-last pass: skip the store
        I.sw(A2, T0, 0), // 0x18 rewrite PATCH (t0 = PATCH)
        I.addi(0, 0, 0), // 0x1c
        I.addi(0, 0, 0), // 0x20
        I.addi(0, 0, 0), // 0x24
        I.addi(A0, A0, 1), // 0x28 PATCH
        I.addi(T1, T1, -1), // 0x2c
        I.bne(T1, 0, -0x1c), // 0x30 back to 0x14
      ];
      assert.equal(newInsn & 0x800, 0);
      const end = h.code(h.code(CODE, prog), [I.wfi]);
      h.reset(CODE, PRIV_M);
      h.setX(T0, PATCH);
      runTo(h, end);
      assert.equal(h.x(A0), 2n + 300n, `${tier}: a0`);
    }
  });

  test("a host write into translated code (a device's DMA through GuestMemory) makes it stale", () => {
    const h = new Hart(4 << 20, undefined, "jit");
    const ram = new GuestMemory(RAM_BASE, h.ram, (off, len) =>
      invalidateCodeRange(new Int32Array(h.memory.buffer), off, len),
    );
    const end = sumLoop(h, 0x1000);
    runTo(h, end);
    const before = h.x(A0);
    assert.ok((h.hartCore.jitStats()?.translations ?? 0) > 0);
    // `addi a1, a1, -1` becomes `addi a1, a1, -2`: from an even count, every other term.
    const word = new Uint8Array(4);
    new DataView(word.buffer).setUint32(0, I.addi(A1, A1, -2) >>> 0, true);
    ram.write(CODE + 12n, word);
    h.reset(CODE, PRIV_M);
    h.setX(T0, RAM_BASE + 0x10_0000n);
    runTo(h, end);
    // sum of 0x1000, 0xffe, ..., 2 = 2 * (sum 1..0x800)
    assert.equal(h.x(A0), 2n * ((0x800n * 0x801n) / 2n), `before ${hex(before)}`);
  });

  test("the code cache is bounded: past its bytes it is dropped and the program's result is unchanged", () => {
    const h = new Hart(4 << 20, undefined, "jit", 1, { codeCacheBytes: 40_000 });
    // Many small hot entries: a chain of 64 pages, each `addi a0, a0, 1; jal` to the next, the
    // last back to CODE + 0x20; run 50 times.
    const PAGES = 64;
    for (let p = 0; p < PAGES; p++) {
      const at = CODE + 0x1_0000n + BigInt(p * 4096);
      const next = p + 1 < PAGES ? 4096 - 4 : -(PAGES - 1) * 4096 - 4 - 0x1_0000 + 0x20;
      h.code(at, [I.addi(A0, A0, 1), I.jal(0, next)]);
    }
    h.code(CODE, [I.addi(A0, 0, 0), I.addi(T1, 0, 50), I.jal(0, 0x1_0000 - 8)]);
    h.code(CODE + 0x20n, [
      I.addi(T1, T1, -1), // 0x20
      I.beq(T1, 0, 8), // 0x24
      I.jal(0, 0x1_0000 - 0x28), // 0x28: the chain again
      I.wfi, // 0x2c: done
    ]);
    h.reset(CODE, PRIV_M);
    runTo(h, CODE + 0x30n);
    assert.equal(h.x(A0), BigInt(PAGES * 50));
    const s = h.hartCore.jitStats()!;
    assert.ok(s.flushes > 0, `no flush: ${JSON.stringify(s)}`);
    assert.ok(s.codeBytes <= 40_000 + 16_384, `cache holds ${s.codeBytes} bytes`);
  });

  test("a hart whose translations cannot be installed (another hart never acknowledges) still makes progress", () => {
    const h = new Hart(4 << 20, undefined, "jit");
    // Hart 1 of 2 exists but never runs: it is neither idle nor acknowledging, so no translation
    // of hart 0's can be installed. Each request must still let hart 0 go on.
    assert.ok(h.init(0, false, 2));
    const end = sumLoop(h, 0x2000);
    runTo(h, end);
    assert.equal(h.x(A0), (0x2000n * 0x2001n) / 2n);
    const s = h.hartCore.jitStats()!;
    assert.ok(s.translations > 0 && s.codeBytes === 0, JSON.stringify(s));
    assert.ok(s.declined > 0, `the entry is given up after repeated failures: ${JSON.stringify(s)}`);
  });

  test("a timer interrupt is taken while a translated loop spins (within a slice)", () => {
    for (const tier of ["interp", "jit"] as const) {
      const h = new Hart(4 << 20, undefined, tier);
      const HANDLER = CODE + 0x400n;
      h.code(HANDLER, [I.csrr(A1, CSR.mcause), I.j(0)]);
      h.code(CODE, [
        I.csrw(CSR.mtvec, T0),
        I.csrw(CSR.mie, T1),
        I.csrs(CSR.mstatus, A2),
        I.addi(A0, A0, 1), // the spin
        I.j(-4),
      ]);
      h.reset(CODE, PRIV_M);
      h.setX(T0, HANDLER);
      h.setX(T1, MIE_MTIE);
      h.setX(A2, MSTATUS_MIE);
      // No deadline yet: spin a while (translated on jit), then the time passes mtimecmp.
      const cmp = new BigUint64Array(h.memory.buffer);
      const slot = (sharedBlock(0) + SH_MTIMECMP) >> 3;
      cmp[slot] = 1_000_000n;
      h.ticks = 0;
      for (let i = 0; i < 5; i++) h.run(10_000);
      assert.notEqual(h.pc(), HANDLER + 4n, `${tier}: the interrupt came early`);
      h.ticks = 2_000_000;
      h.run(10_000); // a slice's start takes it
      h.run(10);
      assert.equal(hex(h.pc()), hex(HANDLER + 4n), `${tier}: not in the handler`);
      assert.equal(h.x(A1), (1n << 63n) | 7n, `${tier}: mcause is the machine timer interrupt`);
      if (tier === "jit") assert.ok((h.hartCore.jitStats()?.translations ?? 0) > 0);
    }
  });

  test("sstatus/mstatus writes stay in translated code, and the data TLB key they change applies at once", () => {
    // M-mode, a loop toggling mstatus.MPRV (with MPP = S): with it the load at VA is
    // translated (to DATA_PA: 0x1111), without it VA is a physical address (0x2222). Translated
    // code that kept the key it was entered with would read one where the other belongs.
    const VA = RAM_BASE + 0x30_0000n;
    const DATA_PA = RAM_BASE + 0x2000n;
    const N = 50n;
    for (const tier of ["interp", "jit"] as const) {
      const h = new Hart(4 << 20, undefined, tier);
      const pt = new PageTable(h, 3, RAM_BASE + 0x10_0000n);
      pt.map(VA, DATA_PA, PTE.V | PTE.R | PTE.W | PTE.A | PTE.D);
      h.w64(DATA_PA, 0x1111n);
      h.w64(VA, 0x2222n);
      const loop = h.code(CODE, [I.csrw(CSR.satp, T0)]);
      const end = h.code(loop, [
        I.csrs(CSR.mstatus, T2),
        I.ld(A0, S0, 0),
        I.add(A3, A3, A0),
        I.csrc(CSR.mstatus, T2),
        I.ld(A1, S0, 0),
        I.add(A4, A4, A1),
        I.addi(A5, A5, -1),
        I.bne(A5, 0, -28),
        I.wfi,
      ]);
      h.reset(CODE, PRIV_M);
      h.setX(T0, pt.satp());
      h.setX(T2, MSTATUS.MPRV | MSTATUS.MPP_S);
      h.setX(S0, VA);
      h.setX(A5, N);
      runTo(h, end);
      assert.equal(hex(h.x(A3)), hex(N * 0x1111n), `${tier}: loads with MPRV`);
      assert.equal(hex(h.x(A4)), hex(N * 0x2222n), `${tier}: loads without MPRV`);
      if (tier === "jit") assert.ok((h.hartCore.jitStats()?.translations ?? 0) > 0, "nothing was translated");
    }
  });

  test("an interrupt that a CSR write in translated code makes takeable is taken right after it", () => {
    // SSIP pending and mstatus.MIE set from the start; the loop sets mie.SSIE when a5 reaches
    // K: the trap's mepc is the instruction after that csrs, with a3 counting the passes before.
    const N = 40n;
    const K = 17n;
    const out: string[] = [];
    for (const tier of ["interp", "jit"] as const) {
      const h = new Hart(4 << 20, undefined, tier);
      h.code(HANDLER, [I.csrw(CSR.mie, 0), I.wfi]); // nothing enabled: wfi returns to the host
      const loop = h.code(CODE, [I.csrw(CSR.mtvec, T0), I.csrs(CSR.mip, T1), I.csrs(CSR.mstatus, T2)]);
      h.code(loop, [
        I.addi(A5, A5, -1),
        I.bne(A5, A4, 8),
        I.csrs(CSR.mie, T1),
        I.addi(A3, A3, 1),
        I.bne(A5, 0, -16),
        I.wfi,
      ]);
      h.reset(CODE, PRIV_M);
      h.setX(T0, HANDLER);
      h.setX(T1, 2n); // SSIP / SSIE
      h.setX(T2, MSTATUS.MIE);
      h.setX(A4, K);
      h.setX(A5, N);
      runTo(h, HANDLER + 8n);
      assert.equal(h.csr(CSR.mcause), (1n << 63n) | 1n, `${tier}: mcause`);
      assert.equal(hex(h.csr(CSR.mepc)), hex(loop + 12n), `${tier}: mepc`);
      assert.equal(h.x(A3), N - K - 1n, `${tier}: passes before the trap`);
      out.push(`${h.core.getInstret()}`);
    }
    assert.equal(out[1], out[0], "instret");
  });
});
