// A VM's control socket: a small JSON API on a Unix socket (mode 0600, so only the owner can
// reach it) for what changes while the VM runs. One request per line, one JSON reply per line:
//
//   {"op":"status"}                          state, name, pid, accel, cpu tier, cpus, memory,
//                                            ksm, lock, vCPU threads, balloon, NIC counters, vsock
//   {"op":"metrics"}                         counters: vCPU exits by reason, disks, NICs,
//                                            balloon, console output dropped
//   {"op":"pause"} / {"op":"resume"}         hold / release the vCPUs
//   {"op":"shutdown"}                        press and release the power button; says whether
//                                            the guest's userspace has started
//   {"op":"stop"}                            end the VM (exit status 143, as SIGTERM)
//   {"op":"balloon","target_mib":N}          balloon target (0 deflates)
//   {"op":"balloon-stats"}                   fresh guest memory statistics
//   {"op":"limits","device":"vda"|"eth0",    rate limits at run time; null or absent lifts one
//    "bps":N,"iops":N | "pps":N}
//   {"op":"screenshot"}                      the display as a PNG (base64), width, height
//   {"op":"key","code":N[,"down":B]}         a key (Linux code) to the display's keyboard:
//                                            pressed and released, or only down/up
//   {"op":"agent","command":C,...}           one guest-agent command (guest-agent.ts)
//
// Replies: {"ok":true,...} or {"ok":false,"error":"why"}. Every request is input from whoever
// holds the socket: bounded (line length, clients), and checked against its op's schema
// (control-protocol.ts: the requests and replies as types) before it is acted on.
import net from "node:net";
import { clearStaleSocket, listenPrivate } from "./unix-listen.js";
import type { VmDevices } from "./vm-devices.js";
import { diskName, netLimits, perSecond } from "./vm-devices.js";
import type { AccelVm, JitStats, RiscvAccelVm } from "../accel/accel.js";
import type { CpuTier } from "../accel/soft/cpu-tier.js";
import { scanoutPng } from "./display.js";
import { KEY_POWER, type VirtioInput } from "../devices/virtio/input.js";
import { MAX_REQUEST_BYTES } from "../agent/agent-client.js";
import { EXIT_STOPPED } from "./exit-status.js";
import { MoatError } from "../base/moat-error.js";
import {
  isDiskLimits,
  parseControlRequest,
  type BalloonInfo,
  type ControlOk,
  type ControlRefusal,
  type ControlReplies,
  type ControlReply,
  type ControlRequest,
  type JitReply,
  type LimitsRequest,
} from "./control-protocol.js";

/** Bound: requests of one client waiting for their reply; past it the socket is not read. */
const MAX_QUEUED = 16;
/** Bound: clients connected at once. */
const MAX_CLIENTS = 8;
/** Bound: a screenshot's PNG bytes (its base64 must fit a 1 MiB reply line). */
const MAX_SCREENSHOT_REPLY = 768 * 1024;
/** How long balloon-stats waits for the guest's fresh figures. */
const STATS_WAIT_MS = 3000;

export class ControlSocketError extends MoatError {}

/** A refusal a client acts on by its `kind` (the reply's field), not by the message's words. */
class Refusal extends Error {
  constructor(
    message: string,
    readonly kind: string,
  ) {
    super(message);
  }
}

/** What the control socket drives: the VM itself. */
export interface ControlTarget {
  pause(): boolean;
  resume(): void;
  stop(status: number, detail: string): void;
  /** The machine's power button (a VM that boots a kernel has one). */
  readonly powerButton: VirtioInput | undefined;
  /** Whether the guest has marked its userspace started (the control block's boot mark). */
  userspaceStarted(): boolean;
  /** The accelerator's VM: its vCPUs' exit counters; the soft CPU's instruction counts too. */
  avm?: Pick<AccelVm, "exitCounts"> & Partial<Pick<RiscvAccelVm, "stats" | "jitStats">>;
}

/** What status reports about the VM process, fixed at start; and the console's drop counter. */
export interface ControlInfo {
  name?: string;
  accel: string;
  /** The soft CPU's execution tier (absent on KVM, which has none). */
  cpuTier?: CpuTier;
  cpus: number;
  memoryMiB: number;
  ksm: boolean;
  /** Guest RAM locked in host memory (--lock-memory). */
  memoryLocked: boolean;
  /** The seccomp filter's mode: kill (on), log, or off. */
  seccomp: "kill" | "log" | "off";
  /** The uid the process dropped to (--jail-user). */
  uid?: number;
  /** In its own namespaces and root (moat run --jail); pid and vcpu_tids are then the jail's. */
  jailed?: boolean;
  /** Guest console output bytes dropped so far (slow consumers), all consumers together. */
  consoleDropped?: () => number;
  /** Clients on the console socket now (--console-socket). */
  consoleClients?: () => number;
  /**
   * The guest marks its userspace started (moat's shipped initramfs does, first thing): until it
   * has, nothing in the guest can have written anything.
   */
  marksBoot?: boolean;
}

