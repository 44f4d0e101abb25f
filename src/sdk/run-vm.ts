// The SDK's one-shot VM: `moat vmm --config` in a child process, its console collected. A child,
// not runVmProcess in the caller's process: a VMM owns its process (signals, the terminal, the
// exit status, worker threads), and the caller's program goes on after the VM.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PACKAGE_ROOT } from "../base/sha256sums.js";
import { MoatError } from "../base/moat-error.js";
import { parseVmConfig, type VmConfig } from "../vmm/vm-config.js";

/** A VM config as written in a config file: every field has a default (docs/vm-config.md). */
export type VmConfigInput = Partial<Omit<VmConfig, "host">> & { host?: Partial<VmConfig["host"]> };

export interface RunVmOptions {
  /** Bytes for the guest command's stdin; none: it reads end-of-file. */
  input?: string | Uint8Array;
  /** Aborting kills the VM (SIGKILL); the promise then rejects. */
  signal?: AbortSignal;
}

export interface RunVmResult {
  /** The guest command's exit status (moat's own statuses: docs/vm-config.md, `moat run`). */
  status: number;
  /** What the command wrote to the console. */
  output: string;
  /** moat's own messages (refusals, warnings). */
  stderr: string;
}

/** Bound: each of output and stderr is kept up to this many bytes; more is dropped. */
const MAX_OUTPUT_BYTES = 16 * 1024 * 1024;

const MOAT_BIN = join(PACKAGE_ROOT, "bin/moat.js");

function collect(s: NodeJS.ReadableStream): () => string {
  const parts: Buffer[] = [];
  let size = 0;
  s.on("data", (d: Buffer) => {
    if (size >= MAX_OUTPUT_BYTES) return;
    const keep = d.subarray(0, MAX_OUTPUT_BYTES - size);
    parts.push(keep);
    size += keep.length;
  });
  return () => Buffer.concat(parts).toString("utf8");
}

/**
 * Boots a fresh VM from `config`, runs `command` in the shipped guest and resolves when the VM
 * has ended. A config the schema refuses throws VmConfigError before anything starts.
 */
export async function runVm(
  config: VmConfigInput,
  command: string[],
  o: RunVmOptions = {},
): Promise<RunVmResult> {
  const checked = parseVmConfig(structuredClone(config));
  const dir = mkdtempSync(join(tmpdir(), "moat-sdk-"));
  try {
    const file = join(dir, "vm.json");
    writeFileSync(file, JSON.stringify(checked));
    const p = spawn(process.execPath, [MOAT_BIN, "vmm", "--config", file, "--", ...command], {
      stdio: ["pipe", "pipe", "pipe"],
      ...(o.signal ? { signal: o.signal, killSignal: "SIGKILL" as const } : {}),
    });
    const output = collect(p.stdout);
    const stderr = collect(p.stderr);
    p.stdin.on("error", () => {}); // a VM that ended before reading its input
    p.stdin.end(o.input ?? "");
    const status = await new Promise<number>((resolve, reject) => {
      p.on("error", reject);
      p.on("close", (code, sig) => {
        if (code !== null) resolve(code);
        else reject(new MoatError(`the VM's process was killed (${sig}): ${stderr()}`, "host"));
      });
    });
    return { status, output: output(), stderr: stderr() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
