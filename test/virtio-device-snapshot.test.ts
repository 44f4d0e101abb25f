// The virtio devices' own state in a snapshot (issue 22): each device is driven by a guest
// driver into a state, saved, passed through JSON and loaded with its transport into a fresh
// device of the same configuration over a copy of guest RAM, and the guest carries on: the next
// input lands in the next buffer, held buffers are taken again, quiesced disk requests are
// served after the restore. States that do not fit the device are refused by field.
import { test } from "node:test";
import assert from "node:assert/strict";
import { VirtioConsole } from "../src/devices/virtio/console.js";
import { VirtioSerial, type SerialPortHost } from "../src/devices/virtio/serial.js";
import { VirtioBalloon } from "../src/devices/virtio/balloon.js";
import { VirtioInput } from "../src/devices/virtio/input.js";
import { VirtioBlk, type BlockBackend } from "../src/devices/virtio/blk.js";
import { VNET_HDR_BYTES, VirtioNet, parseMac, type NetBackend } from "../src/devices/virtio/net.js";
import { VirtioVsock, type VsockBackend } from "../src/devices/virtio/vsock.js";
import { VirtioGpu } from "../src/devices/virtio/gpu.js";
import { u32s } from "./support/le-words.js";
import { DATA, VirtioGuest, settle } from "./support/virtio-guest.js";
import { mutated, refusedAsMade } from "./support/device-state.js";
import type { DeviceState } from "../src/devices/device-state.js";

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

test("virtio-console: input after a restore lands in the next buffer the guest gave", async () => {
  const out: string[] = [];
  const make = () => new VirtioConsole("virtio-console", (b) => out.push(str(b)));
  const g = new VirtioGuest(make()).up();
  g.post(0, [{ addr: DATA, len: 64, write: true }]);
  const second = g.post(0, [{ addr: DATA + 0x100n, len: 64, write: true }]);
  await settle();
  (g.dev as VirtioConsole).sendInput(text("ab"), () => {});
  assert.equal(g.usedIdx(0), 1);
  g.mem.write(DATA + 0x200n, text("hi"));
  g.post(1, [{ addr: DATA + 0x200n, len: 2 }]);
  await settle();
  assert.deepEqual(out, ["hi"]);

  const r = g.restoreInto(make());
  await settle();
  (r.dev as VirtioConsole).sendInput(text("cd"), () => {});
  assert.equal(r.usedIdx(0), 2);
  assert.deepEqual(r.used(0, 1), { id: second, len: 2 });
  assert.equal(str(r.mem.read(DATA + 0x100n, 2)), "cd");
  r.mem.write(DATA + 0x300n, text("yo"));
  r.post(1, [{ addr: DATA + 0x300n, len: 2 }]);
  await settle();
  assert.deepEqual(out, ["hi", "yo"]);
  assert.equal(r.usedIdx(1), 2, "the transmit queue goes on from where it was");
});

/** A control message (virtio 1.2, 5.3.6.2). */
const control = (id: number, event: number, value: number) => {
  const m = new Uint8Array(8);
  const v = new DataView(m.buffer);
  v.setUint32(0, id, true);
  v.setUint16(4, event, true);
  v.setUint16(6, value, true);
  return m;
};

