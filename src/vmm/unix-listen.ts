// Listening on a Unix socket path owned by this process: a stale socket left by an earlier run
// is replaced, any other file in the way is an error, and the socket is made owner-only.
import { createServer, type Server } from "node:net";
import { lstatSync, unlinkSync } from "node:fs";

/**
 * `server.listen(path)`, the socket made mode 0600 as it is bound (by the umask): a chmod by
 * path afterwards would follow a link put in its place meanwhile, and this may run as root in
 * a directory the VM's own uid can write.
 */
export function listenPrivate(server: Server, path: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    // listen() binds before it returns: the umask is back before anything else runs.
    const umask = process.umask(0o177);
    try {
      server.listen(path, () => resolve());
    } finally {
      process.umask(umask);
    }
  });
}

/** Listens on `path` (mode 0600); `what` names it in errors (thrown as `E`). */
/**
 * Removes a stale socket at `path` before a listen: nothing there is fine, a socket goes, any
 * other file is refused (`${what} ${path}: ${notSocket}`, as an `E`), and so is a path that
 * cannot be looked at.
 */
export function clearStaleSocket(
  path: string,
  what: string,
  notSocket: string,
  E: new (message: string) => Error,
): void {
  try {
    if (!lstatSync(path).isSocket()) throw new E(`${what} ${path}: ${notSocket}`);
    unlinkSync(path);
  } catch (e) {
    if (e instanceof E) throw e;
    if ((e as NodeJS.ErrnoException).code !== "ENOENT")
      throw new E(`${what} ${path}: ${(e as Error).message}`);
  }
}

export async function listenUnix(
  path: string,
  what: string,
  E: new (message: string) => Error,
): Promise<Server> {
  clearStaleSocket(path, what, "a file that is not a socket is in the way", E);
  const server = createServer();
  try {
    await listenPrivate(server, path);
  } catch (e) {
    throw new E(`${what} ${path}: ${(e as Error).message}`);
  }
  return server;
}
