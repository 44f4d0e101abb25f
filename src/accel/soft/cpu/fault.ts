// How an instruction stops part-way. Memory helpers cannot throw, so they record why they
// stopped here and return a dummy value; the interpreter checks `fault` after each access.

export const FAULT_NONE: u32 = 0;
export const FAULT_EXC: u32 = 1; // a synchronous exception: excCause/excTval
export const FAULT_MMIO: u32 = 2; // an access the host's device bus must serve: mmio*
export const FAULT_RECHECK: u32 = 3; // done, but interrupt state may have changed (CLINT write)

export let fault: u32 = FAULT_NONE;
export let excCause: u64 = 0;
export let excTval: u64 = 0;

export let mmioAddr: u64 = 0;
export let mmioSize: u32 = 0;
export let mmioWrite: bool = false;
export let mmioValue: u64 = 0;
export let mmioPc: u64 = 0; // the instruction that made the access
export let mmioVa: u64 = 0; // its virtual address, for the fault if the bus refuses it

export function raise(cause: u64, tval: u64): void {
  fault = FAULT_EXC;
  excCause = cause;
  excTval = tval;
}

export function requestMmio(va: u64, pa: u64, size: u32, write: bool, value: u64): void {
  fault = FAULT_MMIO;
  mmioVa = va;
  mmioAddr = pa;
  mmioSize = size;
  mmioWrite = write;
  mmioValue = value;
}

export function clearFault(): void {
  fault = FAULT_NONE;
}

/** The access completed but changed interrupt state: the interpreter re-checks at once. */
export function requestRecheck(): void {
  fault = FAULT_RECHECK;
}
