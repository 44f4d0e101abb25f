// The Linux riscv64 `Image` boot header (Documentation/arch/riscv/boot-image-header.rst):
// 64 bytes at the start of the file. Kernel files are untrusted input: every field that decides
// where bytes go is checked before use.
import { MoatError } from "../base/moat-error.js";

export class KernelImageError extends MoatError {
  override readonly kind = "invalid";
}

export interface RiscvImage {
  /** Offset from the start of RAM (2 MiB-aligned) where the kernel must be placed. */
  textOffset: bigint;
  /** Bytes of RAM the kernel occupies once running (at least the file size). */
  imageSize: bigint;
  /** The whole file, to copy to RAM. */
  bytes: Uint8Array;
}

const HEADER_SIZE = 64;
const MAGIC = 0x5643534952n; // "RISCV\0\0\0" little-endian
const MAGIC2 = 0x05435352; // "RSC\x05"
/** Kernels larger than this are refused (the shipped one is about 4 MiB). */
export const MAX_KERNEL_BYTES = 256 * 1024 * 1024;

/** Parses and validates a riscv64 Linux Image. Bounds: header present, size <= MAX_KERNEL_BYTES. */
export function parseRiscvImage(file: Uint8Array, name = "kernel"): RiscvImage {
  if (file.length >= 2 && file[0] === 0x1f && file[1] === 0x8b) {
    throw new KernelImageError(
      `${name}: not a riscv64 Linux Image (this is gzip-compressed: decompress it first)`,
    );
  }
  if (file.length < HEADER_SIZE) {
    throw new KernelImageError(
      `${name}: ${file.length} bytes is too short for a riscv64 Image header`,
    );
  }
  if (file.length > MAX_KERNEL_BYTES) {
    throw new KernelImageError(
      `${name}: ${file.length} bytes is larger than the ${MAX_KERNEL_BYTES >> 20} MiB limit`,
    );
  }
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const magic = dv.getBigUint64(48, true);
  const magic2 = dv.getUint32(56, true);
  if (magic !== MAGIC && magic2 !== MAGIC2) {
    const elf = file[0] === 0x7f && file[1] === 0x45 && file[2] === 0x4c && file[3] === 0x46;
    const gz = file[0] === 0x1f && file[1] === 0x8b;
    const hint = elf
      ? " (this is an ELF file: pass the kernel's arch/riscv/boot/Image)"
      : gz
        ? " (this is gzip-compressed: decompress it first)"
        : "";
    throw new KernelImageError(`${name}: not a riscv64 Linux Image (no RISCV magic)${hint}`);
  }
  let textOffset = dv.getBigUint64(8, true);
  const imageSize = dv.getBigUint64(16, true);
  if (textOffset === 0n) textOffset = 0x20_0000n; // pre-4.x kernels left it 0
  if (textOffset % 0x1000n !== 0n || textOffset > 0x4000_0000n) {
    throw new KernelImageError(`${name}: implausible text_offset 0x${textOffset.toString(16)}`);
  }
  if (imageSize > BigInt(MAX_KERNEL_BYTES) * 4n) {
    throw new KernelImageError(`${name}: implausible image_size 0x${imageSize.toString(16)}`);
  }
  const size = imageSize > BigInt(file.length) ? imageSize : BigInt(file.length);
  return { textOffset, imageSize: size, bytes: file };
}
