// fetch over a Unix socket: the daemon's API listens on one, which the fetch Node ships cannot
// reach without an extra dispatcher package. openapi-fetch (api-client.ts) takes it as its fetch.
import http from "node:http";
import { Readable } from "node:stream";

/**
 * A fetch that sends each request to the HTTP server on `socketPath` (the URL's host is
 * ignored). The reply's body streams (server-sent events arrive as they come); `failed` turns a
 * connection error into the error the promise rejects with.
 */
export function unixFetch(
  socketPath: string,
  failed: (e: NodeJS.ErrnoException) => Error,
): (req: Request) => Promise<Response> {
  return async (req) => {
    const body = req.body ? Buffer.from(await req.arrayBuffer()) : undefined;
    const url = new URL(req.url);
    const headers: Record<string, string> = Object.fromEntries(req.headers);
    if (body) headers["content-length"] = String(body.length);
    return new Promise((resolve, reject) => {
      const r = http.request(
        {
          socketPath,
          method: req.method,
          path: url.pathname + url.search,
          headers,
          signal: req.signal,
        },
        (res) => {
          const status = res.statusCode ?? 0;
          const h = new Headers();
          for (const [k, v] of Object.entries(res.headers))
            for (const x of [v ?? []].flat()) h.append(k, x);
          // A Response may not carry a body for these.
          const empty = status === 204 || status === 304 || req.method === "HEAD";
          if (empty) res.resume();
          const stream = empty ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
          resolve(new Response(stream, { status, statusText: res.statusMessage, headers: h }));
        },
      );
      r.on("error", (e: NodeJS.ErrnoException) => reject(req.signal.aborted ? e : failed(e)));
      r.end(body);
    });
  };
}
