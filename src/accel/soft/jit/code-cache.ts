// One hart's translations: which guest pages have a translated function, compiling them when
// the core asks (EXIT_JIT), and the bound on how much generated code the hart keeps.
import { CODE_VERSIONS, HART_BASE, HART_STRIDE, RAM_OFFSET, RVC_TABLE, WASM_PAGE } from "../layout.js";
import { boundaries, translatePage } from "./translate.js";

/** Bound: generated code kept per hart before the whole cache is dropped (docs/jit.md). */
export const DEFAULT_CODE_CACHE_BYTES = 64 << 20;
/** Bound: translations of one page (a page rewritten over and over is left to the interpreter). */
const MAX_TRANSLATIONS = 24;

const HA_JIT_ABI = 0x4000;
const HA_TLB_R = 0x1000;
const HA_TLB_W = 0x2000;

/** What the translator needs of the core (cpu/index.ts exports). */
export interface JitCore {
  expandCompressed(half: number): number;
  jitEnable(on: number, harts: number): void;
  jitSetHot(entries: number): void;
  jitFlushTable(): void;
  jitClaim(host: number): number;
  jitAcked(epoch: number): number;
  jitInstall(va: bigint, host: number, fn: number, version: number): number;
  jitDecline(va: bigint, host: number): void;
  jitReqVa: WebAssembly.Global;
  jitReqHost: WebAssembly.Global;
  jitClaimEpoch: WebAssembly.Global;
  jitLoad: Function;
  jitStore: Function;
  jitFault: Function;
  jitMulDiv: Function;
  jitMulDivW: Function;
}

/** Counters for `moat inspect` and the benchmarks. */
export interface JitStats {
  translations: number;
  /** Functions entered again without compiling (the core's table had lost them). */
  reinstalls: number;
  codeBytes: number;
  compileMs: number;
  flushes: number;
  declined: number;
}

interface Page {
  slot: number;
  /** The blocks of the function in `slot` ([start, end) offsets), to tell a mid-block entry. */
  spans: [number, number][];
  /** The code version the function in `slot` was made at (0: none). */
  version: number;
  entries: Set<number>;
  translations: number;
  codeBytes: number;
}

export class CodeCache {
  private readonly pages = new Map<string, Page>();
  private readonly freeSlots: number[] = [];
  private readonly hartArea: number;
  private readonly mem: Uint8Array;
  private readonly versions: Int32Array;
  readonly stats: JitStats = {
    translations: 0,
    reinstalls: 0,
    codeBytes: 0,
    compileMs: 0,
    flushes: 0,
    declined: 0,
  };

  constructor(
    private readonly core: JitCore,
    private readonly memory: WebAssembly.Memory,
    private readonly table: WebAssembly.Table,
    hart: number,
    private readonly maxBytes = DEFAULT_CODE_CACHE_BYTES,
  ) {
    this.hartArea = HART_BASE + hart * HART_STRIDE;
    this.mem = new Uint8Array(memory.buffer);
    this.versions = new Int32Array(memory.buffer);
  }

  private expand(half: number): number {
    const v = new DataView(this.memory.buffer).getUint32(RVC_TABLE + half * 4, true);
    if (v === 1) return 0;
    return v !== 0 ? v : this.core.expandCompressed(half) >>> 0;
  }

