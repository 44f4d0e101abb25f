// The daemon's log (stderr): base/log.ts's logger, with levels. Text by default, one line a
// message as people read it ("moatd: ..."); JSON lines (pino's, with the level by name, an ISO
// time and each message's fields) with `moat daemon --log-format json` or `"logFormat": "json"`.
import { makeLogger, silentLog, type Log, type LogFormat, type Sink } from "../base/log.js";

export { silentLog, type Log };

/** The daemon's logger in `format`; `sink` gets whole lines, each ending in a newline. */
export function makeLog(format: LogFormat, sink?: Sink): Log {
  return makeLogger({
    name: "moatd",
    prefix: "moatd",
    format,
    base: { pid: process.pid },
    ...(sink ? { sink } : {}),
  });
}