test("virtio-serial: open ports, the guest's readiness and pending control messages survive", async () => {
  const opened: string[] = [];
  const host = (name: string, data: string[] = []): SerialPortHost => ({
    data: (b) => data.push(str(b)),
    guestOpen: (o) => opened.push(`${name} ${o}`),
  });
  const make = () =>
    new VirtioSerial("virtio-serial", [
      { name: "org.moat.agent", host: host("agent") },
      { name: "other", host: host("other") },
    ]);
  const g = new VirtioGuest(make()).up(1 << 1); // MULTIPORT
  let buf = DATA;
  const controlRx = () => {
    g.post(2, [{ addr: buf, len: 128, write: true }]);
    buf += 0x100n;
  };
  const send = (m: Uint8Array) => {
    g.mem.write(buf, m);
    g.post(3, [{ addr: buf, len: m.length }]);
    buf += 0x100n;
  };
  controlRx();
  controlRx();
  send(control(0, 0, 1)); // DEVICE_READY: two DEVICE_ADDs fill both buffers
  await settle();
  send(control(1, 3, 1)); // PORT_READY 1: PORT_NAME and PORT_OPEN wait for buffers
  send(control(1, 6, 1)); // the guest opens port 1
  await settle();
  assert.equal(g.usedIdx(2), 2);
  assert.deepEqual(opened, ["agent true"]);

  opened.length = 0;
  const r = g.restoreInto(make());
  assert.deepEqual(opened, ["agent true"], "the host side hears the port is open");
  await settle();
  const nameAt = buf;
  r.post(2, [{ addr: nameAt, len: 128, write: true }]);
  await settle();
  assert.equal(r.usedIdx(2), 3, "the pending PORT_NAME is delivered");
  assert.equal(str(r.mem.read(nameAt + 8n, 14)), "org.moat.agent");
  r.post(4, [{ addr: DATA + 0x8000n, len: 16, write: true }]); // port 1's receive queue
  await settle();
  (r.dev as VirtioSerial).send(0, text("x"), () => {});
  assert.equal(r.usedIdx(4), 1, "host input reaches the open port");

  const s = g.t.saveState();
  const fresh = () => new VirtioGuest(make()).t;
  refusedAsMade(fresh, mutated(s, "device.ports.0.name", "evil"), /name is not 'org.moat.agent'/);
  refusedAsMade(fresh, mutated(s, "device.ports", []), /ports is not 2 ports/);
  refusedAsMade(fresh, mutated(s, "device.controlOut", ["AAAA"]), /shorter than 8 bytes/);
  refusedAsMade(
    fresh,
    mutated(s, "device.controlOut", Array(65).fill("AAAAAAAAAAA=")),
    /controlOut has more than 64 items/,
  );
});

test("virtio-balloon: target, actual and the held statistics buffer survive", async () => {
  const make = () => new VirtioBalloon("virtio-balloon", 1 << 20, { release: () => {} });
  const g = new VirtioGuest(make()).up(1 << 1); // STATS_VQ
  (g.dev as VirtioBalloon).setTarget(1);
  g.t.write(0x104, 4, 17n); // the guest's actual
  const stats = new Uint8Array(10);
  new DataView(stats.buffer).setUint16(0, 4, true); // free memory
  new DataView(stats.buffer).setBigUint64(2, 12345n, true);
  g.mem.write(DATA, stats);
  const head = g.post(2, [{ addr: DATA, len: 10 }]);
  await settle();
  assert.equal((g.dev as VirtioBalloon).stats.freeMemory, 12345);
  assert.equal(g.usedIdx(2), 0, "the device holds the statistics buffer");

  const r = g.restoreInto(make());
  await settle();
  const b = r.dev as VirtioBalloon;
  assert.equal(r.t.read(0x100, 4), 256n, "target: 1 MiB in pages");
  assert.equal(b.targetMiB, 1);
  assert.equal(b.actualPages, 17);
  assert.equal(b.stats.freeMemory, 12345, "the held buffer is taken again and read");
  assert.equal(b.requestStats(), true);
  assert.equal(r.usedIdx(2), 1);
  assert.deepEqual(
    r.used(2, 0),
    { id: head, len: 0 },
    "and given back when fresh figures are wanted",
  );

  const s = g.t.saveState();
  const fresh = () => new VirtioGuest(make()).t;
  refusedAsMade(
    fresh,
    mutated(s, "device.targetPages", 257),
    /targetPages is 257, outside 0\.\.256/,
  );
  refusedAsMade(fresh, mutated(s, "device.actualPages", -1), /actualPages/);
});

test("virtio-input: the selected config item and the event queue's place survive", async () => {
  const make = () => new VirtioInput("virtio-input kbd", "keyboard");
  const g = new VirtioGuest(make()).up();
  g.t.write(0x100, 1, 1n); // select ID_NAME
  for (let i = 0; i < 4; i++) g.post(0, [{ addr: DATA + BigInt(i * 16), len: 8, write: true }]);
  await settle();
  (g.dev as VirtioInput).key(30, true); // KEY_A down, SYN: two buffers
  assert.equal(g.usedIdx(0), 2);
  const size = g.t.read(0x102, 1);
  assert.ok(size > 0n);

  const r = g.restoreInto(make());
  await settle();
  assert.equal(r.t.read(0x102, 1), size, "the selected item is there");
  assert.equal(r.t.read(0x108, 1), g.t.read(0x108, 1));
  (r.dev as VirtioInput).key(30, false);
  assert.equal(r.usedIdx(0), 4);
  assert.equal(r.mem.readU16(DATA + 2n * 16n + 2n), 30, "KEY_A's release in the third buffer");

  const fresh = () => new VirtioGuest(make()).t;
  refusedAsMade(fresh, mutated(g.t.saveState(), "device.select", 256), /select is 256/);
});

