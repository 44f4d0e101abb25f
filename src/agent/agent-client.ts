// The host end of the qemu-guest-agent protocol: JSON requests down the port, one reply each.
// Every call is bounded in time; the stream is resynchronised (guest-sync-delimited, 0xFF)
// before the first call, after a timeout, after a reply that broke a bound, and after the guest
// closed the port (it rebooted, or the agent restarted). What the guest sends unasked is counted
// and dropped. Nothing here trusts the guest: replies are data for the caller to check.
import { randomInt } from "node:crypto";
import { JsonStream, type StreamEvent } from "./json-stream.js";
import { MoatError } from "../base/moat-error.js";

export class AgentError extends MoatError {
  constructor(
    message: string,
    /** timeout, guest (the agent answered with an error), protocol, gone, busy. */
    readonly failure: "timeout" | "guest" | "protocol" | "gone" | "busy",
  ) {
    super(message, "guest");
  }
}

/** Bound: calls waiting for the one in progress. */
const MAX_WAITING = 16;
/**
 * Bound: bytes of one request, the same at each hop it takes: the daemon's API body
 * (src/host/api.ts), a line on a VM's control socket (src/vmm/control-socket.ts) and a request
 * to the guest agent here. An exec's argv and stdin travel in one (MAX_EXEC_REQUEST_BYTES).
 */
export const MAX_REQUEST_BYTES = 64 * 1024;

export class AgentClient {
  private readonly stream = new JsonStream();
  private waiter: ((e: StreamEvent) => void) | undefined;
  private synced = false;
  private open = false;
  private tail: Promise<unknown> = Promise.resolve();
  private waiting = 0;
  /** Replies nobody asked for, dropped. */
  unsolicited = 0;
  /** Replies that broke a bound or did not parse. */
  badReplies = 0;

  /** `write` sends bytes to the guest's port. */
  constructor(private readonly write: (bytes: Uint8Array) => void) {}

  /** Is a guest program holding the port open? */
  get connected(): boolean {
    return this.open;
  }

  /** Bytes from the guest. Never throws. */
  data(bytes: Uint8Array): void {
    for (const e of this.stream.push(bytes)) {
      if (e.kind === "bad") this.badReplies++;
      if (this.waiter) this.waiter(e);
      else if (e.kind === "value") this.unsolicited++;
    }
  }

  /** The guest opened or closed its end (a reboot closes it). */
  guestOpen(open: boolean): void {
    this.open = open;
    this.synced = false;
    if (!open) this.waiter?.({ kind: "bad", reason: "the guest closed the agent's port" });
  }

  /**
   * Runs `command` (a qemu-guest-agent command name) and resolves to its "return" value.
   * One call at a time (others wait, at most MAX_WAITING); each takes at most `timeoutMs`
   * including the resynchronisation it may need.
   */
  call(command: string, args?: Record<string, unknown>, timeoutMs = 10_000): Promise<unknown> {
    return this.serial(() => this.exchange(command, args, timeoutMs));
  }

  /**
   * For commands that do not answer when they succeed (guest-shutdown): sent, then an error
   * reply is waited for `waitMs`; none, or the port closing, means it was taken.
   */
  send(command: string, args: Record<string, unknown> | undefined, waitMs: number): Promise<void> {
    return this.serial(async () => {
      if (!this.open) throw new AgentError("no guest agent has its port open", "gone");
      try {
        await this.exchange(command, args, waitMs);
      } catch (e) {
        // No answer, or the guest closed the port as it went down: taken.
        if (!(e instanceof AgentError && (e.failure === "timeout" || e.failure === "gone")))
          throw e;
      } finally {
        this.synced = false;
      }
    });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    if (this.waiting >= MAX_WAITING)
      return Promise.reject(new AgentError("the guest agent is busy", "busy"));
    this.waiting++;
    const run = this.tail.then(fn, fn);
    this.tail = run.then(
      () => (this.waiting--, undefined),
      () => (this.waiting--, undefined),
    );
    return run;
  }

  private async exchange(
    command: string,
    args: Record<string, unknown> | undefined,
    timeoutMs: number,
  ): Promise<unknown> {
    if (!this.open) throw new AgentError("no guest agent has its port open", "gone");
    const deadline = Date.now() + timeoutMs;
    if (!this.synced) await this.sync(deadline);
    const req = JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}) });
    const bytes = new TextEncoder().encode(req + "\n");
    if (bytes.length - 1 > MAX_REQUEST_BYTES)
      throw new AgentError(`request larger than ${MAX_REQUEST_BYTES} bytes`, "protocol");
    return this.await(
      deadline,
      command,
      (e, done, fail) => {
        if (e.kind === "bad") return fail(new AgentError(`${command}: ${e.reason}`, "protocol"));
        if (e.kind !== "value") return;
        const v = e.value as Record<string, unknown> | null;
        if (v && typeof v === "object" && "return" in v) return done(v.return);
        if (v && typeof v === "object" && "error" in v) {
          const err = v.error as { class?: unknown; desc?: unknown } | null;
          const desc = typeof err?.desc === "string" ? err.desc.slice(0, 500) : "an error";
          // The stream is in step: an error reply is still the reply to this request.
          return fail(new AgentError(`${command}: ${desc}`, "guest"), true);
        }
        this.unsolicited++;
      },
      () => this.write(bytes),
    );
  }

  /** guest-sync-delimited with a fresh id: skips whatever is in flight until its reply. */
  private async sync(deadline: number): Promise<void> {
    const id = randomInt(1, 2 ** 31 - 1);
    const req = JSON.stringify({ execute: "guest-sync-delimited", arguments: { id } });
    let delimited = false;
    await this.await(
      deadline,
      "guest-sync-delimited",
      (e, done) => {
        if (e.kind === "sync") delimited = true;
        else if (e.kind === "value" && delimited) {
          const v = e.value as Record<string, unknown> | null;
          if (v && typeof v === "object" && v.return === id) done(undefined);
        }
      },
      () => this.write(new Uint8Array([0xff, ...new TextEncoder().encode(req + "\n")])),
    );
    this.synced = true;
  }

  /**
   * Sends with `start`, then hands each event to `on` until it calls done or fail, the deadline
   * passes (timeout, and the stream is out of step), or the port closes.
   */
  private await<T>(
    deadline: number,
    what: string,
    on: (
      e: StreamEvent,
      done: (v: T) => void,
      fail: (e: AgentError, inStep?: boolean) => void,
    ) => void,
    start: () => void,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.waiter = undefined;
      };
      const timer = setTimeout(
        () => {
          finish();
          this.synced = false;
          reject(new AgentError(`${what}: the guest agent did not answer in time`, "timeout"));
        },
        Math.max(0, deadline - Date.now()),
      );
      this.waiter = (e) => {
        if (!this.open) {
          finish();
          this.synced = false;
          return reject(new AgentError(`${what}: the guest closed the agent's port`, "gone"));
        }
        on(
          e,
          (v) => {
            finish();
            resolve(v);
          },
          (err, inStep = false) => {
            finish();
            if (!inStep) this.synced = false;
            reject(err);
          },
        );
      };
      start();
    });
  }
}
