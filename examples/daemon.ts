// Drives a running `moat daemon` with moat's SDK: defines a VM, starts it, runs a command in it
// through its guest agent, then stops and deletes it. As root (the admin token), or with
// MOAT_TOKEN (or MOAT_TOKEN_FILE) and MOAT_SOCKET set: node dist/examples/daemon.js
import { daemon, type ExecResult } from "moat-vmm";

const d = daemon();
const name = "sdk-example";
await d.createVm({ name, memory_mib: 128, agent: { allow: ["exec"] } });
try {
  await d.startVm(name);
  // The guest agent answers once the guest's userspace is up: ask until it does.
  const end = Date.now() + 120_000;
  let r: ExecResult | undefined;
  while (!r) {
    try {
      r = await d.exec(name, ["uname", "-a"]);
    } catch (e) {
      if (Date.now() > end) throw e;
      await new Promise((ok) => setTimeout(ok, 500));
    }
  }
  process.stdout.write(r.stdout);
  await d.stopVm(name, 10);
} finally {
  await d.deleteVm(name, true);
}
