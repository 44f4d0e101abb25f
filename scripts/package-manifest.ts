// Writes dist/package.sha256, the record `moat audit` checks an installed package against
// (src/host/install-manifest.ts): every file `npm pack` puts in the tarball (npm's own list,
// --dry-run) with its SHA-256. Run by prepack after the build and scripts/pack-bin.sh, so the
// list is the tarball's; the checkout's own record, dist/install.sha256, is left as built.
// `node dist/scripts/package-manifest.js [DIR]`: the package in DIR (default: this checkout).
import { spawnSync } from "node:child_process";
import { renameSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { PACKAGE_ROOT, sha256 } from "../src/base/sha256sums.js";
import { makeInstallManifest, PACKAGE_MANIFEST } from "../src/host/install-manifest.js";

const root = resolve(process.argv[2] ?? PACKAGE_ROOT);
const r = spawnSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], {
  cwd: root,
  encoding: "utf8",
});
if (r.status !== 0) throw new Error(`npm pack --dry-run failed: ${r.stderr}`);
const files = (JSON.parse(r.stdout) as { files: { path: string }[] }[])[0]!.files
  .map((f) => f.path)
  .filter((f) => f !== PACKAGE_MANIFEST);
const text = makeInstallManifest(root, files);
const path = join(root, PACKAGE_MANIFEST);
writeFileSync(`${path}.tmp`, text);
renameSync(`${path}.tmp`, path);
process.stdout.write(
  `${PACKAGE_MANIFEST}: ${files.length} files (its SHA-256: ${sha256(Buffer.from(text))})\n`,
);
