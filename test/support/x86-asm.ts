// Builds small x86-64 test programs with the host's GNU binutils (as, ld, objcopy): a flat
// binary linked at `base`, or an ELF file.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  assert.equal(r.status, 0, `${cmd} ${args.join(" ")}: ${r.stderr || r.error?.message}`);
}

/** Assembles `source` (GNU as syntax), links it at `base`; returns the flat image or the ELF. */
export function assemble(
  source: string,
  base: bigint,
  format: "flat" | "elf" = "flat",
): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), "moat-x86-"));
  try {
    writeFileSync(join(dir, "p.S"), source);
    run("as", ["--64", "-o", join(dir, "p.o"), join(dir, "p.S")]);
    run("ld", [
      "-m",
      "elf_x86_64",
      "-N",
      `-Ttext=0x${base.toString(16)}`,
      "-o",
      join(dir, "p.elf"),
      join(dir, "p.o"),
    ]);
    if (format === "elf") return readFileSync(join(dir, "p.elf"));
    run("objcopy", ["-O", "binary", "-j", ".text", join(dir, "p.elf"), join(dir, "p.bin")]);
    return readFileSync(join(dir, "p.bin"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
