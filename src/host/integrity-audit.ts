// `moat audit`'s supply-chain checks: the files this install runs are the ones recorded — the
// CPU core and the shipped guests against SHA256SUMS (committed), the runtime packages against
// package-lock.json, moat's JavaScript and those packages' files against the install manifest
// its build wrote (docs/security.md, "Supply chain").
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { readSha256Sums, sha256 } from "../base/sha256sums.js";
import type { Finding } from "./audit-finding.js";
import { compareInstall, installKind, manifestOf } from "./install-manifest.js";

const CORE = "dist/cpu.wasm";
/** Bound: file names listed in one finding. */
const MAX_NAMED = 8;

const finding = (id: string, status: Finding["status"], why: string, fix = ""): Finding => ({
  id,
  status,
  why,
  fix,
});

function named(what: string, files: string[]): string {
  const more = files.length > MAX_NAMED ? ` and ${files.length - MAX_NAMED} more` : "";
  return `${what} ${files.slice(0, MAX_NAMED).join(", ")}${more}`;
}

/** Each file against its recorded SHA-256: the names of those that differ or are absent. */
function unlike(root: string, sums: Map<string, string>, files: string[]): string[] {
  return files.filter((f) => {
    try {
      return sha256(readFileSync(join(root, f))) !== sums.get(f);
    } catch {
      return true;
    }
  });
}

function checkAgainstSums(root: string): Finding[] {
  let sums: Map<string, string>;
  try {
    sums = readSha256Sums(join(root, "SHA256SUMS"));
  } catch (e) {
    return [
      finding(
        "install.recorded",
        "fail",
        `cannot read the recorded hashes: ${(e as Error).message}`,
        "restore SHA256SUMS from the repository (git checkout -- SHA256SUMS)",
      ),
    ];
  }
  const core = unlike(root, sums, [CORE]);
  const guests = [...sums.keys()].filter((f) => f !== CORE);
  const changed = unlike(root, sums, guests);
  return [
    core.length
      ? finding(
          "install.cpu-core",
          "fail",
          `${CORE} is not the CPU core SHA256SUMS records: built from other sources or by another compiler, or changed since`,
          "npm ci (rebuilds it with the locked compiler); if you changed src/accel/soft/cpu/ on purpose, npm run manifest",
        )
      : finding("install.cpu-core", "pass", `${CORE} is the recorded build`),
    changed.length
      ? finding(
          "install.guests",
          "fail",
          `${named("shipped guest files changed:", changed)} (moat refuses to boot them)`,
          "git checkout -- guest/; if you rebuilt them with guest/build.sh on purpose, npm run manifest",
        )
      : finding("install.guests", "pass", `${guests.length} shipped guest files as recorded`),
  ];
}

function checkInstall(root: string): Finding {
  const id = "install.files";
  const manifest = manifestOf(root);
  const packed = installKind(root) === "package";
  let text: string;
  try {
    text = readFileSync(join(root, manifest), "utf8");
  } catch {
    return finding(
      id,
      "warn",
      `no install manifest (${manifest}): moat's files cannot be checked`,
      packed
        ? "install a package made by npm pack (its prepack writes it)"
        : "npm ci (or npm run build) writes it",
    );
  }
  let d;
  try {
    d = compareInstall(root, text);
  } catch (e) {
    return finding(id, "fail", (e as Error).message, "npm ci");
  }
  const problems = [
    ...(d.changed.length ? [named("changed:", d.changed)] : []),
    ...(d.added.length ? [named("added:", d.added)] : []),
    ...(d.missing.length ? [named("removed:", d.missing)] : []),
  ];
  if (problems.length)
    return finding(
      id,
      "fail",
      `moat's files differ from what its ${packed ? "package" : "build"} recorded in ${manifest}: ${problems.join("; ")}`,
      packed
        ? "find out who changed them; then reinstall the package"
        : "find out who changed them; then reinstall (npm ci). After changing moat on purpose: npm run build",
    );
  return finding(
    id,
    "pass",
    `${d.files} files as ${packed ? "packed" : "built"} (${manifest}, SHA-256 ${sha256(Buffer.from(text))})`,
  );
}

interface Lock {
  packages?: Record<
    string,
    { version?: string; integrity?: string; dev?: boolean; optional?: boolean }
  >;
}

/**
 * The runtime packages installed are the locked ones: npm's own record of the install
 * (node_modules/.package-lock.json) gives each the version and tarball SHA-512 that
 * package-lock.json does. A package installed past the lockfile (`npm install x@y`) shows here
 * even when a build has recorded its files since.
 */
function checkLocked(root: string): Finding {
  const id = "install.packages";
  if (installKind(root) === "package")
    return finding(
      id,
      "warn",
      "an installed package: its runtime packages are what the npm that installed it chose within package.json's ranges, with no lockfile to compare them with",
      "for locked runtime packages, run moat from a checkout installed with npm ci",
    );
  let lock: Lock, installed: Lock;
  try {
    lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8")) as Lock;
    installed = JSON.parse(
      readFileSync(join(root, "node_modules/.package-lock.json"), "utf8"),
    ) as Lock;
  } catch (e) {
    return finding(
      id,
      "warn",
      `cannot compare the install with the lockfile: ${(e as Error).message}`,
      "npm ci",
    );
  }
  const locked = lock.packages ?? {};
  const have = installed.packages ?? {};
  const differ: string[] = [];
  let count = 0;
  for (const [path, e] of Object.entries(locked)) {
    if (!path.startsWith("node_modules/") || e.dev) continue;
    const i = have[path];
    if (i === undefined) {
      if (!e.optional) differ.push(`${path} (not installed)`);
    } else if (i.version !== e.version || i.integrity !== e.integrity)
      differ.push(`${path} ${i.version ?? "?"} (locked: ${e.version ?? "?"})`);
    else count++;
  }
  for (const [path, i] of Object.entries(have))
    if (path.startsWith("node_modules/") && !i.dev && locked[path] === undefined)
      differ.push(`${path} (not in the lockfile)`);
  if (differ.length)
    return finding(
      id,
      "fail",
      named("runtime packages not as package-lock.json locks them:", differ),
      "npm ci (installs exactly the lockfile)",
    );
  return finding(id, "pass", `${count} runtime packages at their locked version and SHA-512`);
}

/** The supply-chain findings for the moat installed under `root`. */
export function integrityAudit(root: string): Finding[] {
  return [...checkAgainstSums(root), checkLocked(root), checkInstall(root)];
}
