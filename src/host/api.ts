// The daemon's REST API (/v1, JSON) on fastify: every route carries its JSON schema, which both
// validates the request (a bad body is a 400 naming the field and the reason) and writes the
// OpenAPI document at /v1/openapi.json. Every request but the document's and the web console's
// files is authenticated by a bearer token; every request is rate-limited (per token, or per
// peer without one), authorised per VM, and every change is appended to the audit log.
import Fastify, { type FastifyInstance, type FastifyRequest } from "fastify";
import swagger from "@fastify/swagger";
import websocket from "@fastify/websocket";
import rateLimit from "@fastify/rate-limit";
import { TOKEN_PATTERN, allowed, hashToken, type Action, type Caller } from "./auth.js";
import type { ImageRecord, SnapshotRecord, VmRecord } from "./store.js";
import type { ApiHost } from "./api-host.js";
import { ApiError } from "./api-error.js";
import { registerRoutes } from "./api-routes.js";
import {
  errorRef,
  errorSchema,
  imageSchema,
  nameRequestBody,
  snapshotSchema,
  vmSchema,
} from "./api-replies.js";
import { acceptJsonBodiesOnly, inputValidator, unsupportedMediaType } from "./api-input.js";
import { registerWebConsole } from "./web-console.js";
import { MAX_REQUEST_BYTES } from "../agent/agent-client.js";
import { MoatError } from "../base/moat-error.js";
import { patternWords } from "../vmm/vm-config.js";
import { DOMAIN_PATTERN } from "./vm-spec.js";

/** The API's own name patterns in words (the machine's are vm-config.ts's). */
const API_PATTERN_WORDS: Readonly<Record<string, string>> = {
  [DOMAIN_PATTERN]: "a trust domain's name: 1 to 32 of a-z 0-9 _ -, a letter or digit first",
};
import { apiAuditAction } from "./audit-actions.js";

export { ApiError };

export interface ApiOptions {
  /** Requests per second per token (and per unauthenticated peer), and the burst window. */
  rateLimit: { max: number; windowMs: number };
  /** Serve HTTPS (the TCP listener); the Unix socket is plain HTTP. */
  https?: { key: Buffer; cert: Buffer };
}

declare module "fastify" {
  interface FastifyInstance {
    /** The routes this instance serves (for the test that holds the OpenAPI document to them). */
    moatRoutes: { method: string; url: string }[];
  }
  interface FastifyRequest {
    caller?: Caller;
    /** The VM a /v1/vms/{vm} route names, looked up once by the authorisation step. */
    vm?: VmRecord;
    /** The snapshot a /v1/snapshots/{snapshot} route names, looked up the same way. */
    snapshot?: SnapshotRecord;
    /** The image a /v1/images/{image} route names, looked up the same way. */
    image?: ImageRecord;
    /** What the audit entry of this request records besides its status (agent calls). */
    auditDetail?: Record<string, unknown>;
    /** The seq of the entry that recorded this change before it was made. */
    auditIntent?: number;
    /** Why the request was refused or failed, for the daemon's log line of it. */
    failure?: string;
  }
  interface FastifyContextConfig {
    /** What the route does, for authorisation; VM routes name the VM in params.vm. */
    action?: Action;
    /**
     * Served without a token: the web console's own files (its login page among them) and the
     * OpenAPI document. Such a route has no action: it reaches nothing a token guards.
     */
    public?: boolean;
  }
}

/** The WebSocket subprotocol the API speaks (binary frames both ways). */
export const WS_PROTOCOL = "moat.v1";
/** The subprotocol prefix that carries a browser's token on a WebSocket upgrade. */
export const WS_TOKEN_PREFIX = "moat.bearer.";

/**
 * The token a WebSocket upgrade carries as a `moat.bearer.<token>` subprotocol. Bound: only on
 * an upgrade request, at most 8 offered protocols looked at.
 */
