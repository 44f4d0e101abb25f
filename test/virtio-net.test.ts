// virtio-net: the device model over the virtio-mmio transport with a fake host end (frames in
// and out, mergeable receive buffers, anti-spoofing, hostile chains, rate limits), then the
// shipped riscv64 guest on real TAP devices through `moat run --net`: ping both ways, TCP
// between two VMs on a Linux bridge, spoofed frames that never reach the host.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import net from "node:net";
import { GuestMemory } from "../src/memory/guest-memory.js";
import { TokenBucket } from "../src/devices/rate-limiter.js";
import { VirtioNet, parseMac, type NetBackend } from "../src/devices/virtio/net.js";
import { STATUS_NEEDS_RESET, VirtioMmio } from "../src/devices/virtio/mmio-transport.js";
import { parseNetSpecs } from "../src/cli/device-options.js";
import { moat, startMoat, until } from "./support/moat-cli.js";
import { driveUp } from "./support/virtio-driver.js";

const MAC = parseMac("02:00:00:00:00:aa");
const RXQ = { desc: 0x1000n, avail: 0x2000n, used: 0x3000n };
const TXQ = { desc: 0x5000n, avail: 0x6000n, used: 0x7000n };
const N = 8;

class FakeHost implements NetBackend {
  inbox: Uint8Array[] = [];
  sent: Uint8Array[] = [];
  offload = -1;
  ready: (() => void) | undefined;
  receive(buf: Uint8Array): number {
    const f = this.inbox.shift();
    if (!f) return -1;
    buf.set(f);
    return f.length;
  }
  whenReadable(ready: () => void): void {
    this.ready = ready;
  }
  send(frame: Uint8Array): boolean {
    this.sent.push(frame.slice());
    return true;
  }
  setOffload(flags: number): void {
    this.offload = flags;
  }
  /** A frame from the host: a zero vnet header, then `payload` behind an Ethernet header. */
  deliver(payloadLen: number): void {
    const f = new Uint8Array(12 + 14 + payloadLen);
    f.set(MAC, 12);
    for (let i = 0; i < payloadLen; i++) f[26 + i] = i & 0xff;
    this.inbox.push(f);
    const r = this.ready;
    this.ready = undefined;
    r?.();
  }
}

function setup(
  opts: { mergeable?: boolean; limits?: ConstructorParameters<typeof VirtioNet>[3] } = {},
) {
  const mem = new GuestMemory(0n, new Uint8Array(0x10_0000));
  const log: string[] = [];
  const host = new FakeHost();
  const dev = new VirtioNet("virtio-net eth0", MAC, host, opts.limits);
  const t = new VirtioMmio(
    dev,
    mem,
    () => {},
    (l) => log.push(l),
  );
  assert.equal(t.read(8, 4), 1n, "network device");
  t.write(0x14, 4, 0n);
  const lo = Number(t.read(0x10, 4));
  // Accept the device's features, less mergeable buffers when asked.
  const queues = [RXQ, TXQ].map((q, index) => ({ index, size: N, ...q }));
  const features = opts.mergeable === false ? lo & ~(1 << 15) : lo;
  let w = driveUp(t, queues, features);
  const descs = [0, 0];
  /** The driver resets the device and sets it up again on clean rings, as a re-probe does. */
  const reprobe = () => {
    w(0x70, 0);
    for (const q of [RXQ, TXQ]) {
      mem.write(q.avail, new Uint8Array(4 + 2 * N));
      mem.write(q.used, new Uint8Array(4 + 8 * N));
    }
    descs[0] = descs[1] = 0;
    w = driveUp(t, queues, features);
  };
  /** Offers a chain of buffers (writable for rx) on queue `qi`; returns its head. */
  const offer = (qi: number, bufs: { addr: bigint; len: number; write: boolean }[]) => {
    const q = qi === 0 ? RXQ : TXQ;
    const head = descs[qi]! % N;
    bufs.forEach((b, k) => {
      const d = q.desc + BigInt(16 * ((head + k) % N));
      mem.writeU64(d, b.addr);
      mem.writeU32(d + 8n, b.len);
      mem.writeU16(d + 12n, (b.write ? 2 : 0) | (k < bufs.length - 1 ? 1 : 0));
      mem.writeU16(d + 14n, (head + k + 1) % N);
    });
    descs[qi]! += bufs.length;
    const idx = mem.readU16(q.avail + 2n);
    mem.writeU16(q.avail + 4n + BigInt(2 * (idx % N)), head);
    mem.writeU16(q.avail + 2n, idx + 1);
    w(0x50, qi);
    return head;
  };
  let txAt = 0;
  /** A guest frame: vnet header, destination, source `src`, type, payload. */
  const transmit = (src: Uint8Array, payload = 50) => {
    const f = new Uint8Array(12 + 14 + payload);
    f.set(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), 12);
    f.set(src, 18);
    const at = 0x8_0000n + BigInt(0x1000 * (txAt++ % N));
    mem.write(at, f);
    offer(1, [{ addr: at, len: f.length, write: false }]);
  };
  const used = (q: typeof RXQ, k: number) => ({
    id: mem.readU32(q.used + 4n + BigInt(8 * k)),
    len: mem.readU32(q.used + 8n + BigInt(8 * k)),
  });
  const usedIdx = (q: typeof RXQ) => mem.readU16(q.used + 2n);
  const settle = async () => {
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
  };
  const needsReset = () => (Number(t.read(0x70, 4)) & STATUS_NEEDS_RESET) !== 0;
  return { mem, dev, host, offer, transmit, used, usedIdx, needsReset, log, settle, reprobe };
}

