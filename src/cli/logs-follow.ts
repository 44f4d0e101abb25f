// `moat logs --tail N` and `moat logs -f`: the last lines of a VM's scrollback, and then what the
// guest prints next, read from the console as `moat console` would (never writing to it).
import type { Connection } from "./api-client.js";
import { openConsole } from "./api-client.js";

/** The last `n` lines of `text` (a last line without its newline counts as one). */
export function lastLines(text: string, n: number): string {
  if (n === 0) return "";
  const end = text.endsWith("\n") ? text.length - 1 : text.length;
  let at = end;
  for (let i = 0; i < n; i++) {
    at = text.lastIndexOf("\n", at - 1);
    if (at < 0) return text;
  }
  return text.slice(at + 1);
}

/**
 * How much of `live` (console output received while the scrollback was being read) the
 * scrollback already ends with: the longest suffix of `scrollback` that starts `live`, so
 * nothing is printed twice. Bound: linear in the two lengths (Knuth-Morris-Pratt), whatever
 * the guest printed; a guest repeating one byte must not make it quadratic.
 */
export function overlap(scrollback: Buffer, live: Buffer): number {
  const m = Math.min(scrollback.length, live.length);
  if (m === 0) return 0;
  // fail[i]: the longest proper prefix of live[0..i] that is also its suffix.
  const fail = new Int32Array(m);
  for (let i = 1, k = 0; i < m; i++) {
    while (k > 0 && live[i] !== live[k]) k = fail[k - 1]!;
    if (live[i] === live[k]) k++;
    fail[i] = k;
  }
  let q = 0;
  for (let i = scrollback.length - m; i < scrollback.length; i++) {
    if (q === m) q = fail[m - 1]!;
    while (q > 0 && scrollback[i] !== live[q]) q = fail[q - 1]!;
    if (scrollback[i] === live[q]) q++;
  }
  return q;
}

/**
 * Prints the scrollback `scrollback()` reads, then follows the VM's console: what the guest
 * prints goes to `write` as it comes, once (output that came while the scrollback was read and
 * is in it already is left out). Resolves when the VM or the console ends (with why, when it is
 * not the VM's end); rejects with `scrollback`'s error. A VM that is not running has nothing to
 * follow: its scrollback is all.
 */
export function followConsole(
  c: Connection,
  vm: string,
  scrollback: () => Promise<Buffer>,
  write: (bytes: Buffer) => void,
): Promise<string | undefined> {
  const ws = openConsole(c, vm);
  const held: Buffer[] = [];
  let ready = false;
  let started: Promise<void> | undefined;
  const start = (): Promise<void> =>
    (started ??= scrollback().then((text) => {
      write(text);
      const live = Buffer.concat(held.splice(0));
      write(live.subarray(overlap(text, live)));
      ready = true;
    }));
  const stop = (): void => ws.close();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  ws.on("open", () => void start().catch(() => ws.close()));
  ws.on("message", (d: Buffer) => (ready ? write(d) : held.push(d)));
  return new Promise<string | undefined>((resolve) => {
    // Not running (4409), no such VM, not allowed: the scrollback (or its error) is all there is.
    ws.on("unexpected-response", () => resolve(undefined));
    ws.on("close", (code, reason) =>
      resolve(code === 1000 || code === 1005 || code === 4409 ? undefined : reason.toString()),
    );
    ws.on("error", (e) => resolve(e.message));
  }).then(async (why) => {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    await start();
    return why;
  });
}
