// KVM CPU state for snapshots (docs/kvm.md): the time to pause a running vCPU at a boundary, to
// save the VM's and the vCPU's state (saveCpuState) and to load it into a new VM (loadCpuState),
// and the records' size as JSON. Medians of N rounds; one vCPU with the in-kernel irqchip,
// running a loop that counts in memory.
//
//   node dist/bench/kvm-state.js [--runs N]
import { kvmAccelerator } from "../src/accel/kvm/kvm-accel.js";
import type { X86AccelVm } from "../src/accel/accel.js";
import { enterLongMode, writeLongModeTables } from "../src/arch/x86_64/long-mode.js";

const i = process.argv.indexOf("--runs");
const RUNS = i > 0 ? Number(process.argv[i + 1]) : 50;
const ENTRY = 0x10_0000n;
const RAM = 0x40_0000;
// 1: incq 0x200000; jmp 1b
const LOOP = Uint8Array.of(0x48, 0xff, 0x04, 0x25, 0x00, 0x00, 0x20, 0x00, 0xeb, 0xf6);

const noExits = {
  pioRead: () => 0,
  pioWrite: () => true,
  mmioRead: () => 0n,
  mmioWrite: () => true,
  vcpuHalted: (_v: number, d: string) => {
    throw new Error(d);
  },
};

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

async function main(): Promise<void> {
  const a: X86AccelVm = await kvmAccelerator.createVm({ vcpus: 1, ramBase: 0n, ramBytes: RAM });
  writeLongModeTables(a.memory);
  a.memory.write(ENTRY, LOOP);
  enterLongMode(a.vcpus[0]!);
  a.vcpus[0]!.setRegs({ rip: ENTRY, rsp: 0x8000n, rflags: 2n });
  a.start(noExits);
  const pause: number[] = [];
  const save: number[] = [];
  const load: number[] = [];
  let bytes = 0;
  try {
    for (let r = 0; r < RUNS; r++) {
      await new Promise((res) => setTimeout(res, 2));
      let t = performance.now();
      await a.pauseAtBoundary();
      pause.push(performance.now() - t);
      t = performance.now();
      const state = a.saveCpuState();
      save.push(performance.now() - t);
      a.resume();
      bytes = JSON.stringify(state).length;
      const b = await kvmAccelerator.createVm({ vcpus: 1, ramBase: 0n, ramBytes: RAM });
      try {
        t = performance.now();
        b.loadCpuState(state);
        load.push(performance.now() - t);
      } finally {
        await b.stop();
      }
    }
  } finally {
    await a.stop();
  }
  const ms = (xs: number[]): string => `${median(xs).toFixed(3)} ms`;
  console.log(
    `KVM CPU state, median of ${RUNS}: pause at a boundary ${ms(pause)}, save ${ms(save)}, ` +
      `load into a new VM ${ms(load)}; record ${bytes} bytes of JSON`,
  );
}

await main();
