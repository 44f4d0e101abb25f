// moat's soft CPU against QEMU's TCG (Debian's qemu-system-riscv64): same kernel, initramfs and
// command line, measured in the same run, moat and QEMU alternating on every workload so that
// the machine's noise hits both alike. Prints a table of medians and ratios, then the raw runs.
//
//   npm run bench [-- --runs N] [--workloads LIST] [--cpu-tier interp|jit]
//
// boot:    time from process spawn until the guest command's first output line appears (the
//          command is `echo MARK`, run by /init right after userspace starts).
// md5sum:  the guest times md5sum of 16 MiB with its own clock (/proc/uptime, 10 ms steps).
// The rest (bench/workloads.ts): the guest runs bench/guest/wl and times it with its own
// CLOCK_MONOTONIC; moat's and QEMU's results must agree.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import {
  CPU_TIERS,
  DEFAULT_CPU_TIER,
  isCpuTier,
  type CpuTier,
} from "../src/accel/soft/cpu-tier.js";
import { commandArchive, concatArchives } from "../src/boot/initramfs.js";
import { shippedInitrd, shippedKernel } from "../src/boot/shipped-guest.js";
import {
  MOAT,
  median,
  moatTierArgs,
  parseRuns,
  qemuArgs,
  timeProcess,
  UsageError,
  type Sample,
} from "./soft-vs-qemu.js";
import { parseWl, workloadInitrd, WORKLOADS } from "./workloads.js";

const USAGE = `Usage: npm run bench [-- options]

Runs the shipped riscv64 guest on moat's soft CPU and on QEMU's TCG, alternating, and prints
per workload the medians, the ratio (moat / QEMU: above 1.0 moat is slower) and the raw runs.

Options:
  --runs N             runs of each workload on each VMM (default 5)
  --workloads LIST     comma-separated, from: ${["boot", "md5sum", ...WORKLOADS.map((w) => w.name)].join(",")}
                       (default: all)
  --cpu-tier TIER      the soft CPU's tier: ${CPU_TIERS.join(" or ")} (default ${DEFAULT_CPU_TIER})
  -h, --help           this text`;

interface Options {
  runs: number;
  names: string[];
  tier: CpuTier;
}

function parseArgs(argv: string[]): Options {
  const all = ["boot", "md5sum", ...WORKLOADS.map((w) => w.name)];
  const o: Options = { runs: 5, names: all, tier: DEFAULT_CPU_TIER };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    if (a === "-h" || a === "--help") {
      console.log(USAGE);
      process.exit(0);
    } else if (a === "--runs") {
      o.runs = parseRuns(value());
    } else if (a === "--workloads") {
      const names = value()
        .split(",")
        .filter((n) => n !== "");
      const bad = names.filter((n) => !all.includes(n));
      if (bad.length || !names.length)
        throw new UsageError(`--workloads: unknown '${bad.join(",")}' (known: ${all.join(",")})`);
      o.names = all.filter((n) => names.includes(n));
    } else if (a === "--cpu-tier") {
      const v = value();
      if (!isCpuTier(v))
        throw new UsageError(`--cpu-tier wants ${CPU_TIERS.join(" or ")}, not '${v}'`);
      o.tier = v;
    } else throw new UsageError(`unknown argument '${a}' (try --help)`);
  }
  return o;
}

/** One row of the table: how to run it on either VMM and what one run measured. */
interface Item {
  name: string;
  what: string;
  moatArgs: string[];
  qemuInitrd: string;
  marker: RegExp;
  /** Milliseconds one run measured. */
  ms(s: Sample): number;
  /** The value both VMMs must compute, if the item has one. */
  check?(s: Sample): string;
  expect?: string;
}

// Busybox's date has no %N: the guest's /proc/uptime gives centiseconds (awk, because a
// leading zero would make the shell read "009" as a bad octal number).
const UPTIME_CS = "$(awk '{printf \"%d\", $1 * 100}' /proc/uptime)";
const MD5_CMD =
  `s=${UPTIME_CS}; dd if=/dev/zero bs=65536 count=256 2>/dev/null | md5sum >/dev/null; ` +
  `e=${UPTIME_CS}; echo CPU-CS $((e-s))`;

