// The display over VNC against a real client: Debian's gvnccapture (gtk-vnc) captures the guest's
// console into a PNG of its mode, through a loopback TCP relay to moat's Unix socket (the
// capture tool speaks TCP only). Keys typed by an RFB client reach the shell on the guest's
// screen. Several viewers at once; hostile viewers are cut off without disturbing the others. On a
// loopback port, VNC Authentication keeps out a viewer without the password.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PNG } from "pngjs";
import { moat, startMoat, until } from "./support/moat-cli.js";
import { rfb, typeKeys } from "./support/rfb.js";
import { litPixels } from "./support/screen.js";

/**
 * Listens with `srv` on the first free loopback VNC port of displays 50-98 (gvnccapture takes a
 * display number); resolves to the display.
 */
async function listenOnVncDisplay(srv: net.Server): Promise<number> {
  for (let display = 50; display < 99; display++) {
    const ok = await new Promise<boolean>((res) => {
      srv.once("error", () => res(false));
      srv.listen(5900 + display, "127.0.0.1", () => res(true));
    });
    if (ok) return display;
  }
  throw new Error("no free VNC port on loopback");
}

/** A loopback TCP port relayed to the Unix socket `path`; resolves to its display number. */
async function relay(path: string): Promise<{ display: number; close: () => void }> {
  const srv = net.createServer((c) => {
    const u = net.connect(path);
    c.pipe(u).pipe(c);
    c.on("error", () => u.destroy());
    u.on("error", () => c.destroy());
  });
  const display = await listenOnVncDisplay(srv);
  return { display, close: () => srv.close() };
}

