// moat's SBI: argument checking of guest-controlled ecall arguments, over a stand-in core
// (a unit test of the logic above the real core, which the Linux boot tests exercise).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  DBCN_MAX_WRITE,
  SBI_ERR_INVALID_ADDRESS,
  SBI_ERR_INVALID_PARAM,
  SBI_ERR_NOT_SUPPORTED,
  SBI_SUCCESS,
  handleSbi,
  selectHarts,
  type SbiHost,
} from "../src/accel/soft/sbi.js";
import {
  HSM_START_PENDING,
  HSM_STOPPED,
  SH_HSM,
  SH_START_ADDR,
  sharedBlock,
} from "../src/accel/soft/layout.js";
import type { CoreExports } from "../src/accel/soft/core-exports.js";

const RAM_BASE = 0x8000_0000n;

function host(regs: bigint[]): { h: SbiHost; ret: bigint[]; out: number[]; input: number[] } {
  const ret: bigint[] = [];
  const out: number[] = [];
  const input: number[] = [0x41, 0x42];
  const mem = new SharedArrayBuffer(0x10_0000);
  const core = {
    getReg: (i: number) => regs[i - 10] ?? 0n,
    sbiReturn: (e: bigint, v: bigint) => ret.push(e, v),
    serviceFlush: () => {},
  } as unknown as CoreExports;
  const h: SbiHost = {
    hart: 0,
    harts: 2,
    core,
    i32: new Int32Array(mem),
    u64: new BigUint64Array(mem),
    ramBase: RAM_BASE,
    ramSize: 0x1000n,
    ram: new Uint8Array(0x1000),
    consolePut: (b) => out.push(...b),
    consoleGet: () => input.shift() ?? -1,
    systemReset: () => {},
  };
  return { h, ret, out, input };
}

// a0..a7 as the kernel passes them.
const call = (ext: bigint, fid: bigint, ...args: bigint[]): bigint[] => {
  const regs = [...args, ...Array(6 - args.length).fill(0n)];
  regs[6] = fid;
  regs[7] = ext;
  return regs;
};

test("hart masks: base -1 means all, out-of-range harts are refused", () => {
  assert.deepEqual(selectHarts(2, 0n, -1n), [0, 1]);
  assert.deepEqual(selectHarts(2, 0b10n, 0n), [1]);
  assert.deepEqual(selectHarts(2, 0b1n, 1n), [1]);
  assert.equal(selectHarts(2, 0b100n, 0n), null);
  assert.equal(selectHarts(2, 1n, 5n), null);
  assert.equal(selectHarts(2, 1n << 63n, 0n), null);
});

test("probe reports the extensions moat implements and only those", () => {
  const yes = host(call(0x10n, 3n, 0x54494d45n));
  handleSbi(yes.h);
  assert.deepEqual(yes.ret, [SBI_SUCCESS, 1n]);
  const no = host(call(0x10n, 3n, 0x12345n));
  handleSbi(no.h);
  assert.deepEqual(no.ret, [SBI_SUCCESS, 0n]);
  const bad = host(call(0x0ddba11n, 0n));
  handleSbi(bad.h);
  assert.deepEqual(bad.ret, [SBI_ERR_NOT_SUPPORTED, 0n]);
});

test("debug console write is bounded and checked against RAM", () => {
  const ok = host(call(0x4442434en, 0n, 3n, RAM_BASE, 0n));
  ok.h.ram.set([104, 105, 33]);
  handleSbi(ok.h);
  assert.deepEqual(ok.out, [104, 105, 33]);
  assert.deepEqual(ok.ret, [SBI_SUCCESS, 3n]);

  const outside = host(call(0x4442434en, 0n, 16n, RAM_BASE + 0xff8n, 0n));
  handleSbi(outside.h);
  assert.deepEqual(outside.ret, [SBI_ERR_INVALID_PARAM, 0n]);
  assert.equal(outside.out.length, 0);

  const below = host(call(0x4442434en, 0n, 1n, 0x1000n, 0n));
  handleSbi(below.h);
  assert.deepEqual(below.ret, [SBI_ERR_INVALID_PARAM, 0n]);

  // A huge length is cut to DBCN_MAX_WRITE, and then must still fit in RAM.
  const huge = host(call(0x4442434en, 0n, 1n << 40n, RAM_BASE, 0n));
  handleSbi(huge.h);
  assert.ok(DBCN_MAX_WRITE <= 0x1000);
  assert.deepEqual(huge.ret, [SBI_SUCCESS, BigInt(DBCN_MAX_WRITE)]);
});

test("debug console read takes what input is waiting, without blocking", () => {
  const r = host(call(0x4442434en, 1n, 8n, RAM_BASE + 0x10n, 0n));
  handleSbi(r.h);
  assert.deepEqual(r.ret, [SBI_SUCCESS, 2n]);
  assert.deepEqual([...r.h.ram.subarray(0x10, 0x12)], [0x41, 0x42]);
});

test("HSM hart_start refuses bad harts and start addresses outside RAM", () => {
  const badHart = host(call(0x48534dn, 0n, 7n, RAM_BASE, 0n));
  handleSbi(badHart.h);
  assert.deepEqual(badHart.ret, [SBI_ERR_INVALID_PARAM, 0n]);
  const badAddr = host(call(0x48534dn, 0n, 1n, 0x1000n, 0n));
  handleSbi(badAddr.h);
  assert.equal(badAddr.ret[0], -5n);
});

test("HSM hart_start: the start address must be even with its first halfword in RAM", () => {
  const END = RAM_BASE + 0x1000n; // the stand-in's RAM is one page
  const start = (addr: bigint): { err: bigint; hsm: number; at: bigint } => {
    const t = host(call(0x48534dn, 0n, 1n, addr, 0x5an));
    const blk = sharedBlock(1);
    Atomics.store(t.h.i32, (blk + SH_HSM) >> 2, HSM_STOPPED);
    handleSbi(t.h);
    return {
      err: t.ret[0]!,
      hsm: Atomics.load(t.h.i32, (blk + SH_HSM) >> 2),
      at: Atomics.load(t.h.u64, (blk + SH_START_ADDR) >> 3),
    };
  };
  // RAM's last byte (the reported trap), odd addresses, just past RAM, below it, the top.
  for (const addr of [END - 1n, RAM_BASE + 1n, END - 3n, END, RAM_BASE - 2n, (1n << 64n) - 2n]) {
    assert.deepEqual(start(addr), { err: SBI_ERR_INVALID_ADDRESS, hsm: HSM_STOPPED, at: 0n });
  }
  // The last halfword holds a 16-bit instruction: a valid start.
  assert.deepEqual(start(END - 2n), { err: SBI_SUCCESS, hsm: HSM_START_PENDING, at: END - 2n });
  assert.deepEqual(start(RAM_BASE), { err: SBI_SUCCESS, hsm: HSM_START_PENDING, at: RAM_BASE });
});
