// One logger with levels for moat's processes (the daemon, host/log.ts; each VM process,
// vmm/vmm-logger.ts), made on pino. Text by default: one line a message as people read it,
// `<prefix>: message`. JSON lines when asked: pino's, with the level by name, an ISO time, the
// process's base fields and each message's own.
import { pino, stdTimeFunctions } from "pino";

export type LogFormat = "text" | "json";
export const LOG_FORMATS: readonly LogFormat[] = ["text", "json"];

/** What moat's parts log with: a message and, in JSON, its fields. */
export interface Log {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** Where lines go: stderr unless told (a test's buffer). */
export type Sink = (line: string) => void;
const toStderr: Sink = (line) => void process.stderr.write(line);

/**
 * A message as one line of text: control characters (a newline in an error a VM process wrote,
 * or in a value a guest chose) escaped, so no message can forge a line of its own.
 */
export function oneLine(msg: string): string {
  return msg.replace(
    // eslint-disable-next-line no-control-regex -- control characters are what it looks for
    /[\x00-\x1f\x7f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}

export interface LoggerOptions {
  /** pino's `name` field in JSON. */
  name: string;
  /** What starts each text line ("moatd", "moat"). */
  prefix: string;
  format: LogFormat;
  /** Fields every JSON line carries (the process's pid, a VM's name). */
  base: Record<string, unknown>;
  /** The lowest level written; "info" unless told. */
  level?: "debug" | "info" | "warn" | "error";
  sink?: Sink;
}

/** A logger in `o.format`; its sink gets whole lines, each ending in a newline. */
export function makeLogger(o: LoggerOptions): Log {
  const sink = o.sink ?? toStderr;
  const stream = {
    write:
      o.format === "json"
        ? sink
        : // pino writes JSON; the text format is its message alone (JSON escapes it, pino's
          // text would not), as moat always said it.
          (line: string) =>
            sink(`${o.prefix}: ${oneLine((JSON.parse(line) as { msg: string }).msg)}\n`),
  };
  const p = pino(
    {
      name: o.name,
      level: o.level ?? "info",
      base: o.base,
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );
  const at =
    (level: "debug" | "info" | "warn" | "error") =>
    (msg: string, fields?: Record<string, unknown>): void =>
      fields ? p[level](fields, msg) : p[level](msg);
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/** A logger that says nothing (a daemon started in a test that does not read its log). */
export const silentLog: Log = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
