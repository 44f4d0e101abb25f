// The daemon's web console. Over the API: its files are served without a token and nothing
// else is (no path out of noVNC's folder, no API route), with a strict Content-Security-Policy;
// a WebSocket may carry its token as a subprotocol; /vnc speaks RFB for a VM with a display.
// In a real browser (Debian's Chromium, driven by playwright-core) over the daemon's TLS
// listener: a wrong token is refused, the admin token signs in, the VM list shows, keys typed
// into the serial console (xterm.js) come back as the guest's echo, and the display (noVNC)
// paints a canvas that is not blank.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import net from "node:net";
import WebSocket from "ws";
import { chromium } from "playwright-core";
import {
  adminToken,
  api,
  newHome,
  selfSignedCert,
  startDaemon,
  stopDaemon,
  until,
} from "./support/moatd.js";

/** What the test reads of a canvas in the page (the tests compile without the DOM's types). */
interface Canvas {
  width: number;
  height: number;
  getContext(kind: "2d"): { getImageData(x: number, y: number, w: number, h: number): ImageData };
}
interface ImageData {
  data: Uint8ClampedArray;
}

/** A loopback TCP port free now. */
async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** Creates VM `name` with a display of `width` x `height` and starts it. */
async function startDisplayVm(
  socket: string,
  tok: string,
  name: string,
  [width, height]: [number, number],
): Promise<void> {
  const made = await api(socket, tok, "POST", "/v1/vms", {
    name,
    memory_mib: 64,
    display: { width, height },
  });
  assert.equal(made.status, 201, made.text);
  assert.equal((await api(socket, tok, "POST", `/v1/vms/${name}/start`)).status, 200);
}

/** Opens a WebSocket on the daemon's Unix socket; resolves when open, rejects on refusal. */
function wsOpen(
  socket: string,
  path: string,
  protocols: string[],
  headers = {},
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws+unix://${socket}:${path}`, protocols, { headers });
    ws.once("open", () => resolve(ws));
    ws.once("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once("error", reject);
  });
}

test("web console over the API: public files only, CSP, token as a WebSocket subprotocol, RFB on /vnc", async (t) => {
  const h = newHome({ reclaim: { enabled: false } });
  const d = await startDaemon(h);
  t.after(() => stopDaemon(h, d));
  const tok = adminToken(h);

  const root = await api(h.socket, undefined, "GET", "/");
  assert.equal(root.status, 302);
  assert.equal(root.headers.location, "/console/");
  const page = await api(h.socket, undefined, "GET", "/console/");
  assert.equal(page.status, 200);
  assert.match(String(page.headers["content-type"]), /text\/html/);
  assert.match(page.text, /<title>moat · web console<\/title>/);
  const csp = String(page.headers["content-security-policy"]);
  assert.match(csp, /script-src 'self';/);
  assert.match(csp, /frame-ancestors 'none'/);
  for (const f of ["app.js", "console.css", "xterm/xterm.mjs", "novnc/core/rfb.js"]) {
    const r = await api(h.socket, undefined, "GET", `/console/${f}`);
    assert.equal(r.status, 200, f);
    assert.ok(r.text.length > 100, f);
  }
  for (const f of [
    "novnc/core/../package.json",
    "novnc/core/%2e%2e/%2e%2e/package.json",
    "novnc/app/ui.js",
    "../package.json",
    "xterm/xterm.js",
  ]) {
    const r = await api(h.socket, undefined, "GET", `/console/${f}`);
    assert.equal(r.status, 404, f);
  }
  // The API itself still wants a token.
  assert.equal((await api(h.socket, undefined, "GET", "/v1/vms")).status, 401);
  const bogus = "moat_" + "A".repeat(43);
  await assert.rejects(wsOpen(h.socket, "/v1/events", ["moat.v1", `moat.bearer.${bogus}`]), /401/);

  // A VM with a display: its console and its VNC through WebSockets that carry the token as a
  // subprotocol, as a browser does; the server chooses moat.v1.
  await startDisplayVm(h.socket, tok, "web", [640, 480]);
  const vnc = await wsOpen(h.socket, "/v1/vms/web/vnc", ["moat.v1", `moat.bearer.${tok}`]);
  assert.equal(vnc.protocol, "moat.v1");
  let got = Buffer.alloc(0);
  vnc.on("message", (m: Buffer) => (got = Buffer.concat([got, m])));
  await until("the RFB greeting", () => got.length >= 12);
  assert.equal(got.subarray(0, 12).toString(), "RFB 003.008\n");
  vnc.send(Buffer.from("RFB 003.008\n"));
  await until("the security types", () => got.length >= 14);
  assert.deepEqual([...got.subarray(12, 14)], [1, 1], "None: the token was the authentication");
  vnc.send(Buffer.from([1]));
  vnc.send(Buffer.from([1]));
  await until("the ServerInit", () => got.length >= 18 + 24);
  assert.deepEqual([got.readUInt16BE(18), got.readUInt16BE(20)], [640, 480]);
  vnc.close();
  // A VM without a display: the VNC WebSocket closes with the reason.
  await api(h.socket, tok, "POST", "/v1/vms", { name: "blind", memory_mib: 48 });
  const blind = await wsOpen(h.socket, "/v1/vms/blind/vnc", [], {
    authorization: `Bearer ${tok}`,
  });
  const closed = await new Promise<{ code: number; reason: string }>((r) =>
    blind.once("close", (code, reason) => r({ code, reason: reason.toString() })),
  );
  assert.deepEqual(closed, { code: 4409, reason: "VM 'blind' has no display" });
  await api(h.socket, tok, "POST", "/v1/vms/web/kill");
});

