// The VM process's jail and seccomp filter. A probe (test/support/jail-probe.ts, a test entry
// point, never a switch in the VMM) is started exactly as the daemon starts a VM process: by
// jail/launch.ts, into new namespaces and a root holding only a VM's files, then its own uid
// and the VMM's filter. It tries one thing a compromised VMM might; each must be refused: the
// process killed by SIGSYS, EPERM (socket families), or the thing not there at all. Then real
// VMs run jailed on both accelerators.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { vmmCall } from "../src/host/vmm-client.js";
import { okReply } from "./support/control-client.js";
import { encode, jeq, ret } from "../src/jail/bpf.js";
import { vmmFilter } from "../src/jail/vmm-filter.js";
import { spawnJailed } from "../src/jail/launch.js";
import { MOAT, moat, startMoat, type RunningMoat } from "./support/moat-cli.js";

const PROBE = fileURLToPath(new URL("./support/jail-probe.js", import.meta.url));
const PROBE_UID = 1900000009;

// A VM as the daemon lays it out: its directory (its uid's), its disk, its kernel image
// (root's, readable); and another VM's disk next to it.
const base = mkdtempSync(join(tmpdir(), "moat-jailtest-"));
chmodSync(base, 0o755);
const vmDir = join(base, "vm");
const otherDir = join(base, "other");
const jailRoot = join(base, "root");
for (const d of [vmDir, otherDir, jailRoot]) mkdirSync(d, { mode: 0o700 });
chownSync(vmDir, PROBE_UID, PROBE_UID);
const kernel = join(base, "Image");
writeFileSync(kernel, "kernel", { mode: 0o644 });
const ownDisk = join(vmDir, "disk.img");
writeFileSync(ownDisk, "mine", { mode: 0o600 });
chownSync(ownDisk, PROBE_UID, PROBE_UID);
// A disk its spec gives read-only.
const roDisk = join(vmDir, "ro.img");
writeFileSync(roDisk, "mine too", { mode: 0o600 });
chownSync(roDisk, PROBE_UID, PROBE_UID);
const otherDisk = join(otherDir, "disk.img");
writeFileSync(otherDisk, "secret", { mode: 0o600 });

/** Runs the probe `what`: jailed (mode "jail", the default), or under the filter alone. */
async function probe(
  what: string,
  mode = "jail",
  arg?: string,
  disks: { path: string; readOnly: boolean; noLinks?: boolean }[] = [
    { path: ownDisk, readOnly: false },
    { path: roDisk, readOnly: true },
  ],
): Promise<{ signal: string | null; out: string; code: number | null }> {
  const extra = arg !== undefined ? [arg] : [];
  if (mode !== "jail") {
    const r = spawnSync(process.execPath, [PROBE, what, mode, ...extra], {
      encoding: "utf8",
      timeout: 30000,
    });
    return { signal: r.signal, out: r.stdout.trim() + r.stderr.trim(), code: r.status };
  }
  const p = spawnJailed({
    needs: {
      readFiles: [kernel],
      disks,
      writeDirs: [vmDir],
    },
    root: jailRoot,
    hostname: "moat-probe",
    cwd: vmDir,
    kvm: false,
    kvmKind: "none",
    nets: [],
    vnetHdrBytes: 12,
    args: (plan) => [PROBE, what, "jail", ...extra, `--in-jail=${plan}`],
    stdio: ["ignore", "pipe", "pipe"],
    detached: false,
  });
  let out = "";
  p.stdout!.on("data", (b: Buffer) => (out += b.toString()));
  p.stderr!.on("data", (b: Buffer) => (out += b.toString()));
  const [code, signal] = await new Promise<[number | null, string | null]>((res) =>
    p.on("close", (c, s) => res([c, s])),
  );
  return { signal, out: out.trim(), code };
}

