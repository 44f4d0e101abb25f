// The guest workloads of `npm run bench` (bench/boot.ts): each is a shell command the shipped
// riscv64 guest runs with bench/guest/wl (a static program without a C library, built by
// bench/guest/build.sh) at /bench/wl. The guest times the workload with its own clock and prints
// "WL <name> <ns> <check>"; moat and QEMU must print the same check.
//
// Sizes: each takes 1-5 s on moat's interpreter on the project's 2-core machine, long enough
// that the guest clock's and the machine's noise are small against it.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { buildCpio, concatArchives } from "../src/boot/initramfs.js";
import { shippedInitrd } from "../src/boot/shipped-guest.js";

const WL = fileURLToPath(new URL("../../bench/guest/wl", import.meta.url));
const WL_SHA256 = fileURLToPath(new URL("../../bench/guest/wl.sha256", import.meta.url));

export interface Workload {
  name: string;
  /** What it measures, for the table. */
  what: string;
  /** The guest's shell command; prints one WL line for `name`. */
  script: string;
  /** The check every run must print, when it is known in advance (a count, an exit status). */
  expect?: string;
}

const INT_ITERS = 24_000_000;
const FP_ITERS = 8_000_000;
const SORT_LINES = 150_000;
const HASH_LINES = 500_000; // 21 bytes each: 10.5 MB
const SYSCALLS = 600_000;
const FORKS = 1200;
const FAULT_MIB = 64;
const FAULT_ROUNDS = 6;

export const WORKLOADS: readonly Workload[] = [
  {
    name: "int",
    what: `integer loop (xorshift, mul, table, branches, div), ${INT_ITERS / 1e6} M iterations`,
    script: `/bench/wl int ${INT_ITERS}`,
  },
  {
    name: "sort",
    what: `busybox sort of ${SORT_LINES / 1000}k random 20-letter lines (tmpfs)`,
    script: `/bench/wl lines ${SORT_LINES} 1 >/tmp/in && /bench/wl run sort /bin/sort -o /tmp/out /tmp/in`,
    expect: "0",
  },
  {
    name: "sha256",
    what: `busybox sha256sum of ${((HASH_LINES * 21) / 1e6).toFixed(1)} MB (tmpfs)`,
    script: `/bench/wl lines ${HASH_LINES} 2 >/tmp/in && /bench/wl run sha256 /bin/sha256sum /tmp/in`,
    expect: "0",
  },
  {
    name: "fp",
    what: `double-precision loop (fmul, fadd, fdiv, fsqrt, fcvt, fld/fsd), ${FP_ITERS / 1e6} M iterations`,
    script: `/bench/wl fp ${FP_ITERS}`,
  },
  {
    name: "syscall",
    what: `${SYSCALLS / 1000}k x (getppid + 1-byte write to /dev/null)`,
    script: `/bench/wl syscall ${SYSCALLS}`,
    expect: String(SYSCALLS),
  },
  {
    name: "forkexec",
    what: `${FORKS} x (fork, exec a static program, exit, wait)`,
    script: `/bench/wl forkexec ${FORKS}`,
    expect: String(FORKS),
  },
  {
    name: "pagefault",
    what: `${FAULT_ROUNDS} x (mmap ${FAULT_MIB} MiB, write each 4 KiB page, munmap): ${FAULT_ROUNDS * FAULT_MIB * 256} faults`,
    script: `/bench/wl pagefault ${FAULT_MIB} ${FAULT_ROUNDS}`,
  },
];

export interface WlResult {
  ns: number;
  check: string;
}

/** The WL line of workload `name` in a run's output. */
export function parseWl(name: string, out: string): WlResult {
  const m = new RegExp(`^WL ${name} (\\d+) (\\d+)\\r?$`, "m").exec(out);
  if (!m) throw new Error(`no "WL ${name}" line in the guest's output:\n${out.slice(-1500)}`);
  return { ns: Number(m[1]), check: m[2]! };
}

/**
 * The shipped initramfs with /bench/wl added, checked against wl.sha256 first: the bench runs
 * only the recorded build.
 */
export function workloadInitrd(): Uint8Array {
  const wl = readFileSync(WL);
  const want = readFileSync(WL_SHA256, "latin1").split(/\s/)[0];
  const have = createHash("sha256").update(wl).digest("hex");
  if (have !== want)
    throw new Error(
      `bench/guest/wl's SHA-256 is ${have}, bench/guest/wl.sha256 records ${want}: ` +
        "rebuild it with bench/guest/build.sh (or record a change with --update)",
    );
  const overlay = buildCpio([
    { name: "bench", data: new Uint8Array(0), mode: 0o40755 },
    { name: "bench/wl", data: wl, mode: 0o100755 },
  ]);
  return concatArchives([shippedInitrd(), overlay]);
}
