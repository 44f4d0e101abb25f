// The Linux system calls moat needs, through koffi. This is the only module that imports koffi:
// everything above it sees file descriptors, numbers and ArrayBuffers, and errors as SysError.
import koffi from "koffi";
import { constants } from "node:os";
import { MoatError } from "../base/moat-error.js";

const libc = koffi.load("libc.so.6");

// Fixed prototypes: koffi's variadic calls cost twice as much (DESIGN.md), and ioctl is hot.
const cOpen = libc.func("int open(const char *path, int flags)");
const cClose = libc.func("int close(int fd)");
const cIoctlInt = libc.func("int ioctl(int fd, unsigned long req, unsigned long arg)");
const cIoctlPtr = libc.func("int ioctl(int fd, unsigned long req, void *arg)");
const cMmap = libc.func(
  "void *mmap(void *addr, size_t len, int prot, int flags, int fd, int64_t off)",
);
const cMunmap = libc.func("int munmap(void *addr, size_t len)");
const cGettid = libc.func("int gettid()");
const cGetpid = libc.func("int getpid()");
const cTgkill = libc.func("int tgkill(int tgid, int tid, int sig)");
const cEventfd = libc.func("int eventfd(unsigned int initval, int flags)");
const cFallocate = libc.func("int fallocate(int fd, int mode, int64_t offset, int64_t len)");
const cLseek = libc.func("int64_t lseek(int fd, int64_t off, int whence)");
const cFcntlPtr = libc.func("int fcntl(int fd, int cmd, void *arg)");
const cFlock = libc.func("int flock(int fd, int op)");
const cEpollCreate1 = libc.func("int epoll_create1(int flags)");
const cEpollCtl = libc.func("int epoll_ctl(int epfd, int op, int fd, void *event)");
const cEpollWait = libc.func("int epoll_wait(int epfd, void *events, int maxevents, int timeout)");
const cRead = libc.func("long read(int fd, void *buf, size_t count)");
const cWrite = libc.func("long write(int fd, void *buf, size_t count)");
const cSocket = libc.func("int socket(int domain, int type, int protocol)");
const cGetsockopt = libc.func("int getsockopt(int fd, int level, int name, void *val, void *len)");
const cMemmove = libc.func("void *memmove(void *dst, void *src, size_t n)");
const cMadvise = libc.func("int madvise(void *addr, size_t len, int advice)");
const cMlock2 = libc.func("int mlock2(void *addr, size_t len, unsigned int flags)");
const cSchedSetaffinity = libc.func(
  "int sched_setaffinity(int pid, size_t cpusetsize, const void *mask)",
);
const cPrctl = libc.func(
  "int prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)",
);
// seccomp(2) has no glibc wrapper in Debian 12's libc: through syscall(2), fixed prototype.
const cSyscall3 = libc.func("long syscall(long nr, unsigned long a, unsigned long b, void *c)");
const cSyscall6 = libc.func(
  "long syscall(long nr, unsigned long a, unsigned long b, unsigned long c, unsigned long d, unsigned long e, unsigned long f)",
);
// glibc's set*id and setgroups change every thread of the process (its setxid broadcast).
const cSetresuid = libc.func("int setresuid(unsigned int r, unsigned int e, unsigned int s)");
const cSetresgid = libc.func("int setresgid(unsigned int r, unsigned int e, unsigned int s)");
const cSetgroups = libc.func("int setgroups(size_t n, const void *list)");
const cSetrlimit = libc.func("int setrlimit(int resource, const void *rlim)");
const cMount = libc.func(
  "int mount(const char *src, const char *target, const char *fstype, unsigned long flags, const char *data)",
);
const cUmount2 = libc.func("int umount2(const char *target, int flags)");
const cSethostname = libc.func("int sethostname(const char *name, size_t len)");
// pivot_root(2) has no glibc wrapper either.
const cSyscallStr2 = libc.func("long syscall(long nr, const char *a, const char *b)");
// openat2(2) has no glibc wrapper in Debian 12's libc either.
const cOpenat2 = libc.func(
  "long syscall(long nr, int dirfd, const char *path, void *how, size_t size)",
);

