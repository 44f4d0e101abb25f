// The daemon's web console. Over the API: its files are served without a token and nothing
// else is (no path out of noVNC's folder, no API route), with a strict Content-Security-Policy;
// a WebSocket may carry its token as a subprotocol; /vnc speaks RFB for a VM with a display.
// In a real browser (Debian's Chromium, driven by playwright-core) over the daemon's TLS
// listener: a wrong token is refused, the admin token signs in, the VM list shows (every column
// of it with a VM open, at 1280x800), keys typed into the serial console (xterm.js) come back as
// the guest's echo, and the display (noVNC) paints a canvas that is not blank; the create form
// (built from the API's VmSpec) shows the API's errors beside the field, then makes a VM with a
// disk; the VM started from the page has live graphs; delete asks first, and Cancel keeps the VM.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import net from "node:net";
import WebSocket from "ws";
import { chromium } from "playwright-core";
import { WEB_CONSOLE_MODULES } from "../src/host/web-console.js";
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
interface Scrolled {
  scrollWidth: number;
  clientWidth: number;
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
  for (const f of [...WEB_CONSOLE_MODULES, "console.css", "xterm/xterm.mjs", "novnc/core/rfb.js"]) {
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

/** Where the page shows every column of the VM list: the last header cell inside the list. */
interface ListBox {
  lastRight: number;
  listRight: number;
  viewport: number;
  overflow: number;
}

test("web console in Chromium: sign in, the VM list, type into the serial console, see the display, create, graphs, delete", async (t) => {
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
  await api(h.socket, tok, "POST", "/v1/vms", { name: "idle-with-a-longer-name", memory_mib: 48 });

  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    // Root has no user namespace sandbox for Chromium here; the page is our own.
    args: ["--no-sandbox"],
  });
  t.after(() => browser.close());
  const ctx = await browser.newContext({
    ignoreHTTPSErrors: true, // the test's self-signed certificate
    viewport: { width: 1280, height: 800 }, // a laptop's window
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
  assert.deepEqual(names, ["idle-with-a-longer-name", "webvm"]);
  assert.equal(rows.find((r) => r[0] === "webvm")?.[1], "running");

  // The serial console: type a command, see the guest's output.
  await page.click("#vm-table tbody tr:has-text('webvm')");
  await page.waitForSelector("#terminal .xterm-rows");
  // With a VM open, every column of the list is in view: the last header cell inside the list's
  // card and the window, and nothing of the table scrolled out of sight.
  const listBox = async (): Promise<ListBox> => {
    const th = (await page.locator("#vm-table th:last-child").boundingBox())!;
    const card = (await page.locator("#app-view aside").boundingBox())!;
    return {
      lastRight: th.x + th.width,
      listRight: card.x + card.width,
      viewport: page.viewportSize()!.width,
      overflow: await page.$eval("#vm-table", (e) => {
        const wrap = (e as unknown as { parentElement: Scrolled }).parentElement;
        return wrap.scrollWidth - wrap.clientWidth;
      }),
    };
  };
  const box = await listBox();
  assert.ok(
    box.lastRight <= box.listRight && box.listRight <= box.viewport && box.overflow <= 0,
    `the list's last column is cut off: ${JSON.stringify(box)}`,
  );
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

  // The create form: built from the API's VmSpec; the API's error, in its words, beside the form
  // and at the field it names.
  await page.click("#vm-new");
  await page.waitForSelector("#create-dialog[open] [data-field=memory_mib]");
  await page.fill("[data-field=name]", "formvm");
  await page.selectOption("[data-field=accel]", "soft"); // the shipped riscv64 guest
  const formError = () => page.textContent("#create-error");
  // Too little memory, and memory that is no number: the browser passes both on as typed.
  for (const [typed, sent] of [
    ["1", 1],
    ["lots", "lots"],
  ] as const) {
    await page.fill("[data-field=memory_mib]", typed);
    await page.click("#create-submit");
    const refused = await api(h.socket, tok, "POST", "/v1/vms", {
      name: "formvm",
      accel: "soft",
      memory_mib: sent,
    });
    assert.equal(refused.status, 400, refused.text);
    const words = JSON.parse(refused.text) as { error: string; field: string };
    assert.equal(words.field, "memory_mib");
    assert.equal(await until("the form's error", formError), words.error);
    assert.equal(
      await page.textContent("[data-field=memory_mib] ~ .field-error"),
      words.error,
      "the error beside the memory field",
    );
    assert.equal(await page.getAttribute("[data-field=memory_mib]", "aria-invalid"), "true");
  }
  // A disk from outside the image directories: the API refuses it, named at the disk's path.
  const images = join(h.dir, "images");
  mkdirSync(images, { recursive: true });
  const disk = join(images, "form.img");
  writeFileSync(disk, Buffer.alloc(1 << 20));
  await page.fill("[data-field=memory_mib]", "64");
  await page.click("#create-dialog button:has-text('Add disk')");
  await page.fill("[data-field='disks.0.path']", "/etc/hostname");
  await page.click("#create-submit");
  const outside = await until("the disk's refusal", async () => {
    const text = await formError();
    return text?.includes("image directories") ? text : undefined;
  });
  assert.match(outside, /not in the image directories/);
  if (shot) await page.screenshot({ path: shot.replace(/\.png$/, "") + "-create.png" });
  assert.equal(await page.getAttribute("[data-field='disks.0.path']", "aria-invalid"), "true");
  assert.equal((await api(h.socket, tok, "GET", "/v1/vms/formvm")).status, 404);
  // The browser logs each refused call (400, 403) as a console error; those were meant.
  problems.length = 0;
  await page.fill("[data-field='disks.0.path']", disk);
  await page.click("#create-submit");
  await page.waitForSelector("#create-dialog", { state: "hidden" });
  await page.waitForSelector("#vm-table tbody tr:has-text('formvm')");
  const made = await api(h.socket, tok, "GET", "/v1/vms/formvm");
  assert.equal(made.status, 200, made.text);
  const spec = (JSON.parse(made.text) as { spec: Record<string, unknown> }).spec;
  assert.equal(spec.accel, "soft");
  assert.equal(spec.memory_mib, 64);
  assert.deepEqual(
    (spec.disks as { path: string }[]).map((d) => d.path),
    [disk],
  );

  // The new VM is the open one; started from the page, it gets live graphs while it boots.
  assert.equal(await page.textContent("#vm-title"), "formvm");
  assert.equal(await page.textContent("#vm-spec"), `accel soft · 1 vCPU · 64 MiB · disks: ${disk}`);
  await page.click("#vm-start");
  await page.waitForSelector("#graphs:not([hidden])");
  const graph = (metric: string) =>
    page.$eval(`#graphs canvas[data-metric=${metric}]`, (c) => ({
      samples: Number((c as unknown as { dataset: Record<string, string> }).dataset.samples),
      last: Number((c as unknown as { dataset: Record<string, string> }).dataset.last ?? "NaN"),
    }));
  const cpuBusy = await until("a CPU point above zero", async () => {
    const g = await graph("cpu");
    return g.samples >= 2 && g.last > 0 ? g : undefined;
  });
  for (const metric of ["cpu", "memory", "disk"]) {
    const first = await until(`the ${metric} graph's first points`, async () => {
      const g = await graph(metric);
      return g.samples >= 2 ? g : undefined;
    });
    await until(
      `the ${metric} graph growing`,
      async () => (await graph(metric)).samples > first.samples,
    );
  }
  assert.ok((await graph("memory")).last > 1 << 20, "the VM process's memory");
  assert.ok(cpuBusy.last > 0);
  assert.equal(
    await page.textContent("#graphs figure:has(canvas[data-metric=net]) .graph-value"),
    "no NIC",
  );
  if (shot) await page.screenshot({ path: shot.replace(/\.png$/, "") + "-graphs.png" });

  // Delete asks first: Cancel keeps the VM; Delete removes it.
  const idle = "idle-with-a-longer-name";
  await page.click(`#vm-table tbody tr:has-text('${idle}')`);
  await page.click("#vm-delete");
  await page.waitForSelector("#delete-dialog[open]");
  assert.match((await page.textContent("#delete-text")) ?? "", new RegExp(`Delete VM '${idle}'`));
  await page.click("#delete-cancel");
  await page.waitForSelector("#delete-dialog", { state: "hidden" });
  assert.equal((await api(h.socket, tok, "GET", `/v1/vms/${idle}`)).status, 200, "kept");
  await page.waitForSelector(`#vm-table tbody tr:has-text('${idle}')`);
  await page.click("#vm-delete");
  await page.waitForSelector("#delete-dialog[open]");
  await page.click("#delete-confirm");
  await page.waitForSelector("#delete-dialog", { state: "hidden" });
  await until(
    "the row gone",
    async () => (await page.$(`#vm-table tbody tr:has-text('${idle}')`)) === null,
  );
  assert.equal((await api(h.socket, tok, "GET", `/v1/vms/${idle}`)).status, 404, "deleted");
  // A running VM: the dialog says it is killed first, and it is.
  await page.click("#vm-table tbody tr:has-text('formvm')");
  await page.click("#vm-delete");
  await page.waitForSelector("#delete-dialog[open]");
  assert.match((await page.textContent("#delete-text")) ?? "", /It is running: it is killed first/);
  await page.click("#delete-confirm");
  await page.waitForSelector("#delete-dialog", { state: "hidden" });
  assert.equal((await api(h.socket, tok, "GET", "/v1/vms/formvm")).status, 404, "deleted");
  assert.deepEqual(problems, []);
});
