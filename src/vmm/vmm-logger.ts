// A VM process's own log on stderr (base/log.ts's logger): `moat: ...` text lines by default,
// what a person at `moat run`'s terminal reads; JSON lines with the config's
// `host.log_format: "json"` (a daemon started with --log-format json asks for it: the VM's
// `logs/<id>.log` is then in the same shape as the daemon's own log). Each JSON line names the
// VM (`vm`), and pino's `name` is "moat-vmm".
import { makeLogger, type Log, type LogFormat, type Sink } from "../base/log.js";

export type { Log };

/** The logger of the VM process of a config with this `name` and `format`. */
export function vmmLogger(o: { name?: string; format?: LogFormat; sink?: Sink }): Log {
  return makeLogger({
    name: "moat-vmm",
    prefix: "moat",
    format: o.format ?? "text",
    base: { pid: process.pid, ...(o.name !== undefined ? { vm: o.name } : {}) },
    ...(o.sink ? { sink: o.sink } : {}),
  });
}

/** Text lines on stderr, for a part started with no logger of its VM's (a test's device). */
export const textLog: Log = vmmLogger({});
