// A VM process's own log as an operator reads it: a daemon started with --log-format json runs
// its VMs with JSON logs too (each line with its level and the VM's name, in root's
// logs/<id>.log), a device the guest breaks is a warning there; `moat run` at a terminal keeps
// its `moat: ...` text lines, and no text line can be forged by what a guest chose. A real daemon
// and real VM processes (the shipped guest, its shell on the console socket).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import {
  adminToken,
  api,
  newHome,
  openConsole,
  spawnDaemon,
  stopDaemon,
  until,
  vmState,
} from "./support/moatd.js";
import { MOAT, REPO } from "./support/moat-cli.js";
import { vmmLogger } from "../src/vmm/vmm-logger.js";
import { VmmLogs } from "../src/host/vmm-log.js";

type Line = Record<string, unknown>;

/** A VM's log as JSON lines; fails on any line that is not one. */
function jsonLines(path: string): Line[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => {
      try {
        return JSON.parse(l) as Line;
      } catch {
        throw new Error(`not a JSON line in ${path}: ${l}`);
      }
    });
}

/**
 * In the guest: frees virtio-rng from its driver, then sets it up again by hand with a queue
 * larger than the device's maximum (devmem on its virtio-mmio registers): the device stops
 * (NEEDS_RESET) and the VMM logs why. The device is found by its DeviceID (4) in the slots.
 */
const BREAK_RNG = [
  "for d in /sys/bus/virtio/drivers/virtio_rng/virtio*; do echo ${d##*/} > ${d%/*}/unbind; done",
  'case $(uname -m) in x86_64) B=$((0xd0000000));; *) B=$((0x10001000));; esac; R=""',
  "for i in 0 1 2 3 4 5 6 7; do a=$((B+i*4096)); " +
    "[ $(($(devmem $((a+8)) 32))) -eq 4 ] && R=$a; done",
  // reset; ACKNOWLEDGE|DRIVER; VERSION_1; FEATURES_OK; queue 0 of 65536 entries; ready
  "devmem $((R+0x70)) 32 0; devmem $((R+0x70)) 32 3; devmem $((R+0x24)) 32 1; " +
    "devmem $((R+0x20)) 32 1; devmem $((R+0x70)) 32 11; devmem $((R+0x30)) 32 0; " +
    "devmem $((R+0x38)) 32 65536; devmem $((R+0x44)) 32 1; echo BROKE-$((40+2)) $R",
].join("\n");

test("a daemon with --log-format json runs its VMs with JSON logs: level and VM name on each line, a device the guest breaks at warn", async (t) => {
  const h = newHome({ reclaim: { enabled: false } });
  const d = spawnDaemon(h, ["--log-format", "json"]);
  t.after(() => stopDaemon(h, d));
  await until("the daemon ready", () => d.log().includes('"msg":"ready'));
  const tok = adminToken(h);
  const made = await api(h.socket, tok, "POST", "/v1/vms", {
    name: "j",
    memory_mib: 64,
    rng: true,
  });
  assert.equal(made.status, 201, made.text);
  const log = `${h.dir}/logs/${(made.body as { id: string }).id}.log`;
  assert.equal((await api(h.socket, tok, "POST", "/v1/vms/j/start")).status, 200);
  await vmState(h.socket, tok, "j", "running");
  const start = await until("the VM's start line", () =>
    jsonLines(log).find((l) => l.event === "vm.start"),
  );
  assert.equal(start.level, "info");
  assert.equal(start.vm, "j");
  assert.equal(start.name, "moat-vmm");
  assert.ok(!Number.isNaN(Date.parse(String(start.time))), "an ISO time");

  const con = await openConsole(h.socket, tok, "j");
  try {
    await con.expect("echo UP-$((40+2))", "UP-42", 120_000);
    con.send(`${BREAK_RNG}\n`);
    await until("the guest's devmem writes", () => con.out().includes("BROKE-42"));
  } finally {
    con.close();
  }
  const warn = await until("the device's warning", () =>
    jsonLines(log).find((l) => l.event === "device"),
  );
  assert.equal(warn.level, "warn");
  assert.equal(warn.vm, "j");
  assert.equal(warn.device, "virtio-rng");
  assert.equal(warn.kind, "needs-reset");
  assert.match(String(warn.msg), /^virtio-rng: queue 0: .*65536.*; the device needs a reset$/);

  assert.equal((await api(h.socket, tok, "POST", "/v1/vms/j/stop")).status, 200);
  await vmState(h.socket, tok, "j", "stopped");
  const end = await until("the VM's end line", () =>
    jsonLines(log).find((l) => l.event === "vm.end"),
  );
  assert.equal(end.level, "info");
  // Every line, to the last, is JSON with a level and the VM's name.
  for (const l of jsonLines(log)) {
    assert.ok(["debug", "info", "warn", "error"].includes(String(l.level)), JSON.stringify(l));
    assert.equal(l.vm, "j", JSON.stringify(l));
  }
});

test("moat run logs text lines as before ('moat: ...', no JSON)", () => {
  const r = spawnSync(process.execPath, [MOAT, "run", "--timing", "--", "echo", "ran"], {
    cwd: REPO,
    encoding: "utf8",
    timeout: 240_000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /ran/);
  const lines = r.stderr.split("\n").filter((l) => l !== "");
  assert.ok(lines.length > 0, "the timing line");
  for (const l of lines) assert.match(l, /^moat: /);
  assert.match(r.stderr, /^moat: userspace started at \d+ ms; VM ran \d+ ms; /m);
});

test("a VM process's text line cannot be forged by what a guest chose; JSON keeps it one line", () => {
  const text: string[] = [];
  vmmLogger({ name: "v", sink: (l) => text.push(l) }).warn(
    "virtio-blk vda: bad\nmoat: the guest powered off\x1b[2J",
    { device: "virtio-blk vda" },
  );
  assert.deepEqual(text, ["moat: virtio-blk vda: bad\\x0amoat: the guest powered off\\x1b[2J\n"]);
  const json: string[] = [];
  vmmLogger({ name: "v", format: "json", sink: (l) => json.push(l) }).warn("bad\nline", {
    device: "virtio-blk vda",
  });
  assert.equal(json.length, 1);
  assert.equal(json[0]!.split("\n").length, 2, "one line and its newline");
  const l = JSON.parse(json[0]!) as Line;
  assert.deepEqual([l.level, l.vm, l.device, l.msg], ["warn", "v", "virtio-blk vda", "bad\nline"]);
});

test("a VMM's failure is quoted from its log's last line: a JSON line's message, a text line as it is", () => {
  const dir = mkdtempSync(join(tmpdir(), "moat-vmmlog-"));
  try {
    const logs = new VmmLogs(join(dir, "logs"));
    writeFileSync(
      logs.path("a"),
      '{"level":"info","msg":"VM started"}\n{"level":"error","vm":"a","msg":"disk d.img: no such file"}\n',
    );
    assert.equal(logs.lastLine("a"), "disk d.img: no such file");
    writeFileSync(logs.path("b"), "moat: disk d.img: no such file\n");
    assert.equal(logs.lastLine("b"), "moat: disk d.img: no such file");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
