// A Linux TAP device (Documentation/networking/tuntap.rst): the host end of a VM's NIC. Opened
// non-blocking with the virtio-net header on every frame (IFF_VNET_HDR), so checksum and
// segmentation offloads pass between the guest and the host kernel untouched. Interface
// ioctls (up, bridge port) go through an AF_INET datagram socket, as ip(8) does.
import {
  AF_INET,
  O_NONBLOCK,
  O_RDWR,
  SOCK_DGRAM,
  SysError,
  closeFd,
  ioctlBuf,
  ioctlInt,
  openFd,
  readNonblock,
  socketFd,
  writeNonblock,
} from "./libc.js";
import { MoatError } from "../base/moat-error.js";

const TUNSETIFF = 0x400454ca;
const TUNSETOFFLOAD = 0x400454d0;
const TUNSETVNETHDRSZ = 0x400454d8;
const IFF_TAP = 0x0002;
const IFF_NO_PI = 0x1000;
const IFF_VNET_HDR = 0x4000;
const SIOCGIFFLAGS = 0x8913;
const SIOCSIFFLAGS = 0x8914;
const SIOCGIFINDEX = 0x8933;
const SIOCBRADDIF = 0x89a2;
const IFF_UP = 1;
const IFREQ_SIZE = 40;
const IFNAMSIZ = 16;

export const TUN_F_CSUM = 1;
export const TUN_F_TSO4 = 2;
export const TUN_F_TSO6 = 4;
export const TUN_F_TSO_ECN = 8;

export class TapError extends MoatError {
  override readonly kind = "host";
}

/** Bound: an interface name is 1..15 bytes of letters, digits and . _ - (no / or spaces). */
export function checkIfName(name: string): void {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(name) || name === "." || name === "..") {
    throw new TapError(`'${name}' is not an interface name (1-15 of A-Z a-z 0-9 . _ -)`);
  }
}

function ifreq(name: string): Buffer {
  const b = Buffer.alloc(IFREQ_SIZE);
  b.write(name, 0, IFNAMSIZ - 1, "ascii");
  return b;
}

/** Runs one interface ioctl on a throwaway AF_INET socket. */
function ifIoctl(req: number, buf: Buffer, what: string): void {
  const s = socketFd(AF_INET, SOCK_DGRAM);
  try {
    ioctlBuf(s, req, buf, what);
  } finally {
    closeFd(s);
  }
}

export class Tap {
  private constructor(
    readonly fd: number,
    readonly name: string,
  ) {}

  /**
   * Opens TAP `name`, creating it when absent (it then lives as long as this fd), sets it up,
   * and with `bridge` makes it a port of that existing Linux bridge. `vnetHdrBytes` is the
   * virtio-net header size in front of every frame (12 for virtio 1.x).
   */
  static open(name: string, vnetHdrBytes: number, bridge?: string): Tap {
    checkIfName(name);
    if (bridge !== undefined) checkIfName(bridge);
    let fd: number;
    try {
      fd = openFd("/dev/net/tun", O_RDWR | O_NONBLOCK);
    } catch (e) {
      throw new TapError(
        `cannot open /dev/net/tun: ${(e as Error).message} (moat needs root or CAP_NET_ADMIN for --net)`,
      );
    }
    try {
      const req = ifreq(name);
      req.writeUInt16LE(IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, IFNAMSIZ);
      try {
        ioctlBuf(fd, TUNSETIFF, req, "TUNSETIFF");
      } catch (e) {
        const code = e instanceof SysError ? e.code : "";
        throw new TapError(
          code === "EPERM"
            ? `TAP ${name}: permission denied (root or CAP_NET_ADMIN, or a TAP the user owns)`
            : code === "EINVAL" || code === "EBUSY"
              ? `TAP ${name}: an interface of that name exists and is not a free TAP device`
              : `TAP ${name}: ${(e as Error).message}`,
        );
      }
      const hdr = Buffer.alloc(4);
      hdr.writeInt32LE(vnetHdrBytes);
      ioctlBuf(fd, TUNSETVNETHDRSZ, hdr, "TUNSETVNETHDRSZ");
      ioctlInt(fd, TUNSETOFFLOAD, 0, "TUNSETOFFLOAD");
      const flags = ifreq(name);
      ifIoctl(SIOCGIFFLAGS, flags, `SIOCGIFFLAGS ${name}`);
      flags.writeUInt16LE(flags.readUInt16LE(IFNAMSIZ) | IFF_UP, IFNAMSIZ);
      ifIoctl(SIOCSIFFLAGS, flags, `SIOCSIFFLAGS ${name}`);
      if (bridge !== undefined) {
        const idx = ifreq(name);
        ifIoctl(SIOCGIFINDEX, idx, `SIOCGIFINDEX ${name}`);
        const port = ifreq(bridge);
        port.writeInt32LE(idx.readInt32LE(IFNAMSIZ), IFNAMSIZ);
        try {
          ifIoctl(SIOCBRADDIF, port, "SIOCBRADDIF");
        } catch (e) {
          const code = e instanceof SysError ? e.code : "";
          throw new TapError(
            code === "ENODEV"
              ? `bridge ${bridge}: no such interface (create it: ip link add ${bridge} type bridge; ip link set ${bridge} up)`
              : code === "EOPNOTSUPP" || code === "EINVAL"
                ? `${bridge} is not a Linux bridge`
                : `bridge ${bridge}: cannot add ${name}: ${(e as Error).message}`,
          );
        }
      }
      return new Tap(fd, name);
    } catch (e) {
      closeFd(fd);
      if (e instanceof TapError) throw e;
      throw new TapError(`TAP ${name}: ${(e as Error).message}`);
    }
  }

  /**
   * A TAP set up by Tap.open in another process (jail/launch.ts) and inherited as `fd`: this
   * process, in a network namespace of its own, could not reach the host's interfaces.
   */
  static adopt(fd: number, name: string): Tap {
    return new Tap(fd, name);
  }

  /** Which offloads the host may hand the guest (TUN_F_* bits the guest driver accepts). */
  setOffload(flags: number): void {
    ioctlInt(this.fd, TUNSETOFFLOAD, flags, "TUNSETOFFLOAD");
  }

  /** One frame (vnet header first) into `buf`; its length, or -1 when none is waiting. */
  read(buf: Uint8Array): number {
    return readNonblock(this.fd, buf);
  }

  /** Sends one frame (vnet header first); false when the host refused it (queue full, bad header). */
  write(frame: Uint8Array): boolean {
    try {
      return writeNonblock(this.fd, frame) === frame.length;
    } catch (e) {
      // EINVAL: the kernel rejected the vnet header the guest wrote; EIO: the link is down.
      if (e instanceof SysError) return false;
      throw e;
    }
  }

  close(): void {
    closeFd(this.fd);
  }
}