/** A disk in memory whose reads can be held back. */
function disk(sectors: number) {
  const data = new Uint8Array(sectors * 512);
  let gate: Promise<void> | undefined;
  let open = () => {};
  const backend: BlockBackend = {
    sizeBytes: data.length,
    readOnly: false,
    read: async (off, len) => {
      if (gate) await gate;
      return data.slice(off, off + len);
    },
    write: async (off, d) => void data.set(d, off),
    flush: async () => {},
    discard: async () => {},
    writeZeroes: async () => {},
  };
  return {
    data,
    backend,
    hold: () => (gate = new Promise<void>((r) => (open = () => ((gate = undefined), r())))),
    open: () => open(),
  };
}

/** A read request for `sector` (header, 512 bytes of data, status) at `at`. */
function readRequest(g: VirtioGuest, at: bigint, sector: number): number {
  const h = new DataView(new ArrayBuffer(16));
  h.setUint32(0, 0, true); // T_IN
  h.setBigUint64(8, BigInt(sector), true);
  g.mem.write(at, new Uint8Array(h.buffer));
  return g.post(0, [
    { addr: at, len: 16 },
    { addr: at + 0x100n, len: 512, write: true },
    { addr: at + 0x400n, len: 1, write: true },
  ]);
}

test("virtio-blk: quiesce() waits for the request in flight; waiting ones are served after restore", async () => {
  const d = disk(64);
  d.data.set(text("sector three"), 3 * 512);
  d.data.set(text("sector five"), 5 * 512);
  const make = () => new VirtioBlk("virtio-blk vda", d.backend, "vda");
  const g = new VirtioGuest(make()).up();
  const blk = g.dev as VirtioBlk;
  d.hold();
  readRequest(g, DATA, 3);
  await settle();
  let quiet = false;
  const q = blk.quiesce().then(() => (quiet = true));
  await settle();
  assert.equal(quiet, false, "a request is in flight");
  assert.throws(() => g.t.saveState(), /virtio-blk vda: a request is in flight/);
  const waiting = readRequest(g, DATA + 0x1000n, 5);
  d.open();
  await q;
  assert.equal(g.usedIdx(0), 1, "the request in flight completed; the new one waits");
  assert.equal(str(g.mem.read(DATA + 0x100n, 12)), "sector three");

  const r = g.restoreInto(make());
  await settle();
  for (let i = 0; i < 20 && r.usedIdx(0) < 2; i++) await settle();
  assert.equal(r.usedIdx(0), 2, "the waiting request is served by the restored device");
  assert.deepEqual(r.used(0, 1), { id: waiting, len: 513 });
  assert.equal(str(r.mem.read(DATA + 0x1100n, 11)), "sector five");
  // The original, released, serves it too (the VM goes on after a snapshot).
  blk.release();
  for (let i = 0; i < 20 && g.usedIdx(0) < 2; i++) await settle();
  assert.equal(g.usedIdx(0), 2);

  const other = disk(32);
  const s = g.t.saveState();
  refusedAsMade(
    () => new VirtioGuest(new VirtioBlk("virtio-blk vda", other.backend, "vda")).t,
    s,
    /capacity is 64 sectors, the disk has 32/,
  );
});

const MAC = "52:54:00:12:34:56";

function netBackend() {
  const frames: Uint8Array[] = [];
  const sent: Uint8Array[] = [];
  let ready: (() => void) | undefined;
  const backend: NetBackend = {
    receive: (buf) => {
      const f = frames.shift();
      if (!f) return -1;
      buf.set(f);
      return f.length;
    },
    whenReadable: (r) => (ready = r),
    send: (f) => (sent.push(f), true),
    setOffload: () => {},
  };
  const deliver = (f: Uint8Array) => {
    frames.push(f);
    const r = ready;
    ready = undefined;
    r?.();
  };
  return { backend, deliver, sent };
}

/** A frame from the host: vnet header, then an Ethernet frame of `len` bytes filled with `b`. */
const hostFrame = (len: number, b: number) => {
  const f = new Uint8Array(VNET_HDR_BYTES + len).fill(b, VNET_HDR_BYTES);
  return f;
};

