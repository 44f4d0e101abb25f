// Classic BPF, as seccomp takes it: the few instructions a syscall filter needs, and the
// encoding of a program into the kernel's struct sock_filter array (8 bytes an instruction).

export interface BpfInsn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

// Opcodes (linux/bpf_common.h).
const LD_W_ABS = 0x20; // BPF_LD | BPF_W | BPF_ABS
const JEQ_K = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const JGE_K = 0x35; // BPF_JMP | BPF_JGE | BPF_K
const JSET_K = 0x45; // BPF_JMP | BPF_JSET | BPF_K
const RET_K = 0x06; // BPF_RET | BPF_K

/** Bound: seccomp takes at most 4096 instructions (BPF_MAXINSNS). */
export const BPF_MAXINSNS = 4096;

/** A = the 32-bit word at `offset` of struct seccomp_data. */
export function load(offset: number): BpfInsn {
  return { code: LD_W_ABS, jt: 0, jf: 0, k: offset };
}

/** if (A == k) skip `jt` instructions else skip `jf`. */
export function jeq(k: number, jt: number, jf: number): BpfInsn {
  return { code: JEQ_K, jt, jf, k: k >>> 0 };
}

/** if (A >= k) skip `jt` else skip `jf` (unsigned). */
export function jge(k: number, jt: number, jf: number): BpfInsn {
  return { code: JGE_K, jt, jf, k: k >>> 0 };
}

/** if (A & k) skip `jt` else skip `jf`. */
export function jset(k: number, jt: number, jf: number): BpfInsn {
  return { code: JSET_K, jt, jf, k: k >>> 0 };
}

/** Return `k` (a SECCOMP_RET_* action). */
export function ret(k: number): BpfInsn {
  return { code: RET_K, jt: 0, jf: 0, k: k >>> 0 };
}

/**
 * Encodes a program as struct sock_filter[]. Bound: 1..BPF_MAXINSNS instructions; jump
 * offsets 0..255 that land inside the program (the kernel checks too; this says where).
 */
export function encode(prog: readonly BpfInsn[]): Buffer {
  if (prog.length === 0 || prog.length > BPF_MAXINSNS)
    throw new RangeError(`a BPF program has 1..${BPF_MAXINSNS} instructions, not ${prog.length}`);
  const b = Buffer.alloc(prog.length * 8);
  prog.forEach((p, i) => {
    const jump = (p.code & 0x07) === 0x05; // BPF_JMP
    for (const off of jump ? [p.jt, p.jf] : [])
      if (!Number.isInteger(off) || off < 0 || off > 255 || i + 1 + off >= prog.length)
        throw new RangeError(`BPF instruction ${i}: jump ${off} leaves the program`);
    b.writeUInt16LE(p.code, i * 8);
    b.writeUInt8(p.jt, i * 8 + 2);
    b.writeUInt8(p.jf, i * 8 + 3);
    b.writeUInt32LE(p.k >>> 0, i * 8 + 4);
  });
  return b;
}
