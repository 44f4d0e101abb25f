// A whole distribution's boot: the Debian trixie riscv64 image of guest/debian/build.sh (cached;
// built first if missing) from process start to systemd's serial login prompt, on moat's soft
// CPU and on QEMU's TCG (Debian's qemu-system-riscv64), same kernel (the shipped one, no
// initramfs), 2 harts, 512 MiB, the disk on virtio-blk, measured in the same run, alternating.
// Each run boots a fresh sparse copy of the image. Prints medians and the ratio.
//
// Also each VMM's peak RSS (VmHWM) at the prompt.
//
//   npm run bench:debian [-- --runs N] [--cpu-tier interp|jit]
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { shippedKernel } from "../src/boot/shipped-guest.js";
import { median } from "./capture.js";
import { CPU_TIERS, DEFAULT_CPU_TIER, isCpuTier } from "../src/accel/soft/cpu-tier.js";

/** Peak resident set of process `pid` in MiB (VmHWM), or NaN where /proc does not say. */
function peakRssMiB(pid: number | undefined): number {
  try {
    const kb = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return kb ? Math.round(Number(kb) / 1024) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const MOAT = join(REPO, "bin/moat.js");
const runsArg = process.argv.indexOf("--runs");
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 3;
const tierArg = process.argv.indexOf("--cpu-tier");
const TIER = tierArg > 0 ? process.argv[tierArg + 1]! : DEFAULT_CPU_TIER;
if (!isCpuTier(TIER)) throw new Error(`--cpu-tier: one of ${CPU_TIERS.join(", ")}`);
const CACHE = process.env.MOAT_CACHE ?? join(homedir(), ".cache", "moat");
const IMAGE = join(CACHE, "debian-trixie-riscv64.img");
const CMDLINE = "console=ttyS0 root=/dev/vda rw";
const LOGIN = /moat-debian login:/;

/**
 * Milliseconds from spawn until `LOGIN` appears on its output, and the process's peak RSS then;
 * then the process is killed.
 */
function timeToLogin(cmd: string, args: string[]): Promise<{ ms: number; rss: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let out = "";
    const p = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    const timer = setTimeout(() => p.kill("SIGKILL"), 600_000);
    p.stdout.setEncoding("latin1").on("data", (d: string) => {
      out += d;
      if (LOGIN.test(out)) {
        const ms = performance.now() - t0;
        const rss = peakRssMiB(p.pid);
        clearTimeout(timer);
        p.kill("SIGKILL");
        resolve({ ms, rss });
      }
    });
    p.on("error", reject);
    p.on("close", () => {
      clearTimeout(timer);
      reject(new Error(`${cmd}: no login prompt:\n${out.slice(-2000)}`));
    });
  });
}

const built = spawnSync("bash", [join(REPO, "guest/debian/build.sh"), IMAGE], { stdio: "inherit" });
if (built.status !== 0) throw new Error("guest/debian/build.sh failed");
const dir = mkdtempSync(join(tmpdir(), "moat-bench-debian-"));
const kernel = join(dir, "Image");
writeFileSync(kernel, shippedKernel("riscv64"));
const disk = join(dir, "disk.img");
const fresh = (): void => {
  const cp = spawnSync("cp", ["--sparse=always", IMAGE, disk]);
  if (cp.status !== 0) throw new Error(`cp: ${String(cp.stderr)}`);
};
const moat: { ms: number; rss: number }[] = [];
const qemu: { ms: number; rss: number }[] = [];
try {
  for (let i = 0; i < RUNS; i++) {
    fresh();
    moat.push(
      await timeToLogin(process.execPath, [
        MOAT,
        "run",
        "--accel",
        "soft",
        "--cpu-tier",
        TIER,
        "--cpus",
        "2",
        "--memory",
        "512",
        "--no-initrd",
        "--disk",
        disk,
        "--cmdline",
        CMDLINE,
      ]),
    );
    fresh();
    qemu.push(
      await timeToLogin("qemu-system-riscv64", [
        "-M",
        "virt",
        "-m",
        "512",
        "-smp",
        "2",
        "-bios",
        "default",
        "-kernel",
        kernel,
        "-append",
        CMDLINE,
        "-drive",
        `file=${disk},format=raw,if=none,id=d`,
        "-device",
        "virtio-blk-device,drive=d",
        "-nographic",
        "-monitor",
        "none",
      ]),
    );
    process.stderr.write(`run ${i + 1}/${RUNS} done\n`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const m = median(moat.map((r) => r.ms));
const q = median(qemu.map((r) => r.ms));
console.log(
  `Debian to its login prompt (median of ${RUNS}, soft CPU tier ${TIER}): moat ${(m / 1000).toFixed(1)} s, ` +
    `QEMU TCG ${(q / 1000).toFixed(1)} s, ratio ${(m / q).toFixed(2)}`,
);
console.log(
  `peak RSS (median, MiB): moat ${median(moat.map((r) => r.rss))}, QEMU ${median(qemu.map((r) => r.rss))}`,
);
console.log(
  `raw ms: moat ${moat.map((r) => Math.round(r.ms)).join(" ")}; qemu ${qemu.map((r) => Math.round(r.ms)).join(" ")}`,
);