function wsProtocolToken(
  headers: Record<string, string | string[] | undefined>,
): string | undefined {
  if (String(headers.upgrade ?? "").toLowerCase() !== "websocket") return undefined;
  const offered = String(headers["sec-websocket-protocol"] ?? "").split(",", 8);
  for (const p of offered) {
    const t = p.trim();
    if (t.startsWith(WS_TOKEN_PREFIX)) return t.slice(WS_TOKEN_PREFIX.length);
  }
  return undefined;
}

function isRead(method: string): boolean {
  return method === "GET" || method === "HEAD";
}

/** What an audit entry calls a request (audit-actions.ts); a create from a snapshot is a restore. */
function auditAction(req: FastifyRequest): string {
  const restore = (req.body as { restore_from?: unknown } | undefined)?.restore_from;
  return apiAuditAction(req.method, req.routeOptions.url, restore !== undefined);
}

/**
 * The request itself in its audit entry's detail: its method and route (or URL, unrouted), and
 * the snapshot or image a route of theirs found.
 */
function auditRequest(req: FastifyRequest): {
  request: string;
  snapshot?: object;
  image?: object;
} {
  const s = req.snapshot;
  const i = req.image;
  return {
    request: `${req.method} ${req.routeOptions.url ?? req.url}`,
    ...(s ? { snapshot: { id: s.id, name: s.name, domain: s.domain } } : {}),
    ...(i ? { image: { id: i.id, name: i.name, domain: i.domain } } : {}),
  };
}

/** The VM a request named but that was not found, for its audit entry. */
function vmRef(req: FastifyRequest): { vm_ref?: string } {
  const params = req.params as { vm?: string } | undefined;
  return params?.vm !== undefined && !req.vm ? { vm_ref: params.vm } : {};
}

