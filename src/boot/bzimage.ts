// bzImage kernels (Linux's x86 boot protocol, Documentation/arch/x86/boot.rst): the setup
// header, and the protected-mode kernel that moat enters at its 64-bit entry point. Kernel
// files are untrusted input: every field used is checked against the file and the protocol.
import { MoatError } from "../base/moat-error.js";

export class BzImageError extends MoatError {
  override readonly kind = "invalid";
}

export interface BzImage {
  /** The boot protocol version, e.g. 0x020f. */
  version: number;
  /** The setup header (boot_params offset 0x1f1 onwards), to be copied into the zero page. */
  setupHeader: Uint8Array;
  /** The protected-mode kernel: loaded at loadAddr, entered at loadAddr + 0x200 in long mode. */
  kernel: Uint8Array;
  relocatable: boolean;
  prefAddress: bigint;
  kernelAlignment: number;
  /** Memory the kernel needs from its load address while it decompresses and starts. */
  initSize: number;
  /** Highest address the initrd may end at, plus one. */
  initrdAddrMax: bigint;
  /** Longest command line, NUL excluded. */
  cmdlineSize: number;
}

export const SETUP_HEADER_OFFSET = 0x1f1;
/** Boot protocol 2.12 added xloadflags, which says whether the 64-bit entry exists. */
const MIN_VERSION = 0x020c;
const XLF_KERNEL_64 = 1;
const LOADED_HIGH = 1;
/** Bound: the setup header ends before boot_params' e820 fields (0x290 in boot_params). */
const SETUP_HEADER_MAX_END = 0x290;

/** True when the file starts like a bzImage (boot sector flag and "HdrS"). */
export function looksLikeBzImage(file: Uint8Array): boolean {
  return (
    file.length >= 0x206 &&
    file[0x1fe] === 0x55 &&
    file[0x1ff] === 0xaa &&
    file[0x202] === 0x48 &&
    file[0x203] === 0x64 &&
    file[0x204] === 0x72 &&
    file[0x205] === 0x53
  );
}

/**
 * Parses a bzImage. Bounds: protocol >= 2.12 with the 64-bit entry; setup sectors and the
 * protected-mode part inside the file; the setup header no longer than the zero page allows.
 */
export function parseBzImage(file: Uint8Array, name = "kernel"): BzImage {
  const fail = (why: string): never => {
    throw new BzImageError(`${name}: ${why}`);
  };
  if (file.length < 1024) fail("too short for a bzImage");
  if (!looksLikeBzImage(file)) fail("not a bzImage (no boot flag or HdrS signature)");
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const version = dv.getUint16(0x206, true);
  if (version < MIN_VERSION) {
    fail(
      `boot protocol ${version >> 8}.${version & 0xff} is too old (2.12 or later has a 64-bit entry)`,
    );
  }
  const headerEnd = 0x202 + file[0x201]!;
  if (headerEnd > SETUP_HEADER_MAX_END || headerEnd > file.length) fail("setup header too long");
  const xloadflags = dv.getUint16(0x236, true);
  if ((xloadflags & XLF_KERNEL_64) === 0) fail("no 64-bit entry point (xloadflags)");
  if ((file[0x211]! & LOADED_HIGH) === 0) fail("not a high-loaded kernel (loadflags)");
  const setupSects = file[0x1f1]! === 0 ? 4 : file[0x1f1]!;
  const pmOffset = (setupSects + 1) * 512;
  if (pmOffset >= file.length) fail("the setup sectors run past the end of the file");
  const syssize = dv.getUint32(0x1f4, true) * 16;
  if (syssize === 0 || pmOffset + syssize > file.length + 15) {
    fail("the protected-mode kernel runs past the end of the file (truncated?)");
  }
  const kernel = file.subarray(pmOffset, Math.min(file.length, pmOffset + syssize));
  if (kernel.length <= 0x200) fail("the protected-mode kernel is too short for a 64-bit entry");
  const kernelAlignment = dv.getUint32(0x230, true);
  if (kernelAlignment !== 0 && (kernelAlignment & (kernelAlignment - 1)) !== 0) {
    fail("kernel_alignment is not a power of two");
  }
  const cmdlineSize = dv.getUint32(0x238, true);
  const initSize = dv.getUint32(0x260, true);
  if (initSize < kernel.length) fail("init_size is smaller than the kernel");
  return {
    version,
    setupHeader: file.slice(SETUP_HEADER_OFFSET, headerEnd),
    kernel,
    relocatable: file[0x234] !== 0,
    prefAddress: dv.getBigUint64(0x258, true),
    kernelAlignment,
    initSize,
    initrdAddrMax: BigInt(dv.getUint32(0x22c, true)) + 1n,
    cmdlineSize,
  };
}
