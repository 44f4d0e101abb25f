// The guest-agent commands moat offers, by the names its API and CLI use, with the
// qemu-guest-agent command each runs and the class a policy allows. What an agent reports is
// informational: moat takes no security decision on it.

export type AgentClass = "info" | "fsfreeze" | "shutdown" | "exec" | "file";

export const AGENT_COMMANDS = {
  ping: { qga: "guest-ping", class: "info" },
  info: { qga: "guest-info", class: "info" },
  osinfo: { qga: "guest-get-osinfo", class: "info" },
  hostname: { qga: "guest-get-host-name", class: "info" },
  time: { qga: "guest-get-time", class: "info" },
  interfaces: { qga: "guest-network-get-interfaces", class: "info" },
  fsinfo: { qga: "guest-get-fsinfo", class: "info" },
  users: { qga: "guest-get-users", class: "info" },
  "fsfreeze-status": { qga: "guest-fsfreeze-status", class: "info" },
  "fsfreeze-freeze": { qga: "guest-fsfreeze-freeze", class: "fsfreeze" },
  "fsfreeze-thaw": { qga: "guest-fsfreeze-thaw", class: "fsfreeze" },
  shutdown: { qga: "guest-shutdown", class: "shutdown" },
  exec: { qga: "guest-exec", class: "exec" },
  "exec-status": { qga: "guest-exec-status", class: "exec" },
  "file-open": { qga: "guest-file-open", class: "file" },
  "file-read": { qga: "guest-file-read", class: "file" },
  "file-write": { qga: "guest-file-write", class: "file" },
  "file-close": { qga: "guest-file-close", class: "file" },
} as const satisfies Record<string, { qga: string; class: AgentClass }>;

export type AgentCommand = keyof typeof AGENT_COMMANDS;

export const AGENT_COMMAND_NAMES = Object.keys(AGENT_COMMANDS) as AgentCommand[];

/** Allowed unless a VM's policy says otherwise: the read-only informational set and shutdown. */
export const DEFAULT_AGENT_ALLOW: AgentCommand[] = AGENT_COMMAND_NAMES.filter((c) => {
  const k = AGENT_COMMANDS[c].class;
  return k === "info" || k === "shutdown";
});

export function isAgentCommand(s: string): s is AgentCommand {
  return Object.hasOwn(AGENT_COMMANDS, s);
}

/**
 * A policy from a list of command names and class names (`exec` names the class: exec and
 * exec-status; `file`: the four file commands). Bound: known names only.
 */
export function agentPolicy(names: readonly string[]): Set<AgentCommand> {
  const out = new Set<AgentCommand>();
  for (const n of names) {
    const byClass = AGENT_COMMAND_NAMES.filter((c) => AGENT_COMMANDS[c].class === n);
    if (byClass.length > 0) for (const c of byClass) out.add(c);
    else if (isAgentCommand(n)) out.add(n);
    else throw new RangeError(`'${n}' is not a guest-agent command or class`);
  }
  return out;
}

/** Names a policy may list: the classes and every command. */
export const AGENT_POLICY_NAMES: string[] = [
  ...new Set<string>(["info", "fsfreeze", "shutdown", "exec", "file", ...AGENT_COMMAND_NAMES]),
];
