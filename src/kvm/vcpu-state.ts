// One KVM x86-64 vCPU's state as a snapshot record (issue 22): general and system registers,
// the FPU/SSE/AVX state (XSAVE, or the legacy FPU area where KVM has no XSAVE) with the XCRs,
// every MSR this host's KVM lists as saveable, the local APIC, pending events (exceptions,
// interrupts, NMI, SMI), debug registers and the multiprocessing state (running, halted...).
// Saved with the vCPU out of KVM_RUN at an instruction boundary (kvm-accel.ts pauseAtBoundary)
// and loaded into a vCPU of a VM made from the same configuration (same CPUID) before it runs.
//
// The record is a DeviceState (JSON; KVM's structs as base64, as the ioctls take them). It is
// hostile input: every length is checked against this host's KVM, MSRs against the list KVM
// gave, and KVM itself checks the contents of each struct it is handed.
import {
  DeviceStateError,
  StateReader,
  bytes,
  u64,
  type DeviceState,
} from "../devices/device-state.js";
import { MoatError } from "../base/moat-error.js";
import { SysError } from "../sys/libc.js";
import * as abi from "./abi.js";
import type { Kvm, VcpuFd, VmFd } from "./kvm.js";

export const VCPU_STATE_VERSION = 1;

/** Part of the state this host's KVM cannot save or restore: the part and the ioctl's error. */
export class KvmStateError extends MoatError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, "host", options);
  }
}

/** What this host's KVM can save for a vCPU, and so what a record loaded here may hold. */
export interface VcpuStateHost {
  /** KVM_GET_MSR_INDEX_LIST: the only MSRs a record may hold. */
  readonly msrs: readonly number[];
  /** Size of the XSAVE area (KVM_CAP_XSAVE2, or 4096 with KVM_CAP_XSAVE); 0: legacy FPU only. */
  readonly xsaveBytes: number;
  readonly xcrs: boolean;
  readonly debugregs: boolean;
  /** The VM has the in-kernel irqchip, so each vCPU has a local APIC to save. */
  readonly lapic: boolean;
}

/** Asks KVM what it can save here (`irqchip`: whether the VM has the in-kernel irqchip). */
export function vcpuStateHost(kvm: Kvm, vm: VmFd, irqchip: boolean): VcpuStateHost {
  const xsave2 = vm.checkExtension(abi.KVM_CAP_XSAVE2);
  const xsave = kvm.checkExtension(abi.KVM_CAP_XSAVE) > 0;
  return {
    msrs: kvm.msrIndexList(),
    xsaveBytes:
      xsave2 >= abi.XSAVE_SIZE ? Math.min(xsave2, abi.XSAVE_MAX_SIZE) : xsave ? abi.XSAVE_SIZE : 0,
    xcrs: kvm.checkExtension(abi.KVM_CAP_XCRS) > 0,
    debugregs: kvm.checkExtension(abi.KVM_CAP_DEBUGREGS) > 0,
    lapic: irqchip,
  };
}

/** Runs one ioctl of a part; a failure says which part this host cannot save or load. */
export function part<T>(where: string, what: string, verb: "save" | "load", fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof SysError)
      throw new KvmStateError(
        `${where}: this host's KVM cannot ${verb} the ${what} (${e.message})`,
        {
          cause: e,
        },
      );
    throw e;
  }
}

function get(
  vcpu: VcpuFd,
  where: string,
  what: string,
  req: number,
  size: number,
  name: string,
): Buffer {
  const b = Buffer.alloc(size);
  part(where, what, "save", () => vcpu.ioctl(req, b, name));
  return b;
}

