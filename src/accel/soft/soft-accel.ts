// The soft accelerator: moat's own RV64GC CPU. Guest RAM and the harts' shared state live in
// one shared WebAssembly memory; each hart is a worker_thread running the core; this side (the
// VMM thread) serves their device accesses and drives their interrupt lines.
import { readFileSync } from "node:fs";
import { Worker } from "node:worker_threads";
import { noJitStats } from "../accel.js";
import type {
  JitStats,
  RiscvAccelVm,
  RiscvAccelVmConfig,
  RiscvAccelerator,
  RiscvBoot,
  RiscvExitHandler,
  RiscvHartsState,
} from "../accel.js";
import { GuestMemory } from "../../memory/guest-memory.js";
import {
  CH_DOORBELL,
  CH_INSTRET_LO,
  CH_STATE,
  CH_STOP,
  CH_PAUSE,
  CH_SAVE,
  SAVE_ASKED,
  SAVE_DONE,
  channelThreadIds,
  getU64,
  newChannel,
  newExitCounters,
  newPostedRing,
  sumExitCounters,
} from "../channel.js";
import {
  EXIT_BUDGET,
  EXIT_HALT,
  EXIT_MMIO,
  EXIT_SBI,
  EXIT_SLOT_POSTED,
  JIT_STAT_SLOTS,
  EXIT_WFI,
  HSM_STARTED,
  HSM_STOPPED,
  MAX_HARTS,
  MAX_RAM_BYTES,
  MIP_MEIP,
  MIP_MSIP,
  MIP_MTIP,
  MIP_SEIP,
  MIP_SSIP,
  MIP_STIP,
  NO_DEADLINE,
  RAM_OFFSET,
  SH_EXT,
  SH_HSM,
  SH_MIP,
  SH_MTIMECMP,
  SH_OPAQUE,
  SH_START_ADDR,
  SH_WAKE,
  TIMEBASE_HZ,
  memoryPages,
  sharedBlock,
} from "./layout.js";
import { hartRecord } from "./hart-state.js";
import type { HartStart, HartWorkerData } from "./hart-worker.js";
import { applyPosted, serveChannel } from "../channel-server.js";
import { invalidateCodeRange } from "./jit/code-versions.js";
import { CPU_TIERS, DEFAULT_CPU_TIER, isCpuTier, type CpuTier } from "./cpu-tier.js";
import { MoatError } from "../../base/moat-error.js";

let cachedModule: WebAssembly.Module | undefined;

/** The compiled core (dist/cpu.wasm), compiled once per process. */
export function coreModule(): WebAssembly.Module {
  if (!cachedModule) {
    const url = new URL("../../../cpu.wasm", import.meta.url);
    cachedModule = new WebAssembly.Module(readFileSync(url));
  }
  return cachedModule;
}

export class SoftAccelError extends MoatError {
  override readonly kind = "host";
}

/** The hart worker counts each return from the core in the slot of its exit code. */
const EXIT_NAMES: string[] = [];
EXIT_NAMES[EXIT_BUDGET] = "budget";
EXIT_NAMES[EXIT_MMIO] = "mmio";
EXIT_NAMES[EXIT_WFI] = "wfi";
EXIT_NAMES[EXIT_SBI] = "sbi";
EXIT_NAMES[EXIT_HALT] = "halt";
EXIT_NAMES[EXIT_SLOT_POSTED] = "mmio_posted";

/** The mip bits software and the CLINT set (SSIP, MSIP, STIP, MTIP); the PLIC drives the rest. */
const SOFTWARE_MIP = MIP_SSIP | MIP_MSIP | MIP_STIP | MIP_MTIP;
const TICKS_PER_MS = TIMEBASE_HZ / 1000;

class SoftVm implements RiscvAccelVm {
  readonly memory: GuestMemory;
  private readonly wasmMemory: WebAssembly.Memory;
  private readonly i32: Int32Array;
  private readonly workers: Worker[] = [];
  private readonly channels: Int32Array[] = [];
  private readonly rings: Int32Array[] = [];
  private readonly counters: Float64Array[] = [];
  private stopping = false;
  /** The machine timer's origin: mtime = (ms since it) x TIMEBASE_HZ / 1000. */
  private epochMs = performance.timeOrigin + performance.now();
  private handler: RiscvExitHandler | undefined;