const cSchedGetaffinity = libc.func(
  "int sched_getaffinity(int pid, size_t cpusetsize, void *mask)",
);

export const O_RDWR = 2;
export const O_CLOEXEC = 0o2000000;
export const O_NONBLOCK = 0o4000;
export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 1;
export const MAP_PRIVATE = 2;
export const MAP_ANONYMOUS = 0x20;
export const MAP_FIXED = 0x10;
export const EFD_NONBLOCK = 0o4000;
export const EFD_CLOEXEC = 0o2000000;
const MAP_FAILED = 0xffff_ffff_ffff_ffffn;

const errnoNames = new Map<number, string>(
  Object.entries(constants.errno).map(([name, num]) => [num as number, name]),
);

/** A failed system call: which call (or ioctl) and the errno with its name. */
export class SysError extends MoatError {
  constructor(
    readonly call: string,
    readonly errno: number,
  ) {
    super(`${call}: ${errnoNames.get(errno) ?? "errno " + errno}`, "host");
  }
  get code(): string {
    return errnoNames.get(this.errno) ?? `E${this.errno}`;
  }
}

/** A raw pointer returned by the kernel (mmap), opaque above this module. */
export type Pointer = bigint;

function check(call: string, r: number): number {
  if (r < 0) throw new SysError(call, koffi.errno());
  return r;
}

export function openFd(path: string, flags: number): number {
  return check(`open ${path}`, cOpen(path, flags | O_CLOEXEC) as number);
}

export function closeFd(fd: number): void {
  check("close", cClose(fd) as number);
}

/** ioctl with an integer argument; `name` names it in errors. Returns the ioctl's result. */
export function ioctlInt(fd: number, req: number, arg: number, name: string): number {
  return check(name, cIoctlInt(fd, req, arg) as number);
}

/** ioctl with a pointer to `buf` (read and/or written by the kernel). */
export function ioctlBuf(fd: number, req: number, buf: Buffer, name: string): number {
  return check(name, cIoctlPtr(fd, req, buf) as number);
}

/** mmap; returns the address. Bound: `len` > 0. */
export function mmap(len: number, prot: number, flags: number, fd: number, offset = 0): Pointer {
  if (!(len > 0)) throw new SysError("mmap", constants.errno.EINVAL);
  const p = cMmap(null, len, prot, flags, fd, offset) as unknown;
  const addr = BigInt(koffi.address(p));
  if (addr === MAP_FAILED || addr === 0n) throw new SysError("mmap", koffi.errno());
  return addr;
}

/**
 * mmap(2) MAP_FIXED: `len` bytes of `fd` from offset 0 mapped private, read-write, over the
 * mapping at `addr` (which the caller owns: it is replaced, not added to).
 */
export function mmapFilePrivateAt(addr: Pointer, len: number, fd: number): void {
  if (!(len > 0)) throw new SysError("mmap", constants.errno.EINVAL);
  const p = cMmap(addr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd, 0) as unknown;
  const got = BigInt(koffi.address(p));
  if (got === MAP_FAILED) throw new SysError("mmap", koffi.errno());
  if (got !== addr) throw new SysError("mmap", constants.errno.EFAULT);
}

export function munmap(addr: Pointer, len: number): void {
  check("munmap", cMunmap(addr, len) as number);
}

/**
 * An ArrayBuffer over mapped memory at `addr`. Bound: at most 4 GiB per view (larger views
 * abort the process, DESIGN.md); the caller keeps the mapping alive as long as the view.
 */
export function viewOf(addr: Pointer, len: number): ArrayBuffer {
  if (len > 0xffff_ffff) throw new RangeError("a view of mapped memory is limited to 4 GiB");
  return koffi.view(addr, len) as ArrayBuffer;
}

/** The calling thread's kernel thread id (a worker_thread's own, for tgkill). */
export function gettid(): number {
  return cGettid() as number;
}

export function getpid(): number {
  return cGetpid() as number;
}

/** Sends `signal` to one thread of this process (kicks a vCPU thread out of KVM_RUN). */
export function tgkill(tid: number, signal: number): void {
  check("tgkill", cTgkill(getpid(), tid, signal) as number);
}

