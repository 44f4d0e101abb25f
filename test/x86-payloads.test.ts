// x86-64 machines on /dev/kvm with small payloads assembled here (GNU as): several vCPUs, the
// MMIO bus and moat's control block, the bzImage 64-bit boot protocol, and the report of a
// triple fault. Needs /dev/kvm: fails without it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { X86Vm, type X86VmConfig } from "../src/vmm/x86_64-vm.js";
import type { VmExit } from "../src/vmm/vm-exit.js";
import { assemble } from "./support/x86-asm.js";
import { DeviceId, type VirtioDevice } from "../src/devices/virtio/device.js";
import { VirtioMmio } from "../src/devices/virtio/mmio-transport.js";

const BASE = 0x10_0000n;

async function runVm(cfg: Omit<X86VmConfig, "output">, ms = 20_000): Promise<[VmExit, string]> {
  const out: number[] = [];
  const vm = await X86Vm.create({ ...cfg, output: (b) => out.push(...b) });
  const timer = setTimeout(() => vm.stop(124, "timeout"), ms);
  const exit = await vm.run();
  clearTimeout(timer);
  return [exit, Buffer.from(out).toString("latin1")];
}

test("two vCPUs run; MMIO reaches the bus: an unmapped read is all ones, the control block powers off with a status", async () => {
  const prog = assemble(
    `
      .code64
      .globl _start
_start: mov $0x3f8, %dx
        mov %edi, %eax            # %rdi: the vCPU's index
        add $'0', %al
        out %al, %dx
        lock incl counter
        test %edi, %edi
        jnz park
1:      cmpl $2, counter          # vCPU 0 waits for both
        jne 1b
        mov $0xd0000000, %rbx     # virtio slot 0: nothing there
        mov (%rbx), %eax
        cmp $0xffffffff, %eax
        jne fail
        mov $0xd1000000, %rbx     # moat's control block
        movl $0x73333, (%rbx)     # power off, status 7
park:   hlt
        jmp park
fail:   mov $0xd1000000, %rbx
        movl $0x13333, (%rbx)     # status 1
        jmp park
        .balign 4
counter: .long 0
`,
    BASE,
  );
  const [exit, out] = await runVm({ vcpus: 2, memoryMiB: 16, program: prog, cpuTemplate: "pvm" });
  assert.deepEqual(exit, { reason: "poweroff", status: 7 });
  assert.deepEqual([...out].sort(), ["0", "1"]);
});

test("a triple fault ends the VM with the exit reason and the registers, not a hang", async () => {
  const prog = assemble(
    `
      .code64
      .globl _start
_start: lidt idtr                 # an empty IDT: the next exception cannot be delivered
        ud2                       # #UD, then #DF, then a triple fault
        .balign 8
idtr:   .word 0
        .quad 0
`,
    BASE,
  );
  const [exit] = await runVm({ vcpus: 1, memoryMiB: 16, program: prog, cpuTemplate: "pvm" });
  assert.equal(exit.reason, "halt");
  assert.equal(exit.status, 125);
  assert.match(
    exit.detail ?? "",
    /^vcpu 0: shutdown \(triple fault\), rip 0x[0-9a-f]+ rsp 0x[0-9a-f]+/,
  );
});

// A miniature bzImage: a real setup header in front of a 64-bit entry at offset 0x200 of the
// protected-mode part. The entry checks the boot protocol's register state (CS = __BOOT_CS,
// %rsi -> boot_params), then prints the command line, the e820 entry count and the first byte
// of the initrd that boot_params point at.
const BZ_ENTRY = `
      .code64
      .globl _start
_start: hlt                       # offset 0: the 32-bit entry, not used
        .org 0x200
        mov %cs, %ax
        cmp $0x10, %ax
        jne bad
        cmpb $0xff, 0x210(%rsi)   # type_of_loader: "undefined" loader
        jne bad
        mov $0x3f8, %dx
        mov 0x228(%rsi), %ebx     # cmd_line_ptr
1:      movb (%rbx), %al
        test %al, %al
        jz 2f
        out %al, %dx
        inc %rbx
        jmp 1b
2:      mov $'|', %al
        out %al, %dx
        movb 0x1e8(%rsi), %al     # e820_entries
        add $'0', %al
        out %al, %dx
        mov 0x218(%rsi), %ebx     # ramdisk_image
        movb (%rbx), %al
        out %al, %dx
        jmp done
bad:    mov $'X', %al
        out %al, %dx
done:   mov $0xfe, %al
        outb %al, $0x64           # i8042: reset
        hlt
`;