test("VNC: gvnccapture captures the console, keys typed over RFB reach the guest, bad viewers are cut off", async () => {
  const dir = mkdtempSync(join(tmpdir(), "moat-vnc-"));
  const vncPath = join(dir, "vnc.sock");
  const vm = startMoat([
    "run",
    "--display=800x600",
    "--vnc",
    vncPath,
    "--",
    "sh",
    "-c",
    "echo MOAT-VNC-TEST > /dev/tty0 && echo drawn && sleep 120",
  ]);
  const r = await relay(vncPath);
  try {
    await until(() => vm.out().includes("drawn"), "the guest to draw");
    // Two captures at once: two viewers.
    const shots = [join(dir, "a.png"), join(dir, "b.png")];
    const caps = shots.map(
      (f) =>
        new Promise<{ status: number | null; err: string }>((res) => {
          const p = spawn("gvnccapture", [`127.0.0.1:${r.display}`, f], { stdio: "pipe" });
          let err = "";
          p.stderr.on("data", (d: Buffer) => (err += d.toString()));
          const t = setTimeout(() => p.kill("SIGKILL"), 60_000);
          p.on("close", (status) => {
            clearTimeout(t);
            res({ status, err });
          });
        }),
    );
    for (const c of await Promise.all(caps)) assert.equal(c.status, 0, c.err);
    for (const f of shots) {
      const png = PNG.sync.read(readFileSync(f));
      assert.equal(png.width, 800);
      assert.equal(png.height, 600);
      const lit = litPixels(png);
      assert.ok(lit > 100, `${f}: ${lit} lit pixels of text`);
    }
    // Hostile viewers: a wrong version, an unknown message, huge clipboard text. Each is cut
    // off; the VMM goes on.
    for (const bad of [
      Buffer.from("RFB 009.000\n"),
      Buffer.concat([Buffer.from("RFB 003.008\n"), Buffer.from([1, 1, 99])]),
      Buffer.concat([
        Buffer.from("RFB 003.008\n"),
        Buffer.from([1, 1, 6, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]),
      ]),
    ]) {
      const s = net.connect(vncPath);
      s.on("error", () => {});
      s.resume(); // read what the server says, so its close is seen
      s.write(bad);
      await until(() => s.destroyed || s.closed, "the server to cut off a bad viewer", 10_000);
    }
    assert.match(vm.err(), /VNC viewer disconnected: client version "RFB 009.000"/);
    assert.match(vm.err(), /unknown message type 99/);
    assert.match(vm.err(), /4294967295 bytes of clipboard text/);
    // Typing: a command for the shell on the guest's screen, whose output goes to the serial
    // console. That shell starts beside the command: type again until it answers.
    const c = await rfb(vncPath);
    assert.deepEqual([c.width, c.height], [800, 600]);
    for (let i = 0; i < 10 && !vm.out().includes("typed:"); i++) {
      typeKeys(c.sock, "echo typed:hi moat >/dev/console\n");
      await until(() => vm.out().includes("typed:"), "the typed line", 5_000).catch(() => {});
    }
    assert.match(vm.out(), /typed:hi moat/);
    c.sock.destroy();
  } finally {
    r.close();
    vm.p.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A loopback VNC port nobody listens on now (found by listening, then closed). */
async function freeVncPort(): Promise<number> {
  const srv = net.createServer();
  const display = await listenOnVncDisplay(srv);
  await new Promise((r) => srv.close(r));
  return 5900 + display;
}

/**
 * gvnccapture asks for the password on its terminal only: `script` gives it one. A password
 * typed before the viewer turns echo off can be flushed with the old terminal settings (CI lost
 * one that way), so after a prompt it is typed again every 700 ms while the viewer still runs;
 * lines the viewer never reads do no harm. At most 12 lines in all.
 */
function captureWithPassword(
  display: number,
  file: string,
  password: string,
): Promise<{ status: number | null; out: string }> {
  return new Promise((res) => {
    const p = spawn("script", ["-qec", `gvnccapture 127.0.0.1:${display} ${file}`, "/dev/null"], {
      stdio: "pipe",
    });
    let out = "";
    let typed = 0;
    let prompted = false;
    const type = (): void => {
      if (prompted && typed < 12 && p.exitCode === null && p.stdin.writable) {
        typed++;
        p.stdin.write(password + "\n");
      }
    };
    const retype = setInterval(type, 700);
    p.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (!prompted && out.includes("Password:")) {
        prompted = true;
        setTimeout(type, 100);
      }
    });
    p.stdin.on("error", () => {});
    const t = setTimeout(() => p.kill("SIGKILL"), 30_000);
    p.on("close", (status) => {
      clearTimeout(t);
      clearInterval(retype);
      res({ status, out });
    });
  });
}

test("VNC on loopback TCP: gvnccapture with the password captures, a wrong password is refused; bad options are errors", async () => {
  const dir = mkdtempSync(join(tmpdir(), "moat-vnctcp-"));
  const pw = join(dir, "pw");
  writeFileSync(pw, "s3kr1t\n", { mode: 0o600 });
  try {
    const refused = [
      [["--vnc", "127.0.0.1:5999"], /a VNC port on TCP needs --vnc-password-file/],
      [["--vnc", "0.0.0.0:5999", "--vnc-password-file", pw], /only on loopback/],
      [["--vnc-password-file", pw], /--vnc-password-file is for --vnc/],
    ] as const;
    for (const [args, why] of refused) {
      const r = await moat(["run", "--display", ...args, "--", "true"]);
      assert.equal(r.status, 125, r.stderr);
      assert.match(r.stderr, why);
    }
    const port = await freeVncPort();
    const vm = startMoat([
      "run",
      "--display=640x480",
      "--vnc",
      `127.0.0.1:${port}`,
      "--vnc-password-file",
      pw,
      "--",
      "sh",
      "-c",
      "echo MOAT-VNC-AUTH > /dev/tty0 && echo drawn && sleep 120",
    ]);
    try {
      await until(() => vm.out().includes("drawn"), "the guest to draw");
      const shot = join(dir, "ok.png");
      const good = await captureWithPassword(port - 5900, shot, "s3kr1t");
      assert.equal(good.status, 0, good.out);
      const png = PNG.sync.read(readFileSync(shot));
      assert.deepEqual([png.width, png.height], [640, 480]);
      const bad = await captureWithPassword(port - 5900, join(dir, "bad.png"), "guess");
      assert.notEqual(bad.status, 0, bad.out);
      assert.ok(!existsSync(join(dir, "bad.png")), "nothing captured with a wrong password");
      await until(() => /gave a wrong password/.test(vm.err()), "the refusal in the log", 10_000);
    } finally {
      vm.p.kill("SIGKILL");
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
