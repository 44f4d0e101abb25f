// The web console's files, served by the API without a token (the page asks for one and sends it
// with every API call and WebSocket it makes): the page, its scripts and style, and the two
// browser libraries it uses, xterm.js (serial console) and noVNC (display), from node_modules.
// Only files named here or under noVNC's module folders are served, read once and kept.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyReply } from "fastify";

/** The repository (or installed package) root: this file is dist/src/host/web-console.js. */
const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const require = createRequire(import.meta.url);
const XTERM = dirname(require.resolve("@xterm/xterm/package.json"));
/** noVNC exports only core/rfb.js; its package root is two folders up. */
const NOVNC = dirname(dirname(require.resolve("@novnc/novnc")));

/** The page's own modules, compiled from web/*.ts into dist/web/. */
export const WEB_CONSOLE_MODULES = [
  "app.js",
  "http.js",
  "create-form.js",
  "vm-dialogs.js",
  "graphs.js",
] as const;

const FILES: Record<string, string> = {
  "": join(ROOT, "web/index.html"),
  "console.css": join(ROOT, "web/console.css"),
  ...Object.fromEntries(WEB_CONSOLE_MODULES.map((m) => [m, join(ROOT, "dist/web", m)])),
  "xterm/xterm.mjs": join(XTERM, "lib/xterm.mjs"),
  "xterm/xterm.css": join(XTERM, "css/xterm.css"),
};

/** Files read once for every listener (the Unix socket's and the TLS one's). */
const cache = new Map<string, Buffer>();

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  css: "text/css; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
};

/**
 * What the page may do: its own scripts only (no inline script, nothing from elsewhere), API
 * calls and WebSockets to this origin, no framing (clickjacking), no forms sent elsewhere.
 * Inline styles are allowed because xterm.js sets its theme in a <style> element.
 */
export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
  "img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; " +
  "form-action 'self'; object-src 'none'";

/**
 * The file for `/console/<name>`, or undefined. Bound: names from FILES, or noVNC's `core/` and
 * `vendor/` modules matched by a fixed pattern and checked to stay inside noVNC's folder.
 */
export function webConsoleFile(name: string): string | undefined {
  if (Object.hasOwn(FILES, name)) return FILES[name];
  const m = /^novnc\/((?:core|vendor)\/[A-Za-z0-9_\-/.]{1,120}\.js)$/.exec(name);
  if (!m || m[1]!.includes("..")) return undefined;
  const file = resolve(NOVNC, m[1]!);
  return file.startsWith(NOVNC + sep) ? file : undefined;
}

/** Adds GET / (to the console), /console/ and its files to `app`. */
export function registerWebConsole(app: FastifyInstance): void {
  const send = (reply: FastifyReply, name: string) => {
    const file = webConsoleFile(name);
    let body = file === undefined ? undefined : cache.get(file);
    if (file !== undefined && body === undefined) {
      try {
        body = readFileSync(file);
        cache.set(file, body);
      } catch {
        body = undefined;
      }
    }
    if (file === undefined || body === undefined)
      return reply.code(404).type("text/plain").send("not found\n");
    const ext = /\.([a-z]+)$/.exec(file)?.[1] ?? "";
    return reply
      .type(TYPES[ext] ?? "application/octet-stream")
      .header("content-security-policy", CONTENT_SECURITY_POLICY)
      .header("x-content-type-options", "nosniff")
      .header("referrer-policy", "no-referrer")
      .header("cache-control", "no-cache")
      .send(body);
  };
  const config = { public: true, rateLimit: false } as const;
  const schema = { hide: true };
  app.get("/", { config, schema }, async (_req, reply) => reply.redirect("/console/"));
  app.get("/console", { config, schema }, async (_req, reply) => reply.redirect("/console/"));
  app.get("/console/", { config, schema }, async (_req, reply) => send(reply, ""));
  app.get("/console/*", { config, schema }, async (req, reply) =>
    send(reply, (req.params as { "*": string })["*"]),
  );
}
