// Where the kernel, initrd, device tree and firmware go in guest RAM. Pure arithmetic with
// every placement checked, so a kernel or initrd too big for RAM is refused with a message
// instead of overwriting something.
import { MoatError } from "../../base/moat-error.js";

export class BootLayoutError extends MoatError {
  override readonly kind = "invalid";
}

export interface BootLayoutInput {
  ramBase: bigint;
  ramBytes: number;
  kernelOffset: bigint; // from the Image header
  kernelSize: bigint; // bytes the kernel occupies (header image_size or file size)
  initrdSize: number;
  dtbSize: number;
  firmwareSize: number; // 0 with moat's SBI
}

export interface BootLayout {
  kernel: bigint;
  initrd?: { start: bigint; end: bigint };
  dtb: bigint;
  firmware?: bigint;
  /** fw_dynamic info block for OpenSBI (48 bytes), below the device tree. */
  fwInfo?: bigint;
}

const MiB = 0x10_0000n;
const alignDown = (v: bigint, a: bigint): bigint => v - (v % a);

/** Computes the layout: kernel at ramBase + text_offset, DTB at the top, initrd below it. */
export function computeBootLayout(i: BootLayoutInput): BootLayout {
  const ramEnd = i.ramBase + BigInt(i.ramBytes);
  const kernel = i.ramBase + i.kernelOffset;
  const kernelEnd = kernel + i.kernelSize;
  if (i.firmwareSize > 0 && i.ramBase + BigInt(i.firmwareSize) > kernel) {
    throw new BootLayoutError(
      `the firmware (${i.firmwareSize} bytes) does not fit below the kernel at 0x${kernel.toString(16)}`,
    );
  }
  const dtb = alignDown(ramEnd - BigInt(i.dtbSize), 2n * MiB);
  let low = dtb;
  let fwInfo: bigint | undefined;
  if (i.firmwareSize > 0) {
    fwInfo = dtb - 0x1000n;
    low = fwInfo;
  }
  let initrd: BootLayout["initrd"];
  if (i.initrdSize > 0) {
    const start = alignDown(low - BigInt(i.initrdSize), 0x1000n);
    initrd = { start, end: start + BigInt(i.initrdSize) };
    low = start;
  }
  // The kernel needs room after its image for early allocations; keep 16 MiB clear.
  if (low < kernelEnd + 16n * MiB) {
    const needMiB = Number((kernelEnd + 16n * MiB - low + MiB - 1n) / MiB);
    throw new BootLayoutError(
      `${i.ramBytes >> 20} MiB of RAM is too small for this kernel and initrd: ` +
        `about ${(i.ramBytes >> 20) + needMiB} MiB needed`,
    );
  }
  return {
    kernel,
    dtb,
    ...(initrd ? { initrd } : {}),
    ...(i.firmwareSize > 0 ? { firmware: i.ramBase, fwInfo } : {}),
  };
}

/** OpenSBI's fw_dynamic_info: magic, version 2, next_addr, next_mode (S), options, boot_hart. */
export function fwDynamicInfo(next: bigint): Uint8Array {
  const out = new Uint8Array(48);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, 0x4942534fn, true); // "OSBI"
  dv.setBigUint64(8, 2n, true);
  dv.setBigUint64(16, next, true);
  dv.setBigUint64(24, 1n, true); // next mode: supervisor
  dv.setBigUint64(32, 0n, true);
  dv.setBigUint64(40, 0n, true); // boot hart 0
  return out;
}
