/**
 * The device tree moat hands to riscv64 guests (in `a1` at boot).
 *
 * It describes the machine of docs/machine.md and is laid out like the tree
 * QEMU's `virt` board generates, so that the same kernels (Linux 6.1 and
 * later) and firmware (OpenSBI) run on both:
 *
 * ```
 * /                       moat,virt
 *   chosen                bootargs, stdout-path, linux,initrd-*, rng-seed
 *   cpus                  timebase 10 MHz
 *     cpu@N               riscv; child interrupt-controller (riscv,cpu-intc)
 *     cpu-map/cluster0/coreN
 *   memory@80000000
 *   soc                   simple-bus, identity ranges
 *     clint@2000000       M-soft (3) and M-timer (7) interrupts of every hart
 *     plic@c000000        contexts 2N (M external, 11) and 2N+1 (S external, 9)
 *     serial@10000000     ns16550a, PLIC source 10
 *     virtio_mmio@...     one per present slot, PLIC source 1+slot
 *     test@100000         sifive,test (syscon)
 *     rtc@101000          google,goldfish-rtc, PLIC source 11: the wall clock
 *     pvpanic@102000      qemu,pvpanic-mmio: the guest reports a kernel panic
 *   poweroff, reboot      syscon-poweroff / syscon-reboot on test@100000
 * ```
 *
 * As in QEMU, `poweroff` and `reboot` are children of the root rather than
 * of `/soc`, since they have no registers of their own.
 */

import { FdtBuilder } from "./fdt.js";
import {
  POWER_BUTTON_SLOT,
  PLIC_BASE,
  PVPANIC_BASE,
  RTC_BASE,
  RTC_IRQ,
  RTC_SIZE,
  TEST_BASE,
  TEST_SIZE,
  UART_BASE,
  UART_IRQ,
  VMGENID_BASE,
  VMGENID_IRQ,
  VMGENID_SIZE,
  UART_SIZE,
  VIRTIO_BASE,
  VIRTIO_STRIDE,
  virtioIrq,
} from "./memory-map.js";
import { MoatError } from "../../base/moat-error.js";

/** What the guest should be told about the machine. */
export interface MachineDescription {
  /** Number of harts, 1..8; hart ids are 0..harts-1. */
  harts: number;
  /** Guest-physical address of the start of RAM (0x8000_0000n on moat). */
  ramBase: bigint;
  /** RAM size in bytes: a multiple of 4 KiB, at least 16 MiB. */
  ramSize: bigint;
  /** Kernel command line (`/chosen/bootargs`). */
  bootargs: string;
  /** Initial ramdisk, `[start, end)` in guest-physical addresses inside RAM. */
  initrd?: { start: bigint; end: bigint };
  /**
   * Present virtio-mmio slots (0..7, and 8: the power button): slot i is at
   * 0x1000_1000 + i*0x1000, size 0x1000, PLIC source 1+i.
   */
  virtio: { slot: number }[];
  /** `riscv,isa` of every hart; default {@link DEFAULT_ISA}. */
  isa?: string;
  /** `mmu-type` of every hart; default {@link DEFAULT_MMU_TYPE}. */
  mmuType?: string;
  /** Optional entropy for the guest's RNG (`/chosen/rng-seed`). */
  rngSeed?: Uint8Array;
}

/** `riscv,isa` used when {@link MachineDescription.isa} is not given. */
export const DEFAULT_ISA = "rv64imafdc_zicsr_zifencei";
/** `mmu-type` used when {@link MachineDescription.mmuType} is not given. */
export const DEFAULT_MMU_TYPE = "riscv,sv48";

/** `mmu-type` values the Linux RISC-V cpus binding allows for a 64-bit hart. */
const MMU_TYPES = ["riscv,sv39", "riscv,sv48", "riscv,sv57", "riscv,none"];

const MAX_HARTS = 8;
const PAGE_SIZE = 0x1000n;
const MIN_RAM_SIZE = 16n * 1024n * 1024n;
const RAM_MIN_BASE = 0x8000_0000n;
const ADDRESS_LIMIT = 1n << 64n;

const TIMEBASE_FREQUENCY = 10_000_000;

