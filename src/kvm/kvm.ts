// Kvm, VmFd, VcpuFd: the KVM API as moat uses it. Every ioctl failure is a SysError naming the
// ioctl and the errno. File descriptors are owned by these objects and closed by close().
import {
  SysError,
  MAP_SHARED,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  type Pointer,
  closeFd,
  ioctlBuf,
  ioctlInt,
  mmap,
  munmap,
  openFd,
  viewOf,
} from "../sys/libc.js";
import * as abi from "./abi.js";
import { takeKvmFd } from "../sys/passed-fds.js";
import { MoatError } from "../base/moat-error.js";

export class KvmUnavailableError extends MoatError {
  override readonly kind = "host";
}

export class Kvm {
  private constructor(readonly fd: number) {}

  /**
   * Opens /dev/kvm (or takes the KVM fd a jailed process was handed) and checks the API
   * version.
   */
  static open(path = "/dev/kvm"): Kvm {
    let fd: number;
    const passed = takeKvmFd();
    if (passed !== undefined) fd = passed;
    else {
      try {
        fd = openFd(path, O_RDWR);
      } catch (e) {
        throw new KvmUnavailableError(`cannot use KVM: ${(e as Error).message}`);
      }
    }
    const kvm = new Kvm(fd);
    const v = ioctlInt(fd, abi.KVM_GET_API_VERSION, 0, "KVM_GET_API_VERSION");
    if (v !== abi.KVM_API_VERSION) {
      kvm.close();
      throw new KvmUnavailableError(`KVM API version ${v}, moat needs ${abi.KVM_API_VERSION}`);
    }
    return kvm;
  }

  /** KVM_CHECK_EXTENSION: 0 when absent, otherwise a capability-specific positive value. */
  checkExtension(cap: number): number {
    return ioctlInt(this.fd, abi.KVM_CHECK_EXTENSION, cap, "KVM_CHECK_EXTENSION");
  }

  vcpuMmapSize(): number {
    return ioctlInt(this.fd, abi.KVM_GET_VCPU_MMAP_SIZE, 0, "KVM_GET_VCPU_MMAP_SIZE");
  }

  /** KVM_GET_SUPPORTED_CPUID: every leaf and subleaf this host's KVM can give a guest. */
  supportedCpuid(): CpuidEntry[] {
    const b = Buffer.alloc(abi.CPUID_HEADER_SIZE + abi.CPUID_MAX_ENTRIES * abi.CPUID_ENTRY_SIZE);
    b.writeUInt32LE(abi.CPUID_MAX_ENTRIES, 0);
    ioctlBuf(this.fd, abi.KVM_GET_SUPPORTED_CPUID, b, "KVM_GET_SUPPORTED_CPUID");
    const n = Math.min(b.readUInt32LE(0), abi.CPUID_MAX_ENTRIES);
    const out: CpuidEntry[] = [];
    for (let i = 0; i < n; i++) {
      const o = abi.CPUID_HEADER_SIZE + i * abi.CPUID_ENTRY_SIZE;
      out.push({
        function: b.readUInt32LE(o),
        index: b.readUInt32LE(o + 4),
        flags: b.readUInt32LE(o + 8),
        eax: b.readUInt32LE(o + 12),
        ebx: b.readUInt32LE(o + 16),
        ecx: b.readUInt32LE(o + 20),
        edx: b.readUInt32LE(o + 24),
      });
    }
    return out;
  }

  /**
   * KVM_GET_MSR_INDEX_LIST: the MSRs this host's KVM saves and restores for a guest (what a
   * snapshot holds). Bound: MSR_LIST_MAX (E2BIG beyond it).
   */
  msrIndexList(): number[] {
    const b = Buffer.alloc(4 + abi.MSR_LIST_MAX * 4);
    b.writeUInt32LE(abi.MSR_LIST_MAX, 0);
    ioctlBuf(this.fd, abi.KVM_GET_MSR_INDEX_LIST, b, "KVM_GET_MSR_INDEX_LIST");
    const n = Math.min(b.readUInt32LE(0), abi.MSR_LIST_MAX);
    return Array.from({ length: n }, (_, i) => b.readUInt32LE(4 + i * 4));
  }

  createVm(): VmFd {
    return new VmFd(this, ioctlInt(this.fd, abi.KVM_CREATE_VM, 0, "KVM_CREATE_VM"));
  }

  close(): void {
    closeFd(this.fd);
  }
}

/** One CPUID leaf/subleaf as KVM describes it (struct kvm_cpuid_entry2). */
export interface CpuidEntry {
  function: number;
  index: number;
  flags: number;
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}

