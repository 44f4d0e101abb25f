// virtio-console through `moat run --vconsole SOCKET`: the guest's port (/dev/hvc1 on riscv64,
// after the SBI console's hvc0) talks to a client of the host's Unix socket, both ways; the
// socket is owner-only; a hostile chain ends in NEEDS_RESET.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { connect } from "node:net";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MOAT, REPO, moat } from "./support/moat-cli.js";
import { GuestMemory } from "../src/memory/guest-memory.js";
import { VirtioConsole } from "../src/devices/virtio/console.js";
import { STATUS_NEEDS_RESET, VirtioMmio } from "../src/devices/virtio/mmio-transport.js";

test("moat run --vconsole: guest and host client talk over the virtio console", async () => {
  const dir = mkdtempSync(join(tmpdir(), "moat-vcon-"));
  const sock = join(dir, "console.sock");
  try {
    // Linux drops input that reaches a console port before it is set up, and a tty flushes
    // its input on the last close (there is no "open" message without MULTIPORT): the guest
    // opens the port once and speaks first.
    const p = spawn(
      process.execPath,
      [
        MOAT,
        "run",
        "--vconsole",
        sock,
        "--",
        "sh",
        "-c",
        "exec 3<>/dev/hvc1; echo ready >&3; read line <&3; echo got:$line; echo reply-$line >&3; sleep 1",
      ],
      { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    p.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    const exited = new Promise<number | null>((r) => p.on("close", (s) => r(s)));
    const client = await new Promise<string>((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error("no reply from the guest")), 60_000);
      const attempt = (): void => {
        const s = connect(sock);
        let got = "";
        s.on("error", () => setTimeout(attempt, 50));
        s.on("connect", () => {
          assert.equal(statSync(sock).mode & 0o777, 0o600, "owner-only socket");
        });
        s.setEncoding("utf8").on("data", (d: string) => {
          got += d;
          if (got.includes("ready") && !got.includes("sent")) {
            got += "(sent)";
            s.write("abc\n");
          }
          if (got.includes("reply-abc")) {
            clearTimeout(deadline);
            s.end();
            resolve(got);
          }
        });
      };
      attempt();
    });
    assert.match(client, /ready/);
    assert.match(client, /reply-abc/);
    assert.equal(await exited, 0);
    assert.match(stdout, /got:abc/);
    assert.equal(existsSync(sock), false, "the socket is removed when the VM ends");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("virtio-console: a transmit chain with a writable buffer puts the device into NEEDS_RESET", async () => {
  const mem = new GuestMemory(0n, new Uint8Array(0x4_0000));
  const log: string[] = [];
  const out: Uint8Array[] = [];
  const dev = new VirtioConsole("virtio-console", (b) => out.push(b));
  const t = new VirtioMmio(
    dev,
    mem,
    () => {},
    (l) => log.push(l),
  );
  const w = (off: number, v: number | bigint) => t.write(off, 4, BigInt(v));
  w(0x70, 3);
  w(0x24, 1);
  w(0x20, 1);
  w(0x70, 11);
  for (const [q, base] of [
    [0, 0x1000],
    [1, 0x4000],
  ] as const) {
    w(0x30, q);
    w(0x38, 8);
    w(0x80, base);
    w(0x90, base + 0x1000);
    w(0xa0, base + 0x2000);
    w(0x44, 1);
  }
  w(0x70, 15);
  // transmitq: one good chain ("hi"), then one with a writable buffer.
  mem.write(0x8000n, new TextEncoder().encode("hi"));
  mem.writeU64(0x4000n, 0x8000n);
  mem.writeU32(0x4008n, 2);
  mem.writeU64(0x4010n, 0x8000n);
  mem.writeU32(0x4018n, 2);
  mem.writeU16(0x401cn, 2); // WRITE
  mem.writeU16(0x5004n, 0);
  mem.writeU16(0x5006n, 1);
  mem.writeU16(0x5002n, 2);
  w(0x50, 1);
  await new Promise((r) => setImmediate(r));
  assert.equal(Buffer.concat(out).toString(), "hi");
  assert.equal(Number(t.read(0x70, 4)) & STATUS_NEEDS_RESET, STATUS_NEEDS_RESET);
  assert.equal(log.length, 1);
  assert.match(log[0]!, /transmit chain 1 has writable buffers/);
});

test("--vconsole refuses to replace a file that is not a socket", async () => {
  const dir = mkdtempSync(join(tmpdir(), "moat-vcon-"));
  try {
    const f = join(dir, "precious");
    writeFileSync(f, "keep me");
    const r = await moat(["run", "--vconsole", f, "--", "true"], { timeoutMs: 30_000 });
    assert.equal(r.status, 125);
    assert.match(r.stderr, /a file that is not a socket is in the way/);
    assert.equal(readFileSync(f, "utf8"), "keep me");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
