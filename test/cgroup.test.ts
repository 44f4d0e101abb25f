// Per-VM cgroups (src/host/cgroup.ts): v2, v1 (separate and co-mounted cpu/cpuacct) and a v1/v2
// mix against fixture trees; then real cgroups on this host, where a busy child capped at 20% of
// a CPU must use about 20%; then every bound rejected with an error naming the field.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CgroupError, type CgroupLimits, Cgroups } from "../src/host/cgroup.js";

const MiB = 1024 * 1024;

/** A fixture root holding the given files (paths relative to it), removed after the test. */
function fixture(t: TestContext, files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "moat-cgroup-"));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  // Mount points exist, as they would on a host.
  for (const line of (files["proc/self/mountinfo"] ?? "").split("\n").filter(Boolean)) {
    mkdirSync(join(root, line.split(" ")[4]), { recursive: true });
  }
  return root;
}

const read = (dir: string, file: string) => readFileSync(join(dir, file), "utf8");
const mountinfo = (lines: string[]) =>
  lines.map((l, i) => `${30 + i} 23 0:${26 + i} ${l}`).join("\n") + "\n";

function v2Fixture(t: TestContext): string {
  return fixture(t, {
    "proc/self/mountinfo": mountinfo([
      "/ /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate",
    ]),
    "proc/self/cgroup": "0::/\n",
    "sys/fs/cgroup/cgroup.controllers": "cpuset cpu io memory pids\n",
    "sys/fs/cgroup/cpuset.cpus.effective": "0-3\n",
  });
}

test("v2: limits written to cpu.weight, cpu.max, cpuset.cpus, memory.max; usage read", (t) => {
  const root = v2Fixture(t);
  const cg = Cgroups.detect(root);
  assert.equal(cg.version, "v2");
  const base = join(root, "sys/fs/cgroup");
  const dir = join(base, "moat/vm1");
  const vm = cg.create("vm1", {
    cpuWeight: 50,
    cpuMax: 0.2,
    cpus: [1, 3, 2],
    memoryBytes: 256 * MiB,
  });
  assert.deepEqual(vm.paths, { cpuset: dir, cpu: dir, cpuacct: dir, memory: dir });
  // Controllers delegated down the path, as the kernel needs before the child has their files.
  assert.equal(read(base, "cgroup.subtree_control"), "+cpuset +cpu +memory");
  assert.equal(read(join(base, "moat"), "cgroup.subtree_control"), "+cpuset +cpu +memory");
  assert.equal(read(dir, "cpu.weight"), "50");
  assert.equal(read(dir, "cpu.max"), "20000 100000");
  assert.equal(read(dir, "cpuset.cpus"), "1-3");
  assert.equal(read(dir, "memory.max"), String(256 * MiB));
  assert.equal(vm.memoryLimitBytes(), 256 * MiB);

  writeFileSync(
    join(dir, "cpu.stat"),
    "usage_usec 1234567\nuser_usec 1000000\nsystem_usec 234567\n",
  );
  writeFileSync(join(dir, "memory.current"), "4096000\n");
  writeFileSync(join(dir, "memory.max"), "max\n");
  assert.equal(vm.cpuUsageMicros(), 1234567);
  assert.equal(vm.memoryBytes(), 4096000);
  assert.equal(vm.memoryLimitBytes(), undefined);

  vm.addProcess(4242);
  assert.equal(read(dir, "cgroup.procs"), "4242");
  assert.deepEqual(vm.pids(), [4242]);
  assert.throws(
    () => vm.remove(),
    (e) => e instanceof CgroupError && /processes remain/.test(e.message),
  );

  // A daemon restart re-opens the group from its recorded paths.
  const again = cg.open(JSON.parse(JSON.stringify(vm.paths)));
  again.setLimits({ cpuMax: 1.5 });
  assert.equal(read(dir, "cpu.max"), "150000 100000");
  assert.throws(() => cg.open({ ...vm.paths, cpu: "/etc" }), /paths\.cpu: .* not inside/);

  // An explicit parent is relative to the hierarchy's root.
  const vm2 = cg.create("vm2", {}, "a/b");
  assert.equal(vm2.paths.memory, join(base, "a/b/vm2"));

  // remove() of a group already gone is not an error.
  rmSync(dir, { recursive: true });
  assert.doesNotThrow(() => vm.remove());
});

const V1_FILES = {
  "proc/self/cgroup": [
    "5:memory:/sandbox/abc",
    "4:cpuset:/",
    "3:cpuacct:/",
    "2:cpu:/docker/x/inner",
    "1:name=systemd:/",
    "0::/",
    "",
  ].join("\n"),
  "sys/fs/cgroup/cpuset/cpuset.cpus": "0-3\n",
  "sys/fs/cgroup/cpuset/cpuset.mems": "0\n",
  "sys/fs/cgroup/cpuset/cpuset.effective_cpus": "0-3\n",
  "sys/fs/cgroup/memory/sandbox/abc/memory.limit_in_bytes": "9223372036854771712\n",
  "sys/fs/cgroup/cpu/inner/cpu.shares": "1024\n",
  "sys/fs/cgroup/unified/cgroup.controllers": "\n",
};

