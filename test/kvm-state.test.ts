// KVM vCPU and VM state for snapshots (kvm/vcpu-state.ts, kvm/vm-state.ts) on the real
// /dev/kvm: a long-mode payload that counts in a register, in memory and in an SSE register,
// with MSRs written and the local APIC timer ticking, is paused at a boundary and saved; a new
// VM (new fds) with a copy of its memory loads the state and carries on from where it stopped.
// Also: a pause right after a port read completes it first; a vCPU halted in KVM pauses and
// comes back halted; tampered records are refused naming the field. Needs /dev/kvm: fails
// without it.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { KvmCpuState, X86AccelVm, X86ExitHandler } from "../src/accel/accel.js";
import { kvmAccelerator } from "../src/accel/kvm/kvm-accel.js";
import { enterLongMode, writeLongModeTables } from "../src/arch/x86_64/long-mode.js";
import { applyCpuTemplate, cpuidForVcpu } from "../src/arch/x86_64/cpuid.js";
import { DeviceStateError, type DeviceState } from "../src/devices/device-state.js";
import { KvmStateError, saveVcpuState, vcpuStateHost } from "../src/kvm/vcpu-state.js";
import { saveVmState } from "../src/kvm/vm-state.js";
import { Kvm } from "../src/kvm/kvm.js";
import { MP_STATE_RUNNABLE } from "../src/kvm/abi.js";

/** KVM_MP_STATE_HALTED: a vCPU in HLT, waiting in the kernel for an interrupt. */
const MP_STATE_HALTED = 3;
import { assemble } from "./support/x86-asm.js";

const ENTRY = 0x10_0000n;
const RAM = 0x40_0000;
const KERNEL_GS_BASE = 0xc000_0102;
const LSTAR = 0xc000_0082;
const GS_VALUE = 0x1abc_1234_5678n;
const LSTAR_VALUE = 0xffff_ffff_0bad_c0den;
const COUNT = 0x20_0000n;
const TICKS = 0x20_0008n;
const SCRATCH = 0x20_0010n;
const PARKED = 0x20_0020n;

// Counts in %r12 and at COUNT and checks on every turn that both agree and that %xmm3 still
// holds `pattern` (KVM's emulator on PVM runs SSE moves, not SSE arithmetic); a LAPIC timer
// interrupt (periodic, vector 0x40) counts at TICKS. 'F' on port 0x3f8: a check failed.
const PROG = assemble(
  `
      .code64
      .globl _start
_start: mov $tick, %eax
        mov $idt + 0x40 * 16, %rbx
        mov %ax, (%rbx)
        movw $0x10, 2(%rbx)         # the 64-bit code segment
        movw $0x8e00, 4(%rbx)       # present, DPL 0, interrupt gate
        shr $16, %eax
        mov %ax, 6(%rbx)
        movq $0, 8(%rbx)
        lidt idtr
        mov $${KERNEL_GS_BASE}, %ecx
        mov $0x12345678, %eax
        mov $0x1abc, %edx
        wrmsr
        mov $${LSTAR}, %ecx
        mov $0x0badc0de, %eax
        mov $0xffffffff, %edx
        wrmsr
        mov %cr4, %rax
        or $0x600, %rax             # OSFXSR, OSXMMEXCPT: SSE on
        mov %rax, %cr4
        movdqu pattern, %xmm3
        xor %r12, %r12
        mov $0xfee00000, %rbx       # the local APIC
        movl $0x1ff, 0xf0(%rbx)     # enabled, spurious vector 0xff
        movl $0xb, 0x3e0(%rbx)      # divide by 1
        movl $0x20040, 0x320(%rbx)  # timer: periodic, vector 0x40
        movl $0x200000, 0x380(%rbx) # initial count
        mov $0x3f8, %dx
        mov $'R', %al
        out %al, %dx
        sti
loop:   inc %r12
        incq ${COUNT}
        movdqu %xmm3, ${SCRATCH}
        mov ${SCRATCH}, %rax
        cmp pattern, %rax
        jne fail
        mov ${SCRATCH + 8n}, %rax
        cmp pattern + 8, %rax
        jne fail
        cmp ${COUNT}, %r12
        jne fail
        jmp loop
fail:   mov $0x3f8, %dx
        mov $'F', %al
        out %al, %dx
1:      hlt
        jmp 1b
tick:   incq ${TICKS}
        push %rbx
        mov $0xfee000b0, %rbx
        movl $0, (%rbx)             # end of interrupt
        pop %rbx
        iretq
        .balign 16
pattern: .quad 0x0123456789abcdef, 0xfedcba9876543210
idtr:   .word 256 * 16 - 1
        .quad idt
        .balign 16
idt:    .fill 256 * 16, 1, 0
`,
  ENTRY,
);
async function newVm(): Promise<X86AccelVm> {
  const vm = await kvmAccelerator.createVm({ vcpus: 1, ramBase: 0n, ramBytes: RAM });
  const cpuid = applyCpuTemplate(vm.supportedCpuid(), "pvm");
  vm.vcpus[0]!.setCpuid(cpuidForVcpu(cpuid, 0));
  return vm;
}

