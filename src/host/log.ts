// The daemon's log (stderr): one pino logger, made here, with levels. Text by default, one line a
// message as people read it ("moatd: ..."); JSON lines (pino's, with the level by name, an ISO
// time and each message's fields) with `moat daemon --log-format json` or `"logFormat": "json"`.
import { pino, stdTimeFunctions } from "pino";
import type { LogFormat } from "./config.js";

/** What the daemon's parts log with: a message and, in JSON, its fields. */
export interface Log {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** Where lines go: stderr unless told (a test's buffer). */
type Sink = (line: string) => void;
const toStderr: Sink = (line) => void process.stderr.write(line);

/**
 * A message as one line of text: control characters (a newline in an error a VM process wrote,
 * say) escaped, so no message can forge a line of its own.
 */
function oneLine(msg: string): string {
  return msg.replace(
    // eslint-disable-next-line no-control-regex -- control characters are what it looks for
    /[\x00-\x1f\x7f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}

/** The daemon's logger in `format`; `sink` gets whole lines, each ending in a newline. */
export function makeLog(format: LogFormat, sink: Sink = toStderr): Log {
  const stream = {
    write:
      format === "json"
        ? sink
        : // pino writes JSON; the text format is its message alone, as the daemon always said it.
          (line: string) => sink(`moatd: ${oneLine((JSON.parse(line) as { msg: string }).msg)}\n`),
  };
  const p = pino(
    {
      name: "moatd",
      base: { pid: process.pid },
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );
  const at =
    (level: "info" | "warn" | "error") =>
    (msg: string, fields?: Record<string, unknown>): void =>
      fields ? p[level](fields, msg) : p[level](msg);
  return { info: at("info"), warn: at("warn"), error: at("error") };
}

/** A logger that says nothing (a daemon started in a test that does not read its log). */
export const silentLog: Log = { info: () => {}, warn: () => {}, error: () => {} };
