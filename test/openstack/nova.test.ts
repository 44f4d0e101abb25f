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
import { readFileSync, writeFileSync } from "node:fs";
import { totalmem } from "node:os";
import { gunzipSync } from "node:zlib";
import { join } from "node:path";
import { moat, REPO } from "../support/moat-cli.js";
import { adminToken, api, until } from "../support/moatd.js";
import {
  openstack,
  openstackJson,
  startCloud,
  stopCloud,
  type Cloud,
  type ComputeHost,
  createFlavor,
  reloadCompute,
  uploadGuestImage,
} from "../support/openstack.js";

let cloud: Cloud;
let vaultPassword = "";
const A = "moat-a";
const B = "moat-b";
const C = "moat-c";
const IMAGE_CACHE =
  "[image_cache]\nmanager_interval = 5\nremove_unused_original_minimum_age_seconds = 0\n";
/** The host's memory as moatd counts it (MemTotal), MiB. */
const HOST_MIB = Math.floor(totalmem() / 2 ** 20);

// Three compute hosts, each its own moatd:
// - A: 3 vCPUs (moatd's cpuOvercommit 1.5 on 2 cores) and about 1.1 GiB for guests;
// - B: 2 vCPUs and the rest of the machine's memory;
// - C: reserved for project vault: it serves only moat trust domain "vault", and an aggregate
//   requires the domain's trait there, so only vault's flavor is placed on it.
before(async () => {
  cloud = await startCloud([
    {
      name: A,
      moatd: { policy: { cpuOvercommit: 1.5, memoryReserveMiB: HOST_MIB - 1100 } },
      moat: { accel: "soft", domains: "default" },
    },
    {
      name: B,
      moatd: { policy: { cpuOvercommit: 1 } },
      moat: { accel: "soft", domains: "default" },
    },
    {
      name: C,
      moatd: { policy: { cpuOvercommit: 1 } },
      moat: { accel: "soft", domains: "vault" },
      // Nova's image cache pass every 5 s, removing what no VM uses at once.
      conf: IMAGE_CACHE,
    },
  ]);
  console.log(`cloud.sh up: ${cloud.upSeconds.toFixed(1)} s`);
  await uploadGuestImage(cloud);
  await createFlavor(cloud, "m1.tiny", 1, 128);
  await createFlavor(cloud, "m1.quad", 3, 128);
  await createFlavor(cloud, "m1.wide", 2, 128);
  // Project vault, a member, a private flavor that requires the domain's trait, the aggregate
  // that keeps everyone else off C, and C's driver told the project's id (mutable: SIGHUP).
  vaultPassword = randomBytes(12).toString("hex");
  const vault = await openstackJson<{ id: string }>(cloud, ["project", "create", "vault"]);
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
  await openstack(cloud, ["aggregate", "create", "vault-only"]);
  await openstack(cloud, ["aggregate", "add", "host", "vault-only", C]);
  await openstack(cloud, ["aggregate", "set", ...trait, "vault-only"]);
  await reloadCompute(cloud, C, {
    accel: "soft",
    domains: "vault",
    project_domains: `${vault.id}:vault`,
  });
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
  image = "moat-guest",
): Promise<{ s: Server; seconds: number }> {
  const t0 = Date.now();
  const args = ["server", "create", "--flavor", flavor, "--image", image];
  args.push("--nic", `net-id=${cloud.facts.NETWORK_ID}`, "--wait", name);
  await openstack(cloud, args, env).catch(() => undefined);
  const seconds = (Date.now() - t0) / 1000;
  return { s: await server(name, env), seconds };
}

/** `openstack console log show NAME`, once `ok` holds for it (the guest prints as it boots). */
async function consoleUntil(name: string, what: string, ok: (text: string) => boolean) {
  return until(
    what,
    async () => {
      const text = await openstack(cloud, ["console", "log", "show", name]);
      return ok(text) ? text : undefined;
    },
    120_000,
  );
}

async function providerOf(name: string): Promise<string> {
  const rp = await openstackJson<{ uuid: string }[]>(cloud, [
    "resource",
    "provider",
    "list",
    "--name",
    name,
  ]);
  return rp[0]!.uuid;
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

test("the cloud has three moat compute hosts with moatd's limits and a trait per trust domain", async () => {
  const services = await openstackJson<{ Host: string; State: string }[]>(cloud, [
    "compute",
    "service",
    "list",
    "--service",
    "nova-compute",
  ]);
  assert.deepEqual(services.map((s) => `${s.Host} ${s.State}`).sort(), [
    `${A} up`,
    `${B} up`,
    `${C} up`,
  ]);
  const hypervisors = await openstackJson<
    { "Hypervisor Hostname": string; "Hypervisor Type": string }[]
  >(cloud, ["hypervisor", "list"]);
  assert.deepEqual(
    hypervisors.map((h) => `${h["Hypervisor Hostname"]} ${h["Hypervisor Type"]}`).sort(),
    [`${A} moat`, `${B} moat`, `${C} moat`],
  );
  for (const [name, trait] of [
    [A, "CUSTOM_MOAT_DOMAIN_DEFAULT"],
    [B, "CUSTOM_MOAT_DOMAIN_DEFAULT"],
    [C, "CUSTOM_MOAT_DOMAIN_VAULT"],
  ] as const) {
    const uuid = await providerOf(name);
    const got = await openstackJson<{ name: string }[]>(cloud, [
      "resource",
      "provider",
      "trait",
      "list",
      uuid,
    ]);
    assert.deepEqual(
      got.map((g) => g.name).filter((t) => t.startsWith("CUSTOM_MOAT_")),
      [trait],
      name,
    );
    // Placement's inventory is moatd's admission limits, so both admit the same.
    const h = host(name);
    const cap = (await api(h.home.socket, adminToken(h.home), "GET", "/v1/host")).body as {
      capacity: { vcpus_limit: number; memory_limit_mib: number };
    };
    const inv = await openstackJson<
      { resource_class: string; total: number; allocation_ratio: number }[]
    >(cloud, ["resource", "provider", "inventory", "list", uuid]);
    const vcpu = inv.find((i) => i.resource_class === "VCPU")!;
    const mem = inv.find((i) => i.resource_class === "MEMORY_MB")!;
    assert.deepEqual(
      [vcpu.total, vcpu.allocation_ratio],
      [cap.capacity.vcpus_limit, 1],
      `${name} VCPU`,
    );
    assert.deepEqual(
      [mem.total, mem.allocation_ratio],
      [cap.capacity.memory_limit_mib, 1],
      `${name} MEMORY_MB`,
    );
  }
});

test("server create boots a moat guest to its prompt with its Neutron address; lifecycle reaches moatd", async () => {
  const { s, seconds } = await create("s1", "m1.tiny");
  assert.equal(s.status, "ACTIVE", s.fault?.message);
  console.log(`create to ACTIVE: ${seconds.toFixed(1)} s`);
  const on = s["OS-EXT-SRV-ATTR:host"]!;
  assert.ok(on === A || on === B, on);
  const ports = await openstackJson<
    { ID: string; "Fixed IP Addresses": { ip_address: string }[] }[]
  >(cloud, ["port", "list", "--server", s.id]);
  const ip = ports[0]!["Fixed IP Addresses"][0]!.ip_address;
  assert.match(ip, /^192\.0\.2\.\d+$/);
  // The guest printed the address its kernel has, then its shell's prompt.
  const log = await consoleUntil("s1", "the console to show the prompt", (t) =>
    t.includes("moat:/# "),
  );
  assert.match(log, new RegExp(`moat\\.ip: eth0 inet ${ip.replace(/\./g, "\\.")}/24`));
  assert.equal((await moatLs(on)).get(s.id), "default running");
  for (const other of [A, B, C].filter((n) => n !== on))
    assert.equal((await moatLs(other)).has(s.id), false, other);
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
  await consoleUntil(
    "s1",
    "the rebooted guest's address on its console",
    (t) => (t.match(/moat\.ip: eth0 inet /g) ?? []).length >= 4,
  );
  await remove("s1");
  assert.equal((await moatLs(on)).has(s.id), false);
});

test("Placement decides: a flavor that fits one host lands there; a full host sends the next to the other", async () => {
  // 3 vCPUs: only host A has them (B has 2; C is vault's). Placement offers A alone.
  const candidates = await openstackJson<{ "resource provider": string }[]>(cloud, [
    "allocation",
    "candidate",
    "list",
    "--resource",
    "VCPU=3",
    "--resource",
    "MEMORY_MB=128",
  ]);
  assert.deepEqual(
    candidates.map((c) => c["resource provider"]),
    [await providerOf(A)],
  );
  const quad = await create("quad", "m1.quad");
  assert.equal(quad.s.status, "ACTIVE", quad.s.fault?.message);
  assert.equal(quad.s["OS-EXT-SRV-ATTR:host"], A);
  assert.equal((await moatLs(A)).get(quad.s.id), "default running");
  await remove("quad");

  // Two vCPUs fit on A (3) or B (2), not twice on either: the second such instance can only go
  // to the host the first did not fill, and a third finds no host (C is vault's).
  const w1 = await create("w1", "m1.wide");
  assert.equal(w1.s.status, "ACTIVE", w1.s.fault?.message);
  const w2 = await create("w2", "m1.wide");
  assert.equal(w2.s.status, "ACTIVE", w2.s.fault?.message);
  const h1 = w1.s["OS-EXT-SRV-ATTR:host"];
  const h2 = w2.s["OS-EXT-SRV-ATTR:host"];
  assert.deepEqual(
    [h1, h2].sort(),
    [A, B],
    "the second instance went to the host the first did not fill",
  );
  assert.equal((await moatLs(h1!)).get(w1.s.id), "default running");
  assert.equal((await moatLs(h2!)).get(w2.s.id), "default running");
  const w3 = await create("w3", "m1.wide");
  assert.equal(w3.s.status, "ERROR");
  assert.match(w3.s.fault?.message ?? "", /No valid host/);
  await remove("w1", "w2", "w3");
});

test("an image's kernel_id, ramdisk_id and os_command_line boot from Glance", async () => {
  // moat's own kernel and initramfs, uploaded as Glance kernel and ramdisk images, named by a
  // disk image's properties: the driver downloads them into moatd's image directory, and the
  // command line (without "quiet", so the kernel prints it) gets the port's moat.ip= after it.
  const kernel = join(cloud.state, "Image");
  writeFileSync(kernel, gunzipSync(readFileSync(join(REPO, "guest/riscv64/Image.gz"))));
  const up = ["image", "create", "--public", "--file"];
  const k = await openstackJson<{ id: string }>(cloud, [
    ...up,
    kernel,
    "--disk-format",
    "aki",
    "--container-format",
    "aki",
    "moat-kernel",
  ]);
  const initrd = join(REPO, "guest/riscv64/initramfs.cpio.gz");
  const r = await openstackJson<{ id: string }>(cloud, [
    ...up,
    initrd,
    "--disk-format",
    "ari",
    "--container-format",
    "ari",
    "moat-initrd",
  ]);
  const disk = join(cloud.state, "disk.raw");
  const props = [
    `kernel_id=${k.id}`,
    `ramdisk_id=${r.id}`,
    "os_command_line=console=ttyS0 panic=-1 moat.from=glance",
  ];
  await openstack(cloud, [
    ...up,
    disk,
    "--disk-format",
    "raw",
    "--container-format",
    "bare",
    ...props.flatMap((p) => ["--property", p]),
    "moat-own-kernel",
  ]);
  const { s, seconds } = await create("k1", "m1.tiny", {}, "moat-own-kernel");
  assert.equal(s.status, "ACTIVE", `${s.fault?.message} after ${seconds} s`);
  const log = await consoleUntil("k1", "the console to show the prompt", (t) =>
    t.includes("moat:/# "),
  );
  assert.match(
    log,
    /Kernel command line: console=ttyS0 panic=-1 moat\.from=glance moat\.ip=eth0,192\.0\.2\.\d+\/24/,
  );
  assert.match(log, /moat\.ip: eth0 inet 192\.0\.2\.\d+\/24/);
  const h = host(s["OS-EXT-SRV-ATTR:host"]!);
  const vm = (await api(h.home.socket, adminToken(h.home), "GET", `/v1/vms/${s.id}`)).body as {
    spec: { kernel: string; initrd: string };
  };
  assert.equal(vm.spec.kernel, join(h.home.dir, "images", `glance-${k.id}`));
  assert.equal(vm.spec.initrd, join(h.home.dir, "images", `glance-${r.id}`));
  await remove("k1");
});

test("a trait per trust domain keeps other projects off a host reserved for one", async () => {
  // C is reserved for project vault (set up in before()): isolating aggregate filtering keeps
  // instances whose flavor does not require CUSTOM_MOAT_DOMAIN_VAULT off it, although C has the
  // most free memory; vault's private flavor requires it, so vault's instance goes to C, into
  // moat's trust domain "vault".
  const plain = await create("plain", "m1.tiny");
  assert.equal(plain.s.status, "ACTIVE", plain.s.fault?.message);
  assert.notEqual(plain.s["OS-EXT-SRV-ATTR:host"], C);
  assert.equal((await moatLs(plain.s["OS-EXT-SRV-ATTR:host"]!)).get(plain.s.id), "default running");
  const vaultEnv = { OS_PROJECT_NAME: "vault", OS_USERNAME: "vault", OS_PASSWORD: vaultPassword };
  const v = await create("v1", "m1.vault", vaultEnv);
  assert.equal(v.s.status, "ACTIVE", v.s.fault?.message);
  // A project member does not see the host; the admin does.
  assert.equal((await server(v.s.id))["OS-EXT-SRV-ATTR:host"], C);
  assert.equal((await moatLs(C)).get(v.s.id), "vault running");
  // Asking for the trait another way (an image property) gets another project past Placement,
  // but C's driver serves domain vault only and refuses it; no other host has the trait, so the
  // build fails and nothing of it runs on C.
  const image = join(cloud.state, "disk.raw");
  const props = ["--property", "trait:CUSTOM_MOAT_DOMAIN_VAULT=required"];
  await openstack(cloud, [
    "image",
    "create",
    "--disk-format",
    "raw",
    "--container-format",
    "bare",
    "--file",
    image,
    ...props,
    "sneaky",
  ]);
  const { s: sneak } = await create("sneak", "m1.tiny", {}, "sneaky");
  assert.equal(sneak.status, "ERROR");
  assert.deepEqual([...(await moatLs(C)).keys()], [v.s.id]);
  const log = readFileSync(join(cloud.facts.LOG_DIR!, `nova-compute-${C}.log`), "utf8");
  assert.match(log, /runs in trust domain 'default', which host moat-c does not serve/);
  await openstack(cloud, ["server", "delete", "--wait", "v1"], vaultEnv);
  await remove("plain", "sneak");
  // C's image cache pass (every 5 s there) removes the image it imported once no VM uses it.
  const c = host(C);
  await until(
    "C's image cache pass to remove the unused image",
    async () => {
      const images = (await api(c.home.socket, adminToken(c.home), "GET", "/v1/images")).body;
      return Array.isArray(images) && images.length === 0;
    },
    60_000,
  );
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
