// The API document, as a client meets it: /v1/openapi.json read from a real `moat daemon`
// without a token, valid OpenAPI by a maintained validator (@seriousme/openapi-schema-validator,
// the OpenAPI Initiative's JSON Schema of its version), every schema in it valid JSON Schema
// 2020-12 (3.1's dialect: the validator leaves schema objects to it), every operation named and
// its success reply described, nothing else readable without a token, and the daemon's replies
// what the document says they are.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Validator } from "@seriousme/openapi-schema-validator";
import { Ajv2020 } from "ajv/dist/2020.js";
import Fastify from "fastify";
import * as replies from "../src/host/api-replies.js";
import { apiDocument } from "../scripts/api-types.js";
import {
  adminToken,
  api,
  newHome,
  startDaemon,
  stopDaemon,
  type DaemonProc,
  type Home,
} from "./support/moatd.js";

type Json = Record<string, unknown>;
type Operation = { operationId?: string; responses?: Record<string, Json> };
type Doc = { openapi: string; paths: Record<string, Record<string, Operation>> };

let h: Home;
let d: DaemonProc;
let doc: Doc;

before(async () => {
  h = newHome({ reclaim: { enabled: false } });
  d = await startDaemon(h);
  const r = await api(h.socket, undefined, "GET", "/v1/openapi.json");
  assert.equal(r.status, 200, `the document without a token: ${r.status} ${r.text.slice(0, 300)}`);
  doc = r.body as Doc;
});

after(async () => {
  await stopDaemon(h, d);
});

/** Every operation of the document, with its method and path. */
function operations(): { method: string; path: string; op: Operation }[] {
  return Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({ method, path, op })),
  );
}

/** `node` with each reference to a named schema (#/components/schemas/X) replaced by it. */
function inline(node: unknown): Json {
  const named = (doc as unknown as { components: { schemas: Record<string, Json> } }).components;
  const walk = (n: unknown): unknown => {
    if (Array.isArray(n)) return n.map(walk);
    if (n === null || typeof n !== "object") return n;
    const ref = (n as Json).$ref;
    if (typeof ref === "string" && ref.startsWith("#/components/schemas/"))
      return walk(named.schemas[ref.slice("#/components/schemas/".length)]);
    return Object.fromEntries(Object.entries(n).map(([k, v]) => [k, walk(v)]));
  };
  return walk(node) as Json;
}

/** Every schema object under `node` (parameters', bodies', replies', components'). */
function schemas(node: unknown, out: Json[] = []): Json[] {
  if (Array.isArray(node)) for (const x of node) schemas(x, out);
  else if (node !== null && typeof node === "object") {
    for (const [k, v] of Object.entries(node)) {
      if (k === "schema" && v !== null && typeof v === "object") out.push(v as Json);
      else if (k === "schemas" && v !== null && typeof v === "object")
        out.push(...(Object.values(v) as Json[]));
      else schemas(v, out);
    }
  }
  return out;
}

test("the OpenAPI document is valid OpenAPI 3.1 and needs no token", async () => {
  const v = new Validator();
  const r = await v.validate(structuredClone(doc) as Json);
  assert.equal(r.valid, true, `not valid OpenAPI: ${JSON.stringify(r.errors, null, 1)}`);
  assert.equal(doc.openapi, "3.1.0");
  // The validator takes 3.1's schema objects as they come: they are JSON Schema 2020-12.
  const ajv = new Ajv2020({ strict: false });
  const all = schemas(doc);
  assert.ok(all.length > 40, `${all.length} schemas`);
  for (const s of all)
    assert.equal(
      ajv.validateSchema(s),
      true,
      `${JSON.stringify(s).slice(0, 200)}: ${ajv.errorsText()}`,
    );
  // What a create takes is one named schema, VmSpec (a generated client's type for it).
  const create = doc.paths["/v1/vms"]!.post as unknown as { requestBody: { content: Json } };
  assert.deepEqual(create.requestBody.content["application/json"], {
    schema: { $ref: "#/components/schemas/VmSpec" },
  });
  // The shared error reply is declared once and referenced.
  const components = (doc as unknown as { components: { schemas: Json } }).components;
  assert.deepEqual(Object.keys(components.schemas).sort(), [
    "Error",
    "Image",
    "Snapshot",
    "Vm",
    "VmSpec",
  ]);
  const getVm = doc.paths["/v1/vms/{vm}"]!.get!.responses!["404"] as Json;
  assert.deepEqual(getVm.content, {
    "application/json": { schema: { $ref: "#/components/schemas/Error" } },
  });
});

