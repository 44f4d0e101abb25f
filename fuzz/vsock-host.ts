// A host end for the virtio-vsock fuzz target that keeps VsockBackend's contract the way the
// Unix-socket one does, with its timing: a connect completes (accepted, or refused) a few
// event-loop turns after the guest's REQUEST (1 to 10), so the guest's RST, SHUTDOWN, a second REQUEST
// on the same ports or a device reset land before, during or after it; a host socket is
// released 1 to 10 turns after it closes. Now and then it answers late for a connection it was told
// to close, as a host end racing the guest would. It checks what the device owes it.
import {
  MAX_CONNECTIONS,
  type VirtioVsock,
  type VsockBackend,
  type VsockKey,
} from "../src/devices/virtio/vsock.js";

const later = (turns: number, f: () => void): void => {
  if (turns <= 0) f();
  else setImmediate(() => later(turns - 1, f));
};

export class LateVsockHost implements VsockBackend {
  device: VirtioVsock | undefined;
  /** Host ends not yet released, by the device's key object. */
  private readonly ends = new Map<VsockKey, "connecting" | "open" | "closing">();
  private readonly released = new Set<VsockKey>();
  private connects = 0;
  private closes = 0;
  private broken: string | undefined;

  connect(key: VsockKey): void {
    if (this.ends.has(key) || this.released.has(key)) this.broken = "a key given twice";
    this.ends.set(key, "connecting");
    const n = this.connects++;
    later(1 + ((n + key.guestPort) % 10), () => {
      const dev = this.device;
      const state = this.ends.get(key);
      if (!dev || state === undefined) return;
      // A stale answer (the guest dropped it meanwhile) now and then: the device ignores it.
      if (state === "closing" && n % 2 !== 0) return;
      // Something listens on even host ports only.
      if (key.hostPort % 2 === 1) {
        dev.refuse(key);
        this.close(key);
      } else {
        if (state === "connecting") this.ends.set(key, "open");
        dev.accept(key);
      }
    });
  }

  data(key: VsockKey): void {
    if (this.ends.get(key) !== "open") this.broken = "data for a connection not open";
  }

  closed(key: VsockKey, reset: boolean): void {
    if (this.released.has(key)) this.broken = "closed() after the key was released";
    // The guest's half-close of an open connection leaves it open the other way.
    if (this.ends.has(key) && (reset || this.ends.get(key) !== "open")) this.close(key);
  }

  established(key: VsockKey): void {
    if (this.released.has(key)) this.broken = "established() after the key was released";
  }

  private close(key: VsockKey): void {
    this.ends.set(key, "closing");
    // Sometimes later than the harness's settling turns, so checks see sockets still closing.
    later(1 + (this.closes++ % 10), () => {
      if (!this.ends.delete(key)) return;
      this.released.add(key);
      this.device?.released(key);
    });
  }

  /**
   * The device counts exactly the host ends it has not had back, never more than its bound,
   * and has a connection for each end that is not closing.
   */
  check(): string | undefined {
    const dev = this.device;
    if (this.broken) return this.broken;
    if (!dev) return undefined;
    if (dev.held !== this.ends.size)
      return `the device counts ${dev.held} connections, the host holds ${this.ends.size}`;
    // Only its own answer or the guest ends a connection: a late answer for another leaves it.
    const live = [...this.ends.values()].filter((e) => e !== "closing").length;
    if (dev.connections !== live)
      return `the device has ${dev.connections} connections, the host ${live} not closing`;
    if (dev.held > MAX_CONNECTIONS) return `the device holds ${dev.held} connections`;
    return undefined;
  }
}
