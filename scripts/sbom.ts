// `npm run sbom`: the software bill of materials of moat's npm tree, CycloneDX 1.5 JSON, to
// dist/sbom.cdx.json. Made from package-lock.json (`npm sbom --package-lock-only`): every package
// with its version, purl, licence and the registry tarball's SHA-512, dev packages under scope
// "optional". npm names the root component after the directory it runs in (its bom-ref and purl
// are right); the name is set to moat's here. Generated, not committed: it holds nothing the
// committed lockfile does not, and a timestamp and a random serial number that would change it
// on every run.
import { execFileSync } from "node:child_process";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PACKAGE_ROOT } from "../src/base/sha256sums.js";

const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8")) as {
  name: string;
};
const out = execFileSync(
  "npm",
  ["sbom", "--sbom-format", "cyclonedx", "--sbom-type", "application", "--package-lock-only"],
  { cwd: PACKAGE_ROOT, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 },
);
const bom = JSON.parse(out) as { metadata: { component: { name: string } } };
bom.metadata.component.name = pkg.name;
const path = join(PACKAGE_ROOT, "dist/sbom.cdx.json");
writeFileSync(`${path}.tmp`, JSON.stringify(bom, null, 2) + "\n");
renameSync(`${path}.tmp`, path);
process.stdout.write(`${path}\n`);
