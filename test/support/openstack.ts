// Test support for the OpenStack cloud of test/openstack/: two moat daemons (one per compute
// host, each with a token of its own for the Nova driver) and the cloud that
// integrations/openstack/cloud.sh brings up on them, driven with the real `openstack` CLI.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO, runCommand } from "./moat-cli.js";
import {
  adminToken,
  api,
  newHome,
  startDaemon,
  stopDaemon,
  type DaemonProc,
  type Home,
  until,
} from "./moatd.js";

const CLOUD_SH = join(REPO, "integrations/openstack/cloud.sh");

export interface ComputeHost {
  /** Nova's `host =`, the Linux-bridge agent's too. */
  name: string;
  home: Home;
  daemon: DaemonProc;
  /** The moatd token the driver uses (role operator), and its file. */
  tokenName: string;
  tokenFile: string;
  /** HostPlan.conf. */
  conf: string;
}

export interface Cloud {
  state: string;
  /** The environment of the `openstack` CLI as the cloud's admin. */
  env: NodeJS.ProcessEnv;
  /** cloud.sh's facts (network and subnet ids, ...). */
  facts: Record<string, string>;
  hosts: ComputeHost[];
  /** Seconds `cloud.sh up` took. */
  upSeconds: number;
}

export interface HostPlan {
  name: string;
  /** moatd's config.json for the host. */
  moatd: Record<string, unknown>;
  /** Lines of the driver's [moat] section beyond socket and token_file. */
  moat: Record<string, string>;
  /** Other sections of the host's nova.conf, as text (kept by reloadCompute). */
  conf?: string;
}

/** Sourceable `export NAME=VALUE` (or NAME=VALUE) lines, as a map. */
export function shellVars(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!.replace(/^(['"])(.*)\1$/, "$2");
  }
  return out;
}

/** Starts a moatd per host, then the cloud on them (cloud.sh up). */
export async function startCloud(plans: HostPlan[]): Promise<Cloud> {
  const state = mkdtempSync(join(tmpdir(), "moat-os-"));
  const hosts: ComputeHost[] = [];
  const cloud: Cloud = { state, env: {}, facts: {}, hosts, upSeconds: 0 };
  try {
    const args = ["up", state];
    for (const plan of plans) {
      const home = newHome(plan.moatd);
      const daemon = await startDaemon(home);
      const tokenName = `nova-${plan.name}`;
      const made = await api(home.socket, adminToken(home), "POST", "/v1/tokens", {
        name: tokenName,
        role: "operator",
      });
      if (made.status !== 201) throw new Error(`token: ${made.status} ${made.text}`);
      const tokenFile = join(state, `${plan.name}.token`);
      writeFileSync(tokenFile, (made.body as { token: string }).token, { mode: 0o600 });
      const h = { name: plan.name, home, daemon, tokenName, tokenFile, conf: plan.conf ?? "" };
      hosts.push(h);
      args.push("--compute", `${plan.name}:${writeMoatConf(state, h, plan.moat)}`);
    }
    const t0 = Date.now();
    const up = await runCommand("bash", [CLOUD_SH, ...args], { timeoutMs: 15 * 60_000 });
    cloud.upSeconds = (Date.now() - t0) / 1000;
    if (up.status !== 0)
      throw new Error(`cloud.sh up failed (${up.status}):\n${up.stdout}\n${up.stderr}`);
    cloud.env = {
      ...process.env,
      ...shellVars(readFileSync(join(state, "admin-openrc"), "utf8")),
      // Traits need Placement 1.6 or later; Zed's Placement serves up to 1.39.
      OS_PLACEMENT_API_VERSION: "1.39",
    };
    cloud.facts = shellVars(readFileSync(join(state, "cloud.env"), "utf8"));
    return cloud;
  } catch (e) {
    await stopCloud(cloud);
    throw e;
  }
}

/** The loopback ports cloud.sh's services listen on (Keystone ... RabbitMQ's distribution). */
const CLOUD_PORTS = [5000, 9292, 8778, 8774, 9696, 5672, 25672];

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.on("connect", () => (s.destroy(), resolve(true)));
    s.on("error", () => resolve(false));
  });
}

