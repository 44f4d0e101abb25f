// One hart's translations: which guest entries have a translated function, compiling them when
// the core asks (EXIT_JIT), and the bound on how much generated code the hart keeps.
import {
  CODE_VERSIONS,
  HART_BASE,
  HART_STRIDE,
  HA_F,
  HA_JIT_ABI,
  HA_TLB_R,
  HA_TLB_W,
  HA_X,
  RAM_OFFSET,
  RVC_TABLE,
  WASM_PAGE,
} from "../layout.js";
import { noJitStats, type JitStats } from "../../accel.js";
import { FUNC_PARAMS, FUNC_RESULTS, GLOBALS, IMPORTS, translatePage } from "./translate.js";
import { moduleBytes } from "./wasm-encoder.js";

/**
 * Bound: generated code kept per hart before the whole cache is dropped (docs/jit.md). Each
 * translation is charged its module bytes plus REGION_COST, what V8 holds for it besides (its
 * compiled code, its share of a module and instance, a table slot): about that much was
 * measured per small translation.
 */
export const DEFAULT_CODE_CACHE_BYTES = 64 << 20;
const REGION_COST = 8 << 10;
/** Bound: entries the host keeps records of (translated, declined or failed) before a flush. */
const MAX_REGIONS = 1 << 15;
/** Bound: translations of one entry (code rewritten over and over is left to the interpreter). */
const MAX_TRANSLATIONS = 24;

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
  jitPending(va: bigint, host: number): void;
  jitForget(va: bigint, host: number): void;
  jitReqVa: WebAssembly.Global;
  jitReqHost: WebAssembly.Global;
  jitClaimEpoch: WebAssembly.Global;
  jitLoad: Function;
  jitStore: Function;
  jitFault: Function;
  jitMulDiv: Function;
  jitExec: Function;
  jitFence: Function;
  jitCsr: Function;
  /** The globals translated code reads (emitter.ts GLOBALS). */
  fflags: WebAssembly.Global;
  frm: WebAssembly.Global;
  mstatus: WebAssembly.Global;
  dataKey: WebAssembly.Global;
}

export type { JitStats };

/** A translation waiting for its module (the page's bytes as translated, to check at install). */
interface Translated {
  va: bigint;
  host: number;
  hostPage: number;
  version: number;
  epoch: number;
  code: Uint8Array;
  region: Region;
  body: Uint8Array;
  gen: number;
}

/** Translations compiled together (V8's cost is mostly per module). */
const BATCH = 16;

/** One entry's translation. */
interface Region {
  slot: number;
  /** The code version the function in `slot` was made at (0: none yet). */
  version: number;
  translations: number;
  /** Translations not installed (the page changed, or a hart did not acknowledge in time). */
  failures: number;
  codeBytes: number;
}

export class CodeCache {
  private readonly regions = new Map<string, Region>();
  /** Why compiling failed (a moat bug): HartCore.run() throws it. */
  failure: Error | undefined;
  private batch: Translated[] = [];
  private compiling = 0;
  private generation = 0; // flushes so far: a compile from before one is not installed
  private readonly freeSlots: number[] = [];
  private readonly hartArea: number;
  private readonly mem: Uint8Array;
  private readonly versions: Int32Array;
  private readonly rvc: DataView;
  readonly stats: JitStats = noJitStats();

  private readonly imports: WebAssembly.Imports;

  constructor(
    private readonly core: JitCore,
    private readonly memory: WebAssembly.Memory,
    private readonly table: WebAssembly.Table,
    hart: number,
    /** Compile with V8's background threads (the hart worker) rather than on this thread. */
    private readonly async = false,
    private readonly maxBytes: number = DEFAULT_CODE_CACHE_BYTES,
  ) {
    this.hartArea = HART_BASE + hart * HART_STRIDE;
    // What translated modules import, by the names translate.ts and emitter.ts declare them.
    const exports = core as unknown as Record<string, WebAssembly.ImportValue>;
    this.imports = {
      core: Object.fromEntries([
        ["memory", memory],
        ...[...IMPORTS, ...GLOBALS].map((i) => [i.name, exports[i.name]!]),
      ]),
    };
    this.mem = new Uint8Array(memory.buffer);
    this.versions = new Int32Array(memory.buffer);
    this.rvc = new DataView(memory.buffer);
  }

  private expand(half: number): number {
    const v = this.rvc.getUint32(RVC_TABLE + half * 4, true);
    if (v === 1) return 0;
    return v !== 0 ? v : this.core.expandCompressed(half) >>> 0;
  }

