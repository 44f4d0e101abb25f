// The SDK's daemon client: typed calls over the CLI's own API client (the same connection rules,
// the same errors), for a Node program that manages VMs through `moat daemon`.
import { connection, defaultSocket, request, type Connection } from "../cli/api-client.js";
import type { VmSpec, VmState } from "../host/vm-spec.js";
import type { ExecResult } from "../agent/guest-exec.js";
import type { components } from "../cli/api-types.js";

export type { ExecResult };

/** A VM as the daemon reports it (GET /v1/vms/NAME; docs/host.md). */
export interface VmView {
  id: string;
  name: string;
  domain: string;
  state: VmState;
  spec: VmSpec;
  pid: number | null;
  started_at: string | null;
  last_exit: Record<string, unknown> | null;
  restarts: number;
  created_at: string;
}

/**
 * What POST /v1/vms takes: a name, the rest defaulted (docs/host.md, docs/vm-config.md). A
 * disk is a host file (`path`) or an image of the daemon's store (`image`, docs/disks.md).
 */
export type VmSpecInput = { name: string } & Partial<Omit<VmSpec, "name" | "disks">> & {
    disks?: (Partial<VmSpec["disks"][number]> & ({ path: string } | { image: string }))[];
  };

export interface DaemonOptions {
  /** The daemon's socket; default MOAT_SOCKET, else MOAT_HOME's (or /var/lib/moat's) moat.sock. */
  socket?: string;
  /** The API token; default MOAT_TOKEN, else the file tokenFile / MOAT_TOKEN_FILE / admin.token. */
  token?: string;
  tokenFile?: string;
}

export interface Daemon {
  /** Any API call (docs/host.md): resolves to the parsed reply, rejects with ApiClientError. */
  request(method: string, path: string, body?: unknown): Promise<unknown>;
  listVms(): Promise<VmView[]>;
  getVm(name: string): Promise<VmView>;
  createVm(spec: VmSpecInput): Promise<VmView>;
  startVm(name: string): Promise<VmView>;
  /** Asks the guest to shut down, powers it off after `timeoutS` (the daemon's default). */
  stopVm(name: string, timeoutS?: number): Promise<VmView>;
  killVm(name: string): Promise<VmView>;
  deleteVm(name: string, force?: boolean): Promise<void>;
  /** Runs argv in the guest through its agent (the VM's policy must allow exec). */
  exec(name: string, argv: string[], timeoutMs?: number): Promise<ExecResult>;
  /**
   * Snapshots VM `name` as `snapshot` (docs/snapshot.md): it is paused for it and goes on
   * after, or is left stopped with `stop`.
   */
  snapshotVm(name: string, snapshot: string, o?: { stop?: boolean }): Promise<SnapshotView>;
  /** The snapshots the caller may see (a tenant: its domain's). */
  listSnapshots(): Promise<SnapshotView[]>;
  /** Deletes a snapshot (its id or name) no VM is restored from. */
  deleteSnapshot(snapshot: string): Promise<void>;
  /**
   * Creates VM `name` from `snapshot` (its machine is the snapshot's) and starts it: the
   * guest goes on where the snapshot left it, no boot.
   */
  restoreVm(snapshot: string, name: string): Promise<VmView>;
  /**
   * Copies the host file `path` (raw or qcow2, in the caller's image directories) into the
   * daemon's image store as `name` (docs/disks.md "Images through the daemon").
   */
  importImage(
    path: string,
    name: string,
    o?: { domain?: string; format?: "raw" | "qcow2" },
  ): Promise<ImageView>;
  /** The images the caller may see (a tenant: its domain's). */
  listImages(): Promise<ImageView[]>;
  /** One image (its id or name), with the VMs that have overlays on it. */
  getImage(image: string): Promise<ImageView>;
  /** Deletes an image no VM has an overlay on. */
  deleteImage(image: string): Promise<void>;
}

/** An image in the daemon's store (GET /v1/images). */
export type ImageView = components["schemas"]["Image"];

/** A snapshot as the daemon keeps it (GET /v1/snapshots). */
export type SnapshotView = components["schemas"]["Snapshot"];

interface AgentReply {
  exit_code?: number | null;
  signal?: number | null;
  stdout?: string;
  stderr?: string;
  truncated?: boolean;
}

/** A client for the daemon at `o.socket` (or where the CLI would look). */
export function daemon(o: DaemonOptions = {}): Daemon {
  const c: Connection =
    o.token !== undefined
      ? { socket: o.socket ?? defaultSocket(), token: o.token }
      : connection({
          ...(o.socket !== undefined ? { socket: o.socket } : {}),
          ...(o.tokenFile !== undefined ? { tokenFile: o.tokenFile } : {}),
        });
  const vm = (name: string) => `/v1/vms/${encodeURIComponent(name)}`;
  const call = <T>(method: string, path: string, body?: unknown) =>
    request(c, method, path, body) as Promise<T>;
  return {
    request: (method, path, body) => request(c, method, path, body),
    listVms: () => call("GET", "/v1/vms"),
    getVm: (name) => call("GET", vm(name)),
    createVm: (spec) => call("POST", "/v1/vms", spec),
    startVm: (name) => call("POST", `${vm(name)}/start`),
    stopVm: (name, t) => call("POST", `${vm(name)}/stop${t === undefined ? "" : `?timeout=${t}`}`),
    killVm: (name) => call("POST", `${vm(name)}/kill`),
    deleteVm: (name, force) => call("DELETE", `${vm(name)}${force ? "?force=true" : ""}`),
    snapshotVm: (name, snapshot, o = {}) =>
      call("POST", `${vm(name)}/snapshot`, { name: snapshot, ...(o.stop ? { stop: true } : {}) }),
    listSnapshots: () => call("GET", "/v1/snapshots"),
    deleteSnapshot: (s) => call("DELETE", `/v1/snapshots/${encodeURIComponent(s)}`),
    restoreVm: async (snapshot, name) => {
      await call("POST", "/v1/vms", { name, restore_from: snapshot });
      return call("POST", `${vm(name)}/start`);
    },
    importImage: (path, name, o = {}) => call("POST", "/v1/images", { path, name, ...o }),
    listImages: () => call("GET", "/v1/images"),
    getImage: (i) => call("GET", `/v1/images/${encodeURIComponent(i)}`),
    deleteImage: (i) => call("DELETE", `/v1/images/${encodeURIComponent(i)}`),
    exec: async (name, argv, timeoutMs) => {
      const r = await call<AgentReply>("POST", `${vm(name)}/agent`, {
        command: "exec",
        arguments: { argv },
        ...(timeoutMs !== undefined ? { timeout_ms: timeoutMs } : {}),
      });
      return {
        exitCode: r.exit_code ?? null,
        signal: r.signal ?? null,
        stdout: Buffer.from(r.stdout ?? "", "base64"),
        stderr: Buffer.from(r.stderr ?? "", "base64"),
        truncated: r.truncated === true,
      };
    },
  };
}
