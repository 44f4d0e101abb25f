// The build and the first command (README, "Quick start"): `npm run build` on an unchanged tree
// rebuilds nothing, the CPU core is rebuilt when one of its inputs changed, and `npx moat` in
// the checkout runs the checkout's own moat without installing anything into npx's cache.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO } from "./support/moat-cli.js";

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env) {
  const r = spawnSync(cmd, args, { cwd, env, encoding: "utf8", timeout: 300_000 });
  return { status: r.status, out: r.stdout + r.stderr };
}

test("npm run build on an unchanged tree rebuilds nothing", { timeout: 600_000 }, () => {
  // The first build brings the tree up to date (a source may have changed since npm test's).
  assert.equal(run("npm", ["run", "build"], REPO).status, 0);
  const outputs = ["dist/cpu.wasm", "dist/src/cli/moat.js", "dist/web/app.js"];
  const times = () => outputs.map((f) => statSync(join(REPO, f)).mtimeMs);
  const before = times();
  const r = run("npm", ["run", "build"], REPO);
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /^dist\/cpu\.wasm: up to date$/m);
  assert.deepEqual(times(), before, "an output was written again");
});

test("the CPU core is built again when one of its inputs changed, and only then", () => {
  // A copy of what the core's build reads, with the repository's node_modules.
  const dir = mkdtempSync(join(tmpdir(), "moat-build-"));
  try {
    for (const p of [
      "src/accel/soft/cpu",
      "asconfig.json",
      "package.json",
      "scripts/build-wasm.sh",
      "dist/cpu.wasm",
      "dist/cpu.wasm.inputs",
    ])
      cpSync(join(REPO, p), join(dir, p), { recursive: true });
    symlinkSync(join(REPO, "node_modules"), join(dir, "node_modules"));
    const build = () => {
      const r = spawnSync("bash", [join(dir, "scripts/build-wasm.sh")], { encoding: "utf8" });
      assert.equal(r.status, 0, r.stdout + r.stderr);
      return r.stdout;
    };
    const core = join(dir, "dist/cpu.wasm");
    const stamp = join(dir, "dist/cpu.wasm.inputs");
    assert.match(build(), /^dist\/cpu\.wasm: up to date$/m);
    // A source changed (a comment: the same core comes out, built again all the same).
    appendFileSync(join(dir, "src/accel/soft/cpu/index.ts"), "\n// changed\n");
    const recorded = readFileSync(stamp, "utf8");
    const built = statSync(core).mtimeMs;
    assert.doesNotMatch(build(), /up to date/);
    assert.ok(statSync(core).mtimeMs > built, "dist/cpu.wasm was not written");
    assert.notEqual(readFileSync(stamp, "utf8"), recorded);
    assert.ok(readFileSync(core).equals(readFileSync(join(REPO, "dist/cpu.wasm"))));
    assert.match(build(), /^dist\/cpu\.wasm: up to date$/m);
    // The core itself changed, or gone: built again.
    appendFileSync(core, "x");
    assert.doesNotMatch(build(), /up to date/);
    assert.ok(readFileSync(core).equals(readFileSync(join(REPO, "dist/cpu.wasm"))));
    rmSync(core);
    assert.doesNotMatch(build(), /up to date/);
    assert.ok(existsSync(core));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("npx moat in the checkout runs its node_modules/.bin/moat and installs nothing into npx's cache", () => {
  const link = join(REPO, "node_modules/.bin/moat");
  assert.ok(existsSync(link), `${link} is missing: npm ci (or npm run prepare) links it`);
  assert.equal(statSync(link).ino, statSync(join(REPO, "bin/moat.js")).ino, "links bin/moat.js");
  const cache = mkdtempSync(join(tmpdir(), "moat-npx-"));
  try {
    const r = run("npx", ["moat", "--help"], REPO, {
      ...process.env,
      npm_config_cache: cache,
    });
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /^Usage: moat /m);
    assert.ok(!existsSync(join(cache, "_npx")), "npx installed something into its cache");
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});
