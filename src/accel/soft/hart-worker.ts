// One hart: a worker_thread running the WebAssembly core over the VM's shared memory. It
// leaves the core only for device accesses (served by the VMM thread over the channel), WFI
// (sleeps on an atomic until woken or the next timer deadline) and SBI calls.
import { workerData, parentPort } from "node:worker_threads";
import { readlinkSync, writeFileSync } from "node:fs";
import { basename } from "node:path";
import type { CoreExports } from "./core-exports.js";
import { U64, hex } from "./core-exports.js";
import {
  CH_ADDR_LO,
  CH_ARG0,
  CH_INSTRET_LO,
  CH_ARG1,
  CH_RESULT,
  CH_SIZE,
  CH_STOP,
  CH_PAUSE,
  CH_SAVE,
  CH_TID,
  CH_VAL_LO,
  OP_CONSOLE_GET,
  OP_CONSOLE_PUT,
  OP_HALT,
  OP_MMIO_READ,
  OP_MMIO_WRITE,
  OP_SYSTEM_RESET,
  RES_OK,
  RING_BASE,
  SAVE_ASKED,
  SAVE_DONE,
  RING_CAPACITY,
  RING_ENTRY_WORDS,
  RING_HEAD,
  RING_TAIL,
  getU64,
  putU64,
  ringDoorbell,
  sendRequest,
} from "../channel.js";
import {
  EXIT_BUDGET,
  EXIT_HALT,
  EXIT_MMIO,
  EXIT_SBI,
  EXIT_SLOT_POSTED,
  EXIT_WFI,
  JIT_STAT_SLOTS,
  HSM_START_PENDING,
  HSM_STARTED,
  HSM_STOPPED,
  RAM_OFFSET,
  SH_HSM,
  SH_IDLE,
  SH_MTIMECMP,
  SH_OPAQUE,
  SH_START_ADDR,
  SH_WAKE,
  TIMEBASE_HZ,
  sharedBlock,
} from "./layout.js";
import { handleSbi } from "./sbi.js";
import { createHartCore } from "./hart-core.js";
import { loadHartState } from "./hart-state.js";
import type { JitStats } from "./jit/code-cache.js";
import type { CpuTier } from "./cpu-tier.js";

/** What a hart's worker is made with (soft-accel.ts spawnHarts): its place in the VM. */
export interface HartWorkerData {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  channel: SharedArrayBuffer;
  posted: SharedArrayBuffer;
  /** Exit counters (channel.ts): slot = the core's exit code, plus EXIT_SLOT_POSTED. */
  counters: SharedArrayBuffer;
  hart: number;
  harts: number;
  ramBase: bigint;
  ramSize: number;
  sbi: boolean;
  /** The execution tier this hart runs guest code on (cpu-tier.ts). */
  cpuTier: CpuTier;
}

/** The message that starts a hart (soft-accel.ts start): where, and how the VM is wired. */
export interface HartStart {
  /** Device ranges where writes are posted (see ExitHandler.postedWriteRanges). */
  postedWriteRanges: { base: bigint; size: bigint }[];
  /** Started at boot (hart 0, or every hart without SBI); others wait for HSM hart_start. */
  startNow: boolean;
  entry: bigint;
  priv: number;
  args: bigint[];
  /** performance.timeOrigin + performance.now() of the VMM at VM creation, in ms. */
  epochMs: number;
  /**
   * A snapshot's state record for this hart (hart-state.ts), loaded instead of a reset; null:
   * the hart was stopped (HSM) and waits to be started, as it did.
   */
  restore?: Uint8Array | null;
}

/** Instructions per trip into the core: bounds interrupt latency and stop latency. */
const SLICE = 200_000;

const d = workerData as HartWorkerData;
const ch = new Int32Array(d.channel);
const ring = new Int32Array(d.posted);
const exits = new Float64Array(d.counters);

