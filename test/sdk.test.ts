// The SDK (src/sdk, docs/sdk.md), imported by the package's own name through package.json's
// "exports" (a self-reference: what `import "moat-vmm"` resolves to in an installed package):
// a real VM booted and a command run in it; a real `moat daemon` driven through the client.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { REPO } from "./support/moat-cli.js";
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

/** Runs a compiled example (examples/, typed against the package's declarations). */
function example(name: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [`dist/examples/${name}.js`, ...args], {
    cwd: REPO,
    encoding: "utf8",
    env: { ...process.env, ...env },
    timeout: 180_000,
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

test("examples/run-command.ts runs a command in a VM", () => {
  assert.equal(example("run-command", ["sh", "-c", "exit 5"]), "exit status 5\n");
  assert.match(example("run-command", ["uname", "-sm"]), /^Linux riscv64\r?\nexit status 0\n$/);
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
  // Snapshot it, and restore it as another VM whose agent answers at once: no boot.
  const snap = await client.snapshotVm("sdk", "sdk-snap");
  assert.equal(snap.name, "sdk-snap");
  assert.deepEqual(
    (await client.listSnapshots()).map((s) => s.name),
    ["sdk-snap"],
  );
  assert.equal((await client.restoreVm("sdk-snap", "sdk2")).name, "sdk2");
  const again = await until(
    "the restored guest's agent",
    () => client.exec("sdk2", ["cat", "/proc/uptime"]),
    60_000,
  );
  assert.equal(again.exitCode, 0);
  await client.deleteVm("sdk2", true);
  await client.deleteSnapshot("sdk-snap");
  assert.deepEqual(await client.listSnapshots(), []);
  await client.stopVm("sdk", 10);
  await until("stopped", async () => (await client.getVm("sdk")).state === "stopped", 60_000);
  await client.deleteVm("sdk");
  await assert.rejects(
    client.getVm("sdk"),
    (e: unknown) => e instanceof ApiClientError && e.status === 404,
  );
});

test("examples/daemon.ts drives the daemon and leaves no VM behind", async () => {
  const out = example("daemon", [], { MOAT_SOCKET: h.socket, MOAT_TOKEN: adminToken(h) });
  assert.match(out, /^Linux moat .* riscv64/);
  assert.deepEqual(await client.listVms(), []);
});
