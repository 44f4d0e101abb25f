// The KVM accelerator end to end on /dev/kvm: a vCPU worker thread runs a 64-bit payload whose
// port and MMIO accesses, reads and writes, reach the VMM's exit handler, and a HLT ends the
// vCPU with a report naming it and its registers. Needs /dev/kvm: fails without it.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { ExitHandler } from "../src/accel/accel.js";
import { KvmVm, kvmAccelerator } from "../src/accel/kvm/kvm-accel.js";
import { enterLongMode, writeLongModeTables } from "../src/arch/x86_64/long-mode.js";

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
  const vm = (await kvmAccelerator.createVm({
    vcpus: 1,
    ramBase: 0n,
    ramBytes: 0x20_0000,
    builtinFirmware: false,
    irqchip: false, // so that HLT exits to the VMM
  })) as KvmVm;
  const events: string[] = [];
  try {
    writeLongModeTables(vm.memory);
    vm.memory.write(ENTRY, Uint8Array.from(PAYLOAD));
    enterLongMode(vm.vcpus[0]!);
    vm.vcpus[0]!.setRegs({ rip: ENTRY, rsp: 0x8000n, rflags: 2n });
    const halted = new Promise<string>((resolve) => {
      const handler: ExitHandler = {
        postedWriteRanges: [],
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
        consoleWrite: () => {},
        consoleRead: () => -1,
        systemReset: () => {},
        vcpuHalted: (_vcpu, detail) => resolve(detail),
      };
      vm.start({ entry: ENTRY, mode: "long64", args: [] }, handler);
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
  const vm = (await kvmAccelerator.createVm({
    vcpus: 2,
    ramBase: 0n,
    ramBytes: 0x20_0000,
    builtinFirmware: false,
    irqchip: false, // so that HLT exits to the VMM
  })) as KvmVm;
  writeLongModeTables(vm.memory);
  vm.memory.write(ENTRY, Uint8Array.of(0xeb, 0xfe)); // jmp $
  for (const v of vm.vcpus) {
    enterLongMode(v);
    v.setRegs({ rip: ENTRY, rsp: 0x8000n, rflags: 2n });
  }
  let halted = "";
  vm.start(
    { entry: ENTRY, mode: "long64", args: [] },
    {
      postedWriteRanges: [],
      mmioRead: () => null,
      mmioWrite: () => false,
      consoleWrite: () => {},
      consoleRead: () => -1,
      systemReset: () => {},
      vcpuHalted: (_v, d) => (halted = d),
    },
  );
  await new Promise((r) => setTimeout(r, 300)); // both vCPUs are in guest mode, spinning
  const t0 = performance.now();
  await vm.stop();
  const ms = performance.now() - t0;
  assert.ok(ms < 3000, `stop took ${ms.toFixed(0)} ms`);
  assert.equal(halted, "", "a kick is not a failure");
});
