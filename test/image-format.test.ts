// Disk images in formats moat does not read (issue 18, item 1): made by the real qemu-img, each
// is refused with the command that converts it and left as it was, by `moat run --disk` and by
// the daemon's create; a raw disk stays raw, and `format=raw` (recorded by the daemon at
// create) means its first sector is never looked at again, whatever the guest writes there.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { knownImageFormat, FORMAT_PROBE_BYTES } from "../src/vmm/image-format.js";
import { moat, startMoat, until } from "./support/moat-cli.js";
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

test("moat run --disk refuses a qcow2 image not said to be one, and another format with the command that converts it, leaving each as it was; format=raw takes a file as raw", async () => {
  const dir = mkdtempSync(join(tmpdir(), "moat-formats-"));
  try {
    for (const f of ["qcow2", "vmdk"]) {
      const img = qemuImage(dir, f);
      const before = sha(img);
      const r = await moat(["run", "--disk", img, "--", "true"]);
      assert.equal(r.status, 125, r.stderr);
      assert.match(
        r.stderr,
        f === "qcow2"
          ? /disk .*disk\.qcow2: is a qcow2 image: say so with ,format=qcow2/
          : new RegExp(`disk .*disk\\.${f}: is a ${f} image, .*qemu-img convert -f ${f} -O qcow2`),
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
    // Said to be qcow2, a raw file with only the magic is refused as the header it is not.
    const notQcow2 = await moat(["run", "--disk", `${raw},format=qcow2`, "--", "true"]);
    assert.equal(notQcow2.status, 125);
    assert.match(notQcow2.stderr, /raw\.img: qcow2 version 0: moat reads versions 2 and 3/);
    const other = await moat(["run", "--disk", `${raw},format=vmdk`, "--", "true"]);
    assert.equal(other.status, 125);
    assert.match(
      other.stderr,
      /moat reads raw and qcow2 images \(format=raw\|qcow2\); convert a vmdk/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the daemon records a disk's format at create (qcow2 found, its backing chain checked; raw), refuses other formats, and a start never looks again", async () => {
  const h = newHome({ reclaim: { enabled: false } });
  const d = await startDaemon(h);
  try {
    const tok = adminToken(h);
    const images = join(h.dir, "images");
    const q = qemuImage(images, "qcow2");
    const r = await api(h.socket, tok, "POST", "/v1/vms", {
      name: "q",
      memory_mib: 64,
      disks: [{ path: q }],
    });
    assert.equal(r.status, 201, r.text);
    const qvm = (await api(h.socket, tok, "GET", "/v1/vms/q")).body as {
      spec: { disks: { format?: string }[] };
    };
    assert.equal(qvm.spec.disks[0]!.format, "qcow2");
    const qstart = await api(h.socket, tok, "POST", "/v1/vms/q/start");
    assert.equal(qstart.status, 200, qstart.text);
    assert.equal((await api(h.socket, tok, "POST", "/v1/vms/q/stop")).status, 200);
    assert.equal(spawnSync("qemu-img", ["check", q]).status, 0, "the image is clean after");
    // A snapshot keeps a writable disk as one file: an overlay is refused, not kept half.
    const overlay = join(images, "overlay.qcow2");
    execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", "-b", q, "-F", "qcow2", overlay]);
    const qo = { name: "qo", memory_mib: 64, disks: [{ path: overlay }] };
    assert.equal((await api(h.socket, tok, "POST", "/v1/vms", qo)).status, 201);
    assert.equal((await api(h.socket, tok, "POST", "/v1/vms/qo/start")).status, 200);
    const snap = await api(h.socket, tok, "POST", "/v1/vms/qo/snapshot", { name: "s" });
    assert.equal(snap.status, 409, snap.text);
    assert.match(snap.text, /overlay\.qcow2 is a qcow2 overlay: .*cannot be kept yet/);
    assert.equal((await api(h.socket, tok, "POST", "/v1/vms/qo/stop")).status, 200);
    const v = qemuImage(images, "vmdk");
    const rv = await api(h.socket, tok, "POST", "/v1/vms", { name: "v", disks: [{ path: v }] });
    assert.equal(rv.status, 400, rv.text);
    assert.match(rv.text, /disks\.0\.path: .*is a vmdk image, .*qemu-img convert -f vmdk -O qcow2/);
    // An overlay whose backing file lies outside the image directories is refused at create.
    const outside = join(h.dir, "outside.raw");
    writeFileSync(outside, Buffer.alloc(1 << 20));
    const over = join(images, "over.qcow2");
    execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", "-b", outside, "-F", "raw", over]);
    const ro = await api(h.socket, tok, "POST", "/v1/vms", { name: "o", disks: [{ path: over }] });
    assert.equal(ro.status, 400, ro.text);
    assert.match(
      ro.text,
      /over\.qcow2: its backing file .*outside\.raw lies outside the directories/,
    );
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

test("a guest reads and writes a qcow2 overlay (,format=qcow2): QEMU's data shows through, the guest's lands, qemu-img check finds nothing wrong", async () => {
  const dir = mkdtempSync(join(tmpdir(), "moat-qcow2-guest-"));
  try {
    const base = join(dir, "base.qcow2");
    execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", base, "16M"]);
    execFileSync("qemu-io", ["-f", "qcow2", "-c", "write -P 0x5a 0 64k", base]);
    const top = join(dir, "top.qcow2");
    execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", top]);
    const script =
      "head -c 4 /dev/vda | od -An -tx1; " +
      "printf moatqcow2 | dd of=/dev/vda bs=512 seek=2048 conv=fsync 2>/dev/null; " +
      "dd if=/dev/urandom of=/dev/vda bs=65536 seek=20 count=20 conv=fsync 2>/dev/null; " +
      "echo 3 > /proc/sys/vm/drop_caches; " +
      "dd if=/dev/vda bs=65536 skip=20 count=20 2>/dev/null | md5sum";
    const r = await moat(["run", "--disk", `${top},format=qcow2`, "--", "sh", "-c", script]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /5a 5a 5a 5a/);
    const check = spawnSync("qemu-img", ["check", top], { encoding: "utf8" });
    assert.equal(check.status, 0, check.stdout + check.stderr);
    execFileSync("qemu-io", ["-f", "qcow2", "-c", "read -P 0x5a 0 64k", base]);
    const raw = join(dir, "top.raw");
    execFileSync("qemu-img", ["convert", "-O", "raw", top, raw]);
    const bytes = readFileSync(raw);
    assert.equal(bytes.subarray(1 << 20, (1 << 20) + 9).toString(), "moatqcow2");
    const md5 = createHash("md5")
      .update(bytes.subarray(20 * 65536, 40 * 65536))
      .digest("hex");
    assert.match(r.stdout, new RegExp(`${md5}\\s+-`), "the guest's data as QEMU reads it");
    assert.ok(bytes.subarray(64 * 1024, 1 << 20).every((b) => b === 0));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a VMM killed with SIGKILL while its guest writes a qcow2 disk leaves a dirty image; the next VM's open frees the leaks and qemu-img check is clean", async () => {
  const dir = mkdtempSync(join(tmpdir(), "moat-qcow2-kill-"));
  try {
    const img = join(dir, "d.qcow2");
    execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", img, "256M"]);
    // The guest writes a marker, syncs it, says so, then writes on until it is killed.
    const m = startMoat([
      "run",
      "--disk",
      `${img},format=qcow2`,
      "--",
      "sh",
      "-c",
      "printf synced-mark | dd of=/dev/vda conv=fsync 2>/dev/null; echo SYNCED; " +
        "dd if=/dev/urandom of=/dev/vda bs=65536 seek=16 count=3000 2>/dev/null",
    ]);
    await until(() => m.out().includes("SYNCED") || m.p.exitCode !== null, "the synced marker");
    const size = (): number => statSync(img).size;
    const start = size();
    await until(() => size() > start + 8 * 1024 * 1024 || m.p.exitCode !== null, "writes");
    assert.equal(m.p.exitCode, null, m.err());
    m.p.kill("SIGKILL");
    await m.done;
    const h = readFileSync(img).subarray(72, 80);
    assert.equal(h[7]! & 1, 1, "the image is marked dirty");
    // The next VM opens it (and repairs it), reads the marker back.
    const r = await moat([
      "run",
      "--disk",
      `${img},format=qcow2`,
      "--",
      "head",
      "-c",
      "11",
      "/dev/vda",
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /synced-mark/);
    assert.match(
      r.stderr,
      /d\.qcow2: was not closed cleanly .*: checked, \d+ leaked clusters freed/,
    );
    const check = spawnSync("qemu-img", ["check", img], { encoding: "utf8" });
    assert.equal(check.status, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /No errors were found on the image/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a qcow2 disk's backing chain is checked again at every start (found in review: a header rewritten after create reached another domain's file); a tenant learns nothing from a chain's refusal", async () => {
  const images = mkdtempSync(join(tmpdir(), "moat-chain-dirs-"));
  const acme = join(images, "acme");
  mkdirSync(acme);
  const h = newHome({
    reclaim: { enabled: false },
    imageDirs: [images],
    tenantImageDirs: [images],
    domainImageDirs: { acme: [acme] },
  });
  const d = await startDaemon(h);
  try {
    const tok = adminToken(h);
    const secret = join(acme, "secret.raw");
    writeFileSync(secret, Buffer.alloc(1 << 20, 0x53));
    const x = join(images, "x.qcow2");
    execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", x, "1M"]);
    const made = await api(h.socket, tok, "POST", "/v1/vms", {
      name: "x",
      memory_mib: 64,
      disks: [{ path: x }],
    });
    assert.equal(made.status, 201, made.text);
    // After create, the file's header names acme's file as its backing file.
    execFileSync("qemu-img", [
      "rebase",
      "-u",
      "-f",
      "qcow2",
      "-b",
      "acme/secret.raw",
      "-F",
      "raw",
      x,
    ]);
    const start = await api(h.socket, tok, "POST", "/v1/vms/x/start");
    assert.equal(start.status, 409, start.text);
    assert.match(
      start.text,
      /its backing files are no longer in trust domain 'default''s image directories/,
    );
    assert.doesNotMatch(start.text, /acme|secret/);
    // A tenant's create: the same words whether a backing name leads nowhere or somewhere.
    const t = await api(h.socket, tok, "POST", "/v1/tokens", {
      name: "t",
      role: "tenant",
      domain: "default",
    });
    const tt = (t.body as { token: string }).token;
    const answers: string[] = [];
    for (const [name, backing] of [
      ["y1", "/no/such/file"],
      ["y2", "/etc/passwd"],
      ["y3", "acme/secret.raw"],
    ] as const) {
      const y = join(images, `${name}.qcow2`);
      execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", y, "1M"]);
      execFileSync("qemu-img", ["rebase", "-u", "-f", "qcow2", "-b", backing, "-F", "raw", y]);
      const r = await api(h.socket, tt, "POST", "/v1/vms", { name, disks: [{ path: y }] });
      assert.equal(r.status, 400, r.text);
      answers.push((r.body as { error: string }).error.replace(name, "N"));
    }
    assert.equal(new Set(answers).size, 1, answers.join("\n"));
    assert.match(answers[0]!, /its backing files are not all in the image directories you may use/);
  } finally {
    await stopDaemon(h, d);
    rmSync(images, { recursive: true, force: true });
  }
});
