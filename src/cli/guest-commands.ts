// `moat exec` and `moat guest`: the guest-agent commands of the daemon's API. What they print
// is the guest's word (docs/agent.md).
import { RAW_HELP, guestOutputFilter, noteDropped, writeGuestOutput } from "./guest-output.js";
import type { Command } from "commander";
import { apiClient, connection, ok, type Api } from "./api-client.js";
import type { operations } from "./api-types.js";
import { parseIntOption } from "./run-command.js";
import { UsageError } from "./usage-error.js";
import { isatty } from "node:tty";
import { MAX_EXEC_INPUT_BYTES, execTooLarge } from "../agent/guest-exec.js";

/** The generated API client (api-types.ts) for the daemon the command's options name. */
function api(cmd: Command): Api {
  return apiClient(connection(cmd.optsWithGlobals<{ socket?: string; tokenFile?: string }>()));
}

/** What POST /v1/vms/{vm}/agent takes. */
type AgentBody = operations["runAgentCommand"]["requestBody"]["content"]["application/json"];
type AgentCommand = AgentBody["command"];

/** Runs one guest-agent command through the daemon (POST /v1/vms/{vm}/agent). */
function agentCall(cmd: Command, vm: string, body: AgentBody) {
  return ok(api(cmd).POST("/v1/vms/{vm}/agent", { params: { path: { vm } }, body }));
}

/** Exit status when exec's process did not end within --timeout (as timeout(1) uses). */
export const EXEC_TIMED_OUT = 124;

const GUEST_SUBCOMMANDS = new Set(["info", "fsfreeze", "thaw", "fsfreeze-status", "call"]);

/** moat's global options that take a value (`--socket PATH`, `--token-file PATH`). */
const GLOBAL_VALUE_OPTIONS = new Set(["--socket", "--token-file"]);

/**
 * `moat guest VM info` is also accepted for `moat guest info VM` (the VM first reads naturally
 * too). Bound: only when `guest` is the command (the first word after the global options), the
 * word after it is not a subcommand and the next one is.
 */
export function guestArgvOrder(argv: readonly string[]): string[] {
  const out = [...argv];
  let i = 2;
  while (i < out.length && out[i]!.startsWith("-")) i += GLOBAL_VALUE_OPTIONS.has(out[i]!) ? 2 : 1;
  if (out[i] !== "guest") return out;
  const vm = out[i + 1];
  const sub = out[i + 2];
  if (
    vm !== undefined &&
    sub !== undefined &&
    !vm.startsWith("-") &&
    !GUEST_SUBCOMMANDS.has(vm) &&
    GUEST_SUBCOMMANDS.has(sub)
  ) {
    out[i + 1] = sub;
    out[i + 2] = vm;
  }
  return out;
}

/**
 * All of `stream` (moat exec's stdin), refused past MAX_EXEC_INPUT_BYTES: qemu-ga takes a
 * command's stdin in one request. Bound: holds at most that many bytes plus one read.
 */