  constructor(
    private readonly config: RiscvAccelVmConfig,
    private readonly cpuTier: CpuTier,
  ) {
    this.wasmMemory = new WebAssembly.Memory({
      initial: memoryPages(config.ramBytes),
      maximum: memoryPages(config.ramBytes),
      shared: true,
    });
    this.i32 = new Int32Array(this.wasmMemory.buffer);
    this.memory = new GuestMemory(
      config.ramBase,
      new Uint8Array(this.wasmMemory.buffer, RAM_OFFSET, config.ramBytes),
      (off, len) => invalidateCodeRange(this.i32, off, len),
    );
    this.spawnHarts();
  }

  /**
   * Starts each hart's worker thread, which makes its core and then waits for start(): a
   * thread takes some 30 ms to come up, time the VMM spends loading the guest meanwhile. The
   * threads do not keep the process alive until start().
   */
  private spawnHarts(): void {
    const module = coreModule();
    for (let h = 0; h < this.config.vcpus; h++) {
      const channel = newChannel();
      const ring = newPostedRing();
      const counters = newExitCounters();
      this.channels.push(channel);
      this.rings.push(ring);
      this.counters.push(counters);
      const data: HartWorkerData = {
        module,
        memory: this.wasmMemory,
        channel: channel.buffer as SharedArrayBuffer,
        posted: ring.buffer as SharedArrayBuffer,
        counters: counters.buffer as SharedArrayBuffer,
        hart: h,
        harts: this.config.vcpus,
        ramBase: this.config.ramBase,
        ramSize: this.config.ramBytes,
        sbi: this.config.builtinFirmware,
        cpuTier: this.cpuTier,
      };
      const w = new Worker(new URL("./hart-worker.js", import.meta.url), { workerData: data });
      w.unref();
      w.on("message", (m: { kind: string; hart: number; detail: string }) => {
        if (m.kind === "halt" && !this.stopping) this.handler?.vcpuHalted(m.hart, m.detail);
      });
      w.on("error", (e) => {
        if (!this.stopping) this.handler?.vcpuHalted(h, `hart ${h}: worker failed: ${e.message}`);
      });
      this.workers.push(w);
    }
  }

  start(start: RiscvBoot | { restore: RiscvHartsState }, handler: RiscvExitHandler): void {
    this.handler = handler;
    const startNow = (h: number): boolean => h === 0 || !this.config.builtinFirmware;
    const restore = "restore" in start ? start.restore : undefined;
    const boot: RiscvBoot = "restore" in start ? { entry: 0n, mode: "S", args: [] } : start;
    if (restore) this.restoreSharedBlocks(restore);
    else this.initSharedBlocks(startNow);
    this.workers.forEach((w, h) => {
      const go: HartStart = {
        postedWriteRanges: handler.postedWriteRanges.map((r) => ({ ...r })),
        startNow: startNow(h),
        entry: boot.entry,
        priv: boot.mode === "S" ? 1 : 3,
        args: [BigInt(h), ...boot.args.slice(1)],
        epochMs: this.epochMs,
        ...(restore ? { restore: restore.harts[h]!.record } : {}),
      };
      w.ref();
      w.postMessage(go);
      void this.serve(this.channels[h]!, this.rings[h]!, handler);
    });
  }

  /**
   * Every hart's cross-hart state, set before any hart runs: the boot hart may ask for another
   * hart's HSM state, or start it, before that hart's worker has begun.
   */
  private initSharedBlocks(startNow: (h: number) => boolean): void {
    const u64 = new BigUint64Array(this.wasmMemory.buffer);
    for (let h = 0; h < this.config.vcpus; h++) {
      const blk = sharedBlock(h);
      Atomics.store(this.i32, (blk + SH_HSM) >> 2, startNow(h) ? HSM_STARTED : HSM_STOPPED);
      Atomics.store(u64, (blk + SH_MTIMECMP) >> 3, NO_DEADLINE);
    }
  }

