// The host's side of the code versions (cpu/jit.ts): a write by the host into guest RAM (a
// device's DMA, a loader, a test) makes translations of the pages it touches stale, as a
// guest store does.
import { CODE_PAGES, CODE_VERSIONS } from "../layout.js";

/**
 * Marks the pages of guest RAM bytes [off, off + len) (offsets from RAM's start) as written.
 * Bound: pages past CODE_PAGES have no version (they are never translated).
 */
export function invalidateCodeRange(mem: Int32Array, off: number, len: number): void {
  if (len <= 0) return;
  const first = Math.floor(off / 4096);
  const last = Math.min(Math.floor((off + len - 1) / 4096), CODE_PAGES - 1);
  for (let p = first; p <= last; p++) {
    const i = (CODE_VERSIONS >> 2) + p;
    if (i >= mem.length) return; // a memory without the versions (a unit test's): nothing to do
    let v = Atomics.load(mem, i);
    while ((v & 1) !== 0) {
      const seen = Atomics.compareExchange(mem, i, v, v + 1);
      if (seen === v) break;
      v = seen;
    }
  }
}
