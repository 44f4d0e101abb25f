// The daemon's REST API (/v1, JSON) on fastify: every route carries its JSON schema, which both
// validates the request (a bad body is a 400 naming the field and the reason) and writes the
// OpenAPI document at /v1/openapi.json. Every request is authenticated by a bearer token,
// rate-limited per token, authorised per VM, and every change is appended to the audit log.
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import swagger from "@fastify/swagger";
import websocket from "@fastify/websocket";
import rateLimit from "@fastify/rate-limit";
import net from "node:net";
import { TOKEN_PATTERN, allowed, hashToken, type Action, type Caller } from "./auth.js";
import { VM_STATES, vmSpecSchema } from "./vm-spec.js";
import type { VmRecord } from "./store.js";
import type { VmEvent } from "./supervisor.js";

/** What the API drives: the daemon (src/host/daemon.ts). */
export interface ApiHost {
  caller(tokenHash: string): Caller | undefined;
  listVms(): VmRecord[];
  vm(ref: string): VmRecord | undefined;
  createVm(spec: Record<string, unknown>, caller: Caller): VmRecord;
  lifecycle(vm: VmRecord, op: "start" | "stop" | "kill" | "pause" | "resume"): Promise<VmRecord>;
  deleteVm(vm: VmRecord, force: boolean): Promise<void>;
  setBalloon(vm: VmRecord, targetMiB: number): Promise<Record<string, unknown>>;
  stats(vm: VmRecord): Promise<Record<string, unknown>>;
  logs(vm: VmRecord, bytes: number): string;
  consolePath(vm: VmRecord): string;
  host(): Record<string, unknown>;
  tokens(): Record<string, unknown>[];
  createToken(body: { name: string; role: string; domain?: string }): Record<string, unknown>;
  deleteToken(id: string): boolean;
  verifyAudit(): Promise<Record<string, unknown>>;
  metrics(): Promise<{ contentType: string; body: string }>;
  subscribe(fn: (e: VmEvent) => void): () => void;
  audit(
    caller: Caller | null,
    action: string,
    vm: VmRecord | null,
    ok: boolean,
    detail?: Record<string, unknown>,
  ): void;
}

export interface ApiOptions {
  /** Requests per second per token (and per unauthenticated peer), and the burst window. */
  rateLimit: { max: number; windowMs: number };
  /** Serve HTTPS (the TCP listener); the Unix socket is plain HTTP. */
  https?: { key: Buffer; cert: Buffer };
}

/** An error the API reports as `{ error, field? }` with this status. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

declare module "fastify" {
  interface FastifyInstance {
    /** The routes this instance serves (for the test that holds the OpenAPI document to them). */
    moatRoutes: { method: string; url: string }[];
  }
  interface FastifyRequest {
    caller?: Caller;
  }
  interface FastifyContextConfig {
    /** What the route does, for authorisation; VM routes name the VM in params.vm. */
    action?: Action;
  }
}

const errorSchema = {
  type: "object",
  properties: { error: { type: "string" }, field: { type: "string" } },
} as const;

const vmParams = {
  type: "object",
  required: ["vm"],
  properties: { vm: { type: "string", minLength: 1, maxLength: 64, description: "id or name" } },
} as const;

const vmView = {
  type: "object",
  additionalProperties: true,
  properties: {
    id: { type: "string" },
    name: { type: "string" },
    domain: { type: "string" },
    state: { type: "string", enum: [...VM_STATES] },
  },
} as const;

/** Bound: console bytes a slow WebSocket client may have waiting before the VM's output pauses. */
const WS_BACKLOG = 1024 * 1024;
/** Bound: bytes of one SSE client's backlog; past it the client is dropped. */
const SSE_BACKLOG = 1024 * 1024;
/** Bound: scrollback returned by /logs at most. */
const LOGS_MAX = 1024 * 1024;

export function vmView_(vm: VmRecord): Record<string, unknown> {
  return {
    id: vm.id,
    name: vm.name,
    domain: vm.domain,
    state: vm.state,
    spec: vm.spec,
    pid: vm.pid,
    pinned_cpus: vm.pinned,
    started_at: vm.startedAt,
    last_exit: vm.lastExit,
    restarts: vm.restarts,
    restart_at: vm.restartAt,
    created_at: vm.createdAt,
  };
}

