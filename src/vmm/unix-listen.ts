// Listening on a Unix socket path owned by this process: a stale socket left by an earlier run
// is replaced, any other file in the way is an error, and the socket is made owner-only.
import { createServer, type Server } from "node:net";
import { chmodSync, lstatSync, unlinkSync } from "node:fs";

/** Listens on `path` (mode 0600); `what` names it in errors (thrown as `E`). */
export async function listenUnix(
  path: string,
  what: string,
  E: new (message: string) => Error,
): Promise<Server> {
  try {
    if (!lstatSync(path).isSocket())
      throw new E(`${what} ${path}: a file that is not a socket is in the way`);
    unlinkSync(path);
  } catch (e) {
    if (e instanceof E) throw e;
    if ((e as NodeJS.ErrnoException).code !== "ENOENT")
      throw new E(`${what} ${path}: ${(e as Error).message}`);
  }
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e) => reject(new E(`${what} ${path}: ${e.message}`)));
    server.listen(path, () => resolve());
  });
  chmodSync(path, 0o600);
  return server;
}
