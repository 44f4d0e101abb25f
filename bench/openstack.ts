// moat under OpenStack Nova (docs/openstack.md): what the cloud costs in time beside moat alone.
//
//   npm run build:ts && npm run bench:openstack [-- --runs R]
//
// 1. Set-up: `cloud.sh up` from nothing (MariaDB, RabbitMQ, Keystone, Glance, Placement, Nova,
//    Neutron and two nova-compute hosts on two moatds) to every service answering.
// 2. One instance, R runs, through Nova's API: POST /servers of a 1-vCPU 128 MiB flavor on the
//    provider network, then GET it every 50 ms until ACTIVE (the guest is then booting; the
//    driver waited for Neutron's network-vif-plugged); then it is deleted. The first run also
//    imports the Glance image into moatd's store; it is shown apart, the median is of the runs
//    after it. Once, `openstack server create --wait`: what a CLI user waits (it polls every 5 s).
// 3. The peer on the same machine in the same run: `moat create && moat start` of the same VM
//    (1 vCPU, 128 MiB, a thin overlay on the same image, a TAP NIC) through the same moatd with
//    the real CLI, from the command to `moat start` returning (the VM running); then `moat rm -f`.
// Prints medians, the ratio and the raw runs.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { moat } from "../test/support/moat-cli.js";
import {
  createFlavor,
  openstack,
  startCloud,
  stopCloud,
  uploadGuestImage,
} from "../test/support/openstack.js";
import { median } from "./capture.js";

const i = process.argv.indexOf("--runs");
const RUNS = i > 0 ? Number(process.argv[i + 1]) : 5;

async function main(): Promise<void> {
  const plan = (name: string) => ({
    name,
    moatd: {},
    moat: { accel: "soft", default_domain: "default" },
  });
  const cloud = await startCloud([plan("moat-a"), plan("moat-b")]);
  try {
    await uploadGuestImage(cloud);
    await createFlavor(cloud, "m1.tiny", 1, 128);
    // Through Nova's API (the CLI's --wait polls every 5 s, so it cannot time this): POST a
    // server, GET it every 50 ms until ACTIVE; then delete it and wait until it is gone.
    const token = (await openstack(cloud, ["token", "issue", "-f", "value", "-c", "id"])).trim();
    const id = async (what: string[]) =>
      (await openstack(cloud, [...what, "-f", "value", "-c", "id"])).trim();
    const flavorRef = await id(["flavor", "show", "m1.tiny"]);
    const imageRef = await id(["image", "show", "moat-guest"]);
    const nova = cloud.facts.NOVA_URL!;
    interface NovaServer {
      id: string;
      status: string;
      fault?: unknown;
    }
    const call = async (
      method: string,
      path: string,
      body?: unknown,
    ): Promise<{ server: NovaServer } | undefined> => {
      const r = await fetch(nova + path, {
        method,
        headers: { "X-Auth-Token": token, "Content-Type": "application/json" },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      if (r.status >= 300 && r.status !== 404)
        throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
      return r.status === 404
        ? undefined
        : ((await r.json().catch(() => ({}))) as { server: NovaServer });
    };
    const api: number[] = [];
    for (let r = 0; r <= RUNS; r++) {
      const t0 = performance.now();
      const made = await call("POST", "/servers", {
        server: {
          name: `b${r}`,
          flavorRef,
          imageRef,
          networks: [{ uuid: cloud.facts.NETWORK_ID }],
        },
      });
      const sid = made!.server.id;
      for (;;) {
        const s = (await call("GET", `/servers/${sid}`))!.server;
        if (s.status === "ACTIVE") break;
        if (s.status === "ERROR") throw new Error(`b${r}: ERROR ${JSON.stringify(s.fault)}`);
        if (performance.now() - t0 > 300_000) throw new Error(`b${r}: not ACTIVE in 300 s`);
        await new Promise((res) => setTimeout(res, 50));
      }
      api.push((performance.now() - t0) / 1000);
      await call("DELETE", `/servers/${sid}`);
      while (await call("GET", `/servers/${sid}`)) await new Promise((res) => setTimeout(res, 100));
    }
    // What a user of the CLI sees: openstack server create --wait.
    const t1 = performance.now();
    const cliArgs = ["server", "create", "--flavor", "m1.tiny", "--image", "moat-guest"];
    await openstack(cloud, [
      ...cliArgs,
      "--nic",
      `net-id=${cloud.facts.NETWORK_ID}`,
      "--wait",
      "cli",
    ]);
    const cli = (performance.now() - t1) / 1000;
    await openstack(cloud, ["server", "delete", "--wait", "cli"]);
    // The peer: a host's moatd, its admin token, the image the driver imported there.
    let g: string[] = [];
    let imageName: string | undefined;
    for (const h of cloud.hosts) {
      g = ["--socket", h.home.socket, "--token-file", join(h.home.dir, "admin.token")];
      const images = await moat([...g, "image", "ls", "--json"]);
      imageName = (JSON.parse(images.stdout || "[]") as { name: string }[])[0]?.name;
      if (imageName) break;
    }
    if (!imageName) throw new Error("no image in either moatd's store");
    const plain: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const t0 = Date.now();
      const c = await moat([
        ...g,
        "create",
        "--name",
        `p${r}`,
        "--cpus",
        "1",
        "--memory",
        "128",
        "--disk",
        `image=${imageName}`,
        "--net",
        `tap=tapbench${r}`,
      ]);
      if (c.status !== 0) throw new Error(`moat create: ${c.stderr}`);
      const s = await moat([...g, "start", `p${r}`]);
      if (s.status !== 0) throw new Error(`moat start: ${s.stderr}`);
      plain.push((Date.now() - t0) / 1000);
      await moat([...g, "rm", "-f", `p${r}`]);
    }
    const n = median(api.slice(1));
    const p = median(plain);
    console.log(`cloud set-up (cloud.sh up, two compute hosts): ${cloud.upSeconds.toFixed(1)} s`);
    console.log(
      `create to ACTIVE: Nova's API ${n.toFixed(2)} s, moat create && moat start ${p.toFixed(2)} s, ratio ${(n / p).toFixed(1)} (median of ${RUNS}); openstack server create --wait ${cli.toFixed(2)} s (it polls every 5 s)`,
    );
    console.log(
      `raw: first instance (imports the image) ${api[0]!.toFixed(2)} s; nova ${api
        .slice(1)
        .map((x) => x.toFixed(2))
        .join(" ")}; moat ${plain.map((x) => x.toFixed(2)).join(" ")}`,
    );
    const rss = spawnSync(
      "bash",
      [
        "-c",
        "ps -eo rss,args | grep -E 'uwsgi|nova-|neutron-|glance-|mariadbd|beam.smp' | grep -v grep | awk '{s+=$1} END {print s}'",
      ],
      { encoding: "utf8" },
    );
    console.log(
      `control plane RSS (uwsgi, nova-*, neutron-*, glance, MariaDB, RabbitMQ): ${(Number(rss.stdout.trim()) / 1024).toFixed(0)} MiB`,
    );
  } finally {
    await stopCloud(cloud);
  }
}

await main();
