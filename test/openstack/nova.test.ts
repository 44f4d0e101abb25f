// moat as an OpenStack Nova hypervisor: a real Zed cloud from Debian's packages (Keystone, Glance,
// Placement, Nova, Neutron with the Linux-bridge agent, MariaDB, RabbitMQ; cloud.sh) with two
// nova-compute hosts, each driving its own moatd through nova.virt.moat, used with the real
// `openstack` CLI: instances boot moat's guest with their Neutron address, Placement decides
// where they go (capacity, and a trait per trust domain), lifecycle calls reach the right moatd,
// and each moatd's audit log names the driver's token for them.
//
// Not in `npm test` (it installs and starts a whole cloud): `npm run test:openstack`, which
// .ci/run calls after it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { moat } from "../support/moat-cli.js";
import { until } from "../support/moatd.js";
import {
  openstack,
  openstackJson,
  startCloud,
  stopCloud,
  type Cloud,
  type ComputeHost,
  createFlavor,
  uploadGuestImage,
} from "../support/openstack.js";

let cloud: Cloud;
let vaultPassword = "";
const A = "moat-a";
const B = "moat-b";

// Host A: 2 vCPUs (no overcommit) and about 1.1 GiB of guest memory; host B: 2 vCPUs and the
// rest of the machine's memory, and it also serves the trust domain "vault" (project vault).
before(async () => {
  cloud = await startCloud([
    {
      name: A,
      moatd: { policy: { cpuOvercommit: 1, memoryReserveMiB: 23000 } },
      moat: { accel: "soft", default_domain: "default", domains: "default" },
    },
    {
      name: B,
      moatd: { policy: { cpuOvercommit: 1 } },
      moat: {
        accel: "soft",
        default_domain: "default",
        domains: "default,vault",
        project_domains: "vault:vault",
      },
    },
  ]);
  console.log(`# cloud.sh up: ${cloud.upSeconds.toFixed(1)} s`);
  // The image, the flavors, and project vault with a member and a private flavor that requires
  // its trait.
  await uploadGuestImage(cloud);
  await createFlavor(cloud, "m1.tiny", 1, 128);
  await createFlavor(cloud, "m1.big", 1, 2048);
  await createFlavor(cloud, "m1.wide", 2, 128);
  vaultPassword = randomBytes(12).toString("hex");
  await openstack(cloud, ["project", "create", "vault"]);
  await openstack(cloud, [
    "user",
    "create",
    "--project",
    "vault",
    "--password",
    vaultPassword,
    "vault",
  ]);
  await openstack(cloud, ["role", "add", "--project", "vault", "--user", "vault", "member"]);
  const trait = ["--property", "trait:CUSTOM_MOAT_DOMAIN_VAULT=required"];
  await createFlavor(cloud, "m1.vault", 1, 128, ["--private", "--project", "vault", ...trait]);
});

after(async () => {
  if (cloud) await stopCloud(cloud);
});

const host = (name: string): ComputeHost => cloud.hosts.find((h) => h.name === name)!;

interface Server {
  id: string;
  status: string;
  "OS-EXT-SRV-ATTR:host": string | null;
  addresses: Record<string, string[]> | string;
  fault?: { message: string };
}

async function server(ref: string, env: Record<string, string> = {}): Promise<Server> {
  return openstackJson<Server>(cloud, ["server", "show", ref], env);
}

/** `openstack server create ... --wait`; returns the server and the seconds it took. */
async function create(
  name: string,
  flavor: string,
  env: Record<string, string> = {},
): Promise<{ s: Server; seconds: number }> {
  const t0 = Date.now();
  const args = ["server", "create", "--flavor", flavor, "--image", "moat-guest"];
  args.push("--nic", `net-id=${cloud.facts.NETWORK_ID}`, "--wait", name);
  await openstack(cloud, args, env).catch(() => undefined);
  const seconds = (Date.now() - t0) / 1000;
  return { s: await server(name, env), seconds };
}

async function remove(...names: string[]): Promise<void> {
  await openstack(cloud, ["server", "delete", "--wait", ...names]);
}

/** `moat ls` on a compute host's moatd: name -> "domain state". */
async function moatLs(name: string): Promise<Map<string, string>> {
  const h = host(name);
  const r = await moat([
    "--socket",
    h.home.socket,
    "--token-file",
    join(h.home.dir, "admin.token"),
    "ls",
    "--format",
    "name,domain,state",
  ]);
  assert.equal(r.status, 0, r.stderr);
  const out = new Map<string, string>();
  for (const line of r.stdout.trim().split("\n").filter(Boolean)) {
    const [n, d, s] = line.split("\t");
    out.set(n!, `${d} ${s}`);
  }
  return out;
}

async function waitStatus(name: string, status: string, env: Record<string, string> = {}) {
  return until(
    `${name} to be ${status}`,
    async () => {
      const s = await server(name, env);
      assert.notEqual(s.status, "ERROR", `${name}: ${s.fault?.message}`);
      return s.status === status ? s : undefined;
    },
    300_000,
  );
}