  /** Serves the core's EXIT_JIT: translates (or declines) the entry it asked for. */
  handle(): void {
    const va = BigInt.asUintN(64, this.core.jitReqVa.value as bigint);
    const host = (this.core.jitReqHost.value as number) >>> 0;
    const hostPage = host & ~0xfff;
    const key = `${va}:${hostPage}`;
    let region = this.regions.get(key);
    if (!region) {
      if (this.regions.size >= MAX_REGIONS) this.flush();
      region = { slot: 0, version: 0, translations: 0, failures: 0, codeBytes: 0 };
      this.regions.set(key, region);
    }
    // Its function is still current (the core's table lost the entry to another, or the entry
    // was cold a while): enter it again without compiling.
    const versionSlot = CODE_VERSIONS + (((hostPage - RAM_OFFSET) >>> 12) << 2);
    const now = Atomics.load(this.versions, versionSlot >> 2) >>> 0;
    if (region.slot !== 0 && region.version === now) {
      this.stats.reinstalls++;
      if (this.core.jitInstall(va, host, region.slot, now) !== 0) return;
    }
    // Addresses beyond 2^52 (no canonical Sv39/Sv48 address, no RAM) are left to the interpreter.
    const signedVa = BigInt.asIntN(64, va);
    const far = signedVa > 1n << 52n || signedVa < -(1n << 52n);
    if (far || region.translations >= MAX_TRANSLATIONS || region.failures >= MAX_TRANSLATIONS) {
      this.stats.declined++;
      this.core.jitDecline(va, host);
      return;
    }
    const version = this.core.jitClaim(hostPage) >>> 0;
    if (version === 0) {
      this.stats.declined++;
      this.core.jitDecline(va, host);
      return;
    }
    const epoch = this.core.jitClaimEpoch.value as number;
    const code = this.mem.slice(hostPage, hostPage + 4096);
    const t0 = performance.now();
    const tr = translatePage({
      pageVa: va & ~0xfffn,
      entry: Number(va & 0xfffn),
      versionSlot,
      version,
      code,
      expand: (h) => this.expand(h),
      xBase: this.hartArea + HA_X,
      fBase: this.hartArea + HA_F,
      abi: this.hartArea + HA_JIT_ABI,
      tlbR: this.hartArea + HA_TLB_R,
      tlbW: this.hartArea + HA_TLB_W,
    });
    this.stats.translateMs += performance.now() - t0;
    this.stats.translations++;
    this.batch.push({
      va,
      host,
      hostPage,
      version,
      epoch,
      code,
      region,
      body: tr.body,
      gen: this.generation,
    });
    // The hart goes on interpreting this entry until its function is installed.
    this.core.jitPending(va, host);
    if (!this.async || this.batch.length >= BATCH) this.compileBatch();
  }

  /** Compiles started and not yet installed (the hart worker lets its event loop run for them). */
  get pending(): number {
    return this.compiling + this.batch.length;
  }

  /**
   * Compiles the translations made since the last call as one module (on V8's threads when
   * async): the hart worker calls it after every slice.
   */
  compileBatch(): void {
    if (this.batch.length === 0) return;
    const batch = this.batch;
    this.batch = [];
    const pages = this.memory.buffer.byteLength / WASM_PAGE;
    const bytes = moduleBytes(
      IMPORTS,
      GLOBALS,
      { pages, maxPages: pages },
      {
        params: FUNC_PARAMS,
        results: FUNC_RESULTS,
        bodies: batch.map((t) => t.body),
      },
    );
    const installAll = (m: WebAssembly.Module): void => {
      const fns = new WebAssembly.Instance(m, this.imports).exports;
      batch.forEach((t, k) => this.install(fns[`f${k}`] as () => number, t));
    };
    if (!this.async) {
      installAll(new WebAssembly.Module(bytes));
      return;
    }
    this.compiling += batch.length;
    WebAssembly.compile(bytes).then(
      (m) => {
        this.compiling -= batch.length;
        installAll(m);
      },
      (e: unknown) => {
        // A module the translator made that V8 refuses: a moat bug, reported by the next run().
        this.compiling -= batch.length;
        this.failure = e instanceof Error ? e : new Error(String(e));
      },
    );
  }

  private install(f: () => number, t: Translated): void {
    const { va, host, hostPage, version, epoch, code, region } = t;
    if (t.gen !== this.generation) return; // the cache was dropped while it compiled
    // Another hart may have written the page through a write TLB entry older than the claim
    // (jit.ts): install only once every hart has dropped those, and the bytes are unchanged.
    if (this.core.jitAcked(epoch) === 0 || !sameBytes(code, this.mem, hostPage)) {
      region.failures++;
      this.core.jitForget(va, host);
      return;
    }
    if (region.slot === 0) region.slot = this.allocSlot();
    this.table.set(region.slot, f);
    // Only translations that get installed count against MAX_TRANSLATIONS.
    region.translations++;
    const cost = t.body.length + REGION_COST;
    this.stats.codeBytes += cost - region.codeBytes;
    region.codeBytes = cost;
    region.version = version;
    if (this.core.jitInstall(va, host, region.slot, version) === 0) {
      region.failures++;
      this.core.jitForget(va, host);
      return;
    }
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
    for (const p of this.regions.values()) {
      if (p.slot !== 0) {
        this.table.set(p.slot, null);
        this.freeSlots.push(p.slot);
      }
    }
    this.regions.clear();
    this.batch = [];
    this.generation++;
    this.stats.codeBytes = 0;
    this.stats.flushes++;
  }
}

function sameBytes(a: Uint8Array, mem: Uint8Array, at: number): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== mem[at + i]) return false;
  return true;
}
