// virtio-gpu 2D on its own (the device model above a real split queue in guest RAM): the
// commands a Linux driver sends, and hostile ones, each answered with the right response; the
// host memory a guest makes it hold, and the work one notify makes it do, each within its bound.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomFillSync } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:net";
import { PNG } from "pngjs";
import { AVAIL, DESC, USED, queueInRam } from "./support/split-queue.js";
import { control } from "./support/control-client.js";
import {
  BACKING_SLACK,
  Cmd,
  GpuFormat,
  MAX_BACKING_ENTRIES,
  MAX_RESOURCES,
  MAX_RESOURCE_SIDE,
  RESOURCE_META_BYTES,
  Resp,
  TURN_BUDGET,
  VirtioGpu,
  type GpuRect,
} from "../src/devices/virtio/gpu.js";
import { VirtioInput } from "../src/devices/virtio/input.js";
import { VncServer } from "../src/vmm/vnc-server.js";
import { backingHostBytes } from "../src/devices/virtio/gpu-backing.js";
import { ControlSocket } from "../src/vmm/control-socket.js";
import { scanoutPng } from "../src/vmm/display.js";
import type { VmDevices } from "../src/vmm/vm-devices.js";
import { silentLog } from "../src/base/log.js";
import { u32s } from "./support/le-words.js";

const RAM = 0x40_0000; // 4 MiB at 0
const N = 16;
const REQ = 0x10000n; // request buffers (up to FB)
const RESP = 0x8000n; // response buffers
const RESP_BYTES = 512;
const FB = 0x100000n; // backing pages

function setup(
  o: {
    maxHostBytes?: number;
    ram?: number;
    queue?: number;
    onFlush?: (rect: GpuRect) => void;
  } = {},
) {
  const n = o.queue ?? N;
  const { mem, q } = queueInRam(o.ram ?? RAM, n, 1 << 23);
  const flushes: unknown[] = [];
  const gpu = new VirtioGpu("virtio-gpu", {
    width: 640,
    height: 480,
    ...(o.maxHostBytes !== undefined ? { maxHostBytes: o.maxHostBytes } : {}),
    onFlush: (s, r) => {
      flushes.push([s, r]);
      o.onFlush?.(r);
    },
  });
  let failed = "";
  const ctx = { mem, used: () => {}, fail: (r: string) => (failed = r), configChanged: () => {} };
  gpu.activate(ctx, [q, undefined]);
  let avail = 0;
  /** The driver after a reset: fresh rings at the same places, the device activated again. */
  const restart = () => {
    avail = 0;
    gpu.activate(ctx, [queueInRam(0, n, 1 << 23, mem).q, undefined]);
  };
  /**
   * Makes one command available without a notify: its request at `at`, a response buffer of
   * `respLen` at `resp`; two descriptors of their own, so up to n / 2 commands wait at once.
   */
  const offer = (req: Uint8Array, at = REQ, resp = RESP, respLen = RESP_BYTES) => {
    mem.write(at, req);
    mem.write(resp, new Uint8Array(respLen));
    const head = (2 * avail) % n;
    const d = new DataView(new ArrayBuffer(32));
    d.setBigUint64(0, at, true);
    d.setUint32(8, req.length, true);
    d.setUint16(12, 1, true); // NEXT
    d.setUint16(14, head + 1, true);
    d.setBigUint64(16, resp, true);
    d.setUint32(24, respLen, true);
    d.setUint16(28, 2, true); // WRITE
    mem.write(DESC + BigInt(16 * head), new Uint8Array(d.buffer));
    mem.writeU16(AVAIL + 4n + BigInt(2 * (avail % n)), head);
    mem.writeU16(AVAIL + 2n, ++avail);
  };
  /** The device's used index: commands answered so far. */
  const used = () => mem.readU16(USED + 2n);
  const response = (at = RESP) => new DataView(mem.read(at, RESP_BYTES).buffer);
  /** Sends one command and returns its response (what the first turn answers). */
  const send = (
    type: number,
    body: (number | bigint)[] | Uint8Array = [],
    fence?: bigint,
    at = REQ,
  ): DataView => {
    offer(command(type, body, fence), at);
    gpu.notify(0);
    return response();
  };
  /** Sends one command and waits the turns it takes to be answered and the device idle. */
  const sendAndWait = async (
    type: number,
    body: (number | bigint)[] | Uint8Array = [],
  ): Promise<DataView> => {
    const before = used();
    offer(command(type, body));
    gpu.notify(0);
    await turnsUntil(() => used() !== before && !gpu.busy);
    return response();
  };
  return {
    mem,
    gpu,
    offer,
    used,
    response,
    send,
    sendAndWait,
    restart,
    flushes,
    failed: () => failed,
  };
}

