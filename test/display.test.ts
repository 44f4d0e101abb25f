// The display end to end on the soft CPU: the shipped kernel's virtio-gpu driver and its
// framebuffer console draw through moat's device model; the control socket's screenshot is a PNG
// of the guest's mode with the text the guest wrote on it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PNG } from "pngjs";
import { withScreenConsole } from "../src/boot/screen-console.js";
import { vmmCall } from "../src/host/vmm-client.js";
import type { ControlReply } from "../src/vmm/control-protocol.js";
import { okReply } from "./support/control-client.js";
import { moat, startMoat, until } from "./support/moat-cli.js";
import { rfb, typeKeys } from "./support/rfb.js";
import { litPixels, untilScreen } from "./support/screen.js";
import {
  adminToken,
  api,
  cli,
  newHome,
  openConsole,
  startDaemon,
  stopDaemon,
} from "./support/moatd.js";

test("--display: the screen shows the guest's console and a shell while its command runs on the serial console; a PNG screenshot of its mode", async () => {
  // The serial console stays /dev/console (flag C in /proc/consoles): the command's output and
  // exit status come through it. tty0, the screen, is a console too.
  const quick = await moat([
    "run",
    "--display=640x480",
    "--",
    "sh",
    "-c",
    "cat /proc/consoles; exit 7",
  ]);
  assert.equal(quick.status, 7, quick.stderr);
  assert.match(quick.stdout, /^ttyS0 +\S+ +\(EC/m);
  assert.match(quick.stdout, /^tty0 /m);
  const dir = mkdtempSync(join(tmpdir(), "moat-display-"));
  const ctl = join(dir, "c.sock");
  // Nothing here writes to the screen: what it shows is the shell /init starts there.
  const vm = startMoat([
    "run",
    "--display=800x600",
    "--control",
    ctl,
    "--",
    "sh",
    "-c",
    "ls /dev/fb0 && " +
      "for e in /sys/class/input/event*; do echo $(cat $e/device/name): ${e##*/}; done && " +
      "ev=$(grep -l 'moat keyboard' /sys/class/input/event*/device/name | cut -d/ -f5) && " +
      "head -c 48 /dev/input/$ev | od -An -tx1 && echo keys-read && sleep 120",
  ]);
  try {
    await until(() => vm.out().includes("/dev/fb0"), "the guest's command");
    let shot: ControlReply<"screenshot"> | undefined;
    const shoot = async (): Promise<PNG | undefined> => {
      shot = await vmmCall(ctl, { op: "screenshot" }, 5000);
      return shot.ok === true ? PNG.sync.read(Buffer.from(shot.png, "base64")) : undefined;
    };
    // The shell's greeting and prompt (text is light on black), a few lines at the top.
    const png = await untilScreen(
      shoot,
      (p) => litPixels(p, 0, 300) > 1000,
      "the shell on the screen",
    );
    assert.equal(okReply(shot!).width, 800);
    assert.equal(okReply(shot!).height, 600);
    assert.equal(png.width, 800);
    assert.equal(png.height, 600);
    // The bottom half of the screen is empty, and every pixel is opaque.
    assert.equal(litPixels(png, 300, 600), 0);
    for (let i = 3; i < png.data.length; i += 4 * 997) assert.equal(png.data[i], 255);
    // The display comes with a keyboard and a tablet; a key sent to the keyboard arrives in
    // the guest as an EV_KEY event for that code (24-byte input_event: type 1, code 30 = 'a').
    await until(
      () => /moat keyboard: event\d/.test(vm.out()) && /moat tablet: event\d/.test(vm.out()),
      "the guest's input devices",
      30_000,
    );
    for (let i = 0; i < 60 && !vm.out().includes("keys-read"); i++) {
      const r = await vmmCall(ctl, { op: "key", code: 30 }, 5000);
      assert.equal(r.ok, true, JSON.stringify(r));
      await new Promise((res) => setTimeout(res, 500));
    }
    assert.match(vm.out().replace(/\s+/g, " "), / 01 00 1e 00 0[01] 00 00 00 /);
    const bad = await vmmCall(ctl, { op: "key", code: 999 }, 5000);
    assert.equal(bad.ok, false);
  } finally {
    vm.p.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
});

test("--display: console=tty0 goes before the console the command line names; a command line without one, or naming a VT, is left alone", () => {
  assert.equal(withScreenConsole("console=ttyS0 quiet"), "console=tty0 console=ttyS0 quiet");
  assert.equal(
    withScreenConsole(" root=/dev/vda console=hvc0 "),
    "console=tty0 root=/dev/vda console=hvc0",
  );
  for (const same of [
    "root=/dev/vda rw",
    "quiet -- console=ttyS0",
    "console=tty1 console=ttyS0",
    "console=ttyS0 console=tty",
  ])
    assert.equal(withScreenConsole(same), same);
});

test("--display: a bad mode is refused; a VM without a display says so when asked for a screenshot", async () => {
  for (const bad of ["--display=10x10", "--display=wide", "--display=9000x100"]) {
    const r = await moat(["run", bad, "--", "true"]);
    assert.equal(r.status, 125, r.stderr);
    assert.match(r.stderr, /--display wants WxH between 320x200 and 3840x2160/);
  }
  const novnc = await moat(["run", "--vnc", join(tmpdir(), "moat-no-display.sock"), "--", "true"]);
  assert.equal(novnc.status, 125);
  assert.match(novnc.stderr, /--vnc serves a display: add --display/);
  const dir = mkdtempSync(join(tmpdir(), "moat-display-"));
  const ctl = join(dir, "c.sock");
  const vm = startMoat(["run", "--control", ctl, "--", "sh", "-c", "echo up; sleep 60"]);
  try {
    await until(() => vm.out().includes("up"), "the guest");
    const r = await vmmCall(ctl, { op: "screenshot" }, 5000);
    assert.equal(r.ok, false);
    assert.match(String(r.error), /this VM has no display \(--display\)/);
  } finally {
    vm.p.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
});

test("through the daemon: a VM with a display has a shell on its screen (moat screenshot) that runs what is typed over VNC (Ctrl-C, exit); its serial console keeps its own", async (t) => {
  const h = newHome({ reclaim: { enabled: false } });
  const d = await startDaemon(h);
  t.after(() => stopDaemon(h, d));
  const tok = adminToken(h);
  const made = await cli(h, [
    "create",
    "--name",
    "shown",
    "--memory",
    "64",
    "--display",
    "640x480",
  ]);
  assert.equal(made.status, 0, made.err);
  const spec = (await api(h.socket, tok, "GET", "/v1/vms/shown")).body as {
    spec: { display: { width: number; height: number } };
  };
  assert.deepEqual(spec.spec.display, { width: 640, height: 480 });
  assert.equal((await cli(h, ["start", "shown"])).status, 0);
  const file = join(h.dir, "shot.png");
  const shoot = async (): Promise<PNG | undefined> => {
    const r = await cli(h, ["screenshot", "shown", file]);
    if (/shows nothing on its display yet/.test(r.err)) return undefined; // still booting
    assert.equal(r.status, 0, r.err);
    const png = PNG.sync.read(readFileSync(file));
    assert.deepEqual([png.width, png.height], [640, 480]);
    return png;
  };
  // Nothing writes to the screen for the test: the shell's greeting and prompt appear there.
  await untilScreen(shoot, (p) => litPixels(p) > 1000, "the shell on the screen");
  // The serial console is still the console, with its own shell.
  const con = await openConsole(h.socket, tok, "shown");
  await con.expect("echo serial-$((6*7))", "serial-42");
  con.close();
  // The VNC socket sits in the VM's directory, owner-only.
  const vms = (await api(h.socket, tok, "GET", "/v1/vms/shown")).body as { id: string };
  const sock = join(h.dir, "vms", vms.id, "vnc.sock");
  assert.equal(statSync(sock).mode & 0o777, 0o600);
  // Typed on the VM's keyboard over VNC. exit: the shell ends and another takes its place.
  // Then 400 spaces in reverse video (5 of the screen's 30 rows of 80 cells of 8x16 pixels,
  // every pixel lit; before, a few lines of text) and a command that waits, which Ctrl-C ends;
  // then 1200 more.
  const c = await rfb(sock);
  t.after(() => c.sock.destroy());
  const cell = 8 * 16;
  typeKeys(c.sock, "exit\nprintf '\\033[7m%400s\\033[m\\n'; sleep 1000\n");
  await untilScreen(shoot, (p) => litPixels(p) >= 400 * cell, "the first typed command's output");
  typeKeys(c.sock, "\x03printf '\\033[7m%1200s\\033[m\\n'\n");
  await untilScreen(shoot, (p) => litPixels(p) >= 1600 * cell, "the command typed after Ctrl-C");
  // A VM without a display: 409 with the reason.
  await cli(h, ["create", "--name", "blind", "--memory", "48"]);
  const none = await api(h.socket, tok, "GET", "/v1/vms/blind/screenshot");
  assert.equal(none.status, 409);
  assert.match(none.text, /has no display/);
  await cli(h, ["kill", "shown"]);
});
