/*
 * Oracle for test/softfloat.test.ts: executes real RISC-V F/D instructions (under qemu-riscv64)
 * and reports result bits and fflags.
 *
 * Build: riscv64-linux-gnu-gcc -static -O2 -o softfloat-oracle softfloat-oracle.c
 *
 * stdin:  records of 32 bytes, little-endian: u32 op, u32 rm, u64 a, u64 b, u64 c
 * stdout: records of 16 bytes: u64 result, u64 fflags
 *
 * Float operands are raw bits (binary32 in the low 32 bits). Float results are raw bits
 * (binary32 zero-extended); integer results are the full 64-bit destination register.
 * The rounding mode is encoded statically in each instruction (rne/rtz/rdn/rup/rmm).
 * Op codes must match OPS in test/softfloat.test.ts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

enum {
  /* binary32: 0..23, binary64: 32..55 (same layout) */
  OP_ADD = 0, OP_SUB, OP_MUL, OP_DIV, OP_SQRT, OP_MADD, OP_MSUB, OP_NMSUB, OP_NMADD,
  OP_MIN, OP_MAX, OP_EQ, OP_LT, OP_LE, OP_CLASS, OP_CVT_OTHER, OP_CVT_W, OP_CVT_WU,
  OP_CVT_L, OP_CVT_LU, OP_CVT_FROM_W, OP_CVT_FROM_WU, OP_CVT_FROM_L, OP_CVT_FROM_LU,
  OP_COUNT
};
#define D 32

/* fd = insn fs1, fs2 [, rm] */
#define FP2(ld, st, insn, rms)                                                        \
  asm volatile(ld " ft1, %2\n\t" ld " ft2, %3\n\tcsrw fflags, zero\n\t" insn          \
               " ft3, ft1, ft2" rms "\n\tfrflags %1\n\t" st " %0, ft3"                \
               : "=&r"(res), "=&r"(fl)                                               \
               : "r"(a), "r"(b)                                                      \
               : "ft1", "ft2", "ft3")
/* fd = insn fs1, fs2, fs3, rm */
#define FP3(ld, st, insn, rms)                                                        \
  asm volatile(ld " ft1, %2\n\t" ld " ft2, %3\n\t" ld " ft0, %4\n\tcsrw fflags, zero\n\t" \
               insn " ft3, ft1, ft2, ft0" rms "\n\tfrflags %1\n\t" st " %0, ft3"     \
               : "=&r"(res), "=&r"(fl)                                               \
               : "r"(a), "r"(b), "r"(c)                                              \
               : "ft0", "ft1", "ft2", "ft3")
/* fd = insn fs1 [, rm] (fs1 and fd may be of different formats) */
#define FP1(ld, st, insn, rms)                                                        \
  asm volatile(ld " ft1, %2\n\tcsrw fflags, zero\n\t" insn " ft3, ft1" rms            \
               "\n\tfrflags %1\n\t" st " %0, ft3"                                    \
               : "=&r"(res), "=&r"(fl)                                               \
               : "r"(a)                                                              \
               : "ft1", "ft3")
/* rd = insn fs1, fs2 */
#define FPI2(ld, insn, rms)                                                           \
  asm volatile(ld " ft1, %2\n\t" ld " ft2, %3\n\tcsrw fflags, zero\n\t" insn          \
               " %0, ft1, ft2" rms "\n\tfrflags %1"                                  \
               : "=&r"(res), "=&r"(fl)                                               \
               : "r"(a), "r"(b)                                                      \
               : "ft1", "ft2")
/* rd = insn fs1 [, rm] */
#define FPI1(ld, insn, rms)                                                           \
  asm volatile(ld " ft1, %2\n\tcsrw fflags, zero\n\t" insn " %0, ft1" rms             \
               "\n\tfrflags %1"                                                      \
               : "=&r"(res), "=&r"(fl)                                               \
               : "r"(a)                                                              \
               : "ft1")
