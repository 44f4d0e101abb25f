// Runs the real `moat` command (bin/moat.js) as a child process, as a user would.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

export const REPO = fileURLToPath(new URL("../../../", import.meta.url));
export const MOAT = fileURLToPath(new URL("../../../bin/moat.js", import.meta.url));

export interface CliResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `cmd args...` with optional stdin text and environment; kills it after `timeoutMs`. */
export function runCommand(
  cmd: string,
  args: string[],
  opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, {
      cwd: REPO,
      stdio: ["pipe", "pipe", "pipe"],
      ...(opts.env ? { env: opts.env } : {}),
    });
    let stdout = "";
    let stderr = "";
    p.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    p.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => p.kill("SIGKILL"), opts.timeoutMs ?? 120_000);
    p.on("error", reject);
    p.on("close", (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr });
    });
    if (opts.input !== undefined) p.stdin.end(opts.input);
    else p.stdin.end();
  });
}

/** Runs `moat args...` with optional stdin text; kills it after `timeoutMs`. */
export function moat(
  args: string[],
  opts: { input?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  return runCommand(process.execPath, [MOAT, ...args], opts);
}

export interface RunningMoat {
  p: ChildProcess;
  out: () => string;
  err: () => string;
  /** Resolves to the exit status (null when killed). */
  done: Promise<number | null>;
}

/**
 * Starts `moat args...` whose output can be watched while it runs; killed after `timeoutMs`.
 * With `input`, its stdin is a pipe (`p.stdin`) instead of /dev/null.
 */
export function startMoat(args: string[], timeoutMs = 150_000, input = false): RunningMoat {
  const p = spawn(process.execPath, [MOAT, ...args], {
    cwd: REPO,
    stdio: [input ? "pipe" : "ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  p.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
  p.stderr!.setEncoding("utf8").on("data", (d: string) => (err += d));
  const timer = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
  const done = new Promise<number | null>((r) =>
    p.on("close", (code) => {
      clearTimeout(timer);
      r(code);
    }),
  );
  return { p, out: () => out, err: () => err, done };
}

/** Polls `cond` every 100 ms; throws naming `what` after `ms`. */
export async function until(cond: () => boolean, what: string, ms = 120_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
