// What `npm run bench` (bench/boot.ts) needs to run one guest on moat's soft CPU and on QEMU's
// TCG alike: the two command lines, a timed run of either, the soft CPU tier's option.
import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { DEFAULT_CMDLINE } from "../src/boot/shipped-guest.js";
import { type CpuTier } from "../src/accel/soft/cpu-tier.js";

export const MOAT = fileURLToPath(new URL("../../bin/moat.js", import.meta.url));

/** A bad option of the bench's own: said in one line, no stack. */
export class UsageError extends Error {}

/** A bench's `--runs N`: 1 to 100. */
export function parseRuns(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > 100)
    throw new UsageError(`--runs wants a whole number from 1 to 100, not '${v}'`);
  return n;
}

export interface Sample {
  /** Milliseconds from spawn until `marker` appeared on the output. */
  markMs: number;
  totalMs: number;
  out: string;
}

/** Runs `cmd` to its end; the time from spawn until its output first matches `marker`. */
export function timeProcess(cmd: string, args: string[], marker: RegExp): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let markMs = -1;
    let out = "";
    const p = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    p.stdout.setEncoding("latin1").on("data", (d: string) => {
      out += d;
      if (markMs < 0 && marker.test(out)) markMs = performance.now() - t0;
    });
    p.stderr.setEncoding("latin1").on("data", (d: string) => (out += d));
    const timer = setTimeout(() => p.kill("SIGKILL"), 300_000);
    p.on("error", reject);
    p.on("close", () => {
      clearTimeout(timer);
      if (markMs < 0) reject(new Error(`${cmd}: no marker in output:\n${out.slice(-2000)}`));
      else resolve({ markMs, totalMs: performance.now() - t0, out });
    });
  });
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** QEMU's virt board with the same RAM, harts, kernel, initramfs and command line as moat's. */
export function qemuArgs(kernel: string, initrd: string, memoryMiB = 256): string[] {
  return [
    "-M",
    "virt",
    "-m",
    String(memoryMiB),
    "-smp",
    "1",
    "-nographic",
    "-bios",
    "default",
    "-kernel",
    kernel,
    "-initrd",
    initrd,
    "-append",
    DEFAULT_CMDLINE,
  ];
}

/**
 * The `moat run` options that select the soft CPU's tier. While `moat run` has no --cpu-tier
 * (it is being added for issue 19), the interpreter is its only tier: then nothing is passed
 * for interp and jit is refused. Once every moat has the option, this becomes
 * `["--cpu-tier", tier]`.
 */
export function moatTierArgs(tier: CpuTier): string[] {
  const help = spawnSync(process.execPath, [MOAT, "run", "--help"], { encoding: "utf8" });
  if (/--cpu-tier\b/.test(help.stdout)) return ["--cpu-tier", tier];
  if (tier === "interp") return [];
  throw new UsageError(
    `--cpu-tier ${tier}: this moat has no --cpu-tier option (only the interpreter)`,
  );
}