test("virtio-net: after a reset and a new set-up (a re-probe) frames pass both ways", async () => {
  const s = setup();
  s.offer(0, [{ addr: 0x9_0000n, len: 2048, write: true }]);
  await s.settle(); // a buffer and no frame yet: the device waits for the host's first
  s.reprobe();
  s.offer(0, [{ addr: 0x9_0000n, len: 2048, write: true }]);
  await s.settle(); // the new driver's buffer is taken; the frame comes later
  s.host.deliver(100);
  await s.settle();
  assert.equal(s.usedIdx(RXQ), 1, "the host's frame is in the new driver's buffer");
  s.transmit(MAC);
  await s.settle();
  assert.equal(s.host.sent.length, 1, "the new driver's frame reached the host");
});

test("virtio-net: the guest's frames reach the host; a spoofed source MAC is dropped and counted", async () => {
  const s = setup();
  assert.equal(s.host.offload, 1 | 2 | 4 | 8, "csum, TSO4, TSO6 and ECN handed to the TAP");
  s.transmit(MAC);
  s.transmit(parseMac("02:00:00:00:00:bb"));
  s.transmit(MAC, 0);
  await s.settle();
  assert.equal(s.usedIdx(TXQ), 3, "every transmit chain is returned");
  assert.equal(s.host.sent.length, 2);
  assert.deepEqual(s.dev.counters, {
    rxFrames: 0,
    rxBytes: 0,
    rxDropped: 0,
    txFrames: 2,
    txBytes: 78,
    txSpoofed: 1,
    txErrors: 0,
  });
  const short = new Uint8Array(12 + 10);
  s.mem.write(0xf_0000n, short);
  s.offer(1, [{ addr: 0xf_0000n, len: short.length, write: false }]);
  await s.settle();
  assert.equal(s.dev.counters.txErrors, 1, "shorter than an Ethernet header");
  assert.equal(s.needsReset(), false);
});

test("virtio-net: a large host frame spans mergeable buffers with num_buffers set", async () => {
  const s = setup();
  s.host.deliver(3000);
  assert.equal(s.usedIdx(RXQ), 0, "no buffers yet: the frame waits");
  for (let i = 0; i < 3; i++)
    s.offer(0, [{ addr: 0x1_0000n + BigInt(i * 0x1000), len: 1500, write: true }]);
  await s.settle();
  assert.equal(s.usedIdx(RXQ), 3);
  assert.deepEqual(
    [0, 1, 2].map((k) => s.used(RXQ, k).len),
    [1500, 1500, 26],
  );
  assert.equal(s.mem.readU16(0x1_0000n + 10n), 3, "num_buffers");
  // The payload continues across buffers: byte 1474 of the payload is at 0x11000 + 14 + 12 - 26.
  assert.equal(s.mem.read(0x1_1000n, 1)[0], (1500 - 26) & 0xff);
  assert.equal(s.dev.counters.rxFrames, 1);
});

test("virtio-net without mergeable buffers: one chain a frame; a frame too big for it is dropped", async () => {
  const s = setup({ mergeable: false });
  s.offer(0, [{ addr: 0x1_0000n, len: 600, write: true }]);
  await s.settle();
  s.host.deliver(1000);
  assert.equal(s.usedIdx(RXQ), 0);
  assert.equal(s.dev.counters.rxDropped, 1);
  s.host.deliver(100);
  assert.equal(s.usedIdx(RXQ), 1);
  assert.equal(s.used(RXQ, 0).len, 126);
  assert.equal(s.mem.readU16(0x1_0000n + 10n), 1, "num_buffers is 1");
});