/** The pvpanic register is 2 bytes wide, in its page (memory-map.ts PVPANIC_SIZE). */
const PVPANIC_REG_SIZE = 2n;
const CLINT_BASE = 0x0200_0000n;
const CLINT_SIZE = 0x1_0000n;
const PLIC_SIZE = 0x60_0000n;
/** Number of PLIC interrupt sources, not counting the reserved source 0. */
const PLIC_NDEV = 31;
const UART_CLOCK = 3_686_400;
const VIRTIO_SIZE = 0x1000n;

/** Values written to the test device to power off and to reset. */
const POWEROFF_VALUE = 0x5555;
const REBOOT_VALUE = 0x7777;

/** Local interrupt numbers on a hart's `riscv,cpu-intc` (mcause codes). */
const IRQ_M_SOFT = 3;
const IRQ_M_TIMER = 7;
const IRQ_S_EXT = 9;
const IRQ_M_EXT = 11;

/** Error thrown when a {@link MachineDescription} cannot be described. */
export class MachineDescriptionError extends MoatError {
  override readonly kind = "host";
}

function hex(value: bigint): string {
  return value.toString(16);
}

function fail(message: string): never {
  throw new MachineDescriptionError(`invalid machine description: ${message}`);
}

/**
 * Checks a machine description, throwing {@link MachineDescriptionError}
 * with a message naming the offending field.
 *
 * @param m the description to check
 */
export function validateMachineDescription(m: MachineDescription): void {
  if (!Number.isInteger(m.harts) || m.harts < 1 || m.harts > MAX_HARTS) {
    fail(`harts must be an integer in 1..${MAX_HARTS}, got ${String(m.harts)}`);
  }

  if (typeof m.ramBase !== "bigint" || typeof m.ramSize !== "bigint") {
    fail("ramBase and ramSize must be bigints");
  }
  if (m.ramBase % PAGE_SIZE !== 0n || m.ramBase < RAM_MIN_BASE) {
    fail(
      `ramBase must be 4 KiB aligned and at least 0x${hex(RAM_MIN_BASE)} (above the MMIO devices), got 0x${hex(m.ramBase)}`,
    );
  }
  if (m.ramSize % PAGE_SIZE !== 0n) {
    fail(`ramSize must be a multiple of 4 KiB, got ${m.ramSize} bytes`);
  }
  if (m.ramSize < MIN_RAM_SIZE) {
    fail(`ramSize must be at least 16 MiB, got ${m.ramSize} bytes`);
  }
  const ramEnd = m.ramBase + m.ramSize;
  if (ramEnd > ADDRESS_LIMIT) {
    fail(`RAM 0x${hex(m.ramBase)} + 0x${hex(m.ramSize)} extends past the 64-bit address space`);
  }

  if (typeof m.bootargs !== "string" || m.bootargs.includes("\0")) {
    fail("bootargs must be a string without NUL characters");
  }

  if (m.initrd !== undefined) {
    const { start, end } = m.initrd;
    if (typeof start !== "bigint" || typeof end !== "bigint") {
      fail("initrd.start and initrd.end must be bigints");
    }
    if (start >= end) {
      fail(`initrd is empty or reversed: start 0x${hex(start)}, end 0x${hex(end)}`);
    }
    if (start < m.ramBase || end > ramEnd) {
      fail(
        `initrd [0x${hex(start)}, 0x${hex(end)}) must lie inside RAM [0x${hex(m.ramBase)}, 0x${hex(ramEnd)})`,
      );
    }
  }

  const seen = new Set<number>();
  for (const dev of m.virtio) {
    const slot = dev.slot;
    // Slots 0..7 for the VM's own devices, and the power button's slot after them.
    if (!Number.isInteger(slot) || slot < 0 || slot > POWER_BUTTON_SLOT) {
      fail(`virtio slot must be an integer in 0..${POWER_BUTTON_SLOT}, got ${String(slot)}`);
    }
    if (seen.has(slot)) {
      fail(`virtio slot ${slot} is listed more than once`);
    }
    seen.add(slot);
  }

  if (m.isa !== undefined && !/^rv64[a-z][a-z0-9_]*$/.test(m.isa)) {
    fail(`isa must be a lower-case RISC-V ISA string starting with "rv64", got "${m.isa}"`);
  }
  if (m.mmuType !== undefined && !MMU_TYPES.includes(m.mmuType)) {
    fail(`mmuType must be one of ${MMU_TYPES.join(", ")}; got "${m.mmuType}"`);
  }
  if (m.rngSeed !== undefined && (!(m.rngSeed instanceof Uint8Array) || m.rngSeed.length === 0)) {
    fail("rngSeed must be a non-empty Uint8Array when given");
  }
}

