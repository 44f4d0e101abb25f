// The API's routes and their schemas. Each route's JSON schema validates the request and
// documents it in /v1/openapi.json; `config.action` is what authorisation checks (api.ts).
import { AGENT_COMMAND_NAMES } from "../agent/agent-commands.js";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { ApiError } from "./api-error.js";
import { bridgeToSocket } from "./ws-bridge.js";
import type { WebSocket } from "ws";
import type { ApiHost } from "./api-host.js";
import { DOMAIN_PATTERN, NAME_PATTERN, VM_STATES, vmSpecSchema } from "./vm-spec.js";
import * as replies from "./api-replies.js";
import { STOP_GRACE_MAX_S } from "./config.js";
import type { VmRecord } from "./store.js";
import { RESTORE_FIELDS, snapshotView } from "./snapshot-ops.js";
import { imageView, type ImportBody } from "./image-ops.js";
import { ABSOLUTE_PATH } from "../vmm/vm-config.js";

const vmParams = {
  type: "object",
  required: ["vm"],
  properties: { vm: { type: "string", minLength: 1, maxLength: 64, description: "id or name" } },
} as const;

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
    restored_from: vm.restoredFrom,
    created_at: vm.createdAt,
  };
}

/** A create's body: a VmSpec, or (restore_from) a name and policies with a snapshot's machine. */
const createBody = {
  ...vmSpecSchema,
  properties: {
    ...vmSpecSchema.properties,
    restore_from: {
      type: "string",
      minLength: 1,
      maxLength: 64,
      description:
        "a snapshot (its id or name) of the VM's trust domain: the VM's machine is the " +
        "snapshot's, and it starts from it instead of booting; only name, domain, labels, " +
        "restart and cpu go with it",
    },
  },
} as const;

/**
 * A restore's body names no machine field: the machine is the snapshot's (as `moat run
 * --restore` refuses machine flags). Looked at before the schema fills in defaults.
 */
function refuseMachineFields(body: unknown): void {
  const b = body as Record<string, unknown> | null;
  if (!b || typeof b !== "object" || b.restore_from === undefined) return;
  const field = Object.keys(b).find((k) => !RESTORE_FIELDS.includes(k));
  if (field !== undefined)
    throw new ApiError(
      400,
      `${field}: a VM restored from a snapshot has the snapshot's machine; only ${RESTORE_FIELDS.join(", ")} may be given`,
      field,
    );
}

const snapshotParams = {
  type: "object",
  required: ["snapshot"],
  properties: {
    snapshot: { type: "string", minLength: 1, maxLength: 64, description: "id or name" },
  },
} as const;

const imageParams = {
  type: "object",
  required: ["image"],
  properties: {
    image: { type: "string", minLength: 1, maxLength: 64, description: "id or name" },
  },
} as const;

/** The image routes (docs/disks.md "Images through the daemon"). */
function registerImageRoutes(app: FastifyInstance, h: ApiHost): void {
  app.post(
    "/v1/images",
    {
      // Made in a trust domain as a VM is: a tenant in its own only.
      config: { action: "vm.create" },
      schema: {
        summary:
          "Import a host file (raw or qcow2, checked) into the daemon's image store for a " +
          "trust domain: copied, so later changes to the file do not reach it",
        operationId: "importImage",
        body: {
          type: "object",
          additionalProperties: false,
          required: ["path", "name"],
          properties: {
            path: {
              ...ABSOLUTE_PATH,
              description: "a file in the image directories the caller may use",
            },
            name: {
              type: "string",
              pattern: NAME_PATTERN,
              description: "unique in its trust domain",
            },
            domain: {
              type: "string",
              pattern: DOMAIN_PATTERN,
              description: "its trust domain; default: the caller's, or 'default'",
            },
            format: {
              type: "string",
              enum: ["raw", "qcow2"],
              description:
                "raw: taken as raw without looking; absent: found from its first sector " +
                "(qcow2 or raw; another format is refused with the command that converts it)",
            },
          },
        },
        response: { 201: replies.imageView },
      },
    },
    async (req, reply) => {
      const i = await h.importImage(req.body as ImportBody, req.caller!);
      req.auditDetail = { image: { id: i.id, name: i.name, domain: i.domain, bytes: i.bytes } };
      return reply.code(201).send(imageView(i));
    },
  );

  app.get(
    "/v1/images",
    {
      config: { action: "vm.list" },
      schema: {
        summary: "List images (a tenant sees its own domain's)",
        operationId: "listImages",
        response: { 200: { type: "array", description: "the images", items: replies.imageView } },
      },
    },
    async (req) => h.listImages(req.caller!).map((i) => imageView(i)),
  );

  app.get(
    "/v1/images/:image",
    {
      config: { action: "vm.read" },
      schema: {
        summary: "One image, with the VMs that have overlays on it",
        operationId: "getImage",
        params: imageParams,
        response: { 200: replies.imageView },
      },
    },
    async (req) => imageView(req.image!, h.imageUsers(req.image!)),
  );

  app.delete(
    "/v1/images/:image",
    {
      config: { action: "vm.change" },
      schema: {
        summary: "Delete an image no VM has an overlay on",
        operationId: "deleteImage",
        params: imageParams,
        response: { 204: { type: "null", description: "deleted" } },
      },
    },
    async (req, reply) => {
      h.deleteImage(req.image!);
      return reply.code(204).send();
    },
  );
}

