// One KVM vCPU: a worker_thread in a synchronous KVM_RUN loop (DESIGN.md: a fixed-prototype
// ioctl from a worker is ~3x faster than async calls or forwarding every exit). Port and MMIO
// exits go to the VMM thread over the channel; exits it cannot handle end the vCPU with a report
// naming the exit reason and the registers.
import { workerData, parentPort } from "node:worker_threads";
import { writeFileSync } from "node:fs";
import { VcpuFd, type VcpuExit } from "../../kvm/kvm.js";
import { gettid } from "../../sys/libc.js";
import { KVM_EXIT_KINDS } from "./exit-kinds.js";
import {
  CH_ADDR_LO,
  CH_RESULT,
  CH_SIZE,
  CH_STARTED,
  CH_STOP,
  CH_PAUSE,
  CH_PAUSED,
  CH_TID,
  CH_VAL_LO,
  OP_HALT,
  OP_MMIO_READ,
  OP_MMIO_WRITE,
  OP_PIO_READ,
  OP_PIO_WRITE,
  RES_OK,
  getU64,
  putU64,
  sendRequest,
} from "../channel.js";

export interface VcpuWorkerData {
  index: number;
  fd: number;
  runSize: number;
  channel: SharedArrayBuffer;
  /** Exit counters (channel.ts), one slot per KVM_RUN result kind: KVM_EXIT_KINDS. */
  counters: SharedArrayBuffer;
}

const d = workerData as VcpuWorkerData;
const ch = new Int32Array(d.channel);
const vcpu = VcpuFd.adopt(d.fd, d.runSize);
const exits = new Float64Array(d.counters);
const exitSlot = new Map<string, number>(KVM_EXIT_KINDS.map((k, i) => [k, i]));
Atomics.store(ch, CH_TID, gettid());
Atomics.notify(ch, CH_TID);
try {
  // Best effort: top -H and /proc show which thread is which vCPU.
  writeFileSync("/proc/thread-self/comm", `moat-vcpu${d.index}`);
} catch {
  /* no /proc */
}

function stopped(): boolean {
  return Atomics.load(ch, CH_STOP) !== 0;
}

function request(op: number): void {
  sendRequest(ch, op);
}

function halt(detail: string): void {
  parentPort?.postMessage({ kind: "halt", vcpu: d.index, detail });
  request(OP_HALT);
}

/** Little-endian bytes (port I/O: at most 4) to a number. */
function le(bytes: Uint8Array): number {
  let v = 0;
  for (let i = bytes.length - 1; i >= 0; i--) v = v * 256 + bytes[i]!;
  return v;
}

/** Little-endian bytes to a 64-bit value (BigInt: a Number loses bits above 2^53). */
function leBig(bytes: Uint8Array): bigint {
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]!);
  return v;
}

function leBytes(v: bigint, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Number((v >> BigInt(8 * i)) & 0xffn);
  return out;
}

/** KVM_INTERNAL_ERROR_* sub-errors (include/uapi/linux/kvm.h). */
const INTERNAL_ERRORS: Record<number, string> = {
  1: "instruction emulation failed",
  2: "simultaneous exceptions",
  3: "event delivery failed",
  4: "unexpected exit reason",
};

function registers(): string {
  try {
    const r = vcpu.getRegs();
    return `rip 0x${r.rip.toString(16)} rsp 0x${r.rsp.toString(16)} rflags 0x${r.rflags.toString(16)}`;
  } catch (e) {
    return `registers unavailable (${(e as Error).message})`;
  }
}

/** Tells the VMM once this vCPU no longer waits for INIT/SIPI (it stops poking it then). */
function noteStarted(): void {
  if (Atomics.load(ch, CH_STARTED) !== 0) return;
  if (!vcpu.waitingForSipi()) Atomics.store(ch, CH_STARTED, 1);
}

function serve(e: VcpuExit): boolean {
  exits[exitSlot.get(e.kind) ?? KVM_EXIT_KINDS.length - 1]++;
  switch (e.kind) {
    case "io": {
      // String I/O (count > 1) is served element by element, in order.
      const inData = new Uint8Array(e.size * e.count);
      for (let i = 0; i < e.count; i++) {
        ch[CH_ADDR_LO] = e.port;
        ch[CH_SIZE] = e.size;
        if (e.out) {
          ch[CH_VAL_LO] = le(e.data.subarray(i * e.size, (i + 1) * e.size));
          request(OP_PIO_WRITE);
        } else {
          request(OP_PIO_READ);
          inData.set(leBytes(BigInt(ch[CH_VAL_LO]! >>> 0), e.size), i * e.size);
        }
        if (stopped()) return false;
      }
      if (!e.out) vcpu.completeIoIn(inData);
      return true;
    }
    case "mmio": {
      ch[CH_SIZE] = e.len;
      putU64(ch, CH_ADDR_LO, e.addr);
      if (e.write) {
        putU64(ch, CH_VAL_LO, leBig(e.data));
        request(OP_MMIO_WRITE);
      } else {
        request(OP_MMIO_READ);
        // Nothing mapped: reads see all ones, as on a PC bus.
        const v = ch[CH_RESULT] === RES_OK ? getU64(ch, CH_VAL_LO) : (1n << 64n) - 1n;
        vcpu.completeMmioRead(leBytes(v, e.len));
      }
      return !stopped();
    }
    case "intr":
      noteStarted();
      return !stopped();
    case "hlt":
      halt(`vcpu ${d.index}: halted (HLT with no interrupt controller to wake it), ${registers()}`);
      return false;
    case "shutdown":
      halt(`vcpu ${d.index}: shutdown (triple fault), ${registers()}`);
      return false;
    case "fail_entry":
      halt(
        `vcpu ${d.index}: KVM could not enter the guest (reason 0x${e.reason.toString(16)}), ${registers()}`,
      );
      return false;
    case "internal_error":
      halt(
        `vcpu ${d.index}: KVM internal error: ${INTERNAL_ERRORS[e.suberror] ?? `suberror ${e.suberror}`}, ${registers()}`,
      );
      return false;
    default:
      halt(`vcpu ${d.index}: unhandled exit ${e.name}, ${registers()}`);
      return false;
  }
}

try {
  while (!stopped()) {
    if (Atomics.load(ch, CH_PAUSE) !== 0) {
      if (Atomics.load(ch, CH_PAUSED) === 0) {
        // Paused by the VMM, which set immediate_exit first: one more KVM_RUN completes the
        // I/O of the last exit and returns at once (api.rst: only then is the guest's state
        // consistent), so the VMM can save it at an instruction boundary. Had the VMM resumed
        // meanwhile, this is an ordinary run and its exit is served.
        const e = vcpu.runOnce();
        if (!serve(e)) break;
        if (e.kind === "intr" && Atomics.load(ch, CH_PAUSE) !== 0) {
          Atomics.store(ch, CH_PAUSED, 1);
          Atomics.notify(ch, CH_PAUSED);
        }
        continue;
      }
      // Wait until the VMM resumes us.
      Atomics.wait(ch, CH_PAUSE, 1, 100);
      continue;
    }
    if (Atomics.load(ch, CH_PAUSED) !== 0) Atomics.store(ch, CH_PAUSED, 0);
    if (!serve(vcpu.runOnce())) break;
  }
} catch (e) {
  halt(`vcpu ${d.index}: ${(e as Error).message}, ${registers()}`);
}
