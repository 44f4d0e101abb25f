// How the supervisor names a VM's end and whether it counts as a crash (for restart policies
// and the crashed state), from what it knows when the VM process is gone: its own intent (a
// kill, a requested stop), the guest's shutdown, the VM's exit record and its exit status.
// Pure: the supervisor gathers the facts, this decides.
import { EXIT_MOAT_ERROR } from "../vmm/exit-status.js";

/** The exit record a VM process wrote (vmm/exit-file.ts), as the supervisor bounded it. */
export interface ExitRecordFacts {
  status?: number;
  reason?: string;
  detail?: string;
}

export interface ExitFacts {
  /** The daemon killed the VM (a forced stop, a deletion): why. */
  killed?: string;
  /** The VM's exit record, if it wrote one in this run. */
  record?: ExitRecordFacts;
  /** The guest shut down as a stop asked (guest-shutdown.ts shutDownReason), if it did. */
  shutDown?: string | null;
  /** A stop the daemon asked for and carried out (power-off): why. */
  requested?: string;
  /** The signal that ended the process, if any. */
  signal?: string | null;
  /** Its exit status, or null when it is unknown (not the daemon's child, no record). */
  status: number | null;
  /** The VMM's last log line, for a VMM that failed. */
  lastLogLine?: string | null;
}

/**
 * The reason recorded for the VM's end and whether it crashed. Order: the daemon's kill, then
 * the guest's own end (a panic or a halt, even while a stop was shutting it down; a shutdown
 * a stop asked for), then the daemon's power-off, then what the process's end says.
 */
export function classifyExit(f: ExitFacts): { reason: string; crashed: boolean } {
  const { record, status } = f;
  if (f.killed) return { reason: f.killed, crashed: false };
  if (record?.reason === "panic" || record?.reason === "halt")
    return { reason: `guest ${record.reason}: ${record.detail ?? ""}`.trim(), crashed: true };
  if (f.shutDown) return { reason: f.shutDown, crashed: false };
  if (f.requested) return { reason: f.requested, crashed: false };
  if (f.signal) return { reason: `killed by ${f.signal}`, crashed: true };
  if (status === null)
    return {
      reason:
        "the VM process ended while the daemon was not its parent and left no exit record " +
        "(killed by a signal)",
      crashed: true,
    };
  if (status === 0) return { reason: "the guest powered off", crashed: false };
  if (status === EXIT_MOAT_ERROR)
    return {
      reason: `the VMM failed: ${f.lastLogLine ?? record?.detail ?? "no message"}`,
      crashed: true,
    };
  return {
    reason: `exited with status ${status}${record?.detail ? ` (${record.detail})` : ""}`,
    crashed: true,
  };
}
