// The command line of one VM process: the same `moat run` a user types, with its console on a
// socket (scrollback in a bounded file), its control socket and an exit record in the VM's own
// directory. The daemon never passes a guest command: the guest runs its init's shell.
import { fileURLToPath } from "node:url";
import type { VmSpec } from "./vm-spec.js";

export const MOAT_BIN = fileURLToPath(new URL("../../../bin/moat.js", import.meta.url));

/** Scrollback kept per VM on disk (console.log + console.log.1). */
export const CONSOLE_LOG_MAX = 1024 * 1024;

export interface VmFiles {
  dir: string;
  control: string;
  console: string;
  consoleLog: string;
  exitFile: string;
  vsock: string;
  vnc: string;
}

export function vmFiles(dir: string): VmFiles {
  return {
    dir,
    control: `${dir}/control.sock`,
    console: `${dir}/console.sock`,
    consoleLog: `${dir}/console.log`,
    exitFile: `${dir}/exit.json`,
    vsock: `${dir}/vsock.sock`,
    vnc: `${dir}/vnc.sock`,
  };
}

/** argv (after the node binary) for the VMM process of `spec`. */
export function vmmArgv(
  spec: VmSpec,
  f: VmFiles,
  o: { pinned: number[] | null; ksm: boolean; seccomp: "kill" | "log" | "off"; uid: number | null },
): string[] {
  const a = [MOAT_BIN, "run", "--accel", spec.accel, "--name", spec.name];
  if (spec.cpu_tier !== undefined) a.push("--cpu-tier", spec.cpu_tier);
  a.push("--cpus", String(spec.cpus), "--memory", String(spec.memory_mib));
  if (spec.kernel) a.push("--kernel", spec.kernel);
  if (spec.initrd === "none") a.push("--no-initrd");
  else if (spec.initrd) a.push("--initrd", spec.initrd);
  if (spec.cmdline !== undefined) a.push("--cmdline", spec.cmdline);
  for (const d of spec.disks) {
    let v = d.path;
    if (d.read_only) v += ",ro";
    if (d.format === "raw") v += ",format=raw";
    if (d.bps) v += `,bps=${d.bps}`;
    if (d.iops) v += `,iops=${d.iops}`;
    a.push("--disk", v);
  }
  for (const n of spec.nics) {
    let v = n.tap !== undefined ? `tap=${n.tap}` : `bridge=${n.bridge}`;
    if (n.mac) v += `,mac=${n.mac}`;
    if (n.bps) v += `,bps=${n.bps}`;
    if (n.pps) v += `,pps=${n.pps}`;
    a.push("--net", v);
  }
  if (spec.vsock) a.push("--vsock", `${f.vsock},cid=${spec.vsock.cid}`);
  if (spec.balloon)
    a.push(spec.balloon.free_page_reporting ? "--balloon" : "--balloon=reporting=off");
  if (spec.agent)
    a.push(spec.agent.allow ? `--agent=allow=${spec.agent.allow.join(",")}` : "--agent");
  if (spec.rng) a.push("--rng");
  if (spec.display)
    a.push(`--display=${spec.display.width}x${spec.display.height}`, "--vnc", f.vnc);
  if (o.pinned) a.push("--pin-cpus", o.pinned.join(","));
  // A VM whose RAM is locked keeps it out of swap, and out of KSM merging too.
  if (spec.lock_memory) a.push("--lock-memory");
  else if (o.ksm) a.push("--ksm");
  if (o.uid !== null) a.push("--jail-user", `${o.uid}:${o.uid}`);
  if (o.seccomp !== "off") a.push(o.seccomp === "log" ? "--seccomp=log" : "--seccomp");
  a.push("--control", f.control, "--console-socket", f.console);
  a.push("--console-log", `${f.consoleLog},max=${CONSOLE_LOG_MAX}`, "--exit-file", f.exitFile);
  return a;
}