export interface MemoryRegion {
  slot: number;
  guestPhysAddr: bigint;
  size: number;
  /** Host address of the backing mapping (from mmap). */
  hostAddr: Pointer;
  readonly?: boolean;
}

export class VmFd {
  constructor(
    readonly kvm: Kvm,
    readonly fd: number,
  ) {}

  /** KVM_SET_USER_MEMORY_REGION. Bounds: page-aligned address and size (KVM checks too). */
  setUserMemoryRegion(r: MemoryRegion): void {
    if (r.guestPhysAddr % 4096n !== 0n || r.size % 4096 !== 0) {
      throw new RangeError("guest memory regions must be page-aligned");
    }
    const b = Buffer.alloc(abi.MEMORY_REGION_SIZE);
    b.writeUInt32LE(r.slot, 0);
    b.writeUInt32LE(r.readonly ? 2 : 0, 4); // KVM_MEM_READONLY
    b.writeBigUInt64LE(r.guestPhysAddr, 8);
    b.writeBigUInt64LE(BigInt(r.size), 16);
    b.writeBigUInt64LE(r.hostAddr, 24);
    ioctlBuf(this.fd, abi.KVM_SET_USER_MEMORY_REGION, b, "KVM_SET_USER_MEMORY_REGION");
  }

  /** KVM_CREATE_IRQCHIP: the in-kernel PIC, IOAPIC and local APICs (before any vCPU). */
  createIrqchip(): void {
    ioctlInt(this.fd, abi.KVM_CREATE_IRQCHIP, 0, "KVM_CREATE_IRQCHIP");
  }

  /** KVM_CREATE_PIT2: the in-kernel i8254 timer (after the irqchip). */
  createPit(): void {
    ioctlBuf(this.fd, abi.KVM_CREATE_PIT2, Buffer.alloc(abi.PIT_CONFIG_SIZE), "KVM_CREATE_PIT2");
  }

  /** KVM_IRQ_LINE: drives interrupt line `irq` (GSI) of the in-kernel irqchip. */
  irqLine(irq: number, level: boolean): void {
    const b = Buffer.alloc(8);
    b.writeUInt32LE(irq >>> 0, 0);
    b.writeUInt32LE(level ? 1 : 0, 4);
    ioctlBuf(this.fd, abi.KVM_IRQ_LINE, b, "KVM_IRQ_LINE");
  }

  /**
   * KVM_IOEVENTFD: a guest write of `len` bytes (1, 2, 4 or 8) to `addr` (a port when `pio`)
   * signals eventfd `fd` inside KVM, with no exit to userspace; with `datamatch`, only writes of
   * that value do. `deassign` removes the same registration.
   */
  ioeventfd(r: {
    addr: bigint;
    len: number;
    fd: number;
    pio?: boolean;
    datamatch?: bigint;
    deassign?: boolean;
  }): void {
    if (![1, 2, 4, 8].includes(r.len))
      throw new RangeError("ioeventfd length must be 1, 2, 4 or 8");
    const b = Buffer.alloc(abi.IOEVENTFD_SIZE);
    b.writeBigUInt64LE(r.datamatch ?? 0n, 0);
    b.writeBigUInt64LE(r.addr, 8);
    b.writeUInt32LE(r.len, 16);
    b.writeInt32LE(r.fd, 20);
    const flags =
      (r.datamatch !== undefined ? abi.IOEVENTFD_FLAG_DATAMATCH : 0) |
      (r.pio ? abi.IOEVENTFD_FLAG_PIO : 0) |
      (r.deassign ? abi.IOEVENTFD_FLAG_DEASSIGN : 0);
    b.writeUInt32LE(flags, 24);
    ioctlBuf(this.fd, abi.KVM_IOEVENTFD, b, "KVM_IOEVENTFD");
  }

  /**
   * KVM_IRQFD: signalling eventfd `fd` raises interrupt `gsi` in the in-kernel irqchip. With
   * `resampleFd` the line is level: it stays asserted until the guest's EOI, when KVM lowers
   * it and signals `resampleFd` (the VMM re-asserts it if the device still wants service).
   */
  irqfd(fd: number, gsi: number, opts: { deassign?: boolean; resampleFd?: number } = {}): void {
    const b = Buffer.alloc(abi.IRQFD_SIZE);
    b.writeUInt32LE(fd, 0);
    b.writeUInt32LE(gsi, 4);
    const flags =
      (opts.deassign ? abi.IRQFD_FLAG_DEASSIGN : 0) |
      (opts.resampleFd !== undefined ? abi.IRQFD_FLAG_RESAMPLE : 0);
    b.writeUInt32LE(flags, 8);
    b.writeUInt32LE(opts.resampleFd ?? 0, 12);
    ioctlBuf(this.fd, abi.KVM_IRQFD, b, "KVM_IRQFD");
  }

