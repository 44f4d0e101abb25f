// What `npm pack` puts in moat's tarball (package.json "files"): everything an install runs —
// the compiled code, the WebAssembly core and the shipped guests SHA256SUMS checks, the web
// console's assets, the SDK's entry and declarations — and none of the tests, benchmarks or
// TypeScript sources. `npm pack --dry-run` lists the files without building or writing anything.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  appendFileSync,
  cpSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO } from "./support/moat-cli.js";
import { readSha256Sums } from "../src/base/sha256sums.js";
import { WEB_CONSOLE_MODULES } from "../src/host/web-console.js";

interface Pkg {
  name: string;
  exports: Record<string, string | Record<string, string>>;
  directories: { bin: string };
  files: string[];
  scripts: Record<string, string>;
}

/** `npm pack`'s files in `dir` (`args`: --dry-run, or where the tarball goes). */
function pack(dir: string, args: string[]): { filename: string; files: string[] } {
  const r = spawnSync("npm", ["pack", "--json", "--ignore-scripts", ...args], {
    cwd: dir,
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  const p = (JSON.parse(r.stdout) as { filename: string; files: { path: string }[] }[])[0]!;
  return { filename: p.filename, files: p.files.map((f) => f.path) };
}

test("npm pack ships what an installed moat runs, and no tests or sources", () => {
  const files = new Set(pack(REPO, ["--dry-run"]).files);
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

interface Finding {
  id: string;
  status: string;
  why: string;
}

test("moat audit of an installed package checks its files against the record npm pack ships (dist/package.sha256)", () => {
  const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as Pkg;
  assert.ok(pkg.files.includes("dist/package.sha256"), "the record is in files");
  // prepack writes the record last, once the tarball's files are all there.
  assert.match(
    pkg.scripts["prepack"]!,
    /^npm run build && bash scripts\/pack-bin\.sh && node dist\/scripts\/package-manifest\.js$/,
  );
  const dir = mkdtempSync(join(tmpdir(), "moat-pack-"));
  try {
    // The package as prepack leaves it (the build is this checkout's): npm's own list of it,
    // then pack-bin.sh and the record, as prepack runs them.
    const stage = join(dir, "stage");
    for (const f of pack(REPO, ["--dry-run"]).files)
      if (f !== "dist/package.sha256") cpSync(join(REPO, f), join(stage, f));
    cpSync(join(REPO, "scripts/pack-bin.sh"), join(stage, "scripts/pack-bin.sh"));
    for (const [cmd, args] of [
      ["bash", [join(stage, "scripts/pack-bin.sh")]],
      [process.execPath, [join(REPO, "dist/scripts/package-manifest.js"), stage]],
    ] as const) {
      const r = spawnSync(cmd, args, { encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
    }
    const tarball = pack(stage, ["--pack-destination", dir]);
    for (const f of ["dist/package.sha256", "dist/npm-bin/moat", "dist/cpu.wasm"])
      assert.ok(tarball.files.includes(f), `${f} is not in the tarball`);
    // Installed: the tarball unpacked, the runtime packages where npm puts them (this
    // checkout's, hoisted above it as npm install --prefix would, out of the record).
    const r = spawnSync("tar", ["xzf", join(dir, tarball.filename), "-C", dir]);
    assert.equal(r.status, 0, String(r.stderr));
    const root = join(dir, "package");
    symlinkSync(join(REPO, "node_modules"), join(root, "node_modules"));
    const audit = (): Map<string, Finding> => {
      const a = spawnSync(
        process.execPath,
        [join(root, "bin/moat.js"), "audit", "--json", "--home", join(dir, "no-home")],
        { encoding: "utf8", timeout: 120_000 },
      );
      const all = (JSON.parse(a.stdout) as { findings: Finding[] }).findings;
      return new Map(all.filter((f) => f.id.startsWith("install.")).map((f) => [f.id, f]));
    };
    let f = audit();
    for (const id of ["install.files", "install.cpu-core", "install.guests"])
      assert.equal(f.get(id)?.status, "pass", `${id}: ${f.get(id)?.why}`);
    assert.match(f.get("install.files")!.why, /^\d+ files as packed \(dist\/package\.sha256, /);
    assert.equal(f.get("install.packages")?.status, "warn", "no lockfile to hold them to");

    appendFileSync(join(root, "dist/src/host/api.js"), "\n// planted\n");
    writeFileSync(join(root, "dist/src/host/extra.js"), "export {};\n");
    rmSync(join(root, "web/index.html"));
    f = audit();
    const files = f.get("install.files")!;
    assert.equal(files.status, "fail");
    assert.match(files.why, /changed: dist\/src\/host\/api\.js/);
    assert.match(files.why, /added: dist\/src\/host\/extra\.js/);
    assert.match(files.why, /removed: web\/index\.html/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
