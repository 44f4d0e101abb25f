// Restore against boot, and against QEMU's restore of a migration file: the shipped riscv64 guest
// running a loop that prints a tick every 500 turns is snapshotted (moat: the control socket's
// snapshot op; QEMU: QMP `migrate` to a file), then brought back in a new process, timed from
// the process's spawn to the first tick it prints. Cold boots to a guest command's first line
// are measured in the same run, moat and QEMU alternating. Also: how long moat takes to write a
// snapshot, its size on disk, and the restore time moat reports itself (--timing: snapshot read
// and loaded, before the harts start).
//
//   node dist/bench/snapshot.js [--runs N] [--memory 128,512]
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import net from "node:net";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { commandArchive, concatArchives } from "../src/boot/initramfs.js";
import { shippedInitrd, shippedKernel } from "../src/boot/shipped-guest.js";
import { parseArgs as parseFlags } from "node:util";
import { MOAT, median, parseRuns, qemuArgs, UsageError } from "./soft-vs-qemu.js";

const USAGE = `Usage: node dist/bench/snapshot.js [options]

Options:
  --runs N          runs of each measurement (default 5)
  --memory LIST     guest memory sizes in MiB, comma-separated (default 128,512)
  -h, --help        this text`;

// A busy loop, no timer: QEMU 7.2's riscv64 guest waiting on a timer never woke after an
// incoming migration here (its busy loop carries on), so both restore this one.
const LOOP = "i=0; while :; do i=$((i+1)); [ $((i%500)) = 0 ] && echo tick $i; done";
const TICK = /tick \d+/;

interface Options {
  runs: number;
  memory: number[];
}

function parseArgs(argv: string[]): Options {
  let v;
  try {
    v = parseFlags({
      args: argv,
      options: {
        runs: { type: "string", default: "5" },
        memory: { type: "string", default: "128,512" },
        help: { type: "boolean", short: "h" },
      },
    }).values;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (v.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const memory = v.memory.split(",").map(Number);
  if (memory.some((m) => !Number.isInteger(m) || m < 64 || m > 2048))
    throw new UsageError(`--memory wants MiB sizes from 64 to 2048, not '${v.memory}'`);
  return { runs: parseRuns(v.runs), memory };
}

/** A process whose output is watched; killed once `marker` appears (or after 120 s). */
function timeToMarker(
  cmd: string,
  args: string[],
  marker: RegExp,
): Promise<{ ms: number; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let out = "";
    let err = "";
    let ms = -1;
    const p = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    const timer = setTimeout(() => p.kill("SIGKILL"), 120_000);
    p.stdout.setEncoding("latin1").on("data", (d: string) => {
      out += d;
      if (ms < 0 && marker.test(out)) {
        ms = performance.now() - t0;
        p.kill("SIGKILL");
      }
    });
    p.stderr.setEncoding("latin1").on("data", (d: string) => (err += d));
    p.on("error", reject);
    p.on("close", () => {
      clearTimeout(timer);
      if (ms < 0) reject(new Error(`${cmd}: no ${marker} in output:\n${(out + err).slice(-2000)}`));
      else resolve({ ms, out, err });
    });
  });
}

/** One request after another on a JSON-lines socket (moat's control socket, QEMU's QMP). */
class JsonLines {
  private buf = "";
  private waiting: ((v: Record<string, unknown>) => void)[] = [];
  private lines: Record<string, unknown>[] = [];

  private constructor(private readonly s: net.Socket) {
    s.setEncoding("utf8").on("data", (d: string) => {
      this.buf += d;
      let i;
      while ((i = this.buf.indexOf("\n")) >= 0) {
        const line = this.buf.slice(0, i).trim();
        this.buf = this.buf.slice(i + 1);
        if (!line) continue;
        const v = JSON.parse(line) as Record<string, unknown>;
        const w = this.waiting.shift();
        if (w) w(v);
        else this.lines.push(v);
      }
    });
  }