/**
 * Stops the cloud (cloud.sh down) and the moat daemons with their VMs; removes their files.
 * Throws when a service still listens afterwards: down left it running.
 */
export async function stopCloud(c: Cloud): Promise<void> {
  const down = spawnSync("bash", [CLOUD_SH, "down", c.state], { encoding: "utf8" });
  for (const h of c.hosts) await stopDaemon(h.home, h.daemon);
  if (down.status !== 0) throw new Error(`cloud.sh down failed: ${down.stderr}`);
  const left: number[] = [];
  for (const port of CLOUD_PORTS) if (await listening(port)) left.push(port);
  if (left.length > 0)
    throw new Error(`cloud.sh down left services listening on 127.0.0.1: ${left.join(" ")}`);
  rmSync(c.state, { recursive: true, force: true });
}

/** The [moat] section of a host's nova.conf, as startCloud and reloadCompute write it. */
function writeMoatConf(state: string, h: ComputeHost, moat: Record<string, string>): string {
  const conf = join(state, `${h.name}-moat.conf`);
  const lines = ["[moat]", `socket = ${h.home.socket}`, `token_file = ${h.tokenFile}`];
  for (const [k, v] of Object.entries(moat)) lines.push(`${k} = ${v}`);
  writeFileSync(conf, lines.join("\n") + "\n" + h.conf);
  return conf;
}

/**
 * Rewrites a compute host's [moat] section and has its nova-compute re-read it (SIGHUP: Nova
 * mutates its mutable options, as an operator reloads one); waits until its log says the
 * options changed.
 */
export async function reloadCompute(
  c: Cloud,
  name: string,
  moat: Record<string, string>,
): Promise<void> {
  const h = c.hosts.find((x) => x.name === name)!;
  writeMoatConf(c.state, h, moat);
  const log = join(c.facts.LOG_DIR!, `nova-compute-${name}.log`);
  const before = readFileSync(log, "utf8").length;
  const pid = Number(readFileSync(join(c.state, "pids", `nova-compute-${name}.pid`), "utf8"));
  process.kill(pid, "SIGHUP");
  await until(
    `nova-compute ${name} to re-read its [moat] options`,
    () => /Option moat\.\w+ changed from/.test(readFileSync(log, "utf8").slice(before)),
    60_000,
  );
}

/** `openstack ARGS` as the cloud's admin (or with `env`'s overrides); throws on failure. */
export async function openstack(
  c: Cloud,
  args: string[],
  env: Record<string, string> = {},
): Promise<string> {
  const r = await runCommand("openstack", args, { env: { ...c.env, ...env }, timeoutMs: 600_000 });
  if (r.status !== 0)
    throw new Error(`openstack ${args.join(" ")} failed (${r.status}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** `openstack ARGS -f json`, parsed. */
export async function openstackJson<T = Record<string, unknown>>(
  c: Cloud,
  args: string[],
  env: Record<string, string> = {},
): Promise<T> {
  return JSON.parse(await openstack(c, [...args, "-f", "json"], env)) as T;
}

/**
 * Uploads `moat-guest` to Glance: a raw 4 MiB disk (moat's shipped kernel and initramfs boot, as
 * the image names none), public.
 */
export async function uploadGuestImage(c: Cloud): Promise<void> {
  const image = join(c.state, "disk.raw");
  writeFileSync(image, Buffer.alloc(4 << 20));
  const args = ["image", "create", "--disk-format", "raw", "--container-format", "bare"];
  await openstack(c, [...args, "--public", "--file", image, "moat-guest"]);
}

/** `openstack flavor create` of `vcpus` and `ramMiB` with a 1 GB disk, and `extra` arguments. */
export async function createFlavor(
  c: Cloud,
  name: string,
  vcpus: number,
  ramMiB: number,
  extra: string[] = [],
): Promise<void> {
  const args = ["flavor", "create", "--vcpus", `${vcpus}`, "--ram", `${ramMiB}`, "--disk", "1"];
  await openstack(c, [...args, ...extra, name]);
}
