// Installs the VM process's seccomp filter (vmm-filter.ts) on every thread.
import { installSeccomp } from "../sys/libc.js";
import { encode } from "./bpf.js";
import { vmmFilter } from "./vmm-filter.js";

/**
 * From here on this process may make only the system calls the VMM needs; anything else kills
 * it (`log`: is logged by the kernel and allowed). Call once set-up is done (files, sockets,
 * TAP devices opened) and before the first guest instruction. Irreversible.
 */
export function lockDownVmm(log = false): void {
  installSeccomp(encode(vmmFilter({ pid: process.pid, log })), log);
}