/** Puts `prog` at ENTRY and the vCPU in long mode, about to run it. */
function load(vm: X86AccelVm, prog: Uint8Array): void {
  writeLongModeTables(vm.memory);
  vm.memory.write(ENTRY, prog);
  enterLongMode(vm.vcpus[0]!);
  vm.vcpus[0]!.setRegs({ rip: ENTRY, rsp: 0x8000n, rflags: 2n });
}

/** Starts `vm`; the promise rejects if the guest reports a mismatch or the vCPU stops. */
function run(vm: X86AccelVm, pioRead: () => number = () => 0): Promise<never> {
  return new Promise<never>((_resolve, reject) => {
    const handler: X86ExitHandler = {
      pioRead,
      pioWrite: (_port, _size, value) => {
        if (value !== 0x52)
          reject(new Error(`the guest reported ${String.fromCharCode(value)}: a check failed`));
        return true;
      },
      mmioRead: () => 0n,
      mmioWrite: () => true,
      vcpuHalted: (_v, detail) => reject(new Error(detail)),
    };
    vm.start(handler);
  });
}

/** Waits until `cond()` holds, or fails after `ms` (or when `failed` rejects). */
async function until(
  cond: () => boolean,
  what: string,
  failed: Promise<never>,
  ms = 30_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  let error: unknown;
  failed.catch((e) => (error = e));
  while (!cond()) {
    if (error) throw error;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const counter = (vm: X86AccelVm, at: bigint): bigint => vm.memory.readU64(at);

test("a paused vCPU's state, loaded into a new VM over a copy of its memory, carries on from where it stopped", async () => {
  const a = await newVm();
  let saved: KvmCpuState;
  let image: Uint8Array;
  let atPause: { r12: bigint; count: bigint; ticks: bigint; rip: bigint };
  try {
    load(a, PROG);
    const failed = run(a);
    await until(() => counter(a, COUNT) > 100_000n && counter(a, TICKS) > 2n, "A to count", failed);
    assert.throws(() => a.saveCpuState(), /must be paused/);
    let t0 = performance.now();
    await a.pauseAtBoundary();
    const pauseMs = performance.now() - t0;
    t0 = performance.now();
    saved = a.saveCpuState();
    const saveMs = performance.now() - t0;
    const regs = a.vcpus[0]!.getRegs();
    atPause = { r12: regs.r12, count: counter(a, COUNT), ticks: counter(a, TICKS), rip: regs.rip };
    // Paused at a boundary: the register and memory counters agree (the guest's invariant).
    assert.ok(
      atPause.r12 === atPause.count || atPause.r12 === atPause.count + 1n,
      JSON.stringify(String(atPause.r12)),
    );
    image = a.memory.read(0n, RAM);
    // Paused means paused: nothing moves for a while.
    const c = counter(a, COUNT);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(counter(a, COUNT), c);
    const vcpu = saved.vcpus[0]!;
    console.log(
      `pause ${pauseMs.toFixed(2)} ms, save ${saveMs.toFixed(2)} ms (${(vcpu.msrs as unknown[]).length} MSRs, ` +
        `xsave ${Buffer.from(vcpu.xsave as string, "base64").length} bytes, unsaved MSRs ${JSON.stringify(vcpu.unsavedMsrs)})`,
    );
  } finally {
    await a.stop();
  }

  // A new VM: new KVM, VM and vCPU fds, the same configuration and memory contents.
  const b = await newVm();
  try {
    b.memory.write(0n, image);
    const t0 = performance.now();
    b.loadCpuState(JSON.parse(JSON.stringify(saved)) as KvmCpuState);
    const loadMs = performance.now() - t0;
    console.log(`restore ${loadMs.toFixed(2)} ms`);
    // Read back before it runs: every part that does not move on its own is as saved (the
    // LAPIC's current count, the TSC and the PIT's load time do move).
    const back = b.saveCpuState();
    for (const k of ["regs", "sregs", "xsave", "xcrs", "events", "debugregs", "mpState"])
      assert.deepEqual(back.vcpus[0]![k], saved.vcpus[0]![k], k);
    assert.deepEqual(back.vm.irqchip, saved.vm.irqchip);
    const regs = b.vcpus[0]!.getRegs();
    assert.equal(regs.r12, atPause.r12);
    assert.equal(regs.rip, atPause.rip);
    assert.deepEqual(b.vcpus[0]!.getMsrs([KERNEL_GS_BASE, LSTAR]), [GS_VALUE, LSTAR_VALUE]);
    const failed = run(b);
    // It goes on counting from its value (not from 0: a reset vCPU would not run this code),
    // with %xmm3 and the memory counter in step (else the guest says 'F'), and the timer ticks.
    await until(
      () => counter(b, COUNT) > atPause.count + 50_000n && counter(b, TICKS) > atPause.ticks + 2n,
      "B to go on counting and ticking",
      failed,
    );
    await b.pauseAtBoundary();
    const after = b.vcpus[0]!.getRegs();
    assert.ok(after.r12 > atPause.r12);
    const count = counter(b, COUNT);
    assert.ok(after.r12 === count || after.r12 === count + 1n);
    assert.deepEqual(b.vcpus[0]!.getMsrs([KERNEL_GS_BASE, LSTAR]), [GS_VALUE, LSTAR_VALUE]);
    // The KVM clock went on from the saved value, not from B's creation.
    const clock = (s: KvmCpuState): bigint => BigInt(s.vm.clock as string);
    assert.ok(clock(b.saveCpuState()) > clock(saved));
  } finally {
    await b.stop();
  }
});

function refused(fn: () => void, field: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof DeviceStateError && field.test(e.message));
}

test("a tampered vCPU or VM record is refused naming the field, before anything is loaded", async () => {
  // Save a real state from a running VM, then load altered copies into a new one.
  const a = await newVm();
  let saved: KvmCpuState;
  try {
    load(a, PROG);
    const failed = run(a);
    await until(() => counter(a, COUNT) > 1000n, "A to count", failed);
    await a.pauseAtBoundary();
    saved = a.saveCpuState();
  } finally {
    await a.stop();
  }
  const b = await newVm();
  try {
    const regsBefore = b.vcpus[0]!.getRegs();
    const edit = (f: (v: DeviceState, m: DeviceState) => void): KvmCpuState => {
      const s = JSON.parse(JSON.stringify(saved)) as KvmCpuState;
      f(s.vcpus[0]!, s.vm);
      return s;
    };
    refused(
      () => b.loadCpuState(edit((v) => (v.version = 2))),
      /^vcpu 0: version is 2, this moat reads 1$/,
    );
    refused(() => b.loadCpuState(edit((_v, m) => (m.version = 7))), /^VM: version is 7/);
    const msrs = saved.vcpus[0]!.msrs as DeviceState[];
    refused(
      () => b.loadCpuState(edit((v) => (v.msrs = [...msrs, ...msrs]))),
      new RegExp(`^vcpu 0: msrs has more than ${msrs.length} items$`),
    );
    refused(
      () => b.loadCpuState(edit((v) => (v.msrs = [{ index: 0x12345, value: "0x1" }]))),
      /^vcpu 0: msrs\[0\]: MSR 0x12345 is not one this host's KVM saves$/,
    );
    refused(
      () => b.loadCpuState(edit((v) => (v.msrs = [msrs[0]!, msrs[0]!]))),
      /^vcpu 0: msrs\[1\]: MSR 0x[0-9a-f]+ appears twice$/,
    );
    refused(
      () =>
        b.loadCpuState(
          edit(
            (v) =>
              (v.xsave = Buffer.from(v.xsave as string, "base64")
                .subarray(0, 100)
                .toString("base64")),
          ),
        ),
      /^vcpu 0: xsave is 100 bytes, outside 4096\.\.\d+$/,
    );
    refused(
      () => b.loadCpuState(edit((v) => (v.regs = Buffer.alloc(200).toString("base64")))),
      /^vcpu 0: regs holds more than 144 bytes$/,
    );
    refused(() => b.loadCpuState(edit((v) => delete v.lapic)), /^vcpu 0: lapic is missing$/);
    refused(
      () => b.loadCpuState(edit((v) => (v.mpState = 99))),
      /^vcpu 0: mpState is 99, outside 0\.\.10$/,
    );
    refused(
      () => b.loadCpuState(edit((_v, m) => (m.pit = Buffer.alloc(5).toString("base64")))),
      /^VM: pit is 5 bytes, not 112$/,
    );
    refused(() => b.loadCpuState(edit((_v, m) => delete m.irqchip)), /^VM: irqchip is missing/);
    // Nothing was loaded by the refusals.
    assert.deepEqual(b.vcpus[0]!.getRegs(), regsBefore);
    // Random damage: a refusal naming a field, or a part KVM refuses; never anything else.
    let seed = 22;
    const rand = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    const junk = [
      null,
      -1,
      2 ** 40,
      "0xzz",
      "",
      "AAAA",
      [],
      {},
      true,
      Buffer.alloc(999).toString("base64"),
    ];
    for (let i = 0; i < 300; i++) {
      const s = JSON.parse(JSON.stringify(saved)) as KvmCpuState;
      const target = (rand(2) === 0 ? s.vcpus[0] : s.vm) as Record<string, unknown>;
      const keys = Object.keys(target);
      const k = keys[rand(keys.length)]!;
      const v = target[k];
      if (typeof v === "string" && rand(2) === 0 && v.length > 8) {
        const raw = Buffer.from(v, "base64");
        raw[rand(raw.length)] ^= 1 << rand(8); // a flipped bit inside a struct: KVM's to judge
        target[k] = raw.toString("base64");
      } else target[k] = junk[rand(junk.length)];
      try {
        b.loadCpuState(s);
      } catch (e) {
        assert.ok(
          e instanceof DeviceStateError || e instanceof KvmStateError,
          `${k}: ${String(e)}`,
        );
      }
    }
  } finally {
    await b.stop();
  }
});

test("a vCPU paused right after a port read is saved with the read completed: restored, it does not read again", async () => {
  // Reads port 0x510 in a loop; the VMM answers 1, 2, 3... and the guest checks each answer is
  // one more than the last. Had the pause left the last IN incomplete (RIP still on it), the
  // restored vCPU would read again and skip a number.
  const prog = assemble(
    `
      .code64
      .globl _start
_start: mov $0x510, %dx
        xor %r13, %r13
1:      in %dx, %eax
        inc %r13
        cmp %rax, %r13
        jne fail
        mov %r13, ${COUNT}
        jmp 1b
fail:   mov $0x3f8, %dx
        mov $'F', %al
        out %al, %dx
2:      hlt
        jmp 2b
`,
    ENTRY,
  );
  let served = 0;
  const a = await newVm();
  let saved: KvmCpuState;
  let image: Uint8Array;
  try {
    load(a, prog);
    const failed = run(a, () => ++served);
    await until(() => served > 2000, "A to read", failed);
    await a.pauseAtBoundary();
    saved = a.saveCpuState();
    image = a.memory.read(0n, RAM);
  } finally {
    await a.stop();
  }
  const b = await newVm();
  try {
    b.memory.write(0n, image);
    b.loadCpuState(saved);
    const from = served;
    const failed = run(b, () => ++served); // the device goes on from the last value it gave
    await until(() => counter(b, COUNT) > BigInt(from + 2000), "B to read on", failed);
  } finally {
    await b.stop();
  }
});

test("two vCPUs, one counting and one halted in the kernel: both pause, and both come back as they were", async () => {
  const prog = assemble(
    `
      .code64
      .globl _start
_start: test %edi, %edi           # %rdi: the vCPU's index
        jnz park
1:      incq ${COUNT}
        jmp 1b
park:   cli
        movq $1, ${PARKED}
2:      hlt                       # halted in KVM (in-kernel irqchip), nothing wakes it
        jmp 2b
`,
    ENTRY,
  );
  const make = async (): Promise<X86AccelVm> => {
    const vm = await kvmAccelerator.createVm({ vcpus: 2, ramBase: 0n, ramBytes: RAM });
    const cpuid = applyCpuTemplate(vm.supportedCpuid(), "pvm");
    vm.vcpus.forEach((v, i) => v.setCpuid(cpuidForVcpu(cpuid, i)));
    return vm;
  };
  const a = await make();
  let saved: KvmCpuState;
  let image: Uint8Array;
  try {
    load(a, prog);
    enterLongMode(a.vcpus[1]!);
    a.vcpus[1]!.setRegs({ rip: ENTRY, rsp: 0x7000n, rflags: 2n, rdi: 1n });
    a.vcpus[1]!.makeRunnable();
    const failed = run(a);
    await until(
      // Not KVM_GET_MP_STATE: a vCPU ioctl waits for the vCPU's KVM_RUN to return.
      () => counter(a, COUNT) > 10_000n && counter(a, PARKED) === 1n,
      "vCPU 0 to count and vCPU 1 to halt",
      failed,
    );
    await a.pauseAtBoundary();
    saved = a.saveCpuState();
    image = a.memory.read(0n, RAM);
  } finally {
    await a.stop();
  }
  assert.deepEqual(
    saved.vcpus.map((v) => v.mpState),
    [MP_STATE_RUNNABLE, MP_STATE_HALTED],
  );
  const b = await make();
  try {
    b.memory.write(0n, image);
    b.loadCpuState(saved);
    assert.equal(b.vcpus[1]!.mpState(), MP_STATE_HALTED);
    const from = counter(b, COUNT);
    const failed = run(b);
    await until(() => counter(b, COUNT) > from + 10_000n, "vCPU 0 to count on", failed);
    await b.pauseAtBoundary();
    assert.equal(b.vcpus[1]!.mpState(), MP_STATE_HALTED);
  } finally {
    await b.stop();
  }
});

test("a part KVM cannot save is named with the ioctl's error, not skipped", () => {
  // No in-kernel irqchip or PIT in this VM: asking for its local APIC or PIT is what a host
  // without them would answer.
  const kvm = Kvm.open();
  const vm = kvm.createVm();
  const vcpu = vm.createVcpu(0);
  try {
    const host = { ...vcpuStateHost(kvm, vm, false), lapic: true };
    assert.throws(
      () => saveVcpuState(vcpu, host, "vcpu 0"),
      (e: unknown) =>
        e instanceof KvmStateError &&
        /^vcpu 0: this host's KVM cannot save the local APIC \(KVM_GET_LAPIC: E[A-Z]+\)$/.test(
          e.message,
        ),
    );
    assert.throws(
      () => saveVmState(vm, { irqchip: false, pit: true }),
      (e: unknown) =>
        e instanceof KvmStateError &&
        /^VM: this host's KVM cannot save the PIT \(KVM_GET_PIT2: E[A-Z]+\)$/.test(e.message),
    );
    // Without them, the rest saves.
    assert.equal(saveVcpuState(vcpu, { ...host, lapic: false }).lapic, undefined);
  } finally {
    vcpu.close();
    vm.close();
    kvm.close();
  }
});
