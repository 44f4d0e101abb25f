// The first x86-64 VM on /dev/kvm: a 64-bit program prints through the 16550A on COM1 (a device
// model behind the port bus, as Linux's 8250 driver would use it) and resets the machine
// through the i8042. Needs /dev/kvm.
import { test } from "node:test";
import assert from "node:assert/strict";
import { X86Vm } from "../src/vmm/x86_64-vm.js";
import { templateArgs } from "../src/arch/x86_64/cmdline.js";
import { assemble } from "./support/x86-asm.js";

// prettier-ignore
const PROGRAM = [
  0xbe, 0x28, 0x00, 0x10, 0x00, 0x90,       // mov esi, msg (0x100028); nop
  // next:
  0x8a, 0x06,                               // mov al, [rsi]
  0x84, 0xc0,                               // test al, al
  0x74, 0x17,                               // jz done
  0x88, 0xc3,                               // mov bl, al
  // wait: LSR bit 5 (THRE)
  0x66, 0xba, 0xfd, 0x03,                   // mov dx, 0x3fd
  0xec,                                     // in al, dx
  0xa8, 0x20,                               // test al, 0x20
  0x74, 0xf7,                               // jz wait
  0x66, 0xba, 0xf8, 0x03,                   // mov dx, 0x3f8
  0x88, 0xd8,                               // mov al, bl
  0xee,                                     // out dx, al
  0x48, 0xff, 0xc6,                         // inc rsi
  0xeb, 0xe3,                               // jmp next
  // done:
  0xb0, 0xfe,                               // mov al, 0xfe
  0xe6, 0x64,                               // out 0x64, al   ; i8042 reset
  0xf4,                                     // hlt
  // msg:
  0x68, 0x69, 0x20, 0x78, 0x38, 0x36, 0x0a, 0x00, // "hi x86\n"
];

test("a 64-bit program prints on COM1 and resets through the i8042", async () => {
  const out: number[] = [];
  const vm = await X86Vm.create({
    vcpus: 1,
    memoryMiB: 16,
    program: Uint8Array.from(PROGRAM),
    cpuTemplate: "pvm",
    output: (b) => out.push(...b),
  });
  const timer = setTimeout(() => vm.stop(124, "timeout"), 20_000);
  const exit = await vm.run();
  clearTimeout(timer);
  assert.equal(exit.reason, "reset", JSON.stringify(exit));
  assert.equal(Buffer.from(out).toString("latin1"), "hi x86\n");
});

// A miniature "kernel": an ELF64 x86-64 file with a PVH entry note, built here with the host's
// binutils. Its 32-bit entry checks the hvm_start_info magic in %ebx, prints the command line
// it points at, and resets.
const PVH_KERNEL = `
        .code32
        .globl _start
_start: mov $0x3f8, %dx
        cmpl $0x336ec578, (%ebx)
        jne bad
        mov 24(%ebx), %esi
1:      movb (%esi), %al
        test %al, %al
        jz done
        outb %al, %dx
        inc %esi
        jmp 1b
bad:    mov $'X', %al
        outb %al, %dx
done:   mov $0xfe, %al
        outb %al, $0x64
        hlt
        .section .note.Xen, "a", @note
        .balign 4
        .long 4, 4, 18
        .asciz "Xen"
        .balign 4
        .long _start
`;

function buildPvhKernel(): Uint8Array {
  return assemble(PVH_KERNEL, 0x10_0000n, "elf");
}

test("an ELF kernel boots through its PVH entry with hvm_start_info and the command line", async () => {
  const out: number[] = [];
  const vm = await X86Vm.create({
    vcpus: 1,
    memoryMiB: 16,
    kernel: { image: buildPvhKernel(), cmdline: "console=ttyS0 moat=pvh" },
    cpuTemplate: "pvm",
    output: (b) => out.push(...b),
  });
  const timer = setTimeout(() => vm.stop(124, "timeout"), 20_000);
  const exit = await vm.run();
  clearTimeout(timer);
  assert.equal(exit.reason, "reset", JSON.stringify(exit));
  // moat adds what the PVM template needs to the user's command line, and the power button.
  assert.equal(
    Buffer.from(out).toString("latin1"),
    ["console=ttyS0 moat=pvh", ...templateArgs("pvm"), "virtio_mmio.device=4K@0xd0008000:5"].join(
      " ",
    ),
  );
});

test("hostile kernel files are refused with a clear message", async () => {
  const good = buildPvhKernel();
  const noNote = Uint8Array.from(good);
  // Corrupt the note type (18 -> 19): no PVH entry any more.
  const at = Buffer.from(noNote).indexOf(Buffer.from([4, 0, 0, 0, 4, 0, 0, 0, 18, 0, 0, 0]));
  assert.ok(at > 0);
  noNote[at + 8] = 19;
  const truncated = good.subarray(0, 100);
  const cases: [Uint8Array, RegExp][] = [
    [noNote, /no PVH entry note/],
    [truncated, /outside the file|runs past the end/],
    [Uint8Array.from([0x7f, 0x45, 0x4c, 0x46]), /too short/],
    [new Uint8Array(128), /neither an ELF vmlinux nor a bzImage/],
  ];
  for (const [elf, re] of cases) {
    await assert.rejects(
      X86Vm.create({
        vcpus: 1,
        memoryMiB: 16,
        kernel: { image: elf, cmdline: "" },
        cpuTemplate: "pvm",
        output: () => {},
      }),
      re,
    );
  }
});

test("pause holds a KVM vCPU out of guest mode; resume lets it go on", async () => {
  // Prints a dot on COM1, spins a little, forever.
  const program = assemble(
    `
        .code64
1:      mov $0x3f8, %dx
        mov $'.', %al
        outb %al, %dx
        mov $20000, %ecx
2:      dec %ecx
        jnz 2b
        jmp 1b
`,
    0x10_0000n,
  );
  let dots = 0;
  const vm = await X86Vm.create({
    vcpus: 1,
    memoryMiB: 16,
    program,
    cpuTemplate: "pvm",
    output: (b) => (dots += b.length),
  });
  const ran = vm.run();
  const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
  try {
    const deadline = Date.now() + 20_000;
    while (dots < 5 && Date.now() < deadline) await wait(20);
    assert.ok(dots >= 5, "the program runs");
    assert.equal(vm.pause(), true);
    await wait(200); // the kick lands and output in flight drains
    const held = dots;
    await wait(500);
    assert.equal(dots, held, "no guest instruction runs while paused");
    vm.resume();
    const until = Date.now() + 20_000;
    while (dots < held + 5 && Date.now() < until) await wait(20);
    assert.ok(dots >= held + 5, "resumed");
  } finally {
    vm.stop(0, "test over");
    await ran;
  }
});
