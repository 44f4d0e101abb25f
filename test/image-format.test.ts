// Disk images in formats moat does not read (issue 18, item 1): made by the real qemu-img, each
// is refused with the command that converts it and left as it was, by `moat run --disk` and by
// the daemon's create; a raw disk stays raw, and `format=raw` (recorded by the daemon at
// create) means its first sector is never looked at again, whatever the guest writes there.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { knownImageFormat, FORMAT_PROBE_BYTES } from "../src/vmm/image-format.js";
import { moat } from "./support/moat-cli.js";
import { adminToken, api, newHome, startDaemon, stopDaemon } from "./support/moatd.js";

/** qemu-img's format name -> what moat calls it. */
const FORMATS = ["qcow2", "qed", "vmdk", "vhdx", "vpc", "vdi"];

const sha = (p: string): string => createHash("sha256").update(readFileSync(p)).digest("hex");

function qemuImage(dir: string, format: string): string {
  const p = join(dir, `disk.${format}`);
  execFileSync("qemu-img", ["create", "-q", "-f", format, p, "16M"]);
  return p;
}

test("disk image formats: qemu-img's qcow2, qed, vmdk, vhdx, vpc (VHD) and vdi are named; raw and zeroes are not", () => {
  const dir = mkdtempSync(join(tmpdir(), "moat-formats-"));
  try {
    for (const f of FORMATS) {
      const head = readFileSync(qemuImage(dir, f)).subarray(0, FORMAT_PROBE_BYTES);
      assert.equal(knownImageFormat(head), f, f);
    }
    execFileSync("qemu-img", ["create", "-q", "-f", "raw", join(dir, "r.raw"), "1M"]);
    assert.equal(knownImageFormat(readFileSync(join(dir, "r.raw")).subarray(0, 512)), undefined);
    // A raw disk holding an ext4 file system, and a short read.
    assert.equal(knownImageFormat(new Uint8Array(512).fill(0x53)), undefined);
    assert.equal(knownImageFormat(new Uint8Array(3)), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("moat run --disk refuses a qcow2 (or other non-raw) image with the command that converts it, and leaves it as it was; format=raw takes a file as raw", async () => {
  const dir = mkdtempSync(join(tmpdir(), "moat-formats-"));
  try {
    for (const f of ["qcow2", "vmdk"]) {
      const img = qemuImage(dir, f);
      const before = sha(img);
      const r = await moat(["run", "--disk", img, "--", "true"]);
      assert.equal(r.status, 125, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(`disk .*disk\\.${f}: is a ${f} image, .*qemu-img convert -f ${f} -O raw`),
      );
      assert.equal(sha(img), before, `${f} was changed`);
    }
    // A raw disk whose guest wrote qcow2's magic at its start: with format=raw it is raw.
    const raw = join(dir, "raw.img");
    const bytes = Buffer.alloc(1 << 20);
    bytes.set([0x51, 0x46, 0x49, 0xfb]);
    writeFileSync(raw, bytes);
    const refused = await moat(["run", "--disk", raw, "--", "true"]);
    assert.equal(refused.status, 125);
    const ok = await moat([
      "run",
      "--disk",
      `${raw},format=raw`,
      "--",
      "sh",
      "-c",
      "head -c 4 /dev/vda | od -An -tx1",
    ]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /51 46 49 fb/);
    const other = await moat(["run", "--disk", `${raw},format=qcow2`, "--", "true"]);
    assert.equal(other.status, 125);
    assert.match(other.stderr, /moat reads raw images only \(format=raw\); convert a qcow2 image/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the daemon refuses a qcow2 disk at create, and records a raw one as raw so a start never looks again", async () => {
  const h = newHome({ reclaim: { enabled: false } });
  const d = await startDaemon(h);
  try {
    const tok = adminToken(h);
    const images = join(h.dir, "images");
    const q = qemuImage(images, "qcow2");
    const r = await api(h.socket, tok, "POST", "/v1/vms", { name: "q", disks: [{ path: q }] });
    assert.equal(r.status, 400, r.text);
    assert.match(r.text, /disks\.0\.path: .*is a qcow2 image, .*qemu-img convert -f qcow2 -O raw/);
    const raw = join(images, "raw.img");
    writeFileSync(raw, Buffer.alloc(1 << 20));
    const made = await api(h.socket, tok, "POST", "/v1/vms", {
      name: "r",
      memory_mib: 64,
      disks: [{ path: raw }],
    });
    assert.equal(made.status, 201, made.text);
    const vm = (await api(h.socket, tok, "GET", "/v1/vms/r")).body as {
      spec: { disks: { format?: string }[] };
    };
    assert.equal(vm.spec.disks[0]!.format, "raw");
    // What the guest writes into its disk later does not change how it is read.
    const bytes = readFileSync(raw);
    bytes.set([0x51, 0x46, 0x49, 0xfb]);
    writeFileSync(raw, bytes);
    const started = await api(h.socket, tok, "POST", "/v1/vms/r/start");
    assert.equal(started.status, 200, started.text);
    assert.equal((await api(h.socket, tok, "POST", "/v1/vms/r/stop")).status, 200);
  } finally {
    await stopDaemon(h, d);
  }
});