  /** KVM_CHECK_EXTENSION on the VM (some answers, e.g. KVM_CAP_XSAVE2's size, are per VM). */
  checkExtension(cap: number): number {
    return ioctlInt(this.fd, abi.KVM_CHECK_EXTENSION, cap, "KVM_CHECK_EXTENSION");
  }

  /** A VM ioctl on a struct the caller lays out (vm-state.ts: irqchip, PIT, clock). */
  ioctl(req: number, buf: Buffer, name: string): number {
    return ioctlBuf(this.fd, req, buf, name);
  }

  createVcpu(id: number): VcpuFd {
    const fd = ioctlInt(this.fd, abi.KVM_CREATE_VCPU, id, "KVM_CREATE_VCPU");
    return new VcpuFd(fd, this.kvm.vcpuMmapSize());
  }

  close(): void {
    closeFd(this.fd);
  }
}

/** A decoded VM exit. Data for IO/MMIO writes is copied out of kvm_run. */
export type VcpuExit =
  | { kind: "io"; port: number; size: number; count: number; out: boolean; data: Uint8Array }
  | { kind: "mmio"; addr: bigint; len: number; write: boolean; data: Uint8Array }
  | { kind: "hlt" }
  | { kind: "shutdown" }
  | { kind: "intr" }
  | { kind: "fail_entry"; reason: bigint }
  | { kind: "internal_error"; suberror: number }
  | { kind: "other"; reason: number; name: string };

export interface Segment {
  base: bigint;
  limit: number;
  selector: number;
  type: number;
  present: number;
  dpl: number;
  db: number;
  s: number;
  l: number;
  g: number;
}

export class VcpuFd {
  private readonly runAddr: Pointer;
  private readonly run: DataView;
  private readonly runBytes: Uint8Array;
  private lastIoOffset = -1;

