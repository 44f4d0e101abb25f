// `moat stop` shuts the guest down, `moat kill` powers it off (issue 18, item 2). Every VM that
// boots a kernel has a power button (a virtio-input device with KEY_POWER); the shipped /init
// shuts down when it is pressed: SIGTERM to every process, file systems unmounted, sync, power
// off with 143. The daemon presses it and waits a grace time before it powers the VM off.
// Real guests on the soft CPU, the real daemon and CLI, the image read by e2fsprogs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MOAT, REPO } from "./support/moat-cli.js";
import { control } from "./support/control-client.js";
import {
  adminToken,
  api,
  cli,
  newHome,
  openConsole,
  startDaemon,
  stopDaemon,
  until,
  vmState,
  type Home,
} from "./support/moatd.js";

/** A fresh 32 MiB ext4 image at `path`. */
function ext4Image(path: string): void {
  writeFileSync(path, "");
  const mk = spawnSync("mkfs.ext4", ["-q", "-F", path, "32M"], {
    encoding: "utf8",
  });
  assert.equal(mk.status, 0, mk.stderr);
}

/** A file of the image as debugfs reads it (null: none), without mounting or changing it. */
function imageFile(image: string, path: string): string | null {
  const r = spawnSync("debugfs", ["-R", `cat ${path}`, image], { encoding: "utf8" });
  return /File not found/.test(r.stderr) ? null : r.stdout;
}

/** Boots the VM `name` of `h`, mounts its disk at /mnt and types `script` into its shell. */
async function bootAndWrite(h: Home, name: string, script: string): Promise<void> {
  const tok = adminToken(h);
  assert.equal((await cli(h, ["start", name])).status, 0);
  const con = await openConsole(h.socket, tok, name);
  try {
    // Sent again until the shell answers (it may still be starting).
    await con.expect(
      "grep -q ' /mnt ' /proc/mounts || mount /dev/vda /mnt && echo MOUNT-$((40+2))",
      "MOUNT-42",
    );
    con.send(`${script}; echo WROTE-$((40+2))\n`);
    await until("the guest's writes", () => con.out().includes("WROTE-42"));
  } finally {
    con.close();
  }
}

/** Runs `moat ARGS` (a stop or a kill of VM s); returns the reason its end was recorded with. */
async function endedBy(
  h: Home,
  args: string[],
): Promise<{ reason: string; status: number | null }> {
  const r = await cli(h, args);
  assert.equal(r.status, 0, r.err);
  return (await vmState(h.socket, adminToken(h), "s", "stopped")).last_exit!;
}

// A process that cleans up on SIGTERM, as a daemon does: it writes /mnt/term, unsynced.
const TERM_HANDLER = `(sh -c 'trap "echo cleaned-up > /mnt/term; exit 0" TERM; while :; do sleep 1; done' &)`;
// The power button's watcher (the process holding the event device open) killed: the guest no
// longer hears the button.
const DEAF =
  "for p in /proc/[0-9]*; do ls -l $p/fd/3 2>/dev/null | grep -q input/event && kill -9 ${p#/proc/}; done";
const FIVE_FILES = "for i in 1 2 3 4 5; do echo data-$i > /mnt/f$i; done";

