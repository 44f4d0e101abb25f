// Boot time and CPU speed: moat's soft CPU against QEMU's TCG (Debian's qemu-system-riscv64),
// same kernel, initramfs and command line, measured in the same run. Prints medians and ratios.
//
//   npm run bench [-- --runs N]
//
// Boot: time from process spawn until the guest command's first output line appears (the
// command is `echo MARK`, run by /init right after userspace starts), median of N runs.
// CPU: the guest times a CPU-bound command itself (md5sum of 16 MiB) with its own clock.
import { spawn } from "node:child_process";
import { writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { commandArchive } from "../src/boot/initramfs.js";
import { DEFAULT_CMDLINE, shippedInitrd, shippedKernel } from "../src/boot/shipped-guest.js";

const MOAT = fileURLToPath(new URL("../../bin/moat.js", import.meta.url));
const runsArg = process.argv.indexOf("--runs");
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 5;
// Busybox's date has no %N: the guest's /proc/uptime gives centiseconds (awk, because a
// leading zero would make the shell read "009" as a bad octal number).
const UPTIME_CS = "$(awk '{printf \"%d\", $1 * 100}' /proc/uptime)";
const CPU_CMD =
  `s=${UPTIME_CS}; dd if=/dev/zero bs=65536 count=256 2>/dev/null | md5sum >/dev/null; ` +
  `e=${UPTIME_CS}; echo CPU-CS $((e-s))`;

interface Sample {
  markMs: number;
  totalMs: number;
  out: string;
}

function timeProcess(cmd: string, args: string[], marker: RegExp): Promise<Sample> {
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

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function qemuArgs(kernel: string, initrd: string): string[] {
  return [
    "-M",
    "virt",
    "-m",
    "256",
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

function withCommand(dir: string, name: string, argv: string[]): string {
  const base = shippedInitrd();
  const extra = commandArchive({ argv, pipedInput: true, pipedOutput: true });
  const out = new Uint8Array(Math.ceil(base.length / 4) * 4 + extra.length);
  out.set(base, 0);
  out.set(extra, out.length - extra.length);
  const path = join(dir, name);
  writeFileSync(path, out);
  return path;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "moat-bench-"));
  try {
    // QEMU's riscv64 loader takes no gzipped Image: give it the inflated one moat boots.
    const kernel = join(dir, "Image");
    writeFileSync(kernel, shippedKernel());
    const markInitrd = withCommand(dir, "mark.cpio", ["echo", "MARK"]);
    const cpuInitrd = withCommand(dir, "cpu.cpio", ["sh", "-c", CPU_CMD]);
    const moatBoot: number[] = [];
    const qemuBoot: number[] = [];
    const moatCpu: number[] = [];
    const qemuCpu: number[] = [];
    const cpuNs = (s: Sample): number => {
      const m = /CPU-CS (\d+)/.exec(s.out);
      if (!m) throw new Error(`no CPU-CS in output:\n${s.out.slice(-1000)}`);
      return Number(m[1]) * 10;
    };
    for (let i = 0; i < RUNS; i++) {
      // Interleave the two so that machine noise hits both alike.
      moatBoot.push(
        (await timeProcess(process.execPath, [MOAT, "run", "--", "echo", "MARK"], /MARK/)).markMs,
      );
      qemuBoot.push(
        (await timeProcess("qemu-system-riscv64", qemuArgs(kernel, markInitrd), /MARK/)).markMs,
      );
      moatCpu.push(
        cpuNs(
          await timeProcess(
            process.execPath,
            [MOAT, "run", "--", "sh", "-c", CPU_CMD],
            /CPU-CS \d+/,
          ),
        ),
      );
      qemuCpu.push(
        cpuNs(await timeProcess("qemu-system-riscv64", qemuArgs(kernel, cpuInitrd), /CPU-CS \d+/)),
      );
      process.stderr.write(`run ${i + 1}/${RUNS} done\n`);
    }
    const mb = median(moatBoot);
    const qb = median(qemuBoot);
    const mc = median(moatCpu);
    const qc = median(qemuCpu);
    console.log(
      `boot to userspace (median of ${RUNS}): moat ${mb.toFixed(0)} ms, QEMU TCG ${qb.toFixed(0)} ms, ratio ${(mb / qb).toFixed(2)}`,
    );
    console.log(
      `CPU-bound md5sum 16 MiB (median of ${RUNS}): moat ${mc.toFixed(0)} ms, QEMU TCG ${qc.toFixed(0)} ms, ratio ${(mc / qc).toFixed(2)}`,
    );
    console.log(
      `raw: moat boot ${moatBoot.map((x) => x.toFixed(0)).join(" ")}; qemu boot ${qemuBoot.map((x) => x.toFixed(0)).join(" ")}`,
    );
    console.log(
      `raw: moat cpu ${moatCpu.map((x) => x.toFixed(0)).join(" ")}; qemu cpu ${qemuCpu.map((x) => x.toFixed(0)).join(" ")}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
