// The x86-64 machine's address map (docs/machine.md): RAM from 0 up to the MMIO hole at 3 GiB,
// devices in the hole. The low megabyte holds what the boot protocols want (boot-layout below).

/** Guest RAM lies below the hole; a second slot above 4 GiB is not built yet. */
export const MMIO_HOLE_START = 0xc000_0000n;
export const RAM_MAX_BYTES = Number(MMIO_HOLE_START);
/** virtio-mmio slots, the same count as on riscv64, announced on the kernel command line. */
export const VIRTIO_BASE = 0xd000_0000n;
export const VIRTIO_STRIDE = 0x1000n;
export const VIRTIO_SLOTS = 8;
/** The machine's power button, after the VM's own slots: 0xd000_8000 (docs/machine.md). */
export const POWER_BUTTON_SLOT = VIRTIO_SLOTS;
/**
 * Its interrupt: IO-APIC pins 16..23 are the VM's own slots', so an ISA pin no device of this
 * machine uses, level-triggered like them (the MP table says so).
 */
export const POWER_BUTTON_IRQ = 5;
/** moat's control block (test finisher: power off with status, boot mark), as on riscv64. */
export const TEST_BASE = 0xd100_0000n;
export const TEST_SIZE = 0x1000n;
export const IOAPIC_BASE = 0xfec0_0000n;
export const LAPIC_BASE = 0xfee0_0000n;
/** The in-kernel IO-APIC's pins (KVM: 24). */
export const IOAPIC_PINS = 24;

export const COM1_PORT = 0x3f8;
export const COM1_IRQ = 4;

/** IO-APIC pins 16..23: above the ISA range, so no legacy device shares them; the power button's apart. */
export function virtioIrq(slot: number): number {
  return slot === POWER_BUTTON_SLOT ? POWER_BUTTON_IRQ : 16 + slot;
}

// ---- the low megabyte (boot-time structures) ----
export const GDT_ADDR = 0x500n;
/** The PVH boot's e820 memory map (hvm_memmap_table_entry, 24 bytes each). */
export const PVH_MEMMAP_ADDR = 0x1000n;
/** The PVH boot's module list (the initrd). */
export const PVH_MODLIST_ADDR = 0x2000n;
export const PVH_START_INFO_ADDR = 0x6000n;
/** The Linux boot protocol's boot_params ("zero page"). */
export const ZERO_PAGE_ADDR = 0x7000n;
/** Real-mode code that enters 32-bit protected mode for the PVH entry. */
export const TRAMPOLINE_ADDR = 0x8000n;
export const PML4_ADDR = 0x9000n;
export const PDPT_ADDR = 0xa000n;
/** Four page directories: an identity map of the first 4 GiB with 2 MiB pages. */
export const PD_ADDR = 0xb000n;
export const BOOT_STACK_TOP = 0x8_0000n;
export const CMDLINE_ADDR = 0x2_0000n;
/** Bytes of command line, NUL included. */
export const CMDLINE_MAX = 4096;
/** Conventional memory ends here; the MP table sits in its last KiB (scanned by Linux). */
export const LOW_RAM_END = 0x9_fc00n;
export const MPTABLE_ADDR = LOW_RAM_END;
export const MPTABLE_MAX = 0x400;
export const HIGH_RAM_START = 0x10_0000n;
