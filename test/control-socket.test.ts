// A VM's control socket as any holder of it may drive it (docs/control.md): what bounds a
// request line. The socket is the real one; the devices behind it are not needed for this.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { control } from "./support/control-client.js";
import { ControlSocket } from "../src/vmm/control-socket.js";
import { MAX_REQUEST_BYTES } from "../src/agent/agent-client.js";

/**
 * A JSON request line of exactly `bytes` bytes of UTF-8, most of them two-byte characters, at
 * odd offsets: a read of 64 KiB ends inside one.
 */
function lineOf(bytes: number): string {
  const head = '{"op":"nope","pad":"x';
  const tail = '"}';
  const room = bytes - head.length - tail.length;
  const line = head + "é".repeat(Math.floor(room / 2)) + "x".repeat(room % 2) + tail;
  assert.equal(Buffer.byteLength(line), bytes);
  return line;
}

test("control socket: a request line is bounded in bytes, not characters (MAX_REQUEST_BYTES)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "moat-ctl-"));
  const path = join(dir, "c.sock");
  const ctl = await ControlSocket.listen(path, { blks: [], nets: [] } as never);
  try {
    // At the bound: taken (and answered: no such op).
    const [at] = await control(path, [lineOf(MAX_REQUEST_BYTES)]);
    assert.match(String(at!.error), /^unknown op "nope"/, JSON.stringify(at).slice(0, 200));
    // One byte past it, in fewer characters than the bound: refused, saying so.
    const over = lineOf(MAX_REQUEST_BYTES + 1);
    assert.ok(over.length < MAX_REQUEST_BYTES);
    const [refused] = await control(path, [over]);
    assert.deepEqual(refused, {
      ok: false,
      error: `a request is at most ${MAX_REQUEST_BYTES} bytes`,
    });
    // A short request after one at the bound, on the same connection: both read whole.
    const [a, b] = await control(path, [lineOf(MAX_REQUEST_BYTES), '{"op":"nope2"}']);
    assert.match(String(a!.error), /^unknown op "nope"/);
    assert.match(String(b!.error), /^unknown op "nope2"/);
  } finally {
    await ctl.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
