// The KVM layer on the real /dev/kvm (PVM-nested on our hosts): a 16-bit payload whose port I/O
// and MMIO exits reach the VMM in order, and ioctl failures that name the ioctl and the errno.
// Needs /dev/kvm: without it these tests fail, they do not skip.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Kvm, type VcpuExit, type VcpuFd } from "../src/kvm/kvm.js";
import { KVM_CAP_USER_MEMORY } from "../src/kvm/abi.js";
import { GuestMemory } from "../src/memory/guest-memory.js";
import { enterLongMode, writeLongModeTables } from "../src/arch/x86_64/long-mode.js";
import { CPUID_BITS, applyCpuTemplate, type CpuTemplateName } from "../src/arch/x86_64/cpuid.js";
import { kvmKind } from "../src/kvm/kvm-probe.js";
import {
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
  SysError,
  mmap,
  munmap,
  viewOf,
} from "../src/sys/libc.js";

// Real mode, loaded at 0x1000 with CS = 0.
const PAYLOAD = [
  0xba,
  0xf8,
  0x03, //       mov dx, 0x3f8
  0xb0,
  0x4f, //             mov al, 'O'
  0xee, //                   out dx, al
  0xb0,
  0x4b, //             mov al, 'K'
  0xee, //                   out dx, al
  0xb8,
  0x34,
  0x12, //       mov ax, 0x1234
  0xbb,
  0x00,
  0x10, //       mov bx, 0x1000
  0x8e,
  0xdb, //             mov ds, bx          ; ds base 0x10000: outside guest RAM
  0xa3,
  0x00,
  0x00, //       mov [0], ax         ; MMIO write, 2 bytes at 0x10000
  0xec, //                   in al, dx           ; port read, answered by the VMM
  0xa2,
  0x02,
  0x00, //       mov [2], al         ; MMIO write of what it read, at 0x10002
  0xf4, //                   hlt
];

const RAM = 0x10000;

function describe(e: VcpuExit): string {
  if (e.kind === "io")
    return `io ${e.out ? "out" : "in"} ${e.port.toString(16)} ${[...e.data].join(",")}`;
  if (e.kind === "mmio")
    return `mmio ${e.write ? "write" : "read"} ${e.addr.toString(16)} ${[...e.data].join(",")}`;
  return e.kind;
}

test("a real-mode payload's I/O and MMIO exits arrive in order, then HLT", () => {
  const kvm = Kvm.open();
  assert.ok(kvm.checkExtension(KVM_CAP_USER_MEMORY) > 0);
  const vm = kvm.createVm();
  const mem = mmap(RAM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
  try {
    new Uint8Array(viewOf(mem, RAM)).set(PAYLOAD, 0x1000);
    vm.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0n, size: RAM, hostAddr: mem });
    const vcpu = vm.createVcpu(0);
    vcpu.editSregs((s) => {
      s.writeBigUInt64LE(0n, 0); // cs.base
      s.writeUInt16LE(0, 12); // cs.selector
    });
    vcpu.setRegs({ rip: 0x1000n, rflags: 2n });
    const seen: string[] = [];
    for (let i = 0; i < 20; i++) {
      const e = vcpu.runOnce();
      seen.push(describe(e));
      if (e.kind === "io" && !e.out) vcpu.completeIoIn(Uint8Array.of(0x5a));
      if (e.kind !== "io" && e.kind !== "mmio") break;
    }
    assert.deepEqual(seen, [
      "io out 3f8 79",
      "io out 3f8 75",
      "mmio write 10000 52,18",
      "io in 3f8 0",
      "mmio write 10002 90",
      "hlt",
    ]);
    assert.equal(vcpu.getRegs().rip, 0x1000n + BigInt(PAYLOAD.length));
    vcpu.close();
  } finally {
    vm.close();
    munmap(mem, RAM);
    kvm.close();
  }
});

test("a failing ioctl names the ioctl and the errno", () => {
  const kvm = Kvm.open();
  const vm = kvm.createVm();
  try {
    assert.throws(
      () => vm.createVcpu(1 << 20),
      (e: unknown) => e instanceof SysError && /^KVM_CREATE_VCPU: E[A-Z]+$/.test(e.message),
    );
    assert.throws(
      () => vm.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0x1001n, size: 4096, hostAddr: 0n }),
      RangeError,
    );
  } finally {
    vm.close();
    kvm.close();
  }
});

// 64-bit code, entered directly in long mode at 0x100000.
const PAYLOAD64 = [
  0x66,
  0xba,
  0xf8,
  0x03, //                     mov dx, 0x3f8
  0xb0,
  0x4c, //                                 mov al, 'L'
  0xee, //                                       out dx, al
  0x48,
  0xb8,
  0x88,
  0x77,
  0x66,
  0x55,
  0x44,
  0x33,
  0x22,
  0x11, // mov rax, 0x1122334455667788
  0x48,
  0x89,
  0x04,
  0x25,
  0x00,
  0x00,
  0x40,
  0x00, //      mov [0x400000], rax ; mapped, not RAM
  0xf4, //                                       hlt
];

