// npm test's runner (scripts/run-tests.ts): a process the tests leave running, here a real VM
// started detached as a daemon starts one, is named and killed, and fails the run, also when the
// tests themselves failed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { processStart } from "../src/host/host-facts.js";
import { MOAT, REPO, until } from "./support/moat-cli.js";

const RUNNER = join(REPO, "dist/scripts/run-tests.js");

/** A test file whose one test starts a VM it never ends, then passes or fails. */
function leakingTestFile(dir: string, fails: boolean): { file: string; pidFile: string } {
  const file = join(dir, "leak.test.mjs");
  const pidFile = join(dir, "vm.pid");
  const control = join(dir, "control.sock");
  writeFileSync(
    file,
    `import { test } from "node:test";
import { spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
test("leaves a VM running", async () => {
  const argv = ${JSON.stringify([MOAT, "run", "--control", control, "--", "sleep", "600"])};
  const vm = spawn(process.execPath, argv, { detached: true, stdio: "ignore" });
  vm.unref();
  writeFileSync(${JSON.stringify(pidFile)}, String(vm.pid));
  while (!existsSync(${JSON.stringify(control)})) await new Promise((r) => setTimeout(r, 100));
  ${fails ? 'throw new Error("and fails");' : ""}
});
`,
  );
  return { file, pidFile };
}

/** `pid` has ended: no such process, or one that ended and waits to be reaped (state Z). */
function gone(pid: number): boolean {
  if (processStart(pid) === undefined) return true;
  try {
    return /^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return true;
  }
}

/** The runner on `file`: its exit status and what it printed. */
function runner(file: string): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve) => {
    // As npm test starts it: not as a child of this node --test (which would report to it).
    const env = { ...process.env };
    delete env.NODE_TEST_CONTEXT;
    const p = spawn(process.execPath, [RUNNER, file], { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    p.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    p.stderr.setEncoding("utf8").on("data", (d: string) => (out += d));
    p.on("close", (status) => resolve({ status, out }));
  });
}

for (const fails of [false, true]) {
  test(`npm test's runner names and kills a VM that a ${fails ? "failing" : "passing"} test left running, and fails the run`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "moat-leak-"));
    let pid = 0;
    t.after(() => {
      if (pid > 0 && processStart(pid) !== undefined) process.kill(pid, "SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    });
    const { file, pidFile } = leakingTestFile(dir, fails);
    const r = await runner(file);
    pid = Number(readFileSync(pidFile, "utf8"));
    assert.ok(pid > 0);
    assert.match(r.out, fails ? /^# fail 1$/m : /^# pass 1$/m, r.out);
    assert.equal(r.status, 1, r.out);
    assert.match(
      r.out,
      new RegExp(`outlived them; killed:\\n  pid ${pid}: \\S+ ${MOAT} run --control `),
      r.out,
    );
    // Killed: gone, or a zombie its new parent (PID 1, which may reap it late) has not yet
    // reaped. Waited for as a state, never a time.
    await until(() => gone(pid), "the VM killed", 10_000);
  });
}
