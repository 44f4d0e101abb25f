// The synchronous request channel between a vCPU worker (soft hart or KVM vCPU) and the VMM
// thread. One Int32Array per
// hart over its own SharedArrayBuffer: the worker writes a request, flips STATE to REQUEST and
// blocks in Atomics.wait; the VMM serves it and flips STATE to DONE. Only one request per hart
// is ever in flight, so there is no queue to bound.

export const CH_STATE = 0;
export const CH_OP = 1;
export const CH_SIZE = 2;
export const CH_ADDR_LO = 3;
export const CH_ADDR_HI = 4;
export const CH_VAL_LO = 5;
export const CH_VAL_HI = 6;
export const CH_RESULT = 7;
export const CH_STOP = 8; // set by the VMM: the worker leaves its loop
export const CH_ARG0 = 9; // extra arguments (SBI)
export const CH_ARG1 = 10;
export const CH_DOORBELL = 11; // bumped by the worker for every request and posted write
export const CH_INSTRET_LO = 12; // instructions retired, published by the worker after each slice
export const CH_TID = 14; // the vCPU worker's kernel thread id: kicks (KVM), CPU pinning
export const CH_STARTED = 15; // KVM: the vCPU has left its wait for INIT/SIPI
export const CH_PAUSE = 16; // set by the VMM: the worker waits before its next slice
// Snapshots (soft CPU): the VMM sets SAVE_ASKED while the hart is paused; the hart writes its
// state record (hart-state.ts) and sets SAVE_DONE.
export const CH_SAVE = 17;
export const SAVE_ASKED = 1;
export const SAVE_DONE = 2;
export const CH_PAUSED = 18; // KVM: set by the worker while paused out of KVM_RUN, I/O completed
export const CH_WORDS = 20;

export const ST_IDLE = 0;
export const ST_REQUEST = 1;
export const ST_DONE = 2;

export const OP_MMIO_READ = 1;
export const OP_MMIO_WRITE = 2;
export const OP_CONSOLE_PUT = 3; // CH_VAL_LO: one byte (SBI legacy putchar, DBCN)
export const OP_CONSOLE_GET = 4; // result in CH_VAL_LO: byte or -1
export const OP_SYSTEM_RESET = 5; // CH_ARG0: type, CH_ARG1: reason
export const OP_HALT = 6; // the hart cannot continue; details in the worker's message
export const OP_PIO_READ = 7; // x86 port I/O: CH_ADDR_LO port, CH_SIZE, result in CH_VAL_LO
export const OP_PIO_WRITE = 8; // x86 port I/O: CH_ADDR_LO port, CH_SIZE, CH_VAL_LO value

export const RES_OK = 0;
export const RES_FAULT = 1;

// Exit counters: one Float64Array per vCPU over its own SharedArrayBuffer, slot = exit reason
// (each accelerator names its slots). Only the vCPU's worker writes it, with plain stores, so an
// exit costs one add and no message; the VMM reads it when asked (an aligned 8-byte value never
// tears on the hosts moat runs on, and a figure one exit stale is fine). Exact to 2^53 exits.
export const EXIT_COUNTER_SLOTS = 16;

export function newExitCounters(): Float64Array {
  return new Float64Array(new SharedArrayBuffer(EXIT_COUNTER_SLOTS * 8));
}

/** Sums the vCPUs' counters by slot name (`names[i]` names slot i; unnamed slots are skipped). */
export function sumExitCounters(
  counters: readonly Float64Array[],
  names: readonly string[],
): Record<string, number> {
  const out: Record<string, number> = {};
  names.forEach((name, i) => {
    if (name) out[name] = counters.reduce((n, c) => n + (c[i] ?? 0), 0);
  });
  return out;
}

/**
 * Waits until every channel's worker has published its kernel thread id (CH_TID); resolves to
 * them in vCPU order. Bound: gives up after `timeoutMs`, or once `stopped()` (a thread that
 * never reported is 0).
 */
export async function channelThreadIds(
  channels: readonly Int32Array[],
  timeoutMs: number,
  stopped: () => boolean = () => false,
): Promise<number[]> {
  const end = performance.now() + timeoutMs;
  for (const ch of channels) {
    while (Atomics.load(ch, CH_TID) === 0) {
      const left = end - performance.now();
      if (left <= 0 || stopped()) break;
      const w = Atomics.waitAsync(ch, CH_TID, 0, Math.min(left, 100));
      if (w.async) await w.value;
    }
  }
  return channels.map((ch) => Atomics.load(ch, CH_TID));
}

export function newChannel(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(CH_WORDS * 4));
}

/** Splits a 64-bit value into the channel's two 32-bit words. */
export function putU64(ch: Int32Array, lo: number, v: bigint): void {
  ch[lo] = Number(v & 0xffff_ffffn) | 0;
  ch[lo + 1] = Number((v >> 32n) & 0xffff_ffffn) | 0;
}

export function getU64(ch: Int32Array, lo: number): bigint {
  return (BigInt(ch[lo + 1]! >>> 0) << 32n) | BigInt(ch[lo]! >>> 0);
}

// Posted writes: a single-producer (worker), single-consumer (VMM thread) ring of MMIO writes
// the worker does not wait for. The VMM applies them in order, and always before it serves a
// synchronous request from the same hart, so a read after a write sees the write.
export const RING_HEAD = 0; // next entry the VMM will apply
export const RING_TAIL = 1; // next entry the worker will fill
export const RING_BASE = 4;
export const RING_ENTRY_WORDS = 5; // addr lo, addr hi, size, value lo, value hi
export const RING_CAPACITY = 256;

export function newPostedRing(): Int32Array {
  return new Int32Array(new SharedArrayBuffer((RING_BASE + RING_CAPACITY * RING_ENTRY_WORDS) * 4));
}

/** Worker side: wakes the VMM thread (a request or a posted write is waiting). */
export function ringDoorbell(ch: Int32Array): void {
  Atomics.add(ch, CH_DOORBELL, 1);
  Atomics.notify(ch, CH_DOORBELL);
}

/**
 * Worker side: sends the request prepared in `ch` and waits for the VMM's answer. Returns early
 * (with no answer) once the VMM has asked the worker to stop.
 */
export function sendRequest(ch: Int32Array, op: number): void {
  ch[CH_OP] = op;
  Atomics.store(ch, CH_STATE, ST_REQUEST);
  ringDoorbell(ch);
  // The answer usually comes within microseconds: spin a little before sleeping on it.
  for (let i = 0; i < 2000 && Atomics.load(ch, CH_STATE) === ST_REQUEST; i++);
  while (Atomics.load(ch, CH_STATE) === ST_REQUEST) {
    if (Atomics.load(ch, CH_STOP) !== 0) return;
    Atomics.wait(ch, CH_STATE, ST_REQUEST, 100);
  }
  Atomics.store(ch, CH_STATE, ST_IDLE);
}
