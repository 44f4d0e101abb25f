// virtio-vsock's host end (src/vmm/vsock-unix.ts) against real Unix sockets, driven by a
// hostile guest driver through the real transport and device: a connect the guest gave up on
// is never bridged, and every host socket counts against the connection bound until it has
// closed, so a guest cannot hold more host sockets than MAX_CONNECTIONS.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import net from "node:net";
import { GuestMemory } from "../src/memory/guest-memory.js";
import { VirtioMmio } from "../src/devices/virtio/mmio-transport.js";
import { MAX_CONNECTIONS, VirtioVsock } from "../src/devices/virtio/vsock.js";
import { VsockUnix } from "../src/vmm/vsock-unix.js";
import { driveUp } from "./support/virtio-driver.js";

const OP_REQUEST = 1;
const OP_RESPONSE = 2;
const OP_RST = 3;
const SIZE = 128;
const RX = { index: 0, size: SIZE, desc: 0x1000n, avail: 0x2000n, used: 0x3000n };
const TX = { index: 1, size: SIZE, desc: 0x4000n, avail: 0x5000n, used: 0x6000n };
const RX_BUFS = 0x1_0000n;
const TX_BUFS = 0x2_0000n;
const HOST_PORT = 5000;

const fds = () => readdirSync("/proc/self/fd").length;

