// A KVM x86-64 VM's own state as a snapshot record (issue 22): the in-kernel interrupt
// controllers (both i8259 PICs and the IO-APIC), the in-kernel i8254 PIT and the KVM clock
// (kvmclock's time base). Saved with every vCPU paused; loaded into a VM made from the same
// configuration (irqchip and PIT created alike) before any vCPU runs. Hostile input like the
// vCPU record (vcpu-state.ts): sizes exact, flags bounded, contents checked again by KVM.
import {
  DeviceStateError,
  StateReader,
  bytes,
  u64,
  type DeviceState,
} from "../devices/device-state.js";
import * as abi from "./abi.js";
import type { VmFd } from "./kvm.js";
import { exact, part } from "./vcpu-state.js";

export const VM_STATE_VERSION = 1;

/** What the VM has in the kernel (its configuration: moat creates both or neither). */
export interface VmStateShape {
  readonly irqchip: boolean;
  readonly pit: boolean;
}

const CHIPS = Object.entries(abi.IRQCHIP_IDS) as [keyof typeof abi.IRQCHIP_IDS, number][];

function io(what: string, verb: "save" | "load", fn: () => void): void {
  part("VM", what, verb, fn);
}

/** The VM's state; every vCPU must be paused. */
export function saveVmState(vm: VmFd, shape: VmStateShape): DeviceState {
  const s: DeviceState = { version: VM_STATE_VERSION };
  if (shape.irqchip) {
    const chips: DeviceState = {};
    for (const [name, id] of CHIPS) {
      const b = Buffer.alloc(abi.IRQCHIP_SIZE);
      b.writeUInt32LE(id, 0);
      io(`irqchip ${name}`, "save", () => vm.ioctl(abi.KVM_GET_IRQCHIP, b, "KVM_GET_IRQCHIP"));
      chips[name] = bytes(b.subarray(abi.IRQCHIP_DATA));
    }
    s.irqchip = chips;
  }
  if (shape.pit) {
    const b = Buffer.alloc(abi.PIT_STATE2_SIZE);
    io("PIT", "save", () => vm.ioctl(abi.KVM_GET_PIT2, b, "KVM_GET_PIT2"));
    s.pit = bytes(b);
  }
  const c = Buffer.alloc(abi.CLOCK_DATA_SIZE);
  io("KVM clock", "save", () => vm.ioctl(abi.KVM_GET_CLOCK, c, "KVM_GET_CLOCK"));
  s.clock = u64(c.readBigUInt64LE(0));
  return s;
}

/**
 * Checks a record against the VM's shape, then loads it. Bound: the version; the irqchip and
 * PIT present exactly when the VM has them, each struct its exact size. The clock is set to the
 * saved value, so the guest's kvmclock goes on from where it was paused (no jump).
 */
export function loadVmState(vm: VmFd, state: unknown, shape: VmStateShape): void {
  const r = new StateReader(state, "VM");
  const version = r.int("version", 0, 0xffff);
  if (version !== VM_STATE_VERSION)
    throw new DeviceStateError(`VM: version is ${version}, this moat reads ${VM_STATE_VERSION}`);
  for (const [field, has] of [
    ["irqchip", shape.irqchip],
    ["pit", shape.pit],
  ] as const)
    if (r.has(field) !== has)
      throw new DeviceStateError(
        `VM: ${field} is ${has ? "missing" : "present"}, the VM has ${has ? "one" : "none"}`,
      );
  const chips: Buffer[] = [];
  if (shape.irqchip) {
    const c = r.obj("irqchip");
    for (const [name, id] of CHIPS) {
      const b = Buffer.alloc(abi.IRQCHIP_SIZE);
      b.writeUInt32LE(id, 0);
      b.set(exact(c, name, abi.IRQCHIP_DATA_SIZE), abi.IRQCHIP_DATA);
      chips.push(b);
    }
  }
  const pit = shape.pit ? exact(r, "pit", abi.PIT_STATE2_SIZE) : undefined;
  const clock = Buffer.alloc(abi.CLOCK_DATA_SIZE);
  clock.writeBigUInt64LE(r.u64("clock"), 0); // flags 0: the value is the guest's clock now
  chips.forEach((b, i) =>
    io(`irqchip ${CHIPS[i]![0]}`, "load", () =>
      vm.ioctl(abi.KVM_SET_IRQCHIP, b, "KVM_SET_IRQCHIP"),
    ),
  );
  if (pit) io("PIT", "load", () => vm.ioctl(abi.KVM_SET_PIT2, pit, "KVM_SET_PIT2"));
  io("KVM clock", "load", () => vm.ioctl(abi.KVM_SET_CLOCK, clock, "KVM_SET_CLOCK"));
}