/** An eventfd (close-on-exec; non-blocking unless `blocking`) with counter `initial`. */
export function eventfd(initial = 0, blocking = false): number {
  return check("eventfd", cEventfd(initial, EFD_CLOEXEC | (blocking ? 0 : EFD_NONBLOCK)) as number);
}

/** Reads and resets an eventfd's counter; 0n when it is zero (non-blocking eventfd). */
export function eventfdRead(fd: number): bigint {
  const b = Buffer.alloc(8);
  const r = Number(cRead(fd, b, 8));
  if (r < 0) {
    const e = koffi.errno();
    if (e === constants.errno.EAGAIN) return 0n;
    throw new SysError("read eventfd", e);
  }
  return b.readBigUInt64LE(0);
}

/** Adds `value` (> 0) to an eventfd's counter (signals it). */
export function eventfdWrite(fd: number, value = 1n): void {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(value);
  check("write eventfd", Number(cWrite(fd, b, 8)));
}

export const FALLOC_FL_KEEP_SIZE = 1;
export const FALLOC_FL_PUNCH_HOLE = 2;
export const FALLOC_FL_ZERO_RANGE = 0x10;

/** fallocate(2) on an open file: punch holes or zero ranges (disk discard, write-zeroes). */
export function fallocate(fd: number, mode: number, offset: number, len: number): void {
  check("fallocate", cFallocate(fd, mode, offset, len) as number);
}

const SEEK_DATA = 3;
const SEEK_HOLE = 4;
const ENXIO = constants.errno.ENXIO;

/**
 * lseek(2) SEEK_DATA: the first offset at or after `from` of `fd` that holds data, or undefined
 * when none does (ENXIO: only holes up to the end).
 */
export function seekData(fd: number, from: number): number | undefined {
  const r = Number(cLseek(fd, from, SEEK_DATA));
  if (r >= 0) return r;
  const e = koffi.errno();
  if (e === ENXIO) return undefined;
  throw new SysError("lseek SEEK_DATA", e);
}

/** lseek(2) SEEK_HOLE: the first hole at or after `from` (the file's end is one). */
export function seekHole(fd: number, from: number): number {
  return check("lseek SEEK_HOLE", Number(cLseek(fd, from, SEEK_HOLE)));
}

/** _IOW(0x94, 9, int): the file system shares `src`'s extents with `dst` (a reflink). */
const FICLONE = 0x40049409;

/**
 * ioctl FICLONE: `dst` becomes a copy-on-write clone of all of `src`. False where the file
 * system cannot (ext4, tmpfs: EOPNOTSUPP/EINVAL; two file systems: EXDEV); other errors throw.
 */
export function ficlone(dst: number, src: number): boolean {
  if (Number(cIoctlInt(dst, FICLONE, src)) === 0) return true;
  const e = koffi.errno();
  const cannot = [constants.errno.EOPNOTSUPP, constants.errno.EINVAL, constants.errno.EXDEV];
  if (cannot.includes(e) || e === constants.errno.ENOTTY) return false;
  throw new SysError("ioctl FICLONE", e);
}

export const F_RDLCK = 0;
export const F_WRLCK = 1;
export const F_UNLCK = 2;
const F_OFD_GETLK = 36;
const F_OFD_SETLK = 37;

/** struct flock on x86-64 and arm64: short type, short whence, off_t start, off_t len, pid_t pid. */
function flockStruct(type: number, start: number, len: number): Buffer {
  const b = Buffer.alloc(32);
  b.writeInt16LE(type, 0); // l_whence 0: SEEK_SET
  b.writeBigInt64LE(BigInt(start), 8);
  b.writeBigInt64LE(BigInt(len), 16);
  return b;
}

/**
 * Takes (F_RDLCK, F_WRLCK) or drops (F_UNLCK) an open file description lock on `len` bytes at
 * `start` of an open file, without waiting (F_OFD_SETLK). The lock belongs to the open file:
 * the kernel drops it when the last fd to it is closed. Returns false when another open file
 * holds a conflicting lock there.
 */