function items(dir: string, o: Options): Item[] {
  const tier = moatTierArgs(o.tier);
  const initrdFile = (name: string, base: Uint8Array, argv: string[]): string => {
    const extra = commandArchive({ argv, pipedInput: true, pipedOutput: true });
    const path = join(dir, name);
    writeFileSync(path, concatArchives([base, extra]));
    return path;
  };
  const shipped = shippedInitrd();
  const out: Item[] = [];
  if (o.names.includes("boot"))
    out.push({
      name: "boot",
      what: "process start to the guest command's first output line (host clock)",
      moatArgs: [...tier, "--", "echo", "MARK"],
      qemuInitrd: initrdFile("mark.cpio", shipped, ["echo", "MARK"]),
      marker: /MARK/,
      ms: (s) => s.markMs,
    });
  if (o.names.includes("md5sum"))
    out.push({
      name: "md5sum",
      what: "md5sum of 16 MiB from dd (guest's /proc/uptime)",
      moatArgs: [...tier, "--", "sh", "-c", MD5_CMD],
      qemuInitrd: initrdFile("md5.cpio", shipped, ["sh", "-c", MD5_CMD]),
      marker: /CPU-CS \d+/,
      ms: (s) => {
        const m = /CPU-CS (\d+)/.exec(s.out);
        if (!m) throw new Error(`no CPU-CS in output:\n${s.out.slice(-1000)}`);
        return Number(m[1]) * 10;
      },
    });
  const chosen = WORKLOADS.filter((w) => o.names.includes(w.name));
  if (chosen.length) {
    const base = workloadInitrd();
    const moatInitrd = join(dir, "wl.cpio");
    writeFileSync(moatInitrd, base);
    for (const w of chosen)
      out.push({
        name: w.name,
        what: w.what,
        // moat appends the command's archive to the initrd it is given, as it does to the shipped one.
        moatArgs: ["--initrd", moatInitrd, ...tier, "--", "sh", "-c", w.script],
        qemuInitrd: initrdFile(`${w.name}.cpio`, base, ["sh", "-c", w.script]),
        marker: new RegExp(`^WL ${w.name} `, "m"),
        ms: (s) => parseWl(w.name, s.out).ns / 1e6,
        check: (s) => parseWl(w.name, s.out).check,
        ...(w.expect !== undefined ? { expect: w.expect } : {}),
      });
  }
  return out;
}

interface Runs {
  moat: number[];
  qemu: number[];
}

function checkAgree(it: Item, m: Sample, q: Sample): void {
  if (!it.check) return;
  const a = it.check(m);
  const b = it.check(q);
  if (a !== b) throw new Error(`${it.name}: moat computed ${a}, QEMU ${b}: the results differ`);
  if (it.expect !== undefined && a !== it.expect)
    throw new Error(`${it.name}: both printed check ${a}, not the expected ${it.expect}`);
}

const fmt = (ms: number): string => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));
const load = (): string =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(" ");

async function main(o: Options): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "moat-bench-"));
  try {
    // QEMU's riscv64 loader takes no gzipped Image: give it the inflated one moat boots.
    const kernel = join(dir, "Image");
    writeFileSync(kernel, shippedKernel());
    const list = items(dir, o);
    const runs = new Map<string, Runs>(list.map((it) => [it.name, { moat: [], qemu: [] }]));
    const loadBefore = load();
    for (let i = 0; i < o.runs; i++) {
      for (const it of list) {
        const m = await timeProcess(process.execPath, [MOAT, "run", ...it.moatArgs], it.marker);
        const q = await timeProcess(
          "qemu-system-riscv64",
          qemuArgs(kernel, it.qemuInitrd),
          it.marker,
        );
        checkAgree(it, m, q);
        runs.get(it.name)!.moat.push(it.ms(m));
        runs.get(it.name)!.qemu.push(it.ms(q));
      }
      process.stderr.write(`run ${i + 1}/${o.runs} done (load ${load()})\n`);
    }
    console.log(
      `soft CPU tier ${o.tier}; median of ${o.runs} runs each, moat and QEMU TCG alternating; ` +
        `load average (1/5/15 min) ${loadBefore} at the start, ${load()} at the end`,
    );
    console.log("\n| workload | moat ms | QEMU TCG ms | ratio |\n|---|---|---|---|");
    for (const it of list) {
      const r = runs.get(it.name)!;
      const m = median(r.moat);
      const q = median(r.qemu);
      console.log(`| ${it.name} | ${fmt(m)} | ${fmt(q)} | **${(m / q).toFixed(2)}** |`);
    }
    console.log("\nWhat each measures:");
    for (const it of list) console.log(`- ${it.name}: ${it.what}`);
    console.log("\nRaw runs (ms):");
    for (const it of list) {
      const r = runs.get(it.name)!;
      console.log(
        `- ${it.name}: moat ${r.moat.map(fmt).join(" ")}; QEMU ${r.qemu.map(fmt).join(" ")}`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

try {
  await main(parseArgs(process.argv.slice(2)));
} catch (e) {
  if (!(e instanceof UsageError)) throw e;
  console.error(`bench: ${e.message}`);
  process.exit(2);
}
