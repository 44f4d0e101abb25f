// The `moat` command line.
import { Command, CommanderError, Option } from "commander";
import { runCommand, vmmCommand } from "./run-command.js";
import { EXIT_MOAT_ERROR } from "../vmm/exit-status.js";
import { MoatError } from "../base/moat-error.js";
import { VMM_LIMITS } from "../jail/drop.js";
import { ApiClientError, registerHostCommands } from "./host-commands.js";
import { guestArgvOrder, registerGuestCommands } from "./guest-commands.js";
import { registerAuditCommand } from "./audit-command.js";
import { registerEventsCommand } from "./events-command.js";
import { registerCompletionCommand } from "./completion.js";
import { registerSnapshotCommands } from "./snapshot-commands.js";
import { registerImageCommands } from "./image-commands.js";
import { CPU_TIER_HELP } from "./vm-options.js";
import { VM_NAME_WORDS } from "../vmm/vm-config.js";
import { MEMORY_MIB_MAX, MEMORY_MIB_MIN, VCPUS_MAX } from "../vmm/vm-limits.js";
import { readFileSync } from "node:fs";

/** The version of this moat: package.json's, read where it is installed (dist/src/cli/ -> ../../../). */
const VERSION = (
  JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as {
    version: string;
  }
).version;

const program = new Command();
program
  .name("moat")
  .description("A hypervisor in TypeScript: its own RISC-V CPU, and KVM, under one VMM.")
  .version(VERSION, "-V, --version", "print moat's version and exit")
  .showHelpAfterError("(moat --help for usage)")
  .exitOverride();

