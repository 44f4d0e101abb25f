// Open files a jailed VM process was handed by the process that started it: inside its jail
// there is no /dev/kvm and no host network, so the KVM fd and its TAP fds come ready-made
// (jail/launch.ts opens them, jail/enter.ts records them here). Each is taken once.

export interface PassedFds {
  kvm?: number;
  /** TAP devices, in --net order: the fd and the interface's name on the host. */
  taps?: { fd: number; name: string }[];
}

let passed: { kvm?: number; taps?: ({ fd: number; name: string } | undefined)[] } = {};

/** Records the fds this process inherited for its devices (once, at start). */
export function setPassedFds(p: PassedFds): void {
  passed = { ...p, ...(p.taps ? { taps: [...p.taps] } : {}) };
}

/** The inherited KVM fd, if any; afterwards there is none. */
export function takeKvmFd(): number | undefined {
  const fd = passed.kvm;
  delete passed.kvm;
  return fd;
}

/** The inherited TAP for the `index`th --net, if any; afterwards there is none. */
export function takeTapFd(index: number): { fd: number; name: string } | undefined {
  const t = passed.taps?.[index];
  if (passed.taps) passed.taps[index] = undefined;
  return t;
}
