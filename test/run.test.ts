// Integration: the real `moat run` booting the shipped riscv64 guest on the soft CPU.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { MOAT, REPO, moat } from "./support/moat-cli.js";
import { moatOnTty } from "./support/tty.js";
import { SHIPPED_INITRD_GZ } from "../src/boot/shipped-guest.js";
import { CPU_TIERS } from "../src/accel/soft/cpu-tier.js";

test("uname -m prints riscv64 and exits 0", async () => {
  const r = await moat(["run", "--", "uname", "-m"]);
  assert.equal(r.stdout, "riscv64\n", r.stderr);
  assert.equal(r.status, 0);
});

test("the guest command's exit status is moat's", async () => {
  const r = await moat(["run", "--", "sh", "-c", "exit 7"]);
  assert.equal(r.status, 7, r.stderr);
  const r2 = await moat(["run", "--", "false"]);
  assert.equal(r2.status, 1, r2.stderr);
});

test("arguments reach the guest intact, quotes and all", async () => {
  const r = await moat(["run", "--", "printf", "[%s]\\n", "a b", "it's", "$HOME", ""]);
  assert.equal(r.stdout, "[a b]\n[it's]\n[$HOME]\n[]\n", r.stderr);
});

test("--cpus 2 gives the guest two CPUs", async () => {
  const r = await moat(["run", "--cpus", "2", "--", "nproc"]);
  assert.equal(r.stdout.trim(), "2", r.stderr);
  assert.equal(r.status, 0);
});

test("the guest's clock is the host's (goldfish RTC); a guest that sets it moves only its own", async () => {
  // A guest writes its RTC (hwclock -w) and reads it back ...
  const y2k = 946_684_800;
  const w = await moat([
    "run",
    "--",
    "sh",
    "-c",
    `date -u -s @${y2k} >/dev/null && hwclock -w -u && cat /sys/class/rtc/rtc0/since_epoch`,
  ]);
  assert.equal(w.status, 0, w.stderr);
  const set = Number(w.stdout.trim());
  assert.ok(set >= y2k && set <= y2k + 2, `the guest's RTC after hwclock -w: ${w.stdout}`);
  // ... and the next VM starts with the host's time.
  const before = Math.floor(Date.now() / 1000);
  const r = await moat(["run", "--", "date", "+%s"]);
  const after = Math.floor(Date.now() / 1000);
  assert.equal(r.status, 0, r.stderr);
  const guest = Number(r.stdout.trim());
  assert.ok(
    guest >= before - 1 && guest <= after + 1,
    `guest date +%s ${r.stdout.trim()}, host ${before}..${after}`,
  );
});

test("--memory 512 matches the guest's MemTotal", async () => {
  const r = await moat(["run", "--memory", "512", "--", "cat", "/proc/meminfo"]);
  const m = /MemTotal:\s+(\d+) kB/.exec(r.stdout);
  assert.ok(m, r.stdout + r.stderr);
  const mib = Number(m[1]) / 1024;
  // The kernel keeps its own image and reserved areas out of MemTotal.
  assert.ok(mib > 480 && mib <= 512, `MemTotal ${mib} MiB`);
});

test("piped stdin reaches the guest and its end is end-of-file", async () => {
  const r = await moat(["run", "--", "sh", "-c", "tr a-z A-Z; echo done"], {
    input: "hello moat\nsecond line\n",
  });
  assert.equal(r.stdout, "HELLO MOAT\nSECOND LINE\ndone\n", r.stderr);
  assert.equal(r.status, 0);
});

test("poweroff inside the guest ends the VM cleanly (0); a reboot before the command reported a status is 125, with why", async () => {
  const off = await moat(["run", "--", "poweroff", "-f"]);
  assert.equal(off.status, 0, off.stderr);
  // moat does not boot the VM again: its command did not run to the end, whatever it was.
  const reboot = await moat(["run", "--", "reboot", "-f"]);
  assert.equal(reboot.status, 125, reboot.stderr);
  assert.match(reboot.stderr, /the guest restarted before its command reported a status/);
});

test("--timing reports the userspace boot marker", async () => {
  const r = await moat(["run", "--timing", "--", "true"]);
  assert.equal(r.status, 0);
  assert.match(r.stderr, /userspace started at \d+ ms/);
});