// Tell the VMM this thread's kernel id (for CPU pinning) without loading koffi here, and name
// the thread so that top -H and /proc show which one is a hart. Both are best effort.
try {
  Atomics.store(ch, CH_TID, Number(basename(readlinkSync("/proc/thread-self"))) | 0);
  Atomics.notify(ch, CH_TID);
  writeFileSync("/proc/thread-self/comm", `moat-hart${d.hart}`);
} catch {
  /* not Linux, or no /proc: nothing to pin */
}
const i32 = new Int32Array(d.memory.buffer);
const u64 = new BigUint64Array(d.memory.buffer);
const ram = new Uint8Array(d.memory.buffer, RAM_OFFSET, d.ramSize);
const blk = sharedBlock(d.hart);
const wakeIdx = (blk + SH_WAKE) >> 2;
const idleIdx = (blk + SH_IDLE) >> 2;
const hsmIdx = (blk + SH_HSM) >> 2;

// mtime = ms since the VM's epoch x 10^4. timeOrigin + now() is comparable across threads.
// Set by the start message (the timer's origin is the VMM's, moved for a restored VM).
let originShift = 0;
/** The start message (set before the hart runs). */
let go: HartStart;
const ticksPerMs = TIMEBASE_HZ / 1000;
function now(): number {
  return Math.floor((performance.now() + originShift) * ticksPerMs);
}

// MOAT_JIT_HOT=N (a developer's and the tests' knob): entries that make a page hot on the jit
// tier; 1 translates every page at its first entry, so tests exercise the translator most.
const hot = Number.parseInt(process.env.MOAT_JIT_HOT ?? "", 10);
const hartCore = createHartCore(d.module, d.memory, now, d.cpuTier, {
  hot: hot > 0 ? hot : undefined,
  asyncCompile: true,
});
const core: CoreExports = hartCore.core;

function stopped(): boolean {
  return Atomics.load(ch, CH_STOP) !== 0;
}

/** Sends one request to the VMM thread and waits for its answer. */
function request(op: number): void {
  sendRequest(ch, op);
}

function halt(detail: string): void {
  parentPort?.postMessage({ kind: "halt", hart: d.hart, detail });
  request(OP_HALT);
}

/** Serves the core's pending device access; false if the hart must stop (trap loop). */
function postable(addr: bigint, size: number): boolean {
  for (const r of go.postedWriteRanges) {
    if (addr >= r.base && addr + BigInt(size) <= r.base + r.size) return true;
  }
  return false;
}

/** Queues a device write without waiting for it (waits only while the ring is full). */
function postWrite(addr: bigint, size: number, value: bigint): void {
  const tail = ring[RING_TAIL]!; // only this thread writes the tail
  while (tail - Atomics.load(ring, RING_HEAD) >= RING_CAPACITY) {
    if (stopped()) return;
    ringDoorbell(ch);
    Atomics.wait(ring, RING_HEAD, Atomics.load(ring, RING_HEAD), 10);
  }
  const e = RING_BASE + (tail % RING_CAPACITY) * RING_ENTRY_WORDS;
  putU64(ring, e, addr);
  ring[e + 2] = size;
  putU64(ring, e + 3, value);
  Atomics.store(ring, RING_TAIL, tail + 1);
  ringDoorbell(ch);
}

function serveMmio(): boolean {
  const addr = U64(core.getMmioAddr());
  const size = core.getMmioSize();
  const write = core.getMmioWrite() !== 0;
  if (write && postable(addr, size)) {
    exits[EXIT_SLOT_POSTED]++;
    postWrite(addr, size, U64(core.getMmioValue()));
    return true;
  }
  exits[EXIT_MMIO]++;
  ch[CH_SIZE] = size;
  putU64(ch, CH_ADDR_LO, addr);
  if (write) putU64(ch, CH_VAL_LO, U64(core.getMmioValue()));
  request(write ? OP_MMIO_WRITE : OP_MMIO_READ);
  if (stopped()) return false;
  if (ch[CH_RESULT] !== RES_OK)
    core.mmioFault(); // a trap loop shows as EXIT_HALT next
  else if (!write) core.completeMmioLoad(getU64(ch, CH_VAL_LO));
  return true;
}

