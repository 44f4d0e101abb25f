// The KVM accelerator end to end on /dev/kvm: a vCPU worker thread runs a 64-bit payload whose
// port and MMIO accesses, reads and writes, reach the VMM's exit handler, and a HLT ends the
// vCPU with a report naming it and its registers. Needs /dev/kvm: fails without it.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { X86AccelVm, X86ExitHandler } from "../src/accel/accel.js";
import { kvmAccelerator } from "../src/accel/kvm/kvm-accel.js";
import { enterLongMode, writeLongModeTables } from "../src/arch/x86_64/long-mode.js";
import { eventfdRead, eventfdWrite } from "../src/sys/libc.js";
import { assemble } from "./support/x86-asm.js";

const ENTRY = 0x10_0000n;
// prettier-ignore
const PAYLOAD = [
  0x66, 0xba, 0xf8, 0x03,                         // mov dx, 0x3f8
  0xb0, 0x4c,                                     // mov al, 'L'
  0xee,                                           // out dx, al
  0x48, 0xb8, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, // mov rax, 0x1122334455667788
  0x48, 0x89, 0x04, 0x25, 0x00, 0x00, 0x40, 0x00, // mov [0x400000], rax
  0x66, 0xba, 0xfd, 0x03,                         // mov dx, 0x3fd
  0xec,                                           // in al, dx
  0x66, 0xba, 0xf8, 0x03,                         // mov dx, 0x3f8
  0xee,                                           // out dx, al
  0x48, 0x8b, 0x04, 0x25, 0x08, 0x00, 0x40, 0x00, // mov rax, [0x400008]
  0xee,                                           // out dx, al
  0xf4,                                           // hlt
];

test("a KVM vCPU worker's exits reach the VMM in order; HLT ends it with a report", async () => {
  const vm = await kvmAccelerator.createVm({
    vcpus: 1,
    ramBase: 0n,
    ramBytes: 0x20_0000,
    irqchip: false, // so that HLT exits to the VMM
  });
  const events: string[] = [];
  try {
    writeLongModeTables(vm.memory);
    vm.memory.write(ENTRY, Uint8Array.from(PAYLOAD));
    enterLongMode(vm.vcpus[0]!);
    vm.vcpus[0]!.setRegs({ rip: ENTRY, rsp: 0x8000n, rflags: 2n });
    const halted = new Promise<string>((resolve) => {
      const handler: X86ExitHandler = {
        pioRead: (port, size) => {
          events.push(`pio read ${port.toString(16)}/${size}`);
          return 0x60;
        },
        pioWrite: (port, size, value) => {
          events.push(`pio write ${port.toString(16)}/${size} ${value}`);
          return true;
        },
        mmioRead: (addr, size) => {
          events.push(`mmio read ${addr.toString(16)}/${size}`);
          return 0x41n;
        },
        mmioWrite: (addr, size, value) => {
          events.push(`mmio write ${addr.toString(16)}/${size} ${value.toString(16)}`);
          return true;
        },
        vcpuHalted: (_vcpu, detail) => resolve(detail),
      };
      vm.start(handler);
    });
    const detail = await halted;
    assert.deepEqual(events, [
      "pio write 3f8/1 76",
      "mmio write 400000/8 1122334455667788",
      "pio read 3fd/1",
      "pio write 3f8/1 96",
      "mmio read 400008/8",
      "pio write 3f8/1 65",
    ]);
    assert.match(detail, /^vcpu 0: halted .* rip 0x[0-9a-f]+/);
    assert.match(detail, new RegExp(`rip 0x${(ENTRY + BigInt(PAYLOAD.length)).toString(16)}\\b`));
  } finally {
    await vm.stop();
  }
});

test("a vCPU spinning in guest mode is kicked out of KVM_RUN and the VM stops", async () => {
  const vm = await kvmAccelerator.createVm({
    vcpus: 2,
    ramBase: 0n,
    ramBytes: 0x20_0000,
    irqchip: false, // so that HLT exits to the VMM
  });
  writeLongModeTables(vm.memory);
  vm.memory.write(ENTRY, Uint8Array.of(0xeb, 0xfe)); // jmp $
  for (const v of vm.vcpus) {
    enterLongMode(v);
    v.setRegs({ rip: ENTRY, rsp: 0x8000n, rflags: 2n });
  }
  let halted = "";
  vm.start({
    pioRead: () => null,
    pioWrite: () => false,
    mmioRead: () => null,
    mmioWrite: () => false,
    vcpuHalted: (_v, d) => (halted = d),
  });
  await new Promise((r) => setTimeout(r, 300)); // both vCPUs are in guest mode, spinning
  const t0 = performance.now();
  await vm.stop();
  const ms = performance.now() - t0;
  assert.ok(ms < 3000, `stop took ${ms.toFixed(0)} ms`);
  assert.equal(halted, "", "a kick is not a failure");
});