test("BPF programs: encoded 8 bytes an instruction, jumps checked", () => {
  const b = encode([jeq(5, 0, 1), ret(1), ret(2)]);
  assert.equal(b.length, 24);
  assert.deepEqual([...b.subarray(0, 8)], [0x15, 0, 0, 1, 5, 0, 0, 0]);
  assert.throws(() => encode([]), /1\.\.4096 instructions/);
  assert.throws(() => encode([jeq(5, 0, 3), ret(1)]), /instruction 0: jump 3 leaves the program/);
  const f = vmmFilter({ pid: 1234 });
  assert.ok(f.length < 400, `${f.length} instructions`);
  encode(f); // every jump lands inside
});

test("a jailed VM process: what a compromised VMM would try is refused", async () => {
  assert.equal((await probe("nothing")).out, "alive true", "the probe itself runs jailed");
  assert.equal((await probe("socket-unix")).out, "fd true", "AF_UNIX sockets stay allowed");
  assert.equal((await probe("read-rlimit")).out, "prlimit 0", "reading limits stays allowed");
  // Network sockets: refused with EPERM.
  assert.equal((await probe("socket-inet")).out, "result -1");
  assert.equal((await probe("socket-inet6-udp")).out, "result -1");
  assert.equal((await probe("tcp-listen")).out, "error EPERM");
  assert.equal(
    (await probe("clone3")).out,
    "clone3 -38",
    "clone3 -> ENOSYS (glibc falls back to clone)",
  );
  // Everything else on the list: the process is killed at the call.
  const killed = [
    "spawn-shell",
    "fork",
    "signal-parent",
    "kill-parent",
    "raise-rlimit",
    "execve",
    "execveat",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "unshare",
    "setns",
    "bpf",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "keyctl",
    "add_key",
    "request_key",
    "perf_event_open",
    "userfaultfd",
    "setrlimit",
    "reboot",
    "memfd_create",
  ];
  for (const w of killed) {
    const r = await probe(w);
    assert.equal(r.signal, "SIGSYS", `${w}: ${r.out}`);
  }
});

test("a jailed VM process sees its own files, processes, network and host name only", async () => {
  assert.equal((await probe("nothing")).out, "alive true");
  // The host's files are not there at all; another VM's disk neither.
  assert.equal((await probe("read-shadow")).out, "shadow ENOENT");
  assert.equal((await probe("read-file", "jail", otherDisk)).out, "read ENOENT");
  assert.equal((await probe("read-file", "jail", "/usr/bin/sh")).out, "read ENOENT");
  // Its own disk is there (its mode: read-write); its kernel image only to read.
  assert.equal((await probe("write-file", "jail", ownDisk)).out, "write opened");
  assert.equal((await probe("write-file", "jail", roDisk)).out, "write EROFS");
  assert.equal((await probe("read-file", "jail", roDisk)).out, "read opened");
  assert.equal((await probe("read-file", "jail", kernel)).out, "read opened");
  assert.equal((await probe("write-file", "jail", kernel)).out, "write EACCES");
  // Its PID namespace holds itself alone: no host process to list, none to signal.
  assert.equal((await probe("list-processes")).out, "pids 1");
  assert.equal((await probe("kill-pid", "jail", String(process.pid))).signal, "SIGSYS");
  // Its network namespace has only a loopback device (down); its UTS namespace its name.
  assert.equal((await probe("interfaces")).out, "ifaces lo");
  assert.equal((await probe("hostname")).out, "hostname moat-probe");
  // Its root: /dev, /proc, and the tops of what was bound (node, libraries, moat, the VM),
  // wherever the checkout lives; nothing of the host's own (no /etc, /home, /root, /var).
  const top = (p: string): string => p.split("/")[1] ?? "";
  const allowed = new Set([
    "dev",
    "proc",
    "usr",
    "lib",
    "lib64",
    top(PROBE),
    top(base),
    top(process.execPath),
  ]);
  const root = (await probe("root")).out.replace(/^root /, "").split(",");
  for (const want of ["dev", "proc", top(PROBE), top(base)])
    assert.ok(root.includes(want), `${want} in ${root}`);
  for (const entry of root)
    assert.ok(allowed.has(entry), `${entry} is not something the VMM needs`);
  assert.equal((await probe("read-file", "jail", "/dev/kvm")).out, "read ENOENT");
  assert.equal((await probe("read-file", "jail", "/dev/net/tun")).out, "read ENOENT");
});

