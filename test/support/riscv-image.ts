// Small S-mode programs as riscv64 Linux Images, for tests that boot them on a real VM.
import { A0, A1, A6, A7, I, ZERO } from "./core-harness.js";

/** A riscv64 Linux Image header (64 bytes) in front of `code` words: what --kernel accepts. */
export function linuxImage(code: number[], size = 0x1000): Uint8Array {
  const image = new Uint8Array(size);
  const dv = new DataView(image.buffer);
  dv.setUint32(0, I.j(64), true); // code0: over the header
  dv.setBigUint64(8, 0x20_0000n, true); // text_offset
  dv.setBigUint64(16, BigInt(size), true); // image_size
  dv.setBigUint64(48, 0x5643534952n, true); // "RISCV\0\0\0"
  dv.setUint32(56, 0x05435352, true); // "RSC\x05"
  code.forEach((w, i) => dv.setUint32(64 + i * 4, w, true));
  return image;
}

/** rd = v (a 32-bit constant whose bit 31 is clear) with lui + addi. */
export const li32 = (rd: number, v: number): number[] => {
  const hi = (v + 0x800) >>> 12;
  return [I.lui(rd, hi), I.addi(rd, rd, v - hi * 0x1000)];
};

/** SBI system reset (SRST) with type shutdown: the VM powers off. */
export const sbiShutdown = (): number[] => [
  ...li32(A7, 0x53525354),
  I.addi(A6, ZERO, 0),
  I.addi(A0, ZERO, 0),
  I.addi(A1, ZERO, 0),
  I.ecall,
  I.j(0),
];