  /** Serves the core's EXIT_JIT: translates (or declines) the page it asked for. */
  handle(): void {
    const va = BigInt.asUintN(64, this.core.jitReqVa.value as bigint);
    const host = (this.core.jitReqHost.value as number) >>> 0;
    const pageVa = va & ~0xfffn;
    const hostPage = host & ~0xfff;
    const key = `${pageVa}:${hostPage}`;
    let page = this.pages.get(key);
    if (!page) {
      page = { slot: 0, spans: [], version: 0, entries: new Set(), translations: 0, codeBytes: 0 };
      this.pages.set(key, page);
    }
    // Addresses beyond 2^52 (no canonical Sv39/Sv48 address, no RAM) are left to the interpreter.
    const signedVa = BigInt.asIntN(64, pageVa);
    const far = signedVa > 1n << 52n || signedVa < -(1n << 52n);
    if (far || page.translations >= MAX_TRANSLATIONS || page.entries.size >= 2048) {
      this.stats.declined++;
      this.core.jitDecline(va, host);
      return;
    }
    const off = Number(va & 0xfffn);
    // Its function is still current (the core's table lost the entry to another page, or the
    // page was cold a while): enter it again without compiling.
    const slotOfVersion = CODE_VERSIONS + (((hostPage - RAM_OFFSET) >>> 12) << 2);
    const now = Atomics.load(this.versions, slotOfVersion >> 2) >>> 0;
    if (page.slot !== 0 && page.version === now && page.entries.has(off)) {
      this.stats.reinstalls++;
      if (this.core.jitInstall(va, host, page.slot, now) !== 0) return;
    }
    page.entries.add(off);
    const version = this.core.jitClaim(hostPage) >>> 0;
    if (version === 0) {
      this.stats.declined++;
      this.core.jitDecline(va, host);
      return;
    }
    const epoch = this.core.jitClaimEpoch.value as number;
    const code = this.mem.slice(hostPage, hostPage + 4096);
    // An entry inside a block (a computed jump into a straight run): every instruction of that
    // run becomes an entry at once, rather than one retranslation per entry found.
    for (const [a, b] of page.spans) {
      if (off > a && off < b) for (const o of boundaries(code, a, b, (h) => this.expand(h))) page.entries.add(o);
    }
    const t0 = performance.now();
    const pages = this.memory.buffer.byteLength / WASM_PAGE;
    const tr = translatePage({
      pageVa,
      versionSlot: slotOfVersion,
      version,
      code,
      entries: page.entries,
      expand: (h) => this.expand(h),
      xBase: this.hartArea,
      abi: this.hartArea + HA_JIT_ABI,
      tlbR: this.hartArea + HA_TLB_R,
      tlbW: this.hartArea + HA_TLB_W,
      pages,
      maxPages: pages,
    });
    const module = new WebAssembly.Module(tr.bytes);
    const c = this.core;
    const instance = new WebAssembly.Instance(module, {
      core: {
        memory: this.memory,
        jitLoad: c.jitLoad,
        jitStore: c.jitStore,
        jitFault: c.jitFault,
        jitMulDiv: c.jitMulDiv,
        jitMulDivW: c.jitMulDivW,
      },
    });
    this.stats.compileMs += performance.now() - t0;
    page.translations++;
    this.stats.translations++;
    // Another hart may have written the page through a write TLB entry older than the claim
    // (jit.ts): install only once every hart has dropped those, and the bytes are unchanged.
    if (this.core.jitAcked(epoch) === 0 || !sameBytes(code, this.mem, hostPage)) return;
    if (page.slot === 0) page.slot = this.allocSlot();
    this.table.set(page.slot, instance.exports.f as () => number);
    this.stats.codeBytes += tr.bytes.length - page.codeBytes;
    page.codeBytes = tr.bytes.length;
    page.version = version;
    page.spans = tr.spans;
    if (this.core.jitInstall(va, host, page.slot, version) === 0) return;
    if (this.stats.codeBytes > this.maxBytes) this.flush();
  }

  private allocSlot(): number {
    const s = this.freeSlots.pop();
    if (s !== undefined) return s;
    return this.table.grow(1);
  }

  /** Drops every translation of this hart (the code cache's bound). */
  flush(): void {
    this.core.jitFlushTable();
    for (const p of this.pages.values()) {
      if (p.slot !== 0) {
        this.table.set(p.slot, null);
        this.freeSlots.push(p.slot);
      }
    }
    this.pages.clear();
    this.stats.codeBytes = 0;
    this.stats.flushes++;
  }
}

function sameBytes(a: Uint8Array, mem: Uint8Array, at: number): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== mem[at + i]) return false;
  return true;
}