program
  .command("run")
  .description(
    "Boot a disposable VM, run CMD in it and exit with CMD's status; with no CMD, an interactive " +
      "shell (Ctrl-A x quits). The guest is the Linux shipped in guest/: riscv64 on moat's own CPU " +
      "(--accel soft), x86-64 on KVM (--accel kvm).",
  )
  .argument("[cmd...]", "command and arguments to run in the guest (put them after --)")
  .addOption(
    new Option(
      "--accel <name>",
      "soft: moat's RISC-V CPU (riscv64 guest); kvm: /dev/kvm (x86-64 guest); auto: kvm on hosts " +
        "with hardware virtualisation, soft elsewhere (and on PVM-nested KVM, where Linux crawls)",
    ).default("auto"),
  )
  .option("--cpu-tier <tier>", CPU_TIER_HELP)
  .option(
    "--kernel <file>",
    "kernel to boot: a riscv64 Image (soft), an x86-64 ELF vmlinux or bzImage (kvm); default: the shipped one",
  )
  .option(
    "--initrd <file>",
    "initramfs to load (default: the shipped one, unless --kernel is given)",
  )
  .option(
    "--no-initrd",
    "boot without an initramfs: the kernel mounts its root itself (e.g. the shipped kernel " +
      "with --cmdline 'root=/dev/vda rw' and a distribution's disk image, docs/guest.md)",
  )
  .option("--cmdline <string>", "kernel command line", undefined)
  .option("--cpus <n>", `number of vCPUs (harts), 1-${VCPUS_MAX}`, "1")
  .option(
    "--memory <MiB>",
    `guest RAM in MiB, ${MEMORY_MIB_MIN}-${MEMORY_MIB_MAX.riscv64} (x86-64: up to ${MEMORY_MIB_MAX.x86_64})`,
    "256",
  )
  .option(
    "--bios <builtin|opensbi|file>",
    "firmware: moat's built-in SBI (fast, default), Debian's OpenSBI, or a fw_dynamic file",
    "builtin",
  )
  .option(
    "--disk <path[,ro][,bps=N][,iops=N][,format=raw|qcow2]>",
    "a disk image as virtio-blk (/dev/vda, vdb, ... in order); ,ro: read-only, enforced " +
      "by the host; bps/iops: rate limits in bytes and requests per second (K, M, G allowed); " +
      "raw unless ,format=qcow2 says so (a qcow2 file not said to be one is refused, never " +
      "guessed; docs/disks.md); ,format=raw: a raw disk that only starts like another format, " +
      "not probed; repeat for more disks (up to 8)",
    (v: string, prev: string[] = []) => [...prev, v],
  )
  .option(
    "--vconsole <socket>",
    "a virtio console whose host end is this Unix socket (mode 0600, one client); in the guest " +
      "/dev/hvc1 on riscv64 (hvc0 is the SBI console), /dev/hvc0 on x86-64",
  )
  .option(
    "--net <tap=NAME|bridge=BR|tap=NAME,bridge=BR[,mac=M][,bps=N][,pps=N]>",
    "a virtio-net NIC (eth0, eth1, ...) on a TAP device: tap=NAME uses that TAP (created when " +
      "absent); bridge=BR makes the TAP (tap=NAME's, else a new one) a port of the existing " +
      "Linux bridge BR (as OpenStack's Linux-bridge agent expects a port's TAP); mac: the " +
      "guest's MAC (default: random, locally administered; frames from any other source MAC " +
      "are dropped); bps/pps: rate limits per direction (K, M, G allowed). Needs root or " +
      "CAP_NET_ADMIN; see docs/network.md. Repeat for more NICs (up to 4)",
    (v: string, prev: string[] = []) => [...prev, v],
  )
  .option(
    "--vsock <path[,cid=N]>",
    "a virtio-vsock device (guest CID N, default 3): a host process connects to the Unix " +
      "socket PATH and writes 'CONNECT <port>\\n' to reach a guest port; a guest connecting to " +
      "host CID 2 port P reaches the Unix socket PATH_P. Sockets are mode 0600",
  )
  .option(
    "--balloon [opts]",
    "a virtio-balloon device: memory the guest gives back (on request, or free pages it " +
      "reports) leaves moat's RSS; the target is set through --control. reporting=off: no " +
      "free page reporting, only explicit inflation returns memory (put a guest command " +
      "after --)",
  )
  .option(
    "--control <socket>",
    "a control socket (Unix, mode 0600): one JSON request per line, e.g. " +
      '{"op":"balloon","target_mib":64}, {"op":"pause"}, {"op":"resume"}, ' +
      '{"op":"shutdown"} (the power button: the shipped guest shuts down, exit 143), ' +
      '{"op":"stop"} (ends the VM at once, exit 143), ' +
      '{"op":"status"}, {"op":"metrics"}, {"op":"balloon-stats"}, ' +
      '{"op":"limits","device":"vda","bps":1048576}; ' +
      "see docs/control.md",
  )
  .option(
    "--agent [allow=LIST]",
    "a guest-agent channel: a virtio-serial port the guest's qemu-guest-agent opens " +
      "(/dev/virtio-ports/org.qemu.guest_agent.0), reached through --control " +
      '({"op":"agent","command":"info"}). The shipped riscv64 guest then boots with its ' +
      "agent (guest/riscv64/agent.cpio.gz, rdinit=/agent-init); a kernel or initrd of your " +
      "own gets the channel only (the x86-64 guest ships no agent). Its policy allows the " +
      "read-only informational commands and shutdown; allow=info,shutdown,fsfreeze,exec,file " +
      "(classes or single commands) sets it. See docs/agent.md",
  )
  .option("--rng", "a virtio-rng entropy device (/dev/hwrng), at most 1 MiB/s to the guest")
  .option(
    "--lock-memory",
    "lock guest RAM in host memory (mlock, pages locked as the guest first touches them) so " +
      "none of it is ever written to swap; not with --balloon or --ksm. Needs moat started as root " +
      "(with or without --jail-user) or a memlock limit (ulimit -l) that holds the guest's RAM",
  )
  .option(
    "--raw-console",
    "pass every byte of the guest's console to the terminal; otherwise escape sequences that " +
      "could act on it (clipboard, links, window reports, terminal extensions) are left out " +
      "(only on a terminal: to a pipe or file the output is always byte for byte)",
  )
  .option(
    "--display [WxH]",
    "a virtio-gpu display (the guest's /dev/fb0 and text console) offering mode WxH (default " +
      "1024x768), with a keyboard and a tablet; console=tty0 goes before the command line's " +
      "console= (the serial console stays /dev/console), and the shipped guest runs a shell on " +
      'the screen; {"op":"screenshot"} on --control returns it as a PNG',
  )
  .option(
    "--vnc <socket|host:port>",
    "serve the --display over VNC (RFB 3.8, Raw and ZRLE, up to 4 viewers; keys and pointer " +
      "reach the guest) on this Unix socket (mode 0600: its permissions are the authentication) " +
      "or on a loopback port such as 127.0.0.1:5901 (needs --vnc-password-file)",
  )
  .option(
    "--vnc-password-file <file>",
    "VNC Authentication with the password on this file's first line (1-8 bytes, file mode " +
      "0600); required for a TCP --vnc, optional on a socket",
  )
  .option(
    "--name <name>",
    `the VM's name (${VM_NAME_WORDS}, as for moat create), reported by status`,
  )
  .option(
    "--console-socket <path>",
    "serve the guest's serial console on this Unix socket (mode 0600, up to 4 clients, no " +
      "Ctrl-A escape) instead of stdin/stdout; stdin is not read",
  )
  .option(
    "--console-log <path[,max=BYTES]>",
    "also append guest console output to this file (mode 0600); at max/2 bytes it becomes " +
      "PATH.1 and a new file starts, so both hold at most max (64K-64M, default 1M)",
  )
  .option(
    "--exit-file <path>",
    'when the VM ends, write {"status","reason","detail","time"} here (atomically); also ' +
      'reason "error" when it cannot start',
  )
  .option(
    "--pin-cpus <list>",
    "pin vCPU i's thread to host CPU list[i % n], e.g. 0,1 (CPUs this process may use)",
  )
  .option(
    "--ksm",
    "let KSM merge identical guest RAM pages with other processes' (madvise MERGEABLE; a " +
      "cross-VM side channel: use only where that is acceptable)",
  )
  .option(
    "--jail-user <uid:gid>",
    "once the VM is set up: become this user and group (no groups, no capabilities left), " +
      `no core dumps, at most ${VMM_LIMITS.nofile} open files; a host daemon gives every VM its own (root only)`,
  )
  .option(
    "--seccomp [mode]",
    "once the VM is set up, before its first instruction: a seccomp filter on every thread " +
      "allows only the system calls the VMM needs (docs/security.md); any other kills the " +
      "process. 'log': log and allow them instead (to find what a new path needs). x86-64 hosts",
  )
  .option(
    "--jail",
    "run the VM in a jail (root only): its own mount, PID, IPC, UTS and network namespaces, " +
      "a root holding only the files it needs, its own uid (--jail-user, or one from " +
      "1901000000 + the launcher's pid), no capabilities, and --seccomp (docs/security.md). " +
      "Without it the VM runs unjailed, for development",
  )
  .option(
    "--snapshot-dir <dir>",
    'where {"op":"snapshot","name":"NAME"} on --control writes a snapshot of the paused VM ' +
      "(DIR/NAME: its RAM, sparse, and snapshot.json; soft CPU). See docs/snapshot.md",
  )
  .option(
    "--restore <dir>",
    "start from a snapshot instead of booting: the guest goes on where it was paused. The " +
      "machine (CPUs, memory, disks, devices) is the snapshot's; give only host options " +
      "(--control, --console-socket, --console-log, --snapshot-dir, ...), and --disk to give " +
      "the restored VM its own copies of the snapshot's disks (as many, in order, same size " +
      "and ro-ness), --net its NICs' TAP devices or bridges (as many, in order; a clone's " +
      "mac=), --vsock its host socket and a new CID",
  )
  .option(
    "--clone",
    "with --restore: the VM is one of many from this snapshot; it gets a new VM generation ID, " +
      "so the guest kernel reseeds its RNG and /init sets its clock from the RTC; each NIC gets " +
      "its own MAC (--net ...,mac=M, else a random one), which the shipped guest takes up by " +
      "probing the NIC again " +
      '(docs/snapshot.md "Clones")',
  )
  .option("--timing", "print to stderr when the guest's userspace started and how long the VM ran")
  .action(async (cmd: string[], opts, command: Command) => {
    process.exitCode = await runCommand(
      cmd,
      opts,
      (k) => command.getOptionValueSource(k) === "cli",
    );
  });