  /**
   * A snapshot's cross-hart state, and the timer's origin moved so that mtime goes on from
   * where it was. The values were checked when the snapshot was read (snapshot-harts.ts
   * hartsFromManifest: one hart per vCPU, HSM states, records, mtime); the mip bits are masked.
   */
  private restoreSharedBlocks(s: RiscvHartsState): void {
    const u64 = new BigUint64Array(this.wasmMemory.buffer);
    s.harts.forEach((h, i) => {
      const blk = sharedBlock(i);
      Atomics.store(this.i32, (blk + SH_HSM) >> 2, h.hsm);
      Atomics.store(this.i32, (blk + SH_MIP) >> 2, h.mip & SOFTWARE_MIP);
      Atomics.store(u64, (blk + SH_MTIMECMP) >> 3, BigInt.asUintN(64, h.mtimecmp));
      Atomics.store(u64, (blk + SH_START_ADDR) >> 3, BigInt.asUintN(64, h.startAddr));
      Atomics.store(u64, (blk + SH_OPAQUE) >> 3, BigInt.asUintN(64, h.opaque));
    });
    this.epochMs = performance.timeOrigin + performance.now() - Number(s.mtime) / TICKS_PER_MS;
  }

  /** mtime now, as the harts compute it (hart-worker.ts now()). */
  private mtime(): bigint {
    const ms = performance.timeOrigin + performance.now() - this.epochMs;
    return BigInt(Math.floor(ms * TICKS_PER_MS));
  }

  async saveHarts(timeoutMs: number): Promise<RiscvHartsState> {
    if (!this.handler) throw new SoftAccelError("the VM has not started");
    const end = performance.now() + timeoutMs;
    const u64 = new BigUint64Array(this.wasmMemory.buffer);
    const harts = [];
    for (let h = 0; h < this.channels.length; h++) {
      const ch = this.channels[h]!;
      const blk = sharedBlock(h);
      if (Atomics.load(ch, CH_PAUSE) === 0) throw new SoftAccelError("the VM is not paused");
      Atomics.store(ch, CH_SAVE, SAVE_ASKED);
      Atomics.notify(ch, CH_PAUSE);
      // A hart asleep in WFI wakes to the pause, and takes the request at its next check.
      Atomics.add(this.i32, (blk + SH_WAKE) >> 2, 1);
      Atomics.notify(this.i32, (blk + SH_WAKE) >> 2);
      let record: Uint8Array | null = null;
      for (;;) {
        if (Atomics.load(ch, CH_SAVE) === SAVE_DONE) {
          record = new Uint8Array(hartRecord(this.wasmMemory, h));
          break;
        }
        // A hart stopped by the guest (HSM) waits to be started and has no state that counts.
        if (Atomics.load(this.i32, (blk + SH_HSM) >> 2) === HSM_STOPPED) break;
        const left = end - performance.now();
        if (left <= 0 || this.stopping)
          throw new SoftAccelError(`hart ${h} did not save its state within ${timeoutMs} ms`);
        const w = Atomics.waitAsync(ch, CH_SAVE, SAVE_ASKED, Math.min(left, 20));
        if (w.async) await w.value;
      }
      Atomics.store(ch, CH_SAVE, 0);
      harts.push({
        record,
        mip: Atomics.load(this.i32, (blk + SH_MIP) >> 2) & SOFTWARE_MIP,
        mtimecmp: Atomics.load(u64, (blk + SH_MTIMECMP) >> 3),
        hsm: record === null ? HSM_STOPPED : HSM_STARTED,
        startAddr: Atomics.load(u64, (blk + SH_START_ADDR) >> 3),
        opaque: Atomics.load(u64, (blk + SH_OPAQUE) >> 3),
      });
    }
    // Writes the harts posted before they parked reach their devices before those are saved.
    for (const r of this.rings) applyPosted(r, this.handler);
    return { mtime: this.mtime(), harts };
  }

  /** Serves one hart's posted writes and requests until the VM stops. */
  private serve(ch: Int32Array, ring: Int32Array, handler: RiscvExitHandler): Promise<void> {
    return serveChannel(ch, ring, handler, () => this.stopping, this.rings);
  }