  static async connect(path: string): Promise<JsonLines> {
    for (let i = 0; ; i++) {
      try {
        const s = await new Promise<net.Socket>((res, rej) => {
          const c = net.connect(path, () => res(c));
          c.on("error", rej);
        });
        return new JsonLines(s);
      } catch (e) {
        if (i > 200) throw e;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  /** The next line that is not a QMP event. */
  next(): Promise<Record<string, unknown>> {
    const skip = (v: Record<string, unknown>): boolean => "event" in v;
    while (this.lines.length && skip(this.lines[0]!)) this.lines.shift();
    const v = this.lines.shift();
    if (v) return Promise.resolve(v);
    return new Promise((r) => {
      const take = (x: Record<string, unknown>): void => {
        if (skip(x)) this.waiting.unshift(take);
        else r(x);
      };
      this.waiting.push(take);
    });
  }

  async call(req: object): Promise<Record<string, unknown>> {
    this.s.write(JSON.stringify(req) + "\n");
    return this.next();
  }

  close(): void {
    this.s.destroy();
  }
}

/** Starts a process that is stopped by the caller; `out()` is what it printed so far. */
function background(
  cmd: string,
  args: string[],
): { out: () => string; kill: () => void; done: Promise<void> } {
  let out = "";
  const p = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
  p.stdout.setEncoding("latin1").on("data", (d: string) => (out += d));
  p.stderr.setEncoding("latin1").on("data", (d: string) => (out += d));
  const done = new Promise<void>((r) => p.on("close", () => r()));
  return { out: () => out, kill: () => p.kill("SIGKILL"), done };
}

async function until(cond: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 120_000;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** moat: a guest in its loop, paused and snapshotted into `dir`/s; the op's figures. */
async function moatSnapshot(dir: string, memory: number): Promise<{ ms: number; data: number }> {
  const sock = join(dir, "c.sock");
  const snaps = join(dir, "snaps");
  mkdirSync(snaps);
  const vm = background(process.execPath, [
    MOAT,
    "run",
    "--memory",
    String(memory),
    "--control",
    sock,
    "--snapshot-dir",
    snaps,
    "--",
    "sh",
    "-c",
    LOOP,
  ]);
  try {
    await until(() => /tick 5000\b/.test(vm.out()), "the guest's ticks");
    const c = await JsonLines.connect(sock);
    await c.call({ op: "pause" });
    const r = await c.call({ op: "snapshot", name: "s" });
    c.close();
    if (r.ok !== true) throw new Error(`moat snapshot: ${JSON.stringify(r)}`);
    return { ms: r.ms as number, data: r.memory_bytes as number };
  } finally {
    vm.kill();
    await vm.done;
  }
}

/** QEMU: the same guest migrated (live, to a file) into `file`; seconds it took. */
async function qemuMigrate(
  dir: string,
  kernel: string,
  initrd: string,
  memory: number,
  file: string,
): Promise<number> {
  const qmp = join(dir, "qmp.sock");
  const vm = background("qemu-system-riscv64", [
    ...qemuArgs(kernel, initrd, memory),
    "-qmp",
    `unix:${qmp},server=on,wait=off`,
  ]);
  try {
    await until(() => /tick 5000\b/.test(vm.out()), "QEMU's guest's ticks");
    const c = await JsonLines.connect(qmp);
    await c.next(); // greeting
    await c.call({ execute: "qmp_capabilities" });
    const t0 = performance.now();
    await c.call({ execute: "migrate", arguments: { uri: `exec:cat > ${file}` } });
    for (;;) {
      const q = await c.call({ execute: "query-migrate" });
      const status = (q.return as { status?: string }).status;
      if (status === "completed") break;
      if (status === "failed") throw new Error(`QEMU migration failed: ${JSON.stringify(q)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const ms = performance.now() - t0;
    c.close();
    // `cat` may still be writing what QEMU gave it: wait for the file to stop growing.
    let size = -1;
    while (statSync(file).size !== size) {
      size = statSync(file).size;
      await new Promise((r) => setTimeout(r, 100));
    }
    return ms;
  } finally {
    vm.kill();
    await vm.done;
  }
}

const fmt = (ms: number): string => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));
const MB = (b: number): string => (b / 1e6).toFixed(1);

async function main(o: Options): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "moat-bench-snap-"));
  try {
    const kernel = join(dir, "Image");
    writeFileSync(kernel, shippedKernel());
    const initrd = (name: string, argv: string[]): string => {
      const path = join(dir, name);
      writeFileSync(
        path,
        concatArchives([
          shippedInitrd(),
          commandArchive({ argv, pipedInput: true, pipedOutput: true }),
        ]),
      );
      return path;
    };
    const loopInitrd = initrd("loop.cpio", ["sh", "-c", LOOP]);
    const markInitrd = initrd("mark.cpio", ["echo", "MARK"]);
    const loadBefore = loadavg()[0]!.toFixed(2);
    console.log(`# snapshot and restore, ${o.runs} runs, load ${loadBefore}`);
    const raw: string[] = [];
    for (const memory of o.memory) {
      const r = {
        snapMs: [] as number[],
        snapMB: 0,
        migrateMs: [] as number[],
        migrateMB: 0,
        moatBoot: [] as number[],
        qemuBoot: [] as number[],
        moatRestore: [] as number[],
        moatLoad: [] as number[],
        qemuRestore: [] as number[],
      };
      for (let i = 0; i < o.runs; i++) {
        const run = join(dir, `m${memory}-${i}`);
        mkdirSync(run);
        const snap = await moatSnapshot(run, memory);
        r.snapMs.push(snap.ms);
        r.snapMB = statSync(join(run, "snaps", "s", "memory")).blocks * 512;
        const file = join(run, "qemu.mig");
        r.migrateMs.push(await qemuMigrate(run, kernel, loopInitrd, memory, file));
        r.migrateMB = statSync(file).size;
        const mb = await timeToMarker(
          process.execPath,
          [MOAT, "run", "--memory", String(memory), "--", "echo", "MARK"],
          /MARK/,
        );
        const qb = await timeToMarker(
          "qemu-system-riscv64",
          qemuArgs(kernel, markInitrd, memory),
          /MARK/,
        );
        const mr = await timeToMarker(
          process.execPath,
          [MOAT, "run", "--timing", "--restore", join(run, "snaps", "s")],
          TICK,
        );
        const qr = await timeToMarker(
          "qemu-system-riscv64",
          [...qemuArgs(kernel, loopInitrd, memory), "-incoming", `exec:cat ${file}`],
          TICK,
        );
        const loaded = /restored from \S+ in ([\d.]+) ms/.exec(mr.err);
        if (!loaded) throw new Error(`moat --timing said no restore time:\n${mr.err}`);
        r.moatBoot.push(mb.ms);
        r.qemuBoot.push(qb.ms);
        r.moatRestore.push(mr.ms);
        r.moatLoad.push(Number(loaded[1]));
        r.qemuRestore.push(qr.ms);
        rmSync(run, { recursive: true, force: true });
      }
      const m = (xs: number[]): number => median(xs);
      console.log(`\n## ${memory} MiB guest (medians of ${o.runs})`);
      console.log(`| figure | moat | QEMU ${memory} MiB | moat / QEMU |`);
      console.log(`|---|---|---|---|`);
      const row = (what: string, a: number, b: number): void =>
        console.log(`| ${what} | ${fmt(a)} ms | ${fmt(b)} ms | ${(a / b).toFixed(2)} |`);
      row("spawn to first guest output, cold boot", m(r.moatBoot), m(r.qemuBoot));
      row("spawn to first guest output, restore", m(r.moatRestore), m(r.qemuRestore));
      row("save (moat: snapshot op; QEMU: live migration to a file)", m(r.snapMs), m(r.migrateMs));
      console.log(
        `| size on disk | ${MB(r.snapMB)} MB (sparse) | ${MB(r.migrateMB)} MB | ${(r.snapMB / r.migrateMB).toFixed(2)} |`,
      );
      console.log(
        `| moat: snapshot read and loaded, before the harts start (--timing) | ${fmt(m(r.moatLoad))} ms | | |`,
      );
      console.log(
        `| moat: restore / its own cold boot | ${(m(r.moatRestore) / m(r.moatBoot)).toFixed(2)} | | |`,
      );
      raw.push(
        `${memory} MiB: moat boot ${r.moatBoot.map(fmt).join(" ")}; qemu boot ${r.qemuBoot.map(fmt).join(" ")}; ` +
          `moat restore ${r.moatRestore.map(fmt).join(" ")}; qemu restore ${r.qemuRestore.map(fmt).join(" ")}; ` +
          `moat load ${r.moatLoad.map(fmt).join(" ")}; moat snapshot ${r.snapMs.map(fmt).join(" ")}; ` +
          `qemu migrate ${r.migrateMs.map(fmt).join(" ")}`,
      );
    }
    console.log(`\nraw runs (ms):\n${raw.join("\n")}\nload after ${loadavg()[0]!.toFixed(2)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

try {
  await main(parseArgs(process.argv.slice(2)));
} catch (e) {
  if (e instanceof UsageError) {
    console.error(`snapshot bench: ${e.message}`);
    process.exit(2);
  }
  throw e;
}
