// Calls the API makes into a running VM through its control socket: guest-agent commands (the
// VM's agent policy checked first, each call's outcome handed to the caller's audit note), what
// the agent reports about the guest, the balloon's target, and a screenshot.
import { createHash } from "node:crypto";
import { DEFAULT_AGENT_ALLOW, agentPolicy, isAgentCommand } from "../agent/agent-commands.js";
import { ApiError } from "./api-error.js";
import type { VmRecord } from "./store.js";
import type { Supervisor } from "./supervisor.js";
import { toApiError } from "./vm-ops.js";
import type { ControlReply, ControlRequest } from "../vmm/control-protocol.js";

/** The agent commands guestInfo asks, each the policy allows. */
const GUEST_INFO = ["ping", "info", "osinfo", "hostname", "time", "interfaces", "users"] as const;

export class VmCalls {
  constructor(private readonly supervisor: Supervisor) {}

  /**
   * One guest-agent call: refused (403) unless the VM's agent policy allows `command`. The
   * reply is what the guest said, labelled informational: nothing here acts on it. `note`
   * receives what the audit entry records (the command, a digest of its arguments, the outcome).
   */
  async agent(
    vm: VmRecord,
    command: string,
    args: Record<string, unknown> | undefined,
    timeoutMs: number,
    note: (detail: Record<string, unknown>) => void,
  ): Promise<Record<string, unknown>> {
    const digest = createHash("sha256")
      .update(JSON.stringify(args ?? {}))
      .digest("hex");
    const audit = (outcome: string): void => note({ command, args_sha256: digest, outcome });
    if (!vm.spec.agent) {
      audit("no agent");
      throw new ApiError(
        409,
        `VM '${vm.name}' has no guest agent channel (create it with --agent, the API's "agent": {})`,
      );
    }
    if (!isAgentCommand(command)) {
      audit("unknown command");
      throw new ApiError(400, `'${command}' is not a guest-agent command`, "command");
    }
    if (!agentPolicy(vm.spec.agent.allow ?? DEFAULT_AGENT_ALLOW).has(command)) {
      audit("refused by policy");
      throw new ApiError(
        403,
        `VM '${vm.name}''s agent policy does not allow '${command}'`,
        "command",
      );
    }
    let r: ControlReply<"agent">;
    try {
      r = await this.supervisor.call(
        vm.id,
        { op: "agent", command, ...(args ? { arguments: args } : {}), timeout_ms: timeoutMs },
        timeoutMs + 5000,
      );
    } catch (e) {
      audit("failed");
      throw toApiError(e);
    }
    if (r.ok !== true) {
      audit(`failed: ${String(r.kind ?? "error")}`);
      const status =
        r.kind === "timeout" ? 504 : r.kind === "policy" ? 403 : r.kind === "request" ? 400 : 502;
      throw new ApiError(status, `guest agent: ${String(r.error).slice(0, 500)}`);
    }
    audit("ok");
    const { ok: _ok, ...rest } = r;
    return { command, informational: true, ...rest };
  }

  /** What the guest agent reports about the guest: each allowed informational command. */
  async guestInfo(
    vm: VmRecord,
    note: (detail: Record<string, unknown>) => void,
  ): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {
      informational: true,
      note: "reported by the guest's agent: the guest's word, never used for a decision",
    };
    const errors: Record<string, string> = {};
    const allow = agentPolicy(vm.spec.agent?.allow ?? DEFAULT_AGENT_ALLOW);
    for (const c of GUEST_INFO) {
      if (!allow.has(c)) continue;
      try {
        const r = await this.agent(vm, c, undefined, 5000, () => {});
        out[c] =
          c === "info" ? { version: (r.return as { version?: unknown })?.version } : r.return;
      } catch (e) {
        if (e instanceof ApiError && (e.statusCode === 409 || e.statusCode === 404)) {
          note({ command: "guest-info", outcome: "failed" });
          throw e;
        }
        errors[c] = (e as Error).message;
      }
    }
    if (Object.keys(errors).length > 0) out.errors = errors;
    note({ command: "guest-info", outcome: Object.keys(errors).length > 0 ? "partial" : "ok" });
    return out;
  }

  async setBalloon(vm: VmRecord, targetMiB: number): Promise<Record<string, unknown>> {
    if (!vm.spec.balloon) throw new ApiError(409, `VM '${vm.name}' has no balloon`);
    const r = await this.call(vm, { op: "balloon", target_mib: targetMiB });
    if (r.ok !== true) throw new ApiError(400, String(r.error), "target_mib");
    return r;
  }

  /** What the VM's display shows, as PNG bytes. */
  async screenshot(vm: VmRecord): Promise<Buffer> {
    if (!vm.spec.display) throw new ApiError(409, `VM '${vm.name}' has no display`);
    const r = await this.call(vm, { op: "screenshot" });
    if (r.ok !== true) throw new ApiError(409, String(r.error));
    return Buffer.from(String(r.png), "base64");
  }

  private async call<R extends ControlRequest>(
    vm: VmRecord,
    req: R,
  ): Promise<ControlReply<R["op"]>> {
    try {
      return await this.supervisor.call(vm.id, req);
    } catch (e) {
      throw toApiError(e);
    }
  }
}
