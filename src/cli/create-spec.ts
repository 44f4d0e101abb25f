// `moat create`'s two ways to say what the VM is: flags, or `-f FILE` with the JSON the API's
// POST /v1/vms takes (VmSpec), and the API's refusals said back in the words the user used.
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { ApiClientError } from "./api-client.js";
import { UsageError } from "./usage-error.js";

/** Bound: a spec file (a VM's JSON is a few KiB; the API's body limit is far below this). */
const SPEC_FILE_MAX = 1 << 20;

/**
 * Each VmSpec field and the create flag that sets it: the API names a refused field (`field`,
 * dots for nested ones), the CLI answers with the flag the user typed.
 */
export const FIELD_FLAGS: Readonly<Record<string, string>> = {
  name: "--name",
  accel: "--accel",
  cpu_tier: "--cpu-tier",
  cpus: "--cpus",
  memory_mib: "--memory",
  kernel: "--kernel",
  initrd: "--initrd",
  cmdline: "--cmdline",
  disks: "--disk",
  nics: "--net",
  vsock: "--vsock-cid",
  balloon: "--balloon",
  agent: "--agent",
  rng: "--rng",
  lock_memory: "--lock-memory",
  display: "--display",
  domain: "--domain",
  labels: "--label",
  restart: "--restart",
  "cpu.weight": "--cpu-weight",
  "cpu.max": "--cpu-max",
};

/** Options of `moat create` that go with -f: how to print, not what the VM is. */
const WITH_FILE = new Set(["file", "json"]);

/**
 * The VmSpec in `file` (`-` for stdin), refusing flags that would also set the VM: one source
 * for the whole VM, so a flag can never silently lose to the file or the file to a flag.
 */
export function specFromFile(file: string, cmd: Command): Record<string, unknown> {
  const given = cmd.options
    .filter((opt) => {
      const key = opt.attributeName();
      return !WITH_FILE.has(key) && cmd.getOptionValueSource(key) === "cli";
    })
    .map((opt) => opt.long ?? opt.flags);
  if (given.length)
    throw new UsageError(
      `-f takes the whole VM from ${file === "-" ? "stdin" : file}: put ${given.join(", ")} ` +
        "in the file (its field names are the API's, docs/host.md)",
    );
  const from = file === "-" ? "stdin" : file;
  let text: string;
  try {
    const buf = readFileSync(file === "-" ? 0 : file);
    if (buf.length > SPEC_FILE_MAX)
      throw new UsageError(`-f ${from}: ${buf.length} bytes, more than a VM's spec (1 MiB)`);
    text = buf.toString("utf8");
  } catch (e) {
    if (e instanceof UsageError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(
      `-f ${from}: ${code === "ENOENT" ? "no such file" : code === "EISDIR" ? "a directory" : (e as Error).message}`,
    );
  }
  let spec: unknown;
  try {
    spec = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`-f ${from}: not JSON (${(e as Error).message})`);
  }
  if (typeof spec !== "object" || spec === null || Array.isArray(spec))
    throw new UsageError(
      `-f ${from}: a JSON object such as {"name": "a", "memory_mib": 128} (the API's VmSpec)`,
    );
  return spec as Record<string, unknown>;
}

/**
 * The API's refusal of a create in the user's words: `body: memory_mib must be <= 4000` is
 * `--memory must be <= 4000` for flags and `spec.json: memory_mib must be <= 4000` for -f.
 */
export function inCliWords(e: unknown, file: string | undefined): unknown {
  if (!(e instanceof ApiClientError) || e.field === undefined) return e;
  const field = e.field;
  const message = e.message.replace(/^body: /, "");
  if (file !== undefined)
    return new ApiClientError(`${file === "-" ? "stdin" : file}: ${message}`, e.status, field);
  const key = Object.keys(FIELD_FLAGS)
    .filter((k) => field === k || field.startsWith(`${k}.`))
    .sort((a, b) => b.length - a.length)[0];
  if (key === undefined) return e;
  const flag = FIELD_FLAGS[key]!;
  // The field leads the message (the schema's refusals, most of the daemon's): swap it for the
  // flag, keeping a nested part ("--disk (disks.0.path) ..."); otherwise name the flag after it.
  const rest = field === key ? "" : ` (${field})`;
  const text = message.startsWith(field)
    ? `${flag}${rest}${message.slice(field.length)}`
    : `${flag}${rest}: ${message}`;
  return new ApiClientError(text, e.status, field);
}
