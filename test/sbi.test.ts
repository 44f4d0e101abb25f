// moat's SBI: argument checking of guest-controlled ecall arguments, over a stand-in core
// (a unit test of the logic above the real core, which the Linux boot tests exercise), and HSM
// on a real 8-hart VM running a small S-mode program.
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
import { softAccelerator } from "../src/accel/soft/soft-accel.js";
import { Riscv64Vm } from "../src/vmm/riscv64-vm.js";
import {
  A0,
  A1,
  A2,
  A6,
  A7,
  I,
  S0,
  S1,
  S2,
  S3,
  T0,
  T1,
  T2,
  T3,
  ZERO,
} from "./support/core-harness.js";
import { li32, linuxImage, sbiShutdown } from "./support/riscv-image.js";

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

// ---- HSM on a real 8-hart VM -------------------------------------------------------------------

// Where the program below keeps what it saw, as offsets from the image's start (8 bytes a hart).
const SEEN_STATUS = 0x400; // hart_get_status value
const SEEN_STATUS_ERR = 0x440; // hart_get_status error
const SEEN_START_ERR = 0x480; // hart_start error
const CHECKED_IN = 0x500; // harts that ran (amoadd)
const SEEN_OPAQUE = 0x580; // a1 each started hart entered with
const SECONDARY = 0x200;

/**
 * The boot hart's first act: for each other hart, hart_get_status then hart_start (opaque = hart
 * + 0x70); then it waits (30 s of guest time at most) until all seven have run, and powers off.
 * Each started hart records its opaque, counts itself in and calls hart_stop.
 */
function hsmProgram(harts: number): number[] {
  const main = [
    I.auipc(S0, 0),
    I.addi(S0, S0, -64), // s0 = the image's start
    I.addi(S3, S0, SECONDARY),
    ...li32(A7, 0x48534d), // HSM; SBI preserves every register but a0 and a1
    I.addi(S1, ZERO, 1),
    I.addi(S2, ZERO, harts),
    // loop: for s1 = 1 .. harts - 1
    I.slli(T0, S1, 3),
    I.add(T0, T0, S0),
    I.addi(A6, ZERO, 2),
    I.addi(A0, S1, 0),
    I.ecall, // hart_get_status(s1)
    I.sd(A1, T0, SEEN_STATUS),
    I.sd(A0, T0, SEEN_STATUS_ERR),
    I.addi(A6, ZERO, 0),
    I.addi(A0, S1, 0),
    I.addi(A1, S3, 0),
    I.addi(A2, S1, 0x70),
    I.ecall, // hart_start(s1, SECONDARY, s1 + 0x70)
    I.sd(A0, T0, SEEN_START_ERR),
    I.addi(S1, S1, 1),
    I.blt(S1, S2, -4 * 14),
    // wait until harts - 1 have checked in, or 30 s of mtime (10 MHz) have passed
    I.csrr(T1, 0xc01),
    ...li32(T2, 300_000_000),
    I.add(T2, T2, T1),
    I.addi(T3, ZERO, harts - 1),
    I.ld(T0, S0, CHECKED_IN),
    I.beq(T0, T3, 12),
    I.csrr(T1, 0xc01),
    I.bltu(T1, T2, -12),
    ...sbiShutdown(),
  ];
  const secondary = [
    I.auipc(T0, 0),
    I.addi(T0, T0, -SECONDARY),
    I.slli(T1, A0, 3),
    I.add(T1, T1, T0),
    I.sd(A1, T1, SEEN_OPAQUE),
    I.addi(T2, T0, CHECKED_IN),
    I.addi(T3, ZERO, 1),
    I.amoadd_d(ZERO, T2, T3),
    ...li32(A7, 0x48534d),
    I.addi(A6, ZERO, 1),
    I.ecall, // hart_stop
    I.j(0),
  ];
  const words = [...main];
  while (64 + words.length * 4 < SECONDARY) words.push(I.addi(ZERO, ZERO, 0));
  return [...words, ...secondary];
}

test("8 harts: the boot hart's first HSM calls find every other hart STOPPED, and each one it starts runs", async () => {
  // The race was with the other harts' workers starting: three VMs, three chances to lose it.
  const harts = 8;
  for (let round = 0; round < 3; round++) {
    const vm = await Riscv64Vm.create({
      accel: softAccelerator,
      harts,
      memoryMiB: 64,
      kernel: linuxImage(hsmProgram(harts)),
      cmdline: "",
      output: () => {},
    });
    const exit = await vm.run();
    assert.equal(exit.reason, "poweroff", exit.detail);
    const mem = vm.avm.memory;
    const image = RAM_BASE + 0x20_0000n;
    const seen = (off: number, h: number): bigint => mem.readU64(image + BigInt(off + h * 8));
    for (let h = 1; h < harts; h++) {
      assert.deepEqual(
        {
          hart: h,
          status: seen(SEEN_STATUS, h),
          statusErr: seen(SEEN_STATUS_ERR, h),
          startErr: seen(SEEN_START_ERR, h),
          opaque: seen(SEEN_OPAQUE, h),
        },
        { hart: h, status: 1n, statusErr: 0n, startErr: 0n, opaque: BigInt(h + 0x70) },
        `round ${round}`,
      );
    }
    assert.equal(mem.readU64(image + BigInt(CHECKED_IN)), BigInt(harts - 1));
  }
});
