// The I/O thread's worker: blocks in epoll_wait on the VMM's eventfds (and, later, TAP devices)
// and tells the VMM thread which became readable. Registrations are one-shot: the VMM thread
// re-arms an fd after it has handled it, so a busy fd cannot flood the message channel.
import { parentPort, workerData } from "node:worker_threads";
import { EPOLL_EVENT_SIZE, epollWait } from "../sys/libc.js";

const { epfd, stopFd } = workerData as { epfd: number; stopFd: number };
const buf = Buffer.alloc(64 * EPOLL_EVENT_SIZE);
for (;;) {
  const fds = epollWait(epfd, buf, -1);
  if (fds.includes(stopFd)) break;
  if (fds.length > 0) parentPort!.postMessage(fds);
}
