// The display end to end on the soft CPU: the shipped kernel's virtio-gpu driver and its
// framebuffer console draw through moat's device model; the control socket's screenshot is a PNG
// of the guest's mode with the text the guest wrote on it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PNG } from "pngjs";
import { vmmCall } from "../src/host/vmm-client.js";
import { moat, startMoat, until } from "./support/moat-cli.js";
import {
  adminToken,
  api,
  cli,
  newHome,
  openConsole,
  startDaemon,
  stopDaemon,
} from "./support/moatd.js";

test("--display: the guest's text console appears in a PNG screenshot of its mode", async () => {
  const dir = mkdtempSync(join(tmpdir(), "moat-display-"));
  const ctl = join(dir, "c.sock");
  const vm = startMoat([
    "run",
    "--display=800x600",
    "--control",
    ctl,
    "--",
    "sh",
    "-c",
    "ls /dev/fb0 && echo MOAT-DISPLAY-TEST > /dev/tty0 && echo drawn && " +
      "for e in /sys/class/input/event*; do echo $(cat $e/device/name): ${e##*/}; done && " +
      "ev=$(grep -l 'moat keyboard' /sys/class/input/event*/device/name | cut -d/ -f5) && " +
      "head -c 48 /dev/input/$ev | od -An -tx1 && echo keys-read && sleep 120",
  ]);
  try {
    await until(() => vm.out().includes("drawn"), "the guest to draw");
    // fbcon draws on its next flush: ask until the text is there. Text is light on black.
    const lit = (png: PNG, y0: number, y1: number): number => {
      let n = 0;
      for (let y = y0; y < y1; y++)
        for (let x = 0; x < png.width; x++) if (png.data[(y * png.width + x) * 4]! > 128) n++;
      return n;
    };
    let shot: Record<string, unknown> = {};
    let png: PNG | undefined;
    for (let i = 0; i < 60; i++) {
      shot = await vmmCall(ctl, { op: "screenshot" }, 5000);
      if (shot.ok === true) {
        png = PNG.sync.read(Buffer.from(shot.png as string, "base64"));
        if (lit(png, 0, 16) > 100) break;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal(shot.ok, true, JSON.stringify(shot));
    assert.equal(shot.width, 800);
    assert.equal(shot.height, 600);
    assert.ok(png);
    assert.equal(png.width, 800);
    assert.equal(png.height, 600);
    // The first text line (16 pixels high) has lit pixels, the bottom half of the screen none,
    // and every pixel is opaque.
    assert.ok(lit(png, 0, 16) > 100, `${lit(png, 0, 16)} lit pixels in the first line`);
    assert.equal(lit(png, 300, 600), 0);
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

test("through the daemon: a VM created with a display, moat screenshot writes its PNG, VNC on its socket", async (t) => {
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
  const con = await openConsole(h.socket, tok, "shown");
  await con.expect("echo MOAT-ON-SCREEN > /dev/tty0 && echo written", "written");
  con.close();
  const file = join(h.dir, "shot.png");
  let lit = 0;
  for (let i = 0; i < 40 && lit < 100; i++) {
    const r = await cli(h, ["screenshot", "shown", file]);
    assert.equal(r.status, 0, r.err);
    const png = PNG.sync.read(readFileSync(file));
    assert.deepEqual([png.width, png.height], [640, 480]);
    lit = 0;
    for (let p = 0; p < 640 * 16 * 4; p += 4) if (png.data[p]! > 128) lit++;
    if (lit < 100) await new Promise((r) => setTimeout(r, 500));
  }
  assert.ok(lit >= 100, `${lit} lit pixels in the first line`);
  // The VNC socket sits in the VM's directory, owner-only.
  const vms = (await api(h.socket, tok, "GET", "/v1/vms/shown")).body as { id: string };
  const sock = join(h.dir, "vms", vms.id, "vnc.sock");
  assert.equal(statSync(sock).mode & 0o777, 0o600);
  // A VM without a display: 409 with the reason.
  await cli(h, ["create", "--name", "blind", "--memory", "48"]);
  const none = await api(h.socket, tok, "GET", "/v1/vms/blind/screenshot");
  assert.equal(none.status, 409);
  assert.match(none.text, /has no display/);
  await cli(h, ["kill", "shown"]);
});
