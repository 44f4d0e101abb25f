// Guest bytes printed by the moat command go through a TerminalFilter when they reach a
// terminal; to a pipe or a file they go as they are (byte for byte, for scripts and binaries).
import { TerminalFilter, type TerminalPolicy } from "../vmm/terminal-filter.js";

/**
 * The filter for guest bytes written to `stream`: none when it is not a terminal or `raw`
 * (--raw) asks for every byte.
 */
export function guestOutputFilter(
  stream: NodeJS.WriteStream,
  policy: TerminalPolicy,
  raw: boolean | undefined,
): TerminalFilter | undefined {
  return stream.isTTY === true && raw !== true ? new TerminalFilter(policy) : undefined;
}

/** Writes guest bytes to `stream`, through `filter` if there is one. */
export function writeGuestOutput(
  stream: NodeJS.WriteStream,
  bytes: Uint8Array,
  filter: TerminalFilter | undefined,
): void {
  const out = filter ? filter.write(bytes) : bytes;
  if (out.length > 0) stream.write(out);
}

/** Says on stderr that escapes were left out, so nobody mistakes the output for all of it. */
export function noteDropped(filters: (TerminalFilter | undefined)[]): void {
  const n = filters.reduce((s, f) => s + (f?.dropped ?? 0), 0);
  if (n > 0)
    process.stderr.write(
      `moat: ${n} escape sequence${n === 1 ? "" : "s"} or control${n === 1 ? "" : "s"} from the guest not shown (--raw shows every byte)\n`,
    );
}

export const RAW_HELP =
  "print the guest's bytes as they are; on a terminal, escape sequences that could act on it " +
  "(clipboard, links, reports, terminal extensions) are otherwise left out";
