// The x86-64 boot structures moat writes, checked byte by byte: the MP table (checksums, CPUs,
// IO-APIC, interrupt routing), the e820 map, and what moat adds to the kernel command line.
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildMpTable, MPTABLE_MAX_CPUS } from "../src/arch/x86_64/mptable.js";
import { e820Map, E820_RAM, E820_RESERVED } from "../src/arch/x86_64/e820.js";
import { composeCmdline, templateArgs, virtioMmioArgs } from "../src/arch/x86_64/cmdline.js";
import { linuxFeatureNumbers } from "../src/arch/x86_64/cpuid.js";
import { MPTABLE_ADDR } from "../src/arch/x86_64/memory-map.js";

const sum = (b: Uint8Array): number => b.reduce((s, x) => (s + x) & 0xff, 0);

test("the MP table has valid checksums, one processor entry per vCPU, the IO-APIC and ISA routing", () => {
  const t = buildMpTable(3);
  const v = new DataView(t.buffer);
  assert.equal(Buffer.from(t.subarray(0, 4)).toString(), "_MP_");
  assert.equal(sum(t.subarray(0, 16)), 0, "floating pointer checksum");
  assert.equal(v.getUint32(4, true), Number(MPTABLE_ADDR) + 16, "points at the table after it");
  assert.equal(Buffer.from(t.subarray(16, 20)).toString(), "PCMP");
  const len = v.getUint16(20, true);
  assert.equal(16 + len, t.length);
  assert.equal(sum(t.subarray(16, 16 + len)), 0, "configuration table checksum");
  assert.equal(v.getUint32(16 + 36, true), 0xfee0_0000, "local APIC address");
  const count = v.getUint16(16 + 34, true);
  // Walk the entries.
  let o = 16 + 44;
  const cpus: [number, number][] = [];
  const irqs = new Map<number, number>();
  const flags = new Map<number, number>();
  let ioapic: [number, number] | undefined;
  const lints: number[] = [];
  for (let i = 0; i < count; i++) {
    const type = t[o]!;
    if (type === 0) {
      cpus.push([t[o + 1]!, t[o + 3]!]);
      o += 20;
      continue;
    }
    if (type === 2) ioapic = [t[o + 1]!, v.getUint32(o + 4, true)];
    if (type === 3) {
      irqs.set(t[o + 5]!, t[o + 7]!);
      flags.set(t[o + 5]!, t[o + 2]!);
    }
    if (type === 4) lints.push(t[o + 7]!);
    o += 8;
  }
  assert.equal(o, t.length, "entry count matches the length");
  assert.deepEqual(cpus, [
    [0, 3], // enabled + bootstrap processor
    [1, 1],
    [2, 1],
  ]);
  assert.deepEqual(ioapic, [3, 0xfec0_0000]);
  assert.equal(irqs.get(0), 0, "the PIT's IRQ 0 arrives on pin 0, as KVM routes GSI 0");
  assert.equal(irqs.has(2), false, "IRQ 2 is the PIC cascade");
  for (let irq = 3; irq < 24; irq++) assert.equal(irqs.get(irq), irq);
  // ISA interrupts conform to the bus (edge); the virtio pins 16..23 and the power button's 5
  // are level, active high.
  for (let irq = 0; irq < 16; irq++)
    if (irq !== 2) assert.equal(flags.get(irq), irq === 5 ? 0x0d : 0);
  for (let irq = 16; irq < 24; irq++) assert.equal(flags.get(irq), 0x0d);
  assert.deepEqual(lints, [0, 1]);
});

test("the MP table refuses CPU counts it cannot describe", () => {
  assert.ok(buildMpTable(MPTABLE_MAX_CPUS).length <= 0x400);
  assert.throws(() => buildMpTable(0), /1 to 32 CPUs/);
  assert.throws(() => buildMpTable(MPTABLE_MAX_CPUS + 1), /1 to 32 CPUs/);
});

test("the e820 map: low RAM, the reserved BIOS area, RAM to the end, nothing in the MMIO hole", () => {
  assert.deepEqual(e820Map(256 << 20), [
    { addr: 0n, size: 0x9_fc00n, type: E820_RAM },
    { addr: 0x9_fc00n, size: 0x6_0400n, type: E820_RESERVED },
    { addr: 0x10_0000n, size: (256n << 20n) - 0x10_0000n, type: E820_RAM },
  ]);
  assert.throws(() => e820Map(1 << 20), /at least 2 MiB/);
  assert.throws(() => e820Map(3073 * 1024 * 1024), /limited to 3072 MiB/);
});

test("virtio-mmio slots are announced on the command line; the PVM template adds its arguments", () => {
  assert.deepEqual(virtioMmioArgs([0, 7, 8]), [
    "virtio_mmio.device=4K@0xd0000000:16",
    "virtio_mmio.device=4K@0xd0007000:23",
    "virtio_mmio.device=4K@0xd0008000:5",
  ]);
  assert.throws(() => virtioMmioArgs([9]), /slot 9 does not exist/);
  assert.deepEqual(templateArgs("default"), []);
  const pvm = templateArgs("pvm");
  assert.equal(pvm[0], "noxsave");
  assert.equal(pvm[2], "pvm_quirks");
  const numbers = pvm[1]!.replace("clearcpuid=", "").split(",").map(Number);
  // Linux's numbering: word 4 is CPUID 1 ECX (cx16 = 141, popcnt = 151, xsave = 154),
  // word 9 is CPUID 7 EBX (fsgsbase = 288, smap = 308).
  for (const n of [141, 151, 154, 288, 308]) assert.ok(numbers.includes(n), `clears ${n}`);
  assert.deepEqual(numbers, linuxFeatureNumbers("pvm"));
  assert.equal(composeCmdline("  console=ttyS0 ", ["a", "b"]), "console=ttyS0 a b");
  assert.equal(composeCmdline("", ["a"]), "a");
});