test("v1, separate cpu and cpuacct: shares, CFS quota, cpuset seeded from the parent, memory", (t) => {
  const root = fixture(t, {
    ...V1_FILES,
    "proc/self/mountinfo": mountinfo([
      "/ /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755",
      "/docker/x /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu", // a container's view
      "/ /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct",
      "/ /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset",
      "/ /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory",
      "/ /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd",
      "/ /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw",
    ]),
  });
  const cg = Cgroups.detect(root);
  assert.equal(cg.version, "v1");
  const fs = join(root, "sys/fs/cgroup");
  const vm = cg.create("vm1", { cpuWeight: 50, cpuMax: 0.2, cpus: [2, 0], memoryBytes: 64 * MiB });
  // Nested under this process's own group in each hierarchy (the mount root stripped for cpu).
  assert.deepEqual(vm.paths, {
    cpuset: join(fs, "cpuset/moat/vm1"),
    cpu: join(fs, "cpu/inner/moat/vm1"),
    cpuacct: join(fs, "cpuacct/moat/vm1"),
    memory: join(fs, "memory/sandbox/abc/moat/vm1"),
  });
  assert.equal(read(join(fs, "cpuset/moat"), "cpuset.cpus"), "0-3");
  assert.equal(read(join(fs, "cpuset/moat"), "cpuset.mems"), "0");
  assert.equal(read(vm.paths.cpuset, "cpuset.cpus"), "0,2");
  assert.equal(read(vm.paths.cpuset, "cpuset.mems"), "0");
  assert.equal(read(vm.paths.cpu, "cpu.shares"), "512");
  assert.equal(read(vm.paths.cpu, "cpu.cfs_period_us"), "100000");
  assert.equal(read(vm.paths.cpu, "cpu.cfs_quota_us"), "20000");
  assert.equal(read(vm.paths.memory, "memory.limit_in_bytes"), String(64 * MiB));
  assert.equal(existsSync(join(vm.paths.cpu, "cpu.weight")), false);

  vm.setLimits({ cpuWeight: 1 });
  assert.equal(read(vm.paths.cpu, "cpu.shares"), "10");
  writeFileSync(join(vm.paths.cpuacct, "cpuacct.usage"), "5000000123\n"); // ns
  writeFileSync(join(vm.paths.memory, "memory.usage_in_bytes"), "8192\n");
  writeFileSync(join(vm.paths.memory, "memory.limit_in_bytes"), "9223372036854771712\n");
  assert.equal(vm.cpuUsageMicros(), 5000000);
  assert.equal(vm.memoryBytes(), 8192);
  assert.equal(vm.memoryLimitBytes(), undefined);

  vm.addProcess(77);
  for (const dir of Object.values(vm.paths)) assert.equal(read(dir, "cgroup.procs"), "77");
  assert.deepEqual(vm.pids(), [77]);
});

test("v1, co-mounted cpu,cpuacct and no cpuset: one directory serves both", (t) => {
  const root = fixture(t, {
    "proc/self/mountinfo": mountinfo([
      "/ /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct",
      "/ /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory",
    ]),
    "proc/self/cgroup": "3:memory:/\n2:cpu,cpuacct:/\n",
  });
  const cg = Cgroups.detect(root);
  assert.equal(cg.version, "v1");
  const vm = cg.create("vm1", { cpuMax: 2 });
  const cpuDir = join(root, "sys/fs/cgroup/cpu,cpuacct/moat/vm1");
  assert.deepEqual(vm.paths, {
    cpu: cpuDir,
    cpuacct: cpuDir,
    memory: join(root, "sys/fs/cgroup/memory/moat/vm1"),
  });
  assert.equal(read(cpuDir, "cpu.cfs_quota_us"), "200000");
  writeFileSync(join(cpuDir, "cpuacct.usage"), "2500\n");
  assert.equal(vm.cpuUsageMicros(), 2);
  vm.addProcess(9);
  assert.deepEqual(vm.pids(), [9]);
  assert.throws(() => vm.setLimits({ cpus: [0] }), /^CgroupError: cpus: .*no cpuset/);
});

test("hybrid: cpu on v1, memory on the cgroup2 hierarchy", (t) => {
  const root = fixture(t, {
    "proc/self/mountinfo": mountinfo([
      "/ /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct",
      "/ /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw",
    ]),
    "proc/self/cgroup": "2:cpu,cpuacct:/\n0::/\n",
    "sys/fs/cgroup/unified/cgroup.controllers": "memory pids\n",
  });
  const cg = Cgroups.detect(root);
  assert.equal(cg.version, "hybrid");
  const vm = cg.create("vm1", { memoryBytes: 32 * MiB, cpuWeight: 200 });
  assert.equal(read(join(root, "sys/fs/cgroup/unified"), "cgroup.subtree_control"), "+memory");
  assert.equal(read(vm.paths.memory, "memory.max"), String(32 * MiB));
  assert.equal(read(vm.paths.cpu, "cpu.shares"), "2048");
});

