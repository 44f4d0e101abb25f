// A test entry point, never part of the VMM. Mode "jail" (started by jail/launch.ts as a VM
// process is): enters the jail from the plan in its last argument, drops to the VM's own uid,
// takes the seccomp filter, exactly as `moat run --in-jail` does before the guest's first
// instruction. Mode "kill"/"log": the filter alone. Then it tries one thing a compromised VMM
// might (argv[2]) and prints what happened. A denied call kills it with SIGSYS (the test checks
// the signal); "socket-*" attempts are refused with EPERM.
import { createServer } from "node:net";
import { spawnSync } from "node:child_process";
import { lockDownVmm } from "../../src/jail/seccomp.js";
import { rawSyscall } from "../../src/sys/libc.js";
import { SYS } from "../../src/jail/vmm-filter.js";
import { dropPrivileges } from "../../src/jail/drop.js";
import { enterJail, parseJailPlan } from "../../src/jail/enter.js";
import { openSync, readFileSync, readdirSync } from "node:fs";
import { hostname } from "node:os";

/** The uid a jailed probe drops to. */
const PROBE_UID = 1900000009;

/** Opens `path` with `flags`; prints the error code, or "opened". */
function tryOpen(path: string, flags: string): string {
  try {
    openSync(path, flags);
    return "opened";
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? String(e);
  }
}

const what = process.argv[2]!;
const mode = process.argv[3];
if (mode === "jail") {
  const plan = process.argv[process.argv.length - 1]!;
  enterJail(parseJailPlan(plan.slice("--in-jail=".length)));
  dropPrivileges(PROBE_UID, PROBE_UID, { jailed: true });
}
lockDownVmm(mode === "log");
const out = (s: string): void => void process.stdout.write(s + "\n");

switch (what) {
  case "nothing":
    out(`alive ${rawSyscall(SYS.getpid) === process.pid}`);
    break;
  case "socket-unix":
    out(`fd ${rawSyscall(SYS.socket, 1, 1, 0) >= 0}`);
    break;
  case "socket-inet":
    out(`result ${rawSyscall(SYS.socket, 2, 1, 0)}`);
    break;
  case "socket-inet6-udp":
    out(`result ${rawSyscall(SYS.socket, 10, 2, 0)}`);
    break;
  case "tcp-listen": {
    const s = createServer();
    s.on("error", (e: NodeJS.ErrnoException) => {
      out(`error ${e.code}`);
      process.exit(0);
    });
    s.listen(0, "127.0.0.1", () => out("listening"));
    break;
  }
  case "spawn-shell":
    out(`spawn ${JSON.stringify(spawnSync("/bin/sh", ["-c", "echo escaped"]).stdout?.toString())}`);
    break;
  case "signal-parent":
    out(`tgkill ${rawSyscall(SYS.tgkill, process.ppid, process.ppid, 0)}`);
    break;
  case "kill-parent":
    out(`kill ${rawSyscall(SYS.kill, process.ppid, 0)}`);
    break;
  case "kill-pid":
    // A host pid (the daemon's, say), with signal 0: only asks whether it could be signalled.
    out(`kill ${rawSyscall(SYS.kill, Number(process.argv[4]), 0)}`);
    break;
  case "list-processes":
    out(
      `pids ${readdirSync("/proc")
        .filter((e) => /^\d+$/.test(e))
        .join(",")}`,
    );
    break;
  case "interfaces":
    // /proc/net is this process's network namespace.
    out(
      `ifaces ${readFileSync("/proc/net/dev", "utf8")
        .split("\n")
        .slice(2)
        .map((l) => l.split(":")[0]!.trim())
        .filter((n) => n)
        .join(",")}`,
    );
    break;
  case "hostname":
    out(`hostname ${hostname()}`);
    break;
  case "root":
    out(`root ${readdirSync("/").sort().join(",")}`);
    break;
  case "raise-rlimit":
    // prlimit64(0, RLIMIT_NOFILE, new = a non-NULL pointer): refused before the kernel reads it.
    out(`prlimit ${rawSyscall(SYS.prlimit64, 0, 7, 4096, 0)}`);
    break;
  case "read-rlimit":
    out(`prlimit ${rawSyscall(SYS.prlimit64, 0, 7, 0, 0)}`);
    break;
  case "fork":
    // clone(SIGCHLD): a new process, not a thread.
    out(`clone ${rawSyscall(SYS.clone, 17, 0, 0, 0, 0)}`);
    break;
  case "read-shadow":
    out(`shadow ${tryOpen("/etc/shadow", "r")}`);
    break;
  case "read-file":
    out(`read ${tryOpen(process.argv[4]!, "r")}`);
    break;
  case "write-file":
    out(`write ${tryOpen(process.argv[4]!, "r+")}`);
    break;
  case "clone3":
    out(`clone3 ${rawSyscall(SYS.clone3, 0, 0)}`);
    break;
  default: {
    const nr = (SYS as Record<string, number>)[what];
    if (nr === undefined) throw new Error(`unknown probe ${what}`);
    // Arguments all 0: the filter decides on the call number before the kernel looks at them.
    out(`${what} ${rawSyscall(nr)}`);
  }
}
