/*
 * The guest side of `npm run bench`'s workloads (bench/workloads.ts): one static riscv64 Linux
 * program without a C library, so that what it runs is this file's loops and the kernel's
 * paths, nothing else. Each workload is timed by the guest's own CLOCK_MONOTONIC and reported as
 *
 *   WL <name> <nanoseconds> <check>
 *
 * where <check> is a value the workload computed: moat and QEMU must print the same one (the
 * bench compares them), so a wrong instruction shows up as a wrong check, not a fast run.
 *
 *   wl int N            integer loop: shifts, xor, mul, a table in memory, branches, a divide
 *   wl fp N             double-precision loop: fmul, fadd, fdiv, fsqrt, fcvt, compares, fld/fsd
 *   wl syscall N        N x (getppid + a 1-byte write to /dev/null)
 *   wl forkexec N       N x (fork, exec this program's "nop", wait)
 *   wl pagefault MIB R  R x (mmap MIB of fresh memory, write every 4 KiB page, munmap)
 *   wl run NAME CMD...  runs CMD (an absolute path) and times it to its exit; check: its status
 *   wl lines N SEED     writes N pseudo-random lines of 20 letters to stdout (input for sort)
 *   wl nop              exits at once (what forkexec executes)
 *
 * Built by build.sh beside it; the committed binary `wl` is what the bench runs.
 */

typedef unsigned long u64;
typedef unsigned int u32;

enum {
	SYS_openat = 56,
	SYS_close = 57,
	SYS_write = 64,
	SYS_exit_group = 94,
	SYS_clock_gettime = 113,
	SYS_getppid = 173,
	SYS_munmap = 215,
	SYS_clone = 220,
	SYS_execve = 221,
	SYS_mmap = 222,
	SYS_wait4 = 260,
};

static long sys6(long n, long a, long b, long c, long d, long e, long f)
{
	register long a0 __asm__("a0") = a;
	register long a1 __asm__("a1") = b;
	register long a2 __asm__("a2") = c;
	register long a3 __asm__("a3") = d;
	register long a4 __asm__("a4") = e;
	register long a5 __asm__("a5") = f;
	register long a7 __asm__("a7") = n;
	__asm__ volatile("ecall"
			 : "+r"(a0)
			 : "r"(a1), "r"(a2), "r"(a3), "r"(a4), "r"(a5), "r"(a7)
			 : "memory");
	return a0;
}

static long sys3(long n, long a, long b, long c)
{
	return sys6(n, a, b, c, 0, 0, 0);
}

/* The kernel enters here with argc, argv[], NULL, envp[] on the stack. gp is set for the
 * linker's gp-relative relaxation. */
__asm__(".text\n"
	".globl _start\n"
	"_start:\n"
	".option push\n"
	".option norelax\n"
	"la gp, __global_pointer$\n"
	".option pop\n"
	"mv a0, sp\n"
	"andi sp, sp, -16\n"
	"call cmain\n");

/* gcc may turn loops into calls to these even without a C library. */
void *memset(void *d, int c, u64 n)
{
	unsigned char *p = d;
	while (n--)
		*p++ = (unsigned char)c;
	return d;
}

void *memcpy(void *d, const void *s, u64 n)
{
	unsigned char *p = d;
	const unsigned char *q = s;
	while (n--)
		*p++ = *q++;
	return d;
}

static __attribute__((noreturn)) void quit(int status)
{
	for (;;)
		sys3(SYS_exit_group, status, 0, 0);
}

static u64 slen(const char *s)
{
	u64 n = 0;
	while (s[n])
		n++;
	return n;
}

static int same(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

static void put(int fd, const char *s)
{
	sys3(SYS_write, fd, (long)s, (long)slen(s));
}

static __attribute__((noreturn)) void usage(void)
{
	put(2, "usage: wl int|fp|syscall|forkexec N | pagefault MIB ROUNDS | run NAME CMD... | "
	       "lines N SEED | nop\n");
	quit(2);
}

/* A decimal argument, or usage. */
static u64 num(const char *s)
{
	u64 v = 0;
	if (!s || !*s)
		usage();
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			usage();
		v = v * 10 + (u64)(*s - '0');
	}
	return v;
}

static char *dec(char *p, u64 v)
{
	char t[24];
	int n = 0;
	do
		t[n++] = (char)('0' + v % 10);
	while (v /= 10);
	while (n)
		*p++ = t[--n];
	return p;
}

static u64 now_ns(void)
{
	struct {
		long sec, nsec;
	} ts;
	sys3(SYS_clock_gettime, 1 /* CLOCK_MONOTONIC */, (long)&ts, 0);
	return (u64)ts.sec * 1000000000ul + (u64)ts.nsec;
}

static void report(const char *name, u64 ns, u64 check)
{
	char line[128], *p = line;
	const char *q;
	for (q = "WL "; *q;)
		*p++ = *q++;
	for (q = name; *q && p < line + 64;)
		*p++ = *q++;
	*p++ = ' ';
	p = dec(p, ns);
	*p++ = ' ';
	p = dec(p, check);
	*p++ = '\n';
	sys3(SYS_write, 1, (long)line, p - line);
}

