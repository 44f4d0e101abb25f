// Network throughput: iperf3 (Debian trixie riscv64, in the guest) against the host's iperf3
// server over a TAP device, guest -> host and host -> guest, moat's soft CPU with virtio-net
// against qemu-system-riscv64 (TCG) with virtio-net-device on the same TAP (userspace
// virtio-net: this host has no vhost), same kernel, initramfs and RAM. Runs as root.
//   npm run bench:net [-- RUNS]   (default 3 runs each; medians and ratios printed)
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO, capture, median } from "./capture.js";
import { toolsCpio, withShippedInitramfs } from "./debian-tools.js";

const TAP = "moatbench0";
const SECONDS = 5;

/** The receiver's Mbit/s of each iperf3 run in the output, in order. */
function receiverMbps(out: string): number[] {
  return [...out.matchAll(/([\d.]+) Mbits\/sec\s+receiver/g)].map((m) => Number(m[1]));
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 3);
  if (spawnSync("iperf3", ["-v"]).status !== 0)
    execFileSync("apt-get", ["install", "-y", "-qq", "iperf3"], { stdio: "inherit" });
  const dir = mkdtempSync(join(tmpdir(), "moat-bench-net-"));
  const initrd = withShippedInitramfs(
    REPO,
    await toolsCpio("iperf3", ["iperf3"]),
    join(dir, "initrd"),
  );
  spawnSync("ip", ["link", "del", TAP]);
  execFileSync("ip", ["tuntap", "add", "mode", "tap", "name", TAP]);
  execFileSync("ip", ["addr", "add", "10.99.0.1/24", "dev", TAP]);
  execFileSync("ip", ["link", "set", TAP, "up"]);
  const server = spawn("iperf3", ["-s", "-B", "10.99.0.1"], { stdio: "ignore" });
  const script =
    "ip link set eth0 up && ip addr add 10.99.0.2/24 dev eth0 && sleep 1 && " +
    `iperf3 -c 10.99.0.1 -t ${SECONDS} -f m && iperf3 -c 10.99.0.1 -t ${SECONDS} -f m -R`;
  const mac = "02:00:00:00:99:02";
  const results = { moat: [[], []] as number[][], qemu: [[], []] as number[][] };
  try {
    for (let i = 0; i < runs; i++) {
      const m = await capture(process.execPath, [
        "bin/moat.js",
        "run",
        "--initrd",
        initrd,
        "--memory",
        "256",
        "--net",
        `tap=${TAP},mac=${mac}`,
        "--",
        "sh",
        "-c",
        script,
      ]);
      const q = await capture("guest/qemu-run.sh", [
        "--initrd",
        initrd,
        "--mem",
        "256",
        "--qemu",
        "-netdev",
        "--qemu",
        `tap,id=n0,ifname=${TAP},script=no,downscript=no,vhost=off`,
        "--qemu",
        "-device",
        "--qemu",
        `virtio-net-device,netdev=n0,mac=${mac}`,
        "-c",
        script,
      ]);
      for (const [name, out] of [
        ["moat", m],
        ["qemu", q],
      ] as const) {
        const r = receiverMbps(out);
        if (r.length !== 2) throw new Error(`${name}: no iperf3 figures in:\n${out.slice(-2000)}`);
        results[name][0]!.push(r[0]!);
        results[name][1]!.push(r[1]!);
      }
      process.stderr.write(
        `run ${i + 1}: guest->host moat ${results.moat[0]!.at(-1)} qemu ${results.qemu[0]!.at(-1)} Mbit/s; ` +
          `host->guest moat ${results.moat[1]!.at(-1)} qemu ${results.qemu[1]!.at(-1)} Mbit/s\n`,
      );
    }
  } finally {
    server.kill();
    spawnSync("ip", ["link", "del", TAP]);
    rmSync(dir, { recursive: true, force: true });
  }
  for (const [d, label] of [
    [0, "guest -> host"],
    [1, "host -> guest"],
  ] as const) {
    const mo = median(results.moat[d]!);
    const qe = median(results.qemu[d]!);
    console.log(
      `iperf3 ${label}: moat ${mo.toFixed(1)} Mbit/s, qemu TCG ${qe.toFixed(1)} Mbit/s, ratio ${(mo / qe).toFixed(2)} (median of ${runs})`,
    );
  }
}

await main();