test("the cloud has two moat compute hosts, with moatd's capacity and a trait per trust domain", async () => {
  const services = await openstackJson<{ Host: string; State: string; Binary: string }[]>(cloud, [
    "compute",
    "service",
    "list",
    "--service",
    "nova-compute",
  ]);
  assert.deepEqual(services.map((s) => `${s.Host} ${s.State}`).sort(), [`${A} up`, `${B} up`]);
  const hypervisors = await openstackJson<
    { "Hypervisor Hostname": string; "Hypervisor Type": string }[]
  >(cloud, ["hypervisor", "list"]);
  assert.deepEqual(
    hypervisors.map((h) => `${h["Hypervisor Hostname"]} ${h["Hypervisor Type"]}`).sort(),
    [`${A} moat`, `${B} moat`],
  );
  for (const [name, traits, reserved] of [
    [A, ["CUSTOM_MOAT_DOMAIN_DEFAULT"], 23000],
    [B, ["CUSTOM_MOAT_DOMAIN_DEFAULT", "CUSTOM_MOAT_DOMAIN_VAULT"], 1024],
  ] as const) {
    const rp = await openstackJson<{ uuid: string }[]>(cloud, [
      "resource",
      "provider",
      "list",
      "--name",
      name,
    ]);
    const uuid = rp[0]!.uuid;
    const got = await openstackJson<{ name: string }[]>(cloud, [
      "resource",
      "provider",
      "trait",
      "list",
      uuid,
    ]);
    for (const t of traits)
      assert.ok(
        got.some((g) => g.name === t),
        `${name} lacks ${t}`,
      );
    assert.ok(
      !got.some(
        (g) => !(traits as readonly string[]).includes(g.name) && g.name.startsWith("CUSTOM_MOAT_"),
      ),
    );
    const inv = await openstackJson<
      { resource_class: string; total: number; reserved: number; allocation_ratio: number }[]
    >(cloud, ["resource", "provider", "inventory", "list", uuid]);
    const vcpu = inv.find((i) => i.resource_class === "VCPU")!;
    const mem = inv.find((i) => i.resource_class === "MEMORY_MB")!;
    assert.equal(vcpu.allocation_ratio, 1, "moatd's cpuOvercommit");
    assert.equal(mem.reserved, reserved, "moatd's memoryReserveMiB");
  }
});

test("server create boots a moat guest to its prompt with its Neutron address; lifecycle reaches moatd", async () => {
  const { s, seconds } = await create("s1", "m1.tiny");
  assert.equal(s.status, "ACTIVE", s.fault?.message);
  console.log(`# create to ACTIVE: ${seconds.toFixed(1)} s`);
  const on = s["OS-EXT-SRV-ATTR:host"]!;
  assert.ok(on === A || on === B, on);
  const ports = await openstackJson<
    { ID: string; "Fixed IP Addresses": { ip_address: string }[] }[]
  >(cloud, ["port", "list", "--server", s.id]);
  const ip = ports[0]!["Fixed IP Addresses"][0]!.ip_address;
  assert.match(ip, /^192\.0\.2\.\d+$/);
  // The guest printed the address its kernel has, then its shell's prompt.
  const log = await until(
    "the console to show the prompt",
    async () => {
      const text = await openstack(cloud, ["console", "log", "show", "s1"]);
      return text.includes("moat:/# ") ? text : undefined;
    },
    120_000,
  );
  assert.match(log, new RegExp(`moat\\.ip: eth0 inet ${ip.replace(/\./g, "\\.")}/24`));
  assert.equal((await moatLs(on)).get(s.id), "default running");
  assert.equal((await moatLs(on === A ? B : A)).has(s.id), false);
  // moat made the port's TAP (as the Linux-bridge agent names it) a port of the network's
  // bridge, and the agent of that host then set the port up.
  const tap = `tap${ports[0]!.ID.slice(0, 11)}`;
  const master = readFileSync(`/sys/class/net/${tap}/master/uevent`, "utf8");
  assert.match(master, new RegExp(`^INTERFACE=${cloud.facts.BRIDGE}$`, "m"));
  const port = await openstackJson<{ status: string; binding_host_id: string }>(cloud, [
    "port",
    "show",
    ports[0]!.ID,
  ]);
  assert.equal(port.status, "ACTIVE");
  assert.equal(port.binding_host_id, on);

  await openstack(cloud, ["server", "stop", "s1"]);
  await waitStatus("s1", "SHUTOFF");
  assert.equal((await moatLs(on)).get(s.id), "default stopped");
  await openstack(cloud, ["server", "start", "s1"]);
  await waitStatus("s1", "ACTIVE");
  assert.equal((await moatLs(on)).get(s.id), "default running");
  await openstack(cloud, ["server", "pause", "s1"]);
  await waitStatus("s1", "PAUSED");
  assert.equal((await moatLs(on)).get(s.id), "default paused");
  await openstack(cloud, ["server", "unpause", "s1"]);
  await waitStatus("s1", "ACTIVE");
  // A soft reboot (the guest shuts down through the power button, then starts), then a hard one
  // (killed, then started).
  await openstack(cloud, ["server", "reboot", "--wait", "s1"]);
  await waitStatus("s1", "ACTIVE");
  assert.equal((await moatLs(on)).get(s.id), "default running");
  await openstack(cloud, ["server", "reboot", "--hard", "--wait", "s1"]);
  await waitStatus("s1", "ACTIVE");
  assert.equal((await moatLs(on)).get(s.id), "default running");
  // Each boot printed its address again (the scrollback keeps the earlier boots): the first,
  // after the start, and after each reboot.
  await until(
    "the rebooted guest's address on its console",
    async () => {
      const text = await openstack(cloud, ["console", "log", "show", "s1"]);
      return (text.match(/moat\.ip: eth0 inet /g) ?? []).length >= 4;
    },
    120_000,
  );
  await remove("s1");
  assert.equal((await moatLs(on)).has(s.id), false);
});