test("the daemon serves the document the CLI's types are generated from", async () => {
  assert.deepEqual(doc, await apiDocument());
});

test("every operation has an operationId and its success reply described", () => {
  const ops = operations();
  assert.ok(ops.length >= 25, `${ops.length} operations`);
  const ids = ops.map((o) => o.op.operationId);
  for (const [i, id] of ids.entries())
    assert.match(String(id), /^[a-z][A-Za-z]+$/, `${ops[i]!.method} ${ops[i]!.path}: operationId`);
  assert.equal(new Set(ids).size, ids.length, "operationIds are unique");
  const upgrades: string[] = [];
  for (const { method, path, op } of ops) {
    const where = `${method} ${path}`;
    const ok = Object.entries(op.responses ?? {}).filter(([code]) => /^(2\d\d|101)$/.test(code));
    assert.equal(ok.length, 1, `${where}: one success reply (${Object.keys(op.responses ?? {})})`);
    const [code, reply] = ok[0]!;
    assert.equal(typeof reply.description, "string", `${where}: ${code} description`);
    // 204 and a WebSocket's 101 carry no body; every other success reply has its schema.
    if (code === "101") upgrades.push(op.operationId!);
    if (code === "204" || code === "101") assert.equal(reply.content, undefined, where);
    else {
      const content = Object.values((reply.content ?? {}) as Record<string, { schema?: Json }>);
      assert.ok(content.length > 0 && content.every((c) => c.schema), `${where}: ${code} schema`);
    }
  }
  assert.deepEqual(upgrades.sort(), ["attachConsole", "attachVnc"]);
});

test("the document is the only API operation readable without a token", async () => {
  for (const { method, path, op } of operations()) {
    if (op.operationId === "getOpenApi") continue;
    const url = path.replace("{vm}", "some-vm").replace("{id}", "some-token");
    const body = method === "post" || method === "put" ? {} : undefined;
    const r = await api(h.socket, undefined, method.toUpperCase(), url, body);
    assert.equal(r.status, 401, `${method} ${url} without a token: ${r.status}`);
  }
  const bad = await api(h.socket, "moat_wrong", "GET", "/v1/vms");
  assert.equal(bad.status, 401);
});

test("the daemon's replies are what the document says they are", async () => {
  const token = adminToken(h);
  const ajv = new Ajv2020({ strict: false });
  const check = async (
    method: string,
    path: string,
    docPath: string,
    code: string,
    body?: unknown,
  ): Promise<Json> => {
    const r = await api(h.socket, token, method, path, body);
    assert.equal(String(r.status), code, `${method} ${path}: ${r.text.slice(0, 300)}`);
    const reply = doc.paths[docPath]![method.toLowerCase()]!.responses![code]!;
    const schema = inline(
      (reply.content as Record<string, { schema: Json }>)["application/json"]!.schema,
    );
    const valid = ajv.validate(schema, r.body);
    assert.ok(valid, `${method} ${path}: ${ajv.errorsText()} in ${r.text.slice(0, 300)}`);
    return r.body as Json;
  };
  const vm = await check("POST", "/v1/vms", "/v1/vms", "201", { name: "doc", memory_mib: 40 });
  // What the handler makes, every field of it, reaches the client (none dropped by the schema).
  for (const k of ["id", "name", "domain", "state", "spec", "pid", "pinned_cpus", "restarts"])
    assert.ok(k in vm, `POST /v1/vms: ${k} in ${JSON.stringify(vm)}`);
  assert.equal((vm.spec as Json).memory_mib, 40);
  await check("GET", "/v1/vms", "/v1/vms", "200");
  await check("GET", "/v1/vms/doc", "/v1/vms/{vm}", "200");
  const stats = await check("GET", "/v1/vms/doc/stats", "/v1/vms/{vm}/stats", "200");
  assert.deepEqual(Object.keys(stats).sort(), ["id", "name", "state"]);
  const host = await check("GET", "/v1/host", "/v1/host", "200");
  assert.ok((host.capacity as Json).host_cpus, JSON.stringify(host.capacity));
  const made = await check("POST", "/v1/tokens", "/v1/tokens", "201", {
    name: "doc",
    role: "operator",
  });
  assert.match(String(made.token), /^moat_/);
  const tokens = (await check("GET", "/v1/tokens", "/v1/tokens", "200")) as unknown as Json[];
  assert.ok(tokens.some((t) => t.name === "doc" && t.expires_at === null && t.domain === null));
  const audit = await check("GET", "/v1/audit/verify", "/v1/audit/verify", "200");
  assert.equal(audit.ok, true, JSON.stringify(audit));
  // An error reply is the shared one, its field named.
  const refused = await api(h.socket, token, "POST", "/v1/vms", { name: "doc2", memory_mib: -1 });
  assert.equal(refused.status, 400);
  const error = (doc as unknown as { components: { schemas: { Error: Json } } }).components.schemas
    .Error;
  assert.ok(ajv.validate(error, refused.body), ajv.errorsText());
  assert.equal((refused.body as Json).field, "memory_mib");
});

