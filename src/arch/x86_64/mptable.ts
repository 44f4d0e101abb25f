// The Intel MultiProcessor Specification 1.4 table: how a guest without ACPI learns its CPUs
// (one processor entry per vCPU, local APIC id = vCPU index), the IO-APIC and how ISA
// interrupts reach it. Linux finds the floating pointer by scanning the last KiB of
// conventional memory, where moat writes it (MPTABLE_ADDR).
import type { GuestMemory } from "../../memory/guest-memory.js";
import {
  IOAPIC_BASE,
  IOAPIC_PINS,
  LAPIC_BASE,
  MPTABLE_ADDR,
  MPTABLE_MAX,
  POWER_BUTTON_IRQ,
} from "./memory-map.js";

/** vCPUs an MP table describes here (it must fit in MPTABLE_MAX bytes). */
export const MPTABLE_MAX_CPUS = 32;

const FLOATING_SIZE = 16;
const HEADER_SIZE = 44;
const PROCESSOR_SIZE = 20;
const APIC_VERSION = 0x14;
const IOAPIC_VERSION = 0x11;
const BUS_ID_ISA = 0;
/** MP interrupt flags: polarity active high (01), trigger level (11 << 2). */
const LEVEL_ACTIVE_HIGH = 0x0d;
/** The first IO-APIC pin used for virtio devices (memory-map.ts virtioIrq). */
const FIRST_LEVEL_PIN = 16;

const enum Entry {
  Processor = 0,
  Bus = 1,
  IoApic = 2,
  IoInterrupt = 3,
  LocalInterrupt = 4,
}
const enum IrqType {
  Int = 0,
  Nmi = 1,
  ExtInt = 3,
}

function checksum(b: Uint8Array): number {
  let s = 0;
  for (const x of b) s = (s + x) & 0xff;
  return (0x100 - s) & 0xff;
}

/** The IO-APIC's id: after the CPUs' local APIC ids. */
export function ioapicId(cpus: number): number {
  return cpus;
}

/** The table's bytes, to be placed at `base`. Bound: 1 <= cpus <= MPTABLE_MAX_CPUS. */
export function buildMpTable(cpus: number, base: bigint = MPTABLE_ADDR): Uint8Array {
  if (!Number.isInteger(cpus) || cpus < 1 || cpus > MPTABLE_MAX_CPUS) {
    throw new RangeError(`the MP table describes 1 to ${MPTABLE_MAX_CPUS} CPUs, not ${cpus}`);
  }
  const entries: Uint8Array[] = [];
  for (let id = 0; id < cpus; id++) {
    const e = new DataView(new ArrayBuffer(PROCESSOR_SIZE));
    e.setUint8(0, Entry.Processor);
    e.setUint8(1, id);
    e.setUint8(2, APIC_VERSION);
    e.setUint8(3, 1 | (id === 0 ? 2 : 0)); // enabled; the first is the bootstrap processor
    e.setUint32(4, 0x600, true); // CPU signature: family 6
    e.setUint32(8, 0x201, true); // features: FPU, APIC
    entries.push(new Uint8Array(e.buffer));
  }
  const small = (bytes: number[]): Uint8Array => Uint8Array.from(bytes);
  entries.push(small([Entry.Bus, BUS_ID_ISA, ...new TextEncoder().encode("ISA   ")]));
  const ioapic = ioapicId(cpus);
  const a = Number(IOAPIC_BASE);
  entries.push(
    small([
      Entry.IoApic,
      ioapic,
      IOAPIC_VERSION,
      1,
      a & 0xff,
      (a >> 8) & 0xff,
      (a >> 16) & 0xff,
      a >>> 24,
    ]),
  );
  // Every IO-APIC pin as an ISA interrupt, edge-triggered, active high (conforming flags 0),
  // on the pin of the same number: KVM's default routing sends GSI n, the PIT's 0 included, to
  // IO-APIC pin n (QEMU re-routes GSI 0 to pin 2; moat keeps KVM's map and says so here).
  // IRQ 2 is the PIC cascade: no entry.
  // Pins from 16 up carry the virtio devices' interrupts, and POWER_BUTTON_IRQ the power
  // button's: level-triggered, active high.
  for (let irq = 0; irq < IOAPIC_PINS; irq++) {
    if (irq === 2) continue;
    const level = irq >= FIRST_LEVEL_PIN || irq === POWER_BUTTON_IRQ;
    const flags = level ? LEVEL_ACTIVE_HIGH : 0;
    entries.push(small([Entry.IoInterrupt, IrqType.Int, flags, 0, BUS_ID_ISA, irq, ioapic, irq]));
  }
  // Local interrupts of every CPU (destination 0xff): the PIC on LINT0, NMI on LINT1.
  entries.push(small([Entry.LocalInterrupt, IrqType.ExtInt, 0, 0, BUS_ID_ISA, 0, 0xff, 0]));
  entries.push(small([Entry.LocalInterrupt, IrqType.Nmi, 0, 0, BUS_ID_ISA, 0, 0xff, 1]));

  const bodyLen = entries.reduce((n, e) => n + e.length, 0);
  const total = FLOATING_SIZE + HEADER_SIZE + bodyLen;
  if (total > MPTABLE_MAX) throw new RangeError("the MP table is larger than its slot");
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  // Floating pointer.
  out.set(new TextEncoder().encode("_MP_"), 0);
  v.setUint32(4, Number(base) + FLOATING_SIZE, true);
  v.setUint8(8, 1); // length in 16-byte units
  v.setUint8(9, 4); // spec revision 1.4
  // 11..15: feature bytes 0 (a configuration table follows, no IMCR)
  v.setUint8(10, checksum(out.subarray(0, FLOATING_SIZE)));
  // Configuration table header.
  const h = FLOATING_SIZE;
  out.set(new TextEncoder().encode("PCMP"), h);
  v.setUint16(h + 4, HEADER_SIZE + bodyLen, true);
  v.setUint8(h + 6, 4);
  out.set(new TextEncoder().encode("MOAT    "), h + 8);
  out.set(new TextEncoder().encode("MOAT x86-64 "), h + 16);
  v.setUint16(h + 34, entries.length, true);
  v.setUint32(h + 36, Number(LAPIC_BASE), true);
  let o = h + HEADER_SIZE;
  for (const e of entries) {
    out.set(e, o);
    o += e.length;
  }
  v.setUint8(h + 7, checksum(out.subarray(h, total)));
  return out;
}

/** Writes the MP table at MPTABLE_ADDR. */
export function writeMpTable(mem: GuestMemory, cpus: number): void {
  mem.write(MPTABLE_ADDR, buildMpTable(cpus));
}
