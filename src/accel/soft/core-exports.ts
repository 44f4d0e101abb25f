// The functions the WebAssembly core exports (src/accel/soft/cpu/index.ts). 64-bit values are
// BigInt (signed, as WebAssembly's i64 converts); booleans are 0/1.

export interface CoreExports {
  init(hart: number, ramBase: bigint, ramSize: bigint, sbi: number): number;
  reset(entry: bigint, priv: number, a0: bigint, a1: bigint, a2: bigint): void;
  run(budget: number): number;
  interruptsPending(): number;
  completeMmioLoad(v: bigint): void;
  mmioFault(): void;
  sbiReturn(error: bigint, value: bigint): void;
  hartStart(addr: bigint, opaque: bigint): void;
  serviceFlush(): void;
  getPc(): bigint;
  setPc(v: bigint): void;
  getPriv(): number;
  getReg(i: number): bigint;
  setReg(i: number, v: bigint): void;
  getInstret(): bigint;
  getMmioAddr(): bigint;
  getMmioSize(): number;
  getMmioWrite(): number;
  getMmioValue(): bigint;
  getMmioPending(): number;
  debugCsr(n: number): bigint;
  /** Writes the hart's state record at HA_STATE (cpu/snapshot.ts). */
  saveState(): void;
  /** Installs the record at HA_STATE: 0, or 1 + the slot of the first value refused. */
  loadState(): number;
  jitBudget: WebAssembly.Global;
  haltCause: WebAssembly.Global;
  haltPc: WebAssembly.Global;
  haltTval: WebAssembly.Global;
}

export const U64 = (v: bigint): bigint => BigInt.asUintN(64, v);
export const hex = (v: bigint): string => "0x" + U64(v).toString(16);