function makeBzImage(pm: Uint8Array, edit?: (f: Uint8Array, v: DataView) => void): Uint8Array {
  const setupSects = 4;
  const f = new Uint8Array((setupSects + 1) * 512 + pm.length);
  const v = new DataView(f.buffer);
  f[0x1f1] = setupSects;
  v.setUint32(0x1f4, Math.ceil(pm.length / 16), true); // syssize
  v.setUint16(0x1fe, 0xaa55, true);
  f[0x200] = 0xeb;
  f[0x201] = 0x268 - 0x202; // the header runs to 0x268
  f.set(new TextEncoder().encode("HdrS"), 0x202);
  v.setUint16(0x206, 0x020f, true);
  f[0x211] = 1; // LOADED_HIGH
  v.setUint32(0x22c, 0x7fff_ffff, true); // initrd_addr_max
  v.setUint32(0x230, 0x20_0000, true); // kernel_alignment
  f[0x234] = 1; // relocatable
  v.setUint16(0x236, 1, true); // XLF_KERNEL_64
  v.setUint32(0x238, 2047, true); // cmdline_size
  v.setBigUint64(0x258, 0x100_0000n, true); // pref_address
  v.setUint32(0x260, 0x10_0000, true); // init_size
  f.set(pm, (setupSects + 1) * 512);
  edit?.(f, v);
  return f;
}

test("a bzImage boots through the 64-bit boot protocol: zero page, command line, e820, initrd", async () => {
  const bz = makeBzImage(assemble(BZ_ENTRY, BASE));
  const [exit, out] = await runVm({
    vcpus: 1,
    memoryMiB: 32,
    kernel: {
      image: bz,
      cmdline: "console=ttyS0 moat=bz",
      initrd: new TextEncoder().encode("Q123"),
    },
    cpuTemplate: "default",
  });
  assert.equal(exit.reason, "reset", JSON.stringify(exit));
  // The command line with the power button moat adds to every kernel's.
  assert.equal(out, "console=ttyS0 moat=bz virtio_mmio.device=4K@0xd0008000:5|3Q");
});

test("hostile or truncated bzImages are refused with a clear message", async () => {
  const pm = assemble(BZ_ENTRY, BASE);
  const good = makeBzImage(pm);
  const cases: [Uint8Array, RegExp][] = [
    [good.subarray(0, 5 * 512 + 100), /runs past the end of the file/],
    [good.subarray(0, 600), /too short/],
    [makeBzImage(pm, (f) => (f[0x202] = 0)), /neither an ELF vmlinux nor a bzImage/],
    [makeBzImage(pm, (_f, v) => v.setUint16(0x206, 0x0206, true)), /boot protocol 2\.6 is too old/],
    [makeBzImage(pm, (_f, v) => v.setUint16(0x236, 0, true)), /no 64-bit entry/],
    [makeBzImage(pm, (f) => (f[0x201] = 0xff)), /setup header too long/],
    [makeBzImage(pm, (f) => (f[0x1f1] = 200)), /setup sectors run past the end/],
    [makeBzImage(pm, (_f, v) => v.setUint32(0x260, 0x4000_0000, true)), /give the VM more memory/],
    [makeBzImage(pm, (_f, v) => v.setUint32(0x230, 0x30_0000, true)), /not a power of two/],
  ];
  for (const [image, re] of cases) {
    await assert.rejects(
      X86Vm.create({
        vcpus: 1,
        memoryMiB: 32,
        kernel: { image, name: "bz", cmdline: "" },
        cpuTemplate: "default",
        output: () => {},
      }),
      re,
    );
  }
});

