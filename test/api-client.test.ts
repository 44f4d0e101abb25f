// Where the CLI takes its API token from: --token-file, MOAT_TOKEN, MOAT_TOKEN_FILE, the admin
// token, in that order; and --help says so.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connection } from "../src/cli/api-client.js";
import { MOAT } from "./support/moat-cli.js";

/** Runs `fn` with the MOAT_* variables set as given (the others unset), then restores them. */
function withEnv<T>(env: Record<string, string>, fn: () => T): T {
  const names = ["MOAT_HOME", "MOAT_TOKEN", "MOAT_TOKEN_FILE", "MOAT_SOCKET"];
  const saved = names.map((n) => process.env[n]);
  for (const n of names) delete process.env[n];
  Object.assign(process.env, env);
  try {
    return fn();
  } finally {
    names.forEach((n, i) => {
      if (saved[i] === undefined) delete process.env[n];
      else process.env[n] = saved[i];
    });
  }
}

test("the API token: --token-file, then MOAT_TOKEN, then MOAT_TOKEN_FILE, then the admin token", () => {
  const dir = mkdtempSync(join(tmpdir(), "moat-token-"));
  try {
    const file = (name: string, token: string): string => {
      writeFileSync(join(dir, name), `${token}\n`);
      return join(dir, name);
    };
    const flag = file("flag.token", "from-flag");
    const envFile = file("env.token", "from-env-file");
    file("admin.token", "from-admin");
    const all = { MOAT_HOME: dir, MOAT_TOKEN: "from-env", MOAT_TOKEN_FILE: envFile };
    const token = (env: Record<string, string>, o: { tokenFile?: string } = {}): string =>
      withEnv(env, () => connection(o).token);
    assert.equal(
      token(all, { tokenFile: flag }),
      "from-flag",
      "a flag given beats the environment",
    );
    assert.equal(token(all), "from-env");
    assert.equal(token({ MOAT_HOME: dir, MOAT_TOKEN_FILE: envFile }), "from-env-file");
    assert.equal(token({ MOAT_HOME: dir }), "from-admin");
    assert.throws(
      () => token({ MOAT_HOME: dir, MOAT_TOKEN_FILE: join(dir, "none") }),
      /no API token: set MOAT_TOKEN or MOAT_TOKEN_FILE, or --token-file.*ENOENT/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("moat --help names MOAT_TOKEN and MOAT_TOKEN_FILE", () => {
  const r = spawnSync(process.execPath, [MOAT, "--help"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const help = r.stdout.replace(/\s+/g, " ");
  assert.match(
    help,
    /--token-file <path> a file holding an API token \(default: [^)]*\$MOAT_TOKEN,/,
  );
  assert.match(help, /\$MOAT_TOKEN_FILE names/);
});
