// A hostile bare S-mode guest against moat's SBI (no Linux: moat loads it as the kernel, a
// riscv64 Image, on 8 harts with its own SBI). Built with -DRAM_MIB=N for a VM of N MiB and
// linked by hostile-sbi.ld. Hart 0, first thing:
//   SBI STATUS hart=H value=V error=E        hart_get_status of every other hart
// then every attack three times, each checked (refused with the right error, no hart left its
// STOPPED state, the caller goes on):
//   SBI ATTACK name=NAME runs=N ok=M
// then it starts every other hart (hart 7 at RAM's last halfword, which holds `c.jr a1`), each
// records its opaque, counts itself in and stops:
//   SBI START hart=H error=E
//   SBI STARTED ran=N opaque-ok=N stopped-again=N
//   SBI HOSTILE DONE attacks=N ok=M
// and waits for a 'g' on the console. Then it writes a 32-bit encoding's low half in RAM's last
// halfword and starts hart 1 there: its fetch crosses RAM's end (SBI CROSSING), an instruction
// access fault, and with stvec 0 after hart_start a trap loop, for which the VMM ends the VM.
#include <stdint.h>

#define RAM_BASE 0x80000000UL
#define RAM_END (RAM_BASE + (unsigned long)RAM_MIB * 0x100000UL)
#define HARTS 8
#define RUNS 3

enum { EXT_IPI = 0x735049, EXT_RFENCE = 0x52464e43, EXT_HSM = 0x48534d, EXT_DBCN = 0x4442434e };
enum { ERR_NOT_SUPPORTED = -2, ERR_INVALID_PARAM = -3, ERR_INVALID_ADDRESS = -5 };
enum { HSM_STARTED = 0, HSM_STOPPED = 1 };

struct sbiret {
  long error, value;
};

static struct sbiret sbi(long ext, long fid, long a0, long a1, long a2, long a3, long a4) {
  register long r0 asm("a0") = a0, r1 asm("a1") = a1, r2 asm("a2") = a2, r3 asm("a3") = a3;
  register long r4 asm("a4") = a4, r6 asm("a6") = fid, r7 asm("a7") = ext;
  asm volatile("ecall" : "+r"(r0), "+r"(r1) : "r"(r2), "r"(r3), "r"(r4), "r"(r6), "r"(r7)
               : "memory");
  return (struct sbiret){r0, r1};
}

// Written by the harts hart 0 starts (the assembly below), read by hart 0.
extern void secondary(void);
volatile unsigned long seen_opaque[HARTS];
volatile unsigned long checked_in;

asm(".section .head, \"ax\"\n"
    ".option push\n"
    ".option norvc\n"
    ".globl _start\n"
    "_start:\n"
    "  j entry\n"             // code0
    "  .word 0\n"             // code1
    "  .dword 0x200000\n"     // text_offset
    "  .dword 0x200000\n"     // image_size: the stack and data below fit
    "  .dword 0\n"            // flags
    "  .word 2, 0\n"          // version, res1
    "  .dword 0\n"            // res2
    "  .ascii \"RISCV\\0\\0\\0\"\n"
    "  .ascii \"RSC\\x05\"\n" // magic2
    "  .word 0\n"
    "entry:\n"
    "  la sp, stack_top\n"
    "  call hostile_main\n"
    "1: wfi\n"
    "  j 1b\n"
    ".option pop\n"
    ".text\n"
    ".globl secondary\n"
    "secondary:\n" // a0 = hartid, a1 = opaque
    "  la t0, seen_opaque\n"
    "  slli t1, a0, 3\n"
    "  add t0, t0, t1\n"
    "  sd a1, 0(t0)\n"
    "  la t0, checked_in\n"
    "  li t1, 1\n"
    "  amoadd.d zero, t1, (t0)\n"
    "  li a7, 0x48534d\n"
    "  li a6, 1\n"
    "  ecall\n" // hart_stop
    "2: j 2b\n");

char stack[16384] __attribute__((aligned(16)));
asm(".globl stack_top\n.set stack_top, stack + 16384");

// ---- output through the SBI debug console ----------------------------------------------------

static char line[160];
static int len;