test("log mode lets a call through (and the kernel logs it) instead of killing", async () => {
  const r = await probe("mount", "log");
  assert.equal(r.signal, null, r.out);
  assert.match(r.out, /^mount -\d+$/, "mount ran, and failed on its null arguments");
});

test("moat run --jail: a riscv64 VM with disk, balloon, entropy, vsock and a console log works jailed", async () => {
  const dir = mkdtempSync(join(tmpdir(), "moat-sc-"));
  const disk = join(dir, "d.img");
  writeFileSync(disk, "");
  truncateSync(disk, 16 << 20);
  const r = await moat([
    "run",
    "--accel",
    "soft",
    "--jail",
    "--disk",
    disk,
    "--balloon",
    "--rng",
    "--vsock",
    join(dir, "v.sock"),
    "--console-log",
    join(dir, "c.log"),
    "--",
    "sh",
    "-c",
    "printf jailed-write | dd of=/dev/vda conv=notrunc 2>/dev/null && head -c 64 /dev/hwrng | wc -c && exit 3",
  ]);
  assert.equal(r.signal, null, r.stderr);
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stdout, /^64\s*$/m);
  // The guest's write reached the host's file through the jail's bind of it; the console log
  // was written in the VM's directory.
  assert.equal(readFileSync(disk).subarray(0, 12).toString(), "jailed-write");
  assert.match(readFileSync(join(dir, "c.log"), "utf8"), /jailed-write|64/);
  const bad = await moat(["run", "--seccomp=maybe", "--", "true"]);
  assert.equal(bad.status, 125);
  assert.match(bad.stderr, /--seccomp takes nothing or 'log', not 'maybe'/);
});

/** KVM exits the VM behind `ctl` has handled, once there are any (0 if none in 90 s or it ended). */
async function kvmExits(ctl: string, vm: RunningMoat): Promise<number> {
  const end = Date.now() + 90000;
  while (Date.now() < end && vm.p.exitCode === null) {
    await new Promise((r) => setTimeout(r, 500));
    try {
      const m = okReply(await vmmCall(ctl, { op: "metrics" }));
      const exits = Object.values(m.exits).reduce((a, b) => a + b, 0);
      if (exits > 0) return exits;
    } catch {
      // Not listening yet.
    }
  }
  return 0;
}

test("moat run --jail on KVM: the vCPU runs on the KVM fd it was handed, exits are handled, stop works", async () => {
  assert.ok(existsSync("/dev/kvm"), "this test needs /dev/kvm");
  const dir = mkdtempSync(join(tmpdir(), "moat-sc-"));
  const ctl = join(dir, "c.sock");
  const vm = startMoat([
    "run",
    "--accel",
    "kvm",
    "--jail",
    "--jail-user",
    "1900000003:1900000003",
    "--control",
    ctl,
    "--",
    "true",
  ]);
  try {
    assert.ok(
      (await kvmExits(ctl, vm)) > 0,
      `KVM exits were handled under the filter: ${vm.err()}`,
    );
    const st = okReply(await vmmCall(ctl, { op: "status" }));
    assert.equal(st.seccomp, "kill");
    assert.equal(st.jailed, true);
    assert.equal(st.uid, 1900000003);
    await vmmCall(ctl, { op: "stop" });
    assert.equal(await vm.done, 143, vm.err());
  } finally {
    vm.p.kill("SIGKILL");
  }
});

/**
 * Runs `moat args` under strace and returns where, in the order the kernel saw them, the first
 * uid change to `uid` and the VMM's first message about `file` were made (-1 if never).
 */
function straceOrder(
  args: string[],
  uid: number,
  file: string,
): { status: number | null; stderr: string; drop: number; message: number } {
  const log = join(base, `strace-${uid}.log`);
  const r = spawnSync(
    "strace",
    [
      "-f",
      "-qq",
      "-s",
      "300",
      "-e",
      "trace=setresuid,write",
      "-o",
      log,
      process.execPath,
      MOAT,
      ...args,
    ],
    { encoding: "utf8", timeout: 60_000 },
  );
  const lines = readFileSync(log, "utf8").split("\n");
  return {
    status: r.status,
    stderr: r.stderr,
    drop: lines.findIndex((l) => l.includes(`setresuid(${uid}, ${uid}, ${uid}`)),
    message: lines.findIndex((l) => l.includes(`write(2, "moat: ${file}:`)),
  };
}