export function ofdLock(fd: number, type: number, start: number, len: number): boolean {
  if (Number(cFcntlPtr(fd, F_OFD_SETLK, flockStruct(type, start, len))) === 0) return true;
  const e = koffi.errno();
  if (e === constants.errno.EAGAIN || e === constants.errno.EACCES) return false;
  throw new SysError("fcntl F_OFD_SETLK", e);
}

/**
 * Whether another open file holds a lock on those bytes that would conflict with taking
 * `type` there (F_OFD_GETLK); this open file's own locks never conflict.
 */
export function ofdLockedByOther(fd: number, type: number, start: number, len: number): boolean {
  const b = flockStruct(type, start, len);
  check("fcntl F_OFD_GETLK", cFcntlPtr(fd, F_OFD_GETLK, b) as number);
  return b.readInt16LE(0) !== F_UNLCK;
}

const LOCK_EX = 2;
const LOCK_NB = 4;
const EWOULDBLOCK = constants.errno.EWOULDBLOCK;

/**
 * flock(2) LOCK_EX | LOCK_NB: an exclusive lock on the open file `fd`, held until every
 * descriptor of that open file is closed (or the process ends). The kernel arbitrates: of two
 * callers at the same instant, one gets it. False when another open file holds it.
 */
export function tryLockExclusive(fd: number): boolean {
  if ((cFlock(fd, LOCK_EX | LOCK_NB) as number) === 0) return true;
  const e = koffi.errno();
  if (e === EWOULDBLOCK) return false;
  throw new SysError("flock", e);
}

export const EPOLLIN = 0x001;
export const EPOLLONESHOT = 1 << 30;
const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_DEL = 2;
const EPOLL_CTL_MOD = 3;
const EPOLL_CLOEXEC = 0o2000000;
/** struct epoll_event on x86-64 is packed: u32 events, u64 data (12 bytes). */
export const EPOLL_EVENT_SIZE = 12;

export function epollCreate(): number {
  return check("epoll_create1", cEpollCreate1(EPOLL_CLOEXEC) as number);
}

/** Adds, re-arms (`mod`) or removes `fd` in an epoll set; the event's data is the fd itself. */
export function epollCtl(epfd: number, op: "add" | "mod" | "del", fd: number, events = 0): void {
  const ev = Buffer.alloc(EPOLL_EVENT_SIZE);
  ev.writeUInt32LE(events >>> 0, 0);
  ev.writeBigUInt64LE(BigInt(fd), 4);
  const code = op === "add" ? EPOLL_CTL_ADD : op === "mod" ? EPOLL_CTL_MOD : EPOLL_CTL_DEL;
  check(`epoll_ctl ${op}`, cEpollCtl(epfd, code, fd, ev) as number);
}

/** Waits for events; returns the ready fds. Blocks: call it from a worker thread only. */
export function epollWait(epfd: number, buf: Buffer, timeoutMs: number): number[] {
  const max = Math.floor(buf.length / EPOLL_EVENT_SIZE);
  const n = cEpollWait(epfd, buf, max, timeoutMs) as number;
  if (n < 0) {
    const e = koffi.errno();
    if (e === constants.errno.EINTR) return [];
    throw new SysError("epoll_wait", e);
  }
  const fds: number[] = [];
  for (let i = 0; i < n; i++) fds.push(Number(buf.readBigUInt64LE(i * EPOLL_EVENT_SIZE + 4)));
  return fds;
}

/**
 * One read(2) from a non-blocking fd into `buf` (a TAP device hands one frame per read).
 * Returns the byte count, or -1 when nothing is waiting (EAGAIN).
 */
export function readNonblock(fd: number, buf: Uint8Array): number {
  const r = Number(cRead(fd, buf, buf.length));
  if (r >= 0) return r;
  const e = koffi.errno();
  if (e === constants.errno.EAGAIN) return -1;
  throw new SysError("read", e);
}