/** Builds the API (routes registered; not listening). */
export async function buildApi(h: ApiHost, o: ApiOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    // Closing the daemon must not wait for event streams and consoles that never end.
    forceCloseConnections: true,
    ...(o.https ? { https: o.https } : {}),
    bodyLimit: 64 * 1024,
    ajv: { customOptions: { removeAdditional: false, allErrors: false, coerceTypes: "array" } },
  });

  const routes: { method: string; url: string }[] = [];
  app.decorate("moatRoutes", routes);
  app.addHook("onRoute", (r) => {
    for (const m of [r.method].flat()) routes.push({ method: m, url: r.url });
    // Every route may answer with these; the document says so.
    r.schema = {
      ...r.schema,
      response: {
        400: { description: "bad request: the field and the reason", ...errorSchema },
        401: { description: "no valid token", ...errorSchema },
        403: { description: "not allowed for this caller", ...errorSchema },
        404: { description: "no such VM or token", ...errorSchema },
        409: { description: "refused in this state, or by admission control", ...errorSchema },
        429: { description: "rate limit", ...errorSchema },
        ...(r.schema?.response as object | undefined),
      },
    };
  });
  await app.register(swagger, {
    openapi: {
      openapi: "3.0.3",
      info: {
        title: "moat host API",
        version: "1",
        description:
          "Manage the VMs of one moat host. Authenticate with `Authorization: Bearer <token>`.",
      },
      components: {
        securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
      },
      security: [{ bearer: [] }],
    },
  });
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } });
  // @fastify/websocket hides its routes from the OpenAPI document; the console is part of the
  // API and is documented like the rest.
  app.addHook("onRoute", (r) => {
    if (r.websocket && r.schema) r.schema.hide = false;
  });

  // Authentication first: nothing else runs for a caller without a valid token.
  app.addHook("onRequest", async (req, reply) => {
    const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? "");
    const token = m?.[1];
    const caller = token && TOKEN_PATTERN.test(token) ? h.caller(hashToken(token)) : undefined;
    if (!caller) {
      await reply
        .code(401)
        .send({ error: "a valid API token is required (Authorization: Bearer ...)" });
      return reply;
    }
    req.caller = caller;
  });
  await app.register(rateLimit, {
    max: o.rateLimit.max,
    timeWindow: o.rateLimit.windowMs,
    keyGenerator: (req) => req.caller?.id ?? req.ip ?? "unix",
    // Thrown, so it goes through the error handler below like every other error.
    errorResponseBuilder: (_req, ctx) =>
      new ApiError(
        429,
        `rate limit: at most ${ctx.max} requests per window; retry in ${ctx.after}`,
      ),
  });

  // Authorisation: the route's action, for VM routes against the VM's domain. A tenant asking
  // for another domain's VM gets the same 403 as for a VM it may not touch.
  app.addHook("preHandler", async (req, reply) => {
    const action = req.routeOptions.config.action;
    const caller = req.caller!;
    if (!action) return;
    const params = req.params as { vm?: string };
    let domain: string | undefined;
    if (params.vm !== undefined) {
      const vm = h.vm(params.vm);
      if (!vm) {
        // Admins and operators may learn that a VM does not exist; tenants learn nothing.
        const code = caller.role === "tenant" ? 403 : 404;
        await reply.code(code).send({ error: code === 404 ? `no VM '${params.vm}'` : "forbidden" });
        return reply;
      }
      domain = vm.domain;
    } else if (action === "vm.create") {
      domain = (req.body as { domain?: string } | undefined)?.domain ?? caller.domain ?? "default";
    }
    if (!allowed(caller, action, domain)) {
      await reply.code(403).send({ error: "forbidden" });
      return reply;
    }
  });

  // Every change, allowed or not, goes to the audit log.
  app.addHook("onResponse", async (req, reply) => {
    if (req.method === "GET" || req.method === "HEAD" || reply.statusCode === 401) return;
    const params = req.params as { vm?: string };
    const vm = params.vm !== undefined ? (h.vm(params.vm) ?? null) : null;
    h.audit(
      req.caller ?? null,
      `${req.method} ${req.routeOptions.url ?? req.url}`,
      vm,
      reply.statusCode < 400,
      {
        status: reply.statusCode,
        ...(params.vm !== undefined && !vm ? { vm_ref: params.vm } : {}),
      },
    );
  });

  app.setErrorHandler(
    async (
      err: Error & { validation?: unknown[]; validationContext?: string; statusCode?: number },
      _req,
      reply,
    ) => {
      if (err.validation) {
        const v = err.validation[0] as {
          instancePath?: string;
          message?: string;
          params?: Record<string, unknown>;
        };
        let field = (v.instancePath ?? "").replace(/^\//, "").replace(/\//g, ".");
        const missing = v.params?.missingProperty ?? v.params?.additionalProperty;
        if (typeof missing === "string") field = field ? `${field}.${missing}` : missing;
        const reason =
          v.params?.additionalProperty !== undefined
            ? "is not a known field"
            : (v.message ?? "is invalid");
        const where = err.validationContext ?? "body";
        return reply.code(400).send({ error: `${where}: ${field || "(root)"} ${reason}`, field });
      }
      if (err instanceof ApiError)
        return reply
          .code(err.statusCode)
          .send({ error: err.message, ...(err.field ? { field: err.field } : {}) });
      const code = err.statusCode ?? 500;
      if (code >= 500) return reply.code(500).send({ error: `internal error: ${err.message}` });
      return reply.code(code).send({ error: err.message });
    },
  );

  const vmOf = (req: FastifyRequest): VmRecord => h.vm((req.params as { vm: string }).vm)!;

  app.get(
    "/v1/openapi.json",
    { schema: { hide: false, tags: ["meta"], summary: "This document" } },
    async () => app.swagger(),
  );

  app.get(
    "/v1/vms",
    {
      config: { action: "vm.list" },
      schema: {
        summary: "List VMs (a tenant sees its own domain's)",
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: {
            label: { type: "string", maxLength: 320, description: "key=value filter" },
            state: { type: "string", enum: [...VM_STATES] },
          },
        },
        response: { 200: { type: "array", items: vmView } },
      },
    },
    async (req) => {
      const q = req.query as { label?: string; state?: string };
      const c = req.caller!;
      let vms = h.listVms().filter((v) => c.role !== "tenant" || v.domain === c.domain);
      if (q.state) vms = vms.filter((v) => v.state === q.state);
      if (q.label) {
        const [k, ...rest] = q.label.split("=");
        vms = vms.filter((v) => v.spec.labels[k!] === rest.join("="));
      }
      return vms.map(vmView_);
    },
  );

  app.post(
    "/v1/vms",
    {
      config: { action: "vm.create" },
      schema: {
        summary: "Define a VM (it starts with POST .../start)",
        body: vmSpecSchema,
        response: { 201: vmView },
      },
    },
    async (req, reply) => {
      const vm = h.createVm(req.body as Record<string, unknown>, req.caller!);
      return reply.code(201).send(vmView_(vm));
    },
  );

  app.get(
    "/v1/vms/:vm",
    {
      config: { action: "vm.read" },
      schema: { summary: "One VM", params: vmParams, response: { 200: vmView } },
    },
    async (req) => vmView_(vmOf(req)),
  );

  app.delete(
    "/v1/vms/:vm",
    {
      config: { action: "vm.change" },
      schema: {
        summary: "Delete a VM (force: kill it first if it runs)",
        params: vmParams,
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: { force: { type: "boolean", default: false } },
        },
        response: { 204: { type: "null", description: "deleted" } },
      },
    },
    async (req, reply) => {
      await h.deleteVm(vmOf(req), (req.query as { force: boolean }).force);
      return reply.code(204).send();
    },
  );

  for (const op of ["start", "stop", "kill", "pause", "resume"] as const) {
    app.post(
      `/v1/vms/:vm/${op}`,
      {
        config: { action: "vm.change" },
        schema: {
          summary: `${op[0]!.toUpperCase()}${op.slice(1)} a VM`,
          params: vmParams,
          response: { 200: vmView },
        },
      },
      async (req) => vmView_(await h.lifecycle(vmOf(req), op)),
    );
  }

  app.put(
    "/v1/vms/:vm/balloon",
    {
      config: { action: "vm.change" },
      schema: {
        summary: "Set the balloon target (MiB taken from the guest)",
        params: vmParams,
        body: {
          type: "object",
          additionalProperties: false,
          required: ["target_mib"],
          properties: { target_mib: { type: "integer", minimum: 0, maximum: 4000 } },
        },
      },
    },
    async (req) => h.setBalloon(vmOf(req), (req.body as { target_mib: number }).target_mib),
  );

  app.get(
    "/v1/vms/:vm/stats",
    {
      config: { action: "vm.read" },
      schema: {
        summary: "Live figures: CPU time, RSS, balloon, device counters",
        params: vmParams,
      },
    },
    async (req) => h.stats(vmOf(req)),
  );

  app.get(
    "/v1/vms/:vm/logs",
    {
      config: { action: "vm.read" },
      schema: {
        summary: "Console scrollback (kept on disk, bounded to 1 MiB per VM)",
        params: vmParams,
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: { bytes: { type: "integer", minimum: 1, maximum: LOGS_MAX, default: 65536 } },
        },
        response: { 200: { type: "string", description: "text/plain" } },
      },
    },
    async (req, reply) =>
      reply
        .type("text/plain; charset=utf-8")
        .send(h.logs(vmOf(req), (req.query as { bytes: number }).bytes)),
  );

  app.get(
    "/v1/vms/:vm/console",
    {
      websocket: true,
      config: { action: "vm.console" },
      schema: {
        summary: "Attach to the serial console (WebSocket; binary frames both ways)",
        params: vmParams,
      },
    },
    (ws, req) => {
      const vm = vmOf(req);
      h.audit(req.caller!, "vm.console.attach", vm, true);
      if (vm.state !== "running" && vm.state !== "paused") {
        ws.close(4409, `VM is ${vm.state}`);
        return;
      }
      const s = net.connect(h.consolePath(vm));
      s.on("data", (d: Buffer) => {
        ws.send(d);
        // Backpressure: a slow viewer pauses this console connection, not the VM's memory.
        if (ws.bufferedAmount > WS_BACKLOG) {
          s.pause();
          const t = setInterval(() => {
            if (ws.bufferedAmount < WS_BACKLOG / 2 || ws.readyState !== ws.OPEN) {
              clearInterval(t);
              s.resume();
            }
          }, 20);
        }
      });
      s.on("error", () => ws.close(1011, "console unavailable"));
      s.on("close", () => ws.close(1000, "console closed"));
      ws.on("message", (m: Buffer) => s.write(m));
      ws.on("close", () => s.destroy());
    },
  );

  app.get(
    "/v1/events",
    {
      config: { action: "events.read" },
      schema: {
        summary: "VM state changes as server-sent events (a tenant sees its own domain's)",
      },
    },
    (req, reply) => {
      const c = req.caller!;
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        "content-type": "text/event-stream",
        "cache-control": "no-store",
        connection: "keep-alive",
      });
      raw.write(": moat events\n\n");
      const off = h.subscribe((e) => {
        if (c.role === "tenant" && e.domain !== c.domain) return;
        if (raw.writableLength > SSE_BACKLOG) {
          raw.destroy();
          return;
        }
        raw.write(`event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
      });
      const ping = setInterval(() => raw.write(": ping\n\n"), 15000);
      req.raw.on("close", () => {
        clearInterval(ping);
        off();
      });
    },
  );

  app.get(
    "/v1/host",
    {
      config: { action: "host.read" },
      schema: { summary: "Host capacity, admission headroom, policy" },
    },
    async () => h.host(),
  );

  app.get(
    "/v1/tokens",
    {
      config: { action: "tokens.manage" },
      schema: { summary: "API tokens (never their secrets)" },
    },
    async () => h.tokens(),
  );

  app.post(
    "/v1/tokens",
    {
      config: { action: "tokens.manage" },
      schema: {
        summary: "Create an API token; the secret is in this reply only",
        body: {
          type: "object",
          additionalProperties: false,
          required: ["name", "role"],
          properties: {
            name: { type: "string", pattern: "^[a-zA-Z0-9_.-]{1,64}$" },
            role: { type: "string", enum: ["admin", "operator", "tenant"] },
            domain: { type: "string", pattern: "^[a-z0-9][a-z0-9_-]{0,31}$" },
          },
        },
      },
    },
    async (req, reply) =>
      reply
        .code(201)
        .send(h.createToken(req.body as { name: string; role: string; domain?: string })),
  );

  app.delete(
    "/v1/tokens/:id",
    {
      config: { action: "tokens.manage" },
      schema: {
        summary: "Revoke a token",
        params: {
          type: "object",
          required: ["id"],
          properties: { id: { type: "string", maxLength: 64 } },
        },
      },
    },
    async (req, reply) => {
      if (!h.deleteToken((req.params as { id: string }).id))
        throw new ApiError(404, "no such token");
      return reply.code(204).send();
    },
  );

  app.get(
    "/v1/audit/verify",
    { config: { action: "audit.read" }, schema: { summary: "Check the audit log's hash chain" } },
    async () => h.verifyAudit(),
  );

  app.get(
    "/metrics",
    { config: { action: "metrics.read" }, schema: { summary: "Prometheus metrics (text format)" } },
    async (_req, reply: FastifyReply) => {
      const m = await h.metrics();
      return reply.type(m.contentType).send(m.body);
    },
  );

  await app.ready();
  return app;
}
