// `moat exec`: guest-exec with its output captured, then guest-exec-status until the process
// ends. The reply fields are the guest's word, checked for shape only.
import { AgentError, MAX_REQUEST_BYTES, type AgentClient } from "./agent-client.js";

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

/** Bound: argv entries. */
export const MAX_EXEC_ARGS = 256;
/**
 * Bound: bytes of a command's stdin. qemu-ga takes it in one request, as base64 (4/3 the
 * size), with the argv: together they are bounded by MAX_EXEC_REQUEST_BYTES.
 */
export const MAX_EXEC_INPUT_BYTES = 32 * 1024;
/**
 * Room each hop's own fields take around an exec's argv and stdin: the daemon's API body
 * ({"command":"exec","arguments":{"argv":…,"input":…},"timeout_ms":…}), the control socket's
 * line (the same with "op":"agent") and the guest-exec request ("path", "arg",
 * "capture-output", "input-data"), each well under 200 bytes.
 */
const EXEC_ENVELOPE_BYTES = 1024;
/**
 * Bound: an exec's argv (as JSON) and stdin (as base64) together, in bytes: they travel in one
 * request of at most MAX_REQUEST_BYTES through the daemon's API, the control socket and the
 * agent, so a larger exec is refused here with this bound named, before any hop refuses it.
 */
export const MAX_EXEC_REQUEST_BYTES = MAX_REQUEST_BYTES - EXEC_ENVELOPE_BYTES;

/** What an exec of `argv` with `inputBytes` of stdin counts against MAX_EXEC_REQUEST_BYTES. */
export function execRequestBytes(argv: readonly string[], inputBytes: number): number {
  return Buffer.byteLength(JSON.stringify(argv)) + 4 * Math.ceil(inputBytes / 3);
}

/** Why an exec this large is refused: its size and the bound, named. */
export function execTooLarge(argv: readonly string[], inputBytes: number): string | undefined {
  const n = execRequestBytes(argv, inputBytes);
  if (n <= MAX_EXEC_REQUEST_BYTES) return undefined;
  return (
    `exec: its arguments (as JSON) and stdin (as base64) take ${n} bytes, more than the ` +
    `${MAX_EXEC_REQUEST_BYTES} one request carries (MAX_EXEC_REQUEST_BYTES)`
  );
}

/**
 * Runs `argv` in the guest; resolves when it ended or `timeoutMs` passed. `input` is its
 * stdin, at most MAX_EXEC_INPUT_BYTES (without it, qemu-ga gives the command /dev/null); both
 * together at most MAX_EXEC_REQUEST_BYTES.
 */
export async function guestExec(
  agent: AgentClient,
  argv: string[],
  o: { timeoutMs: number; input?: Uint8Array },
): Promise<ExecResult> {
  if (argv.length < 1 || argv.length > MAX_EXEC_ARGS)
    throw new RangeError(`exec takes 1..${MAX_EXEC_ARGS} arguments`);
  if (o.input && o.input.length > MAX_EXEC_INPUT_BYTES)
    throw new RangeError(`exec's input exceeds ${MAX_EXEC_INPUT_BYTES} bytes`);
  const tooLarge = execTooLarge(argv, o.input?.length ?? 0);
  if (tooLarge) throw new RangeError(tooLarge);
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