/** One write(2) of all of `buf` to a non-blocking fd; -1 when it would block (EAGAIN). */
export function writeNonblock(fd: number, buf: Uint8Array): number {
  const r = Number(cWrite(fd, buf, buf.length));
  if (r >= 0) return r;
  const e = koffi.errno();
  if (e === constants.errno.EAGAIN) return -1;
  throw new SysError("write", e);
}

export const AF_INET = 2;
export const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;

/** socket(2), close-on-exec (moat uses an AF_INET datagram socket for interface ioctls). */
export function socketFd(domain: number, type: number): number {
  return check("socket", cSocket(domain, type | SOCK_CLOEXEC, 0) as number);
}

/**
 * Who is at the other end of a connected Unix socket: the pid, uid and gid the kernel recorded
 * when that end was made (SO_PEERCRED), which the peer cannot forge.
 */
export function peerCredentials(fd: number): { pid: number; uid: number; gid: number } {
  const cred = Buffer.alloc(12);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(12);
  const SOL_SOCKET = 1;
  const SO_PEERCRED = 17;
  check("getsockopt SO_PEERCRED", cGetsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, len) as number);
  return { pid: cred.readInt32LE(0), uid: cred.readUInt32LE(4), gid: cred.readUInt32LE(8) };
}

const SYS_PIDFD_OPEN = 434;
/** _IOWR(PIDFS_IOCTL_MAGIC 0xFF, 11, struct pidfd_info) (64 bytes, its first version). */
const PIDFD_GET_INFO = 0xc040ff0b;
const PIDFD_INFO_EXIT = 1n << 3n;
const PIDFD_INFO_SIZE = 64;
const PIDFD_INFO_EXIT_CODE = 60;

/** A pidfd for `pid` (close-on-exec): it names that process, never one that reuses its PID. */
export function pidfdOpen(pid: number): number {
  return check(`pidfd_open ${pid}`, Number(cSyscall3(SYS_PIDFD_OPEN, pid, 0, null)));
}

/**
 * The wait status (as waitpid(2) gives it) of the process behind `pidfd`, once it has ended and
 * been reaped by its parent, whoever that is; undefined before, or where the kernel keeps no
 * exit information (PIDFD_INFO_EXIT: Linux 6.15 and later).
 */
export function pidfdExitStatus(pidfd: number): number | undefined {
  const info = Buffer.alloc(PIDFD_INFO_SIZE);
  info.writeBigUInt64LE(PIDFD_INFO_EXIT, 0);
  if ((cIoctlPtr(pidfd, PIDFD_GET_INFO, info) as number) < 0) return undefined;
  if ((info.readBigUInt64LE(0) & PIDFD_INFO_EXIT) === 0n) return undefined;
  return info.readInt32LE(PIDFD_INFO_EXIT_CODE);
}

export const MADV_DONTNEED = 4;
/** Lets KSM merge identical pages of the range (private anonymous memory only). */
export const MADV_MERGEABLE = 12;

/** The host address of a view's first byte (a zero-length memmove returns its destination). */
function addrOf(bytes: Uint8Array): bigint {
  return BigInt(koffi.address(cMemmove(bytes, bytes, 0)));
}

const PAGE = 4096;

/** The pages wholly inside `bytes`, or undefined if there is none. */
function wholePages(bytes: Uint8Array): Uint8Array | undefined {
  const start = (PAGE - Number(addrOf(bytes) % BigInt(PAGE))) % PAGE;
  const len = Math.floor((bytes.length - start) / PAGE) * PAGE;
  return len > 0 ? bytes.subarray(start, start + len) : undefined;
}

/**
 * madvise(2) over the pages wholly inside `bytes` (guest RAM): MADV_DONTNEED gives them back to
 * the host; the next guest access finds zeros. Bound: only whole pages inside the view.
 */
export function madviseRange(bytes: Uint8Array, advice: number): void {
  const p = wholePages(bytes);
  if (p) check("madvise", cMadvise(p, p.length, advice) as number);
}

const MLOCK_ONFAULT = 1;

/**
 * mlock2(2) with MLOCK_ONFAULT over the pages wholly inside `bytes` (guest RAM): resident pages
 * are locked now, the others as they are first touched, so none is ever written to swap.
 * Bound: only whole pages inside the view; RLIMIT_MEMLOCK unless privileged.
 */
