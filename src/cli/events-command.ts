// `moat events`: the daemon's VM events (GET /v1/events, server-sent events) as they happen, one
// line each, until Ctrl-C, as docker events and virsh event --loop print them.
import type { Command } from "commander";
import { connection, stream } from "./api-client.js";

/** Bound: an event the daemon sends is one short JSON line; a partial one held waits for its end. */
const EVENT_MAX = 64 * 1024;

interface Event {
  type: string;
  id: string;
  name: string;
  domain: string;
  state?: string;
  reason?: string;
  time: string;
}

/** One event as a line: `TIME TYPE NAME (ID, DOMAIN) STATE [REASON]`. */
export function eventLine(e: Event): string {
  const what = e.type === "vm.deleted" ? "deleted" : (e.state ?? "");
  return `${e.time} ${e.type} ${e.name} (${e.id}, ${e.domain}) ${what}${e.reason ? ` ${e.reason}` : ""}\n`;
}

/** The `data:` of each complete event in `buf` (SSE: blank-line separated), and what is left. */
export function sseEvents(buf: string): { data: string[]; rest: string } {
  const blocks = buf.split("\n\n");
  const rest = blocks.pop()!;
  const data = blocks.flatMap((b) =>
    b
      .split("\n")
      .filter((l) => l.startsWith("data: "))
      .map((l) => l.slice(6)),
  );
  return { data, rest };
}

export function registerEventsCommand(program: Command): void {
  program
    .command("events")
    .description(
      "VM state changes as they happen (a tenant sees its own domain's), one a line, until Ctrl-C",
    )
    .option("--json", "each event as a JSON line, as the API sends it")
    .action(async (o: { json?: boolean }, cmd: Command) => {
      const c = connection(cmd.optsWithGlobals());
      const ac = new AbortController();
      const stop = (): void => ac.abort();
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
      let buf = "";
      await stream(
        c,
        "/v1/events",
        (chunk) => {
          const { data, rest } = sseEvents(buf + chunk);
          buf = rest.length > EVENT_MAX ? "" : rest;
          for (const d of data)
            process.stdout.write(o.json ? d + "\n" : eventLine(JSON.parse(d) as Event));
        },
        ac.signal,
      );
    });
}
