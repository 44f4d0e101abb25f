// Run a bare-metal image under QEMU, the oracle for the ISA tests.
//
// Equivalent to
//   qemu-system-riscv64 -M virt -bios none -nographic -kernel prog.bin
// (the image is loaded at 0x8000_0000 and entered in M-mode with a0 = hartid)
// with the UART on stdout and no monitor.  The program ends by writing to the
// sifive_test finisher, which makes QEMU exit with the program's status.
// Override the binary with QEMU_RISCV64.

import { spawn } from "node:child_process";

export interface QemuRunOptions {
  harts?: number;
  memoryMiB?: number;
  timeoutMs?: number;
}

export interface QemuRunResult {
  exitCode: number;
  /** UART bytes as latin1. */
  output: string;
  reason: "finisher" | "timeout" | "error";
  message?: string;
  elapsedMs: number;
}

export const QEMU = process.env.QEMU_RISCV64 ?? "qemu-system-riscv64";

export function qemuArgs(image: string, opts: QemuRunOptions = {}): string[] {
  return [
    "-M",
    "virt",
    "-m",
    `${opts.memoryMiB ?? 64}M`,
    "-smp",
    String(opts.harts ?? 1),
    "-bios",
    "none",
    "-display",
    "none",
    "-serial",
    "stdio",
    "-monitor",
    "none",
    "-parallel",
    "none",
    "-kernel",
    image,
  ];
}

export function runQemu(image: string, opts: QemuRunOptions = {}): Promise<QemuRunResult> {
  const timeoutMs = opts.timeoutMs ?? 10000;
  const start = Date.now();
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const errChunks: Buffer[] = [];
    let timedOut = false;
    let settled = false;
    const child = spawn(QEMU, qemuArgs(image, opts), { stdio: ["ignore", "pipe", "pipe"] });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.stdout.on("data", (b: Buffer) => chunks.push(b));
    child.stderr.on("data", (b: Buffer) => errChunks.push(b));
    const finish = (r: Omit<QemuRunResult, "elapsedMs" | "output">) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({
        ...r,
        output: Buffer.concat(chunks).toString("latin1"),
        elapsedMs: Date.now() - start,
      });
    };
    child.on("error", (e) =>
      finish({ exitCode: -1, reason: "error", message: `cannot run ${QEMU}: ${e.message}` }),
    );
    child.on("close", (code, signal) => {
      const stderr = Buffer.concat(errChunks).toString("utf8").trim();
      if (timedOut)
        finish({ exitCode: -1, reason: "timeout", message: `timed out after ${timeoutMs} ms` });
      else if (code === null)
        finish({ exitCode: -1, reason: "error", message: `killed by ${signal}: ${stderr}` });
      else finish({ exitCode: code, reason: "finisher", ...(stderr ? { message: stderr } : {}) });
    });
  });
}
