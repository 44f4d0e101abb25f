// How a VM ends, through the real CLI (bin/moat.js) and runBare(): signals, trap loops, SMP,
// large guest output, and the OpenSBI firmware path.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { MOAT, REPO, moat } from "./support/moat-cli.js";
import { buildSource, loadImage } from "./support/isa-build.js";
import { runBare } from "../src/vmm/bare.js";

interface Ended {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** ms from the signal to the process ending */
  afterSignalMs: number;
}

/**
 * Runs `moat run -- sh -c 'echo ready; <cmd>'`, waits for "ready" on stdout (the guest's
 * command is running), sends `sig` and waits for moat to end (SIGKILL after `killAfterMs`).
 */
function signalWhenReady(sig: NodeJS.Signals, cmd: string, killAfterMs = 20_000): Promise<Ended> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [MOAT, "run", "--", "sh", "-c", `echo ready; ${cmd}`], {
      cwd: REPO,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let signalledAt = 0;
    const guard = setTimeout(() => p.kill("SIGKILL"), 60_000);
    p.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      if (signalledAt === 0 && stdout.includes("ready\n")) {
        signalledAt = performance.now();
        p.kill(sig);
        setTimeout(() => p.kill("SIGKILL"), killAfterMs).unref();
      }
    });
    p.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    p.on("error", reject);
    p.on("close", (status, signal) => {
      clearTimeout(guard);
      if (signalledAt === 0) {
        reject(
          new Error(
            `moat ended before the guest was ready: ${status} ${signal}\n${stdout}\n${stderr}`,
          ),
        );
        return;
      }
      resolve({ status, signal, stdout, stderr, afterSignalMs: performance.now() - signalledAt });
    });
    p.stdin.end();
  });
}

describe("signals", () => {
  test("SIGTERM ends a running `moat run -- sleep 30` within seconds, status 143, no stack trace", async () => {
    const r = await signalWhenReady("SIGTERM", "sleep 30");
    assert.equal(r.signal, null, `moat was killed (${r.signal}); stderr: ${r.stderr}`);
    assert.equal(r.status, 143, r.stderr);
    assert.ok(r.afterSignalMs < 5000, `took ${r.afterSignalMs.toFixed(0)} ms after the signal`);
    assert.doesNotMatch(r.stderr, /\n\s+at |internal error|Error:/, r.stderr);
  });

  test("SIGINT (stdin not a terminal) ends it with status 130", async () => {
    const r = await signalWhenReady("SIGINT", "sleep 30");
    assert.equal(r.signal, null, `moat was killed (${r.signal}); stderr: ${r.stderr}`);
    assert.equal(r.status, 130, r.stderr);
    assert.ok(r.afterSignalMs < 5000, `took ${r.afterSignalMs.toFixed(0)} ms after the signal`);
    assert.doesNotMatch(r.stderr, /\n\s+at |internal error|Error:/, r.stderr);
  });

  test("SIGTERM while the guest is busy computing also ends it", async () => {
    const r = await signalWhenReady("SIGTERM", "while :; do :; done");
    assert.equal(r.status, 143, r.stderr);
    assert.ok(r.afterSignalMs < 5000, `took ${r.afterSignalMs.toFixed(0)} ms after the signal`);
  });
});

describe("bare-metal trap loops", () => {
  const TIMEOUT_MS = 3000;

  test("a program whose trap vector is unmapped (mtvec = 0) ends with 'error' naming hart, pc and cause within a second", async () => {
    const prog = await buildSource(
      "lifecycle-trap-loop",
      ".section .text.init\n.globl _start\n_start:\n  li t0, 0\n  csrw mtvec, t0\n  ld a0, 0(zero)\n",
    );
    const image = await loadImage(prog);
    const started = performance.now();
    const r = await runBare({ image, timeoutMs: TIMEOUT_MS });
    const ms = performance.now() - started;
    assert.equal(r.reason, "error", JSON.stringify(r));
    assert.match(r.message ?? "", /hart 0\b/);
    assert.match(r.message ?? "", /\bpc 0x[0-9a-f]+/);
    assert.match(r.message ?? "", /\bcause \d+ \([a-z ]+\)/);
    assert.ok(ms < 1000, `took ${ms.toFixed(0)} ms`);
  });

  test("a program whose trap handler is its own faulting MMIO load ends with 'error' too, not a timeout", async () => {
    const prog = await buildSource(
      "lifecycle-mmio-trap-loop",
      ".section .text.init\n.globl _start\n_start:\n  la t0, 1f\n  csrw mtvec, t0\n1:\n  ld a0, 0(zero)\n",
    );
    const image = await loadImage(prog);
    const started = performance.now();
    const r = await runBare({ image, timeoutMs: TIMEOUT_MS });
    const ms = performance.now() - started;
    assert.equal(r.reason, "error", `${JSON.stringify(r)} after ${ms.toFixed(0)} ms`);
    assert.match(r.message ?? "", /hart 0\b.*cause 5/);
  });
});

describe("guests", () => {
  test("--cpus 2: /proc/cpuinfo lists two harts", async () => {
    const r = await moat(["run", "--cpus", "2", "--", "sh", "-c", "cat /proc/cpuinfo"], {
      timeoutMs: 60_000,
    });
    assert.equal(r.status, 0, r.stderr);
    const harts = [...r.stdout.matchAll(/^hart\s*:\s*(\d+)$/gm)].map((m) => Number(m[1]));
    assert.deepEqual(harts.sort(), [0, 1], r.stdout);
    assert.equal([...r.stdout.matchAll(/^processor\s*:/gm)].length, 2);
  });

  test("dd of 2 MiB piped to wc -c in the guest prints 2097152", async () => {
    const r = await moat(
      ["run", "--", "sh", "-c", "dd if=/dev/zero bs=1k count=2048 2>/dev/null | wc -c"],
      {
        timeoutMs: 60_000,
      },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), "2097152");
  });

  test("large guest output reaches the host stdout complete and in order (128 KiB)", async () => {
    const line = "abcdefghijklmno\n";
    const bytes = 128 * 1024;
    const r = await moat(["run", "--", "sh", "-c", `yes abcdefghijklmno | head -c ${bytes}`], {
      timeoutMs: 120_000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.length, bytes, `got ${r.stdout.length} bytes`);
    assert.ok(r.stdout === line.repeat(bytes / line.length), "content differs");
    assert.doesNotMatch(r.stderr, /dropped/);
  });

  test("uname -m under --bios opensbi (Debian's OpenSBI) prints riscv64", async () => {
    const r = await moat(["run", "--bios", "opensbi", "--", "uname", "-m"], { timeoutMs: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /OpenSBI v\d/, "the firmware ran");
    const lines = r.stdout.trimEnd().split("\n");
    assert.equal(lines.at(-1), "riscv64", r.stdout.slice(-500));
  });
});
