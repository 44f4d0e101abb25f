// The soft CPU's exit counters partition the exits: a device write the hart posts counts as
// `mmio_posted` only, one it waits for (a read) as `mmio` only, so the labels add up.
import { test } from "node:test";
import assert from "node:assert/strict";
import { softAccelerator } from "../src/accel/soft/soft-accel.js";
import { UART_BASE } from "../src/arch/riscv64/memory-map.js";
import { Riscv64Vm } from "../src/vmm/riscv64-vm.js";
import { I, T0, T1, ZERO } from "./support/core-harness.js";
import { li32, linuxImage, sbiShutdown } from "./support/riscv-image.js";

const WRITES = 5;
const READS = 3;

test("exits: posted MMIO writes count as mmio_posted and not also as mmio", async () => {
  const program = [
    ...li32(T0, Number(UART_BASE)),
    ...Array.from({ length: WRITES }, () => [I.addi(T1, ZERO, 0x41), I.sb(T1, T0, 0)]).flat(),
    ...Array.from({ length: READS }, () => I.lbu(T1, T0, 5)), // the line status register
    ...sbiShutdown(),
  ];
  const out: number[] = [];
  const vm = await Riscv64Vm.create({
    accel: softAccelerator,
    harts: 1,
    memoryMiB: 64,
    kernel: linuxImage(program),
    cmdline: "",
    output: (b) => out.push(...b),
  });
  const exit = await vm.run();
  assert.equal(exit.reason, "poweroff", exit.detail);
  assert.equal(
    Buffer.from(out).toString("latin1"),
    "A".repeat(WRITES),
    "the writes reached the UART",
  );
  const e = vm.avm.exitCounts();
  assert.equal(e.mmio_posted, WRITES, JSON.stringify(e));
  assert.equal(e.mmio, READS, JSON.stringify(e));
});
