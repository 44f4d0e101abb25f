// A VM process's control protocol (docs/control.md) as types: ControlRequest, one member per
// op, and ControlReply<Op>, what each op answers. The control socket (control-socket.ts) serves
// it and clients (host/vmm-client.ts and what calls it) speak it, so both change together.
// A request is input from whoever holds the socket: parseControlRequest checks it against its
// op's JSON schema, refusing an unknown op or a missing, mistyped or unknown field, before
// anything acts on it. (What a client checks of a reply is control-reply-check.ts.)
import type { ErrorObject, ValidateFunction } from "ajv";
import { AGENT_COMMAND_NAMES, type AgentCommand } from "../agent/agent-commands.js";
import type { CpuTier } from "../accel/soft/cpu-tier.js";
import type { BalloonStats } from "../devices/virtio/balloon.js";
import { KEY_FIRST, KEY_LAST } from "../devices/virtio/input.js";
import type { NetCounters } from "../devices/virtio/net.js";
import {
  objectSchema,
  type FieldSchema,
  type FieldSchemas,
  type ObjectSchema,
  type OptionalField,
} from "./object-schema.js";
import { MoatError } from "../base/moat-error.js";
import { validators, type SchemaSet } from "./schema-compiler.js";

/** Every op, in the order an unknown op's refusal lists them. */
export const CONTROL_OPS = [
  "status",
  "metrics",
  "pause",
  "resume",
  "shutdown",
  "stop",
  "balloon",
  "balloon-stats",
  "limits",
  "agent",
  "screenshot",
  "key",
  "snapshot",
] as const;
export type ControlOp = (typeof CONTROL_OPS)[number];

/** Bound: how long one agent call may take, ms (exec: until its process ends). */
export const MAX_AGENT_TIMEOUT_MS = 600_000;
/** Bound: the shortest agent call, ms. */
export const MIN_AGENT_TIMEOUT_MS = 100;
/** Bound: a rate limit (bytes, requests or frames a second), below 2^50 as on the command line. */
export const MAX_RATE = 2 ** 50 - 1;

/** A request with nothing but its op. */
export interface BareRequest<Op extends ControlOp> {
  op: Op;
}

/** Sets the balloon's target; the balloon checks it against the guest's RAM. */
export interface BalloonRequest {
  op: "balloon";
  target_mib: number;
}

/** The disks' names (vda, the first --disk, ... vdh) and the NICs' (eth0 ... eth3). */
export type DiskName = `vd${"a" | "b" | "c" | "d" | "e" | "f" | "g" | "h"}`;
export type NicName = `eth${0 | 1 | 2 | 3}`;

/** A rate, or null (as absent) to lift that limit. */
export type Rate = number | null;

/** A disk's rate limits, replacing those it had. */
export interface DiskLimitsRequest {
  op: "limits";
  device: DiskName;
  bps?: Rate;
  iops?: Rate;
}

/** A NIC's rate limits (each direction), replacing those it had. */
export interface NicLimitsRequest {
  op: "limits";
  device: NicName;
  bps?: Rate;
  pps?: Rate;
}

export type LimitsRequest = DiskLimitsRequest | NicLimitsRequest;

export function isDiskLimits(r: LimitsRequest): r is DiskLimitsRequest {
  return r.device.startsWith("vd");
}

/** A key to the display's keyboard: pressed and released, or only down (true) or up (false). */
export interface KeyRequest {
  op: "key";
  code: number;
  down?: boolean;
}

/** A snapshot of the paused VM, named: it is written to the VM's snapshot directory. */
export interface SnapshotRequest {
  op: "snapshot";
  name: string;
}

/** What a snapshot's name may be: one path component, no dot first. */
export const SNAPSHOT_NAME_PATTERN = "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$";

/**
 * The arguments of a guest-agent command, handed to the guest's agent as they are (exec's own,
 * argv and input, are checked by guest-agent.ts).
 */
export type AgentArguments = { [name: string]: unknown };

/** One guest-agent command the VM's policy allows (guest-agent.ts). */
export interface AgentRequest {
  op: "agent";
  command: AgentCommand;
  arguments?: AgentArguments;
  timeout_ms?: number;
}

export type ControlRequest =
  | BareRequest<
      | "status"
      | "metrics"
      | "pause"
      | "resume"
      | "shutdown"
      | "stop"
      | "balloon-stats"
      | "screenshot"
    >
  | BalloonRequest
  | LimitsRequest
  | KeyRequest
  | AgentRequest
  | SnapshotRequest;

/** The balloon: MiB the host asked for, the guest has given, and it reported free. */
export interface BalloonInfo {
  target_mib: number;
  actual_mib: number;
  reported_mib: number;
}

/** The guest-agent channel: its policy, and what its client counted. */
export interface AgentInfo {
  connected: boolean;
  allow: AgentCommand[];
  unsolicited: number;
  bad_replies: number;
  control_rejected: number;
}