program
  .command("vmm")
  .description(
    "Run the VM a config file describes (JSON: docs/vm-config.md; what moat run's flags and " +
      "the daemon's VMs are made into) and exit with its status. The config file must be yours " +
      "or root's and writable by no one else.",
  )
  .argument("[cmd...]", "command and arguments to run in the shipped guest (put them after --)")
  .requiredOption("--config <file>", "the VM's config (JSON)")
  .option(
    "--name <name>",
    "the config's name again, so that ps and moat audit can tell the process apart (must match)",
  )
  .option("--raw-console", "pass every byte of the guest's console to the terminal")
  .option("--timing", "print to stderr when the guest's userspace started and how long the VM ran")
  .addOption(new Option("--in-jail <plan>").hideHelp())
  .addOption(new Option("--flag-names").hideHelp())
  .action(async (cmd: string[], opts) => {
    process.exitCode = await vmmCommand(cmd, opts);
  });

registerHostCommands(program);
registerGuestCommands(program);
registerAuditCommand(program);
registerEventsCommand(program);
registerSnapshotCommands(program);
registerImageCommands(program);
registerCompletionCommand(program);

async function main(): Promise<void> {
  try {
    await program.parseAsync(guestArgvOrder(process.argv));
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? 0 : EXIT_MOAT_ERROR;
      return;
    }
    // The daemon's answer: exit 1, as for any client whose server said no.
    if (e instanceof ApiClientError) {
      process.stderr.write(`moat: ${e.message}\n`);
      process.exitCode = 1;
      return;
    }
    // RangeError: a value outside what a parser takes (a MAC, a number), said as it is.
    if (e instanceof MoatError || e instanceof RangeError) {
      process.stderr.write(`moat: ${e.message}\n`);
      process.exitCode = EXIT_MOAT_ERROR;
      return;
    }
    process.stderr.write(`moat: internal error: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = EXIT_MOAT_ERROR;
  }
}

await main();