export class ControlSocket {
  private readonly clients = new Set<net.Socket>();
  private paused = false;
  /** The screenshot being encoded (the next waits for it). */
  private screenshots: Promise<unknown> = Promise.resolve();
  vm: ControlTarget | undefined;
  /** The vCPU threads' kernel ids, once they have reported them. */
  vcpuThreadIds: number[] = [];
  /**
   * Writes a snapshot of the paused VM named `name` (vm-process.ts: into its snapshot
   * directory); absent: the VM has none.
   */
  snapshot: ((name: string) => Promise<ControlReplies["snapshot"]>) | undefined;
  /** A snapshot being written: the VM stays paused until it is done. */
  private snapshotting = false;

  private constructor(
    private readonly server: net.Server,
    private readonly devices: VmDevices,
    private readonly info: ControlInfo | undefined,
  ) {}

  /**
   * Listens on `path` (a stale socket there is replaced; any other file is an error). `info`
   * is what status reports about the VM.
   */
  static async listen(
    path: string,
    devices: VmDevices,
    info?: ControlInfo,
  ): Promise<ControlSocket> {
    clearStaleSocket(path, "control socket", "exists and is not a socket", ControlSocketError);
    // A client may send its requests and end its side (shutdown(SHUT_WR), as `socat` and
    // `nc -N` do); it still gets every reply, and then the socket ends.
    const server = net.createServer({ allowHalfOpen: true });
    const c = new ControlSocket(server, devices, info);
    server.on("connection", (s) => c.client(s));
    await listenPrivate(server, path).catch((e: Error) => {
      throw new ControlSocketError(`control socket ${path}: ${e.message}`);
    });
    return c;
  }

  private client(s: net.Socket): void {
    if (this.clients.size >= MAX_CLIENTS) {
      const full: ControlRefusal = { ok: false, error: `at most ${MAX_CLIENTS} clients` };
      s.end(JSON.stringify(full) + "\n");
      return;
    }
    this.clients.add(s);
    // Its requests still waiting are dropped, and a screenshot being encoded for it stopped.
    const gone = new AbortController();
    s.on("close", () => {
      this.clients.delete(s);
      gone.abort();
    });
    s.on("error", () => {});
    let busy = Promise.resolve();
    let queued = 0;
    // Complete lines not yet queued, and the bytes of the line being read.
    const lines: string[] = [];
    let part: Buffer[] = [];
    let partBytes = 0;
    let refused = false;
    let ended = false;
    /** Queues the complete lines, up to MAX_QUEUED; the rest wait in `lines`, unparsed. */
    const parse = () => {
      // The client has sent all it will and every reply has gone: end our side too.
      if (ended && queued === 0 && lines.length === 0 && !s.destroyed) s.end();
      while (lines.length > 0 && queued < MAX_QUEUED) {
        const line = lines.shift()!;
        // Replies go out in request order.
        if (++queued >= MAX_QUEUED) s.pause();
        busy = busy.then(async () => {
          if (!gone.signal.aborted) {
            const reply = await this.handle(line, gone.signal);
            if (!s.destroyed) s.write(JSON.stringify(reply) + "\n");
          }
          queued--;
          parse();
          if (queued < MAX_QUEUED && !s.destroyed) s.resume();
        });
      }
    };
    // Bound: the line being read, MAX_REQUEST_BYTES (the daemon's bound too, so what it takes
    // passes here), counted in bytes as they arrive. What a paused socket had delivered waits in
    // `lines`: at most one read's chunk more.
    s.on("data", (d: Buffer) => {
      if (refused) return;
      let start = 0;
      for (let nl = d.indexOf(0x0a); ; nl = d.indexOf(0x0a, start)) {
        const end = nl < 0 ? d.length : nl;
        partBytes += end - start;
        if (partBytes > MAX_REQUEST_BYTES) {
          refused = true;
          parse();
          lines.length = 0;
          part = [];
          const long: ControlRefusal = {
            ok: false,
            error: `a request is at most ${MAX_REQUEST_BYTES} bytes`,
          };
          s.end(JSON.stringify(long) + "\n");
          return;
        }
        part.push(d.subarray(start, end));
        if (nl < 0) break;
        // A newline byte is never part of a longer UTF-8 sequence: each line decodes alone.
        lines.push(Buffer.concat(part).toString("utf8"));
        part = [];
        partBytes = 0;
        start = nl + 1;
      }
      parse();
    });
    s.on("end", () => {
      ended = true;
      parse();
    });
  }