function sleepUntilInterrupt(): void {
  for (;;) {
    const seq = Atomics.load(i32, wakeIdx);
    // A pause ends the sleep too (the VMM wakes it for a snapshot); WFI may end at any time.
    if (core.interruptsPending() !== 0 || stopped() || Atomics.load(ch, CH_PAUSE) !== 0) return;
    const cmp = Atomics.load(u64, (blk + SH_MTIMECMP) >> 3);
    const t = BigInt(now());
    let ms = 1000;
    if (cmp <= t) return;
    const dt = Number(cmp - t) / ticksPerMs;
    if (dt < ms) ms = dt;
    Atomics.store(i32, idleIdx, 1);
    Atomics.wait(i32, wakeIdx, seq, ms);
    Atomics.store(i32, idleIdx, 0);
  }
}

/** A stopped hart (HSM) waits here until another hart starts it. */
function waitForStart(): boolean {
  Atomics.store(i32, idleIdx, 1);
  while (Atomics.load(i32, hsmIdx) !== HSM_START_PENDING) {
    if (stopped()) return false;
    const seq = Atomics.load(i32, wakeIdx);
    if (Atomics.load(i32, hsmIdx) === HSM_START_PENDING) break;
    Atomics.wait(i32, wakeIdx, seq, 500);
  }
  Atomics.store(i32, idleIdx, 0);
  const addr = Atomics.load(u64, (blk + SH_START_ADDR) >> 3);
  const opaque = Atomics.load(u64, (blk + SH_OPAQUE) >> 3);
  core.hartStart(addr, opaque);
  Atomics.store(i32, hsmIdx, HSM_STARTED);
  return true;
}

const sbiHost = {
  hart: d.hart,
  harts: d.harts,
  core,
  i32,
  u64,
  ramBase: d.ramBase,
  ramSize: BigInt(d.ramSize),
  ram,
  consolePut(bytes: Uint8Array): void {
    for (const b of bytes) {
      ch[CH_VAL_LO] = b;
      request(OP_CONSOLE_PUT);
    }
  },
  consoleGet(): number {
    request(OP_CONSOLE_GET);
    return ch[CH_VAL_LO]!;
  },
  systemReset(type: number, reason: number): void {
    ch[CH_ARG0] = type;
    ch[CH_ARG1] = reason;
    request(OP_SYSTEM_RESET);
  },
};

function describe(why: string): string {
  const cause = U64(core.haltCause.value as bigint);
  return (
    `hart ${d.hart}: ${why} at pc ${hex(core.haltPc.value as bigint)}, ` +
    `cause ${cause} (${causeName(cause)}), tval ${hex(core.haltTval.value as bigint)}, ` +
    `priv ${"USHM"[core.getPriv()]}, mtvec ${hex(core.debugCsr(0x305))}, stvec ${hex(core.debugCsr(0x105))}`
  );
}

function causeName(c: bigint): string {
  const names = [
    "instruction address misaligned",
    "instruction access fault",
    "illegal instruction",
    "breakpoint",
    "load address misaligned",
    "load access fault",
    "store address misaligned",
    "store access fault",
    "ecall from U",
    "ecall from S",
    "reserved",
    "ecall from M",
    "instruction page fault",
    "load page fault",
    "reserved",
    "store page fault",
  ];
  return names[Number(c)] ?? "unknown";
}

// A developer's guest profile (MOAT_GUEST_PROFILE=PREFIX): the privilege level and the pc at
// the end of every slice, counted, rewritten to PREFIX.hartN.json every 1000 samples (the hart
// may be terminated rather than return). Slices end
// on instruction counts, so the samples are unbiased; satp tells user processes apart.
const profilePrefix = process.env.MOAT_GUEST_PROFILE;
const profile = new Map<string, number>();
let samples = 0;
function sample(): void {
  const key = `${"USHM"[core.getPriv()]} ${hex(core.getPc())} ${hex(core.debugCsr(0x180))}`;
  profile.set(key, (profile.get(key) ?? 0) + 1);
  if (++samples % 1000 === 0) writeProfile();
}
function writeProfile(): void {
  if (!profilePrefix) return;
  const rows = [...profile].sort((a, b) => b[1] - a[1]);
  writeFileSync(`${profilePrefix}.hart${d.hart}.json`, JSON.stringify({ slice: SLICE, rows }));
}

