// The platform-level interrupt controller (SiFive PLIC layout): level-triggered sources with a
// gateway (a claimed source is not forwarded again until completed), priorities, per-context
// enables and thresholds. Two contexts per hart: 2h is M-mode, 2h+1 is S-mode.
import type { MmioDevice } from "../../bus/mmio-bus.js";

export const PLIC_SOURCES = 32; // source 0 is "no interrupt"; 1..31 usable
export const PLIC_SIZE = 0x60_0000n;
const PRIORITY_MAX = 7;

export class Plic implements MmioDevice {
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
}