  /**
   * One request. Never throws: a bad request gets {"ok":false,"error":...}, with
   * "kind":"request" when it is not a valid request at all. `gone` aborts when its client has
   * gone (a screenshot for it is then not taken, or stopped).
   */
  async handle(line: string, gone?: AbortSignal): Promise<ControlReply> {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      return { ok: false, error: "not JSON" };
    }
    let req: ControlRequest;
    try {
      req = parseControlRequest(value);
    } catch (e) {
      return { ok: false, error: (e as Error).message, kind: "request" };
    }
    try {
      return await this.run(req, gone);
    } catch (e) {
      const kind = e instanceof Refusal ? { kind: e.kind } : {};
      return { ok: false, error: (e as Error).message, ...kind };
    }
  }

  private async run(r: ControlRequest, gone?: AbortSignal): Promise<ControlReply> {
    const d = this.devices;
    const vm = this.vm;
    switch (r.op) {
      case "status": {
        const i = this.info;
        return {
          ok: true,
          state: this.paused ? "paused" : "running",
          ...(vm ? {} : { starting: true }),
          ...(i
            ? {
                name: i.name ?? null,
                pid: process.pid,
                accel: i.accel,
                ...(i.cpuTier ? { cpu_tier: i.cpuTier } : {}),
                cpus: i.cpus,
                memory_mib: i.memoryMiB,
                ksm: i.ksm,
                memory_locked: i.memoryLocked,
                seccomp: i.seccomp,
                jailed: i.jailed === true,
                uid: i.uid ?? process.getuid?.() ?? null,
                vcpu_tids: this.vcpuThreadIds,
                ...(i.consoleClients ? { console_clients: i.consoleClients() } : {}),
              }
            : {}),
          ...(d.balloon ? { balloon: this.balloonInfo() } : {}),
          ...(d.agent ? { agent: d.agent.info() } : {}),
          nets: d.nets.map((n) => ({ name: n.name, ...n.counters })),
          ...(d.vsock
            ? { vsock: { connections: d.vsock.connections, refused: d.vsock.rejected } }
            : {}),
        } satisfies ControlOk<"status">;
      }
      case "metrics":
        return this.metrics();
      case "pause":
        if (!vm) throw new Error("the VM is not running yet");
        if (!vm.pause())
          throw new Error("this accelerator cannot pause (KVM pause is not built yet)");
        this.paused = true;
        return { ok: true, state: "paused" } satisfies ControlOk<"pause">;
      case "resume":
        if (!vm) throw new Error("the VM is not running yet");
        if (this.snapshotting) throw new Refusal("a snapshot is being written", "busy");
        vm.resume();
        this.paused = false;
        return { ok: true, state: "running" } satisfies ControlOk<"resume">;
      case "shutdown": {
        if (!vm) throw new Error("the VM is not running yet");
        if (!vm.powerButton)
          throw new Refusal("this VM has no power button (it boots no kernel)", "no-power-button");
        vm.powerButton.tap(KEY_POWER);
        // false: the guest is known to mark its boot and has not yet; null: it may never mark.
        const started = vm.userspaceStarted();
        const userspace = started ? true : this.info?.marksBoot ? false : null;
        return { ok: true, userspace } satisfies ControlOk<"shutdown">;
      }
      case "stop":
        if (!vm) throw new Error("the VM is not running yet");
        vm.stop(EXIT_STOPPED, "stopped through the control socket");
        return { ok: true };
      case "balloon": {
        const b = d.balloon;
        if (!b) throw new Error("this VM has no balloon (--balloon)");
        b.setTarget(r.target_mib);
        return { ok: true, balloon: this.balloonInfo() } satisfies ControlOk<"balloon">;
      }
      case "balloon-stats": {
        const b = d.balloon;
        if (!b) throw new Error("this VM has no balloon (--balloon)");
        const before = b.statsAt;
        if (b.requestStats()) {
          const end = Date.now() + STATS_WAIT_MS;
          while (b.statsAt === before && Date.now() < end)
            await new Promise((res) => setTimeout(res, 20));
        }
        return {
          ok: true,
          fresh: b.statsAt !== before,
          stats: b.stats,
          balloon: this.balloonInfo(),
        } satisfies ControlOk<"balloon-stats">;
      }
      case "limits":
        return this.limits(r);
      case "screenshot": {
        const gpu = d.gpu;
        if (!gpu) throw new Error("this VM has no display (--display)");
        // One at a time, each of what the guest shows when its turn comes; the encoding runs
        // on a worker thread while this socket and the VM go on.
        const shot = this.screenshots.then(async () => {
          if (gone?.aborted) throw new Error("the client has gone");
          const img = gpu.scanoutImage();
          if (!img) throw new Error("the guest shows nothing on its display yet");
          return { rect: img.rect, png: await scanoutPng(img, MAX_SCREENSHOT_REPLY, gone) };
        });
        this.screenshots = shot.catch(() => {});
        const { rect, png } = await shot;
        const { width, height } = rect;
        return {
          ok: true,
          width,
          height,
          png: png.toString("base64"),
        } satisfies ControlOk<"screenshot">;
      }
      case "key": {
        if (!d.keyboard) throw new Error("this VM has no display (--display)");
        if (r.down !== false) d.keyboard.key(r.code, true);
        if (r.down !== true) d.keyboard.key(r.code, false);
        return { ok: true };
      }
      case "snapshot": {
        if (!this.snapshot)
          throw new Refusal("this VM has no snapshot directory (--snapshot-dir)", "no-snapshots");
        if (!this.paused)
          throw new Refusal("pause the VM first: a snapshot is of a paused VM", "state");
        if (this.snapshotting) throw new Refusal("a snapshot is being written", "busy");
        this.snapshotting = true;
        try {
          return { ok: true, ...(await this.snapshot(r.name)) } satisfies ControlOk<"snapshot">;
        } finally {
          this.snapshotting = false;
        }
      }
      case "agent":
        if (!d.agent) throw new Error("this VM has no guest-agent channel (--agent)");
        return d.agent.handle(r);
    }
  }

  /** Counters, read now: cheap, so a daemon may poll it (it changes nothing). */
  private metrics(): ControlOk<"metrics"> {
    const d = this.devices;
    const vm = this.vm;
    const instructions = vm?.avm?.stats?.().reduce((n, st) => n + st.instructions, 0n) ?? 0n;
    return {
      ok: true,
      exits: vm?.avm?.exitCounts() ?? {},
      ...(instructions > 0n ? { instructions: Number(instructions) } : {}),
      ...jit(vm?.avm?.jitStats?.()),
      disks: d.blks.map((b, i) => {
        const c = b.counters;
        return {
          name: diskName(i),
          read_bytes: c.readBytes,
          write_bytes: c.writeBytes,
          read_ops: c.readOps,
          write_ops: c.writeOps,
          flush_ops: c.flushOps,
          discard_ops: c.discardOps,
          errors: c.errors,
        };
      }),
      nets: d.nets.map((n, i) => {
        const c = n.counters;
        return {
          name: `eth${i}`,
          rx_bytes: c.rxBytes,
          tx_bytes: c.txBytes,
          rx_frames: c.rxFrames,
          tx_frames: c.txFrames,
          rx_dropped: c.rxDropped,
          tx_spoofed: c.txSpoofed,
          tx_errors: c.txErrors,
        };
      }),
      ...(d.balloon
        ? {
            balloon: {
              target_mib: d.balloon.targetMiB,
              actual_mib: (d.balloon.actualPages * 4096) / (1 << 20),
            },
          }
        : {}),
      console_dropped_bytes: this.info?.consoleDropped?.() ?? 0,
    };
  }

  private balloonInfo(): BalloonInfo {
    const b = this.devices.balloon!;
    return {
      target_mib: b.targetMiB,
      actual_mib: (b.actualPages * 4096) / (1 << 20),
      reported_mib: b.reportedBytes / (1 << 20),
    };
  }

  /** A device's new limits: null or absent lifts one. */
  private limits(r: LimitsRequest): ControlOk<"limits"> {
    if (isDiskLimits(r)) {
      const blk = this.devices.blks[r.device.charCodeAt(2) - "a".charCodeAt(0)];
      if (!blk) throw new Error(`no disk ${r.device}`);
      blk.setLimits({ bytes: perSecond(r.bps ?? undefined), ops: perSecond(r.iops ?? undefined) });
    } else {
      const nic = this.devices.nets[Number(r.device.slice(3))];
      if (!nic) throw new Error(`no NIC ${r.device}`);
      nic.setLimits(netLimits(r.bps ?? undefined, r.pps ?? undefined));
    }
    return { ok: true };
  }

  async close(): Promise<void> {
    for (const s of this.clients) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** The translator's counters as metrics report them (nothing on the interp tier or KVM). */
function jit(s: JitStats | undefined): { jit?: JitReply } {
  if (!s) return {};
  return {
    jit: {
      translations: s.translations,
      reinstalls: s.reinstalls,
      code_bytes: s.codeBytes,
      translate_ms: s.translateMs,
      flushes: s.flushes,
      declined: s.declined,
    },
  };
}
