// Opens a VM's virtio devices from their specs (disk files, TAP devices, sockets) and closes
// them all again. Order is slot order: disks, NICs, console, vsock, balloon, entropy. If one
// cannot be opened, those already open are closed and the error says which.
import { basename } from "node:path";
import { randomBytes, randomFillSync } from "node:crypto";
import { DiskError, writableTwice } from "./disk-file.js";
import { openDisk } from "./disk-open.js";
import { MetadataBudget, Qcow2Image } from "../disk/qcow2-image.js";
import type { DiskFormat } from "./vm-config.js";
import { VirtioBlk } from "../devices/virtio/blk.js";
import { VirtioRng } from "../devices/virtio/rng.js";
import { VirtioGpu, type GpuRect } from "../devices/virtio/gpu.js";
import { VirtioInput } from "../devices/virtio/input.js";
import { VirtioConsole } from "../devices/virtio/console.js";
import { VirtioNet, VNET_HDR_BYTES, type NetLimits } from "../devices/virtio/net.js";
import type { VirtioDevice } from "../devices/virtio/device.js";
import { TokenBucket } from "../devices/rate-limiter.js";
import { ConsoleSocket } from "./console-socket.js";
import { IoThread } from "./io-thread.js";
import { Tap } from "../sys/tap.js";
import { takeTapFd } from "../sys/passed-fds.js";
import { TapBackend } from "./tap-backend.js";
import { MADV_DONTNEED, getpid, madviseRange } from "../sys/libc.js";
import { VirtioBalloon } from "../devices/virtio/balloon.js";
import { VirtioVsock } from "../devices/virtio/vsock.js";
import { VsockUnix } from "./vsock-unix.js";
import { GuestAgent } from "./guest-agent.js";
import type { AgentCommand } from "../agent/agent-commands.js";

export interface DiskSpec {
  path: string;
  readOnly: boolean;
  /** The format said (raw: not looked at for another; qcow2); unsaid: raw once looked at. */
  format?: DiskFormat;
  /** Where a qcow2 disk's backing files may lie (absent: the image's own directory). */
  backingDirs?: string[];
  /** Rate limits: data bytes per second, requests per second. */
  bytesPerSecond?: number;
  opsPerSecond?: number;
}

export interface NetSpec {
  /** The TAP device to use (created when absent); with `bridge`, moat names it. */
  tap?: string;
  bridge?: string;
  mac?: Uint8Array;
  /** Rate limits, each direction: bytes and frames per second. */
  bytesPerSecond?: number;
  framesPerSecond?: number;
}

export interface DeviceSpecs {
  disks: DiskSpec[];
  /** Each NIC's MAC is its spec's or a random one; see `clone` for a restored VM's. */
  nets: NetSpec[];
  /**
   * A clone of a snapshot: its NICs keep these MACs on restore (a restore that is not one takes
   * the snapshot's: it is its parent again).
   */
  clone?: boolean;
  /** Unix socket path of a virtio console. */
  vconsole?: string;
  rng?: boolean;
  /** virtio-balloon for a guest of this much RAM; `reporting`: free page reporting (default on). */
  balloon?: { ramBytes: number; reporting?: boolean };
  /** virtio-vsock: the host Unix socket path and the guest's CID. */
  vsock?: { path: string; cid: number };
  /** The guest-agent channel, with the commands its policy allows. */
  agent?: { allow: ReadonlySet<AgentCommand> };
  /** A virtio-gpu display with this mode. */
  display?: { width: number; height: number };
}

/** The entropy device's bound: bytes per second, and the burst a guest may take at once. */
const RNG_BYTES_PER_SECOND = 1024 * 1024;
const RNG_BURST_BYTES = 64 * 1024;

/** A bucket holding one second's worth: bursts up to the rate, then the rate. */
export function perSecond(rate?: number): TokenBucket | undefined {
  return rate === undefined ? undefined : new TokenBucket(rate, rate);
}

export function netLimits(bytesPerSecond?: number, framesPerSecond?: number): NetLimits {
  return {
    rxBytes: perSecond(bytesPerSecond),
    txBytes: perSecond(bytesPerSecond),
    rxOps: perSecond(framesPerSecond),
    txOps: perSecond(framesPerSecond),
  };
}

/** The guest's name of disk `i` (its slot order): vda, vdb, ... */
export function diskName(i: number): string {
  return `vd${String.fromCharCode(97 + i)}`;
}

/** A random locally administered unicast MAC (02:xx:...). */
function randomMac(): Uint8Array {
  const mac = randomBytes(6);
  mac[0] = 0x02;
  return new Uint8Array(mac);
}

export class VmDevices {
  readonly virtio: VirtioDevice[] = [];
  readonly blks: VirtioBlk[] = [];
  readonly nets: VirtioNet[] = [];
  vsock: VirtioVsock | undefined;
  balloon: VirtioBalloon | undefined;
  agent: GuestAgent | undefined;
  gpu: VirtioGpu | undefined;
  /** With a display: a keyboard and a tablet for whoever looks at it. */
  keyboard: VirtioInput | undefined;
  tablet: VirtioInput | undefined;
  /** Called with each rectangle the guest flushes to its display (VNC viewers repaint). */
  readonly displayFlushed = new Set<(r: GpuRect) => void>();
  private readonly closers: (() => void | Promise<void>)[] = [];
  private io: IoThread | undefined;

