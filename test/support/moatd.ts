// Test support for the host daemon: a real `moat daemon` process (or one in this process), its
// API over the Unix socket, console WebSockets, and waiting for VM states.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { MOAT, REPO } from "./moat-cli.js";
import { vmProcesses } from "../../src/host/host-facts.js";

export interface Home {
  dir: string;
  socket: string;
  config: string;
}

/** A fresh daemon home under /tmp (short: socket paths are limited to 107 bytes). */
export function newHome(config: Record<string, unknown> = {}): Home {
  const dir = mkdtempSync(join(tmpdir(), "moatd-"));
  const cfg = join(dir, "config.json");
  writeFileSync(cfg, JSON.stringify(config));
  return { dir, socket: join(dir, "moat.sock"), config: cfg };
}

export function adminToken(h: Home): string {
  return readFileSync(join(h.dir, "admin.token"), "utf8").trim();
}

export interface DaemonProc {
  p: ChildProcess;
  log: () => string;
  exited: Promise<number | null>;
}

/** A self-signed certificate for localhost (openssl), for the daemon's TLS listener. */
export function selfSignedCert(dir: string): { cert: string; key: string } {
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  const args = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"];
  args.push("-subj", "/CN=localhost", "-keyout", key, "-out", cert);
  const gen = spawnSync("openssl", args, { encoding: "utf8" });
  if (gen.status !== 0) throw new Error(`openssl req failed: ${gen.stderr}`);
  return { cert, key };
}

/** Runs `moat daemon --home H --config C [args]` (its output collected), without waiting for it. */
export function spawnDaemon(h: Home, args: string[] = []): DaemonProc {
  const p = spawn(
    process.execPath,
    [MOAT, "daemon", "--home", h.dir, "--config", h.config, ...args],
    {
      cwd: REPO,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let log = "";
  p.stdout!.setEncoding("utf8").on("data", (d: string) => (log += d));
  p.stderr!.setEncoding("utf8").on("data", (d: string) => (log += d));
  const exited = new Promise<number | null>((r) => p.on("close", (c) => r(c)));
  return { p, log: () => log, exited };
}

/** Starts `moat daemon --home H --config C` and waits until it says it is ready. */
export async function startDaemon(h: Home): Promise<DaemonProc> {
  const d = spawnDaemon(h);
  const end = Date.now() + 30000;
  while (!d.log().includes("moatd: ready")) {
    if (d.p.exitCode !== null || Date.now() > end)
      throw new Error(`daemon did not start: ${d.log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return d;
}

/**
 * Kills and deletes the VMs of `h` (they would outlive their daemon, by design), stops the
 * daemon (SIGTERM) and removes its home. Whatever fails on the way (a daemon that died or does
 * not answer, a refused delete), no VM process of the home is left running.
 */
export async function stopDaemon(h: Home, d: DaemonProc): Promise<void> {
  try {
    if (d.p.exitCode === null) {
      const token = adminToken(h);
      const vms = (await api(h.socket, token, "GET", "/v1/vms")).body;
      for (const v of Array.isArray(vms) ? (vms as { id: string }[]) : [])
        await api(h.socket, token, "DELETE", `/v1/vms/${v.id}?force=true`);
    }
  } finally {
    d.p.kill("SIGTERM");
    await d.exited;
    await killVms(h);
    rmSync(h.dir, { recursive: true, force: true });
  }
}

/** The VM processes (one per VM: a jailed one's unshare) whose files lie in the home of `h`. */
export function vmPids(h: Home): number[] {
  return vmProcesses()
    .filter((p) => p.path.startsWith(`${h.dir}/`))
    .map((p) => p.pid);
}

/** SIGKILLs every VM process of the home of `h` and waits until none is left. */
export async function killVms(h: Home): Promise<void> {
  for (const pid of vmPids(h)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  await until("the VM processes of the home to end", () => vmPids(h).length === 0, 30000);
}

export interface Reply {
  status: number;
  body: unknown;
  text: string;
  headers: http.IncomingHttpHeaders;
}

/** One API request over the daemon's socket. */
export function api(
  socket: string,
  token: string | undefined,
  method: string,
  path: string,
  body?: unknown,
): Promise<Reply> {
  const data = body === undefined ? undefined : JSON.stringify(body);
  return rawApi(
    socket,
    method,
    path,
    {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(data !== undefined ? { "content-type": "application/json" } : {}),
    },
    data,
  );
}

/** One request over the daemon's socket, its headers and body sent as they are. */
export function rawApi(
  socket: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // Not JSON.
        }
        resolve({ status: res.statusCode ?? 0, body: parsed, text, headers: res.headers });
      });
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** Waits until `fn` returns a truthy value; throws with `what` after `ms`. */
export async function until<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  ms = 60000,
): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export type VmView = {
  id: string;
  name: string;
  state: string;
  pid: number | null;
  restarts: number;
  last_exit: { reason: string; signal: string | null; status: number | null } | null;
  pinned_cpus: number[] | null;
};

/** Waits for a VM to reach `state` (and `extra` to hold); returns its record. */
export function vmState(
  socket: string,
  token: string,
  vm: string,
  state: string,
  extra: (v: VmView) => boolean = () => true,
  ms = 60000,
): Promise<VmView> {
  return until(
    `VM ${vm} ${state}`,
    async () => {
      const r = await api(socket, token, "GET", `/v1/vms/${vm}`);
      const v = r.body as VmView;
      return v.state === state && extra(v) ? v : undefined;
    },
    ms,
  );
}

/** A console WebSocket with everything it received so far. */
export interface ConsoleConn {
  ws: WebSocket;
  out: () => string;
  send: (s: string) => void;
  /** Sends `cmd` + newline until `expect` shows up in the output (the shell may still be starting). */
  expect: (cmd: string, expect: string | RegExp, ms?: number) => Promise<void>;
  close: () => void;
}

export async function openConsole(socket: string, token: string, vm: string): Promise<ConsoleConn> {
  const ws = new WebSocket(`ws+unix://${socket}:/v1/vms/${vm}/console`, {
    headers: { authorization: `Bearer ${token}` },
  });
  let out = "";
  ws.on("message", (d: Buffer) => (out += d.toString("utf8")));
  await new Promise<void>((res, rej) => {
    ws.once("open", () => res());
    ws.once("error", rej);
    ws.once("unexpected-response", (_q, r) => rej(new Error(`console: HTTP ${r.statusCode}`)));
  });
  const send = (s: string): void => ws.send(Buffer.from(s));
  return {
    ws,
    out: () => out,
    send,
    expect: async (cmd, expect, ms = 60000) => {
      const match = (): boolean =>
        typeof expect === "string" ? out.includes(expect) : expect.test(out);
      const end = Date.now() + ms;
      let next = 0;
      while (!match()) {
        if (Date.now() > end)
          throw new Error(`console: no ${String(expect)} in: ${out.slice(-2000)}`);
        if (Date.now() >= next) {
          send(cmd + "\n");
          next = Date.now() + 3000;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    close: () => ws.close(),
  };
}

/** `moat ARGS` against the daemon of `h` (MOAT_HOME), with `input` on its stdin. */
export function cli(
  h: Home,
  args: string[],
  input?: string,
  env: Record<string, string> = {},
): Promise<{ status: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [MOAT, ...args], {
      cwd: REPO,
      env: { ...process.env, MOAT_HOME: h.dir, ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    p.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    p.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    p.on("close", (status) => resolve({ status, out, err }));
    if (input !== undefined) p.stdin.end(input);
    else p.stdin.end();
  });
}
