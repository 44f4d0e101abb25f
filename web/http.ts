// The page's calls to the API: the token (kept in this tab's sessionStorage only) goes in the
// Authorization header; an error reply's words ({error, field}) reach the caller as an ApiError.
// And what every module of the page shares: the VM's view, its elements by id.

/** What the page reads of a VM (GET /v1/vms). */
export interface Vm {
  id: string;
  name: string;
  domain: string;
  state: string;
  spec: {
    accel: string;
    cpus: number;
    memory_mib: number;
    disks: { path: string; read_only: boolean }[];
    display?: { width: number; height: number };
  };
}

/** The page's element `#id` (one the page must have). */
export const $ = <T extends HTMLElement>(id: string): T => {
  const e = document.getElementById(id);
  if (!e) throw new Error(`the page has no #${id}`);
  return e as T;
};

const TOKEN_KEY = "moat.token";
const WS_PROTOCOL = "moat.v1";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** The request field at fault, as the API names it (e.g. `disks.0.path`). */
    readonly field?: string,
  ) {
    super(message);
  }
}

let token = sessionStorage.getItem(TOKEN_KEY) ?? "";

export const session = {
  get token(): string {
    return token;
  },
  /** Uses `t` for the calls that follow. */
  use(t: string): void {
    token = t;
  },
  /** Keeps the token in use for this tab's reloads (once the API took it). */
  keep(): void {
    sessionStorage.setItem(TOKEN_KEY, token);
  },
  forget(): void {
    token = "";
    sessionStorage.removeItem(TOKEN_KEY);
  },
};

/** Calls the API; `body` is sent as JSON. A 204 resolves to {}. */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const r = await fetch(path, {
    method,
    headers,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const reply = (await r.json().catch(() => ({}))) as { error?: string; field?: string };
  if (!r.ok)
    throw new ApiError(r.status, reply.error ?? `${r.status} ${r.statusText}`, reply.field);
  return reply as T;
}

export function wsUrl(path: string): string {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`;
}

/** A browser can set no header on a WebSocket: the token rides as a subprotocol. */
export function wsProtocols(): string[] {
  return [WS_PROTOCOL, `moat.bearer.${token}`];
}

export const vmPath = (id: string, rest = ""): string => `/v1/vms/${encodeURIComponent(id)}${rest}`;