  private constructor() {}

  /** Opens every device; on failure closes what was opened and rethrows. */
  /** Opens every device `specs` names; `warn` hears what was found and mended on the way. */
  static async open(
    specs: DeviceSpecs,
    warn: (line: string) => void = () => {},
  ): Promise<VmDevices> {
    const d = new VmDevices();
    try {
      await d.openAll(specs, warn);
    } catch (e) {
      await d.close();
      throw e;
    }
    return d;
  }

  private async openAll(specs: DeviceSpecs, warn: (line: string) => void): Promise<void> {
    // Said before the image lock would call this VM's own other disk "another process".
    const twice = writableTwice(specs.disks);
    if (twice) {
      const [a, b] = twice.map(diskName);
      throw new DiskError(
        `disk ${specs.disks[twice[1]]!.path}: attached twice (${a} and ${b}); a file is ` +
          "attached to a VM once read-write, or only read-only",
      );
    }
    // One metadata cache limit for all of the VM's qcow2 files (disks and backing files).
    const budget = new MetadataBudget();
    for (const [i, spec] of specs.disks.entries()) {
      const file = await openDisk(spec, budget);
      if (file instanceof Qcow2Image && file.report.wasDirty)
        warn(
          `disk ${spec.path}: was not closed cleanly (its VM crashed or was killed): checked, ` +
            `${file.report.leaksFreed} leaked clusters freed`,
        );
      this.closers.push(() => file.close());
      const blk = new VirtioBlk(`virtio-blk ${diskName(i)}`, file, basename(file.path), {
        bytes: perSecond(spec.bytesPerSecond),
        ops: perSecond(spec.opsPerSecond),
      });
      this.blks.push(blk);
      this.virtio.push(blk);
    }
    for (const [i, spec] of specs.nets.entries()) {
      const passed = takeTapFd(i);
      const name = passed?.name ?? spec.tap ?? `moat${getpid()}n${i}`;
      const tap = passed
        ? Tap.adopt(passed.fd, passed.name)
        : Tap.open(name, VNET_HDR_BYTES, spec.bridge);
      const backend = new TapBackend(tap, this.ioThread());
      this.closers.push(() => backend.close());
      const net = new VirtioNet(
        `virtio-net eth${i} (${name})`,
        spec.mac ?? randomMac(),
        backend,
        netLimits(spec.bytesPerSecond, spec.framesPerSecond),
        specs.clone === true,
      );
      this.nets.push(net);
      this.virtio.push(net);
    }
    if (specs.vconsole !== undefined) {
      const socket = await ConsoleSocket.listen(specs.vconsole);
      this.closers.push(() => socket.close());
      const device = new VirtioConsole("virtio-console", (b) => socket.write(b));
      socket.target = device;
      this.virtio.push(device);
    }
    if (specs.vsock) {
      const backend = await VsockUnix.listen(specs.vsock.path);
      this.closers.push(() => backend.close());
      const dev = new VirtioVsock("virtio-vsock", specs.vsock.cid, backend);
      backend.device = dev;
      this.vsock = dev;
      this.virtio.push(dev);
    }
    if (specs.balloon) {
      // Pages the guest gives back leave the VMM's RSS at once (MADV_DONTNEED).
      this.balloon = new VirtioBalloon(
        "virtio-balloon",
        specs.balloon.ramBytes,
        { release: (bytes) => madviseRange(bytes, MADV_DONTNEED) },
        { reporting: specs.balloon.reporting !== false },
      );
      this.virtio.push(this.balloon);
    }
    if (specs.agent) {
      this.agent = new GuestAgent(specs.agent.allow);
      this.virtio.push(this.agent.device);
    }
    if (specs.display) {
      this.gpu = new VirtioGpu("virtio-gpu", {
        ...specs.display,
        onFlush: (_scanout, r) => {
          for (const f of this.displayFlushed) f(r);
        },
      });
      this.keyboard = new VirtioInput("virtio-input keyboard", "keyboard");
      this.tablet = new VirtioInput("virtio-input tablet", "tablet");
      this.virtio.push(this.gpu, this.keyboard, this.tablet);
    }
    if (specs.rng) {
      const bucket = new TokenBucket(RNG_BYTES_PER_SECOND, RNG_BURST_BYTES);
      this.virtio.push(new VirtioRng("virtio-rng", bucket, (b) => randomFillSync(b)));
    }
  }

  /**
   * The VM's one I/O thread, made on first use: the TAP devices' and, on x86-64, the eventfds'
   * (X86VmConfig.io). Closed by close(), after every device.
   */
  ioThread(): IoThread {
    return (this.io ??= new IoThread());
  }

  /** Closes every device's host end, newest first. Idempotent. */
  async close(): Promise<void> {
    for (const c of this.closers.splice(0).reverse()) await c();
    await this.io?.close();
    this.io = undefined;
  }
}
