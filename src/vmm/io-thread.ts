// The VMM's I/O thread: Node's event loop cannot wait on arbitrary file descriptors (eventfds,
// TAP devices), so a worker thread waits on them with epoll and the VMM thread runs the
// callbacks. With ioeventfd, a guest's virtio notify reaches the device this way without any
// exit to userspace on the vCPU. A VM has one: its TAP devices and its eventfds share it.
import { Worker } from "node:worker_threads";
import {
  EPOLLIN,
  EPOLLONESHOT,
  closeFd,
  epollCreate,
  epollCtl,
  eventfd,
  eventfdWrite,
} from "../sys/libc.js";

/** The I/O thread's name in `ps -L` and /proc/PID/task/TID/comm (at most 15 bytes). */
export const IO_THREAD_NAME = "moat-io";

export class IoThread {
  private readonly epfd = epollCreate();
  private readonly stopFd = eventfd();
  private readonly callbacks = new Map<number, () => void>();
  /** fds watched one readiness at a time (once()): registered, callback if armed. */
  private readonly onceFds = new Map<number, (() => void) | undefined>();
  private readonly worker: Worker;
  private closed = false;
  private exited = false;

  constructor() {
    epollCtl(this.epfd, "add", this.stopFd, EPOLLIN);
    this.worker = new Worker(new URL("./io-worker.js", import.meta.url), {
      workerData: { epfd: this.epfd, stopFd: this.stopFd, name: IO_THREAD_NAME },
    });
    this.worker.on("message", (fds: number[]) => {
      for (const fd of fds) {
        const once = this.onceFds.get(fd);
        if (once) {
          this.onceFds.set(fd, undefined);
          once();
          continue;
        }
        const cb = this.callbacks.get(fd);
        if (!cb) continue;
        cb();
        // Re-arm after handling: one message per readiness.
        if (!this.closed && this.callbacks.has(fd))
          epollCtl(this.epfd, "mod", fd, EPOLLIN | EPOLLONESHOT);
      }
    });
    this.worker.on("exit", () => (this.exited = true));
    this.worker.unref();
  }

  /** Runs `cb` on the VMM thread whenever `fd` becomes readable (cb must consume it). */
  watch(fd: number, cb: () => void): void {
    if (this.callbacks.has(fd)) throw new RangeError(`fd ${fd} is already watched`);
    this.callbacks.set(fd, cb);
    epollCtl(this.epfd, "add", fd, EPOLLIN | EPOLLONESHOT);
  }

  /**
   * Runs `cb` once on the VMM thread when `fd` is next readable; the fd stays quiet after that
   * until once() is called again (a NIC reads its TAP device only while the guest has room).
   */
  once(fd: number, cb: () => void): void {
    if (this.closed) return;
    if (this.callbacks.has(fd)) throw new RangeError(`fd ${fd} is already watched`);
    const known = this.onceFds.has(fd);
    this.onceFds.set(fd, cb);
    epollCtl(this.epfd, known ? "mod" : "add", fd, EPOLLIN | EPOLLONESHOT);
  }

  /** Stops watching `fd` (before it is closed). Nothing is watched after close(). */
  unwatch(fd: number): void {
    if (this.closed) return;
    if (this.onceFds.delete(fd) || this.callbacks.delete(fd)) epollCtl(this.epfd, "del", fd);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    eventfdWrite(this.stopFd);
    this.worker.ref(); // keep the event loop alive until it has gone
    if (!this.exited) await new Promise<void>((r) => this.worker.once("exit", () => r()));
    closeFd(this.epfd);
    closeFd(this.stopFd);
  }
}