  constructor(
    readonly fd: number,
    readonly runSize: number,
    private readonly ownsFd = true,
  ) {
    this.runAddr = mmap(runSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    const buf = viewOf(this.runAddr, runSize);
    this.run = new DataView(buf);
    this.runBytes = new Uint8Array(buf);
  }

  /** A VcpuFd over an fd created elsewhere in this process (a vCPU worker thread's view). */
  static adopt(fd: number, runSize: number): VcpuFd {
    return new VcpuFd(fd, runSize, false);
  }

  getRegs(): Record<abi.RegName, bigint> {
    const b = Buffer.alloc(abi.REGS_SIZE);
    ioctlBuf(this.fd, abi.KVM_GET_REGS, b, "KVM_GET_REGS");
    const out = {} as Record<abi.RegName, bigint>;
    abi.REG_NAMES.forEach((n, i) => (out[n] = b.readBigUInt64LE(i * 8)));
    return out;
  }

  setRegs(regs: Partial<Record<abi.RegName, bigint>>): void {
    const b = Buffer.alloc(abi.REGS_SIZE);
    ioctlBuf(this.fd, abi.KVM_GET_REGS, b, "KVM_GET_REGS");
    abi.REG_NAMES.forEach((n, i) => {
      const v = regs[n];
      if (v !== undefined) b.writeBigUInt64LE(BigInt.asUintN(64, v), i * 8);
    });
    ioctlBuf(this.fd, abi.KVM_SET_REGS, b, "KVM_SET_REGS");
  }

  /** KVM_SET_CPUID2: what the guest's CPUID instruction returns. Bound: CPUID_MAX_ENTRIES. */
  setCpuid(entries: CpuidEntry[]): void {
    if (entries.length > abi.CPUID_MAX_ENTRIES) throw new RangeError("too many CPUID entries");
    const b = Buffer.alloc(abi.CPUID_HEADER_SIZE + entries.length * abi.CPUID_ENTRY_SIZE);
    b.writeUInt32LE(entries.length, 0);
    entries.forEach((e, i) => {
      const o = abi.CPUID_HEADER_SIZE + i * abi.CPUID_ENTRY_SIZE;
      b.writeUInt32LE(e.function >>> 0, o);
      b.writeUInt32LE(e.index >>> 0, o + 4);
      b.writeUInt32LE(e.flags >>> 0, o + 8);
      b.writeUInt32LE(e.eax >>> 0, o + 12);
      b.writeUInt32LE(e.ebx >>> 0, o + 16);
      b.writeUInt32LE(e.ecx >>> 0, o + 20);
      b.writeUInt32LE(e.edx >>> 0, o + 24);
    });
    ioctlBuf(this.fd, abi.KVM_SET_CPUID2, b, "KVM_SET_CPUID2");
  }

  /** Reads kvm_sregs, lets `edit` change the raw struct, writes it back. */
  editSregs(edit: (sregs: Buffer) => void): void {
    const b = Buffer.alloc(abi.SREGS_SIZE);
    ioctlBuf(this.fd, abi.KVM_GET_SREGS, b, "KVM_GET_SREGS");
    edit(b);
    ioctlBuf(this.fd, abi.KVM_SET_SREGS, b, "KVM_SET_SREGS");
  }

  /** Writes one segment register into a raw kvm_sregs. */
  static putSegment(sregs: Buffer, name: abi.SegmentName, s: Segment): void {
    const o = abi.SEGMENT_NAMES.indexOf(name) * abi.SEGMENT_SIZE;
    sregs.writeBigUInt64LE(s.base, o);
    sregs.writeUInt32LE(s.limit, o + 8);
    sregs.writeUInt16LE(s.selector, o + 12);
    sregs.writeUInt8(s.type, o + 14);
    sregs.writeUInt8(s.present, o + 15);
    sregs.writeUInt8(s.dpl, o + 16);
    sregs.writeUInt8(s.db, o + 17);
    sregs.writeUInt8(s.s, o + 18);
    sregs.writeUInt8(s.l, o + 19);
    sregs.writeUInt8(s.g, o + 20);
    sregs.writeUInt8(0, o + 21); // avl
    sregs.writeUInt8(0, o + 22); // unusable
  }

  /**
   * KVM_SET_MP_STATE runnable: with the in-kernel irqchip every vCPU but the first waits for
   * INIT/SIPI from the guest; this starts one at the registers already set instead.
   */
  makeRunnable(): void {
    this.setMpState(abi.MP_STATE_RUNNABLE);
  }

  /** KVM_SET_MSRS. Bound: at most 64 entries; fails unless KVM accepts every one. */
  setMsrs(msrs: { index: number; value: bigint }[]): void {
    if (msrs.length > 64) throw new RangeError("at most 64 MSRs at a time");
    const b = Buffer.alloc(8 + msrs.length * abi.MSR_ENTRY_SIZE);
    b.writeUInt32LE(msrs.length, 0);
    msrs.forEach((m, i) => {
      b.writeUInt32LE(m.index >>> 0, 8 + i * abi.MSR_ENTRY_SIZE);
      b.writeBigUInt64LE(m.value, 16 + i * abi.MSR_ENTRY_SIZE);
    });
    const n = ioctlBuf(this.fd, abi.KVM_SET_MSRS, b, "KVM_SET_MSRS");
    if (n !== msrs.length) {
      const bad = msrs[n]!;
      throw new SysError(`KVM_SET_MSRS (MSR 0x${bad.index.toString(16)} refused)`, 22);
    }
  }

  /** KVM_GET_MSRS for the given indices. Bound: at most 64. */
  getMsrs(indices: number[]): bigint[] {
    const values = this.readMsrs(indices);
    if (values.length !== indices.length) throw new SysError("KVM_GET_MSRS", 22);
    return values;
  }

  /**
   * KVM_GET_MSRS for the given indices, as far as KVM reads them: the values of the first n it
   * accepted (n < indices.length: indices[n] is one it refused). Bound: at most 64.
   */
  readMsrs(indices: number[]): bigint[] {
    if (indices.length > 64) throw new RangeError("at most 64 MSRs at a time");
    const b = Buffer.alloc(8 + indices.length * abi.MSR_ENTRY_SIZE);
    b.writeUInt32LE(indices.length, 0);
    indices.forEach((index, i) => b.writeUInt32LE(index >>> 0, 8 + i * abi.MSR_ENTRY_SIZE));
    const n = Math.min(ioctlBuf(this.fd, abi.KVM_GET_MSRS, b, "KVM_GET_MSRS"), indices.length);
    return Array.from({ length: n }, (_, i) => b.readBigUInt64LE(16 + i * abi.MSR_ENTRY_SIZE));
  }

  /** A vCPU ioctl on a struct the caller lays out (vcpu-state.ts). */
  ioctl(req: number, buf: Buffer, name: string): number {
    return ioctlBuf(this.fd, req, buf, name);
  }

  /** KVM_GET_MP_STATE: runnable, halted, waiting for INIT/SIPI... (abi.MP_STATE_*). */
  mpState(): number {
    const b = Buffer.alloc(4);
    ioctlBuf(this.fd, abi.KVM_GET_MP_STATE, b, "KVM_GET_MP_STATE");
    return b.readUInt32LE(0);
  }

  setMpState(state: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(state >>> 0, 0);
    ioctlBuf(this.fd, abi.KVM_SET_MP_STATE, b, "KVM_SET_MP_STATE");
  }

  /** True while the vCPU waits for the guest's INIT/SIPI (KVM_GET_MP_STATE). */
  waitingForSipi(): boolean {
    const st = this.mpState();
    return (
      st === abi.MP_STATE_UNINITIALIZED ||
      st === abi.MP_STATE_INIT_RECEIVED ||
      st === abi.MP_STATE_SIPI_RECEIVED
    );
  }

  /** KVM_RUN until the next exit; decodes it. Bound: IO data copied is size x count bytes. */
  runOnce(): VcpuExit {
    try {
      ioctlInt(this.fd, abi.KVM_RUN, 0, "KVM_RUN");
    } catch (e) {
      // A signal (a kick) interrupted the run: the vCPU is back in the VMM's hands.
      if (e instanceof SysError && e.code === "EINTR") return { kind: "intr" };
      // A vCPU waiting for INIT/SIPI returns EAGAIN once they arrive: run it again.
      if (e instanceof SysError && (e.code === "EAGAIN" || e.code === "EWOULDBLOCK")) {
        return { kind: "intr" };
      }
      throw e;
    }
    const r = this.run;
    const reason = r.getUint32(abi.RUN_EXIT_REASON, true);
    switch (reason) {
      case abi.ExitReason.IO: {
        const size = r.getUint8(abi.RUN_IO_SIZE);
        const count = r.getUint32(abi.RUN_IO_COUNT, true);
        const off = Number(r.getBigUint64(abi.RUN_IO_DATA_OFFSET, true));
        const len = size * count;
        if (off + len > this.runSize)
          return { kind: "other", reason, name: "IO (bad data offset)" };
        this.lastIoOffset = off;
        return {
          kind: "io",
          port: r.getUint16(abi.RUN_IO_PORT, true),
          size,
          count,
          out: r.getUint8(abi.RUN_IO_DIRECTION) === 1,
          data: this.runBytes.slice(off, off + len),
        };
      }
      case abi.ExitReason.MMIO: {
        const len = Math.min(8, r.getUint32(abi.RUN_MMIO_LEN, true));
        return {
          kind: "mmio",
          addr: r.getBigUint64(abi.RUN_MMIO_PHYS_ADDR, true),
          len,
          write: r.getUint8(abi.RUN_MMIO_IS_WRITE) !== 0,
          data: this.runBytes.slice(abi.RUN_MMIO_DATA, abi.RUN_MMIO_DATA + len),
        };
      }
      case abi.ExitReason.HLT:
        return { kind: "hlt" };
      case abi.ExitReason.SHUTDOWN:
        return { kind: "shutdown" };
      case abi.ExitReason.INTR:
        return { kind: "intr" };
      case abi.ExitReason.FAIL_ENTRY:
        return { kind: "fail_entry", reason: r.getBigUint64(abi.RUN_FAIL_ENTRY_REASON, true) };
      case abi.ExitReason.INTERNAL_ERROR:
        return { kind: "internal_error", suberror: r.getUint32(abi.RUN_INTERNAL_SUBERROR, true) };
      default:
        return { kind: "other", reason, name: abi.exitReasonName(reason) };
    }
  }

  /**
   * kvm_run.immediate_exit: while set, KVM_RUN returns at once with EINTR. Set it, then signal
   * the vCPU's thread, to stop a vCPU wherever it is.
   */
  setImmediateExit(on: boolean): void {
    this.runBytes[abi.RUN_IMMEDIATE_EXIT] = on ? 1 : 0;
  }

  /** For an IO "in" exit: the bytes the guest reads (size x count), placed before it resumes. */
  completeIoIn(data: Uint8Array): void {
    if (this.lastIoOffset < 0 || this.lastIoOffset + data.length > this.runSize) {
      throw new RangeError("no IO exit to complete, or too much data for it");
    }
    this.runBytes.set(data, this.lastIoOffset);
  }

  /** For an MMIO read exit: the value the guest will see when the vCPU runs again. */
  completeMmioRead(data: Uint8Array): void {
    this.runBytes.set(data.subarray(0, 8), abi.RUN_MMIO_DATA);
  }

  close(): void {
    munmap(this.runAddr, this.runSize);
    if (this.ownsFd) closeFd(this.fd);
  }
}
