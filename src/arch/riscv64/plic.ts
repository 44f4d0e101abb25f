// The platform-level interrupt controller (SiFive PLIC layout): level-triggered sources with a
// gateway (a claimed source is not forwarded again until completed), priorities, per-context
// enables and thresholds. Two contexts per hart: 2h is M-mode, 2h+1 is S-mode.
import type { MmioDevice } from "../../bus/mmio-bus.js";
import {
  DeviceStateError,
  type DeviceState,
  type Snapshottable,
  type StateReader,
} from "../../devices/device-state.js";

export const PLIC_SOURCES = 32; // source 0 is "no interrupt"; 1..31 usable
export const PLIC_SIZE = 0x60_0000n;
const PRIORITY_MAX = 7;

const SOURCE_BITS = 0xffff_fffe; // sources 1..31 (source 0 does not exist)

export class Plic implements MmioDevice, Snapshottable {
  private readonly priority = new Uint32Array(PLIC_SOURCES);
  private level = 0; // line levels, bit per source
  private pending = 0;
  private inService = 0;
  private readonly enable: Uint32Array;
  private readonly threshold: Uint32Array;
  private readonly output: boolean[];

  /** `contexts` = 2 x harts; `notify(ctx, level)` drives a context's external interrupt. */
  constructor(
    private readonly contexts: number,
    private readonly notify: (context: number, level: boolean) => void,
  ) {
    this.enable = new Uint32Array(contexts);
    this.threshold = new Uint32Array(contexts);
    this.output = new Array<boolean>(contexts).fill(false);
  }

  /** Sets the level of source `src` (1..31); out-of-range sources are ignored. */
  setLevel(src: number, high: boolean): void {
    if (!Number.isInteger(src) || src <= 0 || src >= PLIC_SOURCES) return;
    const bit = 1 << src;
    if (high) {
      this.level |= bit;
      if ((this.inService & bit) === 0) this.pending |= bit;
    } else {
      this.level &= ~bit;
      this.pending &= ~bit; // level-triggered: a lowered line withdraws its request
    }
    this.update();
  }

  /** The highest-priority pending, enabled source above the threshold (0: none). */
  private best(ctx: number): number {
    const cand = this.pending & ~this.inService & this.enable[ctx]!;
    let best = 0;
    let bestPrio = this.threshold[ctx]!;
    for (let s = 1; s < PLIC_SOURCES; s++) {
      if ((cand & (1 << s)) === 0) continue;
      const p = this.priority[s]!;
      if (p > bestPrio) {
        best = s;
        bestPrio = p;
      }
    }
    return best;
  }

  private update(): void {
    for (let c = 0; c < this.contexts; c++) {
      const level = this.best(c) !== 0;
      if (level !== this.output[c]) {
        this.output[c] = level;
        this.notify(c, level);
      }
    }
  }

  read(offset: number, _size: number): bigint {
    if (offset < 0x1000) {
      const s = offset >> 2;
      return BigInt(s < PLIC_SOURCES ? this.priority[s]! : 0);
    }
    if (offset === 0x1000) return BigInt(this.pending >>> 0);
    if (offset >= 0x2000 && offset < 0x20_0000) {
      const ctx = (offset - 0x2000) >> 7;
      const word = (offset & 0x7f) >> 2;
      return BigInt(ctx < this.contexts && word === 0 ? this.enable[ctx]! : 0);
    }
    if (offset >= 0x20_0000) {
      const ctx = (offset - 0x20_0000) >> 12;
      const reg = offset & 0xfff;
      if (ctx >= this.contexts) return 0n;
      if (reg === 0) return BigInt(this.threshold[ctx]!);
      if (reg === 4) {
        // As QEMU's sifive_plic: only a source above the context's threshold is claimable.
        const s = this.best(ctx);
        if (s !== 0) {
          this.pending &= ~(1 << s);
          this.inService |= 1 << s;
          this.update();
        }
        return BigInt(s);
      }
    }
    return 0n;
  }

  write(offset: number, _size: number, value: bigint): void {
    const v = Number(value & 0xffff_ffffn);
    if (offset < 0x1000) {
      const s = offset >> 2;
      if (s > 0 && s < PLIC_SOURCES) this.priority[s] = Math.min(v, PRIORITY_MAX);
    } else if (offset >= 0x2000 && offset < 0x20_0000) {
      const ctx = (offset - 0x2000) >> 7;
      const word = (offset & 0x7f) >> 2;
      if (ctx < this.contexts && word === 0) this.enable[ctx] = v & ~1; // source 0 does not exist
    } else if (offset >= 0x20_0000) {
      const ctx = (offset - 0x20_0000) >> 12;
      const reg = offset & 0xfff;
      if (ctx >= this.contexts) return;
      if (reg === 0) this.threshold[ctx] = Math.min(v, PRIORITY_MAX);
      else if (reg === 4 && v > 0 && v < PLIC_SOURCES) {
        const bit = 1 << v;
        if ((this.inService & bit) !== 0) {
          this.inService &= ~bit;
          if ((this.level & bit) !== 0) this.pending |= bit;
        }
      }
    }
    this.update();
  }

  saveState(): DeviceState {
    return {
      priority: [...this.priority],
      level: this.level >>> 0,
      pending: this.pending >>> 0,
      inService: this.inService >>> 0,
      enable: [...this.enable],
      threshold: [...this.threshold],
    };
  }

  /**
   * Bounds: as the registers take them (priorities and thresholds 0..7, sources 1..31), one
   * enable and threshold per context of this machine, and the gateway's invariants: a source
   * is pending only while its line is high, never both pending and in service, and a high line
   * is one or the other. Then drives the contexts' outputs (the harts' external interrupts).
   */
  loadState(r: StateReader): void {
    const priority = r.list("priority", PLIC_SOURCES).ints(0, PRIORITY_MAX);
    if (priority.length !== PLIC_SOURCES || priority[0] !== 0)
      throw new DeviceStateError(`${r.where}: priority is not ${PLIC_SOURCES} values from 0`);
    const bits = (name: string): number => {
      const v = r.int(name, 0, 0xffff_ffff);
      if ((v & ~SOURCE_BITS) !== 0) throw new DeviceStateError(`${r.where}: ${name} has source 0`);
      return v | 0;
    };
    const level = bits("level");
    const pending = bits("pending");
    const inService = bits("inService");
    const perContext = (name: string, max: number): number[] => {
      const l = r.list(name, this.contexts).ints(0, max);
      if (l.length !== this.contexts)
        throw new DeviceStateError(`${r.where}: ${name} is not one per context (${this.contexts})`);
      return l;
    };
    const enable = perContext("enable", 0xffff_ffff);
    if (enable.some((e) => (e & 1) !== 0))
      throw new DeviceStateError(`${r.where}: enable has source 0`);
    const threshold = perContext("threshold", PRIORITY_MAX);
    if (
      (pending & ~level) !== 0 ||
      (pending & inService) !== 0 ||
      (level & ~(pending | inService)) !== 0
    )
      throw new DeviceStateError(`${r.where}: level, pending and inService disagree`);
    this.priority.set(priority);
    this.level = level;
    this.pending = pending;
    this.inService = inService;
    this.enable.set(enable);
    this.threshold.set(threshold);
    this.update();
  }
}
