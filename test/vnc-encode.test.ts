// RFB encodings on their own: pixel formats a client may ask for (and those refused), Raw in a
// 16-bit big-endian format, and ZRLE's tiles decoded back after zlib.
import { test } from "node:test";
import assert from "node:assert/strict";
import zlib from "node:zlib";
import { randomFillSync } from "node:crypto";
import {
  SERVER_FORMAT,
  decodePixelFormat,
  encodePixelFormat,
  encodeRaw,
  zrleTiles,
  type Frame,
  type PixelFormat,
} from "../src/vmm/vnc-encode.js";
import { keysymToKeycode } from "../src/vmm/vnc-keysyms.js";
import { BAND_PIXELS, VncSession } from "../src/vmm/vnc-session.js";

/** 100 x 70: red left of x = 50, blue from there. */
function frame(): Frame {
  const f: Frame = { width: 100, height: 70, rgba: new Uint8Array(100 * 70 * 4) };
  for (let y = 0; y < 70; y++)
    for (let x = 0; x < 100; x++)
      f.rgba.set(x < 50 ? [255, 0, 0, 255] : [0, 0, 255, 255], (y * 100 + x) * 4);
  return f;
}

test("pixel formats: the server's round-trips; 24 bpp, colour maps and odd maxima are refused", () => {
  assert.deepEqual(decodePixelFormat(encodePixelFormat(SERVER_FORMAT)), SERVER_FORMAT);
  const bad = (patch: (b: Buffer) => void) => {
    const b = encodePixelFormat(SERVER_FORMAT);
    patch(b);
    return decodePixelFormat(b);
  };
  assert.equal(
    bad((b) => (b[0] = 24)),
    "24 bits a pixel",
  );
  assert.equal(
    bad((b) => (b[3] = 0)),
    "colour-map pixel formats",
  );
  assert.equal(
    bad((b) => b.writeUInt16BE(200, 4)),
    "a channel maximum of 200",
  );
  assert.match(String(bad((b) => (b[10] = 30))), /shifted past the pixel/);
});