/**
 * Builds the flattened device tree (DTB) describing machine `m`, in the
 * layout of QEMU's `virt` board (see the module comment).
 *
 * Virtio nodes are emitted in ascending slot order, so Linux probes (and
 * names) the devices in slot order.
 *
 * @param m the machine to describe; validated first
 * @returns the DTB, ready to be copied into guest memory
 * @throws MachineDescriptionError if `m` is invalid
 */
export function buildDeviceTree(m: MachineDescription): Uint8Array {
  validateMachineDescription(m);
  const isa = m.isa ?? DEFAULT_ISA;
  const mmuType = m.mmuType ?? DEFAULT_MMU_TYPE;

  // Phandles: PLIC, test device, then a (cpu, cpu-intc) pair per hart.
  const plicPhandle = 1;
  const testPhandle = 2;
  const cpuPhandle = (hart: number): number => 3 + 2 * hart;
  const intcPhandle = (hart: number): number => 4 + 2 * hart;
  const harts = Array.from({ length: m.harts }, (_, i) => i);

  const fdt = new FdtBuilder({ bootCpuidPhys: 0 });
  fdt.beginNode("");
  fdt.propU32("#address-cells", 2);
  fdt.propU32("#size-cells", 2);
  fdt.propString("compatible", "moat,virt");
  fdt.propString("model", "moat riscv64 virt");

  // /chosen
  fdt.beginNode("chosen");
  fdt.propString("bootargs", m.bootargs);
  fdt.propString("stdout-path", `/soc/serial@${hex(UART_BASE)}`);
  if (m.initrd !== undefined) {
    fdt.propU64("linux,initrd-start", m.initrd.start);
    fdt.propU64("linux,initrd-end", m.initrd.end);
  }
  if (m.rngSeed !== undefined) {
    fdt.propBytes("rng-seed", m.rngSeed);
  }
  fdt.endNode();

  // /cpus
  fdt.beginNode("cpus");
  fdt.propU32("#address-cells", 1);
  fdt.propU32("#size-cells", 0);
  fdt.propU32("timebase-frequency", TIMEBASE_FREQUENCY);
  for (const hart of harts) {
    fdt.beginNode(`cpu@${hart.toString(16)}`);
    fdt.propString("device_type", "cpu");
    fdt.propU32("reg", hart);
    fdt.propString("status", "okay");
    fdt.propString("compatible", "riscv");
    fdt.propString("riscv,isa", isa);
    fdt.propString("mmu-type", mmuType);
    fdt.propU32("phandle", cpuPhandle(hart));
    fdt.beginNode("interrupt-controller");
    fdt.propU32("#interrupt-cells", 1);
    fdt.propEmpty("interrupt-controller");
    fdt.propString("compatible", "riscv,cpu-intc");
    fdt.propU32("phandle", intcPhandle(hart));
    fdt.endNode();
    fdt.endNode();
  }
  fdt.beginNode("cpu-map");
  fdt.beginNode("cluster0");
  for (const hart of harts) {
    fdt.beginNode(`core${hart}`);
    fdt.propU32("cpu", cpuPhandle(hart));
    fdt.endNode();
  }
  fdt.endNode();
  fdt.endNode();
  fdt.endNode();

  // /memory
  fdt.beginNode(`memory@${hex(m.ramBase)}`);
  fdt.propString("device_type", "memory");
  fdt.propU64s("reg", [m.ramBase, m.ramSize]);
  fdt.endNode();

  // /soc
  fdt.beginNode("soc");
  fdt.propU32("#address-cells", 2);
  fdt.propU32("#size-cells", 2);
  fdt.propString("compatible", "simple-bus");
  fdt.propEmpty("ranges");

  fdt.beginNode(`clint@${hex(CLINT_BASE)}`);
  fdt.propStrings("compatible", ["sifive,clint0", "riscv,clint0"]);
  fdt.propU64s("reg", [CLINT_BASE, CLINT_SIZE]);
  fdt.propCells(
    "interrupts-extended",
    harts.flatMap((h) => [intcPhandle(h), IRQ_M_SOFT, intcPhandle(h), IRQ_M_TIMER]),
  );
  fdt.endNode();

  fdt.beginNode(`plic@${hex(PLIC_BASE)}`);
  fdt.propStrings("compatible", ["sifive,plic-1.0.0", "riscv,plic0"]);
  fdt.propU64s("reg", [PLIC_BASE, PLIC_SIZE]);
  fdt.propU32("#address-cells", 0);
  fdt.propU32("#interrupt-cells", 1);
  fdt.propEmpty("interrupt-controller");
  fdt.propU32("riscv,ndev", PLIC_NDEV);
  fdt.propU32("phandle", plicPhandle);
  // Context 2N is hart N's M-mode external interrupt, 2N+1 its S-mode one.
  fdt.propCells(
    "interrupts-extended",
    harts.flatMap((h) => [intcPhandle(h), IRQ_M_EXT, intcPhandle(h), IRQ_S_EXT]),
  );
  fdt.endNode();

  fdt.beginNode(`serial@${hex(UART_BASE)}`);
  fdt.propString("compatible", "ns16550a");
  fdt.propU64s("reg", [UART_BASE, UART_SIZE]);
  fdt.propU32("clock-frequency", UART_CLOCK);
  fdt.propU32("interrupts", UART_IRQ);
  fdt.propU32("interrupt-parent", plicPhandle);
  fdt.endNode();

  const slots = m.virtio.map((d) => d.slot).sort((a, b) => a - b);
  for (const slot of slots) {
    const base = VIRTIO_BASE + BigInt(slot) * VIRTIO_STRIDE;
    fdt.beginNode(`virtio_mmio@${hex(base)}`);
    fdt.propString("compatible", "virtio,mmio");
    fdt.propU64s("reg", [base, VIRTIO_SIZE]);
    fdt.propU32("interrupts", virtioIrq(slot));
    fdt.propU32("interrupt-parent", plicPhandle);
    fdt.endNode();
  }

  fdt.beginNode(`test@${hex(TEST_BASE)}`);
  fdt.propStrings("compatible", ["sifive,test1", "sifive,test0", "syscon"]);
  fdt.propU64s("reg", [TEST_BASE, TEST_SIZE]);
  fdt.propU32("phandle", testPhandle);
  fdt.endNode();

  // The wall clock: the kernel sets its time from it at boot (rtc-goldfish, rtc0).
  fdt.beginNode(`rtc@${hex(RTC_BASE)}`);
  fdt.propString("compatible", "google,goldfish-rtc");
  fdt.propU64s("reg", [RTC_BASE, RTC_SIZE]);
  fdt.propU32("interrupts", RTC_IRQ);
  fdt.propU32("interrupt-parent", plicPhandle);
  fdt.endNode();

  // A panicking kernel writes here before it restarts (Linux's pvpanic-mmio driver).
  fdt.beginNode(`pvpanic@${hex(PVPANIC_BASE)}`);
  fdt.propString("compatible", "qemu,pvpanic-mmio");
  fdt.propU64s("reg", [PVPANIC_BASE, PVPANIC_REG_SIZE]);
  fdt.endNode();

  // The VM generation ID: a new one (a clone of a snapshot) reseeds the kernel's RNG.
  fdt.beginNode(`vmgenid@${hex(VMGENID_BASE)}`);
  fdt.propString("compatible", "microsoft,vmgenid");
  fdt.propU64s("reg", [VMGENID_BASE, VMGENID_SIZE]);
  fdt.propU32("interrupts", VMGENID_IRQ);
  fdt.propU32("interrupt-parent", plicPhandle);
  fdt.endNode();

  fdt.endNode(); // soc

  fdt.beginNode("poweroff");
  fdt.propString("compatible", "syscon-poweroff");
  fdt.propU32("regmap", testPhandle);
  fdt.propU32("offset", 0);
  fdt.propU32("value", POWEROFF_VALUE);
  fdt.endNode();

  fdt.beginNode("reboot");
  fdt.propString("compatible", "syscon-reboot");
  fdt.propU32("regmap", testPhandle);
  fdt.propU32("offset", 0);
  fdt.propU32("value", REBOOT_VALUE);
  fdt.endNode();

  fdt.endNode(); // root
  return fdt.finish();
}