test("web console in Chromium: sign in, the VM list, type into the serial console, see the display", async (t) => {
  const port = await freePort();
  const h = newHome({ reclaim: { enabled: false } });
  const { cert, key } = selfSignedCert(h.dir);
  writeFileSync(
    h.config,
    JSON.stringify({ reclaim: { enabled: false }, tcp: { host: "127.0.0.1", port, cert, key } }),
  );
  const d = await startDaemon(h);
  t.after(() => stopDaemon(h, d));
  const tok = adminToken(h);
  await startDisplayVm(h.socket, tok, "webvm", [800, 600]);
  await api(h.socket, tok, "POST", "/v1/vms", { name: "idle", memory_mib: 48 });

  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    // Root has no user namespace sandbox for Chromium here; the page is our own.
    args: ["--no-sandbox"],
  });
  t.after(() => browser.close());
  const ctx = await browser.newContext({
    ignoreHTTPSErrors: true, // the test's self-signed certificate
    viewport: { width: 1400, height: 900 },
  });
  const page = await ctx.newPage();
  const problems: string[] = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console: ${m.text()}`);
  });
  await page.goto(`https://127.0.0.1:${port}/`);
  assert.equal(new URL(page.url()).pathname, "/console/");

  // A wrong token is refused with a message; the admin token signs in.
  await page.fill("#token", "moat_" + "B".repeat(43));
  await page.click("#login-form button[type=submit]");
  const refusal = await until(
    "the refusal",
    async () => (await page.textContent("#login-error")) || undefined,
  );
  assert.match(refusal, /not valid/);
  // The browser logs the refused call (401) as a console error; that one was meant.
  problems.length = 0;
  await page.fill("#token", tok);
  await page.click("#login-form button[type=submit]");
  await page.waitForSelector("#vm-table tbody tr");
  const rows = await page.$$eval("#vm-table tbody tr", (trs) =>
    trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent)),
  );
  const names = rows.map((r) => r[0]).sort();
  assert.deepEqual(names, ["idle", "webvm"]);
  assert.equal(rows.find((r) => r[0] === "webvm")?.[1], "running");

  // The serial console: type a command, see the guest's output.
  await page.click("#vm-table tbody tr:has-text('webvm')");
  await page.waitForSelector("#terminal .xterm-rows");
  const termText = () => page.$eval("#terminal .xterm-rows", (e) => e.textContent ?? "");
  await page.click("#terminal");
  // The guest's shell may still be starting: type until it answers.
  let seen = false;
  for (let i = 0; i < 30 && !seen; i++) {
    await page.keyboard.type("echo web-$((6*7))-moat\n");
    const end = Date.now() + 3000;
    while (Date.now() < end && !seen) {
      seen = (await termText()).includes("web-42-moat");
      if (!seen) await new Promise((r) => setTimeout(r, 200));
    }
  }
  assert.ok(seen, `the echo in the terminal: ${await termText()}`);
  const shot = process.env.MOAT_WEB_SHOT; // where to save what the browser shows, to look at
  if (shot) await page.screenshot({ path: shot.replace(/\.png$/, "") + "-serial.png" });
  // The display: noVNC's canvas shows the shell on the guest's screen.
  await page.click("[data-tab=display]");
  await page.waitForSelector("#screen canvas");
  let lit = 0;
  for (let i = 0; i < 60 && lit < 200; i++) {
    lit = await page.$eval("#screen canvas", (c) => {
      const cv = c as unknown as Canvas;
      if (cv.width < 100) return 0;
      const px = cv.getContext("2d")!.getImageData(0, 0, cv.width, cv.height).data;
      let n = 0;
      for (let p = 0; p < px.length; p += 4) if (px[p]! + px[p + 1]! + px[p + 2]! > 300) n++;
      return n;
    });
    if (lit < 200) await new Promise((r) => setTimeout(r, 500));
  }
  const size = await page.$eval("#screen canvas", (c) => [
    (c as unknown as Canvas).width,
    (c as unknown as Canvas).height,
  ]);
  assert.deepEqual(size, [800, 600], "the canvas has the guest's mode");
  assert.ok(lit >= 200, `${lit} lit pixels on the display canvas`);
  if (shot) await page.screenshot({ path: shot });
  assert.deepEqual(problems, []);
  await api(h.socket, tok, "POST", "/v1/vms/webvm/kill");
});