test("a command line longer than the kernel accepts is refused", async () => {
  const bz = makeBzImage(assemble(BZ_ENTRY, BASE), (_f, v) => v.setUint32(0x238, 16, true));
  await assert.rejects(
    X86Vm.create({
      vcpus: 1,
      memoryMiB: 32,
      kernel: { image: bz, cmdline: "console=ttyS0 and much more" },
      cpuTemplate: "default",
      output: () => {},
    }),
    /command line longer than 16 bytes/,
  );
});

test("the boot MSRs are set as firmware would leave them: MTRRs on with write-back default, fast strings", async () => {
  const prog = assemble(
    `
      .code64
      .globl _start
_start: mov $0x2ff, %ecx          # IA32_MTRR_DEF_TYPE
        rdmsr                     # (into %edx:%eax)
        mov $0x3f8, %dx
        out %al, %dx              # low byte: default type (6, write-back)
        mov %ah, %al
        out %al, %dx              # bit 11 (0x08 here): MTRRs enabled
        mov $0x1a0, %ecx          # IA32_MISC_ENABLE
        rdmsr
        mov $0x3f8, %dx
        out %al, %dx              # bit 0: fast strings
        mov $0xfe, %al
        outb %al, $0x64
        hlt
`,
    BASE,
  );
  const [exit, out] = await runVm({ vcpus: 1, memoryMiB: 16, program: prog, cpuTemplate: "pvm" });
  assert.equal(exit.reason, "reset");
  assert.deepEqual([...Buffer.from(out, "latin1")], [6, 8, 1]);
});

test("virtio on KVM: a guest's queue notify reaches the device through ioeventfd and the I/O thread", async () => {
  const notified: number[] = [];
  const dev: VirtioDevice = {
    deviceId: DeviceId.Entropy,
    name: "test-device",
    features: 0n,
    queueMaxSizes: [8, 8],
    maxChainBytes: 4096,
    configRead: () => 0n,
    configWrite: () => {},
    activate: () => {},
    notify: (q) => notified.push(q),
    reset: () => {},
  };
  // The driver's side of virtio-mmio in a few register writes, then notifies of queue 1.
  const prog = assemble(
    `
      .code64
      .globl _start
_start: mov $0xd0000000, %rbx
        movl $1, 0x70(%rbx)          # status: ACKNOWLEDGE
        movl $3, 0x70(%rbx)          # DRIVER
        movl $1, 0x24(%rbx)          # driver features, high word:
        movl $1, 0x20(%rbx)          #   VERSION_1
        movl $11, 0x70(%rbx)         # FEATURES_OK
        movl $1, 0x30(%rbx)          # queue 1:
        movl $8, 0x38(%rbx)          #   size 8
        movl $0x200000, 0x80(%rbx)   #   descriptors
        movl $0x201000, 0x90(%rbx)   #   available ring
        movl $0x202000, 0xa0(%rbx)   #   used ring
        movl $1, 0x44(%rbx)          #   ready
        movl $15, 0x70(%rbx)         # DRIVER_OK
        movl $1, 0x50(%rbx)          # notify queue 1 (ioeventfd: no exit)
        mov $0x3f8, %dx
        mov $'N', %al
        out %al, %dx
1:      pause
        jmp 1b
`,
    BASE,
  );
  // Notifies that arrive through the register path (an MMIO exit) would not pass here.
  const viaEventfd: number[] = [];
  const hostNotify = VirtioMmio.prototype.hostNotify;
  VirtioMmio.prototype.hostNotify = function (this: VirtioMmio, q: number) {
    viaEventfd.push(q);
    hostNotify.call(this, q);
  };
  const out: number[] = [];
  const vm = await X86Vm.create({
    vcpus: 1,
    memoryMiB: 16,
    program: prog,
    cpuTemplate: "pvm",
    virtio: [dev],
    output: (b) => out.push(...b),
  });
  const exit = vm.run();
  const deadline = Date.now() + 20_000;
  while (notified.length === 0 && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 20));
  vm.stop(0, "done");
  await exit;
  VirtioMmio.prototype.hostNotify = hostNotify;
  assert.deepEqual(notified, [1]);
  assert.deepEqual(viaEventfd, [1], "the notify came through the eventfd, not an exit");
  assert.equal(Buffer.from(out).toString(), "N");
});