test("virtio-net: held receive buffers are taken again after a restore; the frame in flight is dropped", async () => {
  const a = netBackend();
  const g = new VirtioGuest(new VirtioNet("virtio-net", parseMac(MAC), a.backend)).up(1 << 15);
  const small = g.post(0, [{ addr: DATA, len: 100, write: true }]);
  await settle();
  a.deliver(hostFrame(1000, 0xaa)); // does not fit: the device holds the buffer, waits for more
  await settle();
  assert.equal(g.usedIdx(0), 0);

  const b = netBackend();
  const state = g.save() as DeviceState;
  assert.equal(
    (state["queues"] as DeviceState[])[0]!["lastAvail"],
    0,
    "the held buffer is given back",
  );
  const r = g.restoreInto(new VirtioNet("virtio-net", parseMac(MAC), b.backend), state);
  await settle();
  assert.equal(r.t.read(0x100, 4), 0x12_00_54_52n, "the MAC in config space");
  const big = r.post(0, [{ addr: DATA + 0x1000n, len: 2048, write: true }]);
  await settle();
  b.deliver(hostFrame(200, 0xbb));
  await settle();
  assert.equal(r.usedIdx(0), 2, "one frame in the held buffer and the new one (mergeable)");
  assert.deepEqual(r.used(0, 0), { id: small, len: 100 });
  assert.deepEqual(r.used(0, 1), { id: big, len: VNET_HDR_BYTES + 200 - 100 });
  assert.equal(r.mem.readU16(DATA + 10n), 2, "num_buffers");
  assert.equal(r.mem.read(DATA + BigInt(VNET_HDR_BYTES), 1)[0], 0xbb, "the new frame, not the old");

  // Transmit carries on too.
  const frame = new Uint8Array(VNET_HDR_BYTES + 60);
  frame.set(parseMac(MAC), VNET_HDR_BYTES + 6);
  r.mem.write(DATA + 0x3000n, frame);
  r.post(1, [{ addr: DATA + 0x3000n, len: frame.length }]);
  await settle();
  assert.equal(b.sent.length, 1);

  const fresh = () => new VirtioGuest(new VirtioNet("n", parseMac(MAC), netBackend().backend)).t;
  refusedAsMade(fresh, mutated(state, "device.mac", "not a mac"), /mac does not match/);
  refusedAsMade(fresh, mutated(state, "device", undefined), /device is missing/);
});

test("virtio-net: a restore takes the snapshot's MAC; a clone's device keeps its own", () => {
  const g = new VirtioGuest(new VirtioNet("virtio-net", parseMac(MAC), netBackend().backend));
  const state = g.up(1 << 15).save() as DeviceState;
  const own = parseMac("02:00:00:00:00:02");
  const mac = (t: { read(off: number, size: number): bigint }) =>
    [0, 1, 2, 3, 4, 5].map((i) => Number(t.read(0x100 + i, 1)));
  const made = (clone: boolean) =>
    new VirtioNet("virtio-net", own, netBackend().backend, {}, clone);
  assert.deepEqual(mac(g.restoreInto(made(false), state).t), [...parseMac(MAC)], "its parent's");
  assert.deepEqual(mac(g.restoreInto(made(true), state).t), [...own], "a clone's own");
  const fresh = () => new VirtioGuest(made(true)).t;
  refusedAsMade(fresh, mutated(state, "device.mac", "53:54:00:12:34:56"), /mac does not match/);
});

test("virtio-vsock: a restored device tells the guest its connections are gone (TRANSPORT_RESET)", async () => {
  const backend: VsockBackend = {
    connect: () => {},
    data: () => {},
    closed: () => {},
    established: () => {},
  };
  const g = new VirtioGuest(new VirtioVsock("virtio-vsock", 3, backend)).up();
  const first = g.post(2, [{ addr: DATA, len: 4, write: true }]);
  g.post(2, [{ addr: DATA + 0x10n, len: 4, write: true }]);
  g.mem.write(DATA, Uint8Array.of(0xff, 0xff, 0xff, 0xff));
  await settle();
  assert.ok((g.dev as VirtioVsock).hostConnect(1234));
  assert.equal((g.dev as VirtioVsock).connections, 1);
  assert.equal(g.usedIdx(2), 0, "no event before the snapshot");

  // A clone with its own CID.
  const r = g.restoreInto(new VirtioVsock("virtio-vsock", 4, backend));
  await settle();
  assert.equal((r.dev as VirtioVsock).connections, 0);
  assert.equal(r.usedIdx(2), 1);
  assert.deepEqual(r.used(2, 0), { id: first, len: 4 });
  assert.equal(r.mem.readU32(DATA), 0, "VIRTIO_VSOCK_EVENT_TRANSPORT_RESET");
  assert.equal(r.t.read(0x100, 4), 4n, "the CID the guest reads again");
  // Once only.
  r.t.write(0x50, 4, 2n);
  await settle();
  assert.equal(r.usedIdx(2), 1);

  const fresh = () => new VirtioGuest(new VirtioVsock("v", 3, backend)).t;
  refusedAsMade(
    fresh,
    mutated(g.t.saveState(), "device.guestCid", 2),
    /guestCid is 2, outside 3\.\./,
  );
});