/** Builds the API (routes registered; not listening). */
export async function buildApi(h: ApiHost, o: ApiOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    // Closing the daemon must not wait for event streams and consoles that never end.
    forceCloseConnections: true,
    ...(o.https ? { https: o.https } : {}),
    bodyLimit: MAX_REQUEST_BYTES,
  });
  app.setValidatorCompiler(inputValidator());
  acceptJsonBodiesOnly(app);

  const routes: { method: string; url: string }[] = [];
  app.decorate("moatRoutes", routes);
  // The error reply, once: components.schemas.Error in the document, referenced by each route.
  app.addSchema(errorSchema);
  app.addSchema(vmSchema);
  app.addSchema(snapshotSchema);
  app.addSchema(imageSchema);
  app.addHook("onRoute", (r) => {
    for (const m of [r.method].flat()) routes.push({ method: m, url: r.url });
    // Every route may answer with these (a public one, with no token to check and nothing
    // to change, only with the rate limit's); the document says so.
    const limited = { 429: { description: "rate limit", ...errorRef } };
    const errors = r.config?.public
      ? limited
      : {
          400: { description: "bad request: the field and the reason", ...errorRef },
          401: { description: "no valid token", ...errorRef },
          403: { description: "not allowed for this caller", ...errorRef },
          404: { description: "no such VM or token", ...errorRef },
          409: { description: "refused in this state, or by admission control", ...errorRef },
          415: { description: "a body that is not JSON", ...errorRef },
          422: { description: "the VM as defined cannot start: the VMM's reason", ...errorRef },
          ...limited,
          503: { description: "the audit log cannot record the change: not made", ...errorRef },
        };
    r.schema = {
      ...r.schema,
      response: { ...errors, ...(r.schema?.response as object | undefined) },
    };
  });
  await app.register(swagger, {
    openapi: {
      // 3.1: its schemas are JSON Schema 2020-12, the dialect the routes' schemas are written in
      // (propertyNames, a numeric exclusiveMinimum), so they are shown as they validate.
      openapi: "3.1.0",
      info: {
        title: "moat host API",
        version: "1",
        description:
          "Manage the VMs of one moat host. Authenticate with `Authorization: Bearer <token>` " +
          "(every operation but this document's).",
      },
      components: {
        securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
      },
      security: [{ bearer: [] }],
    },
    // A create's body as components.schemas.VmSpec (docs/vm-config.md names it so).
    transformObject: (d) => {
      if (!("openapiObject" in d)) throw new Error("@fastify/swagger made Swagger 2, not OpenAPI");
      return nameRequestBody(d.openapiObject, "/v1/vms", "post", "VmSpec");
    },
    // Shared schemas (Error) under their own names in components.schemas, not def-N.
    refResolver: { buildLocalReference: (json, _base, _frag, i) => String(json.$id ?? `def-${i}`) },
  });
  await app.register(websocket, {
    options: {
      maxPayload: 64 * 1024,
      // A browser cannot set Authorization on a WebSocket: it offers its token as a
      // subprotocol (below) beside "moat.v1", which is the one chosen. A client that offers
      // protocols but not moat.v1 gets none, and its browser drops the connection.
      handleProtocols: (offered: Set<string>) => (offered.has(WS_PROTOCOL) ? WS_PROTOCOL : false),
    },
  });
  // @fastify/websocket hides its routes from the OpenAPI document; the console is part of the
  // API and is documented like the rest.
  app.addHook("onRoute", (r) => {
    if (r.websocket && r.schema) r.schema.hide = false;
  });

  // A refusal's reason, as its reply says it, for the daemon's log line of the request (whoever
  // answered: the error handler, authentication, authorisation or the rate limit).
  app.addHook("onSend", async (req, reply, payload) => {
    if (reply.statusCode >= 400 && req.failure === undefined && typeof payload === "string") {
      try {
        const error = (JSON.parse(payload) as { error?: unknown }).error;
        if (typeof error === "string") req.failure = error;
      } catch {
        // Not JSON: the status says it.
      }
    }
    return payload;
  });

  // Every answer, refusals included, counted by route pattern; a URL no route matches is one
  // label value, so a scanner cannot grow the series.
  app.addHook("onResponse", async (req, reply) => {
    h.countRequest(req.method, req.routeOptions.url ?? "unmatched", reply.statusCode);
    const c = req.caller;
    h.logRequest({
      method: req.method,
      route: req.routeOptions.url ?? "unmatched",
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 10) / 10,
      ...(c
        ? { caller: { name: c.name, role: c.role, ...(c.domain ? { domain: c.domain } : {}) } }
        : {}),
      ...(req.vm ? { vm: req.vm.name } : {}),
      ...(req.failure !== undefined ? { error: req.failure } : {}),
    });
  });

  // Authentication first: nothing else runs for a caller without a valid token.
  app.addHook("onRequest", async (req, reply) => {
    if (req.routeOptions.config.public) return;
    // The scheme's name is case-insensitive (RFC 9110, 11.1).
    const m = /^Bearer +(\S+)$/i.exec(req.headers.authorization ?? "");
    const token = m?.[1] ?? wsProtocolToken(req.headers);
    const caller = token && TOKEN_PATTERN.test(token) ? h.caller(hashToken(token)) : undefined;
    if (!caller) {
      h.authFailed(req.ip || "unix");
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
    const params = req.params as { vm?: string; snapshot?: string; image?: string };
    // A tenant's refs are looked up in its own domain: another's VMs, snapshots and images do
    // not exist for it. Admins and operators may learn that one does not exist; tenants nothing.
    const mine = caller.role === "tenant" ? (caller.domain ?? "") : undefined;
    const missing = async (what: string): Promise<typeof reply> => {
      const code = caller.role === "tenant" ? 403 : 404;
      await reply.code(code).send({ error: code === 404 ? `no ${what}` : "forbidden" });
      return reply;
    };
    let domain: string | undefined;
    if (params.image !== undefined) {
      const img = h.image(params.image, mine);
      if (!img) return missing(`image '${params.image}'`);
      req.image = img;
      domain = img.domain;
    } else if (params.snapshot !== undefined) {
      const snap = h.snapshot(params.snapshot, mine);
      if (!snap) return missing(`snapshot '${params.snapshot}'`);
      req.snapshot = snap;
      domain = snap.domain;
    } else if (params.vm !== undefined) {
      const vm = h.vm(params.vm, mine);
      if (!vm) return missing(`VM '${params.vm}'`);
      req.vm = vm;
      domain = vm.domain;
    } else if (action === "vm.create") {
      domain = (req.body as { domain?: string } | undefined)?.domain ?? caller.domain ?? "default";
    }
    if (!allowed(caller, action, domain)) {
      await reply.code(403).send({ error: "forbidden" });
      return reply;
    }
  });

  // A change is recorded before it is made, and not made if it cannot be (docs/host.md).
  app.addHook("preHandler", async (req, reply) => {
    if (isRead(req.method)) return;
    try {
      const named = (req.body as { name?: unknown } | undefined)?.name;
      req.auditIntent = h.auditIntent(req.caller!, auditAction(req), req.vm ?? null, {
        ...auditRequest(req),
        ...vmRef(req),
        // What a create names, so an intent with no outcome after it still says what it was.
        ...(typeof named === "string" ? { name: named } : {}),
      });
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      await reply.code(e.statusCode).send({ error: e.message });
      return reply;
    }
  });

  // Every change, allowed or not, goes to the audit log with its outcome: before the reply
  // goes out, so a caller that has its answer finds it on record.
  app.addHook("onSend", async (req, reply, payload) => {
    // Reads are not audited, but a guest-agent call is, whatever its method.
    if (reply.statusCode === 401) return payload;
    if (isRead(req.method) && !req.auditDetail) return payload;
    try {
      // The VM as it was found for this request (still named after a delete).
      h.audit(req.caller ?? null, auditAction(req), req.vm ?? null, reply.statusCode < 400, {
        ...auditRequest(req),
        status: reply.statusCode,
        ...(req.auditIntent !== undefined ? { intent_seq: req.auditIntent } : {}),
        ...vmRef(req),
        ...req.auditDetail,
      });
    } catch {
      // The daemon said so on stderr; the change (if any) is on record as an intent.
    }
    return payload;
  });

  app.setErrorHandler(
    async (
      err: Error & {
        validation?: unknown[];
        validationContext?: string;
        statusCode?: number;
        code?: unknown;
      },
      req,
      reply,
    ) => {
      if (err.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE")
        err = unsupportedMediaType(req.headers["content-type"]);
      if (err.validation) {
        const v = err.validation[0] as {
          instancePath?: string;
          message?: string;
          params?: Record<string, unknown>;
        };
        let field = (v.instancePath ?? "").replace(/^\//, "").replace(/\//g, ".");
        const missing = v.params?.missingProperty ?? v.params?.additionalProperty;
        if (typeof missing === "string") field = field ? `${field}.${missing}` : missing;
        const allowed = v.params?.allowedValues;
        const pattern = v.params?.pattern;
        const reason =
          v.params?.additionalProperty !== undefined
            ? "is not a known field"
            : v.params?.missingProperty !== undefined
              ? "is required"
              : Array.isArray(allowed)
                ? `must be one of ${allowed.map(String).join(", ")}`
                : typeof pattern === "string"
                  ? `must be ${API_PATTERN_WORDS[pattern] ?? patternWords(pattern)}`
                  : (v.message ?? "is invalid");
        const where = err.validationContext ?? "body";
        return reply.code(400).send({ error: `${where}: ${field || "(root)"} ${reason}`, field });
      }
      // moat's own errors answer with their kind's status (base/moat-error.ts), mapped here once.
      if (err instanceof MoatError) err = ApiError.of(err);
      if (err instanceof ApiError)
        return reply
          .code(err.statusCode)
          .send({ error: err.message, ...(err.field ? { field: err.field } : {}) });
      if (err.code === "SQLITE_FULL")
        return reply.code(503).send({
          error: `the daemon's home is full: ${err.message}`,
        });
      const code = err.statusCode ?? 500;
      if (code >= 500) {
        req.failure = err.message;
        return reply.code(500).send({ error: `internal error: ${err.message}` });
      }
      return reply.code(code).send({ error: err.message });
    },
  );

  registerRoutes(app, h);
  registerWebConsole(app);

  await app.ready();
  return app;
}