/** Lets this thread's event loop run: translated code V8 finished compiling gets installed. */
function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

async function main(): Promise<void> {
  // The core is made while the VMM loads the guest; the hart runs once told to start.
  const made = hartCore.init(d.hart, d.ramBase, BigInt(d.ramSize), d.sbi, d.harts);
  // The VMM set this hart's HSM state and timer before any hart ran (soft-accel.ts): another
  // hart may already have started this one.
  go = await new Promise<HartStart>((r) => parentPort!.once("message", r));
  originShift = performance.timeOrigin - go.epochMs;
  if (!made) {
    halt(`hart ${d.hart}: the core refused its configuration`);
    return;
  }
  if (go.restore) {
    try {
      loadHartState(core, d.memory, d.hart, go.restore);
    } catch (e) {
      halt(`snapshot: ${(e as Error).message}`);
      return;
    }
  } else if (go.restore === null) {
    if (!waitForStart()) return;
  } else if (go.startNow) {
    const [a0 = 0n, a1 = 0n, a2 = 0n] = go.args;
    core.reset(go.entry, go.priv, a0, a1, a2);
  } else if (!waitForStart()) return;
  while (!stopped()) {
    if (Atomics.load(ch, CH_PAUSE) !== 0) {
      // Paused by the VMM: no guest instruction runs until it clears the flag. Here, between
      // slices, no device access or SBI call is in flight: the state a snapshot takes.
      if (Atomics.load(ch, CH_SAVE) === SAVE_ASKED) {
        core.saveState();
        Atomics.store(ch, CH_SAVE, SAVE_DONE);
        Atomics.notify(ch, CH_SAVE);
      }
      Atomics.wait(ch, CH_PAUSE, 1, 100);
      continue;
    }
    if (hartCore.pendingCompiles() > 0) await yieldToLoop();
    const r = hartCore.run(SLICE);
    const js = hartCore.jitStats();
    if (js) for (const [k, slot] of Object.entries(JIT_STAT_SLOTS)) exits[slot] = js[k as keyof JitStats];
    if (profilePrefix && r === EXIT_BUDGET) sample();
    putU64(ch, CH_INSTRET_LO, U64(core.getInstret()));
    // An MMIO exit counts as posted or waited-on (serveMmio): each exit in one slot only.
    if (r !== EXIT_MMIO) exits[r]++;
    switch (r) {
      case EXIT_BUDGET:
        break;
      case EXIT_MMIO:
        if (!serveMmio()) return;
        break;
      case EXIT_WFI:
        sleepUntilInterrupt();
        break;
      case EXIT_SBI:
        if (!handleSbi(sbiHost)) {
          if (Atomics.load(i32, hsmIdx) === HSM_STOPPED && !stopped()) {
            if (!waitForStart()) return;
          } else {
            // Reset requested: the VMM stops us.
            while (!stopped()) Atomics.wait(ch, CH_STOP, 0, 100);
            return;
          }
        }
        break;
      case EXIT_HALT:
        halt(describe("stuck in a trap loop"));
        return;
    }
  }
}

main().catch((e: unknown) => {
  // A WebAssembly trap here is a bug in moat's core, never the guest's doing; report it with
  // the hart's state instead of a bare stack trace.
  let pc = "?";
  try {
    pc = hex(core.getPc());
  } catch {
    /* the instance itself is unusable */
  }
  halt(`hart ${d.hart}: internal error in the CPU core at pc ${pc}: ${(e as Error).message}`);
});
