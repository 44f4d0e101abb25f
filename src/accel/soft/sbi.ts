// moat's SBI (RISC-V Supervisor Binary Interface, v1.0 subset): what M-mode firmware would
// answer when the kernel makes an ecall. It runs in the hart's own worker; only console and
// system reset go to the VMM thread. Every argument is guest-controlled and checked here.
import type { CoreExports } from "./core-exports.js";
import { U64 } from "./core-exports.js";
import { invalidateCodeRange } from "./jit/code-versions.js";
import {
  HSM_START_PENDING,
  HSM_STARTED,
  HSM_STOPPED,
  MIP_SSIP,
  MIP_STIP,
  SH_FLUSH,
  SH_FLUSH_ACK,
  SH_HSM,
  SH_IDLE,
  SH_MIP,
  SH_MTIMECMP,
  SH_OPAQUE,
  SH_START_ADDR,
  SH_WAKE,
  sharedBlock,
} from "./layout.js";

export const SBI_SUCCESS = 0n;
export const SBI_ERR_FAILED = -1n;
export const SBI_ERR_NOT_SUPPORTED = -2n;
export const SBI_ERR_INVALID_PARAM = -3n;
export const SBI_ERR_INVALID_ADDRESS = -5n;
export const SBI_ERR_ALREADY_AVAILABLE = -6n;

const EXT_BASE = 0x10n;
const EXT_TIME = 0x54494d45n;
const EXT_IPI = 0x735049n;
const EXT_RFENCE = 0x52464e43n;
const EXT_HSM = 0x48534dn;
const EXT_SRST = 0x53525354n;
const EXT_DBCN = 0x4442434en;
const SUPPORTED = [EXT_BASE, EXT_TIME, EXT_IPI, EXT_RFENCE, EXT_HSM, EXT_SRST, EXT_DBCN];

/** Debug-console reads and writes move at most this many bytes per call. */
export const DBCN_MAX_WRITE = 4096;

export interface SbiHost {
  hart: number;
  harts: number;
  core: CoreExports;
  i32: Int32Array; // the whole shared memory
  u64: BigUint64Array;
  ramBase: bigint;
  ramSize: bigint;
  ram: Uint8Array; // guest RAM view
  consolePut(bytes: Uint8Array): void;
  consoleGet(): number;
  systemReset(type: number, reason: number): void;
}

function wake(h: SbiHost, target: number): void {
  const idx = (sharedBlock(target) + SH_WAKE) >> 2;
  Atomics.add(h.i32, idx, 1);
  Atomics.notify(h.i32, idx);
}

/** The harts a (hart_mask, hart_mask_base) pair selects, or null if it names a missing hart. */
export function selectHarts(harts: number, mask: bigint, base: bigint): number[] | null {
  if (U64(base) === U64(-1n)) return Array.from({ length: harts }, (_, i) => i);
  const b = U64(base);
  if (b >= BigInt(harts)) return null;
  const out: number[] = [];
  const m = U64(mask);
  for (let i = 0; i < 64; i++) {
    if (((m >> BigInt(i)) & 1n) === 0n) continue;
    const hart = Number(b) + i;
    if (hart >= harts) return null;
    out.push(hart);
  }
  return out;
}

function setTimer(h: SbiHost, when: bigint): void {
  const blk = sharedBlock(h.hart);
  Atomics.store(h.u64, (blk + SH_MTIMECMP) >> 3, U64(when));
  // The kernel expects a pending timer interrupt to be gone once it programmed a new deadline;
  // the core raises it again at its next check if the deadline has already passed.
  Atomics.and(h.i32, (blk + SH_MIP) >> 2, ~MIP_STIP);
}

