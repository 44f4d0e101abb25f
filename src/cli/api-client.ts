// The CLI's client for the daemon's API: HTTP over the Unix socket, a bearer token from
// MOAT_TOKEN or the admin token file that only root can read.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type WebSocket from "ws";
import createClient, { type Client } from "openapi-fetch";
import type { components, paths } from "./api-types.js";
import { unixFetch } from "./unix-fetch.js";
import { DEFAULT_HOME } from "../host/config.js";
import { ApiClientError } from "./api-client-error.js";

export { ApiClientError };

export interface Connection {
  socket: string;
  token: string;
}

/**
 * Where the daemon is and who we are: --socket / MOAT_SOCKET; the token from --token-file, else
 * MOAT_TOKEN, else the file MOAT_TOKEN_FILE names, else the admin token (a flag given beats
 * the environment).
 */
export function connection(o: { socket?: string; tokenFile?: string } = {}): Connection {
  const home = process.env.MOAT_HOME ?? DEFAULT_HOME;
  const socket = o.socket ?? defaultSocket();
  let token = o.tokenFile === undefined ? process.env.MOAT_TOKEN : undefined;
  const file = o.tokenFile ?? process.env.MOAT_TOKEN_FILE ?? `${home}/admin.token`;
  if (!token) {
    try {
      token = readFileSync(file, "utf8").trim();
    } catch (e) {
      throw new ApiClientError(
        `no API token: set MOAT_TOKEN or MOAT_TOKEN_FILE, or --token-file, or run as root so ${file} is readable ` +
          `(${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); a daemon with ` +
          "another --home: set MOAT_HOME to it (or --socket and --token-file)",
      );
    }
  }
  return { socket, token };
}

/** The daemon's socket when none is given: MOAT_SOCKET, else MOAT_HOME's moat.sock. */
export function defaultSocket(): string {
  return process.env.MOAT_SOCKET ?? `${process.env.MOAT_HOME ?? DEFAULT_HOME}/moat.sock`;
}

/** The CLI's typed client: one method per path of the API document (api-types.ts). */
export type Api = Client<paths>;

/** A VM as the API answers (components.schemas.Vm). */
export type Vm = components["schemas"]["Vm"];

/** The generated client for the daemon `c` names; a call's failure to connect is an ApiClientError. */
export function apiClient(c: Connection): Api {
  return createClient<paths>({
    baseUrl: "http://moat",
    fetch: unixFetch(c.socket, (e) => unreachable(c, e)),
    headers: { authorization: `Bearer ${c.token}` },
  });
}

/**
 * A call's reply, or its refusal as an ApiClientError with the API's words (and the field at
 * fault, when the API names one).
 */
export async function ok<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  const { data, error, response } = await call;
  if (response.ok) return data as T;
  const e = typeof error === "object" && error !== null ? (error as Record<string, unknown>) : {};
  const text = typeof error === "string" && error ? error : `HTTP ${response.status}`;
  throw new ApiClientError(
    typeof e.error === "string" ? e.error : text,
    response.status,
    typeof e.field === "string" ? e.field : undefined,
  );
}

/**
 * Any API call by method and path (the SDK's escape hatch; the CLI uses apiClient): resolves to
 * the parsed JSON (or text, or an image's bytes), rejects with the API's error.
 */
export async function request(
  c: Connection,
  method: string,
  path: string,
  body?: unknown,
): Promise<unknown> {
  const res = await unixFetch(c.socket, (e) => unreachable(c, e))(
    new Request(`http://moat${path}`, {
      method,
      headers: {
        authorization: `Bearer ${c.token}`,
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    }),
  );
  const type = res.headers.get("content-type") ?? "";
  if (type.startsWith("image/") && res.ok) return Buffer.from(await res.arrayBuffer());
  const text = await res.text();
  let parsed: unknown = text;
  if (type.includes("json") && text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      // Leave it as text.
    }
  }
  if (res.ok) return res.status === 204 ? undefined : parsed;
  return ok(Promise.resolve({ error: parsed, response: res }));
}

/** Why the daemon could not be reached, in the user's words. */
function unreachable(c: Connection, e: NodeJS.ErrnoException): ApiClientError {
  return new ApiClientError(
    e.code === "ENOENT" || e.code === "ECONNREFUSED"
      ? `no moat daemon at ${c.socket} (start one with 'moat daemon')`
      : e.code === "EACCES"
        ? `${c.socket}: permission denied (be root or in the group 'moat')`
        : e.message,
  );
}

/**
 * A GET whose answer streams (server-sent events): `onData` gets each chunk as it comes;
 * resolves when the daemon ends the stream or `signal` aborts it, rejects with the API's error.
 */
export async function stream(
  c: Connection,
  path: string,
  onData: (chunk: string) => void,
  signal: AbortSignal,
): Promise<void> {
  const get = unixFetch(c.socket, (e) => unreachable(c, e));
  try {
    const res = await get(
      new Request(`http://moat${path}`, {
        headers: { authorization: `Bearer ${c.token}` },
        signal,
      }),
    );
    if (!res.ok) {
      const text = await res.text();
      let error: unknown = text;
      try {
        error = JSON.parse(text);
      } catch {
        // Not JSON: the text as it is.
      }
      await ok(Promise.resolve({ error, response: res }));
    }
    const text = new TextDecoder();
    try {
      for await (const chunk of res.body ?? []) onData(text.decode(chunk, { stream: true }));
    } catch {
      // The daemon went away mid-stream: the stream has ended.
    }
  } catch (e) {
    if (!signal.aborted) throw e;
  }
}

/** Opens the console WebSocket of a VM. */
export function openConsole(c: Connection, vm: string): WebSocket {
  // Loaded for the commands that attach only: ws is some 20 modules every command would read.
  const WebSocketClient = createRequire(import.meta.url)("ws") as typeof WebSocket;
  return new WebSocketClient(`ws+unix://${c.socket}:/v1/vms/${encodeURIComponent(vm)}/console`, {
    headers: { authorization: `Bearer ${c.token}` },
  });
}
