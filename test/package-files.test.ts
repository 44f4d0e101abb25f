// What `npm pack` puts in moat's tarball (package.json "files"): everything an install runs —
// the compiled code, the WebAssembly core and the shipped guests SHA256SUMS checks, the web
// console's assets, the SDK's entry and declarations — and none of the tests, benchmarks or
// TypeScript sources. `npm pack --dry-run` lists the files without building or writing anything.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO } from "./support/moat-cli.js";
import { readSha256Sums } from "../src/base/sha256sums.js";
import { WEB_CONSOLE_MODULES } from "../src/host/web-console.js";

interface Pkg {
  name: string;
  exports: Record<string, string | Record<string, string>>;
  directories: { bin: string };
}

test("npm pack ships what an installed moat runs, and no tests or sources", () => {
  const r = spawnSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], {
    cwd: REPO,
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  const files = new Set(
    (JSON.parse(r.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path),
  );
  const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as Pkg;
  const need = [
    "package.json",
    "bin/moat.js",
    "dist/src/cli/moat.js",
    ...WEB_CONSOLE_MODULES.map((m) => `dist/web/${m}`),
    "web/index.html",
    "web/console.css",
    ...readSha256Sums(join(REPO, "SHA256SUMS")).keys(),
    "SHA256SUMS",
  ];
  for (const f of need) assert.ok(files.has(f), `${f} is not in the package`);
  // The SDK's entry and its declarations (import "moat-vmm").
  const entry = pkg.exports["."] as Record<string, string>;
  for (const f of [entry["default"]!, entry["types"]!])
    assert.ok(files.has(f.replace(/^\.\//, "")), `${f} is not in the package`);
  const unwanted = (f: string) =>
    /^(test|bench|fuzz|scripts|src|dist\/(test|bench|fuzz|scripts))\//.test(f) ||
    (f.endsWith(".ts") && !f.endsWith(".d.ts") && !f.startsWith("examples/"));
  assert.deepEqual([...files].filter(unwanted), []);
  // The command of an install: directories.bin, made only while packing (scripts/pack-bin.sh).
  assert.equal(pkg.directories.bin, "dist/npm-bin");
  assert.equal(pkg.name, "moat-vmm");
});
