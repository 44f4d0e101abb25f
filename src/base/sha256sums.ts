// SHA256SUMS, at the top of the repository: the SHA-256 of what moat runs that is not its own
// JavaScript — the WebAssembly CPU core (built by `npm ci`, byte for byte the same everywhere)
// and the shipped guests (committed). `npm run manifest` writes it with sha256sum, so
// `sha256sum -c SHA256SUMS` checks an install by hand; moat checks a shipped guest against it
// before it loads one, and `moat audit` checks both (docs/security.md, "Supply chain").
import { createHash } from "node:crypto";
import { closeSync, fstatSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository (or installed package) root: this file is dist/src/base/sha256sums.js. */
export const PACKAGE_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const SHA256SUMS = join(PACKAGE_ROOT, "SHA256SUMS");

/** Bound: a sums file is read up to this size (moat's has a handful of lines). */
const MAX_SUMS_BYTES = 1024 * 1024;

const LINE = /^([0-9a-f]{64}) [ *](.+)$/;

export function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/**
 * sha256sum's format, one "<64 hex digits>  <path>" a line (a '*' before the path for binary
 * mode), '#' comments and blank lines ignored: path -> hash. A line of any other shape throws,
 * so a damaged file is never read as "no entry".
 */
export function parseSha256Sums(text: string, name = "SHA256SUMS"): Map<string, string> {
  const sums = new Map<string, string>();
  text.split("\n").forEach((line, i) => {
    if (line === "" || line.startsWith("#")) return;
    const m = LINE.exec(line);
    if (!m) throw new Error(`${name} line ${i + 1}: not "<sha256>  <path>"`);
    sums.set(m[2]!, m[1]!);
  });
  return sums;
}

/** A sums file read and parsed. Bound: MAX_SUMS_BYTES. */
export function readSha256Sums(path: string): Map<string, string> {
  const fd = openSync(path, "r");
  try {
    // The size first: a file past the bound is refused before it is read.
    if (fstatSync(fd).size > MAX_SUMS_BYTES) throw new Error(`${path}: larger than 1 MiB`);
    return parseSha256Sums(readFileSync(fd).toString("utf8"), path);
  } finally {
    closeSync(fd);
  }
}
