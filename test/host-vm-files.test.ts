// What the daemon (root) does with the files of a VM, against a VM whose own uid plants links:
// a real daemon, real jailed VM processes, and every link made by a process running as the VM's
// uid, as a compromised VMM would make it. Nothing outside the VM's directory may change. Also
// the daemon's bound on each VM process's own log (vmm.log).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VMM_LOG_MAX } from "../src/host/vmm-log.js";
import {
  adminToken,
  api,
  newHome,
  startDaemon,
  stopDaemon,
  until,
  type VmView,
} from "./support/moatd.js";

/** Runs `argv` as `uid` (the VM's) in `cwd`; throws with its stderr if it fails. */
function asVm(uid: number, cwd: string, argv: string[]): void {
  const r = spawnSync(argv[0]!, argv.slice(1), { uid, gid: uid, cwd, encoding: "utf8" });
  assert.equal(r.status, 0, `${argv.join(" ")}: ${r.stderr}`);
}

/** Root-only files outside every VM directory, and how they are now. */
function bait(): { dir: string; now: () => string } {
  const dir = mkdtempSync(join(tmpdir(), "moat-bait-"));
  for (const n of ["vmm", "exit", "exit-tmp", "console", "console1", "socket", "keep"])
    writeFileSync(join(dir, n), `root's own ${n}\n`, { mode: 0o600 });
  chmodSync(dir, 0o755);
  const now = (): string =>
    JSON.stringify(
      readdirSync(dir)
        .sort()
        .map((n) => {
          const st = statSync(join(dir, n));
          return [n, st.mode, st.uid, st.mtimeMs, readFileSync(join(dir, n), "utf8")];
        }),
    );
  return { dir, now };
}