export interface StatusReply {
  state: "running" | "paused";
  /**
   * true while the VM is still being made (the socket answers from the first moment; the guest
   * has not run yet, and the VM may yet fail to start); absent once it runs.
   */
  starting?: boolean;
  /** The VM process's facts: absent only where the socket was given none (tests). */
  name?: string | null;
  pid?: number;
  accel?: string;
  /** The soft CPU's tier; absent on KVM. */
  cpu_tier?: CpuTier;
  cpus?: number;
  memory_mib?: number;
  ksm?: boolean;
  memory_locked?: boolean;
  seccomp?: "kill" | "log" | "off";
  jailed?: boolean;
  uid?: number | null;
  /** The vCPU threads' kernel ids, in vCPU order, once they have reported them. */
  vcpu_tids?: number[];
  console_clients?: number;
  balloon?: BalloonInfo;
  agent?: AgentInfo;
  nets: ({ name: string } & NetCounters)[];
  vsock?: { connections: number; refused: number };
}

/** The soft CPU's translator's counters (docs/jit.md). */
export interface JitReply {
  translations: number;
  reinstalls: number;
  code_bytes: number;
  translate_ms: number;
  flushes: number;
  declined: number;
}

export interface DiskMetrics {
  /** vda... */
  name: string;
  read_bytes: number;
  write_bytes: number;
  read_ops: number;
  write_ops: number;
  flush_ops: number;
  discard_ops: number;
  errors: number;
}

export interface NicMetrics {
  /** eth0... */
  name: string;
  rx_bytes: number;
  tx_bytes: number;
  rx_frames: number;
  tx_frames: number;
  rx_dropped: number;
  tx_spoofed: number;
  tx_errors: number;
}

export interface MetricsReply {
  /** vCPU exits to the VMM by reason (the reasons are the accelerator's). */
  exits: { [reason: string]: number };
  instructions?: number;
  jit?: JitReply;
  disks: DiskMetrics[];
  nets: NicMetrics[];
  balloon?: { target_mib: number; actual_mib: number };
  console_dropped_bytes: number;
}

/**
 * What an agent command answered: `return` (the guest's word) for most; exec's result for exec;
 * nothing more for shutdown.
 */
export interface AgentReply {
  return?: unknown;
  exited?: boolean;
  exit_code?: number | null;
  signal?: number | null;
  /** base64 */
  stdout?: string;
  stderr?: string;
  truncated?: boolean;
}

/** What each op answers besides `"ok": true`. */
export interface ControlReplies {
  status: StatusReply;
  metrics: MetricsReply;
  pause: { state: "paused" };
  resume: { state: "running" };
  /** Whether the guest's userspace had started: null for a guest that does not say. */
  shutdown: { userspace: boolean | null };
  stop: object;
  balloon: { balloon: BalloonInfo };
  "balloon-stats": { fresh: boolean; stats: BalloonStats; balloon: BalloonInfo };
  limits: object;
  agent: AgentReply;
  /** The display as a PNG, base64. */
  screenshot: { width: number; height: number; png: string };
  key: object;
  /** Where it was written, the bytes of RAM data in it, and how long it took. */
  snapshot: { path: string; memory_bytes: number; ms: number };
}

export type ControlOk<Op extends ControlOp = ControlOp> = { ok: true } & ControlReplies[Op];

/**
 * A request refused or failed: it changed nothing. `kind`, where a client acts on the cause:
 * "request" (not a valid request), "no-power-button", and the agent's ("policy", "timeout",
 * "gone", "guest", "protocol", "busy").
 */
export interface ControlRefusal {
  ok: false;
  error: string;
  kind?: string;
}

export type ControlReply<Op extends ControlOp = ControlOp> = ControlOk<Op> | ControlRefusal;

/** A request that is not one: parseControlRequest's refusal, saying which field and why. */
export class ControlRequestError extends MoatError {}

/**
 * `value`, a parsed JSON line, as the request it is; ControlRequestError when it is none.
 * The validators are the build's, loaded at the first request (schema-compiler.ts).
 */
export function parseControlRequest(value: unknown): ControlRequest {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new ControlRequestError("a request is a JSON object with an op");
  const op = "op" in value ? value.op : undefined;
  if (!isControlOp(op))
    throw new ControlRequestError(`unknown op ${JSON.stringify(op)} (${CONTROL_OPS.join(", ")})`);
  compiled ??= validators(CONTROL_REQUEST_SCHEMAS);
  const validate = compiled[exportName(op)] as ValidateFunction<ControlRequest>;
  if (!validate(value)) throw new ControlRequestError(refusal(op, validate.errors![0]!));
  return value;
}

function isControlOp(op: unknown): op is ControlOp {
  return CONTROL_OPS.some((o) => o === op);
}

// The schemas. Each field's `description` is what a refusal says it must be.

