// virtio-vsock in the shipped riscv64 guest through `moat run --vsock`: a guest connects to a
// host Unix socket PATH_P; a host process connects to PATH with "CONNECT P"; a megabyte each
// way (credit flow); refusals. The guest end is test/guest/vsock-tool.c, built static here with
// Debian's riscv64 cross compiler and added to the shipped initramfs.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import {
  chmodSync,
  chownSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import net from "node:net";
import { moat, startMoat, until } from "./support/moat-cli.js";
import { driveUp } from "./support/virtio-driver.js";
import { initrdWith } from "./support/guest-initrd.js";
import { parseVsockSpec } from "../src/cli/device-options.js";
import type { VsockKey } from "../src/devices/virtio/vsock.js";

let dir = "";
let initrd = "";

before(() => {
  dir = mkdtempSync(join(tmpdir(), "moat-vsock-"));
  initrd = initrdWith(dir, ["vsock-tool"]);
});

after(() => rmSync(dir, { recursive: true, force: true }));

const VSOCK_UID = 1900000004;
const md5 = (b: Uint8Array) => createHash("md5").update(b).digest("hex");

test("vsock: the guest reaches a host Unix socket PATH_P, a megabyte echoed back", async () => {
  const path = join(dir, "g2h.sock");
  const payload = randomBytes(1 << 20);
  // The host's echo service on port 5000.
  const server = net.createServer((s) => s.pipe(s));
  await new Promise<void>((r) => server.listen(`${path}_5000`, r));
  // The jailed VMM connects as its own uid: the directory and the socket let that uid in.
  chmodSync(dir, 0o711);
  chownSync(`${path}_5000`, VSOCK_UID, VSOCK_UID);
  try {
    // Jailed, under the seccomp filter: vsock's Unix sockets (in a bound directory) are all it needs.
    const r = await moat(
      [
        "run",
        "--jail",
        "--jail-user",
        `${VSOCK_UID}:${VSOCK_UID}`,
        "--initrd",
        initrd,
        "--vsock",
        path,
        "--",
        "sh",
        "-c",
        "head -c 1048576 /dev/urandom > /tmp/p && vsock-tool connect 2 5000 < /tmp/p > /tmp/r && " +
          "md5sum /tmp/p /tmp/r && vsock-tool connect 2 5999 </dev/null; echo status=$?",
      ],
      { timeoutMs: 150_000 },
    );
    void payload;
    assert.equal(r.status, 0, r.stderr);
    const sums = [...r.stdout.matchAll(/^([0-9a-f]{32}) {2}\/tmp\/[pr]/gm)].map((m) => m[1]);
    assert.equal(sums.length, 2, r.stdout);
    assert.equal(sums[0], sums[1], "what came back is what was sent");
    assert.match(
      r.stdout,
      /connect: Connection reset by peer[\s\S]*status=2/,
      "no listener on 5999",
    );
  } finally {
    server.close();
  }
});

test("vsock: a host process connects with CONNECT P and is echoed a megabyte by the guest", async () => {
  const path = join(dir, "h2g.sock");
  // Jailed: the listening socket is made in the jail's bind of this directory.
  const vm = startMoat([
    "run",
    "--jail",
    "--initrd",
    initrd,
    "--vsock",
    `${path},cid=7`,
    "--",
    "sh",
    "-c",
    "cat /sys/bus/virtio/devices/*/device | grep -c 0x0013; vsock-tool listen 6000",
  ]);
  try {
    await until(() => vm.out().includes("LISTENING") || vm.p.exitCode !== null, "LISTENING");
    assert.equal(statSync(path).mode & 0o777, 0o600, "the socket is the owner's only");
    // A port nobody listens on: moat closes the client.
    const refused = await new Promise<string>((resolve, reject) => {
      const c = net.connect(path, () => c.write("CONNECT 6001\n"));
      let got = "";
      c.on("data", (d) => (got += d));
      c.on("close", () => resolve(got));
      c.on("error", reject);
    });
    assert.equal(refused, "", "no OK for a port with no listener");
    const payload = randomBytes(1 << 20);
    const reply = await new Promise<Buffer>((resolve, reject) => {
      const c = net.connect(path, () => c.write("CONNECT 6000\n"));
      const chunks: Buffer[] = [];
      let ok = false;
      c.on("data", (d: Buffer) => {
        if (!ok) {
          const nl = d.indexOf(10);
          assert.match(d.subarray(0, nl).toString(), /^OK \d+$/);
          ok = true;
          c.end(payload);
          d = d.subarray(nl + 1);
        }
        chunks.push(d);
      });
      c.on("close", () => resolve(Buffer.concat(chunks)));
      c.on("error", reject);
    });
    assert.equal(reply.length, payload.length);
    assert.equal(md5(reply), md5(payload));
    assert.equal(await vm.done, 0, vm.err());
    assert.match(vm.out(), /^1\r?$/m, "one vsock device (id 0x13) in the guest");
  } finally {
    vm.p.kill("SIGKILL");
  }
});