test("real cgroups on this host: a busy child capped at 0.2 CPU uses about 0.2", async (t) => {
  const cg = Cgroups.detect(); // throws (and fails the test) if this host has no cgroups
  t.diagnostic(`cgroup version: ${cg.version}`);
  const vm = cg.create(`test-${process.pid}`, { cpuMax: 0.2, cpus: [0], memoryBytes: 256 * MiB });
  const child = spawn(process.execPath, ["-e", "for(;;){}"], { stdio: "ignore" });
  const exited = new Promise((r) => child.once("exit", r));
  // Whatever happens: no busy child, no group, no empty "moat" parent left behind (a parent
  // that holds other groups is busy and stays).
  t.after(async () => {
    child.kill("SIGKILL");
    await exited;
    const dirs = Object.values(vm.paths);
    for (const dir of [...new Set(dirs)].concat([...new Set(dirs.map(dirname))])) {
      try {
        rmdirSync(dir);
      } catch {
        // already gone, or in use
      }
    }
  });

  assert.ok(child.pid);
  vm.addProcess(child.pid);
  assert.ok(vm.pids().includes(child.pid));
  assert.equal(vm.memoryLimitBytes(), 256 * MiB);
  assert.equal(cg.open(vm.paths).memoryLimitBytes(), 256 * MiB);
  if (vm.paths.cpuset) assert.equal(read(vm.paths.cpuset, "cpuset.cpus").trim(), "0");
  if (cg.version === "v1") assert.equal(read(vm.paths.cpu, "cpu.cfs_quota_us").trim(), "20000");
  assert.ok(vm.memoryBytes() >= 0);

  const u0 = vm.cpuUsageMicros();
  const t0 = performance.now();
  await sleep(3000);
  const fraction = (vm.cpuUsageMicros() - u0) / ((performance.now() - t0) * 1000);
  t.diagnostic(`CPU fraction under cpuMax 0.2: ${fraction.toFixed(3)}`);
  assert.ok(fraction >= 0.12 && fraction <= 0.28, `CPU fraction ${fraction}`);

  assert.throws(() => vm.remove(), /processes remain/, "remove kills nothing");
  child.kill("SIGKILL");
  await exited;
  vm.remove();
  for (const dir of Object.values(vm.paths)) assert.equal(existsSync(dir), false, dir);
  assert.doesNotThrow(() => vm.remove());
});

test("bad input: each bound throws CgroupError naming the field, and leaves nothing behind", (t) => {
  const root = v2Fixture(t);
  const cg = Cgroups.detect(root);
  const bad: [CgroupLimits, string][] = [
    [{ cpuWeight: 0 }, "cpuWeight"],
    [{ cpuWeight: 10001 }, "cpuWeight"],
    [{ cpuWeight: 1.5 }, "cpuWeight"],
    [{ cpuWeight: NaN }, "cpuWeight"],
    [{ cpuMax: 0 }, "cpuMax"],
    [{ cpuMax: -1 }, "cpuMax"],
    [{ cpuMax: 1024.5 }, "cpuMax"],
    [{ cpuMax: Infinity }, "cpuMax"],
    [{ cpus: [] }, "cpus"],
    [{ cpus: [-1] }, "cpus"],
    [{ cpus: [1.5] }, "cpus"],
    [{ cpus: [4] }, "cpus"], // the parent's effective cpuset is 0-3
    [{ memoryBytes: 16 * MiB - 1 }, "memoryBytes"],
    [{ memoryBytes: 20.5 * MiB + 0.5 }, "memoryBytes"],
    [{ cpuShares: 512 } as unknown as CgroupLimits, "cpuShares"],
  ];
  for (const [limits, field] of bad) {
    assert.throws(
      () => cg.create("vm", limits),
      (e) => e instanceof CgroupError && e.message.startsWith(`${field}:`),
      JSON.stringify(limits),
    );
    assert.equal(existsSync(join(root, "sys/fs/cgroup/moat/vm")), false, JSON.stringify(limits));
  }
  for (const name of ["", "..", "../x", "a/b", "a b", "x".repeat(65), "a..b"]) {
    assert.throws(() => cg.create(name, {}), /^CgroupError: name:/, name);
  }
  for (const parent of ["/abs", "../up", "a//b", ""]) {
    assert.throws(() => cg.create("vm", {}, parent), /^CgroupError: parent:/, parent);
  }
  const vm = cg.create("vm", {});
  assert.throws(() => vm.addProcess(-1), /^CgroupError: pid:/);
  // A write the "kernel" refuses names the file.
  mkdirSync(join(vm.paths.memory, "memory.max"));
  assert.throws(() => vm.setLimits({ memoryBytes: 32 * MiB }), /memory\.max: EISDIR/);
  // A host without a memory controller is refused up front.
  const noMem = fixture(t, {
    "proc/self/mountinfo": mountinfo(["/ /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu,cpuacct"]),
    "proc/self/cgroup": "1:cpu,cpuacct:/\n",
  });
  assert.throws(() => Cgroups.detect(noMem), /^CgroupError: no cgroup hierarchy serves the memory/);
});