/** Adds every route to `app`. */
export function registerRoutes(app: FastifyInstance, h: ApiHost): void {
  registerImageRoutes(app, h);
  // Found (and authorised) in the preHandler: a VM route never runs without it.
  const vmOf = (req: FastifyRequest): VmRecord => req.vm!;

  /**
   * Joins a WebSocket to one of a running VM's sockets: the attach audited, the stream held
   * under the caller's token (revoking it closes the stream), refused with 4409 and the reason
   * when the VM is not running or `refuse` names one, and with 4503 when the audit log cannot
   * record it.
   */
  const attach = (
    ws: WebSocket,
    req: FastifyRequest,
    kind: "console" | "vnc",
    socketOf: (vm: VmRecord) => string,
    refuse?: (vm: VmRecord) => string | undefined,
  ): void => {
    const vm = vmOf(req);
    try {
      h.audit(req.caller!, `vm.${kind}.attach`, vm, true);
    } catch {
      // Not on record, so not attached (the daemon says why on stderr).
      ws.close(4503, "the audit log cannot record this attach");
      return;
    }
    const why =
      refuse?.(vm) ??
      (vm.state !== "running" && vm.state !== "paused" ? `VM is ${vm.state}` : undefined);
    if (why !== undefined) {
      ws.close(4409, why);
      return;
    }
    ws.on(
      "close",
      h.holdStream(req.caller!, () => ws.close(4401, "token revoked or expired")),
    );
    bridgeToSocket(ws, socketOf(vm), h.vmPeer(vm), kind === "vnc" ? "display" : "console");
  };

  app.get(
    "/v1/openapi.json",
    {
      // Readable without a token: what a client needs before it has one (api.ts skips
      // authentication for public routes, and only for them).
      config: { public: true },
      schema: {
        hide: false,
        tags: ["meta"],
        summary: "This document (no token needed)",
        operationId: "getOpenApi",
        security: [],
        response: { 200: replies.openApiReply },
      },
    },
    async () => app.swagger(),
  );

  app.get(
    "/v1/vms",
    {
      config: { action: "vm.list" },
      schema: {
        summary: "List VMs (a tenant sees its own domain's)",
        operationId: "listVms",
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: {
            label: { type: "string", maxLength: 320, description: "key=value filter" },
            state: { type: "string", enum: [...VM_STATES] },
          },
        },
        response: { 200: { type: "array", description: "the VMs", items: replies.vmView } },
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
        operationId: "createVm",
        body: createBody,
        response: { 201: replies.vmView },
      },
      preValidation: async (req) => refuseMachineFields(req.body),
    },
    async (req, reply) => {
      const vm = h.createVm(req.body as Record<string, unknown>, req.caller!);
      req.vm = vm; // its audit entry names the VM made
      if (vm.restoredFrom !== null) req.auditDetail = { restored_from: vm.restoredFrom };
      return reply.code(201).send(vmView_(vm));
    },
  );

  app.post(
    "/v1/vms/:vm/snapshot",
    {
      config: { action: "vm.change" },
      schema: {
        summary:
          "Snapshot a running or paused VM into the daemon's store (paused for it, resumed " +
          "after; stop: stopped after instead)",
        operationId: "snapshotVm",
        params: vmParams,
        body: {
          type: "object",
          additionalProperties: false,
          required: ["name"],
          properties: {
            name: {
              type: "string",
              pattern: NAME_PATTERN,
              description: "unique in its trust domain",
            },
            stop: { type: "boolean", default: false },
          },
        },
        response: { 201: replies.snapshotView },
      },
    },
    async (req, reply) => {
      const b = req.body as { name: string; stop: boolean };
      const s = await h.snapshotVm(vmOf(req), b.name, b.stop);
      req.auditDetail = { snapshot: { id: s.id, name: s.name, bytes: s.bytes } };
      return reply.code(201).send(snapshotView(s));
    },
  );

  app.get(
    "/v1/snapshots",
    {
      config: { action: "vm.list" },
      schema: {
        summary: "List snapshots (a tenant sees its own domain's)",
        operationId: "listSnapshots",
        response: {
          200: { type: "array", description: "the snapshots", items: replies.snapshotView },
        },
      },
    },
    async (req) => h.listSnapshots(req.caller!).map(snapshotView),
  );

  app.delete(
    "/v1/snapshots/:snapshot",
    {
      config: { action: "vm.change" },
      schema: {
        summary: "Delete a snapshot no VM is restored from",
        operationId: "deleteSnapshot",
        params: snapshotParams,
        response: { 204: { type: "null", description: "deleted" } },
      },
    },
    async (req, reply) => {
      h.deleteSnapshot(req.snapshot!);
      return reply.code(204).send();
    },
  );

  app.get(
    "/v1/vms/:vm",
    {
      config: { action: "vm.read" },
      schema: {
        summary: "One VM",
        operationId: "getVm",
        params: vmParams,
        response: { 200: replies.vmView },
      },
    },
    async (req) => vmView_(vmOf(req)),
  );

  app.delete(
    "/v1/vms/:vm",
    {
      config: { action: "vm.change" },
      schema: {
        summary: "Delete a VM (force: kill it first if it runs)",
        operationId: "deleteVm",
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

  const summaries = {
    start: "Start a VM",
    stop:
      "Stop a VM: the guest is asked to shut down (its agent, or the power button) and has " +
      "the grace time (timeout, seconds; default the daemon's stopGraceMs) to power off, " +
      "then it is powered off",
    kill: "Kill a VM at once (SIGKILL to its process): a hard power-off",
    pause: "Pause a VM",
    resume: "Resume a VM",
  };
  for (const op of ["start", "stop", "kill", "pause", "resume"] as const) {
    app.post(
      `/v1/vms/:vm/${op}`,
      {
        config: { action: "vm.change" },
        schema: {
          summary: summaries[op],
          operationId: `${op}Vm`,
          params: vmParams,
          ...(op === "stop"
            ? {
                querystring: {
                  type: "object",
                  additionalProperties: false,
                  properties: {
                    timeout: { type: "integer", minimum: 0, maximum: STOP_GRACE_MAX_S },
                  },
                },
              }
            : {}),
          response: { 200: replies.vmView },
        },
      },
      async (req) =>
        vmView_(
          await h.lifecycle(
            vmOf(req),
            op,
            (req.query as { timeout?: number } | undefined)?.timeout,
          ),
        ),
    );
  }

  app.put(
    "/v1/vms/:vm/balloon",
    {
      config: { action: "vm.change" },
      schema: {
        summary: "Set the balloon target (MiB taken from the guest)",
        operationId: "setBalloon",
        params: vmParams,
        body: {
          type: "object",
          additionalProperties: false,
          required: ["target_mib"],
          properties: { target_mib: { type: "integer", minimum: 0, maximum: 4000 } },
        },
        response: { 200: replies.balloonReply },
      },
    },
    async (req) => h.setBalloon(vmOf(req), (req.body as { target_mib: number }).target_mib),
  );

  app.get(
    "/v1/vms/:vm/guest",
    {
      config: { action: "vm.agent" },
      schema: {
        summary: "What the guest agent reports (informational: the guest's word, never trusted)",
        operationId: "getGuestInfo",
        params: vmParams,
        response: { 200: replies.guestReply },
      },
    },
    async (req) => h.guestInfo(vmOf(req), (d) => (req.auditDetail = d)),
  );

  app.post(
    "/v1/vms/:vm/agent",
    {
      config: { action: "vm.agent" },
      schema: {
        summary:
          "Run one guest-agent command the VM's policy allows (audited); exec runs argv and " +
          "waits for it (stdout/stderr base64)",
        operationId: "runAgentCommand",
        params: vmParams,
        body: {
          type: "object",
          additionalProperties: false,
          required: ["command"],
          properties: {
            command: { type: "string", enum: AGENT_COMMAND_NAMES },
            arguments: { type: "object", maxProperties: 16 },
            timeout_ms: { type: "integer", minimum: 100, maximum: 600_000, default: 10_000 },
          },
        },
        response: { 200: replies.agentReply },
      },
    },
    async (req) => {
      const b = req.body as {
        command: string;
        arguments?: Record<string, unknown>;
        timeout_ms: number;
      };
      return h.agentCall(
        vmOf(req),
        b.command,
        b.arguments,
        b.timeout_ms,
        (d) => (req.auditDetail = d),
      );
    },
  );

  app.get(
    "/v1/vms/:vm/stats",
    {
      config: { action: "vm.read" },
      schema: {
        summary: "Live figures: CPU time, RSS, balloon, device counters",
        operationId: "getVmStats",
        params: vmParams,
        response: { 200: replies.statsReply },
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
        operationId: "getVmLogs",
        params: vmParams,
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: { bytes: { type: "integer", minimum: 1, maximum: LOGS_MAX, default: 65536 } },
        },
        response: {
          200: replies.media("the console's last bytes", "text/plain", { type: "string" }),
        },
      },
    },
    async (req, reply) =>
      reply
        .type("text/plain; charset=utf-8")
        .send(h.logs(vmOf(req), (req.query as { bytes: number }).bytes)),
  );

  app.get(
    "/v1/vms/:vm/screenshot",
    {
      config: { action: "vm.console" },
      schema: {
        summary: "What the VM's display shows, as a PNG",
        operationId: "getScreenshot",
        params: vmParams,
        response: {
          200: replies.media("the screen", "image/png", {
            type: "string",
            contentMediaType: "image/png",
          }),
        },
      },
    },
    async (req, reply) => reply.type("image/png").send(await h.screenshot(vmOf(req))),
  );

  app.get(
    "/v1/vms/:vm/console",
    {
      websocket: true,
      config: { action: "vm.console" },
      schema: {
        summary: "Attach to the serial console (WebSocket; binary frames both ways)",
        operationId: "attachConsole",
        params: vmParams,
        response: { 101: replies.upgraded },
      },
    },
    (ws, req) => attach(ws, req, "console", (vm) => h.consolePath(vm)),
  );

  app.get(
    "/v1/vms/:vm/vnc",
    {
      websocket: true,
      config: { action: "vm.console" },
      schema: {
        summary:
          "The display over VNC (RFB 3.8 in binary WebSocket frames, as noVNC speaks it; " +
          "security type None: the API token is the authentication)",
        operationId: "attachVnc",
        params: vmParams,
        response: { 101: replies.upgraded },
      },
    },
    (ws, req) =>
      attach(
        ws,
        req,
        "vnc",
        (vm) => h.vncPath(vm),
        (vm) => (vm.spec.display ? undefined : `VM '${vm.name}' has no display`),
      ),
  );

  app.get(
    "/v1/events",
    {
      config: { action: "events.read" },
      schema: {
        summary: "VM state changes as server-sent events (a tenant sees its own domain's)",
        operationId: "streamEvents",
        response: {
          200: replies.media("events until the client closes", "text/event-stream", {
            type: "string",
          }),
        },
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
      const release = h.holdStream(c, () => raw.end());
      req.raw.on("close", () => {
        clearInterval(ping);
        off();
        release();
      });
    },
  );

  app.get(
    "/v1/host",
    {
      config: { action: "host.read" },
      schema: {
        summary: "Host capacity, admission headroom, policy",
        operationId: "getHost",
        response: { 200: replies.hostReply },
      },
    },
    async () => h.host(),
  );

  app.get(
    "/v1/tokens",
    {
      config: { action: "tokens.manage" },
      schema: {
        summary: "API tokens (never their secrets)",
        operationId: "listTokens",
        response: { 200: replies.tokenList },
      },
    },
    async () => h.tokens(),
  );

  app.post(
    "/v1/tokens",
    {
      config: { action: "tokens.manage" },
      schema: {
        summary: "Create an API token; the secret is in this reply only",
        operationId: "createToken",
        body: {
          type: "object",
          additionalProperties: false,
          required: ["name", "role"],
          properties: {
            name: { type: "string", pattern: "^[a-zA-Z0-9_.-]{1,64}$" },
            role: { type: "string", enum: ["admin", "operator", "tenant"] },
            domain: { type: "string", pattern: DOMAIN_PATTERN },
            expires_in_s: {
              type: "integer",
              minimum: 1,
              maximum: 31_536_000,
              description: "seconds until the token stops working (up to a year); default never",
            },
          },
        },
        response: { 201: replies.newToken },
      },
    },
    async (req, reply) =>
      reply.code(201).send(h.createToken(req.body as Parameters<ApiHost["createToken"]>[0])),
  );

  app.delete(
    "/v1/tokens/:id",
    {
      config: { action: "tokens.manage" },
      schema: {
        summary: "Revoke a token",
        operationId: "deleteToken",
        params: {
          type: "object",
          required: ["id"],
          properties: { id: { type: "string", maxLength: 64 } },
        },
        response: { 204: { type: "null", description: "revoked" } },
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
    {
      config: { action: "audit.read" },
      schema: {
        summary: "Check the audit log's hash chain",
        operationId: "verifyAudit",
        response: { 200: replies.auditReply },
      },
    },
    async () => h.verifyAudit(),
  );

  app.get(
    "/metrics",
    {
      config: { action: "metrics.read" },
      schema: {
        summary: "Prometheus metrics (text format)",
        operationId: "getMetrics",
        response: {
          200: replies.media("Prometheus text format", "text/plain", { type: "string" }),
        },
      },
    },
    async (_req, reply: FastifyReply) => {
      const m = await h.metrics();
      return reply.type(m.contentType).send(m.body);
    },
  );
}
