// The VMM-thread side of a vCPU worker's channel (channel.ts): applies posted writes in order,
// serves synchronous requests through the VMM's ExitHandler, and sleeps on the doorbell in
// between. Shared by the soft CPU's hart workers and KVM's vCPU workers.
import type { ExitHandler, RiscvExitHandler, X86ExitHandler } from "./accel.js";
import {
  CH_ADDR_LO,
  CH_ARG0,
  CH_ARG1,
  CH_DOORBELL,
  CH_OP,
  CH_RESULT,
  CH_SIZE,
  CH_STATE,
  CH_VAL_LO,
  OP_CONSOLE_GET,
  OP_CONSOLE_PUT,
  OP_HALT,
  OP_MMIO_READ,
  OP_MMIO_WRITE,
  OP_PIO_READ,
  OP_PIO_WRITE,
  OP_SYSTEM_RESET,
  RES_FAULT,
  RES_OK,
  RING_BASE,
  RING_CAPACITY,
  RING_ENTRY_WORDS,
  RING_HEAD,
  RING_TAIL,
  ST_DONE,
  ST_REQUEST,
  getU64,
  putU64,
} from "./channel.js";

/**
 * The handler of one architecture's vCPUs. The channel's ops are shared; an op the vCPU's
 * architecture does not have (port I/O from a hart, SBI console from KVM) faults.
 */
export type ChannelHandler = RiscvExitHandler | X86ExitHandler;

/** How long the VMM thread polls for a vCPU's next device access before it sleeps. */
const POLL_MS = 0.05;

/**
 * Serves one vCPU's posted writes and requests until `stopping()` says so. `allRings` are the
 * posted-write rings of every vCPU of the VM: before a request is served, every write any vCPU
 * posted before it is applied (a driver may post a register write on one CPU, release a lock,
 * and read the register on another).
 */
export async function serveChannel(
  ch: Int32Array,
  ring: Int32Array,
  handler: ChannelHandler,
  stopping: () => boolean,
  allRings: readonly Int32Array[] = [ring],
): Promise<void> {
  while (!stopping()) {
    const bell = Atomics.load(ch, CH_DOORBELL);
    applyPosted(ring, handler);
    if (Atomics.load(ch, CH_STATE) === ST_REQUEST) {
      // The vCPU posted its earlier writes before it raised the request, so once the request
      // is seen they are all visible: apply them (and every other vCPU's) before serving it.
      // (Applying the ring only before looking at the state let a read overtake a write
      // posted in between: the virtio driver then read the wrong feature word.)
      for (const r of allRings) applyPosted(r, handler);
      serveOne(ch, handler);
      Atomics.store(ch, CH_STATE, ST_DONE);
      Atomics.notify(ch, CH_STATE);
      continue;
    }
    // Device accesses come in bursts (a driver's interrupt handler reads several registers
    // in a row): poll briefly before paying the event loop's wake-up latency again.
    if (pollBriefly(ch, bell)) continue;
    const w = Atomics.waitAsync(ch, CH_DOORBELL, bell, 500);
    if (w.async) await w.value;
  }
}

function pollBriefly(ch: Int32Array, bell: number): boolean {
  const until = performance.now() + POLL_MS;
  do {
    if (Atomics.load(ch, CH_DOORBELL) !== bell) return true;
  } while (performance.now() < until);
  return false;
}

/** Applies the writes a vCPU posted, in order. */
/** Applies every write `ring` holds, in order (the VMM thread only). */
export function applyPosted(ring: Int32Array, handler: ExitHandler): void {
  let head = ring[RING_HEAD]!;
  const tail = Atomics.load(ring, RING_TAIL);
  if (head === tail) return;
  while (head !== tail) {
    const e = RING_BASE + (head % RING_CAPACITY) * RING_ENTRY_WORDS;
    try {
      handler.mmioWrite(getU64(ring, e), ring[e + 2]!, getU64(ring, e + 3));
    } catch (err) {
      process.emitWarning(`device error: ${(err as Error).message}`);
    }
    head++;
  }
  Atomics.store(ring, RING_HEAD, head);
  Atomics.notify(ring, RING_HEAD);
}

function serveOne(ch: Int32Array, handler: ChannelHandler): void {
  try {
    ch[CH_RESULT] = serveOp(ch, handler) ? RES_OK : RES_FAULT;
  } catch (e) {
    // A device model must not throw; if one does, the access faults and the VM goes on.
    ch[CH_RESULT] = RES_FAULT;
    process.emitWarning(`device error: ${(e as Error).message}`);
  }
}

/** Serves one request; false: the access faults. */
function serveOp(ch: Int32Array, handler: ChannelHandler): boolean {
  switch (ch[CH_OP]) {
    case OP_MMIO_READ: {
      const v = handler.mmioRead(getU64(ch, CH_ADDR_LO), ch[CH_SIZE]!);
      if (v !== null) putU64(ch, CH_VAL_LO, v);
      return v !== null;
    }
    case OP_MMIO_WRITE:
      return handler.mmioWrite(getU64(ch, CH_ADDR_LO), ch[CH_SIZE]!, getU64(ch, CH_VAL_LO));
    case OP_HALT:
      return true; // the details arrive as a worker message
    default:
      return "pioRead" in handler ? serveX86(ch, handler) : serveRiscv(ch, handler);
  }
}

/** Port I/O. */
function serveX86(ch: Int32Array, handler: X86ExitHandler): boolean {
  const port = ch[CH_ADDR_LO]! & 0xffff;
  switch (ch[CH_OP]) {
    case OP_PIO_READ: {
      const v = handler.pioRead(port, ch[CH_SIZE]!);
      ch[CH_VAL_LO] = v ?? -1;
      return v !== null;
    }
    case OP_PIO_WRITE:
      return handler.pioWrite(port, ch[CH_SIZE]!, ch[CH_VAL_LO]! >>> 0);
    default:
      return false;
  }
}

/** moat's SBI: the firmware console and system reset. */
function serveRiscv(ch: Int32Array, handler: RiscvExitHandler): boolean {
  switch (ch[CH_OP]) {
    case OP_CONSOLE_PUT:
      handler.consoleWrite(Uint8Array.of(ch[CH_VAL_LO]! & 0xff));
      return true;
    case OP_CONSOLE_GET:
      ch[CH_VAL_LO] = handler.consoleRead();
      return true;
    case OP_SYSTEM_RESET:
      handler.systemReset(ch[CH_ARG0]!, ch[CH_ARG1]!);
      return true;
    default:
      return false;
  }
}