/**
 * Runs `fn` on a fresh one-vCPU VM with 2 MiB of RAM holding `payload` at 0x100000, the vCPU
 * set to enter it in long mode (after `prepare`, e.g. a CPUID template), then frees it all.
 */
function withLongModeGuest<T>(
  payload: number[],
  fn: (vcpu: VcpuFd, kvm: Kvm) => T,
  prepare: (vcpu: VcpuFd, kvm: Kvm) => void = () => {},
): T {
  const kvm = Kvm.open();
  const vm = kvm.createVm();
  const size = 0x20_0000;
  const mem = mmap(size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
  try {
    const guest = new GuestMemory(0n, new Uint8Array(viewOf(mem, size)));
    writeLongModeTables(guest);
    guest.write(0x10_0000n, Uint8Array.from(payload));
    vm.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0n, size, hostAddr: mem });
    const vcpu = vm.createVcpu(0);
    try {
      prepare(vcpu, kvm);
      enterLongMode(vcpu);
      vcpu.setRegs({ rip: 0x10_0000n, rsp: 0x8000n, rflags: 2n });
      return fn(vcpu, kvm);
    } finally {
      vcpu.close();
    }
  } finally {
    vm.close();
    munmap(mem, size);
    kvm.close();
  }
}

test("long mode: 64-bit code runs, a 64-bit MMIO store exits with all 8 bytes", () => {
  withLongModeGuest(PAYLOAD64, (vcpu) => {
    const seen: string[] = [];
    for (let i = 0; i < 10; i++) {
      const e = vcpu.runOnce();
      seen.push(describe(e));
      if (e.kind !== "io" && e.kind !== "mmio") break;
    }
    assert.deepEqual(seen, [
      "io out 3f8 76",
      "mmio write 400000 136,119,102,85,68,51,34,17",
      "hlt",
    ]);
  });
});

// 64-bit: CPUID leaf 1, then ECX out to port 0x3f8 (32-bit OUT), then HLT.
// prettier-ignore
const CPUID_PAYLOAD = [
  0xb8, 0x01, 0x00, 0x00, 0x00, // mov eax, 1
  0x31, 0xc9, //                   xor ecx, ecx
  0x0f, 0xa2, //                   cpuid
  0x89, 0xc8, //                   mov eax, ecx
  0x66, 0xba, 0xf8, 0x03, //       mov dx, 0x3f8
  0xef, //                         out dx, eax
  0xf4, //                         hlt
];

function guestCpuidLeaf1Ecx(template: CpuTemplateName): { guest: number; host: number } {
  let host = 0;
  return withLongModeGuest(
    CPUID_PAYLOAD,
    (vcpu) => {
      const e = vcpu.runOnce();
      assert.equal(e.kind, "io");
      assert.ok(e.kind === "io" && e.size === 4);
      return { guest: new DataView(e.data.buffer, e.data.byteOffset).getUint32(0, true), host };
    },
    (vcpu, kvm) => {
      const supported = kvm.supportedCpuid();
      host = supported.find((x) => x.function === 1)!.ecx;
      vcpu.setCpuid(applyCpuTemplate(supported, template));
    },
  );
}

test("CPU templates take effect in the guest: no VMX; the PVM template hides CX16 and PCID", () => {
  const b = CPUID_BITS.leaf1Ecx;
  const plain = guestCpuidLeaf1Ecx("default");
  assert.equal(plain.guest & (1 << b.VMX), 0, "VMX hidden");
  const pvm = guestCpuidLeaf1Ecx("pvm");
  for (const [name, n] of Object.entries({ CX16: b.CX16, PCID: b.PCID })) {
    assert.equal(pvm.guest & (1 << n), 0, `${name} hidden under the pvm template`);
  }
  // Measured here: under PVM the guest sees XSAVE and AVX in leaf 1 even though
  // KVM_GET_SUPPORTED_CPUID does not list them and KVM_SET_CPUID2 clears them (CX16 and PCID on
  // the same register do go), so a guest there also needs `noxsave` on its command line.
  // Elsewhere the template hides them.
  for (const [name, n] of Object.entries({ XSAVE: b.XSAVE, AVX: b.AVX })) {
    const seen = (pvm.guest >> n) & 1;
    if (kvmKind() === "pvm") assert.equal(seen, 1, `PVM shows ${name} regardless`);
    else assert.equal(seen, 0, `${name} hidden under the pvm template`);
  }
  // The default template leaves CX16 as KVM offers it.
  assert.equal((plain.guest >> b.CX16) & 1, (plain.host >> b.CX16) & 1, "CX16 under default");
});

test("templates: a pure filter over KVM's entries", () => {
  const entries = [
    { function: 1, index: 0, flags: 0, eax: 1, ebx: 2, ecx: 0xffff_ffff, edx: 3 },
    { function: 0xd, index: 0, flags: 1, eax: 7, ebx: 0, ecx: 0, edx: 0 },
  ];
  const pvm = applyCpuTemplate(entries, "pvm");
  assert.equal(pvm.length, 1, "leaf 0xd dropped");
  assert.equal(pvm[0]!.ecx & (1 << 13), 0);
  assert.equal(entries[0]!.ecx, 0xffff_ffff, "input untouched");
  assert.equal(applyCpuTemplate(entries, "default").length, 2);
});