test("moat stop: the guest shuts down on the power button, its unsynced writes on the image; one that does not listen is powered off after the grace time; moat kill: at once, even during a stop", async (t) => {
  const h = newHome({ reclaim: { enabled: false } });
  const d = await startDaemon(h);
  t.after(() => stopDaemon(h, d));
  const tok = adminToken(h);
  const image = join(h.dir, "images", "disk.img");
  ext4Image(image);
  const made = await api(h.socket, tok, "POST", "/v1/vms", {
    name: "s",
    memory_mib: 64,
    disks: [{ path: image }],
  });
  assert.equal(made.status, 201, made.text);

  // Five files written without sync, a process with a SIGTERM handler: moat stop.
  await bootAndWrite(h, "s", `${FIVE_FILES}; ${TERM_HANDLER}`);
  const t0 = Date.now();
  const stop = await cli(h, ["stop", "s"]);
  assert.equal(stop.status, 0, stop.err);
  assert.match(stop.out, /^s: stopped$/m);
  const stopMs = Date.now() - t0;
  process.stderr.write(`# moat stop returned after ${stopMs} ms\n`);
  const v = await vmState(h.socket, tok, "s", "stopped");
  assert.equal(v.last_exit!.reason, "shut down by the operator (power button)");
  assert.equal(v.last_exit!.status, 143, "the guest's /init powered off with 143");
  assert.ok(stopMs < 20_000, `the guest shut down in ${stopMs} ms, well inside the 30 s grace`);
  // Unmounted cleanly (no journal to replay), every file there.
  const fsck = spawnSync("e2fsck", ["-fn", image], { encoding: "utf8" });
  assert.equal(fsck.status, 0, `e2fsck -fn: ${fsck.stdout}${fsck.stderr}`);
  for (let i = 1; i <= 5; i++) assert.equal(imageFile(image, `/f${i}`), `data-${i}\n`);
  assert.equal(imageFile(image, "/term"), "cleaned-up\n", "SIGTERM reached the guest's processes");

  // moat kill: the same guest, the same process; nothing runs in the guest after it.
  await bootAndWrite(h, "s", `rm /mnt/term; sync; ${TERM_HANDLER}`);
  assert.equal((await endedBy(h, ["kill", "s"])).reason, "killed by the operator (SIGKILL)");
  assert.equal(imageFile(image, "/term"), null, "no SIGTERM handler ran");

  // A grace time of 0 powers off at once, through the VMM; bad values are refused, saying why.
  await bootAndWrite(h, "s", TERM_HANDLER);
  const bad = await cli(h, ["stop", "--timeout", "soon", "s"]);
  assert.notEqual(bad.status, 0);
  assert.match(bad.err, /--timeout wants a whole number, not 'soon'/);
  const big = await api(h.socket, tok, "POST", "/v1/vms/s/stop?timeout=3601");
  assert.equal(big.status, 400, big.text);
  assert.match(big.text, /timeout must be <= 3600/);
  assert.equal((await endedBy(h, ["stop", "-t", "0", "s"])).reason, "stopped by the operator");
  assert.equal(imageFile(image, "/term"), null, "no shutdown in the guest");

  // A guest that does not listen (its watcher killed): powered off when the grace time ends.
  await bootAndWrite(h, "s", DEAF);
  assert.equal(
    (await endedBy(h, ["stop", "--timeout", "2", "s"])).reason,
    "stopped by the operator: the guest did not shut down within 2 s",
  );

  // moat kill does not wait for a stop's grace time to end.
  await bootAndWrite(h, "s", DEAF);
  const long = cli(h, ["stop", "--timeout", "600", "s"]);
  await vmState(h.socket, tok, "s", "stopping");
  const k0 = Date.now();
  assert.equal((await cli(h, ["kill", "s"])).status, 0);
  assert.ok(Date.now() - k0 < 10_000, `moat kill took ${Date.now() - k0} ms`);
  assert.equal((await long).status, 0);
  const kk = await vmState(h.socket, tok, "s", "stopped");
  assert.equal(kk.last_exit!.reason, "killed by the operator (SIGKILL)");
});

test("moat run --control: shutdown presses the power button; the shipped guest powers off with 143", async () => {
  const dir = mkdtempSync(join(tmpdir(), "moat-shutdown-"));
  const sock = join(dir, "ctl.sock");
  const p = spawn(
    process.execPath,
    [MOAT, "run", "--control", sock, "--", "sh", "-c", "echo UP-$((40+2)); sleep 100"],
    { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  p.stdout.setEncoding("utf8").on("data", (s: string) => (out += s));
  p.stderr.setEncoding("utf8").on("data", (s: string) => (out += s));
  const done = new Promise<number | null>((r) => p.on("close", (c) => r(c)));
  try {
    // Before the guest's userspace has started: the press is made, and nothing was written.
    const first = await until(
      "the VM",
      async () => {
        const [r] = await control(sock, [{ op: "shutdown" }]);
        return r!.ok === true ? r : undefined;
      },
      30_000,
    );
    assert.deepEqual(first, { ok: true, userspace: false });
    await until("the guest's command", () => out.includes("UP-42"), 60_000);
    const [r] = await control(sock, [{ op: "shutdown" }]);
    assert.deepEqual(r, { ok: true, userspace: true });
    assert.equal(await done, 143, out);
  } finally {
    p.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
});
