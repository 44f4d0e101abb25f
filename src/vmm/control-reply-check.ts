// What a client checks of a control reply before it takes it as the type control-protocol.ts
// gives it: the VMM that sent it may be compromised (docs/threat-model.md), so a reply is
// input too. Each op's reply is checked against its schema: every field the type has, of its
// type. Fields the type does not name are let through (a VMM of a newer moat may send more).
import { type Ajv, type ValidateFunction } from "ajv";
import type {
  AgentInfo,
  BalloonInfo,
  ControlOk,
  ControlOp,
  ControlRefusal,
  ControlReply,
  DiskMetrics,
  JitReply,
  MetricsReply,
  NicMetrics,
  StatusReply,
} from "./control-protocol.js";
import { AGENT_COMMAND_NAMES } from "../agent/agent-commands.js";
import { CPU_TIERS } from "../accel/soft/cpu-tier.js";
import { objectSchema, type FieldSchemas, type ObjectSchema } from "./object-schema.js";
import { MoatError } from "../base/moat-error.js";
import { schemaCompiler } from "./schema-compiler.js";

export class ControlReplyError extends MoatError {
  override readonly kind = "host";
}

/**
 * `value`, the parsed reply to a request of `op`, as its type; ControlReplyError saying what
 * is wrong when it is not one. Each op's schema is compiled when first needed.
 */
export function parseControlReply<Op extends ControlOp>(op: Op, value: unknown): ControlReply<Op> {
  const refused = typeof value === "object" && value !== null && "ok" in value && !value.ok;
  if (refused) {
    const check = refusalCheck();
    if (check(value)) return value;
    throw notOne(op, check);
  }
  let validate = validators.get(op);
  if (!validate) {
    validate = compiler().compile<ControlOk>(OK_SCHEMAS[op]);
    validators.set(op, validate);
  }
  if (!validate(value) || !replyTo(op, value)) throw notOne(op, validate);
  return value;
}

/** The error for a reply to `op` that `validate` has just found wanting. */
function notOne(op: ControlOp, validate: ValidateFunction): ControlReplyError {
  const e = validate.errors?.[0];
  const where = e ? `${e.instancePath.slice(1).replaceAll("/", ".") || "it"} ${e.message}` : "";
  return new ControlReplyError(`a reply to ${op} that is not one: ${where}`);
}

/** The compiled schema of `op`'s reply was `op`'s: ties the checked reply to its op's type. */
function replyTo<Op extends ControlOp>(_op: Op, _reply: ControlOk): _reply is ControlOk<Op> {
  return true;
}

// Made when first needed: an Ajv instance compiles its meta-schema (~15 ms), which no VM's
// start should wait for.
let ajv: Ajv | undefined;
const compiler = (): Ajv => (ajv ??= schemaCompiler());
const validators = new Map<ControlOp, ValidateFunction<ControlOk>>();
let isRefusal: ValidateFunction<ControlRefusal> | undefined;
const refusalCheck = (): ValidateFunction<ControlRefusal> =>
  (isRefusal ??= compiler().compile<ControlRefusal>(
    objectSchema<ControlRefusal>(
      {
        ok: { const: false },
        error: { type: "string" },
        kind: { type: "string", optional: true },
      },
      { closed: false },
    ),
  ));

const num = { type: "number" };
const int = { type: "integer" };
const bool = { type: "boolean" };
const str = { type: "string" };
const opt = <S extends object>(s: S): S & { optional: true } => ({ ...s, optional: true });
const open = <T>(fields: FieldSchemas<T>): ObjectSchema => objectSchema(fields, { closed: false });
const list = (items: object) => ({ type: "array", items });
/** An op's reply: `"ok": true` and its fields. */
const ok = <Op extends ControlOp>(_op: Op, fields: FieldSchemas<Omit<ControlOk<Op>, "ok">>) => {
  const s = open(fields);
  return {
    ...s,
    properties: { ok: { const: true }, ...s.properties },
    required: ["ok", ...s.required],
  };
};
const balloonInfo = open<BalloonInfo>({ target_mib: num, actual_mib: num, reported_mib: num });

const agentInfo = open<AgentInfo>({
  connected: bool,
  allow: list({ enum: AGENT_COMMAND_NAMES }),
  unsolicited: num,
  bad_replies: num,
  control_rejected: num,
});

const status = ok<"status">("status", {
  state: { enum: ["running", "paused"] },
  starting: opt(bool),
  name: opt({ type: ["string", "null"] }),
  pid: opt(int),
  accel: opt(str),
  cpu_tier: opt({ enum: CPU_TIERS }),
  cpus: opt(int),
  memory_mib: opt(num),
  ksm: opt(bool),
  memory_locked: opt(bool),
  seccomp: opt({ enum: ["kill", "log", "off"] }),
  jailed: opt(bool),
  uid: opt({ type: ["integer", "null"] }),
  vcpu_tids: opt(list(int)),
  console_clients: opt(num),
  balloon: opt(balloonInfo),
  agent: opt(agentInfo),
  nets: list(
    open<StatusReply["nets"][number]>({
      name: str,
      rxFrames: num,
      rxBytes: num,
      rxDropped: num,
      txFrames: num,
      txBytes: num,
      txSpoofed: num,
      txErrors: num,
    }),
  ),
  vsock: opt(open<NonNullable<StatusReply["vsock"]>>({ connections: num, refused: num })),
});

const metrics = ok<"metrics">("metrics", {
  exits: { type: "object", additionalProperties: num },
  instructions: opt(num),
  jit: opt(
    open<JitReply>({
      translations: num,
      reinstalls: num,
      code_bytes: num,
      translate_ms: num,
      flushes: num,
      declined: num,
    }),
  ),
  disks: list(
    open<DiskMetrics>({
      name: str,
      read_bytes: num,
      write_bytes: num,
      read_ops: num,
      write_ops: num,
      flush_ops: num,
      discard_ops: num,
      errors: num,
    }),
  ),
  nets: list(
    open<NicMetrics>({
      name: str,
      rx_bytes: num,
      tx_bytes: num,
      rx_frames: num,
      tx_frames: num,
      rx_dropped: num,
      tx_spoofed: num,
      tx_errors: num,
    }),
  ),
  balloon: opt(open<NonNullable<MetricsReply["balloon"]>>({ target_mib: num, actual_mib: num })),
  console_dropped_bytes: num,
});

const agent = ok<"agent">("agent", {
  // The guest's word, any JSON.
  return: opt({}),
  exited: opt(bool),
  exit_code: opt({ type: ["integer", "null"] }),
  signal: opt({ type: ["integer", "null"] }),
  stdout: opt(str),
  stderr: opt(str),
  truncated: opt(bool),
});

export const OK_SCHEMAS: { [Op in ControlOp]: object } = {
  status,
  metrics,
  pause: ok("pause", { state: { const: "paused" } }),
  resume: ok("resume", { state: { const: "running" } }),
  shutdown: ok("shutdown", { userspace: { type: ["boolean", "null"] } }),
  stop: ok("stop", {}),
  balloon: ok("balloon", { balloon: balloonInfo }),
  "balloon-stats": ok("balloon-stats", {
    fresh: bool,
    stats: { type: "object", additionalProperties: num },
    balloon: balloonInfo,
  }),
  limits: ok("limits", {}),
  agent,
  screenshot: ok("screenshot", { width: int, height: int, png: str }),
  key: ok("key", {}),
  snapshot: ok("snapshot", { path: str, memory_bytes: int, ms: num }),
};