export function lockRange(bytes: Uint8Array): void {
  const p = wholePages(bytes);
  if (p) check("mlock2", cMlock2(p, p.length, MLOCK_ONFAULT) as number);
}

/** Bound: CPU numbers below this fit the affinity masks moat passes (glibc's cpu_set_t). */
export const CPU_SETSIZE = 1024;

/**
 * The CPUs thread (or process) `tid` may run on; 0 is the calling thread. Bound: CPUs below
 * CPU_SETSIZE.
 */
export function schedGetaffinity(tid: number): number[] {
  const mask = Buffer.alloc(CPU_SETSIZE / 8);
  check("sched_getaffinity", cSchedGetaffinity(tid, mask.length, mask) as number);
  const cpus: number[] = [];
  for (let cpu = 0; cpu < CPU_SETSIZE; cpu++)
    if (mask[cpu >> 3]! & (1 << (cpu & 7))) cpus.push(cpu);
  return cpus;
}

/**
 * Restricts thread `tid` (a kernel thread id of this process) to `cpus`. Bound: each CPU a whole
 * number below CPU_SETSIZE; an empty set is refused (EINVAL).
 */
export function schedSetaffinity(tid: number, cpus: readonly number[]): void {
  const mask = Buffer.alloc(CPU_SETSIZE / 8);
  for (const cpu of cpus) {
    if (!Number.isInteger(cpu) || cpu < 0 || cpu >= CPU_SETSIZE)
      throw new SysError(`sched_setaffinity cpu ${cpu}`, constants.errno.EINVAL);
    mask[cpu >> 3] |= 1 << (cpu & 7);
  }
  if (cpus.length === 0) throw new SysError("sched_setaffinity", constants.errno.EINVAL);
  check(`sched_setaffinity tid ${tid}`, cSchedSetaffinity(tid, mask.length, mask) as number);
}

const PR_SET_NO_NEW_PRIVS = 38;
const SYS_SECCOMP = 317; // x86-64
const SECCOMP_SET_MODE_FILTER = 1;
const SECCOMP_FILTER_FLAG_TSYNC = 1;
const SECCOMP_FILTER_FLAG_LOG = 2;

/** No execve may ever raise this process's privileges again (setuid bits, file caps). */
export function setNoNewPrivs(): void {
  check("prctl(PR_SET_NO_NEW_PRIVS)", cPrctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) as number);
}

/**
 * Installs a seccomp BPF filter (struct sock_filter[] in `filter`) on every thread of this
 * process at once (TSYNC): threads started later inherit it. Needs no_new_privs (set here).
 * `log`: the kernel also logs the actions the filter takes other than allow. Bound: the
 * kernel's (4096 instructions); a thread in another filter state fails the whole call.
 */
export function installSeccomp(filter: Buffer, log = false): void {
  if (process.arch !== "x64") throw new SysError("seccomp (filters are built for x86-64)", 95);
  setNoNewPrivs();
  // struct sock_fprog { unsigned short len; struct sock_filter *filter; } (padding to 8).
  const prog = Buffer.alloc(16);
  prog.writeUInt16LE(filter.length / 8, 0);
  prog.writeBigUInt64LE(addrOf(filter), 8);
  const flags = SECCOMP_FILTER_FLAG_TSYNC | (log ? SECCOMP_FILTER_FLAG_LOG : 0);
  const r = Number(cSyscall3(SYS_SECCOMP, SECCOMP_SET_MODE_FILTER, flags, prog));
  // With TSYNC, a positive result is the id of a thread that could not be synchronised.
  if (r > 0) throw new SysError(`seccomp: thread ${r} could not take the filter`, 16);
  check("seccomp", r);
}

/**
 * A raw system call with up to six plain-number arguments; returns the result or -errno. For
 * probes that check what a filter or jail lets through (pointers can only be 0 here).
 */
export function rawSyscall(nr: number, ...args: number[]): number {
  const a = [...args, 0, 0, 0, 0, 0, 0].slice(0, 6);
  const r = Number(cSyscall6(nr, a[0], a[1], a[2], a[3], a[4], a[5]));
  return r < 0 ? -koffi.errno() : r;
}