test("root follows no link a VM's uid plants in its directory: logs, exit records, sockets, removal", async (t) => {
  const h = newHome({ reclaim: { enabled: false } });
  const d = await startDaemon(h);
  t.after(() => stopDaemon(h, d));
  const b = bait();
  t.after(() => rmSync(b.dir, { recursive: true, force: true }));
  const before = b.now();
  const tok = adminToken(h);
  const c = await api(h.socket, tok, "POST", "/v1/vms", { name: "v", memory_mib: 48 });
  assert.equal(c.status, 201, c.text);
  const id = (c.body as VmView).id;
  const dir = `${h.dir}/vms/${id}`;
  assert.equal((await api(h.socket, tok, "POST", "/v1/vms/v/start")).status, 200);
  const uid = statSync(dir).uid;
  assert.ok(uid >= 1_900_000_000, `the VM's directory is its uid's (${uid})`);
  // Its process's config is root's, beside its directory, not in it (where its uid could put
  // back an older one by a rename).
  const config = statSync(`${dir}.json`);
  assert.equal(config.uid, 0);
  assert.equal(config.mode & 0o777, 0o600);
  assert.deepEqual(
    readdirSync(dir).filter((n) => n.endsWith(".json") && n !== "exit.json"),
    [],
    "no config in the VM's own directory",
  );
  assert.equal((await api(h.socket, tok, "POST", "/v1/vms/v/stop")).status, 200);

  // What a compromised VMM leaves for the next start: each name root opens, reads, writes or
  // removes there, a link to a root-only file. exit.json.1.tmp is the name the VMM (PID 1 in
  // its jail) writes its exit record through, as root when it fails before its uid drop, which
  // a console log that is a link makes it do.
  const plant: [string, string][] = [
    ["vmm.log", "vmm"],
    ["exit.json", "exit"],
    ["exit.json.1.tmp", "exit-tmp"],
    ["console.log", "console"],
    ["console.log.1", "console1"],
    ["control.sock", "socket"],
  ];
  for (const [name, target] of plant) asVm(uid, dir, ["ln", "-sfn", join(b.dir, target), name]);
  const failed = await api(h.socket, tok, "POST", "/v1/vms/v/start");
  assert.equal(b.now(), before, "nothing outside the VM's directory changed");
  assert.equal(failed.status, 422, failed.text);
  assert.match(failed.text, /console log .*console\.log: is a symbolic link/);
  const logs = await api(h.socket, tok, "GET", "/v1/vms/v/logs");
  assert.doesNotMatch(logs.text, /root's own/);

  // Its own console log back, it starts, links and all; its process's log is not in reach.
  asVm(uid, dir, ["rm", "console.log", "console.log.1", "control.sock"]);
  assert.equal((await api(h.socket, tok, "POST", "/v1/vms/v/start")).status, 200);
  const st = (await api(h.socket, tok, "GET", "/v1/vms/v/stats")).body as { vmm_pid: number };
  assert.equal(readlinkSync(`/proc/${st.vmm_pid}/fd/2`), `${h.dir}/logs/${id}.log`);
  assert.equal((await api(h.socket, tok, "POST", "/v1/vms/v/stop")).status, 200);
  assert.equal(b.now(), before, "nothing outside the VM's directory changed");

  // Removal: trees with links out of them, and a process of the VM's uid that keeps swapping a
  // directory for a link to the bait while root removes the tree.
  asVm(uid, dir, ["mkdir", "-p", "t/a/b/c"]);
  asVm(uid, dir, ["ln", "-s", b.dir, "t/out"]);
  asVm(uid, dir, ["ln", "-s", join(b.dir, "keep"), "t/a/b/c/keep"]);
  // Deeper than the directories root holds open at once, with a link out at the bottom.
  asVm(uid, dir, [
    process.execPath,
    "-e",
    `const fs = require("node:fs");
     for (let i = 0; i < 1200; i++) { fs.mkdirSync("d"); process.chdir("d"); }
     fs.symlinkSync(${JSON.stringify(b.dir)}, "out");`,
  ]);
  const swapper = spawn(
    process.execPath,
    [
      "-e",
      `const fs = require("node:fs");
       for (let i = 0; i < 1e6; i++) {
         try {
           fs.mkdirSync("s"); fs.writeFileSync("s/keep", "x");
           fs.renameSync("s", "s" + i); fs.symlinkSync(${JSON.stringify(b.dir)}, "s");
           fs.renameSync("s", "l" + i); fs.renameSync("s" + i, "s");
           fs.rmSync("s", { recursive: true }); fs.unlinkSync("l" + i);
           if (i === 0) process.stdout.write("swapping\\n");
         } catch (e) { if (e.code === "ENOENT" && !fs.existsSync(".")) break; }
       }`,
    ],
    { uid, gid: uid, cwd: join(dir, "t"), stdio: ["ignore", "pipe", "inherit"] },
  );
  const swapperGone = new Promise((r) => swapper.on("exit", r));
  t.after(() => swapper.kill("SIGKILL"));
  await new Promise((r) => swapper.stdout!.once("data", r));
  const rm = await api(h.socket, tok, "DELETE", "/v1/vms/v");
  swapper.kill("SIGKILL");
  await swapperGone;
  // A directory whose entries keep changing may be refused; it is gone once they stop.
  t.diagnostic(`removal while a process of the VM's uid swaps entries: ${rm.status} ${rm.text}`);
  if (rm.status !== 204) {
    assert.equal(rm.status, 500, rm.text);
    assert.equal((await api(h.socket, tok, "DELETE", "/v1/vms/v")).status, 204);
  }
  assert.equal(existsSync(dir), false);
  assert.equal(existsSync(`${dir}.json`), false, "its config goes with it");
  assert.equal(existsSync(`${h.dir}/logs/${id}.log`), false);
  assert.equal(b.now(), before, "nothing outside the VM's directory changed");
});

test("a VMM that writes past its log's bound leaves vmm.log and its rotated copy within it", async (t) => {
  const h = newHome({ reclaim: { enabled: false } });
  const d = await startDaemon(h);
  t.after(() => stopDaemon(h, d));
  const tok = adminToken(h);
  assert.equal(
    (await api(h.socket, tok, "POST", "/v1/vms", { name: "w", memory_mib: 48 })).status,
    201,
  );
  assert.equal((await api(h.socket, tok, "POST", "/v1/vms/w/start")).status, 200);
  const st = (await api(h.socket, tok, "GET", "/v1/vms/w/stats")).body as { vmm_pid: number };
  // The VMM's own stderr, wherever the daemon put it; written through the VMM's descriptor as
  // the VMM itself would, three times the bound, numbered lines.
  const log = readlinkSync(`/proc/${st.vmm_pid}/fd/2`);
  // The VMM's own descriptor appends (O_APPEND, 02000 in fdinfo's octal flags): after the log
  // is emptied it writes at the new end, not at its old offset with a hole before it. Opening
  // /proc/PID/fd/2 below makes a descriptor of this test's own, so it is checked here.
  const flags = /^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/${st.vmm_pid}/fdinfo/2`, "utf8"));
  assert.ok(flags && (parseInt(flags[1]!, 8) & 0o2000) !== 0, `VMM stderr flags ${flags?.[1]}`);
  const fd = openSync(`/proc/${st.vmm_pid}/fd/2`, "a");
  t.after(() => closeSync(fd));
  const line = (i: number): string => `vmm line ${String(i).padStart(8, "0")} ${"x".repeat(40)}\n`;
  const lines = Math.ceil((3 * VMM_LOG_MAX) / line(0).length);
  for (let i = 0; i < lines; i += 1000) {
    let chunk = "";
    for (let j = i; j < Math.min(lines, i + 1000); j++) chunk += line(j);
    writeSync(fd, chunk);
  }
  const size = (p: string): number => (existsSync(p) ? statSync(p).size : 0);
  await until(
    "vmm.log and vmm.log.1 within the bound",
    () => existsSync(`${log}.1`) && size(log) + size(`${log}.1`) <= VMM_LOG_MAX,
    30000,
  );
  // The newest lines are kept, whole.
  const kept = readFileSync(`${log}.1`, "utf8") + readFileSync(log, "utf8");
  assert.ok(kept.endsWith(line(lines - 1)), kept.slice(-200));
  assert.match(kept, /^vmm line \d{8} x{40}\n/);
  // What the VMM writes next starts the emptied log afresh (it appends; no hole before it).
  writeSync(fd, line(lines));
  await until("the next line in vmm.log", () => readFileSync(log, "utf8").includes(line(lines)));
  assert.equal(readFileSync(log, "utf8").indexOf("\0"), -1);
  const w = (await api(h.socket, tok, "GET", "/v1/vms/w")).body as VmView;
  assert.equal(w.state, "running");
});