export async function readBounded(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of stream) {
    const b = typeof c === "string" ? Buffer.from(c) : c;
    n += b.length;
    if (n > MAX_EXEC_INPUT_BYTES)
      throw new UsageError(
        `exec: stdin holds more than ${MAX_EXEC_INPUT_BYTES} bytes (MAX_EXEC_INPUT_BYTES: the ` +
          "guest agent takes a command's stdin in one request); give the guest more data " +
          "another way, e.g. on a disk, or use -n for no stdin",
      );
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

export function registerGuestCommands(program: Command): void {
  program
    .command("exec")
    .description(
      "Run a command in a VM through its guest agent (the VM's policy must allow exec); prints " +
        "its output and exits with its status (128+N for signal N, 124 when --timeout passed)",
    )
    .argument("<vm>", "name or id")
    .argument("<cmd...>", "the command and its arguments (put them after --)")
    .option("--timeout <s>", "how long to wait for it to end, 1-600 seconds", "60")
    .option(
      "-n, --no-stdin",
      "do not read stdin (as ssh -n). Otherwise a piped or redirected stdin, up to " +
        `${MAX_EXEC_INPUT_BYTES / 1024} KiB, is the command's stdin; from a terminal nothing ` +
        "is read. Without one the command's stdin is empty (/dev/null)",
    )
    .option("--raw", RAW_HELP)
    .action(
      async (
        vm: string,
        argv: string[],
        o: { timeout: string; stdin: boolean; raw?: boolean },
        cmd: Command,
      ) => {
        const timeout = parseIntOption(o.timeout, "timeout", 1, 600);
        const input = o.stdin && !isatty(0) ? await readBounded(process.stdin) : undefined;
        // Said before anything is sent: well past it, the daemon would refuse the request by its
        // size alone (413), with no word of which part to make smaller.
        const tooLarge = execTooLarge(argv, input?.length ?? 0);
        if (tooLarge)
          throw new UsageError(
            `${tooLarge}; give the guest large data another way, e.g. on a disk`,
          );
        const r = await agentCall(cmd, vm, {
          command: "exec",
          arguments: {
            argv,
            // Empty: none, as from a terminal (qemu-ga then gives the command /dev/null).
            ...(input && input.length > 0 ? { input: input.toString("base64") } : {}),
          },
          timeout_ms: timeout * 1000,
        });
        const filters = [
          guestOutputFilter(process.stdout, "log", o.raw),
          guestOutputFilter(process.stderr, "log", o.raw),
        ];
        writeGuestOutput(process.stdout, Buffer.from(r.stdout ?? "", "base64"), filters[0]);
        writeGuestOutput(process.stderr, Buffer.from(r.stderr ?? "", "base64"), filters[1]);
        noteDropped(filters);
        if (r.truncated) process.stderr.write("moat: the guest agent cut the output\n");
        if (!r.exited) {
          process.stderr.write(`moat: still running in the guest after ${timeout} s\n`);
          process.exitCode = EXEC_TIMED_OUT;
        } else process.exitCode = r.exit_code ?? 128 + (r.signal ?? 0);
      },
    );

  const guest = program
    .command("guest")
    .description("Guest-agent commands (informational: what the guest reports is never trusted)");
  guest
    .command("info")
    .description("What the guest agent reports: version, OS, host name, interfaces, users")
    .argument("<vm>", "name or id")
    .action(async (vm: string, _o: unknown, cmd: Command) => {
      const r = await ok(api(cmd).GET("/v1/vms/{vm}/guest", { params: { path: { vm } } }));
      process.stdout.write(JSON.stringify(r, null, 2) + "\n");
    });
  for (const [name, command, what] of [
    ["fsfreeze", "fsfreeze-freeze", "Freeze the guest's file systems (for a consistent disk copy)"],
    ["thaw", "fsfreeze-thaw", "Thaw them again"],
    ["fsfreeze-status", "fsfreeze-status", "Frozen or thawed"],
  ] as const) {
    guest
      .command(name)
      .description(what)
      .argument("<vm>", "name or id")
      .action(async (vm: string, _o: unknown, cmd: Command) => {
        const r = await agentCall(cmd, vm, { command });
        process.stdout.write(JSON.stringify(r.return ?? null) + "\n");
      });
  }
  guest
    .command("call")
    .description("Any guest-agent command the VM's policy allows, e.g. users, time, file-open")
    .argument("<vm>", "name or id")
    .argument("<command>", "the command (docs/agent.md lists them)")
    .argument("[arguments]", "its arguments as a JSON object")
    .action(
      async (vm: string, command: string, args: string | undefined, _o: unknown, cmd: Command) => {
        let parsed: unknown;
        if (args !== undefined) {
          try {
            parsed = JSON.parse(args);
          } catch {
            throw new UsageError("guest call: the arguments are a JSON object");
          }
        }
        // The daemon checks the command against its list and the VM's policy, and says which.
        const r = await agentCall(cmd, vm, {
          command: command as AgentCommand,
          ...(parsed !== undefined ? { arguments: parsed as Record<string, unknown> } : {}),
        });
        process.stdout.write(JSON.stringify(r, null, 2) + "\n");
      },
    );
}
