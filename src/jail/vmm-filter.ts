// The seccomp filter of a VM process (x86-64 hosts): an allow-list of the system calls Node
// and the VMM make once the VM is set up, each with why; a few allowed only with safe
// arguments; everything else kills the process (or, in log mode, is logged by the kernel and
// allowed, to find what a new code path needs). Built from strace of `moat run` with every
// device, on both accelerators, plus the calls of paths that run later (stop, console log
// rotation, disk discard, vCPU kicks).
import { jeq, jset, load, ret, type BpfInsn } from "./bpf.js";

// struct seccomp_data: nr at 0, arch at 4, args[i] at 16 + 8 i (little-endian: low word first).
const NR = 0;
const ARCH = 4;
const argLo = (i: number): number => 16 + 8 * i;
const argHi = (i: number): number => 20 + 8 * i;

const AUDIT_ARCH_X86_64 = 0xc000003e;
/** x32 system calls have this bit in nr; moat never makes them. */
const X32_BIT = 0x40000000;

export const RET_KILL_PROCESS = 0x80000000;
export const RET_ERRNO = 0x00050000;
export const RET_LOG = 0x7ffc0000;
export const RET_ALLOW = 0x7fff0000;
const EPERM = 1;
const ENOSYS = 38;
const AF_UNIX = 1;
const CLONE_THREAD = 0x10000;

/** x86-64 system call numbers (arch/x86/entry/syscalls/syscall_64.tbl). */
export const SYS = {
  read: 0,
  write: 1,
  open: 2,
  close: 3,
  stat: 4,
  fstat: 5,
  lstat: 6,
  poll: 7,
  lseek: 8,
  mmap: 9,
  mprotect: 10,
  munmap: 11,
  brk: 12,
  rt_sigaction: 13,
  rt_sigprocmask: 14,
  rt_sigreturn: 15,
  ioctl: 16,
  pread64: 17,
  pwrite64: 18,
  readv: 19,
  writev: 20,
  access: 21,
  sched_yield: 24,
  mremap: 25,
  msync: 26,
  madvise: 28,
  dup: 32,
  dup2: 33,
  nanosleep: 35,
  getpid: 39,
  socket: 41,
  connect: 42,
  sendto: 44,
  recvfrom: 45,
  sendmsg: 46,
  recvmsg: 47,
  shutdown: 48,
  bind: 49,
  listen: 50,
  getsockname: 51,
  getpeername: 52,
  socketpair: 53,
  setsockopt: 54,
  getsockopt: 55,
  clone: 56,
  fork: 57,
  vfork: 58,
  execve: 59,
  exit: 60,
  wait4: 61,
  kill: 62,
  uname: 63,
  fcntl: 72,
  fsync: 74,
  fdatasync: 75,
  ftruncate: 77,
  getcwd: 79,
  rename: 82,
  mkdir: 83,
  unlink: 87,
  readlink: 89,
  chmod: 90,
  fchmod: 91,
  gettimeofday: 96,
  getrusage: 98,
  sysinfo: 99,
  times: 100,
  ptrace: 101,
  getuid: 102,
  getgid: 104,
  geteuid: 107,
  getegid: 108,
  getppid: 110,
  setrlimit: 160,
  capget: 125,
  sigaltstack: 131,
  statfs: 137,
  fstatfs: 138,
  getpriority: 140,
  prctl: 157,
  arch_prctl: 158,
  pivot_root: 155,
  chroot: 161,
  mount: 165,
  umount2: 166,
  reboot: 169,
  init_module: 175,
  delete_module: 176,
  gettid: 186,
  futex: 202,
  sched_setaffinity: 203,
  sched_getaffinity: 204,
  getdents64: 217,
  set_tid_address: 218,
  restart_syscall: 219,
  clock_gettime: 228,
  clock_getres: 229,
  clock_nanosleep: 230,
  exit_group: 231,
  epoll_wait: 232,
  epoll_ctl: 233,
  tgkill: 234,
  kexec_load: 246,
  add_key: 248,
  request_key: 249,
  keyctl: 250,
  openat: 257,
  mkdirat: 258,
  newfstatat: 262,
  unlinkat: 263,
  renameat: 264,
  readlinkat: 267,
  faccessat: 269,
  ppoll: 271,
  unshare: 272,
  set_robust_list: 273,
  epoll_pwait: 281,
  accept4: 288,
  fallocate: 285,
  eventfd2: 290,
  epoll_create1: 291,
  dup3: 292,
  pipe2: 293,
  perf_event_open: 298,
  prlimit64: 302,
  setns: 308,
  process_vm_readv: 310,
  process_vm_writev: 311,
  finit_module: 313,
  renameat2: 316,
  getrandom: 318,
  memfd_create: 319,
  kexec_file_load: 320,
  bpf: 321,
  execveat: 322,
  userfaultfd: 323,
  membarrier: 324,
  pkey_mprotect: 329,
  pkey_alloc: 330,
  pkey_free: 331,
  statx: 332,
  rseq: 334,
  clone3: 435,
  faccessat2: 439,
  epoll_pwait2: 441,
} as const;

type Name = keyof typeof SYS;

