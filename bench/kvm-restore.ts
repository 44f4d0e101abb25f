// A whole x86-64 VM on KVM restored from a snapshot (issue 22): the time from asking for the VM
// to the guest's first output, cold (a new VM loads the program and runs it) against restored
// with the snapshot's memory copied in and with its memory file mapped (MAP_PRIVATE), for
// guests of 128 and 512 MiB whose RAM holds `--touched` MiB of data (what a booted guest's page
// cache and heap hold). Medians of `--runs`. The guest prints a hex digit on COM1 every 100
// iterations of a loop (well under a millisecond here), so its first output after a restore
// comes as soon as it runs.
//
//   node dist/bench/kvm-restore.js [--runs 9] [--touched 64]
//
// No peer in the same run: QEMU's KVM accelerator does not run on this PVM-nested host's
// /dev/kvm (docs/kvm.md), and QEMU's TCG restore is bench/snapshot.ts's figure.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { PROGRAM_BASE, X86Vm } from "../src/vmm/x86_64-vm.js";
import { kvmKind } from "../src/kvm/kvm-probe.js";
import { readSnapshot, writeSnapshot } from "../src/vmm/snapshot-file.js";
import { assemble } from "../test/support/x86-asm.js";
import { median } from "./capture.js";

const { values } = parseArgs({
  options: { runs: { type: "string", default: "9" }, touched: { type: "string", default: "64" } },
});
const RUNS = Number(values.runs);
const TOUCHED_MIB = Number(values.touched);

const COUNTER = assemble(
  `
      .code64
      .globl _start
_start: xor %r12, %r12
next:   inc %r12
        mov %r12, %rax
        and $15, %eax
        movb hex(%rax), %al
        mov $0x3f8, %dx
        out %al, %dx
        mov $100, %ecx
1:      loop 1b
        jmp next
hex:    .ascii "0123456789abcdef"
`,
  PROGRAM_BASE,
);
const TEMPLATE = kvmKind() === "pvm" ? "pvm" : "default";

/**
 * Makes a VM (cold, or from `dir`) and runs it to its first output byte: milliseconds to the
 * VM made (RAM and state in place) and to that byte.
 */
async function firstOutput(
  memoryMiB: number,
  dir?: string,
  map = false,
): Promise<{ made: number; out: number }> {
  const t0 = performance.now();
  let seen = 0;
  let resolve!: () => void;
  const out = new Promise<void>((r) => (resolve = r));
  const vm = await X86Vm.create({
    vcpus: 1,
    memoryMiB,
    program: COUNTER,
    cpuTemplate: TEMPLATE,
    output: () => {
      if (seen++ === 0) {
        seen = performance.now() - t0;
        resolve();
      }
    },
    ...(dir ? { restore: readSnapshot(dir), mapRestore: map } : {}),
  });
  const made = performance.now() - t0;
  const end = vm.run();
  await out;
  const ms = performance.now() - t0;
  vm.stop(0, "measured");
  await end;
  return { made, out: ms };
}

/** A snapshot of a running counter whose RAM holds TOUCHED_MIB of data. */
async function snapshotOf(memoryMiB: number, dir: string): Promise<void> {
  let lines = 0;
  const vm = await X86Vm.create({
    vcpus: 1,
    memoryMiB,
    program: COUNTER,
    cpuTemplate: TEMPLATE,
    output: () => void lines++,
  });
  // Data in the upper RAM, away from the program: what a booted guest's RAM holds.
  const mem = vm.avm.memory;
  const ram = mem.hostView(mem.base, mem.size);
  for (let i = 32 << 20; i < Math.min(ram.length, (32 + TOUCHED_MIB) << 20); i += 8)
    ram[i] = (i >> 12) & 255 || 1;
  const end = vm.run();
  while (lines < 20) await new Promise((r) => setTimeout(r, 5));
  vm.pause();
  const parts = await vm.snapshot(5000);
  writeSnapshot(dir, { machine: { accel: "kvm" }, ...parts });
  vm.stop(0, "snapshot taken");
  await end;
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), "moat-bench-kvm-restore-"));
  try {
    for (const mib of [128, 512]) {
      const dir = join(root, `s${mib}`);
      await snapshotOf(mib, dir);
      const rows: Record<string, { made: number; out: number }[]> = {
        cold: [],
        copied: [],
        mapped: [],
      };
      for (let r = 0; r < RUNS; r++) {
        rows.cold!.push(await firstOutput(mib));
        rows.copied!.push(await firstOutput(mib, dir, false));
        rows.mapped!.push(await firstOutput(mib, dir, true));
      }
      const m = (k: string, f: "made" | "out"): number => median(rows[k]!.map((x) => x[f]));
      const f = (k: string, w: "made" | "out"): string => m(k, w).toFixed(1);
      console.log(
        `${mib} MiB, ${TOUCHED_MIB} MiB of data, median of ${RUNS}: VM made (RAM and state in ` +
          `place): cold ${f("cold", "made")} ms, restored copied ${f("copied", "made")} ms, ` +
          `mapped ${f("mapped", "made")} ms (mapped / copied ${(m("mapped", "made") / m("copied", "made")).toFixed(2)}); ` +
          `to first output: cold ${f("cold", "out")}, copied ${f("copied", "out")}, mapped ${f("mapped", "out")} ms`,
      );
      for (const k of Object.keys(rows))
        console.log(
          `  raw ${k} (made/out ms): ${rows[k]!.map((x) => `${x.made.toFixed(1)}/${x.out.toFixed(1)}`).join(" ")}`,
        );
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
