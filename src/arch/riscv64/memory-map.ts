// The riscv64 machine's address map (docs/machine.md), shaped like QEMU's virt board.

export const RAM_BASE = 0x8000_0000n;
export const TEST_BASE = 0x0010_0000n;
export const TEST_SIZE = 0x1000n;
/** goldfish RTC, where QEMU's virt board has it (address and PLIC source). */
export const RTC_BASE = 0x0010_1000n;
export const RTC_SIZE = 0x1000n;
export const RTC_IRQ = 11;
export const PVPANIC_BASE = 0x0010_2000n;
export const PVPANIC_SIZE = 0x1000n;
/** The VM generation ID (devicetree "microsoft,vmgenid"): 16 bytes, PLIC source 12. */
export const VMGENID_BASE = 0x0010_3000n;
export const VMGENID_SIZE = 0x10n;
export const VMGENID_IRQ = 12;
export const PLIC_BASE = 0x0c00_0000n;
export const UART_BASE = 0x1000_0000n;
export const UART_SIZE = 0x100n;
export const UART_IRQ = 10;
export const VIRTIO_BASE = 0x1000_1000n;
export const VIRTIO_STRIDE = 0x1000n;
/** Slots for the VM's own virtio devices (disks, NICs, ...): 0..7. */
export const VIRTIO_SLOTS = 8;
/**
 * The slot after them holds the machine's power button (a virtio-input device with one key) in
 * every VM that boots a kernel: at 0x1000_9000, PLIC source 9.
 */
export const POWER_BUTTON_SLOT = VIRTIO_SLOTS;
/** The kernel's entry with moat's SBI; OpenSBI's fw_dynamic sits at RAM_BASE. */
export const FIRMWARE_BASE = RAM_BASE;

export function virtioIrq(slot: number): number {
  return 1 + slot;
}
