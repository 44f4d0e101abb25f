// A soft-CPU hart's state record (cpu/snapshot.ts) as the host copies it: out of the core after
// saveState, into it before loadState, which checks every value; a refusal is named here.
import type { CoreExports } from "./core-exports.js";
import { HART_BASE, HART_STRIDE, HA_STATE } from "./layout.js";
import { MoatError } from "../../base/moat-error.js";

/** The scalar slots of the record, in order (cpu/snapshot.ts; keep in step). */
const SCALARS = [
  "version",
  "pc",
  "priv",
  "instret",
  "mstatus",
  "medeleg",
  "mideleg",
  "mie",
  "mtvec",
  "mcounteren",
  "mcountinhibit",
  "mscratch",
  "mepc",
  "mcause",
  "mtval",
  "stvec",
  "scounteren",
  "sscratch",
  "sepc",
  "scause",
  "stval",
  "satp",
  "fflags",
  "frm",
  "reservation valid",
  "reservation address",
  "reservation value",
  "SBI mode",
  "reserved",
] as const;

/** The record's size in bytes: the scalars, then x0-x31 and f0-f31, a u64 each. */
export const HART_STATE_BYTES = (SCALARS.length + 64) * 8;

/** A state record the core refused (or one of the wrong size). */
export class HartStateError extends MoatError {
  constructor(message: string) {
    super(message, "invalid");
  }
}

/** The name of record slot `slot`. */
function slotName(slot: number): string {
  if (slot < SCALARS.length) return SCALARS[slot]!;
  const r = slot - SCALARS.length;
  return r < 32 ? `x${r}` : `f${r - 32}`;
}

function recordOffset(hart: number): number {
  return HART_BASE + hart * HART_STRIDE + HA_STATE;
}

/** A copy of the record hart `hart` last wrote (its core's saveState) in `memory`. */
export function hartRecord(memory: WebAssembly.Memory, hart: number): Buffer {
  return Buffer.from(new Uint8Array(memory.buffer, recordOffset(hart), HART_STATE_BYTES));
}

/** Hart `hart`'s state (its core instance, over `memory`), between slices. */
export function saveHartState(core: CoreExports, memory: WebAssembly.Memory, hart: number): Buffer {
  core.saveState();
  return hartRecord(memory, hart);
}

/**
 * Installs `record` as hart `hart`'s state; HartStateError naming the value the core refused
 * (the hart is then left as it was). Bound: exactly HART_STATE_BYTES; each value is checked by
 * the core against what a guest could have written.
 */
export function loadHartState(
  core: CoreExports,
  memory: WebAssembly.Memory,
  hart: number,
  record: Uint8Array,
): void {
  if (record.length !== HART_STATE_BYTES)
    throw new HartStateError(
      `hart ${hart}: a state record is ${HART_STATE_BYTES} bytes, not ${record.length}`,
    );
  new Uint8Array(memory.buffer, recordOffset(hart), HART_STATE_BYTES).set(record);
  const refused = core.loadState();
  if (refused !== 0)
    throw new HartStateError(
      `hart ${hart}: the state record's ${slotName(refused - 1)} is not a value this CPU can hold`,
    );
}