/** The vCPU's state; the vCPU must be out of KVM_RUN (paused at an instruction boundary). */
export function saveVcpuState(vcpu: VcpuFd, host: VcpuStateHost, where = "vcpu"): DeviceState {
  const s: DeviceState = { version: VCPU_STATE_VERSION };
  s.regs = bytes(get(vcpu, where, "registers", abi.KVM_GET_REGS, abi.REGS_SIZE, "KVM_GET_REGS"));
  s.sregs = bytes(
    get(vcpu, where, "system registers", abi.KVM_GET_SREGS, abi.SREGS_SIZE, "KVM_GET_SREGS"),
  );
  if (host.xsaveBytes > abi.XSAVE_SIZE)
    s.xsave = bytes(
      get(vcpu, where, "XSAVE state", abi.KVM_GET_XSAVE2, host.xsaveBytes, "KVM_GET_XSAVE2"),
    );
  else if (host.xsaveBytes > 0)
    s.xsave = bytes(
      get(vcpu, where, "XSAVE state", abi.KVM_GET_XSAVE, abi.XSAVE_SIZE, "KVM_GET_XSAVE"),
    );
  else s.fpu = bytes(get(vcpu, where, "FPU state", abi.KVM_GET_FPU, abi.FPU_SIZE, "KVM_GET_FPU"));
  if (host.xcrs)
    s.xcrs = bytes(get(vcpu, where, "XCRs", abi.KVM_GET_XCRS, abi.XCRS_SIZE, "KVM_GET_XCRS"));
  if (host.lapic)
    s.lapic = bytes(
      get(vcpu, where, "local APIC", abi.KVM_GET_LAPIC, abi.LAPIC_SIZE, "KVM_GET_LAPIC"),
    );
  s.events = bytes(
    get(
      vcpu,
      where,
      "pending events",
      abi.KVM_GET_VCPU_EVENTS,
      abi.VCPU_EVENTS_SIZE,
      "KVM_GET_VCPU_EVENTS",
    ),
  );
  if (host.debugregs)
    s.debugregs = bytes(
      get(
        vcpu,
        where,
        "debug registers",
        abi.KVM_GET_DEBUGREGS,
        abi.DEBUGREGS_SIZE,
        "KVM_GET_DEBUGREGS",
      ),
    );
  s.mpState = part(where, "MP state", "save", () => vcpu.mpState());
  const { saved, refused } = part(where, "MSRs", "save", () => readListedMsrs(vcpu, host.msrs));
  s.msrs = saved.map(([index, value]) => ({ index, value: u64(value) }));
  // Listed but refused by KVM_GET_MSRS here: named in the record rather than guessed at.
  s.unsavedMsrs = refused;
  return s;
}

/** Every listed MSR KVM reads, 64 at a time; the ones it refuses, by index. */
function readListedMsrs(
  vcpu: VcpuFd,
  list: readonly number[],
): { saved: [number, bigint][]; refused: number[] } {
  const saved: [number, bigint][] = [];
  const refused: number[] = [];
  let i = 0;
  while (i < list.length) {
    const chunk = list.slice(i, i + 64);
    const values = vcpu.readMsrs(chunk);
    values.forEach((v, j) => saved.push([chunk[j]!, v]));
    i += values.length;
    if (values.length < chunk.length) refused.push(list[i++]!);
  }
  return { saved, refused };
}

/** A record's fixed-size struct: exactly `size` bytes, or a refusal naming the field. */
export function exact(r: StateReader, name: string, size: number): Buffer {
  const b = r.bytes(name, size);
  if (b.length !== size)
    throw new DeviceStateError(`${r.where}: ${name} is ${b.length} bytes, not ${size}`);
  return Buffer.from(b);
}

interface ParsedVcpuState {
  regs: Buffer;
  sregs: Buffer;
  xsave?: Buffer;
  fpu?: Buffer;
  xcrs?: Buffer;
  lapic?: Buffer;
  events: Buffer;
  debugregs?: Buffer;
  mpState: number;
  msrs: { index: number; value: bigint }[];
}

/**
 * Checks a record against this host before anything is loaded. Bound: the version; each
 * struct its exact size (XSAVE: 4096 up to this host's size); at most as many MSRs as KVM
 * listed, each one listed and none twice; the MP state a value KVM defines.
 */