/** A virtio-gpu request: its header, then `fields` (numbers as u32, bigints as u64). */
function gpuRequest(type: number, fields: (number | bigint)[]): Uint8Array {
  const body = u32s(fields);
  const out = new Uint8Array(24 + body.length);
  new DataView(out.buffer).setUint32(0, type, true);
  out.set(body, 24);
  return out;
}

/** Sends `req` on the control queue; resolves with the response's type. */
async function gpuCommand(g: VirtioGuest, req: Uint8Array): Promise<number> {
  const at = DATA + 0x2_0000n;
  g.mem.write(at, req);
  g.post(0, [
    { addr: at, len: req.length },
    { addr: at + 0x1000n, len: 512, write: true },
  ]);
  await settle();
  return g.mem.readU32(at + 0x1000n);
}

test("virtio-gpu: resources, backing and the scanout come back; pixels are copied again from RAM", async () => {
  const make = () => new VirtioGpu("virtio-gpu", { width: 640, height: 480 });
  const g = new VirtioGuest(make()).up();
  const FB = [0x8_0000n, 0x9_0000n]; // two pages, not adjacent
  for (let i = 0; i < 8192; i++) g.mem.write(FB[i >> 12]! + BigInt(i & 4095), Uint8Array.of(i * 7));
  const ok = 0x1100;
  assert.equal(await gpuCommand(g, gpuRequest(0x0101, [1, 2, 64, 32])), ok); // create 64x32
  assert.equal(await gpuCommand(g, gpuRequest(0x0101, [2, 1, 16, 16])), ok);
  assert.equal(
    await gpuCommand(g, gpuRequest(0x0106, [1, 2, FB[0]!, 4096, 0, FB[1]!, 4096, 0])),
    ok,
  );
  assert.equal(await gpuCommand(g, gpuRequest(0x0105, [0, 0, 64, 32, 0n, 1, 0])), ok);
  assert.equal(await gpuCommand(g, gpuRequest(0x0103, [0, 8, 64, 24, 0, 1])), ok); // scanout
  const before = (g.dev as VirtioGpu).scanoutImage()!;

  const r = g.restoreInto(make());
  await settle();
  const gpu = r.dev as VirtioGpu;
  const after = gpu.scanoutImage()!;
  assert.deepEqual(after.rect, { x: 0, y: 8, width: 64, height: 24 });
  assert.equal(after.format, 2);
  assert.deepEqual(after.pixels, before.pixels, "the pixels, from the backing in RAM");
  assert.equal(gpu.resourceBytes, (g.dev as VirtioGpu).resourceBytes, "charged alike");
  assert.notEqual(after.serial, 0, "viewers convert all of it");
  assert.equal(await gpuCommand(r, gpuRequest(0x0101, [1, 2, 8, 8])), 0x1203, "id 1 is in use");
  assert.equal(await gpuCommand(r, gpuRequest(0x0106, [2, 1, 0xa_0000n, 1024, 0])), ok);
  assert.equal(r.usedIdx(0), 7, "the control queue goes on");

  const s = g.t.saveState();
  const fresh = () => new VirtioGuest(make()).t;
  const outside = new Uint8Array(16);
  new DataView(outside.buffer).setBigUint64(0, 0x10_0000n, true);
  new DataView(outside.buffer).setUint32(8, 4096, true);
  const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");
  refusedAsMade(
    fresh,
    mutated(s, "device.resources.0.backing", b64(outside)),
    /resources\[0\]: backing 0x100000\+4096 is outside guest RAM/,
  );
  refusedAsMade(fresh, mutated(s, "device.resources.1.format", 5), /format 5 is not a 2D format/);
  refusedAsMade(fresh, mutated(s, "device.resources.1.id", 1), /resource id 1 is in use/);
  refusedAsMade(
    fresh,
    mutated(s, "device.scanout.height", 32),
    /scanout rectangle 64x32\+0\+8 is outside/,
  );
  refusedAsMade(fresh, mutated(s, "device.scanout.resource", 9), /scanout: no resource 9/);
  refusedAsMade(
    () => new VirtioGuest(new VirtioGpu("g", { width: 640, height: 480, maxHostBytes: 9000 })).t,
    s,
    /would pass the VM's 9000/,
  );
});
