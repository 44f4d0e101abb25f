// The first x86-64 VM on /dev/kvm: a 64-bit program prints through the 16550A on COM1 (a device
// model behind the port bus, as Linux's 8250 driver would use it) and resets the machine
// through the i8042. Needs /dev/kvm.
import { test } from "node:test";
import assert from "node:assert/strict";
import { X86Vm } from "../src/vmm/x86_64-vm.js";

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