test("Placement decides: a flavor that fits one host lands there; a full host sends the next to the other", async () => {
  // 2 GiB fits only host B (host A keeps about 1.1 GiB for guests).
  const big = await create("big", "m1.big");
  assert.equal(big.s.status, "ACTIVE", big.s.fault?.message);
  assert.equal(big.s["OS-EXT-SRV-ATTR:host"], B);
  assert.equal((await moatLs(B)).get(big.s.id), "default running");
  await remove("big");

  // Two vCPUs fill either host: the second such instance can only go to the other one, and a
  // third finds no host.
  const w1 = await create("w1", "m1.wide");
  assert.equal(w1.s.status, "ACTIVE", w1.s.fault?.message);
  const w2 = await create("w2", "m1.wide");
  assert.equal(w2.s.status, "ACTIVE", w2.s.fault?.message);
  const h1 = w1.s["OS-EXT-SRV-ATTR:host"];
  const h2 = w2.s["OS-EXT-SRV-ATTR:host"];
  assert.notEqual(h1, h2, "the second instance went to the host the first filled");
  assert.equal((await moatLs(h1!)).get(w1.s.id), "default running");
  assert.equal((await moatLs(h2!)).get(w2.s.id), "default running");
  const w3 = await create("w3", "m1.wide");
  assert.equal(w3.s.status, "ERROR");
  assert.match(w3.s.fault?.message ?? "", /No valid host/);
  await remove("w1", "w2", "w3");
});

test("a trait per trust domain keeps other projects off a host reserved for one", async () => {
  // Host B is reserved for project vault (moat domain "vault"): an aggregate that requires the
  // domain's trait, with isolating aggregate filtering on. A plain instance now goes to host A
  // although B has far more free memory (Nova's RAM weigher would pick B); vault's flavor,
  // which requires the trait, goes to B, into moat's domain "vault".
  await openstack(cloud, ["aggregate", "create", "vault-only"]);
  await openstack(cloud, ["aggregate", "add", "host", "vault-only", B]);
  await openstack(cloud, [
    "aggregate",
    "set",
    "--property",
    "trait:CUSTOM_MOAT_DOMAIN_VAULT=required",
    "vault-only",
  ]);
  const plain = await create("plain", "m1.tiny");
  assert.equal(plain.s.status, "ACTIVE", plain.s.fault?.message);
  assert.equal(plain.s["OS-EXT-SRV-ATTR:host"], A);
  const vaultEnv = { OS_PROJECT_NAME: "vault", OS_USERNAME: "vault", OS_PASSWORD: vaultPassword };
  const v = await create("v1", "m1.vault", vaultEnv);
  assert.equal(v.s.status, "ACTIVE", v.s.fault?.message);
  // A project member does not see the host; the admin does.
  assert.equal((await server(v.s.id))["OS-EXT-SRV-ATTR:host"], B);
  assert.equal((await moatLs(B)).get(v.s.id), "vault running");
  assert.equal((await moatLs(A)).get(plain.s.id), "default running");
  await openstack(cloud, ["server", "delete", "--wait", "v1"], vaultEnv);
  await remove("plain");
});

test("each moatd's audit log names the driver's token for its calls", () => {
  const byDriver = new Set<string>();
  for (const h of cloud.hosts) {
    const lines = readFileSync(join(h.home.dir, "audit.log"), "utf8")
      .trim()
      .split("\n")
      .map(
        (l) =>
          JSON.parse(l) as {
            actor: string;
            action: string;
            ok: boolean;
            detail: { status?: number };
          },
      );
    // The outcome lines (not the intents) of the driver's own token: "name#id".
    const mine = lines.filter(
      (l) => l.actor.startsWith(`${h.tokenName}#`) && l.detail.status !== undefined,
    );
    const actions = new Set(mine.map((l) => l.action));
    for (const a of ["vm.create", "vm.start", "vm.delete"])
      assert.ok(actions.has(a), `${h.name}: no ${a} by ${h.tokenName}: ${[...actions].join(" ")}`);
    for (const a of actions) byDriver.add(a);
  }
  for (const a of ["vm.stop", "vm.kill", "vm.pause", "vm.resume"])
    assert.ok(byDriver.has(a), `no ${a} by a driver: ${[...byDriver].join(" ")}`);
});
