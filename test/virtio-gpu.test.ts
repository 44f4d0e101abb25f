// virtio-gpu 2D on its own (the device model above a real split queue in guest RAM): the
// commands a Linux driver sends, and hostile ones, each answered with the right response.
import { test } from "node:test";
import assert from "node:assert/strict";
import { AVAIL, DESC, queueInRam } from "./support/split-queue.js";
import { Cmd, GpuFormat, MAX_RESOURCE_SIDE, Resp, VirtioGpu } from "../src/devices/virtio/gpu.js";

const RAM = 0x40_0000; // 4 MiB at 0
const N = 16;
const REQ = 0x10000n; // request buffer
const RESP = 0x20000n; // response buffer
const FB = 0x100000n; // backing pages

function setup(o: { maxHostBytes?: number } = {}) {
  const { mem, q } = queueInRam(RAM, N, 1 << 23);
  const flushes: unknown[] = [];
  const gpu = new VirtioGpu("virtio-gpu", {
    width: 640,
    height: 480,
    ...o,
    onFlush: (s, r) => flushes.push([s, r]),
  });
  let failed = "";
  gpu.activate({ mem, used: () => {}, fail: (r) => (failed = r), configChanged: () => {} }, [
    q,
    undefined,
  ]);
  let avail = 0;
  /** Sends one command (bytes after the header given) and returns its response. */
  const send = (
    type: number,
    body: (number | bigint)[] | Uint8Array = [],
    fence?: bigint,
  ): DataView => {
    const hdr = new DataView(new ArrayBuffer(24));
    hdr.setUint32(0, type, true);
    if (fence !== undefined) {
      hdr.setUint32(4, 1, true);
      hdr.setBigUint64(8, fence, true);
    }
    const b = body instanceof Uint8Array ? body : u32s(body);
    const req = new Uint8Array(24 + b.length);
    req.set(new Uint8Array(hdr.buffer), 0);
    req.set(b, 24);
    mem.write(REQ, req);
    mem.write(RESP, new Uint8Array(512));
    const d = new DataView(new ArrayBuffer(32));
    d.setBigUint64(0, REQ, true);
    d.setUint32(8, req.length, true);
    d.setUint16(12, 1, true); // NEXT
    d.setUint16(14, 1, true);
    d.setBigUint64(16, RESP, true);
    d.setUint32(24, 512, true);
    d.setUint16(28, 2, true); // WRITE
    mem.write(DESC, new Uint8Array(d.buffer));
    mem.writeU16(AVAIL + 4n + BigInt(2 * (avail % N)), 0);
    mem.writeU16(AVAIL + 2n, ++avail);
    gpu.notify(0);
    return new DataView(mem.read(RESP, 512).buffer);
  };
  return { mem, gpu, send, flushes, failed: () => failed };
}

function u32s(words: (number | bigint)[]): Uint8Array {
  const out = new DataView(
    new ArrayBuffer(words.reduce<number>((n, w) => n + (typeof w === "bigint" ? 8 : 4), 0)),
  );
  let at = 0;
  for (const w of words) {
    if (typeof w === "bigint") {
      out.setBigUint64(at, w, true);
      at += 8;
    } else {
      out.setUint32(at, w, true);
      at += 4;
    }
  }
  return new Uint8Array(out.buffer, 0, at);
}

const type = (r: DataView) => r.getUint32(0, true);

test("virtio-gpu 2D: display info, create, back, transfer, scan out and flush what the guest drew", () => {
  const { mem, gpu, send, flushes } = setup();
  assert.equal(gpu.configRead(8, 4), 1n, "one scanout");
  const info = send(Cmd.GetDisplayInfo);
  assert.equal(type(info), Resp.OkDisplayInfo);
  assert.deepEqual(
    [info.getUint32(32, true), info.getUint32(36, true), info.getUint32(40, true)],
    [640, 480, 1],
  );
  assert.equal(type(send(Cmd.ResourceCreate2d, [1, GpuFormat.B8G8R8X8, 4, 2])), Resp.OkNodata);
  // Backing in two pieces; a 4x2 image whose pixel (x, y) holds bytes [x, y, 7, 0].
  const img = new Uint8Array(32);
  for (let y = 0; y < 2; y++) for (let x = 0; x < 4; x++) img.set([x, y, 7, 0], (y * 4 + x) * 4);
  mem.write(FB, img.subarray(0, 20));
  mem.write(FB + 0x1000n, img.subarray(20));
  const attach = send(Cmd.ResourceAttachBacking, [1, 2, FB, 20, 0, FB + 0x1000n, 12, 0]);
  assert.equal(type(attach), Resp.OkNodata, gpu.lastError);
  // Transfer the right half only: rect 2x2 at (2, 0), offset of its first byte in the backing.
  assert.equal(
    type(send(Cmd.TransferToHost2d, [2, 0, 2, 2, 8n, 1, 0])),
    Resp.OkNodata,
    gpu.lastError,
  );
  assert.equal(type(send(Cmd.SetScanout, [0, 0, 4, 2, 0, 1])), Resp.OkNodata);
  assert.equal(type(send(Cmd.ResourceFlush, [0, 0, 4, 2, 1, 0])), Resp.OkNodata);
  assert.deepEqual(flushes, [[0, { x: 0, y: 0, width: 4, height: 2 }]]);
  const shown = gpu.scanoutImage()!;
  assert.equal(shown.width, 4);
  assert.deepEqual(
    [...shown.pixels.subarray(0, 8)],
    [0, 0, 0, 0, 0, 0, 0, 0],
    "left half not sent",
  );
  assert.deepEqual([...shown.pixels.subarray(8, 16)], [2, 0, 7, 0, 3, 0, 7, 0]);
  assert.deepEqual([...shown.pixels.subarray(24, 32)], [2, 1, 7, 0, 3, 1, 7, 0]);
  // A fenced command's response carries the fence.
  const fenced = send(Cmd.ResourceFlush, [0, 0, 1, 1, 1, 0], 0x1234n);
  assert.equal(fenced.getUint32(4, true), 1);
  assert.equal(fenced.getBigUint64(8, true), 0x1234n);
  assert.equal(type(send(Cmd.ResourceDetachBacking, [1, 0])), Resp.OkNodata);
  assert.equal(type(send(Cmd.ResourceUnref, [1, 0])), Resp.OkNodata);
  assert.equal(gpu.scanoutImage(), null, "unref takes it off the scanout");
  assert.equal(gpu.resourceBytes, 0);
});