test("virtio-net: hostile chains put the device in NEEDS_RESET with one log line", async () => {
  const s = setup();
  s.offer(1, [{ addr: 0x8_0000n, len: 64, write: true }]);
  await s.settle();
  assert.ok(s.needsReset());
  assert.equal(s.log.length, 1);
  assert.match(s.log[0]!, /transmit chain 0 has writable buffers/);
  const r = setup();
  r.offer(0, [{ addr: 0x1_0000n, len: 64, write: false }]);
  await r.settle();
  r.host.deliver(10);
  await r.settle();
  assert.ok(r.needsReset());
  assert.match(r.log[0]!, /receive chain 0 has device-readable buffers/);
  const o = setup();
  o.offer(1, [{ addr: 0xff_fff0n, len: 64, write: false }]);
  await o.settle();
  assert.ok(o.needsReset(), "a buffer outside guest RAM");
});

test("virtio-net rate limits: frames over the rate wait in the ring", async () => {
  let now = 0;
  const s = setup({ limits: { txOps: new TokenBucket(10, 2, () => now) } });
  for (let i = 0; i < 4; i++) s.transmit(MAC);
  await s.settle();
  assert.equal(s.host.sent.length, 3, "two in the bucket, then one in debt");
  now = 1000;
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(s.host.sent.length, 4);
  s.dev.setLimits({});
  for (let i = 0; i < 3; i++) s.transmit(MAC);
  await s.settle();
  assert.equal(s.host.sent.length, 7, "limits lifted at run time");
});

test("--net values: clear errors for bad ones", () => {
  assert.deepEqual(parseNetSpecs(["tap=t0,bps=1M"]), [{ tap: "t0", bps: 1 << 20 }]);
  assert.deepEqual(parseNetSpecs(["tap=t0,bridge=b0"]), [{ tap: "t0", bridge: "b0" }]);
  const bad: [string[], RegExp][] = [
    [["mac=02:00:00:00:00:01"], /give tap=NAME, bridge=BR, or both/],
    [["tap=a,tap=b"], /tap= is given twice/],
    [["tap=way-too-long-name"], /not an interface name/],
    [["tap=a,mac=zz"], /not a MAC address/],
    [["tap=a,speed=3"], /unknown option 'speed=3'/],
    [["tap=a", "tap=a"], /TAP a is given twice/],
  ];
  for (const [v, re] of bad) assert.throws(() => parseNetSpecs(v), re);
});

// --- the real thing: TAP devices and a Linux bridge on this host (CI runs as root) ---

