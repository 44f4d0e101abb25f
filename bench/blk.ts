// Disk throughput: fio (Debian trixie riscv64, on a read-only ext4 tools disk, run in a chroot)
// on a virtio-blk disk, moat's soft CPU against qemu-system-riscv64 (TCG) with
// virtio-blk-device, same kernel, initramfs and RAM, the same kind of image made afresh for
// each VMM and run. Both hosts use the host page cache (moat's semantics; QEMU
// cache=writeback,aio=threads); the guest uses O_DIRECT so its own page cache is out of the way.
//   npm run bench:blk [-- RUNS] [--image raw|overlay|filled]   (default 3 runs of raw)
// Images (issue 23): raw, a 128 MiB raw file; overlay, a fresh qcow2 overlay on a raw base
// filled with data (reads go through to the base, writes allocate); filled, a qcow2 image whose
// every cluster is allocated (qemu-img convert of the filled raw file).
import { execFileSync } from "node:child_process";
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
  {
    key: "4 KiB random write IOPS",
    args: "--rw=randwrite --bs=4k --size=96M --runtime=5 --time_based",
  },
];
/** The jobs whose figure is IOPS (the others: MiB/s). */
const IOPS = new Set([2, 3]);

type Image = "raw" | "overlay" | "filled";

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

/** A fresh data disk of kind `image` in `dir`: its path and format. */
function dataDisk(dir: string, image: Image, n: number): { path: string; format: string } {
  const raw = join(dir, `base-${n}.raw`);
  const fd = openSync(raw, "w");
  ftruncateSync(fd, 128 << 20);
  closeSync(fd);
  if (image === "raw") return { path: raw, format: "raw" };
  // Data in every cluster: what a base image or a used disk holds.
  execFileSync("qemu-io", ["-f", "raw", "-c", "write -P 0x5a 0 128M", raw], { stdio: "ignore" });
  const q = join(dir, `data-${n}.qcow2`);
  if (image === "overlay")
    execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", "-b", raw, "-F", "raw", q]);
  else execFileSync("qemu-img", ["convert", "-f", "raw", "-O", "qcow2", raw, q]);
  return { path: q, format: "qcow2" };
}

async function main(): Promise<void> {
  const at = process.argv.indexOf("--image");
  const image = (at > 0 ? process.argv[at + 1] : "raw") as Image;
  if (!["raw", "overlay", "filled"].includes(image))
    throw new Error(`--image ${image}: raw, overlay or filled`);
  const runs = Number(
    process.argv[2] !== undefined && !process.argv[2].startsWith("--") ? process.argv[2] : 3,
  );
  const tools = await toolsExt4("fio", ["fio"]);
  // On the disk, not tmpfs: the same file system serves both VMMs.
  const dir = mkdtempSync("/var/tmp/moat-bench-blk-");
  const res = { moat: JOBS.map(() => [] as number[]), qemu: JOBS.map(() => [] as number[]) };
  let n = 0;
  try {
    for (let i = 0; i < runs; i++) {
      const md = dataDisk(dir, image, n++);
      const m = await capture(process.execPath, [
        "bin/moat.js",
        "run",
        "--memory",
        "256",
        "--disk",
        `${md.path},format=${md.format}`,
        "--disk",
        `${tools},ro`,
        "--",
        "sh",
        "-c",
        SCRIPT,
      ]);
      const qd = dataDisk(dir, image, n++);
      const q = await capture("guest/qemu-run.sh", [
        "--mem",
        "256",
        "--qemu",
        "-drive",
        "--qemu",
        `file=${qd.path},format=${qd.format},if=none,id=d0,cache=writeback,aio=threads`,
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
        r.forEach(([iops, mib], k) => res[name][k]!.push(IOPS.has(k) ? iops : mib));
      }
      if (md.format === "qcow2")
        for (const p of [md.path, qd.path]) execFileSync("qemu-img", ["check", "-q", p]);
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
  console.log(`image: ${image}`);
  JOBS.forEach((j, k) => {
    const mo = median(res.moat[k]!);
    const qe = median(res.qemu[k]!);
    console.log(
      `fio ${j.key}: moat ${mo.toFixed(1)}, qemu TCG ${qe.toFixed(1)}, ratio ${(mo / qe).toFixed(2)} (median of ${runs}; raw moat ${res.moat[k]!.join(" ")}, qemu ${res.qemu[k]!.join(" ")})`,
    );
  });
}

await main();