static void put(const char *s) {
  while (*s && len < (int)sizeof line - 1) line[len++] = *s++;
}
static void num(long v) {
  char b[24];
  int n = 0;
  unsigned long u = v < 0 ? -(unsigned long)v : (unsigned long)v;
  do b[n++] = '0' + u % 10; while ((u /= 10) != 0);
  if (v < 0) b[n++] = '-';
  while (n > 0 && len < (int)sizeof line - 1) line[len++] = b[--n];
}
static void flush(void) {
  line[len++] = '\n';
  for (int at = 0; at < len;) {
    struct sbiret r = sbi(EXT_DBCN, 0, len - at, (unsigned long)(line + at), 0, 0, 0);
    if (r.error != 0) break;
    at += r.value;
  }
  len = 0;
}

static unsigned long now(void) {
  unsigned long t;
  asm volatile("rdtime %0" : "=r"(t));
  return t;
}
#define SECONDS(n) ((unsigned long)(n) * 10000000UL) // mtime runs at 10 MHz

static long status(long hart) { return sbi(EXT_HSM, 2, hart, 0, 0, 0, 0).value; }

/** Every other hart is still STOPPED (a refused hart_start left no trace). */
static int all_stopped(void) {
  for (int h = 1; h < HARTS; h++)
    if (status(h) != HSM_STOPPED) return 0;
  return 1;
}

static int attacks, oks;

static void report(const char *name, int runs, int ok) {
  put("SBI ATTACK name=");
  put(name);
  put(" runs=");
  num(runs);
  put(" ok=");
  num(ok);
  flush();
  attacks += runs;
  oks += ok;
}

/** hart_start of every other hart at `addr`: each refused with INVALID_ADDRESS, all STOPPED. */
static void start_at(const char *name, unsigned long addr) {
  int ok = 0;
  for (int run = 0; run < RUNS; run++) {
    int good = 1;
    for (int h = 1; h < HARTS; h++)
      good &= sbi(EXT_HSM, 0, h, addr, 0, 0, 0).error == ERR_INVALID_ADDRESS;
    ok += good && all_stopped();
  }
  report(name, RUNS, ok);
}

/** `ext`/`fid` with these arguments answers `want`, RUNS times. */
static void expect(const char *name, long ext, long fid, long a0, long a1, long a2, long a3,
                   long want) {
  int ok = 0;
  for (int run = 0; run < RUNS; run++)
    ok += sbi(ext, fid, a0, a1, a2, a3, 0).error == want && all_stopped();
  report(name, RUNS, ok);
}

static void attack(void) {
  // Start addresses: RAM's last byte (a WebAssembly trap once), odd ones, outside RAM.
  start_at("start-last-byte", RAM_END - 1);
  start_at("start-last-odd", RAM_END - 3);
  start_at("start-odd", (unsigned long)secondary + 1);
  start_at("start-past-ram", RAM_END);
  start_at("start-below-ram", RAM_BASE - 2);
  start_at("start-zero", 0);
  start_at("start-top", -2UL);
  start_at("start-uart", 0x10000000UL);
  start_at("start-clint", 0x02000000UL);
  // Hart ids that do not exist.
  unsigned long good = (unsigned long)secondary;
  expect("start-hart-8", EXT_HSM, 0, HARTS, good, 0, 0, ERR_INVALID_PARAM);
  expect("start-hart-minus-1", EXT_HSM, 0, -1L, good, 0, 0, ERR_INVALID_PARAM);
  expect("start-hart-2^63", EXT_HSM, 0, 1UL << 63, good, 0, 0, ERR_INVALID_PARAM);
  expect("status-hart-8", EXT_HSM, 2, HARTS, 0, 0, 0, ERR_INVALID_PARAM);
  expect("status-hart-minus-1", EXT_HSM, 2, -1L, 0, 0, 0, ERR_INVALID_PARAM);
  // hart_suspend (not implemented): every class of type, resume addresses at RAM's end.
  expect("suspend-retentive", EXT_HSM, 3, 0, RAM_END - 1, 0, 0, ERR_NOT_SUPPORTED);
  expect("suspend-non-retentive", EXT_HSM, 3, 0x80000000L, RAM_END - 1, 0, 0, ERR_NOT_SUPPORTED);
  expect("suspend-reserved", EXT_HSM, 3, 1, RAM_END, 0, 0, ERR_NOT_SUPPORTED);
  expect("suspend-platform", EXT_HSM, 3, 0xffffffffL, -1L, 0, 0, ERR_NOT_SUPPORTED);
  // Remote fences over every address, and masks naming harts that do not exist.
  expect("sfence-all-range", EXT_RFENCE, 1, 0xff, 0, 0, -1L, 0);
  expect("sfence-base-minus-1", EXT_RFENCE, 1, 0, -1L, -4096L, 8192, 0);
  expect("sfence-asid-range", EXT_RFENCE, 2, 0xfe, 0, 1UL << 63, -1L, 0);
  expect("sfence-mask-2^63", EXT_RFENCE, 1, 1UL << 63, 0, 0, -1L, ERR_INVALID_PARAM);
  expect("sfence-base-7", EXT_RFENCE, 1, 3, 7, 0, -1L, ERR_INVALID_PARAM);
  expect("fence-i-base-8", EXT_RFENCE, 0, 1, HARTS, 0, 0, ERR_INVALID_PARAM);
  expect("ipi-hart-8", EXT_IPI, 0, 1UL << HARTS, 0, 0, 0, ERR_INVALID_PARAM);
  expect("ipi-base-2^63", EXT_IPI, 0, 1, 1UL << 63, 0, 0, ERR_INVALID_PARAM);
}

