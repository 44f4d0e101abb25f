// What the API's routes answer, as JSON schemas: the OpenAPI document shows them, and fastify
// serialises each reply through its schema (fast-json-stringify), which drops a field the schema
// does not declare and coerces a declared one to its type. So every object here either declares
// each field its handler returns, with its exact type (null included), or allows the rest
// (additionalProperties: true): a schema must never change what a client gets.
import { VM_STATES } from "./vm-spec.js";

/** Every error's reply, declared once (components.schemas.Error) and referenced by each route. */
export const errorSchema = {
  $id: "Error",
  type: "object",
  required: ["error"],
  properties: {
    error: { type: "string", description: "what went wrong, in words" },
    field: { type: "string", description: "the request field at fault, when one is" },
  },
} as const;

/** A reference to errorSchema in a route's response. */
export const errorRef = { $ref: "Error#" } as const;

const orNull = <T extends string>(type: T) => ({ type: [type, "null"] }) as const;

/** An object whose fields are described but not all listed: passed on as the handler made it. */
const open = (description: string, properties: Record<string, object> = {}) => ({
  type: "object",
  additionalProperties: true,
  description,
  properties,
});

/** A VM's reply, declared once (components.schemas.Vm): clients get one named type of it. */
export const vmSchema = {
  $id: "Vm",
  type: "object",
  description: "a VM as the daemon keeps it",
  additionalProperties: true,
  required: ["id", "name", "domain", "state", "spec", "restarts", "created_at"],
  properties: {
    id: { type: "string" },
    name: { type: "string" },
    domain: { type: "string" },
    state: { type: "string", enum: [...VM_STATES] },
    spec: open("the VmSpec it was created with, defaults filled in"),
    pid: { ...orNull("integer"), description: "its VM process while it runs" },
    pinned_cpus: { type: ["array", "null"], items: { type: "integer" } },
    started_at: orNull("string"),
    last_exit: { ...orNull("object"), additionalProperties: true },
    restarts: { type: "integer" },
    restart_at: orNull("string"),
    restored_from: {
      ...orNull("string"),
      description: "the snapshot (its id) it starts from instead of booting; null: it boots",
    },
    created_at: { type: "string" },
  },
} as const;

/** A snapshot in the daemon's store (components.schemas.Snapshot). */
export const snapshotSchema = {
  $id: "Snapshot",
  type: "object",
  description: "a snapshot the daemon keeps (docs/snapshot.md)",
  additionalProperties: false,
  required: ["id", "name", "domain", "vm", "vm_id", "bytes", "path", "created_at"],
  properties: {
    id: { type: "string" },
    name: { type: "string", description: "unique in its trust domain" },
    domain: { type: "string" },
    vm: { type: "string", description: "the VM it was taken of, by its name then" },
    vm_id: { type: "string" },
    bytes: { type: "integer", description: "bytes of data its files hold" },
    path: { type: "string", description: "its directory in the daemon's store" },
    created_at: { type: "string" },
  },
} as const;

/** An image in the daemon's store (components.schemas.Image). */
export const imageSchema = {
  $id: "Image",
  type: "object",
  description: "a disk image the daemon keeps for a trust domain's VMs (docs/disks.md)",
  additionalProperties: false,
  required: [
    "id",
    "name",
    "domain",
    "format",
    "virtual_size",
    "bytes",
    "cluster_size",
    "source",
    "path",
    "created_at",
  ],
  properties: {
    id: { type: "string" },
    name: { type: "string", description: "unique in its trust domain" },
    domain: { type: "string" },
    format: { type: "string", enum: ["raw", "qcow2"] },
    virtual_size: { type: "integer", description: "the guest's disk size, bytes" },
    bytes: { type: "integer", description: "bytes of data its file holds" },
    cluster_size: { ...orNull("integer"), description: "qcow2's cluster size; null for raw" },
    source: { type: "string", description: "the host file it was imported from" },
    path: { type: "string", description: "its file in the daemon's store" },
    created_at: { type: "string" },
    file_size: { type: "integer", description: "its file's size now, bytes (inspect only)" },
    used_by: {
      type: "array",
      description: "the VMs with an overlay on it (inspect only)",
      items: {
        type: "object",
        additionalProperties: false,
        required: ["id", "name"],
        properties: { id: { type: "string" }, name: { type: "string" } },
      },
    },
  },
} as const;

/** A reference to imageSchema in a route's response. */
export const imageView = { $ref: "Image#" } as const;

/** A reference to snapshotSchema in a route's response. */
export const snapshotView = { $ref: "Snapshot#" } as const;

/** A reference to vmSchema in a route's response. */
export const vmView = { $ref: "Vm#" } as const;

export const balloonReply = open("the balloon after the change", {
  ok: { type: "boolean" },
  balloon: open("MiB the host asked for, the guest has given, and it reported free", {
    target_mib: { type: "number" },
    actual_mib: { type: "number" },
    reported_mib: { type: "number" },
  }),
});

