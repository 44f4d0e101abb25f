// The first half of `moat stop`: asking a running guest to shut down and waiting the grace time
// for it to power itself off (the supervisor then powers off one that did not). Every request to
// the VMM is bounded by the time left, so the grace time is what the operator gave; and how the
// VM ended is told by its exit record (shutDownReason), not by what was asked.
import { EXIT_STOPPED } from "../vmm/exit-status.js";
import type { ControlReply, ControlRequest } from "../vmm/control-protocol.js";

/** How a stop asked the guest. */
export type AskedBy = "guest agent" | "power button";

/** What a stop drives: the VM's control socket and its process's end. */
export interface ShutdownTarget {
  /** One control-socket request; rejects when the VMM does not answer within `timeoutMs`. */
  call<R extends ControlRequest>(req: R, timeoutMs: number): Promise<ControlReply<R["op"]>>;
  /** Resolves when the VM process has ended. */
  exited: Promise<void>;
  /** The VM has a guest-agent channel (--agent). */
  agent: boolean;
  /** Its vCPUs are held (moat pause). */
  paused: boolean;
  /** Filled in as the guest is asked: what the reason of its end names. */
  asked: Set<AskedBy>;
}

/**
 * How often the power button is pressed again while the guest has not powered off: a press the
 * guest was not yet listening for (its /init or systemd-logind still starting) is lost.
 */
export const PRESS_EVERY_MS = 2000;
/**
 * How long a guest whose agent took guest-shutdown has before the button is pressed too: an
 * agent that does not answer counts as having taken it (a guest-shutdown that works never
 * answers), and so does one whose shutdown command does nothing.
 */
export const AGENT_ALONE_MS = 3000;
/** Bound: one request to the VMM (a press, the agent's shutdown), when the grace leaves more. */
const CALL_MS = 5000;

/** Resolves true when `exited` settles within `ms`, else false; its timer does not outlive it. */
export function endedWithin(exited: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    exited.then(() => true),
    new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms))),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Asks the guest to shut down and waits up to `graceMs` for its process to end. A paused VM
 * runs again first (the operator asked for a clean shutdown). With an agent, guest-shutdown;
 * then, without it or if the guest is still up AGENT_ALONE_MS later, the power button, pressed
 * every PRESS_EVERY_MS. A press that fails (a VMM that does not answer in time, or refuses for
 * now: its client limit, not running yet) is tried again while the grace lasts. "ended": the
 * process ended; "waited": the grace ran out; "no grace": nothing to wait for (the guest's
 * userspace has not started, so it has written nothing; or it cannot be asked).
 */
export async function askShutdown(
  t: ShutdownTarget,
  graceMs: number,
): Promise<"ended" | "waited" | "no grace"> {
  const end = Date.now() + graceMs;
  const left = (): number => Math.max(0, end - Date.now());
  const call = <R extends ControlRequest>(req: R): Promise<ControlReply<R["op"]> | undefined> =>
    t.call(req, Math.min(CALL_MS, left())).catch(() => undefined);
  /** Waits what is left of the grace. */
  const graceOut = async (): Promise<"ended" | "waited"> =>
    (await endedWithin(t.exited, left())) ? "ended" : "waited";

  if (t.paused) {
    const r = await call({ op: "resume" });
    // Refused: the guest cannot run, so it cannot shut down. No answer: the presses below retry.
    if (r !== undefined && r.ok !== true) return "no grace";
  }
  if (t.agent) {
    const ms = Math.min(CALL_MS, left());
    // The agent's own wait for a refusal, inside the VMM call's.
    const timeout = Math.min(3000, ms - 500);
    if (timeout >= 100) {
      const r = await call({ op: "agent", command: "shutdown", timeout_ms: timeout });
      if (r?.ok === true) {
        t.asked.add("guest agent");
        if (await endedWithin(t.exited, Math.min(AGENT_ALONE_MS, left()))) return "ended";
      }
    }
  }
  for (;;) {
    if (left() <= 0) return "waited";
    const r = await call({ op: "shutdown" });
    if (r?.ok === true) {
      t.asked.add("power button");
      if (r.userspace === false) return "no grace";
    } else if (r?.kind === "no-power-button") {
      // Only the agent can have asked it; then its grace is the guest's.
      return t.asked.has("guest agent") ? graceOut() : "no grace";
    }
    if (await endedWithin(t.exited, Math.min(PRESS_EVERY_MS, left()))) return "ended";
  }
}

/**
 * The reason of a VM that a stop asked to shut down and that powered itself off (its exit record
 * says poweroff), or undefined when it ended otherwise. The shipped guest's /init powers off with
 * 143 on the power button and 0 through the agent; a guest that gives no such sign (systemd
 * powers off with 0 either way) is named by the one way it was asked, or by the agent.
 */
export function shutDownReason(
  asked: ReadonlySet<AskedBy>,
  record: { reason?: string } | undefined,
  status: number | null,
): string | undefined {
  if (asked.size === 0 || record?.reason !== "poweroff") return undefined;
  return asked.has("power button") && (status === EXIT_STOPPED || !asked.has("guest agent"))
    ? "shut down by the operator (power button)"
    : "shut down by the operator through the guest agent";
}