/** Polls `cond` on every turn of the event loop until it holds; fails after `ms`. */
async function until(
  cond: () => boolean,
  what: string | (() => string),
  ms = 20_000,
): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end)
      assert.fail(`timed out waiting for ${typeof what === "string" ? what : what()}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

/**
 * A host service on PATH_5000 that counts its open connections. It closes one when moat ends
 * it, or (`stubborn`) never by itself, as a service that ignores the end of its input would.
 */
async function service(path: string, stubborn: boolean) {
  const open = new Set<net.Socket>();
  let peak = 0;
  let accepted = 0;
  const server = net.createServer({ allowHalfOpen: stubborn }, (s) => {
    accepted++;
    open.add(s);
    peak = Math.max(peak, open.size);
    s.on("error", () => {});
    s.on("close", () => open.delete(s));
    s.resume();
  });
  await new Promise<void>((r) => server.listen(`${path}_${HOST_PORT}`, r));
  return {
    open,
    get peak() {
      return peak;
    },
    get accepted() {
      return accepted;
    },
    close: () => {
      for (const s of open) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** The guest's side: packets on the transmit queue, control packets read from the receive queue. */
async function guest(path: string) {
  const mem = new GuestMemory(0n, new Uint8Array(0x10_0000));
  const backend = await VsockUnix.listen(path);
  const dev = new VirtioVsock("virtio-vsock", 3, backend);
  backend.device = dev;
  const t = new VirtioMmio(
    dev,
    mem,
    () => {},
    () => {},
  );
  const w = driveUp(t, [RX, TX]);
  let txIdx = 0;
  let rxIdx = 0;
  let rxSeen = 0;
  const offerRx = (n: number) => {
    for (let i = 0; i < n; i++) {
      const slot = rxIdx % SIZE;
      const d = RX.desc + BigInt(16 * slot);
      mem.writeU64(d, RX_BUFS + BigInt(64 * slot));
      mem.writeU32(d + 8n, 64);
      mem.writeU16(d + 12n, 2); // device-writable
      mem.writeU16(RX.avail + 4n + BigInt(2 * slot), slot);
      mem.writeU16(RX.avail + 2n, ++rxIdx & 0xffff);
    }
    w(0x50, RX.index);
  };
  offerRx(SIZE);
  /** Sends packets (ops with the guest port each), up to a ring at a time, and waits for them. */
  const send = async (packets: [op: number, guestPort: number][]) => {
    for (let at = 0; at < packets.length; at += SIZE) {
      for (const [op, port] of packets.slice(at, at + SIZE)) {
        const slot = txIdx % SIZE;
        const h = new DataView(new ArrayBuffer(44));
        h.setBigUint64(0, 3n, true);
        h.setBigUint64(8, 2n, true);
        h.setUint32(16, port, true);
        h.setUint32(20, HOST_PORT, true);
        h.setUint16(28, 1, true); // stream
        h.setUint16(30, op, true);
        h.setUint32(36, 65536, true);
        const buf = TX_BUFS + BigInt(64 * slot);
        mem.write(buf, new Uint8Array(h.buffer));
        const d = TX.desc + BigInt(16 * slot);
        mem.writeU64(d, buf);
        mem.writeU32(d + 8n, 44);
        mem.writeU16(d + 12n, 0);
        mem.writeU16(TX.avail + 4n + BigInt(2 * slot), slot);
        mem.writeU16(TX.avail + 2n, ++txIdx & 0xffff);
      }
      w(0x50, TX.index);
      await until(() => mem.readU16(TX.used + 2n) === (txIdx & 0xffff), "the device took them");
    }
  };
  /** Control packets the device has sent since the last call: [op, guest port]. */
  const received = (): [number, number][] => {
    const out: [number, number][] = [];
    const used = mem.readU16(RX.used + 2n);
    let n = 0;
    for (; (rxSeen & 0xffff) !== used; rxSeen++, n++) {
      const slot = mem.readU32(RX.used + 4n + BigInt(8 * (rxSeen % SIZE)));
      const h = RX_BUFS + BigInt(64 * slot);
      out.push([mem.readU16(h + 30n), mem.readU32(h + 20n)]);
    }
    if (n > 0) offerRx(n);
    return out;
  };
  return { dev, backend, send, received };
}

/** Runs `body` with a host service and a guest on a fresh socket path; closes them after. */
async function withHost(
  stubborn: boolean,
  body: (
    svc: Awaited<ReturnType<typeof service>>,
    g: Awaited<ReturnType<typeof guest>>,
  ) => Promise<void>,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "moat-vsock-end-"));
  const path = join(dir, "v.sock");
  const svc = await service(path, stubborn);
  const g = await guest(path);
  try {
    await body(svc, g);
  } finally {
    await g.backend.close();
    await svc.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test("vsock host end: REQUEST then RST before the connect completes leaves no host socket open", () =>
  withHost(false, async (svc, g) => {
    const before = fds();
    // Five times the bound, each dropped by the guest before its host connect completes.
    const flood = 5 * MAX_CONNECTIONS;
    for (let port = 0; port < flood; port += 64) {
      const batch: [number, number][] = [];
      for (let p = port; p < port + 64; p++)
        batch.push([OP_REQUEST, 10_000 + p], [OP_RST, 10_000 + p]);
      await g.send(batch);
    }
    // Every connect was abandoned: the service sees each one close.
    await until(
      () => svc.open.size === 0,
      () => `every host socket closed: ${svc.open.size} open after ${flood} REQUEST+RST`,
      10_000,
    );
    assert.ok(svc.accepted > 0, "the connects reached the service");
    assert.ok(svc.peak <= MAX_CONNECTIONS, `at most the bound at once, not ${svc.peak}`);
    assert.ok(fds() <= before + 2, `descriptors back where they were: ${before} -> ${fds()}`);
  }));

test("vsock host end: a reset connection counts against the bound until its host socket closes", () =>
  withHost(true, async (svc, g) => {
    const ports = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);
    const answers = new Map<number, number>();
    const drain = () => {
      for (const [op, port] of g.received()) answers.set(port, op);
    };
    const answered = async (ps: number[]) =>
      until(() => (drain(), ps.every((p) => answers.has(p))), "an answer to every REQUEST");
    // The bound's worth of connections, accepted by the service, then reset by the guest: the
    // service ignores the end moat sends, so each socket stays open (for up to moat's linger).
    // In batches the service's listen backlog holds, so none is refused by the kernel.
    const first = ports(20_000, MAX_CONNECTIONS);
    for (let i = 0; i < first.length; i += 64) {
      const batch = first.slice(i, i + 64);
      await g.send(batch.map((p) => [OP_REQUEST, p]));
      await answered(batch);
      await until(() => svc.accepted === i + batch.length, "the service accepted them");
    }
    assert.ok(
      first.every((p) => answers.get(p) === OP_RESPONSE),
      "all accepted",
    );
    await g.send(first.map((p) => [OP_RST, p]));
    assert.equal(g.dev.connections, 0, "the guest has no connection left");
    // Their host sockets still count: more REQUESTs are refused while those are open.
    const second = ports(30_000, 256);
    await g.send(second.map((p) => [OP_REQUEST, p]));
    await answered(second);
    assert.ok(
      second.every((p) => answers.get(p) === OP_RST),
      "refused at the bound",
    );
    assert.ok(svc.peak <= MAX_CONNECTIONS, `the service saw ${svc.peak} at once`);
    // The service closes them: as moat sees each close, the guest may connect again.
    for (const s of svc.open) s.destroy();
    for (let tries = 1; ; tries++) {
      const p = 40_000 + tries;
      await g.send([[OP_REQUEST, p]]);
      await answered([p]);
      if (answers.get(p) === OP_RESPONSE) break;
      assert.ok(tries < 10_000, "never accepted again");
    }
  }));
