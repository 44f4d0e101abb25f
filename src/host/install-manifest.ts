// The install manifest: the SHA-256 of every file of moat an installed host runs — its compiled
// JavaScript (dist/src, dist/web), bin/, web/, package.json, package-lock.json, SHA256SUMS and the
// runtime packages in node_modules (package-lock.json's entries not marked dev) — written by the
// build (`npm ci` runs it) to dist/install.sha256 in sha256sum's format, and compared by
// `moat audit`, which names each file changed, added or removed since. The JavaScript is built
// on the host, so only the host's own build can record it; dist/cpu.wasm and the shipped guests
// have hashes committed in SHA256SUMS instead (src/base/sha256sums.ts).
//
// A package npm installed from `npm pack`'s tarball has no package-lock.json (npm never packs
// one) and its runtime packages where the installing npm put them: its record is
// dist/package.sha256, every file of the package as packed (written by prepack,
// scripts/package-manifest.ts), and `moat audit` compares the package's directory with it.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseSha256Sums, sha256 } from "../base/sha256sums.js";

export const INSTALL_MANIFEST = "dist/install.sha256";
/** The record `npm pack` ships: every file of the package, as packed. */
export const PACKAGE_MANIFEST = "dist/package.sha256";

/**
 * What is installed under `root`: a checkout built by `npm ci` (package-lock.json at its root),
 * or a package npm installed from a tarball (none: npm never packs a lockfile).
 */
export function installKind(root: string): "checkout" | "package" {
  return existsSync(join(root, "package-lock.json")) ? "checkout" : "package";
}

/** The record an install under `root` is compared with. */
export function manifestOf(root: string): string {
  return installKind(root) === "checkout" ? INSTALL_MANIFEST : PACKAGE_MANIFEST;
}

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

/**
 * The files the manifest covers, sorted: a checkout's own and its runtime packages; in an
 * installed package, every file but node_modules (the installing npm's) and the record itself.
 */
export function installFiles(root: string): string[] {
  const out: string[] = [];
  if (installKind(root) === "checkout")
    for (const rel of [...OWN, ...runtimePackages(root)]) walk(root, rel, out);
  else for (const name of readdirSync(root)) if (name !== "node_modules") walk(root, name, out);
  return [...new Set(out)].filter((f) => f !== PACKAGE_MANIFEST).sort();
}

function hashes(root: string, files: string[]): Map<string, string> {
  return new Map(files.map((f) => [f, sha256(readFileSync(join(root, f)))]));
}

/**
 * The manifest's text: "<sha256>  <path>" a line, as sha256sum writes it, of `files` under
 * `root` (by default what installFiles covers).
 */
export function makeInstallManifest(root: string, files = installFiles(root)): string {
  const lines: string[] = [];
  for (const [f, h] of hashes(root, [...files].sort())) {
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
  const want = parseSha256Sums(manifest, manifestOf(root));
  const have = hashes(root, installFiles(root));
  const diff: InstallDiff = { changed: [], added: [], missing: [], files: want.size };
  for (const [f, h] of want) {
    const now = have.get(f);
    if (now === undefined) diff.missing.push(f);
    else if (now !== h) diff.changed.push(f);
  }
  for (const f of have.keys()) if (!want.has(f)) diff.added.push(f);
  return diff;
}
