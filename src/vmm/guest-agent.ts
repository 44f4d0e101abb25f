// A VM's guest-agent channel: a virtio-serial device whose one port the guest's
// qemu-guest-agent opens (/dev/virtio-ports/org.qemu.guest_agent.0), the protocol client on
// the host end, and the VM's policy of which commands may be run. The control socket's
// {"op":"agent"} comes here; the daemon checks the policy too, and audits every call.
import { AgentClient, AgentError } from "../agent/agent-client.js";
import { AGENT_COMMANDS, type AgentCommand } from "../agent/agent-commands.js";
import { guestExec } from "../agent/guest-exec.js";
import { VirtioSerial } from "../devices/virtio/serial.js";
import type { AgentInfo, AgentRequest, ControlReply } from "./control-protocol.js";

export const AGENT_PORT = "org.qemu.guest_agent.0";
const DEFAULT_TIMEOUT_MS = 10_000;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export class GuestAgent {
  readonly client: AgentClient;
  readonly device: VirtioSerial;

  constructor(readonly allow: ReadonlySet<AgentCommand>) {
    const device: VirtioSerial = new VirtioSerial("virtio-serial (guest agent)", [
      {
        name: AGENT_PORT,
        host: { data: (b) => client.data(b), guestOpen: (o) => client.guestOpen(o) },
      },
    ]);
    // Requests are small (64 KiB at most): the port's 64 KiB queue needs no pause.
    const client = new AgentClient((b) => void device.send(0, b, () => {}));
    this.client = client;
    this.device = device;
  }

  /**
   * {"op":"agent","command":NAME,"arguments":{...},"timeout_ms":N}: runs one command the
   * policy allows. exec takes {"argv":[...],"input":BASE64} and waits for the process to end.
   * Bound: timeout_ms (control-protocol.ts checked it); input MAX_EXEC_INPUT_BYTES, with argv
   * MAX_EXEC_REQUEST_BYTES (guestExec). Never throws: bad exec arguments are
   * {"ok":false,"kind":"request"}, an agent failure {"ok":false,"error","kind"}.
   */
  async handle(r: AgentRequest): Promise<ControlReply<"agent">> {
    const bad = (error: string): ControlReply<"agent"> => ({ ok: false, kind: "request", error });
    const cmd = r.command;
    if (!this.allow.has(cmd))
      return { ok: false, kind: "policy", error: `this VM's agent policy does not allow '${cmd}'` };
    const timeoutMs = r.timeout_ms ?? DEFAULT_TIMEOUT_MS;
    const a = r.arguments;
    try {
      if (cmd === "exec") {
        const argv = a?.argv;
        if (!Array.isArray(argv) || !argv.every((x) => typeof x === "string"))
          return bad("exec: arguments.argv, a list of strings");
        const input = a?.input;
        // Checked as written: Buffer.from would skip what is not base64.
        if (input !== undefined && (typeof input !== "string" || !BASE64.test(input)))
          return bad("exec: arguments.input, base64");
        const res = await guestExec(this.client, argv, {
          timeoutMs,
          ...(input !== undefined ? { input: Buffer.from(input, "base64") } : {}),
        });
        return {
          ok: true,
          exited: res.exitCode !== null || res.signal !== null,
          exit_code: res.exitCode,
          signal: res.signal,
          stdout: res.stdout.toString("base64"),
          stderr: res.stderr.toString("base64"),
          truncated: res.truncated,
        };
      }
      if (cmd === "shutdown") {
        await this.client.send("guest-shutdown", { mode: "powerdown" }, Math.min(timeoutMs, 2000));
        return { ok: true };
      }
      const value = await this.client.call(AGENT_COMMANDS[cmd].qga, a, timeoutMs);
      return { ok: true, return: value };
    } catch (e) {
      if (e instanceof AgentError) return { ok: false, kind: e.failure, error: e.message };
      if (e instanceof RangeError) return bad(e.message);
      throw e;
    }
  }

  /** For status and metrics. */
  info(): AgentInfo {
    return {
      connected: this.client.connected,
      allow: [...this.allow],
      unsolicited: this.client.unsolicited,
      bad_replies: this.client.badReplies,
      control_rejected: this.device.controlRejected,
    };
  }
}
