// `moat exec`: guest-exec with its output captured, then guest-exec-status until the process
// ends. The reply fields are the guest's word, checked for shape only.
import { AgentError, type AgentClient } from "./agent-client.js";

export interface ExecResult {
  /** null: it did not end in time (it is left running in the guest). */
  exitCode: number | null;
  /** The signal that ended it, if one did. */
  signal: number | null;
  stdout: Buffer;
  stderr: Buffer;
  /** The agent cut the output (qemu-ga keeps at most 16 MiB) or the reply bound did. */
  truncated: boolean;
}

/** Bound: argv entries and their bytes. */
export const MAX_EXEC_ARGS = 256;
export const MAX_EXEC_ARG_BYTES = 64 * 1024;
/**
 * Bound: bytes of a command's stdin. qemu-ga takes it in one request, as base64 (4/3 the
 * size): 32 KiB keeps the request under the 64 KiB that the daemon's API, the control socket
 * and the agent client each take, with room for its argv.
 */
export const MAX_EXEC_INPUT_BYTES = 32 * 1024;

/**
 * Runs `argv` in the guest; resolves when it ended or `timeoutMs` passed. `input` is its
 * stdin, at most MAX_EXEC_INPUT_BYTES (without it, qemu-ga gives the command /dev/null).
 */
export async function guestExec(
  agent: AgentClient,
  argv: string[],
  o: { timeoutMs: number; input?: Uint8Array },
): Promise<ExecResult> {
  if (argv.length < 1 || argv.length > MAX_EXEC_ARGS)
    throw new RangeError(`exec takes 1..${MAX_EXEC_ARGS} arguments`);
  if (argv.reduce((n, a) => n + Buffer.byteLength(a), 0) > MAX_EXEC_ARG_BYTES)
    throw new RangeError(`exec's arguments exceed ${MAX_EXEC_ARG_BYTES} bytes`);
  if (o.input && o.input.length > MAX_EXEC_INPUT_BYTES)
    throw new RangeError(`exec's input exceeds ${MAX_EXEC_INPUT_BYTES} bytes`);
  const deadline = Date.now() + o.timeoutMs;
  const started = (await agent.call(
    "guest-exec",
    {
      path: argv[0],
      arg: argv.slice(1),
      "capture-output": true,
      ...(o.input ? { "input-data": Buffer.from(o.input).toString("base64") } : {}),
    },
    Math.min(10_000, o.timeoutMs),
  )) as { pid?: unknown } | null;
  const pid = started?.pid;
  if (!Number.isInteger(pid)) throw new AgentError("guest-exec: no pid in the reply", "protocol");
  for (let wait = 50; ; wait = Math.min(wait * 2, 500)) {
    const left = deadline - Date.now();
    const st = (await agent.call(
      "guest-exec-status",
      { pid },
      Math.max(1000, Math.min(left, 10_000)),
    )) as Record<string, unknown> | null;
    if (st && st.exited === true) {
      const bytes = (v: unknown): Buffer =>
        typeof v === "string" ? Buffer.from(v, "base64") : Buffer.alloc(0);
      return {
        exitCode: Number.isInteger(st.exitcode) ? (st.exitcode as number) : null,
        signal: Number.isInteger(st.signal) ? (st.signal as number) : null,
        stdout: bytes(st["out-data"]),
        stderr: bytes(st["err-data"]),
        truncated: st["out-truncated"] === true || st["err-truncated"] === true,
      };
    }
    if (left <= 0)
      return {
        exitCode: null,
        signal: null,
        stdout: Buffer.alloc(0),
        stderr: Buffer.alloc(0),
        truncated: false,
      };
    await new Promise((r) => setTimeout(r, Math.min(wait, Math.max(0, left))));
  }
}
