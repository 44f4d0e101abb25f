// The daemon connects to a VM's sockets only when the VM's uid serves them (SO_PEERCRED): a
// compromised VMM that swaps its console socket for a symbolic link to another socket on the
// host gets nothing through, and the daemon writes nothing to that socket.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, symlinkSync, unlinkSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { connectVmSocket, VmSocketError } from "../src/host/vm-socket.js";
import { vmmCall } from "../src/host/vmm-client.js";
import { adminToken, api, newHome, startDaemon, stopDaemon, until } from "./support/moatd.js";

/** A Unix socket server that records what reaches it. */
async function listener(
  path: string,
): Promise<{ got: () => Buffer; conns: () => number; close: () => void }> {
  let got = Buffer.alloc(0);
  let conns = 0;
  const srv = net.createServer((c) => {
    conns++;
    c.on("data", (d: Buffer) => (got = Buffer.concat([got, d])));
    c.on("error", () => {});
  });
  await new Promise<void>((r) => srv.listen(path, r));
  return { got: () => got, conns: () => conns, close: () => srv.close() };
}

test("connectVmSocket: the expected uid or process passes; any other is refused before a byte is written", async () => {
  const dir = mkdtempSync(join(tmpdir(), "moat-peer-"));
  const l = await listener(join(dir, "s.sock"));
  try {
    const me = process.getuid!();
    const ok = connectVmSocket(join(dir, "s.sock"), { uid: me });
    ok.write("fine");
    await until("the write", () => l.got().toString() === "fine");
    ok.destroy();
    const other = connectVmSocket(join(dir, "s.sock"), { uid: me + 4242 });
    other.write("secret");
    const err = await new Promise<Error>((r) => other.once("error", r));
    assert.ok(err instanceof VmSocketError, String(err));
    assert.match(
      err.message,
      new RegExp(`served by process ${process.pid} \\(uid ${me}\\), not uid ${me + 4242}`),
    );
    // By process: this process serves it; another pid does not.
    const byPid = connectVmSocket(join(dir, "s.sock"), { pid: process.pid + 1 });
    assert.match(String(await new Promise((r) => byPid.once("error", r))), /not the VM's process/);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(l.got().toString(), "fine", "nothing of the refused connection arrived");
    await assert.rejects(
      vmmCall(join(dir, "s.sock"), { op: "status" }, 2000, { uid: me + 1 }),
      /not uid/,
    );
  } finally {
    l.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a VM's console socket swapped for a link to a root socket: the daemon refuses it", async (t) => {
  const h = newHome({ reclaim: { enabled: false } });
  const d = await startDaemon(h);
  t.after(() => stopDaemon(h, d));
  const tok = adminToken(h);
  const r = await api(h.socket, tok, "POST", "/v1/vms", { name: "evil", memory_mib: 48 });
  assert.equal(r.status, 201, r.text);
  assert.equal((await api(h.socket, tok, "POST", "/v1/vms/evil/start")).status, 200);
  const id = (r.body as { id: string }).id;
  // It works before the swap.
  const before = await api(h.socket, tok, "GET", "/v1/vms/evil/stats");
  assert.equal(before.status, 200, before.text);
  // What a compromised VMM would do in its own directory: its socket replaced by a link to a
  // socket the daemon's uid serves.
  const bait = await listener(join(h.dir, "bait.sock"));
  t.after(() => bait.close());
  const con = join(h.dir, "vms", id, "console.sock");
  unlinkSync(con);
  symlinkSync(join(h.dir, "bait.sock"), con);
  const ws = new WebSocket(`ws+unix://${h.socket}:/v1/vms/evil/console`, {
    headers: { authorization: `Bearer ${tok}` },
  });
  ws.on("open", () => ws.send(Buffer.from("typed by the operator\n")));
  const closed = await new Promise<{ code: number; reason: string }>((res) =>
    ws.once("close", (code, reason) => res({ code, reason: reason.toString() })),
  );
  assert.deepEqual(closed, { code: 1011, reason: "console unavailable" });
  assert.equal(bait.got().length, 0, "the daemon wrote nothing to the bait socket");
  await api(h.socket, tok, "POST", "/v1/vms/evil/kill");
});