/** vmSchema as a route's own (not shared) schema. */
const { $id: _vmId, ...vmInline } = replies.vmSchema;

test("a reply schema changes nothing a handler returns: nulls, absent and extra fields", async () => {
  // fastify serialises a reply through its schema, dropping undeclared fields and coercing
  // declared ones (a null integer would become 0): each case must come out as JSON.stringify's.
  const cases: [object, unknown][] = [
    [
      vmInline,
      {
        ...{ id: "a", name: "n", domain: "d", state: "created", spec: { x: [1, { y: null }] } },
        ...{ pid: null, pinned_cpus: null, started_at: null, last_exit: null, restarts: 0 },
        ...{ restart_at: null, created_at: "t", added_later: 5 },
      },
    ],
    [
      vmInline,
      {
        ...{ id: "a", name: "n", domain: "d", state: "crashed", spec: {}, pid: 12 },
        ...{ pinned_cpus: [1, 2], started_at: "s", restarts: 2, restart_at: "x", created_at: "t" },
        last_exit: { time: "t", status: null, signal: "SIGKILL", reason: "r" },
      },
    ],
    [
      replies.statsReply,
      {
        ...{ id: "a", name: "n", state: "running", pid: 1, vmm_pid: null, cpu_seconds: 1.5 },
        ...{ vcpu_seconds: undefined, rss_bytes: 100, vmm: null, cpu_tier: "jit" },
        confinement: { jailed: true, uid: null },
      },
    ],
    [replies.statsReply, { id: "a", name: "n", state: "running", vmm: { ok: true, a: [1] } }],
    [
      replies.hostReply,
      {
        memory: { total_bytes: 1, available_bytes: 2, pressure_some10: null },
        ...{ capacity: { a: 1 }, policy: { x: 1 }, quotas: {}, image_dirs: { operators: [] } },
        ...{ vm_seccomp: "off", vm_jail: false, ksm: false, cgroups: "v2", vms: {}, reclaim: {} },
      },
    ],
    [
      replies.agentReply,
      {
        ...{ command: "exec", informational: true, return: { pid: 3 }, exited: true },
        ...{ exit_code: null, signal: 9, stdout: "", truncated: false },
      },
    ],
    [replies.agentReply, { command: "x", informational: true, return: null }],
    [replies.agentReply, { command: "x", informational: true, return: "text" }],
    [replies.guestReply, { informational: true, note: "n", ping: {}, errors: { a: "b" } }],
    [
      replies.balloonReply,
      { ok: true, balloon: { target_mib: 1, actual_mib: 0, reported_mib: 0 } },
    ],
    [
      replies.tokenList,
      [{ id: "a", name: "n", role: "admin", domain: null, created_at: "t", expires_at: null }],
    ],
    [
      replies.newToken,
      { id: "a", name: "n", role: "tenant", domain: "d", expires_at: "t", token: "moat_x" },
    ],
    [replies.auditReply, { ok: false, lines: 3, problems: [{ line: 1, reason: "r" }], notes: [] }],
  ];
  const app = Fastify();
  cases.forEach(([schema, body], i) =>
    app.get(`/${i}`, { schema: { response: { 200: schema } } }, async () => body),
  );
  try {
    for (const [i, [, body]] of cases.entries()) {
      const r = await app.inject({ method: "GET", url: `/${i}` });
      assert.equal(r.statusCode, 200, r.body);
      assert.deepEqual(JSON.parse(r.body), JSON.parse(JSON.stringify(body)), `case ${i}`);
    }
  } finally {
    await app.close();
  }
});
