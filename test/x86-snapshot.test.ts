// A whole x86-64 VM on KVM snapshotted and brought back in a new VM: a 64-bit program counts on
// COM1 (four hex digits a line, through the 16550A on the port bus); it is paused at an
// instruction boundary, its vCPU, in-kernel devices, serial port, RTC and RAM saved to a
// snapshot directory, the VM stopped; a new VM restored from the directory goes on printing
// from the next number, so the two outputs joined are one unbroken count. A snapshot of another
// CPU template is refused. Needs /dev/kvm (fails without it).
import { test } from "node:test";
import assert from "node:assert/strict";
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { X86Vm, PROGRAM_BASE } from "../src/vmm/x86_64-vm.js";
import { kvmKind } from "../src/kvm/kvm-probe.js";
import { readSnapshot, writeSnapshot } from "../src/vmm/snapshot-file.js";
import { assemble } from "./support/x86-asm.js";
import { until } from "./support/moat-cli.js";

const COUNTER = assemble(
  `
      .code64
      .globl _start
_start: xor %r12, %r12
next:   inc %r12
        mov $12, %cl
digit:  mov %r12, %rax
        shr %cl, %rax
        and $15, %eax
        movb hex(%rax), %al
        mov $0x3f8, %dx
        out %al, %dx
        sub $4, %cl
        jns digit
        mov $10, %al
        out %al, %dx
        mov $20000, %ecx
1:      loop 1b
        jmp next
hex:    .ascii "0123456789abcdef"
`,
  PROGRAM_BASE,
);

const TEMPLATE = kvmKind() === "pvm" ? "pvm" : "default";

function vm(
  out: number[],
  restore?: ReturnType<typeof readSnapshot>,
  mapRestore = false,
): Promise<X86Vm> {
  return X86Vm.create({
    vcpus: 1,
    memoryMiB: 16,
    program: COUNTER,
    cpuTemplate: TEMPLATE,
    output: (b) => out.push(...b),
    ...(restore ? { restore, mapRestore } : {}),
  });
}

/** Restores a VM from `dir` (its memory file mapped if `map`), runs it a while: its output. */
async function restored(dir: string, map: boolean): Promise<{ out: number[]; how: string }> {
  const out: number[] = [];
  const b = await vm(out, readSnapshot(dir), map);
  const end = b.run();
  await until(() => lines(out).length > 100, "the restored program's count");
  b.stop(0, "done");
  await end;
  return { out, how: b.ramRestored! };
}

const lines = (out: number[]): string[] => Buffer.from(out).toString("latin1").split("\n");

test("an x86-64 VM restored from its snapshot counts on from where it stopped", async () => {
  const dir = mkdtempSync(join(tmpdir(), "moat-x86-snap-"));
  try {
    const first: number[] = [];
    const a = await vm(first);
    const endA = a.run();
    await until(() => lines(first).length > 200, "the program's count");
    a.pause();
    const parts = await a.snapshot(5000);
    writeSnapshot(join(dir, "s"), { machine: { accel: "kvm" }, ...parts });
    a.stop(0, "snapshot taken");
    await endA;
    const before = lines(first);
    const snap = readSnapshot(join(dir, "s"));
    assert.equal(snap.manifest.arch, "x86_64");

    snap.close();
    // Restored with its memory copied in, and with the memory file mapped (MAP_PRIVATE): each
    // goes on from the next number.
    for (const map of [false, true]) {
      const { out: second, how } = await restored(join(dir, "s"), map);
      assert.equal(how, map ? "mapped" : "copied");
      // The two outputs joined: 0001, 0002, ... with no number missing or repeated.
      const all = Buffer.from([...first, ...second])
        .toString("latin1")
        .split("\n")
        .slice(0, -1);
      const numbers = all.map((l) => Number.parseInt(l, 16));
      assert.ok(numbers.length > 300, `${numbers.length} lines`);
      numbers.forEach((n, i) =>
        assert.equal(n, i + 1, `line ${i + 1}: ${all[i]} (A printed ${before.length - 1} lines)`),
      );
    }
    // Another CPU template's snapshot is refused: the guest saw that CPUID.
    const other = TEMPLATE === "pvm" ? "default" : "pvm";
    await assert.rejects(
      X86Vm.create({
        vcpus: 1,
        memoryMiB: 16,
        program: COUNTER,
        cpuTemplate: other,
        output: () => {},
        restore: readSnapshot(join(dir, "s")),
      }),
      new RegExp(`made with the "${TEMPLATE}" CPU template; this host's VM has "${other}"`),
    );
    // Data planted in a hole of the memory file (which the digest does not cover) is never
    // mapped into the guest: the memory is copied from the extents instead.
    const memory = join(dir, "s", "memory");
    const m = readSnapshot(join(dir, "s"));
    const [first0, n0] = m.manifest.memory.extents.at(-1)!;
    m.close();
    const hole = (first0 + n0) * 4096;
    const fd = openSync(memory, "r+");
    writeSync(fd, Buffer.from("planted"), 0, 7, hole + 100);
    closeSync(fd);
    const planted = await restored(join(dir, "s"), true);
    assert.equal(planted.how, "copied");
    // A changed byte inside an extent: refused, mapped or not.
    const [firstE] = m.manifest.memory.extents[0]!;
    const fd2 = openSync(memory, "r+");
    const byte = Buffer.alloc(1);
    readSync(fd2, byte, 0, 1, firstE * 4096 + 8);
    byte[0]! ^= 0xff;
    writeSync(fd2, byte, 0, 1, firstE * 4096 + 8);
    closeSync(fd2);
    for (const map of [false, true])
      await assert.rejects(
        vm([], readSnapshot(join(dir, "s")), map),
        /its digest does not match: changed since written/,
      );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
