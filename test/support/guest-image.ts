// Bare S-mode test guests: a C source from test/guest/ built freestanding with Debian's riscv64
// cross compiler and its linker script into a riscv64 Image, which `moat run --kernel` boots
// with moat's own SBI (no Linux).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { REPO } from "./moat-cli.js";

/** Builds test/guest/NAME.c (linked by NAME.ld) for a VM of `ramMiB`; returns the Image's path. */
export function bareImage(dir: string, name: string, ramMiB: number): string {
  const elf = join(dir, `${name}.elf`);
  const image = join(dir, `${name}.img`);
  const cc = spawnSync(
    "riscv64-linux-gnu-gcc",
    [
      // No F/D: the hart starts with mstatus.FS off. No relaxation: nothing sets gp.
      "-march=rv64imac_zicsr_zifencei",
      "-mabi=lp64",
      "-mcmodel=medany",
      "-mno-relax",
      "-ffreestanding",
      "-fno-pic",
      "-fno-stack-protector",
      "-nostdlib",
      "-static",
      "-O2",
      "-Wall",
      `-DRAM_MIB=${ramMiB}`,
      "-T",
      join(REPO, `test/guest/${name}.ld`),
      "-Wl,--build-id=none,--no-warn-rwx-segments",
      "-o",
      elf,
      join(REPO, `test/guest/${name}.c`),
    ],
    { encoding: "utf8" },
  );
  assert.equal(cc.status, 0, `building ${name}: ${cc.stderr}`);
  const copy = spawnSync("riscv64-linux-gnu-objcopy", ["-O", "binary", elf, image], {
    encoding: "utf8",
  });
  assert.equal(copy.status, 0, `objcopy ${name}: ${copy.stderr}`);
  return image;
}
