// The SDK (src/sdk, docs/sdk.md), imported by the package's own name through package.json's
// "exports" (a self-reference: what `import "moat-vmm"` resolves to in an installed package):
// a real VM booted and a command run in it; a real `moat daemon` driven through the client.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { ApiClientError, VmConfigError, daemon, runVm, type Daemon } from "moat-vmm";
import {
  adminToken,
  newHome,
  startDaemon,
  stopDaemon,
  until,
  type DaemonProc,
  type Home,
} from "./support/moatd.js";

test("runVm boots the shipped guest, runs a command, gives its status, output and stdin", async () => {
  const r = await runVm(
    { accel: "soft", cpus: 1, memory_mib: 128 },
    ["sh", "-c", "uname -m; cat; exit 3"],
    {
      input: "from the host\n",
    },
  );
  assert.equal(r.status, 3, r.stderr);
  assert.equal(r.output.replaceAll("\r\n", "\n"), "riscv64\nfrom the host\n");
});

test("runVm refuses a bad config before starting anything, naming the field", async () => {
  await assert.rejects(
    runVm({ cpus: 0 }, ["true"]),
    (e: unknown) => e instanceof VmConfigError && /cpus/.test(e.message),
  );
});

let h: Home;
let d: DaemonProc;
let client: Daemon;
before(async () => {
  h = newHome({ reclaim: { enabled: false } });
  d = await startDaemon(h);
  client = daemon({ socket: h.socket, token: adminToken(h) });
});
after(() => stopDaemon(h, d));

test("daemon(): create, start, exec through the agent, stop and delete a VM", async () => {
  const vm = await client.createVm({ name: "sdk", memory_mib: 128, agent: { allow: ["exec"] } });
  assert.equal(vm.state, "created");
  assert.equal((await client.startVm("sdk")).name, "sdk");
  await until("running", async () => (await client.getVm("sdk")).state === "running", 30_000);
  assert.ok((await client.listVms()).some((v) => v.name === "sdk"));
  // The agent answers once the guest's userspace is up: poll for the answer itself.
  const ex = await until(
    "the guest agent's exec",
    () => client.exec("sdk", ["uname", "-m"]),
    120_000,
  );
  assert.equal(ex.exitCode, 0);
  assert.equal(ex.stdout.toString(), "riscv64\n");
  await client.stopVm("sdk", 10);
  await until("stopped", async () => (await client.getVm("sdk")).state === "stopped", 60_000);
  await client.deleteVm("sdk");
  await assert.rejects(
    client.getVm("sdk"),
    (e: unknown) => e instanceof ApiClientError && e.status === 404,
  );
});
