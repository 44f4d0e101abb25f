/** How a VM ended. `status` is what `moat run` exits with. */
export interface VmExit {
  reason: "poweroff" | "reset" | "halt" | "panic" | "stopped";
  status: number;
  detail?: string;
  /** ms from process start to the guest's userspace marker, if it signalled one. */
  bootMarkMs?: number;
  /** Instructions the soft CPU retired, all harts together. */
  instructions?: bigint;
}
