// Bare-metal ISA conformance programs (test/isa/*.S), each run under QEMU
// (the oracle: `qemu-system-riscv64 -M virt -bios none -kernel prog`) and
// under moat's runBare().  Both must reach the finisher with exit status 0
// after printing PASS.  See docs/testing-isa.md.
//
// ISA_ONLY=name1,name2 restricts the run to some programs; MOAT_CPU_TIER=interp|jit picks the
// soft CPU's tier (default: its default).

import assert from "node:assert/strict";
import os from "node:os";
import { describe, it } from "node:test";

import {
  buildProgram,
  buildSource,
  explainOutput,
  loadImage,
  type BuiltProgram,
} from "./support/isa-build.js";
import { envCpuTier, loadRunBare } from "./support/isa-moat.js";
import { ISA_PROGRAMS, type IsaProgram } from "./support/isa-programs.js";
import { runQemu } from "./support/isa-qemu.js";

const QEMU_TIMEOUT_MS = 10_000;
const MOAT_TIMEOUT_FACTOR = 6;

const only = process.env.ISA_ONLY?.split(",")
  .map((s) => s.trim())
  .filter(Boolean);
const programs = only ? ISA_PROGRAMS.filter((p) => only.includes(p.name)) : ISA_PROGRAMS;

const builds = new Map<string, Promise<BuiltProgram>>();
function build(p: IsaProgram): Promise<BuiltProgram> {
  let b = builds.get(p.name);
  if (!b) {
    b = buildProgram(`${p.name}.S`);
    builds.set(p.name, b);
  }
  return b;
}

interface RunOutcome {
  exitCode: number;
  output: string;
  reason: string;
  message?: string;
}

async function assertPassed(who: string, prog: BuiltProgram, r: RunOutcome): Promise<void> {
  const passed = r.reason === "finisher" && r.exitCode === 0 && /(^|\n)PASS\n?$/.test(r.output);
  if (passed) return;
  const explained = await explainOutput(prog, r.output);
  assert.fail(
    `${prog.name} under ${who}: reason=${r.reason} exit=${r.exitCode}` +
      (r.message ? ` (${r.message})` : "") +
      `\n--- output ---\n${explained.trimEnd()}\n--------------`,
  );
}

describe("ISA programs", { concurrency: Math.max(1, os.availableParallelism()) }, () => {
  for (const p of programs) {
    const timeoutMs = p.timeoutMs ?? QEMU_TIMEOUT_MS;
    if (!p.moatOnly) {
      it(
        `${p.name} passes under QEMU (oracle) - ${p.covers}`,
        { timeout: timeoutMs + 60_000 },
        async () => {
          const prog = await build(p);
          const r = await runQemu(prog.bin, { harts: p.harts ?? 1, timeoutMs });
          await assertPassed("QEMU", prog, r);
        },
      );
    }
    it(
      `${p.name} passes under moat${p.moatOnly ? " (moat-only)" : ""}`,
      { timeout: timeoutMs * MOAT_TIMEOUT_FACTOR + 60_000 },
      async () => {
        const prog = await build(p);
        const runBare = await loadRunBare({ cpuTier: envCpuTier() });
        const r = await runBare({
          image: await loadImage(prog),
          harts: p.harts ?? 1,
          timeoutMs: timeoutMs * MOAT_TIMEOUT_FACTOR,
        });
        await assertPassed("moat", prog, r);
      },
    );
  }
});

// The harness itself must be able to fail: a wrong expectation and an
// unexpected trap are reported with the test number, the source line and a
// non-zero exit status.
describe("ISA harness self-check (QEMU)", () => {
  it("reports a failed CHECK with its source line and exit code", async () => {
    const prog = await buildSource(
      "selfcheck-fail",
      [
        '#include "common.h"',
        "        TEST_CASE",
        "        TEST_CASE",
        "        li a0, 5",
        "        CHECK a0, 6",
        "        PASS",
        "",
      ].join("\n"),
    );
    const r = await runQemu(prog.bin, { timeoutMs: QEMU_TIMEOUT_MS });
    assert.equal(r.reason, "finisher");
    assert.equal(r.exitCode, 2);
    assert.match(
      r.output,
      /FAIL test 2 at pc 0x[0-9a-f]{16}: got 0x0000000000000005 expected 0x0000000000000006/,
    );
    assert.doesNotMatch(r.output, /PASS/);
    const explained = await explainOutput(prog, r.output);
    assert.match(explained, /selfcheck-fail-[0-9a-f]+\.S:5/);
  });

  it("reports an unexpected trap", async () => {
    const prog = await buildSource(
      "selfcheck-trap",
      ['#include "common.h"', "        TEST_CASE", "        .word 0", "        PASS", ""].join(
        "\n",
      ),
    );
    const r = await runQemu(prog.bin, { timeoutMs: QEMU_TIMEOUT_MS });
    assert.equal(r.exitCode, 250);
    assert.match(
      r.output,
      /UNEXPECTED TRAP \(M\) mcause=0x0000000000000002 epc=0x[0-9a-f]{16} tval=0x0000000000000000 test 1/,
    );
  });

  it("reports a missing trap", async () => {
    const prog = await buildSource(
      "selfcheck-notrap",
      ['#include "common.h"', "        TEST_TRAP CAUSE_ILLEGAL, nop", "        PASS", ""].join(
        "\n",
      ),
    );
    const r = await runQemu(prog.bin, { timeoutMs: QEMU_TIMEOUT_MS });
    assert.equal(r.exitCode, 1);
    assert.match(r.output, /FAIL test 1 .*got 0xffffffffffffffff expected 0x0000000000000002/);
  });
});