test("Raw in RGB565 big-endian; ZRLE tiles: solid where one colour, raw CPIXELs elsewhere", () => {
  const f = frame();
  const rgb565: PixelFormat = {
    bitsPerPixel: 16,
    depth: 16,
    bigEndian: true,
    redMax: 31,
    greenMax: 63,
    blueMax: 31,
    redShift: 11,
    greenShift: 5,
    blueShift: 0,
  };
  const raw = encodeRaw(f, { x: 48, y: 0, width: 4, height: 1 }, rgb565);
  assert.deepEqual([...raw], [0xf8, 0x00, 0xf8, 0x00, 0x00, 0x1f, 0x00, 0x1f]);

  const tiles = zrleTiles(f, { x: 0, y: 0, width: 100, height: 70 }, SERVER_FORMAT);
  // Through one zlib stream, flushed as the session sends it, and back.
  const z = zlib.deflateSync(tiles, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  const back = zlib.inflateSync(z, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  assert.deepEqual(back, tiles);
  // Tile (0,0) 64x64 holds both colours: raw, 3-byte CPIXELs (xRGB little-endian: B, G, R).
  assert.equal(tiles[0], 0);
  assert.deepEqual([...tiles.subarray(1, 4)], [0, 0, 255], "red");
  assert.deepEqual([...tiles.subarray(1 + 50 * 3, 4 + 50 * 3)], [255, 0, 0], "blue");
  // Tile (64,0) 36x64 is all blue: solid.
  const second = 1 + 64 * 64 * 3;
  assert.deepEqual([...tiles.subarray(second, second + 4)], [1, 255, 0, 0]);
  // Four tiles in all: raw 64x64, solid, raw 64x6, solid.
  assert.equal(tiles.length, 1 + 64 * 64 * 3 + 4 + (1 + 64 * 6 * 3) + 4);
});

test("keysyms: letters either case, shifted punctuation on its key, Return and F12", () => {
  assert.equal(keysymToKeycode(0x61), 30); // a
  assert.equal(keysymToKeycode(0x41), 30); // A
  assert.equal(keysymToKeycode(0x21), 2); // ! on 1
  assert.equal(keysymToKeycode(0xff0d), 28);
  assert.equal(keysymToKeycode(0xffc9), 88);
  assert.equal(keysymToKeycode(0x20ac), undefined); // the euro sign: not on a US keyboard
});

test("an update of the largest noisy frame goes out in bands, the event loop turning between them", async () => {
  const f: Frame = { width: 3840, height: 2160, rgba: new Uint8Array(3840 * 2160 * 4) };
  randomFillSync(f.rgba);
  // A turn counter: how many turns of the event loop passed before each write.
  let turn = 0;
  let ticking = true;
  const tick = () => {
    turn++;
    if (ticking) setImmediate(tick);
  };
  setImmediate(tick);
  const writes: { bytes: Buffer; turn: number }[] = [];
  const s = new VncSession({
    name: "t",
    frame: () => f,
    write: (b) => writes.push({ bytes: Buffer.from(b), turn }),
    close: (why) => assert.fail(why),
    key: () => {},
    pointer: () => {},
  });
  s.start();
  s.feed(Buffer.from("RFB 003.008\n"));
  s.feed(Buffer.from([1])); // security None
  s.feed(Buffer.from([1])); // ClientInit, shared
  writes.length = 0;
  s.feed(Buffer.from([2, 0, 0, 1, 0, 0, 0, 16])); // SetEncodings: ZRLE
  const request = Buffer.alloc(10);
  request[0] = 3; // FramebufferUpdateRequest, not incremental, all of it
  request.writeUInt16BE(f.width, 6);
  request.writeUInt16BE(f.height, 8);
  s.feed(request);
  // Read the update as a viewer would: its rectangle count, then each ZRLE rectangle.
  const rects: { encoding: number; y: number; height: number; data: Buffer }[] = [];
  let count = -1;
  let parsed = 0;
  const deadline = Date.now() + 120_000;
  while (count < 0 || rects.length < count) {
    if (Date.now() > deadline) {
      ticking = false;
      assert.fail(`the update never completed: ${rects.length} of ${count} rectangles`);
    }
    await new Promise((r) => setImmediate(r));
    if (writes.length === parsed) continue;
    parsed = writes.length;
    const all = Buffer.concat(writes.map((w) => w.bytes));
    if (all.length < 4) continue;
    count = all.readUInt16BE(2);
    rects.length = 0;
    for (let at = 4; at + 16 <= all.length && rects.length < count;) {
      const len = all.readUInt32BE(at + 12);
      if (at + 16 + len > all.length) break;
      rects.push({
        encoding: all.readInt32BE(at + 8),
        y: all.readUInt16BE(at + 2),
        height: all.readUInt16BE(at + 6),
        data: all.subarray(at + 16, at + 16 + len),
      });
      at += 16 + len;
    }
  }
  ticking = false;
  const rows = 64; // a band of 3840-wide rows: one row of tiles (BAND_PIXELS / 3840 < 128)
  assert.ok(BAND_PIXELS / f.width < 2 * rows);
  assert.equal(count, Math.ceil(f.height / rows), "one rectangle a band");
  rects.forEach((r, i) =>
    assert.deepEqual(
      [r.encoding, r.y, r.height],
      [16, i * rows, Math.min(rows, f.height - i * rows)],
    ),
  );
  assert.equal(writes.length, count, "one write a band");
  for (let i = 1; i < writes.length; i++)
    assert.ok(writes[i]!.turn > writes[i - 1]!.turn, `bands ${i - 1} and ${i} on one turn`);
  // The bands' tiles are the whole frame's, through the one zlib stream.
  const tiles = zlib.inflateSync(Buffer.concat(rects.map((r) => r.data)), {
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
  });
  assert.ok(
    tiles.equals(zrleTiles(f, { x: 0, y: 0, width: f.width, height: f.height }, SERVER_FORMAT)),
  );
  s.end();
});