test("bad options and files get one-line errors and status 125", async () => {
  const dir = mkdtempSync(join(tmpdir(), "moat-bad-"));
  try {
    const junk = join(dir, "junk");
    writeFileSync(junk, Buffer.alloc(4096, 0x41));
    const cases: [string[], RegExp][] = [
      [["run", "--cpus", "0", "--", "true"], /--cpus must be between 1 and 8/],
      [["run", "--cpus", "two", "--", "true"], /--cpus wants a whole number/],
      [["run", "--memory", "8", "--", "true"], /--memory must be between/],
      [["run", "--accel", "warp", "--", "true"], /--accel must be soft, kvm or auto/],
      [
        ["run", "--cpu-tier", "warp", "--", "true"],
        new RegExp(`--cpu-tier must be one of ${CPU_TIERS.join(", ")}, not 'warp'`),
      ],
      // KVM has no tier: refused whatever this host has (checked before /dev/kvm is).
      [
        ["run", "--accel", "kvm", "--cpu-tier", CPU_TIERS[0], "--", "true"],
        /--cpu-tier is for the soft CPU \(--accel soft or auto\); KVM runs the guest's code/,
      ],
      [["run", "--kernel", join(dir, "missing"), "--", "true"], /no such file/],
      [["run", "--kernel", dir, "--", "true"], /not a regular file/],
      [["run", "--kernel", junk, "--", "true"], /not a riscv64 Linux Image/],
      [
        ["run", "--no-initrd", "--", "true"],
        /--no-initrd: a guest command runs from the shipped initramfs/,
      ],
    ];
    for (const [args, re] of cases) {
      const r = await moat(args);
      assert.equal(r.status, 125, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("--no-initrd: the shipped kernel mounts an ext4 disk as its root and runs its init", async () => {
  // The root is the shipped userspace as a file system (as a distribution's image would be),
  // with an init of its own that reports what it finds and powers off.
  const dir = mkdtempSync(join(tmpdir(), "moat-root-"));
  try {
    const tree = join(dir, "tree");
    const unpack = spawnSync(
      "sh",
      ["-c", `mkdir ${tree} && cd ${tree} && gzip -dc "$0" | cpio -idm --quiet`, SHIPPED_INITRD_GZ],
      { encoding: "utf8" },
    );
    assert.equal(unpack.status, 0, unpack.stderr);
    writeFileSync(
      join(tree, "root-test"),
      "#!/bin/sh\nmount -t proc proc /proc\necho \"root $(grep ' / ' /proc/mounts | cut -d' ' -f1-3) pid $$\"\npoweroff -f\n",
      { mode: 0o755 },
    );
    const img = join(dir, "root.img");
    const mk = spawnSync("mkfs.ext4", ["-q", "-F", "-d", tree, img, "16M"], { encoding: "utf8" });
    assert.equal(mk.status, 0, mk.stderr);
    const r = await moat([
      "run",
      "--no-initrd",
      "--disk",
      img,
      "--cmdline",
      "console=ttyS0 quiet panic=-1 root=/dev/vda rw init=/root-test",
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /root \/dev\/root \/ ext4 pid 1/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** CPU seconds (user + sys) the children of a bash running `cmd` used, from bash's `times`. */
function childCpuSeconds(cmd: string): number {
  const r = spawnSync("bash", ["-c", `${cmd} >/dev/null 2>&1 </dev/null; times`], {
    cwd: REPO,
    encoding: "utf8",
  });
  const lines = r.stdout.trim().split("\n");
  const m = /(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s/.exec(lines[lines.length - 1]!);
  assert.ok(m, r.stdout);
  return Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4]);
}

test("an idle guest does not spin a host core (WFI sleeps)", () => {
  const moatCmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(MOAT)} run --`;
  const busy = childCpuSeconds(`${moatCmd} true`);
  const t0 = Date.now();
  const idle = childCpuSeconds(`${moatCmd} sleep 4`);
  assert.ok(Date.now() - t0 >= 4000);
  // Four seconds of guest sleep may cost timer ticks, not a core: well under one CPU second.
  assert.ok(
    idle - busy < 1.0,
    `sleep 4 used ${idle.toFixed(2)} s CPU vs ${busy.toFixed(2)} s for true`,
  );
});

test("a closed stdout stops the VM like SIGPIPE (141), without a stack trace", () => {
  const script = `e=$(mktemp); ${JSON.stringify(process.execPath)} ${JSON.stringify(MOAT)} run -- sh -c 'while :; do echo line; done' 2>"$e" | head -n 2; echo "status=\${PIPESTATUS[0]}"; cat "$e"; rm -f "$e"`;
  const r = spawnSync("bash", ["-c", script], { cwd: REPO, encoding: "utf8", timeout: 120_000 });
  assert.match(r.stdout, /^line\nline\nstatus=141\n$/, r.stdout + r.stderr);
});

test("output written just before the command exits is not lost", async () => {
  // The terminal is hung up when the command's session ends, which discards unsent output;
  // moat's run script waits for the output to drain first.
  const r = await moat(["run", "--", "sh", "-c", "seq 1 4000; echo LAST"]);
  const lines = r.stdout.split("\n");
  assert.equal(lines.length, 4002, r.stderr);
  assert.equal(lines[3999], "4000");
  assert.equal(lines[4000], "LAST");
  assert.equal(r.status, 0);
});

test("a guest's escape sequences: a terminal gets no clipboard write or report request, a pipe gets every byte", async () => {
  // OSC 52 would set the operator's clipboard, CSI 21 t ask the terminal to type its title back.
  const script = "printf 'x\\033]52;c;QUFB\\007\\033[21t\\033[1my\\033[0m\\n'";
  const raw = "x\x1b]52;c;QUFB\x07\x1b[21t\x1b[1my\x1b[0m";
  const piped = await moat(["run", "--", "sh", "-c", script]);
  assert.equal(piped.status, 0, piped.stderr);
  assert.equal(piped.stdout, raw + "\n", "a pipe gets the bytes as they are");
  const tty = await moatOnTty(["run", "--", "sh", "-c", script]);
  assert.equal(tty.status, 0, tty.out);
  assert.ok(tty.out.includes("x\x1b[1my\x1b[0m"), JSON.stringify(tty.out));
  assert.ok(!tty.out.includes("\x1b]52") && !tty.out.includes("\x1b[21t"), JSON.stringify(tty.out));
  const rawTty = await moatOnTty(["run", "--raw-console", "--", "sh", "-c", script]);
  assert.ok(rawTty.out.includes(raw), JSON.stringify(rawTty.out));
});