const ip = (...args: string[]) => {
  const r = spawnSync("ip", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr}`);
};
const stat = (dev: string, what: string) =>
  Number(readFileSync(`/sys/class/net/${dev}/statistics/${what}`, "utf8"));

test("--net tap: ping host <-> guest over a TAP device", async () => {
  const tap = `mtn${process.pid % 100000}`;
  ip("tuntap", "add", "mode", "tap", "name", tap);
  let vm: ReturnType<typeof startMoat> | undefined;
  try {
    ip("addr", "add", "10.77.0.1/24", "dev", tap);
    ip("link", "set", tap, "up");
    const guest =
      "ip link set eth0 up && ip addr add 10.77.0.2/24 dev eth0 && ping -c 2 -W 5 10.77.0.1 && " +
      "echo READY && nc -l -p 7001";
    // Jailed (its own network namespace; the TAP opened by the launcher, handed in), under the
    // seccomp filter: TAP I/O on the epoll thread needs nothing it denies.
    const v = startMoat([
      "run",
      "--jail",
      "--net",
      `tap=${tap},mac=02:00:00:00:77:02`,
      "--",
      "sh",
      "-c",
      guest,
    ]);
    vm = v;
    await until(() => v.out().includes("READY") || v.p.exitCode !== null, "the guest's READY");
    assert.match(v.out(), /2 packets transmitted, 2 packets received/, v.out() + v.err());
    const ping = spawnSync("ping", ["-c", "2", "-W", "5", "10.77.0.2"], { encoding: "utf8" });
    assert.equal(ping.status, 0, ping.stdout + ping.stderr);
    // End the guest's listener with a line from the host: TCP from host to guest.
    await new Promise<void>((resolve, reject) => {
      const c = net.connect(7001, "10.77.0.2", () => c.end("bye from the host\n"));
      c.on("close", () => resolve());
      c.on("error", reject);
    });
    assert.equal(await v.done, 0, v.err());
    assert.match(v.out(), /bye from the host/);
  } finally {
    vm?.p.kill("SIGKILL");
    ip("link", "del", tap);
  }
});

test("--net tap=NAME,bridge=BR: the TAP of that name is a port of the bridge while the VM runs", async () => {
  // As OpenStack's Linux-bridge agent expects a port's TAP (docs/openstack.md): named by the
  // port, on the network's bridge, made by the hypervisor.
  const br = `mbn${process.pid % 100000}`;
  const tap = `mtb${process.pid % 100000}`;
  ip("link", "add", br, "type", "bridge");
  let vm: ReturnType<typeof startMoat> | undefined;
  try {
    const v = startMoat(
      ["run", "--jail", "--net", `tap=${tap},bridge=${br}`, "--", "sh", "-c", "echo READY; read x"],
      150_000,
      true,
    );
    vm = v;
    await until(() => v.out().includes("READY") || v.p.exitCode !== null, "the guest's READY");
    const master = readFileSync(`/sys/class/net/${tap}/master/uevent`, "utf8");
    assert.match(master, new RegExp(`INTERFACE=${br}\\n`));
    v.p.stdin!.end("\n");
    assert.equal(await v.done, 0, v.err());
    // moat made the TAP, so it went with the VM.
    await until(() => !existsSync(`/sys/class/net/${tap}`), "the TAP to go");
  } finally {
    vm?.p.kill("SIGKILL");
    ip("link", "del", br);
  }
});

test("--net bridge: two VMs talk over a Linux bridge; spoofed frames never leave the host side", async () => {
  const br = `mbr${process.pid % 100000}`;
  ip("link", "add", br, "type", "bridge");
  try {
    ip("link", "set", br, "up");
    // Jailed: the launcher makes each TAP a port of the bridge before the VM's network
    // namespace exists.
    const a = startMoat([
      "run",
      "--jail",
      "--net",
      `bridge=${br},mac=02:00:00:00:78:0a`,
      "--",
      "sh",
      "-c",
      "ip link set eth0 up && ip addr add 10.78.0.10/24 dev eth0 && nc -l -p 7000",
    ]);
    const b = startMoat([
      "run",
      "--jail",
      "--net",
      `bridge=${br},mac=02:00:00:00:78:0b`,
      "--",
      "sh",
      "-c",
      "ip link set eth0 up && ip addr add 10.78.0.11/24 dev eth0 && " +
        "for i in $(seq 60); do echo hello-from-b | nc 10.78.0.10 7000 && break; sleep 1; done",
    ]);
    assert.equal(await b.done, 0, b.err());
    assert.equal(await a.done, 0, a.err());
    assert.match(a.out(), /hello-from-b/);

    // Spoofing: a guest that takes another MAC sends nothing the bridge sees.
    const c = startMoat([
      "run",
      "--net",
      `bridge=${br},mac=02:00:00:00:78:0c`,
      "--",
      "sh",
      "-c",
      "ip link set eth0 address 02:00:00:00:78:0a && ip link set eth0 up && " +
        "ip addr add 10.78.0.12/24 dev eth0 && echo READY && sleep 1 && ping -c 3 -W 1 10.78.0.10; " +
        "arping -c 3 -w 3 -I eth0 10.78.0.10; true",
    ]);
    // Watch the VM's bridge port for as long as it exists: the frames moat passed to the host.
    let port = "";
    let passed = 0;
    while (c.p.exitCode === null && c.p.signalCode === null) {
      port ||= readFileSync("/proc/net/dev", "utf8").match(/(moat\d+n0):/)?.[1] ?? "";
      try {
        if (port) passed = Math.max(passed, stat(port, "rx_packets"));
      } catch {
        // the port went with the VM
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(await c.done, 0, c.err());
    assert.notEqual(port, "", "the VM's TAP was seen on the host");
    const spoofed = Number(/(\d+) frames with a spoofed source MAC dropped/.exec(c.err())?.[1]);
    assert.ok(spoofed >= 3, c.err());
    assert.equal(passed, 0, "no frame of the spoofing guest reached the bridge");
  } finally {
    ip("link", "del", br);
  }
});

test("--net refuses what it cannot use, with a clear message", async () => {
  const r = await moat(["run", "--net", "bridge=nosuchbr0", "--", "true"]);
  assert.equal(r.status, 125);
  assert.match(r.stderr, /bridge nosuchbr0: no such interface/);
  const lo = await moat(["run", "--net", "tap=lo", "--", "true"]);
  assert.equal(lo.status, 125);
  assert.match(lo.stderr, /TAP lo: an interface of that name exists and is not a free TAP/);
});