  setExternalInterrupt(hart: number, context: "M" | "S", level: boolean): void {
    if (hart < 0 || hart >= this.config.vcpus) return;
    const blk = sharedBlock(hart);
    const bit = context === "M" ? MIP_MEIP : MIP_SEIP;
    const idx = (blk + SH_EXT) >> 2;
    const old = level ? Atomics.or(this.i32, idx, bit) : Atomics.and(this.i32, idx, ~bit);
    if (((old & bit) !== 0) !== level) {
      Atomics.add(this.i32, (blk + SH_WAKE) >> 2, 1);
      Atomics.notify(this.i32, (blk + SH_WAKE) >> 2);
    }
  }

  stats(): { vcpu: number; instructions: bigint }[] {
    return this.channels.map((ch, vcpu) => ({ vcpu, instructions: getU64(ch, CH_INSTRET_LO) }));
  }

  exitCounts(): Record<string, number> {
    return sumExitCounters(this.counters, EXIT_NAMES);
  }

  /** The translator's counters, all harts together (undefined on the interp tier). */
  jitStats(): JitStats | undefined {
    if (this.cpuTier !== "jit") return undefined;
    const out = noJitStats();
    for (const c of this.counters)
      for (const [k, slot] of Object.entries(JIT_STAT_SLOTS)) out[k as keyof JitStats] += c[slot]!;
    out.translateMs = Math.round(out.translateMs);
    return out;
  }

  vcpuThreadIds(timeoutMs: number): Promise<number[]> {
    return channelThreadIds(this.channels, timeoutMs, () => this.stopping);
  }

  /** Holds every hart before its next slice (a hart asleep in WFI stays asleep). */
  pause(): void {
    for (const ch of this.channels) Atomics.store(ch, CH_PAUSE, 1);
  }

  resume(): void {
    for (const ch of this.channels) {
      Atomics.store(ch, CH_PAUSE, 0);
      Atomics.notify(ch, CH_PAUSE);
    }
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (let h = 0; h < this.channels.length; h++) {
      Atomics.store(this.channels[h]!, CH_STOP, 1);
      Atomics.notify(this.channels[h]!, CH_STATE);
      Atomics.add(this.channels[h]!, CH_DOORBELL, 1);
      Atomics.notify(this.channels[h]!, CH_DOORBELL);
      const wake = (sharedBlock(h) + SH_WAKE) >> 2;
      Atomics.add(this.i32, wake, 1);
      Atomics.notify(this.i32, wake);
    }
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** What the soft CPU takes beyond what every accelerator does. */
export interface SoftAccelOptions {
  /** The harts' execution tier; default DEFAULT_CPU_TIER. */
  cpuTier?: CpuTier;
}

/** The soft accelerator with these options (the tier is the soft CPU's own: KVM has none). */
export function softAccel(opts: SoftAccelOptions = {}): RiscvAccelerator {
  const cpuTier = opts.cpuTier ?? DEFAULT_CPU_TIER;
  return {
    name: "soft",
    createVm: (config) => createSoftVm(config, cpuTier),
  };
}

/** The soft accelerator on the default tier. */
export const softAccelerator: RiscvAccelerator = softAccel();

async function createSoftVm(config: RiscvAccelVmConfig, cpuTier: CpuTier): Promise<RiscvAccelVm> {
  if (!isCpuTier(cpuTier))
    throw new SoftAccelError(
      `the soft CPU's tier is one of ${CPU_TIERS.join(", ")}, not '${String(cpuTier)}'`,
    );
  if (!Number.isInteger(config.vcpus) || config.vcpus < 1 || config.vcpus > MAX_HARTS) {
    throw new SoftAccelError(`the soft CPU supports 1 to ${MAX_HARTS} harts, not ${config.vcpus}`);
  }
  if (config.ramBytes <= 0 || config.ramBytes % 4096 !== 0 || config.ramBytes > MAX_RAM_BYTES) {
    throw new SoftAccelError(
      `guest RAM must be a multiple of 4 KiB up to ${Math.floor(MAX_RAM_BYTES / 2 ** 20)} MiB`,
    );
  }
  return new SoftVm(config, cpuTier);
}