static u64 work_int(u64 n)
{
	u32 table[256];
	u64 x = 88172645463325252ul, acc = 0;
	for (u32 i = 0; i < 256; i++)
		table[i] = i * 2654435761u;
	for (u64 i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		u32 t = table[x & 255];
		acc += (x >> 3) * (i | 1) + t;
		if (acc & 0x100)
			acc ^= x >> 11;
		else
			acc -= t;
		if ((i & 15) == 0)
			acc += acc / ((x & 0xffff) | 1);
		table[(x >> 8) & 255] = (u32)acc ^ t;
	}
	return acc;
}

static u64 work_fp(u64 n)
{
	double v[64], sum = 0.0, x = 0.5;
	for (int i = 0; i < 64; i++)
		v[i] = (double)i * 0.25;
	for (u64 i = 1; i <= n; i++) {
		double d = (double)i;
		sum += 1.0 / (d * d);
		x = 3.7 * x * (1.0 - x);
		sum += __builtin_sqrt(x + d) * 1e-9;
		if (x > 0.9)
			sum -= 1e-12 * x;
		v[i & 63] = v[i & 63] * 0.999 + x;
		sum += v[(i * 7) & 63] * 1e-15;
	}
	union {
		double d;
		u64 u;
	} bits = { .d = sum };
	return bits.u;
}

static u64 work_syscall(u64 n)
{
	static const char byte = 'x';
	long fd = sys6(SYS_openat, -100 /* AT_FDCWD */, (long)"/dev/null", 1 /* O_WRONLY */, 0, 0, 0);
	u64 written = 0;
	if (fd < 0) {
		put(2, "wl: cannot open /dev/null\n");
		quit(1);
	}
	for (u64 i = 0; i < n; i++) {
		sys3(SYS_getppid, 0, 0, 0);
		written += (u64)sys3(SYS_write, fd, (long)&byte, 1);
	}
	sys3(SYS_close, fd, 0, 0);
	return written;
}

/* fork + execve(argv) in the child + wait: the child's exit status, or 255 if it did not exit. */
static int spawn_wait(char **argv, char **envp)
{
	int status = 0;
	long pid = sys6(SYS_clone, 17 /* SIGCHLD: a plain fork */, 0, 0, 0, 0, 0);
	if (pid == 0) {
		sys3(SYS_execve, (long)argv[0], (long)argv, (long)envp);
		put(2, "wl: cannot execute ");
		put(2, argv[0]);
		put(2, "\n");
		quit(127);
	}
	if (pid < 0 || sys6(SYS_wait4, pid, (long)&status, 0, 0, 0, 0) != pid)
		return 255;
	return (status & 0x7f) ? 255 : (status >> 8) & 0xff;
}

static u64 work_forkexec(u64 n, char *self, char **envp)
{
	char *argv[] = { self, "nop", 0 };
	u64 ok = 0;
	for (u64 i = 0; i < n; i++)
		ok += spawn_wait(argv, envp) == 0;
	return ok;
}

static u64 work_pagefault(u64 mib, u64 rounds)
{
	u64 size = mib << 20, sum = 0;
	for (u64 r = 0; r < rounds; r++) {
		/* PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS */
		long p = sys6(SYS_mmap, 0, (long)size, 3, 0x22, -1, 0);
		if (p < 0 && p > -4096) {
			put(2, "wl: mmap failed\n");
			quit(1);
		}
		volatile unsigned char *m = (unsigned char *)p;
		for (u64 off = 0; off < size; off += 4096)
			m[off] = (unsigned char)(r + (off >> 12));
		for (u64 off = 0; off < size; off += 4096 * 64)
			sum += m[off];
		sys3(SYS_munmap, p, (long)size, 0);
	}
	return sum;
}

static void lines(u64 n, u64 seed)
{
	static char buf[65536];
	u64 x = seed * 0x9e3779b97f4a7c15ul + 1, used = 0;
	for (u64 i = 0; i < n; i++) {
		if (used + 21 > sizeof buf) {
			sys3(SYS_write, 1, (long)buf, (long)used);
			used = 0;
		}
		for (int k = 0; k < 20; k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[used++] = (char)('a' + (x >> 40) % 26);
		}
		buf[used++] = '\n';
	}
	sys3(SYS_write, 1, (long)buf, (long)used);
}

void cmain(long *sp)
{
	long argc = sp[0];
	char **argv = (char **)(sp + 1), **envp = argv + argc + 1;
	const char *what = argc > 1 ? argv[1] : "";
	u64 t0, check;

	if (same(what, "nop"))
		quit(0);
	if (same(what, "lines") && argc == 4) {
		lines(num(argv[2]), num(argv[3]));
		quit(0);
	}
	if (same(what, "run") && argc >= 4) {
		t0 = now_ns();
		check = (u64)spawn_wait(argv + 3, envp);
		report(argv[2], now_ns() - t0, check);
		quit(0);
	}
	if (same(what, "pagefault") && argc == 4) {
		u64 mib = num(argv[2]), rounds = num(argv[3]);
		t0 = now_ns();
		check = work_pagefault(mib, rounds);
		report(what, now_ns() - t0, check);
		quit(0);
	}
	if (argc != 3)
		usage();
	u64 n = num(argv[2]);
	t0 = now_ns();
	if (same(what, "int"))
		check = work_int(n);
	else if (same(what, "fp"))
		check = work_fp(n);
	else if (same(what, "syscall"))
		check = work_syscall(n);
	else if (same(what, "forkexec"))
		check = work_forkexec(n, argv[0], envp);
	else
		usage();
	report(what, now_ns() - t0, check);
	quit(0);
}
