// The VM process's seccomp filter. A probe (test/support/seccomp-probe.ts, a test entry point,
// never a switch in the VMM) takes exactly the VMM's filter and tries one thing a compromised
// VMM might; each must be refused: the process killed by SIGSYS, or (socket families) EPERM.
// Then real VMs run under the filter on both accelerators.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { vmmCall } from "../src/host/vmm-client.js";
import { encode, jeq, ret } from "../src/jail/bpf.js";
import { vmmFilter } from "../src/jail/vmm-filter.js";
import { moat, startMoat } from "./support/moat-cli.js";

const PROBE = fileURLToPath(new URL("./support/seccomp-probe.js", import.meta.url));

function probe(what: string, mode = "kill", arg?: string): { signal: string | null; out: string } {
  const args = [PROBE, what, mode, ...(arg !== undefined ? [arg] : [])];
  const r = spawnSync(process.execPath, args, { encoding: "utf8", timeout: 30000 });
  return { signal: r.signal, out: r.stdout.trim() + r.stderr.trim() };
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

test("a VMM under its filter: what a compromised VMM would try is refused", () => {
  assert.equal(probe("nothing").out, "alive true", "the probe itself runs under the filter");
  assert.equal(probe("socket-unix").out, "fd true", "AF_UNIX sockets stay allowed");
  assert.equal(probe("read-rlimit").out, "prlimit 0", "reading limits stays allowed");
  // Network sockets: refused with EPERM.
  assert.equal(probe("socket-inet").out, "result -1");
  assert.equal(probe("socket-inet6-udp").out, "result -1");
  assert.equal(probe("tcp-listen").out, "error EPERM");
  assert.equal(probe("clone3").out, "clone3 -38", "clone3 -> ENOSYS (glibc falls back to clone)");
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
    const r = probe(w);
    assert.equal(r.signal, "SIGSYS", `${w}: ${r.out}`);
  }
});

test("a VM process's own uid: no host secrets, no other VM's disk, not its own kernel image", () => {
  const dir = mkdtempSync(join(tmpdir(), "moat-jail-"));
  chmodSync(dir, 0o755);
  // Another VM's disk (root's, 0600) and this VM's kernel image (root's, 0644: readable).
  const disk = join(dir, "other.img");
  const kernel = join(dir, "Image");
  writeFileSync(disk, "secret", { mode: 0o600 });
  writeFileSync(kernel, "kernel", { mode: 0o644 });
  assert.equal(probe("nothing", "jail").out, "alive true");
  assert.equal(probe("read-shadow", "jail").out, "shadow EACCES");
  assert.equal(probe("read-file", "jail", disk).out, "read EACCES");
  assert.equal(probe("write-file", "jail", kernel).out, "write EACCES");
  assert.equal(probe("read-file", "jail", kernel).out, "read opened");
  // And everything the filter refuses is still refused.
  for (const w of [
    "signal-parent",
    "kill-parent",
    "ptrace",
    "mount",
    "init_module",
    "raise-rlimit",
  ])
    assert.equal(probe(w, "jail").signal, "SIGSYS", w);
  assert.equal(probe("tcp-listen", "jail").out, "error EPERM");
});

test("log mode lets a call through (and the kernel logs it) instead of killing", () => {
  const r = probe("mount", "log");
  assert.equal(r.signal, null, r.out);
  assert.match(r.out, /^mount -\d+$/, "mount ran, and failed on its null arguments");
});

test("moat run --jail-user --seccomp: a riscv64 VM with disk, balloon, entropy, vsock and a console log works under the filter", async () => {
  const dir = mkdtempSync(join(tmpdir(), "moat-sc-"));
  const disk = join(dir, "d.img");
  writeFileSync(disk, "");
  truncateSync(disk, 16 << 20);
  const r = await moat([
    "run",
    "--accel",
    "soft",
    "--jail-user",
    "1900000002:1900000002",
    "--seccomp",
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
    "dd if=/dev/zero of=/dev/vda bs=4k count=64 2>/dev/null && head -c 64 /dev/hwrng | wc -c && exit 3",
  ]);
  assert.equal(r.signal, null, r.stderr);
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stdout, /^64\s*$/m);
  const bad = await moat(["run", "--seccomp=maybe", "--", "true"]);
  assert.equal(bad.status, 125);
  assert.match(bad.stderr, /--seccomp takes nothing or 'log', not 'maybe'/);
});

test("moat run --jail-user --seccomp on KVM: the vCPU runs, exits are handled, stop works", async () => {
  assert.ok(existsSync("/dev/kvm"), "this test needs /dev/kvm");
  const dir = mkdtempSync(join(tmpdir(), "moat-sc-"));
  const ctl = join(dir, "c.sock");
  const vm = startMoat([
    "run",
    "--accel",
    "kvm",
    "--jail-user",
    "1900000003:1900000003",
    "--seccomp",
    "--control",
    ctl,
    "--",
    "true",
  ]);
  const call = (req: Record<string, unknown>): Promise<Record<string, unknown>> =>
    vmmCall(ctl, req);
  try {
    const end = Date.now() + 90000;
    let exits = 0;
    while (exits === 0 && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 500));
      try {
        const m = await call({ op: "metrics" });
        exits = Object.values(m.exits as Record<string, number>).reduce((a, b) => a + b, 0);
      } catch {
        // Not listening yet.
      }
    }
    assert.ok(exits > 0, "KVM exits were handled under the filter");
    const st = await call({ op: "status" });
    assert.equal(st.seccomp, "kill");
    assert.equal(st.uid, 1900000003);
    await call({ op: "stop" });
    assert.equal(await vm.done, 143, vm.err());
  } finally {
    vm.p.kill("SIGKILL");
  }
});
