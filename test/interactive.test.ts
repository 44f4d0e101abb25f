// `moat run` with no command is an interactive shell on a real terminal (a pty from util-linux's
// `script`): typed input reaches the guest, Ctrl-A x quits, and the terminal is left as it was.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { MOAT, REPO } from "./support/moat-cli.js";

function waitFor(get: () => string, re: RegExp, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = (): void => {
      if (re.test(get())) resolve();
      else if (Date.now() - t0 > ms)
        reject(new Error(`timed out waiting for ${re}; got:\n${get()}`));
      else setTimeout(tick, 50);
    };
    tick();
  });
}

test("interactive shell: input, Ctrl-A x, terminal restored", async () => {
  const inner = `stty -g; echo BEFORE-DONE; ${JSON.stringify(process.execPath)} ${JSON.stringify(MOAT)} run; echo "EXIT=$?"; stty -g`;
  const p = spawn("script", ["-qfec", inner, "/dev/null"], {
    cwd: REPO,
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  p.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  p.stderr.setEncoding("utf8").on("data", (d: string) => (out += d));
  const closed = new Promise<number | null>((r) => p.on("close", (c) => r(c)));
  try {
    await waitFor(() => out, /BEFORE-DONE/, 10_000);
    // The guest shell prompts "moat:/# " (busybox then asks the terminal for the cursor position).
    await waitFor(() => out, /moat:\/# /, 120_000);
    p.stdin.write("echo typed-$((6*7))\r");
    await waitFor(() => out, /typed-42/, 30_000);
    p.stdin.write("\x01x");
    await waitFor(() => out, /EXIT=\d+/, 30_000);
    p.stdin.end();
    assert.equal(await closed, 0);
  } finally {
    p.kill("SIGKILL");
  }
  assert.match(out, /EXIT=0/);
  const modes = out.match(/^[0-9a-f]+(:[0-9a-f]+){10,}\r?$/gm) ?? [];
  assert.equal(modes.length, 2, `expected two stty -g lines in:\n${out}`);
  assert.equal(modes[0]!.trim(), modes[1]!.trim(), "terminal modes changed");
});
