// The soft CPU's instruction fetch, in this thread on the core harness (no workers, no VMM):
// M instructions/s on a loop inside one page (the fetch cache's fast path) and on a loop that
// changes page on two instructions of three (fetchSlow each time). Best and median of 7 runs of
// 20 M instructions each. MOAT_CPU_WASM=file measures another build of the core.
//
//   node dist/bench/fetch.js
import { CODE, Hart, I, T0, T1 } from "../test/support/core-harness.js";

function measure(name: string, code: (h: Hart) => void): void {
  const h = new Hart(4 << 20);
  code(h);
  h.reset(CODE, 3);
  h.run(1_000_000);
  const rates: number[] = [];
  for (let r = 0; r < 7; r++) {
    const t = performance.now();
    for (let i = 0; i < 20; i++) h.run(1_000_000);
    rates.push(20 / ((performance.now() - t) / 1000));
  }
  rates.sort((a, b) => a - b);
  console.log(`${name}: best ${rates[6]!.toFixed(0)} M/s, median ${rates[3]!.toFixed(0)} M/s`);
}

measure("one page", (h) => {
  h.code(CODE, [I.addi(T0, T0, 1), I.addi(T1, T1, 1), I.addi(T0, T0, 1), I.j(-12)]);
});
measure("a page change on 2 instructions of 3", (h) => {
  h.code(CODE, [I.addi(T0, T0, 1), I.j(4096)]);
  h.code(CODE + 4100n, [I.addi(T1, T1, 1), I.j(-4100)]);
});
