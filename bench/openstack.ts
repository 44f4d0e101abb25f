// moat under OpenStack Nova (docs/openstack.md): what the cloud costs in time beside moat alone.
//
//   npm run build:ts && npm run bench:openstack [-- --runs R]
//
// 1. Set-up: `cloud.sh up` from nothing (MariaDB, RabbitMQ, Keystone, Glance, Placement, Nova,
//    Neutron and two nova-compute hosts on two moatds) to every service answering.
// 2. One instance, R runs: `openstack server create --wait` of a 1-vCPU 128 MiB flavor on the
//    provider network, from the command to ACTIVE (the guest is then booting or at its prompt);
//    then `openstack server delete --wait`. The first run also imports the Glance image into
//    moatd's store; it is shown apart, the median is of the runs after it.
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
    const nova: number[] = [];
    for (let r = 0; r <= RUNS; r++) {
      const t0 = Date.now();
      await openstack(cloud, [
        "server",
        "create",
        "--flavor",
        "m1.tiny",
        "--image",
        "moat-guest",
        "--nic",
        `net-id=${cloud.facts.NETWORK_ID}`,
        "--wait",
        `b${r}`,
      ]);
      nova.push((Date.now() - t0) / 1000);
      await openstack(cloud, ["server", "delete", "--wait", `b${r}`]);
    }
    // The peer: the first host's moatd, its admin token, the image the driver imported.
    const h = cloud.hosts[0]!;
    const g = ["--socket", h.home.socket, "--token-file", join(h.home.dir, "admin.token")];
    const images = await moat([...g, "image", "ls", "--json"]);
    const imageName = (JSON.parse(images.stdout || "[]") as { name: string }[])[0]?.name;
    if (!imageName) throw new Error(`no image in moatd's store: ${images.stderr}`);
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
    const n = median(nova.slice(1));
    const p = median(plain);
    console.log(`cloud set-up (cloud.sh up, two compute hosts): ${cloud.upSeconds.toFixed(1)} s`);
    console.log(
      `create to ACTIVE: openstack server create --wait ${n.toFixed(2)} s, moat create && moat start ${p.toFixed(2)} s, ratio ${(n / p).toFixed(1)} (median of ${RUNS})`,
    );
    console.log(
      `raw: first instance (imports the image) ${nova[0]!.toFixed(2)} s; nova ${nova
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
