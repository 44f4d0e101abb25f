// Writes dist/install.sha256, the install manifest `moat audit` compares the install against
// (src/host/install-manifest.ts). Run at the end of every build, so after `npm ci` it records the
// tree as npm installed and built it.
import { writeFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { PACKAGE_ROOT, sha256 } from "../src/base/sha256sums.js";
import { INSTALL_MANIFEST, makeInstallManifest } from "../src/host/install-manifest.js";

const text = makeInstallManifest(PACKAGE_ROOT);
const path = join(PACKAGE_ROOT, INSTALL_MANIFEST);
writeFileSync(`${path}.tmp`, text);
renameSync(`${path}.tmp`, path);
const files = text.split("\n").length - 1;
process.stdout.write(
  `${INSTALL_MANIFEST}: ${files} files (its SHA-256: ${sha256(Buffer.from(text))})\n`,
);
