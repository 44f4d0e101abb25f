// Disk throughput: fio (Debian trixie riscv64, on a read-only ext4 tools disk, run in a chroot)
// on a virtio-blk disk backed by the same raw file, moat's soft CPU against
// qemu-system-riscv64 (TCG) with virtio-blk-device, same kernel, initramfs and RAM. Both hosts
// use the host page cache (moat's semantics; QEMU cache=writeback,aio=threads); the guest
// uses O_DIRECT so its own page cache is out of the way.
//   npm run bench:blk [-- RUNS]   (default 3; medians and ratios printed)
import { closeSync, mkdtempSync, openSync, rmSync, ftruncateSync } from "node:fs";
import { join } from "node:path";
import { capture, median } from "./capture.js";
import { toolsExt4 } from "./debian-tools.js";

const JOBS = [
  { key: "seq write MiB/s", args: "--rw=write --bs=1M --size=96M" },
  { key: "seq read MiB/s", args: "--rw=read --bs=1M --size=96M" },
  {
    key: "4 KiB random read IOPS",
    args: "--rw=randread --bs=4k --size=96M --runtime=5 --time_based",
  },
];

// The tools disk is the one that mounts as ext4; the other is the raw data disk.
const SCRIPT =
  "for d in vda vdb; do mount -o ro -t ext4 /dev/$d /mnt 2>/dev/null && break; done; " +
  "[ $d = vda ] && data=vdb || data=vda; " +
  "mount -t devtmpfs dev /mnt/dev && mount -t proc proc /mnt/proc && " +
  JOBS.map(
    (j) =>
      `chroot /mnt fio --name=j --filename=/dev/$data --direct=1 --ioengine=psync ${j.args} | grep -E 'IOPS='`,
  ).join(" && ");

/** fio's "IOPS=N, BW=xMiB/s" lines, in job order: [IOPS, MiB/s] each. */
function parse(out: string): [number, number][] {
  return [...out.matchAll(/IOPS=([\d.]+)(k?), BW=([\d.]+)([KMG]i)B\/s/g)].map((m) => [
    Number(m[1]) * (m[2] === "k" ? 1000 : 1),
    Number(m[3]) * { Ki: 1 / 1024, Mi: 1, Gi: 1024 }[m[4] as "Ki" | "Mi" | "Gi"],
  ]);
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 3);
  const tools = await toolsExt4("fio", ["fio"]);
  // On the disk, not tmpfs: the same file system serves both VMMs.
  const dir = mkdtempSync("/var/tmp/moat-bench-blk-");
  const data = join(dir, "data.img");
  const fd = openSync(data, "w");
  ftruncateSync(fd, 128 << 20);
  closeSync(fd);
  const res = { moat: JOBS.map(() => [] as number[]), qemu: JOBS.map(() => [] as number[]) };
  try {
    for (let i = 0; i < runs; i++) {
      const m = await capture(process.execPath, [
        "bin/moat.js",
        "run",
        "--memory",
        "256",
        "--disk",
        data,
        "--disk",
        `${tools},ro`,
        "--",
        "sh",
        "-c",
        SCRIPT,
      ]);
      const q = await capture("guest/qemu-run.sh", [
        "--mem",
        "256",
        "--qemu",
        "-drive",
        "--qemu",
        `file=${data},format=raw,if=none,id=d0,cache=writeback,aio=threads`,
        "--qemu",
        "-device",
        "--qemu",
        "virtio-blk-device,drive=d0",
        "--qemu",
        "-drive",
        "--qemu",
        `file=${tools},format=raw,if=none,id=d1,readonly=on`,
        "--qemu",
        "-device",
        "--qemu",
        "virtio-blk-device,drive=d1",
        "-c",
        SCRIPT,
      ]);
      for (const [name, out] of [
        ["moat", m],
        ["qemu", q],
      ] as const) {
        const r = parse(out);
        if (r.length !== JOBS.length)
          throw new Error(`${name}: no fio figures in:\n${out.slice(-2000)}`);
        r.forEach(([iops, mib], k) => res[name][k]!.push(k === 2 ? iops : mib));
      }
      process.stderr.write(
        `run ${i + 1}: ` +
          JOBS.map(
            (j, k) => `${j.key} moat ${res.moat[k]!.at(-1)} qemu ${res.qemu[k]!.at(-1)}`,
          ).join("; ") +
          "\n",
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  JOBS.forEach((j, k) => {
    const mo = median(res.moat[k]!);
    const qe = median(res.qemu[k]!);
    console.log(
      `fio ${j.key}: moat ${mo.toFixed(1)}, qemu TCG ${qe.toFixed(1)}, ratio ${(mo / qe).toFixed(2)} (median of ${runs})`,
    );
  });
}

await main();
