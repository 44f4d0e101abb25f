// VNC Authentication on its own: the DES answer against the published DES test vector, and the
// session's handshake with a password (right, wrong, a type not offered) and without one
// (RFB 3.7 gets no SecurityResult for None). The password file's rules.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VncPasswordError, readVncPassword, vncAuthResponse } from "../src/vmm/vnc-auth.js";
import { VncSession } from "../src/vmm/vnc-session.js";
import { VncServerError, parseVncAddress } from "../src/vmm/vnc-server.js";

test("VNC auth: DES of the challenge under the bit-reversed password (FIPS 81 vector)", () => {
  // DES key 0123456789abcdef encrypts "Now is t" to 3fa40e8a984d4815. RFB reverses each
  // password byte's bits to make the key, so the password is those bytes reversed.
  const password = Buffer.from([0x80, 0xc4, 0xa2, 0xe6, 0x91, 0xd5, 0xb3, 0xf7]);
  const challenge = Buffer.concat([Buffer.from("Now is t"), Buffer.from("Now is t")]);
  const r = vncAuthResponse(password, challenge);
  assert.equal(r.toString("hex"), "3fa40e8a984d4815".repeat(2));
  // A short password is zero-padded: "a" differs from "a\0\0..." not at all, from "b" wholly.
  const c = Buffer.alloc(16, 7);
  assert.deepEqual(vncAuthResponse(Buffer.from("a"), c), vncAuthResponse(Buffer.from("a\0"), c));
  assert.notDeepEqual(vncAuthResponse(Buffer.from("a"), c), vncAuthResponse(Buffer.from("b"), c));
});

/** A session fed by hand; what it wrote and why it closed. */
function session(password?: string) {
  const out: Buffer[] = [];
  const closed: string[] = [];
  const s = new VncSession({
    name: "t",
    frame: () => ({ width: 4, height: 2, rgba: new Uint8Array(32) }),
    write: (b) => out.push(Buffer.from(b)),
    close: (why) => closed.push(why),
    key: () => {},
    pointer: () => {},
    failDelayMs: 0,
    warn: (line) => closed.push(`warn: ${line}`),
    ...(password !== undefined ? { password: Buffer.from(password) } : {}),
  });
  s.start();
  return { s, out, closed, take: () => Buffer.concat(out.splice(0)) };
}

test("VNC auth: the right answer gets OK and the ServerInit; a wrong one a reason and the end", async () => {
  const ok = session("sekrit");
  ok.take();
  ok.s.feed(Buffer.from("RFB 003.008\n"));
  assert.deepEqual([...ok.take()], [1, 2], "one security type: VNC Authentication");
  ok.s.feed(Buffer.from([2]));
  const challenge = ok.take();
  assert.equal(challenge.length, 16);
  ok.s.feed(vncAuthResponse(Buffer.from("sekrit"), challenge));
  assert.equal(ok.take().readUInt32BE(0), 0, "SecurityResult OK");
  ok.s.feed(Buffer.from([1]));
  assert.equal(ok.take().readUInt16BE(0), 4, "ServerInit: the width");
  assert.deepEqual(ok.closed, []);

  const bad = session("sekrit");
  bad.s.feed(Buffer.from("RFB 003.008\n"));
  bad.s.feed(Buffer.from([2]));
  bad.take();
  bad.s.feed(vncAuthResponse(Buffer.from("guess"), Buffer.alloc(16)));
  bad.s.feed(Buffer.from([1, 2, 3])); // ignored while the refusal waits
  await new Promise((r) => setTimeout(r, 20));
  const res = bad.take();
  assert.equal(res.readUInt32BE(0), 1, "SecurityResult failed");
  assert.equal(res.subarray(8, 8 + res.readUInt32BE(4)).toString(), "wrong VNC password");
  assert.deepEqual(bad.closed, ["warn: a VNC viewer gave a wrong password", "wrong VNC password"]);

  // None is refused where a password is set; VNC auth where none is.
  const none = session("sekrit");
  none.s.feed(Buffer.from("RFB 003.008\n"));
  none.s.feed(Buffer.from([1]));
  assert.match(none.closed[0] ?? "", /security type 1 was not offered/);
  const open = session();
  open.s.feed(Buffer.from("RFB 003.008\n"));
  open.s.feed(Buffer.from([2]));
  assert.match(open.closed[0] ?? "", /security type 2 was not offered/);
});

test("VNC: RFB 3.7 gets no SecurityResult after None, 3.8 does", () => {
  for (const [version, result] of [
    ["RFB 003.007\n", 0],
    ["RFB 003.008\n", 4],
  ] as const) {
    const s = session();
    s.take();
    s.s.feed(Buffer.from(version));
    s.take();
    s.s.feed(Buffer.from([1]));
    assert.equal(s.take().length, result, version.trim());
  }
});

test("VNC password file: 0600, 1-8 bytes; addresses: loopback only", () => {
  const dir = mkdtempSync(join(tmpdir(), "moat-vncpw-"));
  try {
    const f = join(dir, "pw");
    writeFileSync(f, "sekrit\nignored\n", { mode: 0o600 });
    assert.equal(readVncPassword(f).toString(), "sekrit");
    chmodSync(f, 0o640);
    assert.throws(() => readVncPassword(f), /can be read by others \(mode 640\)/);
    writeFileSync(f, "123456789\n", { mode: 0o600 });
    chmodSync(f, 0o600);
    assert.throws(() => readVncPassword(f), /at most 8 bytes .* this one has 9/);
    writeFileSync(f, "\n");
    assert.throws(() => readVncPassword(f), /the password is empty/);
    assert.throws(() => readVncPassword(join(dir, "none")), VncPasswordError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.deepEqual(parseVncAddress("127.0.0.1:5901"), { host: "127.0.0.1", port: 5901 });
  assert.deepEqual(parseVncAddress("[::1]:5902"), { host: "::1", port: 5902 });
  assert.deepEqual(parseVncAddress("/run/vnc.sock"), { path: "/run/vnc.sock" });
  assert.deepEqual(parseVncAddress("vnc.sock"), { path: "vnc.sock" });
  assert.throws(() => parseVncAddress("0.0.0.0:5900"), /only on loopback/);
  assert.throws(() => parseVncAddress("192.168.1.2:5900"), /only on loopback/);
  assert.throws(() => parseVncAddress("localhost:5900"), /a loopback HOST:PORT/);
  assert.throws(() => parseVncAddress("127.0.0.1:70000"), VncServerError);
});
