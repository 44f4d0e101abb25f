/** An interrupt line a device drives; the VMM connects it to the interrupt controller. */
export type IrqLine = (level: boolean) => void;