/* fd = insn rs1 [, rm] */
#define IFP1(st, insn, rms)                                                           \
  asm volatile("csrw fflags, zero\n\t" insn " ft3, %2" rms "\n\tfrflags %1\n\t" st    \
               " %0, ft3"                                                            \
               : "=&r"(res), "=&r"(fl)                                               \
               : "r"(a)                                                              \
               : "ft3")

#define NORM(M, ...) M(__VA_ARGS__, "")
#define WITH_RM(M, ...)                \
  switch (rm) {                        \
    case 0: M(__VA_ARGS__, ", rne"); break; \
    case 1: M(__VA_ARGS__, ", rtz"); break; \
    case 2: M(__VA_ARGS__, ", rdn"); break; \
    case 3: M(__VA_ARGS__, ", rup"); break; \
    default: M(__VA_ARGS__, ", rmm"); break; \
  }

#define S_LD "fmv.w.x"
#define S_ST "fmv.x.w"
#define D_LD "fmv.d.x"
#define D_ST "fmv.x.d"

static int run(uint32_t op, uint32_t rm, uint64_t a, uint64_t b, uint64_t c, uint64_t *out) {
  uint64_t res = 0, fl = 0;
  switch (op) {
    case OP_ADD: WITH_RM(FP2, S_LD, S_ST, "fadd.s"); break;
    case OP_SUB: WITH_RM(FP2, S_LD, S_ST, "fsub.s"); break;
    case OP_MUL: WITH_RM(FP2, S_LD, S_ST, "fmul.s"); break;
    case OP_DIV: WITH_RM(FP2, S_LD, S_ST, "fdiv.s"); break;
    case OP_SQRT: WITH_RM(FP1, S_LD, S_ST, "fsqrt.s"); break;
    case OP_MADD: WITH_RM(FP3, S_LD, S_ST, "fmadd.s"); break;
    case OP_MSUB: WITH_RM(FP3, S_LD, S_ST, "fmsub.s"); break;
    case OP_NMSUB: WITH_RM(FP3, S_LD, S_ST, "fnmsub.s"); break;
    case OP_NMADD: WITH_RM(FP3, S_LD, S_ST, "fnmadd.s"); break;
    case OP_MIN: NORM(FP2, S_LD, S_ST, "fmin.s"); break;
    case OP_MAX: NORM(FP2, S_LD, S_ST, "fmax.s"); break;
    case OP_EQ: NORM(FPI2, S_LD, "feq.s"); break;
    case OP_LT: NORM(FPI2, S_LD, "flt.s"); break;
    case OP_LE: NORM(FPI2, S_LD, "fle.s"); break;
    case OP_CLASS: NORM(FPI1, S_LD, "fclass.s"); break;
    case OP_CVT_OTHER: NORM(FP1, S_LD, D_ST, "fcvt.d.s"); break;
    case OP_CVT_W: WITH_RM(FPI1, S_LD, "fcvt.w.s"); break;
    case OP_CVT_WU: WITH_RM(FPI1, S_LD, "fcvt.wu.s"); break;
    case OP_CVT_L: WITH_RM(FPI1, S_LD, "fcvt.l.s"); break;
    case OP_CVT_LU: WITH_RM(FPI1, S_LD, "fcvt.lu.s"); break;
    case OP_CVT_FROM_W: WITH_RM(IFP1, S_ST, "fcvt.s.w"); break;
    case OP_CVT_FROM_WU: WITH_RM(IFP1, S_ST, "fcvt.s.wu"); break;
    case OP_CVT_FROM_L: WITH_RM(IFP1, S_ST, "fcvt.s.l"); break;
    case OP_CVT_FROM_LU: WITH_RM(IFP1, S_ST, "fcvt.s.lu"); break;

    case D + OP_ADD: WITH_RM(FP2, D_LD, D_ST, "fadd.d"); break;
    case D + OP_SUB: WITH_RM(FP2, D_LD, D_ST, "fsub.d"); break;
    case D + OP_MUL: WITH_RM(FP2, D_LD, D_ST, "fmul.d"); break;
    case D + OP_DIV: WITH_RM(FP2, D_LD, D_ST, "fdiv.d"); break;
    case D + OP_SQRT: WITH_RM(FP1, D_LD, D_ST, "fsqrt.d"); break;
    case D + OP_MADD: WITH_RM(FP3, D_LD, D_ST, "fmadd.d"); break;
    case D + OP_MSUB: WITH_RM(FP3, D_LD, D_ST, "fmsub.d"); break;
    case D + OP_NMSUB: WITH_RM(FP3, D_LD, D_ST, "fnmsub.d"); break;
    case D + OP_NMADD: WITH_RM(FP3, D_LD, D_ST, "fnmadd.d"); break;
    case D + OP_MIN: NORM(FP2, D_LD, D_ST, "fmin.d"); break;
    case D + OP_MAX: NORM(FP2, D_LD, D_ST, "fmax.d"); break;
    case D + OP_EQ: NORM(FPI2, D_LD, "feq.d"); break;
    case D + OP_LT: NORM(FPI2, D_LD, "flt.d"); break;
    case D + OP_LE: NORM(FPI2, D_LD, "fle.d"); break;
    case D + OP_CLASS: NORM(FPI1, D_LD, "fclass.d"); break;
    case D + OP_CVT_OTHER: WITH_RM(FP1, D_LD, S_ST, "fcvt.s.d"); break;
    case D + OP_CVT_W: WITH_RM(FPI1, D_LD, "fcvt.w.d"); break;
    case D + OP_CVT_WU: WITH_RM(FPI1, D_LD, "fcvt.wu.d"); break;
    case D + OP_CVT_L: WITH_RM(FPI1, D_LD, "fcvt.l.d"); break;
    case D + OP_CVT_LU: WITH_RM(FPI1, D_LD, "fcvt.lu.d"); break;
    case D + OP_CVT_FROM_W: NORM(IFP1, D_ST, "fcvt.d.w"); break;
    case D + OP_CVT_FROM_WU: NORM(IFP1, D_ST, "fcvt.d.wu"); break;
    case D + OP_CVT_FROM_L: WITH_RM(IFP1, D_ST, "fcvt.d.l"); break;
    case D + OP_CVT_FROM_LU: WITH_RM(IFP1, D_ST, "fcvt.d.lu"); break;
    default: return -1;
  }
  /* binary32 results travel zero-extended */
  if (op < D && op != OP_EQ && op != OP_LT && op != OP_LE && op != OP_CLASS &&
      op != OP_CVT_OTHER && !(op >= OP_CVT_W && op <= OP_CVT_LU))
    res &= 0xffffffffu;
  if (op == D + OP_CVT_OTHER) res &= 0xffffffffu;
  out[0] = res;
  out[1] = fl;
  return 0;
}

