// A soft-CPU hart's state saved from one core and loaded into another over a copy of guest RAM
// carries on exactly as the original does: same registers (integer and float), pc, instret,
// CSRs, LR/SC reservation and memory after thousands more instructions. A record the core
// cannot hold is refused, naming the value, and changes nothing.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  A0,
  CSR,
  A1,
  A2,
  A3,
  CODE,
  Hart,
  I,
  S0,
  S1,
  T0,
  T1,
  T2,
  T3,
  harnessTier,
} from "./support/core-harness.js";
import { HART_BASE, HA_F } from "../src/accel/soft/layout.js";
import {
  HART_STATE_BYTES,
  HartStateError,
  loadHartState,
  saveHartState,
} from "../src/accel/soft/hart-state.js";

/** A loop that uses the integer and float units, memory, LR/SC and a CSR on every trip. */
const PROGRAM = [
  I.lui(T0, 6), // mstatus.FS = dirty: the float unit on
  I.csrrs(0, CSR.mstatus, T0),
  I.auipc(S0, 1),
  I.addi(S1, S0, 0x100),
  // loop:
  I.addi(A0, A0, 1),
  I.mul(A1, A0, A0),
  I.add(A2, A2, A1),
  I.fcvt_d_l(2, A0),
  I.fadd_d(1, 1, 2),
  I.sd(A2, S0, 0),
  I.fsd(1, S0, 8),
  I.lr_d(T1, S1),
  I.addi(T1, T1, 3),
  I.sc_d(T2, S1, T1),
  I.csrrw(T3, CSR.mscratch, A0),
  I.add(A3, A3, T2),
  I.j(-12 * 4),
];

function machine(): Hart {
  const h = new Hart(1 << 20);
  h.code(CODE, PROGRAM);
  return h;
}

/** Everything the two harts can differ in. */
function view(h: Hart): Record<string, unknown> {
  const f = new BigUint64Array(h.memory.buffer, HART_BASE + HA_F, 32);
  return {
    pc: h.pc(),
    priv: h.priv(),
    instret: h.core.getInstret(),
    x: Array.from({ length: 32 }, (_, i) => h.x(i)),
    f: [...f],
    mstatus: h.csr(0x300),
    ram: Buffer.from(h.ram).toString("base64"),
  };
}

test(`a hart's state loaded into another core carries on as the original (${harnessTier()} tier)`, () => {
  // Saved at each point of the loop's 13 instructions (where the slice ends allows it: the jit
  // tier ends slices at block ends), between lr.d and sc.d among them.
  for (let at = 700; at < 713; at++) {
    const a = machine();
    a.run(at);
    const record = saveHartState(a.core, a.memory, 0);
    assert.equal(record.length, HART_STATE_BYTES);
    const b = new Hart(1 << 20);
    b.ram.set(a.ram);
    loadHartState(b.core, b.memory, 0, record);
    assert.deepEqual(view(b), view(a), `saved after ${at}: the same hart right after the load`);
    for (let i = 0; i < 3; i++) {
      a.run(1000 + i * 333);
      b.run(1000 + i * 333);
      assert.deepEqual(view(b), view(a), `saved after ${at}: after slice ${i}`);
    }
    // It really ran: the loop went round, and every sc.d succeeded (the reservation came too).
    assert.ok(a.x(A0) > 200n, `a0 = ${a.x(A0)}`);
    assert.equal(b.x(A3), 0n, `saved after ${at}: an sc.d failed`);
  }
});

test("a state record the CPU cannot hold is refused, named, and changes nothing", () => {
  const a = machine();
  a.run(500);
  const good = saveHartState(a.core, a.memory, 0);
  const b = machine();
  b.run(100);
  const before = view(b);
  const bad = (slot: number, v: bigint): Buffer => {
    const r = Buffer.from(good);
    r.writeBigUInt64LE(v, slot * 8);
    return r;
  };
  const cases: [Buffer, RegExp][] = [
    [bad(0, 2n), /version is not/],
    [bad(1, 0x8000_0001n), /pc is not/],
    [bad(2, 2n), /priv is not/],
    [bad(21, 5n << 60n), /satp is not/],
    [bad(23, 9n), /frm is not/],
    [bad(27, 1n), /SBI mode is not/],
    [good.subarray(0, 100), /is 744 bytes, not 100/],
  ];
  for (const [record, message] of cases) {
    assert.throws(
      () => loadHartState(b.core, b.memory, 0, record),
      (e: unknown) => e instanceof HartStateError && message.test(e.message),
    );
    assert.deepEqual(view(b), before);
  }
});