test("--vsock values: clear errors", async () => {
  assert.deepEqual(parseVsockSpec("/tmp/v.sock"), { path: "/tmp/v.sock", cid: 3 });
  assert.deepEqual(parseVsockSpec("/tmp/v.sock,cid=42"), { path: "/tmp/v.sock", cid: 42 });
  assert.throws(() => parseVsockSpec("/tmp/v,cid=2"), /cid must be 3/);
  assert.throws(() => parseVsockSpec("/tmp/v,port=2"), /unknown option 'port=2'/);
  const notSock = join(dir, "plain");
  writeFileSync(notSock, "x");
  const r = await moat(["run", "--vsock", notSock, "--", "true"]);
  assert.equal(r.status, 125);
  assert.match(r.stderr, /exists and is not a socket/);
  assert.equal(readFileSync(notSock, "utf8"), "x", "the file is left alone");
});

test("virtio-vsock: hostile packets reset the connection, never the VMM", async () => {
  const { GuestMemory } = await import("../src/memory/guest-memory.js");
  const { VirtioMmio, STATUS_NEEDS_RESET } =
    await import("../src/devices/virtio/mmio-transport.js");
  const { VirtioVsock, BUF_ALLOC } = await import("../src/devices/virtio/vsock.js");
  const mem = new GuestMemory(0n, new Uint8Array(0x20_0000));
  const events: string[] = [];
  const keys: VsockKey[] = [];
  const dev = new VirtioVsock("virtio-vsock", 3, {
    connect: (k) => (keys.push(k), events.push(`connect ${k.hostPort}`)),
    data: (_k, b) => events.push(`data ${b.length}`),
    closed: (_k, reset) => events.push(`closed ${reset}`),
    established: () => events.push("established"),
  });
  const t = new VirtioMmio(
    dev,
    mem,
    () => {},
    () => {},
  );
  const TX = { desc: 0x1000n, avail: 0x2000n, used: 0x3000n };
  const w = driveUp(t, [{ index: 1, size: 8, ...TX }]);
  let n = 0;
  const send = async (src: bigint, op: number, len: number, hdrBytes = 44) => {
    const at = 0x1_0000n + BigInt(n % 8) * 0x2_0000n;
    const h = new DataView(new ArrayBuffer(44));
    h.setBigUint64(0, src, true);
    h.setBigUint64(8, 2n, true);
    h.setUint32(16, 1234, true);
    h.setUint32(20, 5000, true);
    h.setUint32(24, len, true);
    h.setUint16(28, 1, true);
    h.setUint16(30, op, true);
    h.setUint32(36, 65536, true);
    mem.write(at, new Uint8Array(h.buffer).subarray(0, hdrBytes));
    const d = TX.desc + BigInt(16 * (n % 8));
    mem.writeU64(d, at);
    mem.writeU32(d + 8n, hdrBytes + len);
    mem.writeU16(d + 12n, 0);
    mem.writeU16(TX.avail + 4n + BigInt(2 * (n % 8)), n % 8);
    mem.writeU16(TX.avail + 2n, ++n);
    w(0x50, 1);
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
  };
  await send(9n, 1, 0); // another guest's CID
  assert.equal(dev.rejected, 1);
  assert.deepEqual(events, []);
  await send(3n, 1, 0, 20); // a header cut short
  assert.equal(dev.rejected, 2);
  await send(3n, 1, 0); // REQUEST
  assert.deepEqual(events, ["connect 5000"]);
  // Only the key the backend was given names the connection.
  dev.accept({ guestPort: 1234, hostPort: 5000 });
  await send(3n, 5, 100);
  assert.deepEqual(events.slice(1), [], "not accepted: no data passes");
  dev.accept(keys[0]!);
  await send(3n, 5, 60_000);
  assert.deepEqual(events.slice(1), ["data 60000"]);
  // More than BUF_ALLOC unconsumed: the guest ignored the credit it was given.
  for (let sent = 60_000; sent <= BUF_ALLOC; sent += 60_000) await send(3n, 5, 60_000);
  assert.equal(events.at(-1), "closed true", "the connection is reset");
  assert.equal(dev.rejected, 3);
  assert.equal(dev.connections, 0);
  assert.equal(Number(t.read(0x70, 4)) & STATUS_NEEDS_RESET, 0, "the device keeps working");
});
