// What the host does to a VM's threads and memory on the daemon's say: CPU pinning of vCPU
// threads (`--pin-cpus`) and KSM page merging of guest RAM (`--ksm`).
import type { GuestMemory } from "../memory/guest-memory.js";
import {
  MADV_MERGEABLE,
  lockRange,
  madviseRange,
  schedGetaffinity,
  schedSetaffinity,
} from "../sys/libc.js";

/** The CPUs this process may run on now (its affinity, as inherited). */
export function allowedCpus(): number[] {
  return schedGetaffinity(0);
}

/**
 * Pins vCPU i's thread (kernel id `tids[i]`) to host CPU `cpus[i % cpus.length]`. A vCPU whose
 * thread never reported its id (0) is an error: nothing is left half-pinned silently.
 */
export function pinVcpuThreads(tids: readonly number[], cpus: readonly number[]): void {
  if (cpus.length === 0) throw new RangeError("no CPUs to pin to");
  tids.forEach((tid, i) => {
    if (!(tid > 0)) throw new RangeError(`vCPU ${i} has not reported its thread id`);
    schedSetaffinity(tid, [cpus[i % cpus.length]!]);
  });
}

/**
 * Marks guest RAM mergeable (madvise MADV_MERGEABLE): KSM may then share identical pages with
 * other VMs. Cross-VM dedup is a timing side channel, so it is the daemon's policy, not a
 * default.
 */
export function mergeGuestRam(mem: GuestMemory): void {
  madviseRange(mem.hostView(mem.base, mem.size), MADV_MERGEABLE);
}

/**
 * Locks guest RAM in host memory (pages lock as the guest first touches them): a VM's secrets
 * never reach host swap. Locked pages cannot be given back (balloon) or merged (KSM); the
 * callers refuse those together.
 */
export function lockGuestRam(mem: GuestMemory): void {
  lockRange(mem.hostView(mem.base, mem.size));
}
