// The CLI's client for the daemon's API: HTTP over the Unix socket, a bearer token from
// MOAT_TOKEN or the admin token file that only root can read.
import http from "node:http";
import { readFileSync } from "node:fs";
import WebSocket from "ws";
import { DEFAULT_HOME } from "../host/config.js";
import { MoatError } from "../base/moat-error.js";

/** The daemon answered with an error (or could not be reached); moat exits 1, not 125. */
export class ApiClientError extends MoatError {
  constructor(
    message: string,
    readonly status?: number,
    /** The request's field at fault, when the API names one. */
    readonly field?: string,
  ) {
    super(message, "host");
  }
}

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

/** One API call; resolves to the parsed JSON (or text) body, rejects with the API's error. */
export function request(
  c: Connection,
  method: string,
  path: string,
  body?: unknown,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      {
        socketPath: c.socket,
        path,
        method,
        headers: {
          authorization: `Bearer ${c.token}`,
          ...(data !== undefined
            ? { "content-type": "application/json", "content-length": Buffer.byteLength(data) }
            : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (d: Buffer) => chunks.push(d));
        res.on("end", () => {
          const type = res.headers["content-type"] ?? "";
          if (type.startsWith("image/") && (res.statusCode ?? 0) < 400) {
            resolve(Buffer.concat(chunks)); // binary (a screenshot)
            return;
          }
          const text = Buffer.concat(chunks).toString("utf8");
          const json = (res.headers["content-type"] ?? "").includes("json");
          let parsed: unknown = text;
          if (json && text) {
            try {
              parsed = JSON.parse(text);
            } catch {
              // Leave it as text.
            }
          }
          const status = res.statusCode ?? 0;
          if (status >= 400) {
            const msg =
              typeof parsed === "object" && parsed && "error" in parsed
                ? String((parsed as { error: unknown }).error)
                : text || `HTTP ${status}`;
            const field =
              typeof parsed === "object" && parsed && "field" in parsed
                ? String((parsed as { field: unknown }).field)
                : undefined;
            reject(new ApiClientError(msg, status, field));
          } else resolve(status === 204 ? undefined : parsed);
        });
      },
    );
    req.on("error", (e: NodeJS.ErrnoException) => reject(unreachable(c, e)));
    req.end(data);
  });
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
export function stream(
  c: Connection,
  path: string,
  onData: (chunk: string) => void,
  signal: AbortSignal,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { socketPath: c.socket, path, headers: { authorization: `Bearer ${c.token}` }, signal },
      (res) => {
        res.setEncoding("utf8");
        if ((res.statusCode ?? 0) >= 400) {
          let text = "";
          res.on("data", (d: string) => (text += d));
          res.on("end", () => {
            let msg = text || `HTTP ${res.statusCode}`;
            try {
              msg = String((JSON.parse(text) as { error: unknown }).error);
            } catch {
              // Not JSON: the text as it is.
            }
            reject(new ApiClientError(msg, res.statusCode));
          });
          return;
        }
        res.on("data", onData);
        res.on("end", () => resolve());
        res.on("error", () => resolve());
      },
    );
    req.on("error", (e: NodeJS.ErrnoException) =>
      signal.aborted ? resolve() : reject(unreachable(c, e)),
    );
    req.end();
  });
}

/** Opens the console WebSocket of a VM. */
export function openConsole(c: Connection, vm: string): WebSocket {
  return new WebSocket(`ws+unix://${c.socket}:/v1/vms/${encodeURIComponent(vm)}/console`, {
    headers: { authorization: `Bearer ${c.token}` },
  });
}
