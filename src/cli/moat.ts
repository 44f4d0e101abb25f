// The `moat` command line.
import { Command, CommanderError, Option } from "commander";
import { EXIT_MOAT_ERROR, UsageError, runCommand } from "./run-command.js";
import { KernelImageError } from "../boot/riscv-image.js";
import { BootLayoutError } from "../arch/riscv64/boot-layout.js";
import { SoftAccelError } from "../accel/soft/soft-accel.js";

const program = new Command();
program
  .name("moat")
  .description("A hypervisor in TypeScript: its own RISC-V CPU, and KVM, under one VMM.")
  .showHelpAfterError("(moat --help for usage)")
  .exitOverride();

program
  .command("run")
  .description(
    "Boot a disposable VM, run CMD in it and exit with CMD's status; with no CMD, an interactive " +
      "shell (Ctrl-A x quits). The default guest is the riscv64 Linux shipped in guest/riscv64.",
  )
  .argument("[cmd...]", "command and arguments to run in the guest (put them after --)")
  .addOption(
    new Option(
      "--accel <name>",
      "soft: moat's RISC-V CPU; kvm: hardware (x86-64 guests); auto: the best available",
    ).default("auto"),
  )
  .option("--kernel <file>", "Linux riscv64 Image to boot (default: the shipped kernel)")
  .option(
    "--initrd <file>",
    "initramfs to load (default: the shipped one, unless --kernel is given)",
  )
  .option("--cmdline <string>", "kernel command line", undefined)
  .option("--cpus <n>", "number of vCPUs (harts), 1-8", "1")
  .option("--memory <MiB>", "guest RAM in MiB, 32-4000", "256")
  .option(
    "--bios <builtin|opensbi|file>",
    "firmware: moat's built-in SBI (fast, default), Debian's OpenSBI, or a fw_dynamic file",
    "builtin",
  )
  .option("--timing", "print to stderr when the guest's userspace started and how long the VM ran")
  .action(async (cmd: string[], opts) => {
    process.exitCode = await runCommand(cmd, opts);
  });

async function main(): Promise<void> {
  try {
    await program.parseAsync(process.argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? 0 : EXIT_MOAT_ERROR;
      return;
    }
    if (
      e instanceof UsageError ||
      e instanceof KernelImageError ||
      e instanceof BootLayoutError ||
      e instanceof SoftAccelError
    ) {
      process.stderr.write(`moat: ${e.message}\n`);
      process.exitCode = EXIT_MOAT_ERROR;
      return;
    }
    process.stderr.write(`moat: internal error: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = EXIT_MOAT_ERROR;
  }
}

await main();
