// Wires a virtio-net device to a TAP device: frames are read only when the device asks, and the
// I/O thread says when the TAP fd has something again.
import type { NetBackend } from "../devices/virtio/net.js";
import type { Tap } from "../sys/tap.js";
import type { IoThread } from "./io-thread.js";

export class TapBackend implements NetBackend {
  constructor(
    private readonly tap: Tap,
    private readonly io: IoThread,
  ) {}

  receive(buf: Uint8Array): number {
    return this.tap.read(buf);
  }

  whenReadable(ready: () => void): void {
    this.io.once(this.tap.fd, ready);
  }

  send(frame: Uint8Array): boolean {
    return this.tap.write(frame);
  }

  setOffload(flags: number): void {
    this.tap.setOffload(flags);
  }

  close(): void {
    this.io.unwatch(this.tap.fd);
    this.tap.close();
  }
}
