// moat's errors share one base (src/base/moat-error.ts) whose kind alone decides the API's status
// and, for a command, exit status 125 with the message and no stack.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { HTTP_STATUS, MoatError } from "../src/base/moat-error.js";
import { ApiError } from "../src/host/api-error.js";
import { SupervisorError } from "../src/host/supervisor.js";
import { DiskError } from "../src/vmm/disk-file.js";
import { VmConfigError } from "../src/vmm/vm-config.js";
import { AgentError } from "../src/agent/agent-client.js";
import { SysError } from "../src/sys/libc.js";
import { REPO, moat } from "./support/moat-cli.js";

test("each kind has its HTTP status, and an ApiError's status gives its kind back", () => {
  assert.deepEqual(HTTP_STATUS, {
    usage: 400,
    refused: 403,
    "not-found": 404,
    conflict: 409,
    invalid: 422,
    guest: 502,
    host: 500,
  });
  for (const [kind, status] of Object.entries(HTTP_STATUS))
    assert.equal(new ApiError(status, "x").kind, kind);
  assert.equal(new ApiError(503, "full").kind, "host");
  assert.equal(new ApiError(429, "slow down").kind, "usage");
});

test("a MoatError from any layer becomes the API's answer by its kind, the field kept", () => {
  const cases: [MoatError, number][] = [
    [new SupervisorError("VM 'a' is already running"), 409],
    [new SupervisorError("no VM 'b'", "not-found"), 404],
    [new SupervisorError("did not come up", "host"), 500],
    [new DiskError("d.img: no such file"), 422],
    [new AgentError("guest-exec: denied", "guest"), 502],
    [new SysError("open", 2), 500],
    [new VmConfigError("memory_mib must be between 32 and 3072, not 3500", "memory_mib"), 400],
  ];
  for (const [e, status] of cases) {
    const a = ApiError.of(e);
    assert.equal(a.statusCode, status, e.message);
    assert.equal(a.message, e.message);
  }
  assert.equal(ApiError.of(cases.at(-1)![0]).field, "memory_mib");
  const own = new ApiError(413, "too big");
  assert.equal(ApiError.of(own), own, "an ApiError keeps its own status");
});

test("every error class moat declares extends MoatError", () => {
  const bad: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".ts") && !e.name.endsWith(".d.ts"))
        for (const m of readFileSync(p, "utf8").matchAll(/class (\w+) extends (\w+)/g))
          if (/Error$/.test(m[1]!) && m[2] === "Error" && m[1] !== "MoatError")
            bad.push(`${p}: ${m[1]}`);
    }
  };
  walk(join(REPO, "src"));
  assert.deepEqual(bad, []);
});

test("a command that meets a MoatError deep down exits 125 with its message and no stack", async () => {
  const r = await moat(["run", "--kernel", join(REPO, "package.json"), "--", "true"]);
  assert.equal(r.status, 125, r.stderr);
  assert.match(r.stderr, /^moat: /);
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
});