/** Runs `prog` on one vCPU with the in-kernel irqchip; `onPio` sees every port write that exits. */
async function withIrqchipVm(
  prog: Uint8Array,
  setup: (vm: X86AccelVm) => void,
  onPio: (vm: X86AccelVm, port: number, value: number, done: () => void) => void,
): Promise<string[]> {
  const vm = await kvmAccelerator.createVm({
    vcpus: 1,
    ramBase: 0n,
    ramBytes: 0x40_0000,
  });
  const exits: string[] = [];
  try {
    writeLongModeTables(vm.memory);
    vm.memory.write(ENTRY, prog);
    enterLongMode(vm.vcpus[0]!);
    vm.vcpus[0]!.setRegs({ rip: ENTRY, rsp: 0x8000n, rflags: 2n });
    setup(vm);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timeout; exits: ${exits.join(", ")}`)),
        20_000,
      );
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      vm.start({
        pioRead: () => 0,
        pioWrite: (port, _size, value) => {
          exits.push(`pio ${port.toString(16)} ${value}`);
          onPio(vm, port, value, done);
          return true;
        },
        mmioRead: (addr) => {
          exits.push(`mmio read ${addr.toString(16)}`);
          return 0n;
        },
        mmioWrite: (addr) => {
          exits.push(`mmio write ${addr.toString(16)}`);
          return true;
        },
        vcpuHalted: (_v, d) => {
          clearTimeout(timer);
          reject(new Error(d));
        },
      });
    });
  } finally {
    await vm.stop();
  }
  return exits;
}

test("ioeventfd: guest notify writes (port and MMIO) signal eventfds inside KVM, with no exit", async () => {
  const prog = assemble(
    `
      .code64
      .globl _start
_start: mov $0x510, %dx
        mov $1, %al
        out %al, %dx
        out %al, %dx
        out %al, %dx
        mov $0xd0000050, %rbx      # a virtio-mmio QueueNotify register
        movl $0, (%rbx)
        movl $0, (%rbx)
        movl $1, (%rbx)            # another queue: not matched, so it exits
        mov $0x3f8, %dx
        mov $'D', %al
        out %al, %dx
1:      hlt
        jmp 1b
`,
    ENTRY,
  );
  let pioFd = -1;
  let mmioFd = -1;
  let counts: bigint[] = [];
  const exits = await withIrqchipVm(
    prog,
    (vm) => {
      pioFd = vm.notifyFd(0x510n, 1, { pio: true });
      mmioFd = vm.notifyFd(0xd000_0050n, 4, { datamatch: 0n });
    },
    (_vm, port, _v, done) => {
      if (port === 0x3f8) {
        // Read the counters before stop() closes the eventfds.
        counts = [eventfdRead(pioFd), eventfdRead(mmioFd)];
        done();
      }
    },
  );
  assert.deepEqual(counts, [3n, 2n]);
  assert.deepEqual(exits, ["mmio write d0000050", "pio 3f8 68"]);
});
test("irqfd: signalling an eventfd interrupts the guest through the in-kernel PIC", async () => {
  const prog = assemble(
    `
      .code64
      .globl _start
_start: mov $isr, %eax              # IDT entry for vector 0x25 (PIC base 0x20 + IRQ 5)
        mov $idt + 0x25 * 16, %rbx
        mov %ax, (%rbx)
        movw $0x10, 2(%rbx)         # the 64-bit code segment
        movw $0x8e00, 4(%rbx)       # present, DPL 0, interrupt gate
        shr $16, %eax
        mov %ax, 6(%rbx)
        movq $0, 8(%rbx)
        lidt idtr
        mov $0x11, %al              # ICW1: edge, cascade, ICW4
        out %al, $0x20
        mov $0x20, %al              # ICW2: vectors 0x20..0x27
        out %al, $0x21
        mov $0x04, %al              # ICW3: slave on IRQ 2
        out %al, $0x21
        mov $0x01, %al              # ICW4: 8086 mode
        out %al, $0x21
        mov $0xdf, %al              # mask everything but IRQ 5
        out %al, $0x21
        mov $0x3f8, %dx
        mov $'R', %al               # ready
        out %al, %dx
        sti
1:      hlt
        jmp 1b
isr:    mov $0x3f8, %dx
        mov $'I', %al
        out %al, %dx
        mov $0x20, %al              # end of interrupt
        out %al, $0x20
        iretq
        .balign 16
idtr:   .word 256 * 16 - 1
        .quad idt
        .balign 16
idt:    .fill 256 * 16, 1, 0
`,
    ENTRY,
  );
  let irq = -1;
  const exits = await withIrqchipVm(
    prog,
    (vm) => {
      irq = vm.interruptFd(5);
    },
    (_vm, _port, value, done) => {
      if (value === 0x52) eventfdWrite(irq); // 'R': raise IRQ 5 through the eventfd
      if (value === 0x49) done(); // 'I': the handler ran
    },
  );
  // PIC programming is served inside KVM: only the two COM1 writes exit.
  assert.deepEqual(exits, ["pio 3f8 82", "pio 3f8 73"]);
});