static int write_all(const unsigned char *buf, size_t n) {
  size_t put = 0;
  while (put < n) {
    ssize_t w = write(1, buf + put, n - put);
    if (w <= 0) return -1;
    put += (size_t)w;
  }
  return 0;
}

static uint64_t rd64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}
static uint32_t rd32(const unsigned char *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static void wr64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

#define BATCH 4096

int main(void) {
  static unsigned char in[BATCH * 32], outb[BATCH * 16];
  for (;;) {
    /* read up to BATCH records; the last chunk may be short */
    size_t got = 0;
    while (got < sizeof in) {
      ssize_t r = read(0, in + got, sizeof in - got);
      if (r < 0) return 2;
      if (r == 0) break;
      got += (size_t)r;
    }
    if (got % 32 != 0) return 3;
    size_t n = got / 32;
    for (size_t i = 0; i < n; i++) {
      const unsigned char *p = in + 32 * i;
      uint64_t o[2];
      if (run(rd32(p), rd32(p + 4), rd64(p + 8), rd64(p + 16), rd64(p + 24), o) != 0) return 4;
      wr64(outb + 16 * i, o[0]);
      wr64(outb + 16 * i + 8, o[1]);
    }
    if (n && write_all(outb, n * 16) != 0) return 5;
    if (got < sizeof in) return 0;
  }
}
