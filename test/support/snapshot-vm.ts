// A clone test's parent: paused, snapshotted through its control socket, then killed.
import { join } from "node:path";
import { control, okReply } from "./control-client.js";
import type { RunningMoat } from "./moat-cli.js";

/**
 * Pauses `vm` (its control socket `sock`), snapshots it as `name` into its --snapshot-dir
 * `snaps` and kills it; resolves to the snapshot's directory.
 */
export async function snapshotAndKill(
  vm: RunningMoat,
  sock: string,
  snaps: string,
  name = "s",
): Promise<string> {
  const [paused, made] = await control(sock, [{ op: "pause" }, { op: "snapshot", name }]);
  okReply(paused as never);
  okReply(made as never);
  vm.p.kill("SIGKILL");
  await vm.done;
  return join(snaps, name);
}