test("the CMOS RTC on ports 0x70/0x71 shows the host's time, in BCD and in binary; a guest's write stays its own", async () => {
  // Reads seconds, minutes, hours, day, month, year, century, B and D (after UIP clears),
  // switches B to binary and reads them again, then sets the year to 1999 (SET, write, SET
  // off) and reads year and century. Every byte goes out on COM1.
  const prog = assemble(
    `
      .code64
      .globl _start
_start: call dump
        mov $0x0b, %al            # B: binary, 24 hours
        out %al, $0x70
        mov $0x06, %al
        out %al, $0x71
        call dump
        mov $0x8b, %al            # B, with the NMI-mask bit set: the index is still B
        out %al, $0x70
        mov $0x86, %al            # SET
        out %al, $0x71
        mov $0x09, %al
        out %al, $0x70
        mov $99, %al
        out %al, $0x71
        mov $0x32, %al
        out %al, $0x70
        mov $19, %al
        out %al, $0x71
        mov $0x0b, %al
        out %al, $0x70
        mov $0x06, %al            # SET off: the clock runs from 1999
        out %al, $0x71
        mov $0x09, %al
        out %al, $0x70
        in $0x71, %al
        mov $0x3f8, %dx
        out %al, %dx
        mov $0x32, %al
        out %al, $0x70
        in $0x71, %al
        mov $0x3f8, %dx
        out %al, %dx
        mov $0xd1000000, %rbx
        movl $0x5555, (%rbx)      # power off
1:      hlt
        jmp 1b

dump:   mov $0x0a, %al            # wait while an update is in progress
        out %al, $0x70
        in $0x71, %al
        test $0x80, %al
        jnz dump
        lea regs(%rip), %rsi
        mov $9, %ecx
2:      mov (%rsi), %al
        out %al, $0x70
        in $0x71, %al
        mov $0x3f8, %dx
        out %al, %dx
        inc %rsi
        loop 2b
        ret
regs:   .byte 0x00, 0x02, 0x04, 0x07, 0x08, 0x09, 0x32, 0x0b, 0x0d
`,
    BASE,
  );
  const bcd = (v: number): number => (v >> 4) * 10 + (v & 0x0f);
  /** Seconds since the epoch from seconds, minutes, hours, day, month, year, century. */
  const seconds = (r: number[]): number =>
    Date.UTC(r[6]! * 100 + r[5]!, r[4]! - 1, r[3]!, r[2]!, r[1]!, r[0]!) / 1000;
  // Twice: the second VM shows the host's time again, whatever the first set.
  for (let run = 0; run < 2; run++) {
    const before = Math.floor(Date.now() / 1000);
    const [exit, out] = await runVm({ vcpus: 1, memoryMiB: 16, program: prog, cpuTemplate: "pvm" });
    const after = Math.floor(Date.now() / 1000);
    assert.deepEqual(exit, { reason: "poweroff", status: 0 });
    const bytes = [...out].map((c) => c.charCodeAt(0));
    assert.equal(bytes.length, 9 + 9 + 2, `output ${JSON.stringify(bytes)}`);
    for (const [name, regs, dec, b] of [
      ["BCD", bytes.slice(0, 9), bcd, 0x02],
      ["binary", bytes.slice(9, 18), (v: number) => v, 0x06],
    ] as const) {
      assert.equal(regs[7], b, `${name}: status B`);
      assert.equal(regs[8], 0x80, `${name}: status D says the RAM is valid`);
      const t = seconds(regs.slice(0, 7).map(dec));
      assert.ok(
        t >= before - 1 && t <= after + 1,
        `run ${run}, ${name}: CMOS ${t}, host ${before}..${after}`,
      );
    }
    assert.deepEqual(bytes.slice(18), [99, 19], "the guest's own clock now reads 1999");
  }
});
