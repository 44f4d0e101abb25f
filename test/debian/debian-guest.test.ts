// A whole distribution under moat: the Debian trixie riscv64 disk image of guest/debian/build.sh
// (debootstrap --foreign, second stage inside a moat VM; cached between runs on one machine)
// boots the shipped kernel without an initramfs, systemd from its virtio-blk root disk, to a
// login prompt on the serial console, and the qemu-guest-agent that udev starts as a service
// answers: through the daemon, as an operator would run it.
//
// Not part of `npm test`: the first build runs debootstrap's second stage on the soft CPU
// (about 20 minutes on this machine class). `npm run test:debian` runs it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { REPO } from "../support/moat-cli.js";
import { adminToken, api, cli, newHome, startDaemon, stopDaemon, until } from "../support/moatd.js";

const CACHE = process.env.MOAT_CACHE ?? join(homedir(), ".cache", "moat");
const IMAGE = join(CACHE, "debian-trixie-riscv64.img");
let dir = "";
let disk = "";

before(() => {
  // Its progress (stderr, every 30 s) shows as it builds; its errors are above the failure.
  const b = spawnSync("bash", [join(REPO, "guest/debian/build.sh"), IMAGE], {
    stdio: ["ignore", "inherit", "inherit"],
    timeout: 90 * 60_000,
  });
  assert.equal(b.status, 0, "guest/debian/build.sh failed: its output is above");
  dir = mkdtempSync(join(tmpdir(), "moat-debian-"));
  // The cached image stays pristine: each run boots a sparse copy.
  disk = join(dir, "disk.img");
  const cp = spawnSync("cp", ["--sparse=always", IMAGE, disk]);
  assert.equal(cp.status, 0, String(cp.stderr));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test("the Debian image boots systemd to a login prompt; its qemu-guest-agent answers, runs uname -a, and shuts it down", async (t) => {
  // The disk is in this test's directory: an image directory of the daemon's.
  const h = newHome({ reclaim: { enabled: false }, imageDirs: [dir] });
  const d = await startDaemon(h);
  t.after(() => stopDaemon(h, d));
  const tok = adminToken(h);
  const spec = {
    name: "debian",
    accel: "soft",
    cpus: 2,
    memory_mib: 512,
    initrd: "none",
    cmdline: "console=ttyS0 root=/dev/vda rw",
    disks: [{ path: disk }],
    agent: { allow: ["info", "shutdown", "exec"] },
  };
  const made = await api(h.socket, tok, "POST", "/v1/vms", spec);
  assert.equal(made.status, 201, made.text);
  const t0 = Date.now();
  assert.equal((await api(h.socket, tok, "POST", "/v1/vms/debian/start")).status, 200);
  // systemd's serial getty: "moat-debian login:" (the image's host name).
  let console = "";
  await until(
    "the login prompt",
    async () => {
      console = (await api(h.socket, tok, "GET", "/v1/vms/debian/logs?bytes=1048576")).text;
      return /moat-debian login: *$/m.test(console);
    },
    15 * 60_000,
  );
  const loginMs = Date.now() - t0;
  assert.match(console, /systemd/i, "systemd booted");
  assert.doesNotMatch(console, /Failed to start|emergency mode|Kernel panic/, console);
  await until(
    "the agent",
    async () =>
      (await api(h.socket, tok, "POST", "/v1/vms/debian/agent", { command: "ping" })).status ===
      200,
    5 * 60_000,
  );
  const agentMs = Date.now() - t0;
  const info = await cli(h, ["guest", "info", "debian"]);
  assert.equal(info.status, 0, info.err);
  const gi = JSON.parse(info.out) as {
    osinfo: { id: string; "version-id": string; machine: string };
  };
  assert.equal(gi.osinfo.id, "debian");
  assert.equal(gi.osinfo.machine, "riscv64");
  const uname = await cli(h, ["exec", "debian", "--timeout", "60", "--", "uname", "-a"]);
  assert.equal(uname.status, 0, uname.err);
  assert.match(uname.out, /^Linux moat-debian 6\.\d+\S* .* riscv64 GNU\/Linux\n$/);
  // systemd is PID 1 and the agent one of its services.
  const init = await cli(h, ["exec", "debian", "--timeout", "60", "--", "cat", "/proc/1/comm"]);
  assert.equal(init.out, "systemd\n");
  const unit = await cli(h, [
    "exec",
    "debian",
    "--timeout",
    "60",
    "--",
    "systemctl",
    "is-active",
    "qemu-guest-agent",
  ]);
  assert.equal(unit.out, "active\n", unit.err);
  const status = await cli(h, ["exec", "debian", "--timeout", "60", "--", "sh", "-c", "exit 5"]);
  assert.equal(status.status, 5);
  // moat stop: systemd shuts down through the agent's guest-shutdown.
  const stop = await cli(h, ["stop", "debian"]);
  assert.equal(stop.status, 0, stop.err);
  const vm = (await api(h.socket, tok, "GET", "/v1/vms/debian")).body as {
    state: string;
    last_exit: { reason: string };
  };
  assert.equal(vm.state, "stopped");
  assert.equal(vm.last_exit.reason, "shut down by the operator through the guest agent");
  process.stderr.write(
    `debian: login prompt after ${(loginMs / 1000).toFixed(0)} s, agent after ${(agentMs / 1000).toFixed(0)} s\n`,
  );
});

test("the Debian image converted to qcow2 with qemu-img boots from it, writes, and qemu-img check finds nothing wrong after", async (t) => {
  // Converted as people have it: qemu-img convert to qcow2 (version 3, 64 KiB clusters).
  const q = join(dir, "disk.qcow2");
  const cv = spawnSync("qemu-img", ["convert", "-f", "raw", "-O", "qcow2", IMAGE, q]);
  assert.equal(cv.status, 0, String(cv.stderr));
  const h = newHome({ reclaim: { enabled: false }, imageDirs: [dir] });
  const d = await startDaemon(h);
  t.after(() => stopDaemon(h, d));
  const tok = adminToken(h);
  const spec = {
    name: "debq",
    accel: "soft",
    cpus: 2,
    memory_mib: 512,
    initrd: "none",
    cmdline: "console=ttyS0 root=/dev/vda rw",
    disks: [{ path: q }],
    agent: { allow: ["info", "shutdown", "exec"] },
  };
  const made = await api(h.socket, tok, "POST", "/v1/vms", spec);
  assert.equal(made.status, 201, made.text);
  const vm0 = (await api(h.socket, tok, "GET", "/v1/vms/debq")).body as {
    spec: { disks: { format: string }[] };
  };
  assert.equal(vm0.spec.disks[0]!.format, "qcow2", "the daemon found the format at create");
  assert.equal((await api(h.socket, tok, "POST", "/v1/vms/debq/start")).status, 200);
  await until(
    "the login prompt",
    async () =>
      /moat-debian login: *$/m.test(
        (await api(h.socket, tok, "GET", "/v1/vms/debq/logs?bytes=1048576")).text,
      ),
    15 * 60_000,
  );
  await until(
    "the agent",
    async () =>
      (await api(h.socket, tok, "POST", "/v1/vms/debq/agent", { command: "ping" })).status === 200,
    5 * 60_000,
  );
  // Writes: a file, a package database touch, 32 MiB of new clusters, all synced.
  const write = await cli(h, [
    "exec",
    "debq",
    "--timeout",
    "300",
    "--",
    "sh",
    "-c",
    "echo moat-was-here > /root/qcow2-mark && dd if=/dev/urandom of=/root/blob bs=1M count=32 " +
      "2>/dev/null && sync && md5sum /root/blob | cut -d' ' -f1",
  ]);
  assert.equal(write.status, 0, write.err);
  const sum = write.out.trim();
  const stop = await cli(h, ["stop", "debq"]);
  assert.equal(stop.status, 0, stop.err);
  const check = spawnSync("qemu-img", ["check", q], { encoding: "utf8" });
  assert.equal(check.status, 0, check.stdout + check.stderr);
  assert.match(check.stdout, /No errors were found on the image/);
  // And boots again from what it wrote: the file is there, the same.
  assert.equal((await api(h.socket, tok, "POST", "/v1/vms/debq/start")).status, 200);
  await until(
    "the agent again",
    async () =>
      (await api(h.socket, tok, "POST", "/v1/vms/debq/agent", { command: "ping" })).status === 200,
    15 * 60_000,
  );
  const again = await cli(h, [
    "exec",
    "debq",
    "--timeout",
    "120",
    "--",
    "sh",
    "-c",
    "cat /root/qcow2-mark && md5sum /root/blob | cut -d' ' -f1",
  ]);
  assert.equal(again.out, `moat-was-here\n${sum}\n`, again.err);
  assert.equal((await cli(h, ["stop", "debq"])).status, 0);
  const last = spawnSync("qemu-img", ["check", q], { encoding: "utf8" });
  assert.equal(last.status, 0, last.stdout + last.stderr);
});
