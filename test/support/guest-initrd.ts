// Test guests with programs of their own: C sources from test/guest/ built static with Debian's
// riscv64 cross compiler and appended, as a second cpio archive, to the shipped initramfs.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO } from "./moat-cli.js";

/** Builds test/guest/NAME.c into /bin/NAME for each name; returns the initrd's path in `dir`. */
export function initrdWith(dir: string, names: string[]): string {
  const root = join(dir, "root");
  mkdirSync(join(root, "bin"), { recursive: true });
  for (const name of names) {
    const cc = spawnSync(
      "riscv64-linux-gnu-gcc",
      [
        "-static",
        "-O2",
        "-Wall",
        "-o",
        join(root, "bin", name),
        join(REPO, `test/guest/${name}.c`),
      ],
      { encoding: "utf8" },
    );
    assert.equal(cc.status, 0, `building ${name}: ${cc.stderr}`);
  }
  const cpio = spawnSync("sh", ["-c", "find bin | cpio -o -H newc --quiet"], {
    cwd: root,
    maxBuffer: 16 << 20,
  });
  assert.equal(cpio.status, 0, String(cpio.stderr));
  const shipped = readFileSync(join(REPO, "guest/riscv64/initramfs.cpio.gz"));
  // The kernel reads concatenated archives; each starts on a 4-byte boundary.
  const pad = (4 - (shipped.length % 4)) % 4;
  const initrd = join(dir, "initrd");
  writeFileSync(initrd, Buffer.concat([shipped, Buffer.alloc(pad), cpio.stdout]));
  return initrd;
}