test("a VM's kernel is parsed after the uid drop: a hostile image is refused by the unprivileged process", () => {
  // The kernel image is a tenant's file: its parser must not run as root. strace shows the
  // order the kernel saw: the uid changes, then the parser's refusal is written.
  const bad = join(base, "hostile-kernel");
  writeFileSync(bad, Buffer.alloc(8192, 0x5a), { mode: 0o644 });
  const cases = [
    { accel: "soft", jail: false, why: /not a riscv64 Linux Image/ },
    { accel: "kvm", jail: false, why: /neither an ELF vmlinux nor a bzImage/ },
    { accel: "soft", jail: true, why: /not a riscv64 Linux Image/ },
  ];
  for (const [i, c] of cases.entries()) {
    const uid = 1900000020 + i;
    const r = straceOrder(
      [
        "run",
        "--accel",
        c.accel,
        ...(c.jail ? ["--jail"] : []),
        "--jail-user",
        `${uid}:${uid}`,
        "--kernel",
        bad,
        "--",
        "true",
      ],
      uid,
      bad,
    );
    const what = `${c.accel}${c.jail ? " jailed" : ""}`;
    assert.equal(r.status, 125, `${what}: ${r.stderr}`);
    assert.match(r.stderr, c.why, what);
    assert.ok(r.message >= 0, `${what}: the refusal was traced`);
    assert.ok(r.drop >= 0 && r.drop < r.message, `${what}: uid dropped before the parse`);
  }
});

test("moat run --jail-user on KVM without a jail: /dev/kvm opened before the drop, the VM runs as the uid", async () => {
  assert.ok(existsSync("/dev/kvm"), "this test needs /dev/kvm");
  const dir = mkdtempSync(join(tmpdir(), "moat-kvmuid-"));
  const ctl = join(dir, "c.sock");
  const vm = startMoat([
    "run",
    "--accel",
    "kvm",
    "--jail-user",
    "1900000030:1900000030",
    "--control",
    ctl,
    "--",
    "true",
  ]);
  try {
    assert.ok((await kvmExits(ctl, vm)) > 0, `KVM exits were handled as the uid: ${vm.err()}`);
    const st = okReply(await vmmCall(ctl, { op: "status" }));
    assert.equal(st.uid, 1900000030);
    const status = readFileSync(`/proc/${vm.p.pid}/status`, "utf8");
    assert.match(status, /^Uid:\s+1900000030\s+1900000030\s+1900000030\s+1900000030$/m);
    await vmmCall(ctl, { op: "stop" });
    assert.equal(await vm.done, 143, vm.err());
  } finally {
    vm.p.kill("SIGKILL");
  }
});

test("a VM's checked file swapped for a link after the daemon's check: the jail refuses to bind it, and binds nothing through it", async () => {
  // What the daemon checked was a file in the VM's image directory; what is there when the jail
  // is built is a link to another VM's disk (the swap a writer of that directory could make
  // between the start's check and the bind).
  const swapped = join(vmDir, "swapped.img");
  symlinkSync(otherDisk, swapped);
  try {
    const refused = await probe("nothing", "jail", undefined, [
      { path: swapped, readOnly: false, noLinks: true },
    ]);
    assert.notEqual(refused.code, 0, refused.out);
    assert.match(
      refused.out,
      /swapped\.img: a symbolic link has been put in its path since it was checked/,
    );
    assert.doesNotMatch(refused.out, /alive/);
    // Without noLinks (the shipped guest's files, moat's code) a link is followed as before.
    const followed = await probe("nothing", "jail", undefined, [{ path: swapped, readOnly: true }]);
    assert.equal(followed.out, "alive true");
  } finally {
    rmSync(swapped, { force: true });
  }
});
