// The I/O thread's worker: blocks in epoll_wait on the VMM's eventfds and TAP devices
// and tells the VMM thread which became readable. Registrations are one-shot: the VMM thread
// re-arms an fd after it has handled it, so a busy fd cannot flood the message channel.
import { writeFileSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { EPOLL_EVENT_SIZE, epollWait } from "../sys/libc.js";

const { epfd, stopFd, name } = workerData as { epfd: number; stopFd: number; name: string };
try {
  // Best effort, as the vCPU threads: top -H and /proc show which thread is the I/O thread.
  writeFileSync("/proc/thread-self/comm", name);
} catch {
  /* no /proc */
}

const buf = Buffer.alloc(64 * EPOLL_EVENT_SIZE);
for (;;) {
  const fds = epollWait(epfd, buf, -1);
  if (fds.includes(stopFd)) break;
  if (fds.length > 0) parentPort!.postMessage(fds);
}
