// The image lock on disk files, QEMU's own (byte-range OFD locks, block/file-posix.c): two moat
// VMs, one VM with a file twice, moat against qemu-system-riscv64, qemu-io and qemu-img in both
// directions, readers sharing a file, daemon VMs. Every process is real; "held" is read from
// the kernel's /proc/locks, never waited for by time.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { linkSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { moat, startMoat, until } from "./support/moat-cli.js";
import { procLocksId } from "../src/host/home-lock.js";
import { adminToken, api, newHome, startDaemon, stopDaemon, vmState } from "./support/moatd.js";

/** Runs `fn` on a fresh 1 MiB image in a directory of its own, removed after. */
async function withImage(fn: (a: string, dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "moat-lock-"));
  try {
    const a = join(dir, "a.img");
    writeFileSync(a, Buffer.alloc(1 << 20));
    await fn(a, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The byte ranges locked on `path`'s inode by anyone, as the kernel lists them. */
function lockedRanges(path: string): [number, number][] {
  const id = procLocksId(statSync(path, { bigint: true }));
  const out: [number, number][] = [];
  for (const line of readFileSync("/proc/locks", "utf8").split("\n")) {
    const f = line.trim().split(/\s+/);
    const at = f.indexOf(id);
    if (at >= 0 && f[at + 2] !== "EOF") out.push([Number(f[at + 1]), Number(f[at + 2])]);
  }
  return out;
}

/**
 * QEMU's lock bytes a user holds: 100 + p for each permission p it has (0 reading, 1 writing),
 * 200 + p for each it shares with no one (a guest disk shares no writer; qemu-io shares all).
 */
const READER = [100, 201];
const WRITER = [100, 101, 201];
const QEMU_IO_WRITER = [100, 101];

/** Bound: a process takes its locks in well under a second; a minute allows a loaded host. */
const HOLD_MS = 60_000;

/** True once someone holds each of `bytes` of `path`. */
function held(path: string, bytes: number[]): boolean {
  const r = lockedRanges(path);
  return bytes.every((b) => r.some(([s, e]) => s <= b && b <= e));
}

/** Runs `fn` while a moat VM holds `spec` (its lock is taken before its guest boots). */
async function whileHeld(
  path: string,
  spec: string,
  bytes: number[],
  fn: () => Promise<void>,
): Promise<void> {
  const m = startMoat(["run", "--disk", spec, "--", "sleep", "600"]);
  try {
    const holding = (): boolean => held(path, bytes) || m.p.exitCode !== null;
    await until(holding, `moat holding ${spec}`, HOLD_MS);
    assert.equal(m.p.exitCode, null, m.err());
    await fn();
  } finally {
    m.p.kill("SIGKILL");
    await m.done;
  }
}

/** `moat run ARGS -- true` ends as `want`: 0, or 125 with a message matching it. */
async function run(args: string[], want: 0 | RegExp): Promise<void> {
  const r = await moat(["run", ...args, "--", "true"], { timeoutMs: 120_000 });
  if (want === 0) return assert.equal(r.status, 0, `${args.join(" ")}: ${r.stderr}`);
  assert.equal(r.status, 125, `${args.join(" ")}: ${r.stderr}`);
  assert.match(r.stderr, want, args.join(" "));
}

const QEMU = ["-M", "virt", "-nographic", "-S", "-monitor", "none", "-serial", "none"];

function qemuSystem(drive: string): string[] {
  return ["qemu-system-riscv64", ...QEMU, "-drive", `file=${drive},format=raw,if=virtio`];
}

/** A QEMU tool run to its end (bounded: a QEMU that got the image and waits is killed). */
function qemuTool(argv: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", timeout: 30_000 });
  return { status: r.status, stderr: r.stderr };
}

const WRITING = /in use: another process \(QEMU or moat\) has it open for writing/;
const NO_WRITER = /in use: another process \(QEMU or moat\) has it open and lets no writer in/;
const TWICE = /attached twice \(vda and vdb\); a file is attached to a VM once read-write/;

test("two moat VMs on one file: the second is refused (read-only or jailed too) until the first ends", async () => {
  await withImage(async (a) => {
    await whileHeld(a, a, WRITER, async () => {
      const named = new RegExp(`disk ${a}: ${WRITING.source}`);
      for (const args of [
        ["--disk", a],
        ["--disk", `${a},ro`],
        ["--jail", "--disk", a],
      ])
        await run(args, named);
    });
    // Killed with SIGKILL: the kernel dropped its locks with the process.
    await run(["--disk", a], 0);
  });
});

test("one VM with a file twice: refused unless both are read-only (links too)", async () => {
  await withImage(async (a, dir) => {
    const link = join(dir, "link.img");
    linkSync(a, link);
    for (const disks of [
      [a, a],
      [`${a},ro`, a],
      [a, `${link},ro`],
    ])
      await run(
        disks.flatMap((d) => ["--disk", d]),
        TWICE,
      );
    await run(["--disk", `${a},ro`, "--disk", `${link},ro`], 0);
  });
});

test("read-only users share a file; a writer is refused beside them, as QEMU refuses one", async () => {
  await withImage(async (a) => {
    await whileHeld(a, `${a},ro`, READER, async () => {
      await run(["--disk", `${a},ro`], 0);
      await run(["--disk", a], /lets no writer in \(add ,ro to share it read-only\)/);
      const qw = qemuTool(["qemu-io", "-f", "raw", a, "-c", "write 0 512"]);
      assert.equal(qw.status, 1, qw.stderr);
      assert.match(qw.stderr, /Failed to get "write" lock/);
      const qr = qemuTool(["qemu-io", "-r", "-f", "raw", a, "-c", "read 0 512"]);
      assert.equal(qr.status, 0, qr.stderr);
    });
  });
});

test("moat refuses a file qemu-system-riscv64 or qemu-io has open; shares one QEMU reads", async () => {
  await withImage(async (a) => {
    const users: [string, string[], number[]][] = [
      ["qemu-system-riscv64 (read-write)", qemuSystem(a), WRITER],
      ["qemu-system-riscv64 (readonly=on)", qemuSystem(`${a},readonly=on`), READER],
      // qemu-io keeps the image while its command input stays open.
      ["qemu-io (read-write)", ["qemu-io", "-f", "raw", a], QEMU_IO_WRITER],
    ];
    for (const [who, argv, bytes] of users) {
      const writing = bytes.includes(101);
      const q = spawn(argv[0]!, argv.slice(1), { stdio: ["pipe", "ignore", "pipe"] });
      let err = "";
      q.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
      const gone = new Promise((r) => q.on("close", r));
      try {
        const holding = (): boolean => held(a, bytes) || q.exitCode !== null;
        await until(holding, `${who} holding the file`, HOLD_MS);
        assert.equal(q.exitCode, null, `${who}: ${err}`);
        await run(["--disk", a], writing ? WRITING : NO_WRITER);
        await run(["--disk", `${a},ro`], writing ? WRITING : 0);
      } finally {
        q.kill("SIGKILL");
        await gone;
      }
    }
  });
});

test("QEMU refuses a file a moat VM writes: qemu-system-riscv64, qemu-io, qemu-img convert (unless -U)", async () => {
  await withImage(async (a, dir) => {
    const copy = join(dir, "copy.img");
    await whileHeld(a, a, WRITER, async () => {
      const refused: [string[], RegExp][] = [
        [qemuSystem(a), /Failed to get "write" lock/],
        [qemuSystem(`${a},readonly=on`), /Failed to get shared "write" lock/],
        [["qemu-io", "-f", "raw", a, "-c", "read 0 512"], /Failed to get "write" lock/],
        [
          ["qemu-img", "convert", "-f", "raw", "-O", "raw", a, copy],
          /Failed to get shared "write" lock/,
        ],
      ];
      for (const [argv, why] of refused) {
        const r = qemuTool(argv);
        assert.equal(r.status, 1, `${argv.join(" ")}: ${r.stderr}`);
        assert.match(r.stderr, why, argv.join(" "));
      }
      // What QEMU lets through beside its own guest it lets through beside moat's: a reader
      // that lets writers in (qemu-io -r), qemu-img info (it takes no lock on a raw image in
      // QEMU 7.2), and a copy that asks for no lock (-U).
      for (const argv of [
        ["qemu-io", "-r", "-f", "raw", a, "-c", "read 0 512"],
        ["qemu-img", "info", a],
        ["qemu-img", "convert", "-U", "-f", "raw", "-O", "raw", a, copy],
      ]) {
        const r = qemuTool(argv);
        assert.equal(r.status, 0, `${argv.join(" ")}: ${r.stderr}`);
      }
    });
  });
});

test("daemon VMs: a file twice is refused at create; a second VM on a running VM's disk fails to start until the first stops", async () => {
  const h = newHome({ reclaim: { enabled: false } });
  const d = await startDaemon(h);
  try {
    const tok = adminToken(h);
    const a = join(h.dir, "images", "shared.img");
    writeFileSync(a, Buffer.alloc(1 << 20));
    const create = (name: string, disks: { path: string; read_only?: boolean }[]) =>
      api(h.socket, tok, "POST", "/v1/vms", { name, memory_mib: 64, disks });
    const ro = { path: a, read_only: true };
    const twice = await create("twice", [{ path: a }, ro]);
    assert.equal(twice.status, 400, twice.text);
    assert.match(twice.text, /disks\.1\.path: the file of disks\.0 again/);
    assert.equal((await create("readers", [ro, ro])).status, 201);
    for (const n of ["one", "two"]) assert.equal((await create(n, [{ path: a }])).status, 201);
    const one = await api(h.socket, tok, "POST", "/v1/vms/one/start");
    assert.equal(one.status, 200, one.text);
    const two = await api(h.socket, tok, "POST", "/v1/vms/two/start");
    assert.equal(two.status, 422, two.text);
    assert.match(two.text, WRITING);
    const crashed = await vmState(h.socket, tok, "two", "crashed");
    assert.match(crashed.last_exit!.reason, WRITING);
    assert.equal((await api(h.socket, tok, "POST", "/v1/vms/one/stop")).status, 200);
    await vmState(h.socket, tok, "one", "stopped");
    const again = await api(h.socket, tok, "POST", "/v1/vms/two/start");
    assert.equal(again.status, 200, again.text);
    await api(h.socket, tok, "POST", "/v1/vms/two/stop");
  } finally {
    await stopDaemon(h, d);
  }
});

test("qcow2: an overlay is locked for writing and its base shared read-only, against QEMU both ways; two overlays share one base", async () => {
  await withImage(async (_a, dir) => {
    const base = join(dir, "base.qcow2");
    const img = (...a: string[]) => spawnSync("qemu-img", a, { encoding: "utf8" });
    img("create", "-q", "-f", "qcow2", base, "1M");
    const over = (n: string): string => {
      const p = join(dir, `${n}.qcow2`);
      img("create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", p);
      return p;
    };
    const o1 = over("o1");
    const o2 = over("o2");
    await whileHeld(o1, `${o1},format=qcow2`, WRITER, async () => {
      assert.ok(held(base, READER), "the base is held read-only, sharing no writer");
      // A second VM on another overlay of the same base: both read the base.
      await run(["--disk", `${o2},format=qcow2`], 0);
      // The overlay in use: moat and QEMU refuse it; QEMU cannot write the base either.
      await run(["--disk", `${o1},format=qcow2`], new RegExp(`disk ${o1}: .*${WRITING.source}`));
      const qw = qemuTool(["qemu-io", "-f", "qcow2", o1, "-c", "write 0 512"]);
      assert.notEqual(qw.status, 0, qw.stderr);
      assert.match(qw.stderr, /Failed to get "write" lock/);
      const qb = qemuTool(["qemu-io", "-f", "qcow2", base, "-c", "write 0 512"]);
      assert.notEqual(qb.status, 0, qb.stderr);
      assert.match(qb.stderr, /Failed to get "write" lock/);
      const qr = qemuTool(["qemu-io", "-r", "-f", "qcow2", base, "-c", "read 0 512"]);
      assert.equal(qr.status, 0, qr.stderr);
    });
    // QEMU holding an overlay: moat refuses it and says who has it.
    const q = spawn(
      "qemu-system-riscv64",
      [...QEMU, "-drive", `file=${o2},format=qcow2,if=virtio`],
      { stdio: "ignore" },
    );
    try {
      await until(() => held(o2, [101]) || q.exitCode !== null, "QEMU holding o2", HOLD_MS);
      await run(["--disk", `${o2},format=qcow2`], new RegExp(`disk ${o2}: .*${WRITING.source}`));
    } finally {
      q.kill("SIGKILL");
    }
  });
});