/** The schema of the request of `op` with these fields (besides op), and no others. */
function request<T extends ControlRequest>(
  op: T["op"],
  fields: FieldSchemas<Omit<T, "op">>,
): ObjectSchema {
  const s = objectSchema(fields, { closed: true });
  return {
    ...s,
    properties: { op: { const: op }, ...s.properties },
    required: ["op", ...s.required],
  };
}

const DEVICE = "vda..vdh or eth0..eth3";
const rate = (): OptionalField => ({
  type: ["integer", "null"],
  minimum: 1,
  maximum: MAX_RATE,
  description: "a positive whole number, or null to lift the limit",
  optional: true,
});

export const REQUEST_SCHEMAS: { [Op in ControlOp]: object } = {
  status: request<BareRequest<"status">>("status", {}),
  metrics: request<BareRequest<"metrics">>("metrics", {}),
  pause: request<BareRequest<"pause">>("pause", {}),
  resume: request<BareRequest<"resume">>("resume", {}),
  shutdown: request<BareRequest<"shutdown">>("shutdown", {}),
  stop: request<BareRequest<"stop">>("stop", {}),
  "balloon-stats": request<BareRequest<"balloon-stats">>("balloon-stats", {}),
  screenshot: request<BareRequest<"screenshot">>("screenshot", {}),
  // Bound: 0..the guest's RAM, which the balloon knows and checks, naming the range.
  balloon: request<BalloonRequest>("balloon", {
    target_mib: { type: "integer", description: "a whole number of MiB" },
  }),
  // A disk's limits or a NIC's, told by the device's name.
  limits: {
    type: "object",
    if: { type: "object", properties: { device: { type: "string", pattern: "^vd" } } },
    then: request<DiskLimitsRequest>("limits", {
      device: { type: "string", pattern: "^vd[a-h]$", description: DEVICE },
      bps: rate(),
      iops: rate(),
    }),
    else: request<NicLimitsRequest>("limits", {
      device: { type: "string", pattern: "^eth[0-3]$", description: DEVICE },
      bps: rate(),
      pps: rate(),
    }),
  },
  // Bound: a key code the keyboard has (input.ts).
  key: request<KeyRequest>("key", {
    code: {
      type: "integer",
      minimum: KEY_FIRST,
      maximum: KEY_LAST,
      description: `a Linux key code, ${KEY_FIRST}-${KEY_LAST}`,
    },
    down: { type: "boolean", description: "true or false", optional: true },
  }),
  snapshot: request<SnapshotRequest>("snapshot", {
    name: {
      type: "string",
      pattern: SNAPSHOT_NAME_PATTERN,
      description: "1-64 of A-Z a-z 0-9 _ . -, not starting with a dot or a dash",
    },
  }),
  agent: request<AgentRequest>("agent", {
    command: { enum: AGENT_COMMAND_NAMES, description: `one of ${AGENT_COMMAND_NAMES.join(", ")}` },
    arguments: { type: "object", description: "a JSON object", optional: true },
    timeout_ms: {
      type: "integer",
      minimum: MIN_AGENT_TIMEOUT_MS,
      maximum: MAX_AGENT_TIMEOUT_MS,
      description: `${MIN_AGENT_TIMEOUT_MS}..${MAX_AGENT_TIMEOUT_MS}`,
      optional: true,
    },
  }),
};

/** An op as a JavaScript name (the precompiled module's export): balloon-stats, balloon_stats. */
const exportName = (op: ControlOp): string => op.replaceAll("-", "_");

/**
 * The requests' schemas as the build precompiles them (schema-compiler.ts). verbose: each error
 * carries the schema it failed, whose description the refusal quotes.
 */
export const CONTROL_REQUEST_SCHEMAS: SchemaSet = {
  file: "control-requests",
  options: { verbose: true },
  schemas: Object.fromEntries(CONTROL_OPS.map((op) => [exportName(op), REQUEST_SCHEMAS[op]])),
};
let compiled: Record<string, ValidateFunction> | undefined;

/** The refusal's words for the first thing wrong with a request of `op`. */
function refusal(op: ControlOp, e: ErrorObject): string {
  // The schema that failed: the request's (a field missing or unknown) or the field's.
  const properties: { [field: string]: FieldSchema } = e.parentSchema?.properties ?? {};
  const description: unknown = e.parentSchema?.description;
  if (e.keyword === "required") {
    const missing = String(e.params.missingProperty);
    return `${missing}: missing (${properties[missing]?.description ?? "required"})`;
  }
  if (e.keyword === "additionalProperties") {
    const fields = Object.keys(properties).filter((f) => f !== "op");
    const has = fields.length > 0 ? `its fields: ${fields.join(", ")}` : "it has none";
    return `${String(e.params.additionalProperty)}: not a field of op ${op} (${has})`;
  }
  const field = e.instancePath.slice(1).replaceAll("/", ".");
  const why = typeof description === "string" ? description : e.message;
  return `${field || "request"}: ${why ?? "not valid"}`;
}
