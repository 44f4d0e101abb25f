// moat's version (package.json beside dist/, in a checkout and in an install alike): the
// metrics' build-info series, and what a snapshot records it was made by.
import { readFileSync } from "node:fs";

let cached: string | undefined;

/** moat's version from its package.json ("unknown" if that cannot be read). */
export function moatVersion(): string {
  if (cached === undefined) {
    try {
      const url = new URL("../../../package.json", import.meta.url);
      const v = (JSON.parse(readFileSync(url, "utf8")) as { version?: unknown }).version;
      cached = typeof v === "string" ? v : "unknown";
    } catch {
      cached = "unknown";
    }
  }
  return cached;
}