export function parseVcpuState(
  state: unknown,
  host: VcpuStateHost,
  where = "vcpu",
): ParsedVcpuState {
  const r = new StateReader(state, where);
  const version = r.int("version", 0, 0xffff);
  if (version !== VCPU_STATE_VERSION)
    throw new DeviceStateError(
      `${where}: version is ${version}, this moat reads ${VCPU_STATE_VERSION}`,
    );
  const p: ParsedVcpuState = {
    regs: exact(r, "regs", abi.REGS_SIZE),
    sregs: exact(r, "sregs", abi.SREGS_SIZE),
    events: exact(r, "events", abi.VCPU_EVENTS_SIZE),
    mpState: r.int("mpState", 0, abi.MP_STATE_MAX),
    msrs: [],
  };
  if (host.xsaveBytes > 0) {
    const x = r.bytes("xsave", host.xsaveBytes);
    if (x.length < abi.XSAVE_SIZE)
      throw new DeviceStateError(
        `${where}: xsave is ${x.length} bytes, outside ${abi.XSAVE_SIZE}..${host.xsaveBytes}`,
      );
    p.xsave = Buffer.alloc(host.xsaveBytes);
    p.xsave.set(x);
  } else p.fpu = exact(r, "fpu", abi.FPU_SIZE);
  if (host.xcrs && r.has("xcrs")) {
    p.xcrs = exact(r, "xcrs", abi.XCRS_SIZE);
    const n = p.xcrs.readUInt32LE(0);
    if (n > abi.XCRS_MAX)
      throw new DeviceStateError(`${where}: xcrs holds ${n} XCRs, above ${abi.XCRS_MAX}`);
  }
  if (host.lapic) p.lapic = exact(r, "lapic", abi.LAPIC_SIZE);
  if (host.debugregs && r.has("debugregs")) p.debugregs = exact(r, "debugregs", abi.DEBUGREGS_SIZE);
  const listed = new Set(host.msrs);
  const list = r.list("msrs", host.msrs.length);
  const seen = new Set<number>();
  for (let i = 0; i < list.length; i++) {
    const m = list.obj(i);
    const index = m.int("index", 0, 0xffff_ffff);
    if (!listed.has(index))
      throw new DeviceStateError(
        `${m.where}: MSR 0x${index.toString(16)} is not one this host's KVM saves`,
      );
    if (seen.has(index))
      throw new DeviceStateError(`${m.where}: MSR 0x${index.toString(16)} appears twice`);
    seen.add(index);
    p.msrs.push({ index, value: m.u64("value") });
  }
  return p;
}

function set(
  vcpu: VcpuFd,
  where: string,
  what: string,
  req: number,
  b: Buffer,
  name: string,
): void {
  part(where, what, "load", () => vcpu.ioctl(req, b, name));
}

/**
 * Loads a record into a vCPU that has not run since its VM was made (same configuration and
 * CPUID as the saved one). Everything is checked first (parseVcpuState); then KVM takes each
 * part, in an order where each one's checks see what they depend on: system registers (CR4,
 * EFER) before the XCRs and XSAVE area, the local APIC before the MSRs (the TSC deadline is
 * one), pending events and the MP state last.
 */
export function loadVcpuState(
  vcpu: VcpuFd,
  state: unknown,
  host: VcpuStateHost,
  where = "vcpu",
): void {
  const p = parseVcpuState(state, host, where);
  set(vcpu, where, "system registers", abi.KVM_SET_SREGS, p.sregs, "KVM_SET_SREGS");
  if (p.xcrs) set(vcpu, where, "XCRs", abi.KVM_SET_XCRS, p.xcrs, "KVM_SET_XCRS");
  if (p.xsave) set(vcpu, where, "XSAVE state", abi.KVM_SET_XSAVE, p.xsave, "KVM_SET_XSAVE");
  if (p.fpu) set(vcpu, where, "FPU state", abi.KVM_SET_FPU, p.fpu, "KVM_SET_FPU");
  set(vcpu, where, "registers", abi.KVM_SET_REGS, p.regs, "KVM_SET_REGS");
  if (p.lapic) set(vcpu, where, "local APIC", abi.KVM_SET_LAPIC, p.lapic, "KVM_SET_LAPIC");
  for (let i = 0; i < p.msrs.length; i += 64)
    part(where, "MSRs", "load", () => vcpu.setMsrs(p.msrs.slice(i, i + 64)));
  if (p.debugregs)
    set(vcpu, where, "debug registers", abi.KVM_SET_DEBUGREGS, p.debugregs, "KVM_SET_DEBUGREGS");
  set(vcpu, where, "pending events", abi.KVM_SET_VCPU_EVENTS, p.events, "KVM_SET_VCPU_EVENTS");
  part(where, "MP state", "load", () => vcpu.setMpState(p.mpState));
}