export const guestReply = open(
  "what the guest agent answered to each informational command the VM's policy allows " +
    "(ping, info, osinfo, hostname, time, interfaces, users): the guest's word, never trusted",
  {
    informational: { type: "boolean" },
    note: { type: "string" },
    errors: open("why a command got no answer, by command"),
  },
);

export const agentReply = open("the guest agent's answer (informational)", {
  command: { type: "string" },
  informational: { type: "boolean" },
  return: { description: "the agent's return value" },
  exited: { type: "boolean" },
  exit_code: orNull("integer"),
  signal: orNull("integer"),
  stdout: { type: "string", description: "base64" },
  stderr: { type: "string", description: "base64" },
  truncated: { type: "boolean" },
});

export const statsReply = open("live figures of one VM; the process's only while it runs", {
  id: { type: "string" },
  name: { type: "string" },
  state: { type: "string", enum: [...VM_STATES] },
  pid: { type: "integer" },
  vmm_pid: orNull("integer"),
  cpu_seconds: { type: "number" },
  vcpu_seconds: { type: "number" },
  rss_bytes: { type: "number" },
  cgroup_memory_bytes: { type: "number" },
  cgroup_memory_limit_bytes: { type: "number" },
  vmm: { ...orNull("object"), additionalProperties: true, description: "the VMM's own metrics" },
  cpu_tier: { type: "string" },
  confinement: open("how the VM process is confined, as it reports it"),
});

export const hostReply = open("host capacity, admission headroom, policy and VM counts", {
  capacity: open("the host's limits and what active VMs use of them"),
  memory: open("host memory", {
    total_bytes: { type: "number" },
    available_bytes: { type: "number" },
    pressure_some10: orNull("number"),
  }),
  policy: open("admission policy"),
  quotas: open("each domain's use and quota"),
  image_dirs: open("where disk images may come from"),
  vm_seccomp: { type: "string", enum: ["kill", "log", "off"] },
  vm_jail: { type: "boolean" },
  ksm: { type: "boolean" },
  cgroups: { type: "string" },
  vms: open("VMs by state"),
  reclaim: open("memory reclaim policy"),
});

const tokenFields = {
  id: { type: "string" },
  name: { type: "string" },
  role: { type: "string", enum: ["admin", "operator", "tenant"] },
  domain: orNull("string"),
  expires_at: { ...orNull("string"), description: "ISO time; null: never" },
} as const;

export const tokenList = {
  type: "array",
  description: "every token: never its secret",
  items: {
    type: "object",
    additionalProperties: true,
    required: ["id", "name", "role", "domain", "created_at", "expires_at"],
    properties: { ...tokenFields, created_at: { type: "string" } },
  },
} as const;

export const newToken = {
  type: "object",
  description: "the token made, with its secret",
  additionalProperties: true,
  required: ["id", "name", "role", "domain", "expires_at", "token"],
  properties: {
    ...tokenFields,
    token: { type: "string", description: "the secret: shown in this reply only" },
  },
} as const;

export const auditReply = open("the audit log's hash chain, checked line by line", {
  ok: { type: "boolean" },
  lines: { type: "integer" },
  problems: { type: "array", items: open("a line that breaks the chain") },
  notes: { type: "array", items: open("what a reader should know about a line") },
});

/** A reply that is not JSON: what it is, its media type and its schema. */
export const media = (description: string, type: string, schema: object) => ({
  description,
  content: { [type]: { schema } },
});

/** The document itself: an object the validator in test/openapi.test.ts checks. */
export const openApiReply = open("the OpenAPI 3.1 document of this API");

/** A WebSocket upgrade's answer: the stream follows on the same connection. */
export const upgraded = {
  type: "null",
  description: "Switching Protocols: the WebSocket (subprotocol moat.v1) follows",
} as const;

type OpenApiDoc = {
  paths?: Record<string, Record<string, { requestBody?: { content?: Record<string, Json> } }>>;
  components?: { schemas?: Record<string, unknown> };
};
type Json = { schema?: unknown };

/**
 * The document with the JSON body of `method` `path` moved to components.schemas[name] and
 * referenced there: a schema a client generator makes one named type of (VmSpec). Only the
 * document changes; the route still validates with its own copy.
 */
export function nameRequestBody<T>(doc: T, path: string, method: string, name: string): T {
  const d = doc as OpenApiDoc;
  const json = d.paths?.[path]?.[method]?.requestBody?.content?.["application/json"];
  if (!json?.schema) throw new Error(`the document has no JSON body for ${method} ${path}`);
  d.components = { ...d.components, schemas: { ...d.components?.schemas, [name]: json.schema } };
  json.schema = { $ref: `#/components/schemas/${name}` };
  return doc;
}