function remoteFlush(h: SbiHost, targets: number[]): void {
  const waits: [number, number][] = [];
  for (const t of targets) {
    if (t === h.hart) {
      Atomics.add(h.i32, (sharedBlock(t) + SH_FLUSH) >> 2, 1);
      h.core.serviceFlush();
      continue;
    }
    const gen = Atomics.add(h.i32, (sharedBlock(t) + SH_FLUSH) >> 2, 1) + 1;
    wake(h, t);
    waits.push([t, gen]);
  }
  // Wait until each target flushed, or is idle/stopped (it flushes before it runs again).
  const deadline = Date.now() + 5000;
  for (const [t, gen] of waits) {
    const blk = sharedBlock(t);
    while (
      Atomics.load(h.i32, (blk + SH_FLUSH_ACK) >> 2) - gen < 0 &&
      Atomics.load(h.i32, (blk + SH_IDLE) >> 2) === 0 &&
      Atomics.load(h.i32, (blk + SH_HSM) >> 2) === HSM_STARTED &&
      Date.now() < deadline
    ) {
      h.core.serviceFlush(); // answer flushes aimed at us meanwhile: no deadlock between two
      Atomics.wait(
        h.i32,
        (blk + SH_FLUSH_ACK) >> 2,
        Atomics.load(h.i32, (blk + SH_FLUSH_ACK) >> 2),
        1,
      );
    }
  }
}

/**
 * Whether a hart may start at `addr` (HSM hart_start). The SBI spec answers INVALID_ADDRESS for
 * a start_addr that is not a valid physical address or not executable. Here only RAM is
 * executable, and with the C extension instructions lie on 2-byte boundaries (IALIGN = 16): the
 * address must be even and its first halfword in RAM. (A 32-bit instruction in RAM's last
 * halfword is then the new hart's own instruction access fault, as on hardware.)
 */
function startAddressValid(addr: bigint, ramBase: bigint, ramSize: bigint): boolean {
  return (addr & 1n) === 0n && addr >= ramBase && addr + 2n <= ramBase + ramSize;
}

/**
 * Serves the ecall the core stopped at. Reads a0..a7, writes the (error, value) pair back and
 * moves pc past the ecall. Returns false if the hart must stop running (reset or hart_stop).
 */