/** Allowed with any arguments, each with why. */
const ALLOWED: [Name[], string][] = [
  [
    ["read", "write", "readv", "writev", "pread64", "pwrite64", "lseek"],
    "file, socket and disk I/O",
  ],
  [
    ["open", "openat", "close", "dup", "dup2", "dup3", "fcntl"],
    "files (the jail's mount namespace bounds which)",
  ],
  [
    ["stat", "fstat", "lstat", "newfstatat", "statx", "access", "faccessat", "faccessat2"],
    "Node's module loader and fs checks",
  ],
  [
    ["readlink", "readlinkat", "getcwd", "getdents64", "statfs", "fstatfs"],
    "workers read /proc/thread-self; module resolution",
  ],
  [["fsync", "fdatasync", "ftruncate", "fallocate"], "virtio-blk flush, discard and write-zeroes"],
  [
    ["rename", "renameat", "renameat2", "unlink", "unlinkat", "chmod", "fchmod"],
    "console log rotation, exit file, sockets made 0600",
  ],
  [["mkdir", "mkdirat"], "the control op snapshot makes its snapshot's directory (0700)"],
  [
    ["mmap", "munmap", "mremap", "mprotect", "madvise", "msync", "brk"],
    "V8 heaps and JIT code, guest RAM, balloon page release (MADV_DONTNEED), KSM",
  ],
  [
    ["pkey_alloc", "pkey_mprotect", "pkey_free"],
    "V8 protects its JIT code with memory protection keys",
  ],
  [
    ["futex", "set_robust_list", "rseq", "membarrier", "sched_yield"],
    "threads: Atomics.wait, worker synchronisation",
  ],
  [["sched_getaffinity", "sched_setaffinity"], "vCPU pinning (--pin-cpus)"],
  [
    ["rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "restart_syscall"],
    "signal handlers: the vCPU kick, SIGTERM",
  ],
  [
    ["epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2", "poll", "ppoll"],
    "libuv's event loop; moat's I/O thread",
  ],
  [["eventfd2", "pipe2"], "libuv wake-ups, ioeventfd/irqfd"],
  [["ioctl"], "KVM, TAP and terminal control (the fds a jailed VMM holds bound what it reaches)"],
  [
    [
      "connect",
      "accept4",
      "bind",
      "listen",
      "sendto",
      "recvfrom",
      "sendmsg",
      "recvmsg",
      "shutdown",
      "getsockname",
      "getpeername",
      "setsockopt",
      "getsockopt",
      "socketpair",
    ],
    "Unix sockets: control, console, vsock (socket() itself is AF_UNIX only)",
  ],
  [
    [
      "getpid",
      "gettid",
      "getuid",
      "getgid",
      "geteuid",
      "getegid",
      "getppid",
      "capget",
      "uname",
      "sysinfo",
      "getrusage",
      "times",
      "getpriority",
    ],
    "process facts Node reads",
  ],
  [
    ["clock_gettime", "clock_getres", "clock_nanosleep", "gettimeofday", "nanosleep"],
    "time (outside the vDSO), timers",
  ],
  [["getrandom"], "crypto.randomBytes (MACs), V8 hash seeds"],
  [["set_tid_address", "arch_prctl"], "new threads' set-up"],
  [["exit", "exit_group"], "thread and process exit"],
];

export interface FilterOptions {
  /** Log (and allow) what is not allowed, instead of killing: for finding what a path needs. */
  log?: boolean;
  /** This process's PID: signals go only to its own threads. */
  pid: number;
}

/**
 * The VMM's filter as a BPF program. Bound: the program stays far under BPF_MAXINSNS; each
 * allowed call costs two instructions, each conditional one a few more.
 */
export function vmmFilter(o: FilterOptions): BpfInsn[] {
  const deny = o.log ? RET_LOG : RET_KILL_PROCESS;
  const p: BpfInsn[] = [
    load(ARCH),
    jeq(AUDIT_ARCH_X86_64, 1, 0),
    ret(RET_KILL_PROCESS), // another ABI (i386 through int 0x80): never
    load(NR),
    jset(X32_BIT, 0, 1),
    ret(RET_KILL_PROCESS),
  ];
  const allow = (nr: number): void => {
    p.push(jeq(nr, 0, 1), ret(RET_ALLOW));
  };
  for (const [names] of ALLOWED) for (const n of names) allow(SYS[n]);
  // socket(): AF_UNIX only. No TCP, UDP, netlink or raw sockets from a VMM (TAP fds are
  // opened before the filter). EPERM rather than a kill: a library probing for IPv6 fails
  // cleanly.
  p.push(
    jeq(SYS.socket, 0, 4),
    load(argLo(0)),
    jeq(AF_UNIX, 0, 1),
    ret(RET_ALLOW),
    ret(RET_ERRNO | EPERM),
  );
  p.push(load(NR));
  // clone(): threads only (CLONE_THREAD); a new process is a fork the VMM never makes.
  p.push(jeq(SYS.clone, 0, 4), load(argLo(0)), jset(CLONE_THREAD, 0, 1), ret(RET_ALLOW), ret(deny));
  p.push(load(NR));
  // clone3() keeps its flags in memory a filter cannot read: ENOSYS makes glibc use clone().
  p.push(jeq(SYS.clone3, 0, 1), ret(RET_ERRNO | ENOSYS));
  // tgkill(): only to this process's own threads (the vCPU kick); never another process.
  p.push(jeq(SYS.tgkill, 0, 4), load(argLo(0)), jeq(o.pid, 0, 1), ret(RET_ALLOW), ret(deny));
  p.push(load(NR));
  // prlimit64(): reading limits only (new_limit NULL); raising one is refused.
  p.push(
    jeq(SYS.prlimit64, 0, 6),
    load(argLo(2)),
    jeq(0, 0, 3),
    load(argHi(2)),
    jeq(0, 0, 1),
    ret(RET_ALLOW),
    ret(deny),
  );
  p.push(load(NR));
  // prctl(): naming threads (PR_SET_NAME = 15) only.
  p.push(jeq(SYS.prctl, 0, 4), load(argLo(0)), jeq(15, 0, 1), ret(RET_ALLOW), ret(deny));
  p.push(ret(deny));
  return p;
}

/** The names of the calls the filter allows unconditionally (for docs and tests). */
export function allowedCalls(): string[] {
  return ALLOWED.flatMap(([names]) => names);
}
