// `moat stop` shuts the guest down, `moat kill` powers it off (issue 18, item 2). Every VM that
// boots a kernel has a power button (a virtio-input device with KEY_POWER); the shipped /init
// shuts down when it is pressed: SIGTERM (and SIGCONT) to every process, SIGKILL to the rest once
// they are gone, file systems unmounted, sync, power off with 143. The agent overlay's
// guest-shutdown runs the same shutdown (powering off with 0). The daemon asks the guest, waits
// a grace time and powers off what is still running; what it records follows what happened.
// Real guests on the soft CPU, the real daemon and CLI, the image read by e2fsprogs.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startMoat } from "./support/moat-cli.js";
import { control, type Reply } from "./support/control-client.js";
import {
  adminToken,
  api,
  cli,
  newHome,
  openConsole,
  startDaemon,
  stopDaemon,
  type DaemonProc,
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

// The disk is mounted where /proc/mounts must escape the name (a space is \040 there).
const MNT = "/mnt/a b";

/** Boots the VM `name` of `h`, mounts its disk at MNT (the shell's $D), types `script` there. */
async function bootAndWrite(h: Home, name: string, script: string): Promise<void> {
  const tok = adminToken(h);
  assert.equal((await cli(h, ["start", name])).status, 0);
  const con = await openConsole(h.socket, tok, name);
  try {
    // Sent again until the shell answers (it may still be starting).
    await con.expect(
      `D='${MNT}'; mkdir -p "$D"; grep -q ' /mnt/a\\\\040b ' /proc/mounts || mount /dev/vda "$D" && echo MOUNT-$((40+2))`,
      "MOUNT-42",
    );
    con.send(`${script}; echo WROTE-$((40+2))\n`);
    await until("the guest's writes", () => con.out().includes("WROTE-42"));
  } finally {
    con.close();
  }
}

/** Asserts that a VM's end was recorded with `reason` and exit status `status`. */
function assertEnd(
  end: { reason: string; status: number | null },
  reason: string,
  status: number,
): void {
  assert.deepEqual([end.reason, end.status], [reason, status]);
}

/** Runs `moat ARGS` (a stop or a kill of VM `vm`); returns how its end was recorded. */
async function endedBy(
  h: Home,
  args: string[],
  vm = "s",
): Promise<{ reason: string; status: number | null }> {
  const r = await cli(h, args);
  assert.equal(r.status, 0, r.err);
  return (await vmState(h.socket, adminToken(h), vm, "stopped")).last_exit!;
}

/** `p`, or a failure naming `what` after `ms`: a deadline that only catches a hang. */
async function within<T>(what: string, p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>(
    (_, rej) => (timer = setTimeout(() => rej(new Error(`${what}: not within ${ms} ms`)), ms)),
  );
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A process that cleans up on SIGTERM, as a daemon does: it writes $D/`file`, unsynced. `stopped`:
 * it stops itself once its handler is set (as by Ctrl-Z), so it handles SIGTERM only once it is
 * continued.
 */
const termHandler = (file: string, stopped = false): string =>
  `(sh -c 'trap "echo cleaned-up > \\"$0/${file}\\"; exit 0" TERM; ${stopped ? "kill -STOP $$; " : ""}while :; do sleep 1; done' "$D" &)`;
const TERM_HANDLER = termHandler("term");
const STOPPED_HANDLER = termHandler("term2", true);
// The power button's watcher (the process holding the event device open) killed: the guest no
// longer hears the button.
const DEAF =
  "for p in /proc/[0-9]*; do ls -l $p/fd/3 2>/dev/null | grep -q input/event && kill -9 ${p#/proc/}; done";
const FIVE_FILES = 'for i in 1 2 3 4 5; do echo data-$i > "$D/f$i"; done';
// The shell's working directory and a file it holds open for writing are on the disk: until
// the shell is gone (SIGKILL is not instant), the file system can be neither unmounted nor
// made read-only.
const HOLD = 'cd "$D" && exec 4>>held';

/**
 * The image unmounted (or made read-only) before the guest powered off, and consistent. (A
 * synced file system left mounted passes e2fsck -n too: the journal's needs_recovery flag is
 * what tells.)
 */
function unmounted(image: string): void {
  const sb = spawnSync("dumpe2fs", ["-h", image], { encoding: "utf8" });
  assert.equal(sb.status, 0, sb.stderr);
  assert.doesNotMatch(sb.stdout, /needs_recovery/, "the guest unmounted its file system");
  const fsck = spawnSync("e2fsck", ["-fn", image], { encoding: "utf8" });
  assert.equal(fsck.status, 0, `e2fsck -fn: ${fsck.stdout}${fsck.stderr}`);
}

/** unmounted, with the five files on it. */
function cleanWithFiles(image: string): void {
  unmounted(image);
  for (let i = 1; i <= 5; i++) assert.equal(imageFile(image, `/f${i}`), `data-${i}\n`);
}

/** Holds `n` clients on the control socket at `path` (each answered once, so each was taken). */
async function holdClients(path: string, n: number): Promise<net.Socket[]> {
  const held: net.Socket[] = [];
  await until("the control socket's clients held", async () => {
    const c = net.connect(path);
    const reply = await new Promise<string>((res) => {
      let got = "";
      c.setEncoding("utf8");
      c.on("data", (d: string) => {
        got += d;
        if (got.includes("\n")) res(got);
      });
      c.on("error", () => res(""));
      c.write('{"op":"status"}\n');
    });
    if (/"ok":true/.test(reply)) held.push(c);
    else c.destroy();
    return held.length >= n;
  });
  return held;
}

interface Fixture {
  h: Home;
  /** The daemon (stopped, with its VMs, after the test). */
  d: DaemonProc;
  tok: string;
  /** The VM's disk, a fresh ext4 image. */
  image: string;
  /** The VM's id (its directory under the home). */
  id: string;
}

/**
 * A daemon home with one VM `name` (64 MiB, a fresh ext4 disk with `disk` added to its entry,
 * `spec` added); gone after `t`.
 */
async function vmFixture(
  t: TestContext,
  name: string,
  config: Record<string, unknown> = {},
  spec: Record<string, unknown> = {},
  disk: Record<string, unknown> = {},
): Promise<Fixture> {
  const h = newHome({ reclaim: { enabled: false }, ...config });
  const d = await startDaemon(h);
  const tok = adminToken(h);
  const image = join(h.dir, "images", "disk.img");
  ext4Image(image);
  const made = await api(h.socket, tok, "POST", "/v1/vms", {
    name,
    memory_mib: 64,
    disks: [{ path: image, ...disk }],
    ...spec,
  });
  assert.equal(made.status, 201, made.text);
  const f = { h, d, tok, image, id: (made.body as { id: string }).id };
  t.after(() => stopDaemon(h, f.d));
  return f;
}

test("moat stop: the guest shuts down on the power button, its unsynced writes on the image (at a mount point with a space, a file held open for writing, a stopped process); moat kill and a grace time of 0: at once", async (t) => {
  const { h, tok, image } = await vmFixture(t, "s");
  // Five files written without sync, a process with a SIGTERM handler, one stopped, the shell
  // holding the file system: moat stop.
  await bootAndWrite(h, "s", `${FIVE_FILES}; ${TERM_HANDLER}; ${STOPPED_HANDLER}; ${HOLD}`);
  const t0 = Date.now();
  const stop = await cli(h, ["stop", "s"]);
  assert.equal(stop.status, 0, stop.err);
  assert.match(stop.out, /^s: stopped$/m);
  process.stderr.write(`# moat stop returned after ${Date.now() - t0} ms\n`);
  const v = await vmState(h.socket, tok, "s", "stopped");
  assert.equal(v.last_exit!.reason, "shut down by the operator (power button)");
  assert.equal(v.last_exit!.status, 143, "the guest's /init powered off with 143");
  cleanWithFiles(image);
  assert.equal(imageFile(image, "/term"), "cleaned-up\n", "SIGTERM reached the guest's processes");
  assert.equal(imageFile(image, "/term2"), "cleaned-up\n", "and the stopped one, continued");

  // moat kill: the same guest, the same process; nothing runs in the guest after it.
  await bootAndWrite(h, "s", `rm "$D/term"; sync; ${TERM_HANDLER}`);
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
});

test("moat stop: a process that SIGKILL takes a moment to end (it waits on a disk write) is gone before its file system is unmounted", async (t) => {
  // The disk writes 64 KiB/s: each of dd's 64 KiB direct writes takes about a second, and a
  // process ends at SIGKILL only once the write it waits on is done. dd ignores SIGTERM, so
  // the shutdown does not wait for it before the SIGKILL.
  const { h, image } = await vmFixture(t, "s", {}, {}, { bps: 65536 });
  const dd = `dd if=/dev/zero of="$D/big" bs=64k count=100000 oflag=direct 2>/dev/null`;
  await bootAndWrite(h, "s", `(trap '' TERM; ${dd} &)`);
  const v = await endedBy(h, ["stop", "s"]);
  assertEnd(v, "shut down by the operator (power button)", 143);
  unmounted(image);
});

test("moat stop: a guest that does not listen is powered off when the grace time ends; moat kill does not wait for it", async (t) => {
  const { h, tok } = await vmFixture(t, "s");
  // Its watcher killed: the button is pressed in vain.
  await bootAndWrite(h, "s", DEAF);
  assert.equal(
    (await endedBy(h, ["stop", "--timeout", "2", "s"])).reason,
    "stopped by the operator: the guest did not shut down within 2 s",
  );

  await bootAndWrite(h, "s", DEAF);
  const long = cli(h, ["stop", "--timeout", "600", "s"]);
  await vmState(h.socket, tok, "s", "stopping");
  const kill = await within("moat kill during a stop", cli(h, ["kill", "s"]), 120_000);
  assert.equal(kill.status, 0, kill.err);
  assert.equal((await long).status, 0);
  const kk = await vmState(h.socket, tok, "s", "stopped");
  assert.equal(kk.last_exit!.reason, "killed by the operator (SIGKILL)");
});

test("moat stop: a press the VMM refuses for now (its control socket's clients all taken) is pressed again until the grace time ends, not taken for a guest without a button", async (t) => {
  const { h, id } = await vmFixture(t, "s", { stopTimeoutMs: 3000 });
  await bootAndWrite(h, "s", TERM_HANDLER);
  const held = await holdClients(join(h.dir, "vms", id, "control.sock"), 8);
  try {
    assert.equal(
      (await endedBy(h, ["stop", "--timeout", "3", "s"])).reason,
      "stopped by the operator: the guest did not shut down within 3 s",
    );
  } finally {
    for (const c of held) c.destroy();
  }
});

test("moat stop of a paused VM runs it again and it shuts down on the button", async (t) => {
  const { h, tok, image } = await vmFixture(t, "s");
  await bootAndWrite(h, "s", `${FIVE_FILES}; ${TERM_HANDLER}`);
  assert.equal((await cli(h, ["pause", "s"])).status, 0);
  await vmState(h.socket, tok, "s", "paused");
  const paused = await endedBy(h, ["stop", "s"]);
  assertEnd(paused, "shut down by the operator (power button)", 143);
  cleanWithFiles(image);
  assert.equal(imageFile(image, "/term"), "cleaned-up\n");
});

test("a guest kernel panic while a stop waits is recorded as the panic (crashed), whatever the stop had asked", async (t) => {
  const { h, tok } = await vmFixture(t, "s");
  await bootAndWrite(h, "s", DEAF);
  const con = await openConsole(h.socket, tok, "s");
  try {
    const stop = api(h.socket, tok, "POST", "/v1/vms/s/stop?timeout=600");
    await vmState(h.socket, tok, "s", "stopping");
    // pvpanic's register, written as the guest's kernel does when it panics.
    con.send("devmem 0x102000 8 1\n");
    const v = await vmState(h.socket, tok, "s", "crashed");
    assert.equal(v.last_exit!.reason, "guest panic: the guest kernel panicked");
    assert.equal((await stop).status, 200);
  } finally {
    con.close();
  }
});

test("moat stop -t 1 of a VMM that does not answer: each request to it is bounded by the grace time left", async (t) => {
  // The hard phase is 3 x stopTimeoutMs: 1.5 s. The whole stop is then about 2.5 s, where a
  // press once waited out its own 5 s first.
  const { h, tok } = await vmFixture(t, "s", { stopTimeoutMs: 500 });
  await bootAndWrite(h, "s", "true");
  const stats = (await api(h.socket, tok, "GET", "/v1/vms/s/stats")).body as { vmm_pid: number };
  process.kill(stats.vmm_pid, "SIGSTOP");
  const t0 = Date.now();
  const stop = await api(h.socket, tok, "POST", "/v1/vms/s/stop?timeout=1");
  const ms = Date.now() - t0;
  assert.equal(stop.status, 200, stop.text);
  const v = await vmState(h.socket, tok, "s", "stopped");
  assert.equal(
    v.last_exit!.reason,
    "stopped by the operator: the guest did not shut down within 1 s",
  );
  assert.ok(ms < 5000, `stopped after ${ms} ms`);
});

/** Waits until the guest agent of VM `vm` answers. */
function agentUp(f: Fixture, vm: string): Promise<unknown> {
  return until(
    "the guest agent",
    async () =>
      (await api(f.h.socket, f.tok, "POST", `/v1/vms/${vm}/agent`, { command: "ping" })).status ===
      200,
    120_000,
  );
}

test("moat stop through the guest agent: the button's clean shutdown (SIGTERM, file systems unmounted), powered off with 0", async (t) => {
  const f = await vmFixture(t, "g", {}, { agent: {} });
  await bootAndWrite(f.h, "g", `${FIVE_FILES}; ${TERM_HANDLER}; ${HOLD}`);
  await agentUp(f, "g");
  const agent = await endedBy(f.h, ["stop", "g"], "g");
  assertEnd(agent, "shut down by the operator through the guest agent", 0);
  cleanWithFiles(f.image);
  assert.equal(
    imageFile(f.image, "/term"),
    "cleaned-up\n",
    "SIGTERM reached the guest's processes",
  );
});

test("moat stop: an agent that takes guest-shutdown and does nothing (it says nothing either, as one that works): the button, a few seconds later", async (t) => {
  const f = await vmFixture(t, "g", {}, { agent: {} });
  await bootAndWrite(f.h, "g", `printf '#!/bin/sh\\n' > /bin/shutdown; ${TERM_HANDLER}`);
  await agentUp(f, "g");
  const button = await endedBy(f.h, ["stop", "g"], "g");
  assertEnd(button, "shut down by the operator (power button)", 143);
  assert.equal(imageFile(f.image, "/term"), "cleaned-up\n");
});

test("moat kill while a stop waits for an agent that does not answer (stopped): recorded as the kill", async (t) => {
  const f = await vmFixture(t, "g", {}, { agent: {} });
  await bootAndWrite(f.h, "g", "true");
  // A daemon started again adopts the VM and sees its end by polling /proc: the stop's call
  // fails as the VMM dies, a moment before the daemon sees the end.
  f.d.p.kill("SIGTERM");
  await f.d.exited;
  f.d = await startDaemon(f.h);
  await agentUp(f, "g");
  const con = await openConsole(f.h.socket, f.tok, "g");
  try {
    await con.expect("kill -STOP $(pidof qemu-ga) && echo STOPPED-$((40+2))", "STOPPED-42");
  } finally {
    con.close();
  }
  const stop = api(f.h.socket, f.tok, "POST", "/v1/vms/g/stop?timeout=600");
  await vmState(f.h.socket, f.tok, "g", "stopping");
  assert.equal((await api(f.h.socket, f.tok, "POST", "/v1/vms/g/kill")).status, 200);
  assert.equal((await stop).status, 200);
  const v = await vmState(f.h.socket, f.tok, "g", "stopped");
  assert.equal(v.last_exit!.reason, "killed by the operator (SIGKILL)");
});

/**
 * Runs `moat run --control SOCK -- sh -c SCRIPT` (SCRIPT prints UP-42 once it is up), calls
 * `early` with the socket, and presses the power button once the command is up. Resolves to
 * that press's reply and moat run's exit status (null: killed after 120 s) with its output.
 */
async function pressedRun(
  script: string,
  early: (sock: string) => Promise<void> = async () => {},
): Promise<{ press: Reply; status: number | null; out: string }> {
  const dir = mkdtempSync(join(tmpdir(), "moat-shutdown-"));
  const sock = join(dir, "ctl.sock");
  const vm = startMoat(["run", "--control", sock, "--", "sh", "-c", script], 120_000);
  try {
    await early(sock);
    await until("the guest's command", () => vm.out().includes("UP-42"), 60_000);
    const [press] = await control(sock, [{ op: "shutdown" }]);
    const status = await vm.done;
    return { press: press!, status, out: vm.out() + vm.err() };
  } finally {
    vm.p.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}

test("moat run --control: shutdown presses the power button; the shipped guest powers off with 143", async () => {
  const r = await pressedRun("echo UP-$((40+2)); sleep 100", async (sock) => {
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
  });
  assert.deepEqual(r.press, { ok: true, userspace: true });
  assert.equal(r.status, 143, r.out);
});

test("moat run: a shutdown that dies half-way (its process killed) still powers the guest off, with 143", async () => {
  // A process whose SIGTERM handler takes 3 s holds the shutdown's wait; a canary ends at the
  // SIGTERM, and then a process that ignores SIGTERM kills the shutdown (the power button's
  // watcher: the process holding its event device). Both ignore SIGHUP, which the command's
  // session gets when its shell ends at the SIGTERM. (Before, /init then waited forever: the
  // VM was killed after 120 s, its status null.)
  const r = await pressedRun(
    [
      `sh -c 'trap "" HUP; trap "sleep 3; exit 0" TERM; while :; do sleep 1; done' &`,
      "sleep 1000 & c=$!",
      `(trap '' TERM HUP; while [ -e /proc/$c/exe ]; do sleep 0.1; done; ${DEAF}) &`,
      "echo UP-$((40+2)); wait",
    ].join("\n"),
  );
  assert.deepEqual(r.press, { ok: true, userspace: true });
  assert.equal(r.status, 143, r.out);
});
