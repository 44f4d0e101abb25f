// ELF64 kernels (an uncompressed x86-64 vmlinux) and their PVH entry point. Kernel files are
// untrusted input: every offset and size is checked against the file before it is used.
import { MoatError } from "../base/moat-error.js";

export class ElfError extends MoatError {
  override readonly kind = "invalid";
}

export interface ElfSegment {
  paddr: bigint;
  /** The bytes to copy (p_filesz of them); the rest of p_memsz is zero. */
  data: Uint8Array;
  memsz: bigint;
}

export interface ElfKernel {
  segments: ElfSegment[];
  /** 32-bit PVH entry (XEN_ELFNOTE_PHYS32_ENTRY), if the kernel has one. */
  pvhEntry?: number;
}

const PT_LOAD = 1;
const PT_NOTE = 4;
const EM_X86_64 = 62;
const XEN_ELFNOTE_PHYS32_ENTRY = 18;
/** Bounds on hostile files: program headers and notes examined. */
export const MAX_PHDRS = 64;
const MAX_NOTES = 256;

/** Parses an ELF64 x86-64 executable. Bounds: MAX_PHDRS headers, every range inside the file. */
export function parseElfKernel(file: Uint8Array, name = "kernel"): ElfKernel {
  const fail = (why: string): never => {
    throw new ElfError(`${name}: ${why}`);
  };
  if (file.length < 64) fail("too short for an ELF header");
  if (file[0] !== 0x7f || file[1] !== 0x45 || file[2] !== 0x4c || file[3] !== 0x46)
    fail("not an ELF file");
  if (file[4] !== 2 || file[5] !== 1) fail("not a 64-bit little-endian ELF file");
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  if (dv.getUint16(18, true) !== EM_X86_64) fail("not an x86-64 ELF file");
  const phoff = dv.getBigUint64(32, true);
  const phentsize = dv.getUint16(54, true);
  const phnum = dv.getUint16(56, true);
  if (phnum === 0 || phnum > MAX_PHDRS)
    fail(`${phnum} program headers (1 to ${MAX_PHDRS} allowed)`);
  if (phentsize < 56) fail("program header entries too small");
  if (phoff + BigInt(phnum * phentsize) > BigInt(file.length))
    fail("program headers outside the file");
  const segments: ElfSegment[] = [];
  let pvhEntry: number | undefined;
  for (let i = 0; i < phnum; i++) {
    const o = Number(phoff) + i * phentsize;
    const type = dv.getUint32(o, true);
    const offset = dv.getBigUint64(o + 8, true);
    const paddr = dv.getBigUint64(o + 24, true);
    const filesz = dv.getBigUint64(o + 32, true);
    const memsz = dv.getBigUint64(o + 40, true);
    if (offset + filesz > BigInt(file.length)) fail(`segment ${i} runs past the end of the file`);
    if (type === PT_LOAD) {
      if (memsz < filesz) fail(`segment ${i}: memsz smaller than filesz`);
      segments.push({ paddr, memsz, data: file.subarray(Number(offset), Number(offset + filesz)) });
    } else if (type === PT_NOTE) {
      pvhEntry ??= findPvhEntry(dv, Number(offset), Number(filesz));
    }
  }
  if (segments.length === 0) fail("no loadable segment");
  return { segments, ...(pvhEntry !== undefined ? { pvhEntry } : {}) };
}

function findPvhEntry(dv: DataView, start: number, size: number): number | undefined {
  let o = start;
  const end = start + size;
  for (let n = 0; n < MAX_NOTES && o + 12 <= end; n++) {
    const namesz = dv.getUint32(o, true);
    const descsz = dv.getUint32(o + 4, true);
    const type = dv.getUint32(o + 8, true);
    const nameOff = o + 12;
    const descOff = nameOff + ((namesz + 3) & ~3);
    const next = descOff + ((descsz + 3) & ~3);
    if (next > end || next <= o) return undefined;
    const isXen =
      namesz === 4 &&
      dv.getUint8(nameOff) === 0x58 &&
      dv.getUint8(nameOff + 1) === 0x65 &&
      dv.getUint8(nameOff + 2) === 0x6e &&
      dv.getUint8(nameOff + 3) === 0;
    if (isXen && type === XEN_ELFNOTE_PHYS32_ENTRY && descsz >= 4) {
      return dv.getUint32(descOff, true);
    }
    o = next;
  }
  return undefined;
}