/** Starts every other hart; hart 7 at RAM's last halfword. Returns how many started. */
static int start_all(void) {
  // c.jr a1 in RAM's last halfword: a 16-bit instruction there is a valid start.
  *(volatile uint16_t *)(RAM_END - 2) = 0x8582;
  asm volatile("fence.i" ::: "memory");
  unsigned long entry = (unsigned long)secondary;
  int started = 0;
  for (int h = 1; h < HARTS; h++) {
    long e = sbi(EXT_HSM, 0, h, h == HARTS - 1 ? RAM_END - 2 : entry, entry, 0, 0).error;
    put("SBI START hart=");
    num(h);
    put(" error=");
    num(e);
    flush();
    started += e == 0;
  }
  unsigned long deadline = now() + SECONDS(60);
  while (checked_in < (unsigned long)(HARTS - 1) && now() < deadline) {
  }
  int opaque_ok = 0, stopped = 0;
  for (int h = 1; h < HARTS; h++) opaque_ok += seen_opaque[h] == entry;
  while (!all_stopped() && now() < deadline) {
  }
  for (int h = 1; h < HARTS; h++) stopped += status(h) == HSM_STOPPED;
  put("SBI STARTED ran=");
  num(checked_in);
  put(" opaque-ok=");
  num(opaque_ok);
  put(" stopped-again=");
  num(stopped);
  flush();
  return started;
}

void hostile_main(void) {
  for (int h = 1; h < HARTS; h++) {
    struct sbiret r = sbi(EXT_HSM, 2, h, 0, 0, 0, 0);
    put("SBI STATUS hart=");
    num(h);
    put(" value=");
    num(r.value);
    put(" error=");
    num(r.error);
    flush();
  }
  attack();
  int started = start_all();
  put("SBI HOSTILE DONE attacks=");
  num(attacks);
  put(" ok=");
  num(oks);
  put(" started=");
  num(started);
  flush();
  // Wait for the go-ahead ('g') on the console, polled about every 10 ms.
  for (;;) {
    long c = sbi(0x02, 0, 0, 0, 0, 0, 0).error; // legacy console_getchar: a0 = byte or -1
    if (c == 'g') break;
    unsigned long t = now() + SECONDS(1) / 100;
    while (now() < t) {
    }
  }
  *(volatile uint16_t *)(RAM_END - 2) = 0xffff; // a 32-bit encoding's low half
  asm volatile("fence.i" ::: "memory");
  put("SBI CROSSING");
  flush();
  sbi(EXT_HSM, 0, 1, RAM_END - 2, 0, 0, 0);
}