/** Becomes uid:gid on every thread, with no supplementary groups; root loses its capabilities. */
export function becomeUser(uid: number, gid: number): void {
  check("setgroups", cSetgroups(0, null) as number);
  check("setresgid", cSetresgid(gid, gid, gid) as number);
  check("setresuid", cSetresuid(uid, uid, uid) as number);
}

export const RLIMIT_CORE = 4;
export const RLIMIT_NPROC = 6;
export const RLIMIT_NOFILE = 7;

/** Sets soft and hard limit of `resource` (process-wide). */
export function setRlimit(resource: number, limit: number): void {
  const b = Buffer.alloc(16);
  b.writeBigUInt64LE(BigInt(limit), 0);
  b.writeBigUInt64LE(BigInt(limit), 8);
  check(`setrlimit(${resource})`, cSetrlimit(resource, b) as number);
}

const PR_SET_DUMPABLE = 4;

/** Not dumpable: no core file, /proc/PID owned by root, no ptrace by the same uid. */
export function setNotDumpable(): void {
  check("prctl(PR_SET_DUMPABLE)", cPrctl(PR_SET_DUMPABLE, 0, 0, 0, 0) as number);
}

export const MS_RDONLY = 1;
export const MS_NOSUID = 2;
export const MS_NODEV = 4;
export const MS_NOEXEC = 8;
export const MS_REMOUNT = 32;
export const MS_BIND = 4096;
export const MS_REC = 16384;
export const MS_PRIVATE = 1 << 18;
export const MNT_DETACH = 2;
const SYS_PIVOT_ROOT = 155; // x86-64

/** mount(2); `data` is the file system's option string. */
export function mount(
  src: string | null,
  target: string,
  fstype: string | null,
  flags: number,
  data: string | null = null,
): void {
  check(`mount ${target}`, cMount(src, target, fstype, flags, data) as number);
}

export function umount2(target: string, flags: number): void {
  check(`umount ${target}`, cUmount2(target, flags) as number);
}

/** pivot_root(2): `newRoot` becomes / of this mount namespace, the old root moves to `putOld`. */
export function pivotRoot(newRoot: string, putOld: string): void {
  if (process.arch !== "x64") throw new SysError("pivot_root (x86-64 only)", 95);
  const r = Number(cSyscallStr2(SYS_PIVOT_ROOT, newRoot, putOld));
  check("pivot_root", r);
}

/** Sets this UTS namespace's host name. Bound: the kernel's 64 bytes. */
export function setHostname(name: string): void {
  const b = Buffer.from(name);
  check("sethostname", cSethostname(name, b.length) as number);
}

const PR_SET_PDEATHSIG = 1;

/**
 * `signal` to this process when its parent dies. The kernel clears it when the uids change,
 * so a jailed VM sets it again after dropping them.
 */
export function setParentDeathSignal(signal: number): void {
  check("prctl(PR_SET_PDEATHSIG)", cPrctl(PR_SET_PDEATHSIG, signal, 0, 0, 0) as number);
}

const SYS_OPENAT2 = 437;
const AT_FDCWD = -100;
const O_PATH = 0o10000000;
const RESOLVE_NO_SYMLINKS = 0x04;

/**
 * An O_PATH descriptor of the absolute `path` opened with openat2 RESOLVE_NO_SYMLINKS: the
 * kernel refuses (ELOOP) a symbolic link in any component, the last included, in the same
 * call that finds the file, so nothing can be swapped between a check and the use.
 */
export function openPathNoLinks(path: string): number {
  const how = Buffer.alloc(24); // struct open_how: u64 flags, u64 mode, u64 resolve
  how.writeBigUInt64LE(BigInt(O_PATH | O_CLOEXEC), 0);
  how.writeBigUInt64LE(BigInt(RESOLVE_NO_SYMLINKS), 16);
  return check(
    `openat2 ${path}`,
    Number(cOpenat2(SYS_OPENAT2, AT_FDCWD, path, how, how.length) as number | bigint),
  );
}
