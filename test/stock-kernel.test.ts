// Debian's stock riscv64 kernel (linux-image-riscv64 from Debian stable) boots on moat's soft CPU
// with the shipped initramfs: proof that moat is not tuned to its own minimal kernel.
// guest/stock-kernel.sh fetches it through a private apt configuration (cached after the first run).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { REPO, moat } from "./support/moat-cli.js";

test("Debian's stock linux-image-riscv64 boots to a command", { timeout: 600_000 }, async () => {
  const fetch = spawnSync("bash", [join(REPO, "guest/stock-kernel.sh")], {
    encoding: "utf8",
    timeout: 300_000,
  });
  assert.equal(fetch.status, 0, `stock-kernel.sh failed:\n${fetch.stderr}`);
  const image = fetch.stdout.trim().split("\n").pop()!;
  const version = /\/([^/]+)\/Image$/.exec(image)?.[1];
  assert.ok(version, `unexpected path ${image}`);
  const r = await moat(
    [
      "run",
      "--kernel",
      image,
      "--initrd",
      join(REPO, "guest/riscv64/initramfs.cpio.gz"),
      "--",
      "uname",
      "-r",
    ],
    { timeoutMs: 240_000 },
  );
  assert.equal(r.stdout.trim(), version, r.stderr);
  assert.equal(r.status, 0);
});
