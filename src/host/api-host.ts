// What the API drives, the daemon (daemon.ts), as one interface: its own file so the API's
// modules (api.ts, api-routes.ts) and the daemon each import it without importing each other.
import type { Caller } from "./auth.js";
import type { ImageRecord, SnapshotRecord, VmRecord } from "./store.js";
import type { ImportBody } from "./image-ops.js";
import type { Peer } from "./vm-socket.js";
import type { VmEvent } from "./supervisor.js";

export interface ApiHost {
  caller(tokenHash: string): Caller | undefined;
  listVms(): VmRecord[];
  /** The VM `ref` (an id or a name) names, among `domain`'s if given; ApiError if ambiguous. */
  vm(ref: string, domain?: string): VmRecord | undefined;
  /** A create with `restore_from` makes a VM of that snapshot's machine (snapshot-ops.ts). */
  createVm(spec: Record<string, unknown>, caller: Caller): VmRecord;
  /** Takes snapshot `name` of `vm` into the daemon's store. */
  snapshotVm(vm: VmRecord, name: string, stop: boolean): Promise<SnapshotRecord>;
  /** The snapshots `caller` may see. */
  listSnapshots(caller: Caller): SnapshotRecord[];
  /** The snapshot `ref` (an id or a name) names, among `domain`'s if given. */
  snapshot(ref: string, domain?: string): SnapshotRecord | undefined;
  deleteSnapshot(s: SnapshotRecord): void;
  /** Imports a host file into the daemon's image store (image-ops.ts). */
  importImage(b: ImportBody, caller: Caller): Promise<ImageRecord>;
  /** The images `caller` may see. */
  listImages(caller: Caller): ImageRecord[];
  /** The image `ref` (an id or a name) names, among `domain`'s if given. */
  image(ref: string, domain?: string): ImageRecord | undefined;
  /** The VMs with an overlay on image `i`. */
  imageUsers(i: ImageRecord): VmRecord[];
  deleteImage(i: ImageRecord): void;
  /** `graceS`: a stop's grace time, seconds (default: the daemon's stopGraceMs). */
  lifecycle(
    vm: VmRecord,
    op: "start" | "stop" | "kill" | "pause" | "resume",
    graceS?: number,
  ): Promise<VmRecord>;
  deleteVm(vm: VmRecord, force: boolean): Promise<void>;
  setBalloon(vm: VmRecord, targetMiB: number): Promise<Record<string, unknown>>;
  agentCall(
    vm: VmRecord,
    command: string,
    args: Record<string, unknown> | undefined,
    timeoutMs: number,
    note: (detail: Record<string, unknown>) => void,
  ): Promise<Record<string, unknown>>;
  guestInfo(
    vm: VmRecord,
    note: (detail: Record<string, unknown>) => void,
  ): Promise<Record<string, unknown>>;
  stats(vm: VmRecord): Promise<Record<string, unknown>>;
  screenshot(vm: VmRecord): Promise<Buffer>;
  logs(vm: VmRecord, bytes: number): string;
  consolePath(vm: VmRecord): string;
  /** The VM's VNC socket (a VM with a display). */
  vncPath(vm: VmRecord): string;
  /** Who serves the VM's sockets (checked on every connection). */
  vmPeer(vm: VmRecord): Peer;
  host(): Record<string, unknown>;
  tokens(): Record<string, unknown>[];
  createToken(body: {
    name: string;
    role: string;
    domain?: string;
    expires_in_s?: number;
  }): Record<string, unknown>;
  deleteToken(id: string): boolean;
  /**
   * Registers a long-lived stream opened with token `callerId`; `close` ends it if the token is
   * revoked. Returns the function that unregisters it (call it when the stream ends).
   */
  holdStream(caller: Caller, close: () => void): () => void;
  /** A request without a valid token (counted; audited at a bounded rate). */
  authFailed(peer: string): void;
  verifyAudit(): Promise<Record<string, unknown>>;
  metrics(): Promise<{ contentType: string; body: string }>;
  /** An answered request, by its route's pattern (not its URL: bounded label values). */
  countRequest(method: string, route: string, status: number): void;
  /** An answered request, for the daemon's log. */
  logRequest(r: RequestDone): void;
  subscribe(fn: (e: VmEvent) => void): () => void;
  /**
   * Records a change before it is made; throws ApiError 503 when the audit log cannot, and the
   * change must then not be made. Returns the entry's seq.
   */
  auditIntent(
    caller: Caller,
    action: string,
    vm: VmRecord | null,
    detail: Record<string, unknown>,
  ): number;
  /** Appends one entry and returns its seq; throws ApiError 503 when it cannot. */
  audit(
    caller: Caller | null,
    action: string,
    vm: VmRecord | null,
    ok: boolean,
    detail?: Record<string, unknown>,
  ): number;
}

/** An answered request as the daemon logs it: who asked, never with what token. */
export interface RequestDone {
  method: string;
  /** The route's pattern (its URL may carry names; "unmatched" when no route matched). */
  route: string;
  status: number;
  /** From the request's arrival to its answer, ms. */
  ms: number;
  caller?: { name: string; role: string; domain?: string };
  /** The VM a /v1/vms/{vm} route found. */
  vm?: string;
  /** A 5xx's cause. */
  error?: string;
}