export function handleSbi(h: SbiHost): boolean {
  const c = h.core;
  const a = (i: number): bigint => U64(c.getReg(10 + i));
  const ext = a(7);
  const fid = a(6);
  let err = SBI_SUCCESS;
  let val = 0n;
  let running = true;
  switch (ext) {
    case 0x00n: // legacy set_timer
      setTimer(h, a(0));
      c.sbiReturn(0n, c.getReg(11));
      return true;
    case 0x01n: // legacy console_putchar
      h.consolePut(Uint8Array.of(Number(a(0) & 0xffn)));
      c.sbiReturn(0n, c.getReg(11));
      return true;
    case 0x02n: // legacy console_getchar: a0 = byte or -1
      c.sbiReturn(BigInt(h.consoleGet()), c.getReg(11));
      return true;
    case 0x08n: // legacy shutdown
      h.systemReset(0, 0);
      return false;
    case EXT_BASE:
      switch (fid) {
        case 0n:
          val = 1n << 24n;
          break; // spec version 1.0
        case 1n:
          val = 0x6d6f6174n;
          break; // implementation id: "moat"
        case 2n:
          val = 1n;
          break;
        case 3n:
          val = SUPPORTED.includes(a(0)) ? 1n : 0n;
          break;
        case 4n:
        case 5n:
        case 6n:
          val = 0n;
          break;
        default:
          err = SBI_ERR_NOT_SUPPORTED;
      }
      break;
    case EXT_TIME:
      if (fid === 0n) setTimer(h, a(0));
      else err = SBI_ERR_NOT_SUPPORTED;
      break;
    case EXT_IPI: {
      if (fid !== 0n) {
        err = SBI_ERR_NOT_SUPPORTED;
        break;
      }
      const targets = selectHarts(h.harts, a(0), a(1));
      if (!targets) {
        err = SBI_ERR_INVALID_PARAM;
        break;
      }
      for (const t of targets) {
        Atomics.or(h.i32, (sharedBlock(t) + SH_MIP) >> 2, MIP_SSIP);
        wake(h, t);
      }
      break;
    }
    case EXT_RFENCE: {
      if (fid > 6n) {
        err = SBI_ERR_NOT_SUPPORTED;
        break;
      }
      const targets = selectHarts(h.harts, a(0), a(1));
      if (!targets) {
        err = SBI_ERR_INVALID_PARAM;
        break;
      }
      // fence.i needs nothing (no decoded-instruction cache survives a fetch from another page);
      // every sfence variant flushes the target's whole TLB, which is always correct.
      if (fid !== 0n) remoteFlush(h, targets);
      break;
    }
    case EXT_HSM:
      if (fid === 0n) {
        const target = a(0);
        if (target >= BigInt(h.harts)) {
          err = SBI_ERR_INVALID_PARAM;
          break;
        }
        const t = Number(target);
        const start = a(1);
        if (!startAddressValid(start, h.ramBase, h.ramSize)) {
          err = SBI_ERR_INVALID_ADDRESS;
          break;
        }
        const blk = sharedBlock(t);
        const hsmIdx = (blk + SH_HSM) >> 2;
        if (
          Atomics.compareExchange(h.i32, hsmIdx, HSM_STOPPED, HSM_START_PENDING) !== HSM_STOPPED
        ) {
          err = SBI_ERR_ALREADY_AVAILABLE;
          break;
        }
        Atomics.store(h.u64, (blk + SH_START_ADDR) >> 3, start);
        Atomics.store(h.u64, (blk + SH_OPAQUE) >> 3, a(2));
        wake(h, t);
      } else if (fid === 1n) {
        Atomics.store(h.i32, (sharedBlock(h.hart) + SH_HSM) >> 2, HSM_STOPPED);
        running = false;
      } else if (fid === 2n) {
        if (a(0) >= BigInt(h.harts)) {
          err = SBI_ERR_INVALID_PARAM;
          break;
        }
        val = BigInt(Atomics.load(h.i32, (sharedBlock(Number(a(0))) + SH_HSM) >> 2));
      } else err = SBI_ERR_NOT_SUPPORTED;
      break;
    case EXT_SRST:
      if (fid !== 0n || a(0) > 2n) {
        err = SBI_ERR_INVALID_PARAM;
        break;
      }
      h.systemReset(Number(a(0)), Number(a(1) & 0xffff_ffffn));
      return false;
    case EXT_DBCN: {
      if (fid === 2n) {
        h.consolePut(Uint8Array.of(Number(a(0) & 0xffn)));
        break;
      }
      if (fid !== 0n && fid !== 1n) {
        err = SBI_ERR_NOT_SUPPORTED;
        break;
      }
      // write/read(num_bytes, base_lo, base_hi): a physical buffer, which must lie inside RAM.
      const len = a(0) > BigInt(DBCN_MAX_WRITE) ? DBCN_MAX_WRITE : Number(a(0));
      const addr = a(1) | (a(2) << 32n);
      if (addr < h.ramBase || addr + BigInt(len) > h.ramBase + h.ramSize) {
        err = SBI_ERR_INVALID_PARAM;
        break;
      }
      const off = Number(addr - h.ramBase);
      if (fid === 0n) {
        h.consolePut(h.ram.slice(off, off + len));
        val = BigInt(len);
        break;
      }
      // read: whatever input is waiting, without blocking.
      let n = 0;
      while (n < len) {
        const b = h.consoleGet();
        if (b < 0) break;
        h.ram[off + n++] = b;
      }
      // A host write into guest RAM, as a device's DMA: translated code there is stale.
      invalidateCodeRange(h.i32, off, n);
      val = BigInt(n);
      break;
    }
    default:
      err = SBI_ERR_NOT_SUPPORTED;
  }
  c.sbiReturn(err, val);
  return running;
}