/** A command's bytes: its header (with a fence if given), then the body. */
function command(type: number, body: (number | bigint)[] | Uint8Array, fence?: bigint) {
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
  return req;
}

/** Lets the event loop turn until `done()` (a device serves a long notify over many turns). */
async function turnsUntil(done: () => boolean): Promise<number> {
  let turns = 0;
  while (!done()) {
    if (++turns > 100_000) throw new Error("the device never finished");
    await new Promise((r) => setImmediate(r));
  }
  return turns;
}

/** An ATTACH_BACKING body for resource `id`: `entries` as [address, length] pairs. */
function backingList(id: number, entries: [bigint, number][]): Uint8Array {
  const v = new DataView(new ArrayBuffer(8 + 16 * entries.length));
  v.setUint32(0, id, true);
  v.setUint32(4, entries.length, true);
  entries.forEach(([addr, len], i) => {
    v.setBigUint64(8 + 16 * i, addr, true);
    v.setUint32(16 + 16 * i, len, true);
  });
  return new Uint8Array(v.buffer);
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
      () => send(Cmd.ResourceAttachBacking, [5, 10, FB, 4096, 0]),
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

test("virtio-gpu: backing lists are bounded by their resource's size and counted against the VM's cap, each resource's record too", () => {
  const cap = 1 << 20;
  const { gpu, send, failed } = setup({ ram: 16 << 20, maxHostBytes: cap });
  // The hostile guest's attach: a 1x1 resource with 262144 one-byte entries (a 4 MiB list).
  const LIST = 0x80_0000n;
  const huge: [bigint, number][] = [];
  for (let i = 0; i < MAX_BACKING_ENTRIES; i++) huge.push([FB + BigInt(i), 1]);
  assert.equal(type(send(Cmd.ResourceCreate2d, [1, GpuFormat.B8G8R8X8, 1, 1])), Resp.OkNodata);
  assert.equal(
    type(send(Cmd.ResourceAttachBacking, backingList(1, huge), undefined, LIST)),
    Resp.ErrInvalidParameter,
  );
  const most = 1 + BACKING_SLACK; // one 4 KiB page's worth, and the slack
  assert.equal(
    gpu.lastError,
    `${MAX_BACKING_ENTRIES} backing entries for a 1x1 resource (1..${most})`,
  );
  assert.equal(gpu.resourceBytes, 4 + RESOURCE_META_BYTES, "nothing held for the refused list");
  // As many entries as the bound allows: accepted and counted, with the pixels and the record.
  const each = 4 + RESOURCE_META_BYTES + backingHostBytes(most);
  const list = (id: number) => backingList(id, huge.slice(0, most));
  assert.equal(type(send(Cmd.ResourceAttachBacking, list(1))), Resp.OkNodata, gpu.lastError);
  assert.equal(gpu.resourceBytes, each);
  // More such resources until the cap: every one counts its list and record, so the cap
  // stops them long before MAX_RESOURCES (pixels alone, 4 bytes each, never would).
  let made = 1;
  for (let id = 2; id <= MAX_RESOURCES; id++) {
    if (type(send(Cmd.ResourceCreate2d, [id, GpuFormat.B8G8R8X8, 1, 1])) !== Resp.OkNodata) break;
    made++;
    if (type(send(Cmd.ResourceAttachBacking, list(id))) !== Resp.OkNodata) break;
  }
  assert.match(gpu.lastError, /would pass the VM's 1048576/);
  assert.ok(gpu.resourceBytes <= cap, `${gpu.resourceBytes} bytes held`);
  assert.ok(made <= Math.ceil(cap / each), `${made} resources of ${each} bytes under ${cap}`);
  assert.ok(made >= Math.floor(cap / each) - 1, `${made} resources`);
  // Detach and unref give every byte back.
  for (let id = 1; id <= made; id++) {
    send(Cmd.ResourceDetachBacking, [id, 0]);
    assert.equal(type(send(Cmd.ResourceUnref, [id, 0])), Resp.OkNodata);
  }
  assert.equal(gpu.resourceBytes, 0);
  assert.equal(failed(), "", "no command stopped the device");
});

/** A control socket of a VM with only this display, as the VMM serves it. */
async function controlSocket(gpu: VirtioGpu) {
  const dir = mkdtempSync(join(tmpdir(), "moat-gpu-"));
  const path = join(dir, "ctl.sock");
  const devices = { gpu, nets: [], blks: [] } as unknown as VmDevices;
  const ctl = await ControlSocket.listen(path, devices);
  return {
    ctl,
    path,
    close: async () => {
      await ctl.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

test("virtio-gpu: one notify with 128 large transfers is served over many turns; the control socket answers meanwhile", async () => {
  const W = 1024;
  const H = 1024; // 4 MiB of pixels, backed by 1024 pages
  const BACK = 0x40_0000n;
  const { mem, gpu, offer, used, send, response, failed } = setup({ ram: 16 << 20, queue: 256 });
  const pattern = new Uint8Array(W * H * 4);
  randomFillSync(pattern);
  // The backing's pages in reverse order in guest RAM: page k of the resource at 1023 - k.
  const pages: [bigint, number][] = [];
  for (let k = 0; k < 1024; k++) {
    const at = BACK + BigInt((1023 - k) * 4096);
    mem.write(at, pattern.subarray(k * 4096, (k + 1) * 4096));
    pages.push([at, 4096]);
  }
  assert.equal(type(send(Cmd.ResourceCreate2d, [1, GpuFormat.B8G8R8X8, W, H])), Resp.OkNodata);
  assert.equal(type(send(Cmd.ResourceAttachBacking, backingList(1, pages))), Resp.OkNodata);
  const sock = await controlSocket(gpu);
  try {
    const start = used();
    const reply = (i: number) => RESP + BigInt(64 * i);
    for (let i = 0; i < 128; i++)
      offer(
        command(Cmd.TransferToHost2d, [0, 0, W, H, 0n, 1, 0]),
        REQ + BigInt(64 * i),
        reply(i),
        64,
      );
    gpu.notify(0);
    // The first turn did a budget's worth, not 512 MiB of copying.
    const first = (used() - start) & 0xffff;
    assert.ok(first <= TURN_BUDGET / (W * H * 4) + 1, `${first} transfers on the first turn`);
    assert.equal(gpu.busy, true);
    const [status] = await control(sock.path, [{ op: "status" }]);
    assert.equal(status!.ok, true);
    const atReply = (used() - start) & 0xffff;
    assert.ok(atReply < 128, `the control socket answered only after all ${atReply} transfers`);
    const turns = await turnsUntil(() => ((used() - start) & 0xffff) === 128);
    assert.ok(turns >= (128 * W * H * 4) / TURN_BUDGET / 2, `all done in ${turns} turns`);
    assert.equal(gpu.busy, false);
    for (let i = 0; i < 128; i++) assert.equal(type(response(reply(i))), Resp.OkNodata, `${i}`);
    assert.deepEqual(gpu.scanoutImage(), null);
    assert.equal(type(send(Cmd.SetScanout, [0, 0, W, H, 0, 1])), Resp.OkNodata);
    assert.ok(Buffer.from(gpu.scanoutImage()!.pixels).equals(pattern), "the pixels arrived");
    assert.equal(failed(), "");
  } finally {
    await sock.close();
  }
});

test("virtio-gpu: one notify with 51 attach/detach pairs of the largest lists is served over several turns", async () => {
  const W = 2048;
  const H = 2048; // 16 MiB: 4096 pages, so up to 4112 entries
  const { gpu, offer, used, response, sendAndWait, failed } = setup({ ram: 16 << 20, queue: 256 });
  assert.equal(
    type(await sendAndWait(Cmd.ResourceCreate2d, [1, GpuFormat.B8G8R8X8, W, H])),
    Resp.OkNodata,
  );
  const n = (W * H * 4) / 4096 + BACKING_SLACK;
  const entries: [bigint, number][] = [];
  for (let i = 0; i < n; i++) entries.push([FB + BigInt(i), 1]);
  const LIST = 0x40_0000n;
  const start = used();
  const reply = (i: number) => RESP + BigInt(64 * i);
  for (let i = 0; i < 51; i++) {
    offer(command(Cmd.ResourceAttachBacking, backingList(1, entries)), LIST, reply(2 * i), 64);
    offer(command(Cmd.ResourceDetachBacking, [1, 0]), REQ, reply(2 * i + 1), 64);
  }
  gpu.notify(0);
  const first = (used() - start) & 0xffff;
  assert.ok(first < 102, "all 51 pairs on one turn");
  const turns = await turnsUntil(() => ((used() - start) & 0xffff) === 102);
  assert.ok(turns >= 2, `${turns} turns`);
  for (let i = 0; i < 102; i++) assert.equal(type(response(reply(i))), Resp.OkNodata, `${i}`);
  assert.equal(gpu.resourceBytes, W * H * 4 + RESOURCE_META_BYTES, "every list given back");
  assert.equal(failed(), "");
});

test("virtio-gpu: a reset while a notify's work waits for its next turn drops that work", async () => {
  const { mem, gpu, offer, used, response, send, sendAndWait, restart } = setup({
    ram: 16 << 20,
    queue: 256,
  });
  const W = 2048;
  const H = 2048;
  assert.equal(
    type(await sendAndWait(Cmd.ResourceCreate2d, [1, GpuFormat.B8G8R8X8, W, H])),
    Resp.OkNodata,
  );
  const pages: [bigint, number][] = [];
  for (let k = 0; k < 4096; k++) pages.push([0x40_0000n + BigInt(k * 2048), 2048]);
  assert.equal(
    type(send(Cmd.ResourceAttachBacking, backingList(1, pages), undefined, 0x20_0000n)),
    Resp.OkNodata,
  );
  const start = used();
  for (let i = 0; i < 8; i++)
    offer(
      command(Cmd.TransferToHost2d, [0, 0, W, H / 2, 0n, 1, 0]),
      REQ + BigInt(64 * i),
      RESP + BigInt(64 * i),
      64,
    );
  gpu.notify(0);
  assert.equal(gpu.busy, true);
  const answered = used();
  gpu.reset();
  const before = mem.read(0n, 16 << 20);
  await new Promise((r) => setImmediate(r)); // the turn the device had scheduled
  assert.equal(used(), answered, "nothing answered after the reset");
  assert.ok(Buffer.from(mem.read(0n, 16 << 20)).equals(before), "guest memory untouched");
  assert.ok(((answered - start) & 0xffff) < 8);
  assert.equal(gpu.busy, false);
  assert.equal(gpu.resourceBytes, 0);
  // Reset while work waits, and the driver back with new work before the dropped turn comes:
  // only the new chain of turns runs, a budget's worth a turn (two 4 MiB transfers at most).
  const work = () => {
    restart();
    assert.equal(
      type(send(Cmd.ResourceCreate2d, [1, GpuFormat.B8G8R8X8, 1024, 1024])),
      Resp.OkNodata,
    );
    const back: [bigint, number][] = [];
    for (let k = 0; k < 1024; k++) back.push([0x40_0000n + BigInt(k * 4096), 4096]);
    const attach = send(Cmd.ResourceAttachBacking, backingList(1, back), undefined, 0x20_0000n);
    assert.equal(type(attach), Resp.OkNodata, gpu.lastError);
    for (let i = 0; i < 16; i++)
      offer(
        command(Cmd.TransferToHost2d, [0, 0, 1024, 1024, 0n, 1, 0]),
        REQ + BigInt(64 * i),
        RESP + BigInt(64 * i),
        64,
      );
    gpu.notify(0);
    assert.equal(gpu.busy, true);
  };
  work();
  gpu.reset();
  work();
  // The create and the attach, then at most two transfers a turn.
  assert.ok(used() <= 4, `${used() - 2} transfers answered on the first turn`);
  let done = used();
  await turnsUntil(() => {
    const now = used();
    assert.ok(now - done <= 2, `${now - done} transfers answered in one turn`);
    done = now;
    return now === 18 && !gpu.busy;
  });
  for (let i = 0; i < 16; i++)
    assert.equal(type(response(RESP + BigInt(64 * i))), Resp.OkNodata, `${i}`);
});

/** Resource `id`, 3840x2160 of random pixels backed at `at`, shown on the scanout. */
async function noisyScanout(g: ReturnType<typeof setup>, id: number, at: bigint) {
  const W = 3840;
  const H = 2160;
  const { mem, send, sendAndWait } = g;
  assert.equal(
    type(await sendAndWait(Cmd.ResourceCreate2d, [id, GpuFormat.B8G8R8X8, W, H])),
    Resp.OkNodata,
  );
  const pages: [bigint, number][] = [];
  for (let k = 0; k < (W * H * 4) / 4096; k++) pages.push([at + BigInt(k * 4096), 4096]);
  randomFillSync(mem.hostView(at, W * H * 4));
  assert.equal(type(send(Cmd.ResourceAttachBacking, backingList(id, pages))), Resp.OkNodata);
  assert.equal(
    type(await sendAndWait(Cmd.TransferToHost2d, [0, 0, W, H, 0n, id, 0])),
    Resp.OkNodata,
  );
  assert.equal(type(send(Cmd.SetScanout, [0, 0, W, H, 0, id])), Resp.OkNodata);
}

test("virtio-gpu scanouts are bounded; a screenshot of the largest, noisy, is refused while the control socket answers, a small one is right", async () => {
  const BACK = 0x80_0000n;
  const g = setup({ ram: 48 << 20 });
  const { mem, gpu, send, sendAndWait, failed } = g;
  // Larger than the largest mode: each side at most 3840, 3840x2160 pixels at most.
  assert.equal(
    type(await sendAndWait(Cmd.ResourceCreate2d, [1, GpuFormat.B8G8R8X8, 4096, 4096])),
    Resp.OkNodata,
  );
  for (const [w, h] of [
    [4096, 4096],
    [3841, 1],
    [3840, 2161],
    [2160, 3841],
  ] as const) {
    assert.equal(type(send(Cmd.SetScanout, [0, 0, w, h, 0, 1])), Resp.ErrInvalidParameter);
    assert.match(gpu.lastError, new RegExp(`^a scanout of ${w}x${h} pixels`));
  }
  assert.equal(type(send(Cmd.SetScanout, [0, 0, 2160, 3840, 0, 1])), Resp.OkNodata, "portrait");
  assert.equal(type(send(Cmd.ResourceUnref, [1, 0])), Resp.OkNodata);
  // The largest scanout, of random pixels.
  await noisyScanout(g, 2, BACK);
  const sock = await controlSocket(gpu);
  try {
    const order: string[] = [];
    const shot = sock.ctl.handle(JSON.stringify({ op: "screenshot" })).then((r) => {
      order.push("screenshot");
      return r;
    });
    const [status] = await control(sock.path, [{ op: "status" }]);
    order.push("status");
    assert.equal(status!.ok, true);
    const refused = await shot;
    assert.deepEqual(order, ["status", "screenshot"], "the socket waited for the encoding");
    assert.equal(refused.ok, false);
    assert.match(String(refused.error), /passed 786432 bytes as a PNG \(3840x2160\)/);
    // A small scanout of known pixels (B8G8R8X8 in memory: B, G, R, X) comes back as RGBA.
    assert.equal(type(send(Cmd.ResourceCreate2d, [3, GpuFormat.B8G8R8X8, 64, 48])), Resp.OkNodata);
    const img = new Uint8Array(64 * 48 * 4);
    for (let i = 0; i < 64 * 48; i++) img.set([i & 0xff, (i >> 8) & 0xff, 0x5a, 0], i * 4);
    mem.write(BACK, img);
    assert.equal(type(send(Cmd.ResourceAttachBacking, [3, 1, BACK, img.length, 0])), Resp.OkNodata);
    assert.equal(type(send(Cmd.TransferToHost2d, [0, 0, 64, 48, 0n, 3, 0])), Resp.OkNodata);
    assert.equal(type(send(Cmd.SetScanout, [0, 0, 64, 48, 0, 3])), Resp.OkNodata);
    const [ok] = await control(sock.path, [{ op: "screenshot" }]);
    assert.equal(ok!.ok, true, String(ok!.error));
    assert.deepEqual([ok!.width, ok!.height], [64, 48]);
    const png = PNG.sync.read(Buffer.from(ok!.png as string, "base64"));
    for (const i of [0, 1, 300, 64 * 48 - 1])
      assert.deepEqual(
        [...png.data.subarray(i * 4, i * 4 + 4)],
        [0x5a, (i >> 8) & 0xff, i & 0xff, 255],
        `pixel ${i}`,
      );
    assert.equal(failed(), "");
  } finally {
    await sock.close();
  }
});

test("virtio-gpu: one notify with 16 create/unref pairs of 16 MiB resources is served over many turns", async () => {
  const { gpu, offer, used, response, failed } = setup({ queue: 256 });
  const start = used();
  const reply = (i: number) => RESP + BigInt(64 * i);
  for (let i = 0; i < 16; i++) {
    offer(
      command(Cmd.ResourceCreate2d, [1, GpuFormat.B8G8R8X8, 2048, 2048]),
      REQ,
      reply(2 * i),
      64,
    );
    offer(command(Cmd.ResourceUnref, [1, 0]), REQ + 64n, reply(2 * i + 1), 64);
  }
  gpu.notify(0);
  // Each create zeroes 16 MiB, twice the turn's budget: it ends its turn.
  const first = (used() - start) & 0xffff;
  assert.ok(first <= 2, `${first} commands on the first turn`);
  const turns = await turnsUntil(() => ((used() - start) & 0xffff) === 32);
  assert.ok(turns >= 15, `all done in ${turns} turns`);
  for (let i = 0; i < 32; i++) assert.equal(type(response(reply(i))), Resp.OkNodata, `${i}`);
  assert.equal(gpu.resourceBytes, 0);
  assert.equal(failed(), "");
});

test("virtio-gpu: a long backing list after another command waits for a turn of its own", async () => {
  const { gpu, offer, used, response, sendAndWait, failed } = setup({ ram: 16 << 20 });
  assert.equal(
    type(await sendAndWait(Cmd.ResourceCreate2d, [1, GpuFormat.B8G8R8X8, 4096, 4096])),
    Resp.OkNodata,
  );
  // 9000 entries cost more than what a command leaves of the turn's budget.
  const entries: [bigint, number][] = [];
  for (let i = 0; i < 9000; i++) entries.push([FB + BigInt(i), 1]);
  assert.ok(9000 * 1024 > TURN_BUDGET - 16384);
  const start = used();
  offer(command(Cmd.GetDisplayInfo, []), REQ, RESP, 512);
  offer(command(Cmd.ResourceAttachBacking, backingList(1, entries)), 0x40_0000n, RESP + 512n, 64);
  gpu.notify(0);
  assert.equal((used() - start) & 0xffff, 1, "the list was parsed on the first turn");
  assert.equal(gpu.busy, true);
  await turnsUntil(() => ((used() - start) & 0xffff) === 2 && !gpu.busy);
  assert.equal(type(response(RESP + 512n)), Resp.OkNodata, gpu.lastError);
  assert.equal(failed(), "");
});

/** A VNC server of `gpu`'s display on a Unix socket of its own. */
async function vncServer(gpu: VirtioGpu) {
  const dir = mkdtempSync(join(tmpdir(), "moat-gpu-vnc-"));
  const path = join(dir, "vnc.sock");
  const server = await VncServer.listen(
    { path },
    {
      gpu,
      keyboard: new VirtioInput("keyboard", "keyboard"),
      tablet: new VirtioInput("tablet", "tablet"),
    },
    { log: silentLog },
  );
  return {
    server,
    path,
    close: async () => {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

test("virtio-gpu: page flips between two 4K buffers, each with an empty flush, cost a viewer's full conversion each: one a turn", async () => {
  const W = 3840;
  const H = 2160;
  const sink: { vnc?: VncServer } = {};
  const { gpu, offer, used, sendAndWait, response, flushes, failed } = setup({
    queue: 256,
    onFlush: (r) => sink.vnc?.flushed(r),
  });
  for (const id of [1, 2])
    assert.equal(
      type(await sendAndWait(Cmd.ResourceCreate2d, [id, GpuFormat.B8G8R8X8, W, H])),
      Resp.OkNodata,
    );
  const vnc = await vncServer(gpu);
  sink.vnc = vnc.server;
  const viewer = connect(vnc.path);
  viewer.on("error", () => {});
  try {
    await new Promise((r) => viewer.once("connect", r));
    await turnsUntil(() => vnc.server.clientCount === 1);
    // The scanout's size changes with every SET_SCANOUT: the viewer converts all of it.
    const start = used();
    for (let i = 0; i < 32; i++) {
      const reply = (k: number) => RESP + BigInt(32 * (4 * i + k));
      offer(command(Cmd.SetScanout, [0, 0, W, H, 0, 1]), REQ, reply(0), 32);
      offer(command(Cmd.ResourceFlush, [0, 0, 0, 0, 1, 0]), REQ + 64n, reply(1), 32);
      offer(command(Cmd.SetScanout, [0, 0, W, H - 1, 0, 2]), REQ + 128n, reply(2), 32);
      offer(command(Cmd.ResourceFlush, [0, 0, 0, 0, 2, 0]), REQ + 192n, reply(3), 32);
    }
    flushes.length = 0;
    const perTurn: number[] = [];
    gpu.notify(0);
    perTurn.push(flushes.length);
    let seen = flushes.length;
    await turnsUntil(() => {
      perTurn.push(flushes.length - seen);
      seen = flushes.length;
      return ((used() - start) & 0xffff) === 128 && !gpu.busy;
    });
    // A full frame is 33 MB of conversion, four turns' budget: it ends its turn.
    assert.ok(Math.max(...perTurn) <= 1, `flushes a turn: ${perTurn.join(" ")}`);
    assert.equal(seen, 64);
    for (let i = 0; i < 128; i++)
      assert.equal(type(response(RESP + BigInt(32 * i))), Resp.OkNodata, `${i}`);
    assert.equal(failed(), "");
  } finally {
    viewer.destroy();
    await vnc.close();
  }
});

/** An RFB 3.8 viewer without a password on `path`; `frame()` asks for all of it in Raw. */
async function rfbViewer(path: string) {
  const sock = connect(path);
  sock.on("error", () => {});
  let buf = Buffer.alloc(0);
  let wake = () => {};
  sock.on("data", (b: Buffer) => {
    buf = Buffer.concat([buf, b]);
    wake();
  });
  const read = async (n: number): Promise<Buffer> => {
    while (buf.length < n) await new Promise<void>((r) => (wake = r));
    const out = buf.subarray(0, n);
    buf = buf.subarray(n);
    return out;
  };
  await read(12);
  sock.write("RFB 003.008\n");
  await read((await read(1))[0]!);
  sock.write(Buffer.from([1])); // None
  assert.equal((await read(4)).readUInt32BE(0), 0, "SecurityResult OK");
  sock.write(Buffer.from([1])); // shared
  const init = await read(24);
  await read(init.readUInt32BE(20));
  const width = init.readUInt16BE(0);
  const height = init.readUInt16BE(2);
  /** The whole frame as the server's 32-bit pixels (0x00RRGGBB), row by row. */
  const frame = async (): Promise<number[]> => {
    const req = Buffer.alloc(10);
    req[0] = 3;
    req.writeUInt16BE(width, 6);
    req.writeUInt16BE(height, 8);
    sock.write(req);
    const head = await read(4);
    const px = new Array<number>(width * height);
    for (let i = head.readUInt16BE(2); i > 0; i--) {
      const r = await read(12);
      const [x, y, w, h] = [0, 2, 4, 6].map((at) => r.readUInt16BE(at)) as [
        number,
        number,
        number,
        number,
      ];
      assert.equal(r.readInt32BE(8), 0, "Raw");
      const data = await read(w * h * 4);
      for (let j = 0; j < w * h; j++)
        px[(y + Math.floor(j / w)) * width + x + (j % w)] = data.readUInt32LE(j * 4);
    }
    return px;
  };
  return { width, height, frame, close: () => sock.destroy() };
}

test("VNC: a page flip between two buffers of one size shows the new buffer whole, whatever rows the flush names", async () => {
  const sink: { vnc?: VncServer } = {};
  const { mem, gpu, send } = setup({ onFlush: (r) => sink.vnc?.flushed(r) });
  // Two 8x4 buffers: one all 0x112233, the other all 0x445566 (B8G8R8X8: B, G, R, X in memory).
  for (const [id, rgb] of [
    [1, 0x112233],
    [2, 0x445566],
  ] as const) {
    const at = FB + BigInt(id * 0x1000);
    const px = new Uint8Array(8 * 4 * 4);
    for (let i = 0; i < 32; i++) px.set([rgb & 0xff, (rgb >> 8) & 0xff, rgb >> 16, 0], i * 4);
    mem.write(at, px);
    assert.equal(type(send(Cmd.ResourceCreate2d, [id, GpuFormat.B8G8R8X8, 8, 4])), Resp.OkNodata);
    assert.equal(type(send(Cmd.ResourceAttachBacking, [id, 1, at, 128, 0])), Resp.OkNodata);
    assert.equal(type(send(Cmd.TransferToHost2d, [0, 0, 8, 4, 0n, id, 0])), Resp.OkNodata);
  }
  assert.equal(type(send(Cmd.SetScanout, [0, 0, 8, 4, 0, 1])), Resp.OkNodata);
  const vnc = await vncServer(gpu);
  sink.vnc = vnc.server;
  const viewer = await rfbViewer(vnc.path);
  try {
    assert.deepEqual([viewer.width, viewer.height], [8, 4]);
    assert.deepEqual(await viewer.frame(), new Array(32).fill(0x112233));
    // The flip, and a flush of its first row only.
    assert.equal(type(send(Cmd.SetScanout, [0, 0, 8, 4, 0, 2])), Resp.OkNodata);
    assert.equal(type(send(Cmd.ResourceFlush, [0, 0, 8, 1, 2, 0])), Resp.OkNodata);
    assert.deepEqual(await viewer.frame(), new Array(32).fill(0x445566));
  } finally {
    viewer.close();
    await vnc.close();
  }
});

test("control socket: screenshots queued by a client that has gone are not taken, the one being encoded is stopped", async () => {
  const g = setup({ ram: 48 << 20 });
  const { gpu } = g;
  await noisyScanout(g, 1, 0x80_0000n);
  // Each screenshot taken reads the scanout once.
  let taken = 0;
  const scanoutImage = gpu.scanoutImage.bind(gpu);
  gpu.scanoutImage = () => {
    taken++;
    return scanoutImage();
  };
  const sock = await controlSocket(gpu);
  try {
    const client = connect(sock.path);
    client.on("error", () => {});
    await new Promise((r) => client.once("connect", r));
    client.write('{"op":"screenshot"}\n'.repeat(40));
    await turnsUntil(() => taken === 1);
    client.destroy();
    // The next client's screenshot comes after what was queued before it: nothing but its own.
    const [shot] = await control(sock.path, [{ op: "screenshot" }]);
    assert.match(String(shot!.error), /passed 786432 bytes as a PNG/);
    assert.equal(taken, 2, "screenshots taken");
  } finally {
    await sock.close();
  }
  // An encoding no longer wanted ends at once, its worker terminated.
  const stop = new AbortController();
  const png = scanoutPng(gpu.scanoutImage()!, 768 * 1024, stop.signal);
  stop.abort();
  await assert.rejects(png, /the screenshot was no longer wanted/);
});
