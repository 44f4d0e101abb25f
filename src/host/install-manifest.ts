// The install manifest: the SHA-256 of every file of moat an installed host runs — its compiled
// JavaScript (dist/src, dist/web), bin/, web/, package.json, package-lock.json, SHA256SUMS and the
// runtime packages in node_modules (package-lock.json's entries not marked dev) — written by the
// build (`npm ci` runs it) to dist/install.sha256 in sha256sum's format, and compared by
// `moat audit`, which names each file changed, added or removed since. The JavaScript is built
// on the host, so only the host's own build can record it; dist/cpu.wasm and the shipped guests
// have hashes committed in SHA256SUMS instead (src/base/sha256sums.ts).
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseSha256Sums, sha256 } from "../base/sha256sums.js";

export const INSTALL_MANIFEST = "dist/install.sha256";

/** Files and directories of moat's own, relative to the package root. */
const OWN = [
  "bin",
  "web",
  "dist/src",
  "dist/web",
  "package.json",
  "package-lock.json",
  "SHA256SUMS",
];

/** Runtime packages: package-lock.json's node_modules entries not marked dev. */
function runtimePackages(root: string): string[] {
  const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8")) as {
    packages?: Record<string, { dev?: boolean }>;
  };
  return Object.entries(lock.packages ?? {})
    .filter(([path, p]) => path.startsWith("node_modules/") && p.dev !== true)
    .map(([path]) => path);
}

/** Regular files under `rel` (itself if a file); a package's nested node_modules is left out. */
function walk(root: string, rel: string, out: string[]): void {
  let st;
  try {
    st = statSync(join(root, rel));
  } catch {
    return; // an optional package for another platform, or no web/ in this install
  }
  if (st.isFile()) out.push(rel);
  else if (st.isDirectory())
    for (const name of readdirSync(join(root, rel))) {
      if (name === "node_modules" && rel.startsWith("node_modules/")) continue;
      walk(root, `${rel}/${name}`, out);
    }
}

/** The files the manifest covers, sorted. */
export function installFiles(root: string): string[] {
  const out: string[] = [];
  for (const rel of [...OWN, ...runtimePackages(root)]) walk(root, rel, out);
  return [...new Set(out)].sort();
}

function hashes(root: string): Map<string, string> {
  return new Map(installFiles(root).map((f) => [f, sha256(readFileSync(join(root, f)))]));
}

/** The manifest's text: "<sha256>  <path>" a line, as sha256sum writes it. */
export function makeInstallManifest(root: string): string {
  const lines: string[] = [];
  for (const [f, h] of hashes(root)) {
    if (/[\n\\]/.test(f)) throw new Error(`${f}: a file name sha256sum would escape`);
    lines.push(`${h}  ${f}\n`);
  }
  return lines.join("");
}

export interface InstallDiff {
  changed: string[];
  added: string[];
  missing: string[];
  /** How many files the manifest lists. */
  files: number;
}

/** The install under `root` against a manifest's text. */
export function compareInstall(root: string, manifest: string): InstallDiff {
  const want = parseSha256Sums(manifest, INSTALL_MANIFEST);
  const have = hashes(root);
  const diff: InstallDiff = { changed: [], added: [], missing: [], files: want.size };
  for (const [f, h] of want) {
    const now = have.get(f);
    if (now === undefined) diff.missing.push(f);
    else if (now !== h) diff.changed.push(f);
  }
  for (const f of have.keys()) if (!want.has(f)) diff.added.push(f);
  return diff;
}