test("virtio-gpu: hostile commands get error responses, host memory stays under the VM's cap", () => {
  const { gpu, send, failed } = setup({ maxHostBytes: 1 << 20 });
  const cases: [string, () => DataView, number][] = [
    ["unknown command", () => send(0x0999), Resp.ErrUnspec],
    ["short command", () => send(Cmd.ResourceCreate2d, [1]), Resp.ErrUnspec],
    ["resource id 0", () => send(Cmd.ResourceCreate2d, [0, 1, 8, 8]), Resp.ErrInvalidResourceId],
    ["bad format", () => send(Cmd.ResourceCreate2d, [2, 99, 8, 8]), Resp.ErrInvalidParameter],
    ["zero size", () => send(Cmd.ResourceCreate2d, [2, 1, 0, 8]), Resp.ErrInvalidParameter],
    [
      "side past the bound",
      () => send(Cmd.ResourceCreate2d, [2, 1, MAX_RESOURCE_SIDE + 1, 1]),
      Resp.ErrInvalidParameter,
    ],
    ["huge resource", () => send(Cmd.ResourceCreate2d, [2, 1, 16384, 16384]), Resp.ErrOutOfMemory],
    [
      "unknown resource",
      () => send(Cmd.SetScanout, [0, 0, 1, 1, 0, 77]),
      Resp.ErrInvalidResourceId,
    ],
  ];
  for (const [what, f, want] of cases) assert.equal(type(f()), want, what);
  assert.equal(type(send(Cmd.ResourceCreate2d, [5, 1, 64, 64])), Resp.OkNodata);
  const more: [string, () => DataView, number][] = [
    ["id in use", () => send(Cmd.ResourceCreate2d, [5, 1, 8, 8]), Resp.ErrInvalidResourceId],
    ["bad scanout", () => send(Cmd.SetScanout, [0, 0, 8, 8, 3, 5]), Resp.ErrInvalidScanoutId],
    [
      "scanout rect outside",
      () => send(Cmd.SetScanout, [60, 0, 8, 8, 0, 5]),
      Resp.ErrInvalidParameter,
    ],
    [
      "wrapping rect",
      () => send(Cmd.ResourceFlush, [0xffff_fff0, 0, 0x20, 1, 5, 0]),
      Resp.ErrInvalidParameter,
    ],
    [
      "transfer without backing",
      () => send(Cmd.TransferToHost2d, [0, 0, 1, 1, 0n, 5, 0]),
      Resp.ErrUnspec,
    ],
    [
      "backing outside RAM",
      () => send(Cmd.ResourceAttachBacking, [5, 1, BigInt(RAM) - 8n, 4096, 0]),
      Resp.ErrInvalidParameter,
    ],
    [
      "overlapping backing",
      () => send(Cmd.ResourceAttachBacking, [5, 2, FB, 8192, 0, FB + 4096n, 8192, 0]),
      Resp.ErrInvalidParameter,
    ],
    [
      "more entries than sent",
      () => send(Cmd.ResourceAttachBacking, [5, 1000, FB, 4096, 0]),
      Resp.ErrUnspec,
    ],
    ["zero entries", () => send(Cmd.ResourceAttachBacking, [5, 0]), Resp.ErrInvalidParameter],
  ];
  for (const [what, f, want] of more) assert.equal(type(f()), want, what);
  // A backing too small for the transfer asked: refused, nothing read past it.
  assert.equal(type(send(Cmd.ResourceAttachBacking, [5, 1, FB, 4096, 0])), Resp.OkNodata);
  assert.equal(
    type(send(Cmd.TransferToHost2d, [0, 0, 64, 64, 0n, 5, 0])),
    Resp.ErrInvalidParameter,
  );
  assert.equal(
    type(send(Cmd.TransferToHost2d, [0, 0, 4, 1, 0xffff_ffff_ffff_0000n, 5, 0])),
    Resp.ErrInvalidParameter,
  );
  // Resources up to the cap, then out of memory; the total never passes it.
  let ok = 0;
  for (let id = 10; id < 40; id++)
    if (type(send(Cmd.ResourceCreate2d, [id, 1, 128, 128])) === Resp.OkNodata) ok++;
  assert.ok(ok >= 1 && ok < 30, `${ok} created`);
  assert.ok(gpu.resourceBytes <= 1 << 20, `${gpu.resourceBytes} bytes held`);
  assert.equal(failed(), "", "no command stopped the device");
  assert.ok(gpu.errors >= cases.length + more.length);
  // After all that, it still works.
  assert.equal(type(send(Cmd.GetDisplayInfo)), Resp.OkDisplayInfo);
});
