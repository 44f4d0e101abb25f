// Images through the daemon (docs/disks.md "Images through the daemon"): a real `moat daemon`
// importing a raw and a qcow2 image into its store, and jailed VM processes of the shipped
// riscv64 guest on the soft CPU, each on a thin qcow2 overlay of its own on one image at the
// same time: each writes its own marker, sees only its own, the image is unchanged, every
// overlay passes qemu-img check. An image in use cannot be deleted; a tenant imports only from
// its own directories and uses only its own domain's images.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ImageStore } from "../src/host/image-store.js";
import { domainUse } from "../src/host/quota.js";
import type { VmRecord } from "../src/host/store.js";
import {
  adminToken,
  api,
  cli,
  newHome,
  openConsole,
  startDaemon,
  stopDaemon,
  type ConsoleConn,
} from "./support/moatd.js";

const MiB = 1 << 20;
const sha = (path: string): string => createHash("sha256").update(readFileSync(path)).digest("hex");

let asked = 0;

/** Has the guest write `tag` (space-padded to 16 bytes) at 1 MiB into its disk, synced. */
async function writeTag(con: ConsoleConn, tag: string, ms = 180000): Promise<void> {
  const n = ++asked;
  await con.expect(
    `printf '%-16s' ${tag} | dd of=/dev/vda bs=16 seek=65536 count=1 conv=notrunc 2>/dev/null; sync; echo W${n}-$((1+1))-done`,
    new RegExp(`W${n}-2-done`),
    ms,
  );
}

/** What the guest reads at the start of its disk and at 1 MiB, from the disk itself. */
async function readTags(con: ConsoleConn, ms = 60000): Promise<[string, string]> {
  const n = ++asked;
  const re = new RegExp(`R${n}-2-(\\w*)-(\\w*)-X`);
  await con.expect(
    "sync; echo 3 > /proc/sys/vm/drop_caches; " +
      `echo R${n}-$((1+1))-$(head -c 8 /dev/vda | tr -dc a-zA-Z0-9)-` +
      "$(dd if=/dev/vda bs=16 skip=65536 count=1 2>/dev/null | tr -dc a-zA-Z0-9)-X",
    re,
    ms,
  );
  const m = re.exec(con.out())!;
  return [m[1]!, m[2]!];
}

test("images through the daemon: import raw and qcow2, two VMs on overlays of one image at once, each sees its own writes only, the image unchanged; in-use images kept; tenants kept to their own", async (t) => {
  const h = newHome();
  const images = join(h.dir, "images");
  mkdirSync(join(images, "a"), { recursive: true });
  writeFileSync(
    h.config,
    JSON.stringify({
      reclaim: { enabled: false },
      domainImageDirs: { a: [join(images, "a")] },
      domainQuotas: { a: { diskBytes: 2 * MiB } },
    }),
  );
  const d = await startDaemon(h);
  t.after(() => stopDaemon(h, d));
  const admin = adminToken(h);
  const call = (method: string, path: string, body?: unknown, tok = admin) =>
    api(h.socket, tok, method, path, body);
  const consoles: ConsoleConn[] = [];
  t.after(() => consoles.forEach((c) => c.close()));

  // A raw base with a marker at its start, and a qcow2 one made by qemu-img.
  const raw = join(images, "base.raw");
  const bytes = Buffer.alloc(8 * MiB);
  bytes.write("BASEDATA", 0, "latin1");
  writeFileSync(raw, bytes);
  const q = join(images, "base.qcow2");
  execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", q, "16M"]);
  execFileSync("qemu-io", ["-f", "qcow2", "-c", "write -P 0x5a 0 64k", q]);

  let r = await cli(h, ["image", "import", raw, "--name", "rawbase"]);
  assert.equal(r.status, 0, r.err);
  assert.match(r.out, /^rawbase [0-9a-f]{12} raw 8 MiB\n$/);
  r = await cli(h, ["image", "import", q, "--name", "qbase", "--json"]);
  assert.equal(r.status, 0, r.err);
  const qimg = JSON.parse(r.out) as { format: string; path: string; cluster_size: number };
  assert.equal(qimg.format, "qcow2");
  assert.equal(qimg.cluster_size, 65536);
  const st = statSync(qimg.path);
  assert.equal(st.mode & 0o777, 0o600);
  assert.equal(st.uid, 0);
  assert.equal(statSync(join(h.dir, "images-store")).mode & 0o777, 0o700);
  assert.equal(spawnSync("qemu-img", ["check", qimg.path]).status, 0);
  // The same name again, an overlay, another format, a path outside the image directories.
  r = await cli(h, ["image", "import", raw, "--name", "rawbase"]);
  assert.equal(r.status, 1);
  assert.match(r.err, /trust domain 'default' has an image named 'rawbase'/);
  const over = join(images, "over.qcow2");
  execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", "-b", q, "-F", "qcow2", over]);
  r = await cli(h, ["image", "import", over, "--name", "over"]);
  assert.match(
    r.err,
    /a qcow2 overlay \(its backing file: .*base\.qcow2\); .*qemu-img convert -O qcow2/,
  );
  const vmdk = join(images, "d.vmdk");
  execFileSync("qemu-img", ["create", "-q", "-f", "vmdk", vmdk, "1M"]);
  r = await cli(h, ["image", "import", vmdk, "--name", "v"]);
  assert.match(r.err, /is a vmdk image, .*qemu-img convert -f vmdk -O qcow2/);
  r = await cli(h, ["image", "import", "/etc/passwd", "--name", "pw"]);
  assert.match(r.err, /not in the image directories/);
  r = await cli(h, ["image", "ls"]);
  assert.match(r.out, /NAME +ID +DOMAIN +FORMAT +SIZE +DATA +CREATED/);
  assert.match(r.out, /rawbase .* default +raw +8 MiB/);
  assert.match(r.out, /qbase .* default +qcow2 +16 MiB/);
  assert.doesNotMatch(r.out, /over|pw|\bv\b/);

  // Two VMs on overlays of one image, running at the same time.
  const stored = join(h.dir, "images-store", "default", `${idOf(r.out, "rawbase")}.raw`);
  const before = sha(stored);
  for (const name of ["one", "two"]) {
    r = await cli(h, ["create", "--name", name, "--memory", "64", "--disk", "image=rawbase"]);
    assert.equal(r.status, 0, r.err);
  }
  r = await cli(h, ["create", "--name", "three", "--memory", "64", "--disk", "image=qbase,ro"]);
  assert.equal(r.status, 0, r.err);
  const vmOne = (await call("GET", "/v1/vms/one")).body as {
    id: string;
    spec: { disks: { path: string; format: string; image: string }[] };
  };
  const disk = vmOne.spec.disks[0]!;
  assert.equal(disk.format, "qcow2");
  assert.equal(disk.path, join(h.dir, "vms", vmOne.id, "overlay-0.qcow2"));
  const info = JSON.parse(
    execFileSync("qemu-img", ["info", "-U", "--output=json", disk.path], { encoding: "utf8" }),
  ) as Record<string, unknown>;
  assert.equal(info["backing-filename-format"], "raw");
  assert.equal(info["virtual-size"], 8 * MiB);
  for (const name of ["one", "two", "three"]) {
    const s = await call("POST", `/v1/vms/${name}/start`);
    assert.equal(s.status, 200, s.text);
  }
  const one = await openConsole(h.socket, admin, "one");
  const two = await openConsole(h.socket, admin, "two");
  const three = await openConsole(h.socket, admin, "three");
  consoles.push(one, two, three);
  // QEMU's data in the qcow2 image, through a read-only overlay.
  await three.expect(
    "echo Q-$((1+1))-$(head -c 4 /dev/vda | od -An -tx1 | tr -d ' ')-X",
    /Q-2-5a5a5a5a-X/,
    180000,
  );
  await writeTag(one, "markone");
  await writeTag(two, "marktwo");
  assert.deepEqual(await readTags(one), ["BASEDATA", "markone"]);
  assert.deepEqual(await readTags(two), ["BASEDATA", "marktwo"]);
  // Both hold the image under QEMU's shared read lock: QEMU may not write it meanwhile.
  const w = spawnSync("qemu-io", ["-f", "raw", "-c", "write 0 512", stored], { encoding: "utf8" });
  assert.notEqual(w.status, 0);
  assert.match(w.stderr, /Failed to get "write" lock/);

  // In use: not deleted; inspect names its users.
  r = await cli(h, ["image", "rm", "rawbase"]);
  assert.equal(r.status, 1);
  assert.match(r.err, /image 'rawbase': VMs one, two have overlays on it; delete them first/);
  r = await cli(h, ["image", "inspect", "rawbase"]);
  assert.equal(r.status, 0, r.err);
  assert.match(r.out, /^name: +rawbase$/m);
  assert.match(r.out, /^format: +raw$/m);
  assert.match(r.out, /^virtual size: +8 MiB \(8388608 bytes\)$/m);
  assert.match(r.out, /^cluster size: +-$/m);
  assert.match(r.out, /^file size: +8388608 bytes$/m);
  assert.match(r.out, /^used by: +one, two$/m);

  for (const name of ["one", "two", "three"])
    assert.equal((await call("POST", `/v1/vms/${name}/stop`)).status, 200);
  for (const name of ["one", "two", "three"]) {
    const v = (await call("GET", `/v1/vms/${name}`)).body as {
      spec: { disks: { path: string }[] };
    };
    const c = spawnSync("qemu-img", ["check", v.spec.disks[0]!.path], { encoding: "utf8" });
    assert.equal(c.status, 0, c.stdout + c.stderr);
  }
  assert.equal(sha(stored), before, "the image is unchanged");

  // Tenants: only their own directories to import from, only their own domain's images.
  let a = await call("POST", "/v1/tokens", { name: "ta", role: "tenant", domain: "a" });
  const ta = (a.body as { token: string }).token;
  a = await call("POST", "/v1/images", { path: raw, name: "mine" }, ta);
  assert.equal(a.status, 403, a.text);
  assert.match(a.text, /not in your image directories/);
  const own = join(images, "a", "own.raw");
  writeFileSync(own, Buffer.alloc(MiB));
  a = await call("POST", "/v1/images", { path: own, name: "mine" }, ta);
  assert.equal(a.status, 201, a.text);
  assert.equal((a.body as { domain: string }).domain, "a");
  a = await call("POST", "/v1/vms", { name: "t", disks: [{ image: "rawbase" }] }, ta);
  assert.equal(a.status, 400, a.text);
  assert.match(a.text, /disks\.0\.image: no image 'rawbase' in trust domain 'a'/);
  a = await call("GET", "/v1/images", undefined, ta);
  assert.deepEqual(
    (a.body as { name: string }[]).map((i) => i.name),
    ["mine"],
  );
  assert.equal((await call("GET", "/v1/images/rawbase", undefined, ta)).status, 403);
  assert.equal((await call("DELETE", "/v1/images/rawbase", undefined, ta)).status, 403);
  a = await call("POST", "/v1/vms", { name: "t", disks: [{ image: "mine" }] }, ta);
  assert.equal(a.status, 201, a.text);
  // The domain's images count in its diskBytes: 1 MiB of image, the overlay at its virtual size
  // (1 MiB: what its guest can grow it to), 1 more.
  const big = join(images, "a", "big.raw");
  writeFileSync(big, Buffer.alloc(MiB, 1));
  a = await call("POST", "/v1/images", { path: big, name: "big" }, ta);
  assert.equal(a.status, 409, a.text);
  assert.match(
    a.text,
    /domain a: 3145728 bytes of disk would exceed its quota of 2097152 \(2097152 in use \+ 1048576 imported\)/,
  );
  // An overlay swapped for a link by the VM's uid is refused at start.
  const tvm = (a = await call("GET", "/v1/vms/t", undefined, ta)).body as {
    spec: { disks: { path: string }[] };
  };
  const ovl = tvm.spec.disks[0]!.path;
  rmSync(ovl);
  symlinkSync(q, ovl);
  a = await call("POST", "/v1/vms/t/start", undefined, ta);
  assert.equal(a.status, 409, a.text);
  assert.match(
    a.text,
    /disks\.0: its overlay .*overlay-0\.qcow2 is no longer the file the daemon made/,
  );
  // An admin cannot give a VM of domain a the default domain's image either.
  a = await call("POST", "/v1/vms", { name: "x", domain: "a", disks: [{ image: "qbase" }] });
  assert.equal(a.status, 400, a.text);
  a = await call("POST", "/v1/vms", { name: "y", disks: [{ image: "qbase", path: q }] });
  assert.equal(a.status, 400, a.text);
  assert.match(a.text, /disks\.0: give one of path and image/);

  // Once its VMs are gone, the image goes, its file too.
  for (const name of ["one", "two"])
    assert.equal((await call("DELETE", `/v1/vms/${name}`)).status, 204);
  r = await cli(h, ["image", "rm", "rawbase"]);
  assert.equal(r.status, 0, r.err);
  assert.equal((await call("GET", "/v1/images/rawbase")).status, 404);
});

/** The id `moat image ls` shows for image `name`. */
function idOf(ls: string, name: string): string {
  const m = new RegExp(`^${name} +([0-9a-f]{12}) `, "m").exec(ls);
  assert.ok(m, ls);
  return m[1]!;
}

test("the image store keeps only what it checked in its copy: a corrupt qcow2, an overlay, a raw file of part sectors, a quota's refusal leave nothing; sweep removes what no record names", async () => {
  const dir = mkdtempSync(join(tmpdir(), "moat-image-store-"));
  try {
    const store = new ImageStore(join(dir, "store"));
    const made = (): string[] => readdirSync(store.domainDir("d"));
    const src = (name: string, ...args: string[]): string => {
      const p = join(dir, name);
      execFileSync("qemu-img", ["create", "-q", ...args, p, "4M"]);
      return p;
    };
    const refused = async (path: string, re: RegExp, admit = (): void => {}) => {
      await assert.rejects(store.import(path, "d", "x", undefined, admit), re);
      assert.deepEqual(made(), [], `nothing kept of ${path}`);
    };
    mkdirSync(store.domainDir("d"), { recursive: true });
    // A version 2 image is taken (moat writes v2 too; a base is only read).
    const v2 = await store.import(
      src("v2.qcow2", "-f", "qcow2", "-o", "compat=0.10"),
      "d",
      "v2",
      undefined,
      () => {},
    );
    assert.equal(v2.format, "qcow2");
    store.remove(v2.path);
    const corrupt = src("corrupt.qcow2", "-f", "qcow2");
    const b = readFileSync(corrupt);
    b[79]! |= 2; // incompatible feature bit 1: corrupt
    writeFileSync(corrupt, b);
    await refused(corrupt, /marked corrupt/);
    const base = src("base.qcow2", "-f", "qcow2");
    await refused(src("top.qcow2", "-f", "qcow2", "-b", base, "-F", "qcow2"), /a qcow2 overlay/);
    // Cut short while it is copied (found in review: the half copy stayed in the store).
    const cut = join(dir, "cut.raw");
    writeFileSync(cut, Buffer.alloc(4 * 1024 * 1024, 7));
    await refused(cut, /./, () => truncateSync(cut, 512));
    const odd = join(dir, "odd.raw");
    writeFileSync(odd, Buffer.alloc(1000, 1));
    await refused(odd, /1000 bytes, not a whole number of 512-byte sectors/);
    await refused(base, /over quota/, () => {
      throw new Error("over quota");
    });
    await assert.rejects(
      store.import(odd, "d", "y", "qcow2", () => {}),
      /not a qcow2 image/,
    );
    // Taken: a qcow2 image with its size and cluster size, and a raw file said to be raw.
    const got = await store.import(base, "d", "q", undefined, () => {});
    assert.deepEqual(
      { format: got.format, size: got.virtualSize, cluster: got.clusterSize },
      { format: "qcow2", size: 4 * MiB, cluster: 65536 },
    );
    writeFileSync(join(store.domainDir("d"), "stray.raw"), "x");
    assert.deepEqual(store.sweep(new Set([got.path])), [join(store.domainDir("d"), "stray.raw")]);
    assert.deepEqual(made(), ["q.qcow2"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a qcow2 disk counts against diskBytes at its virtual size, not its file's (found in review: a small overlay grows to it)", () => {
  const dir = mkdtempSync(join(tmpdir(), "moat-quota-qcow2-"));
  try {
    const q = join(dir, "q.qcow2");
    execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", q, "64M"]);
    const raw = join(dir, "r.raw");
    writeFileSync(raw, Buffer.alloc(1 << 20));
    const vm = (path: string, format: string) =>
      ({
        id: path,
        domain: "d",
        state: "stopped",
        spec: { cpus: 1, memory_mib: 64, disks: [{ path, format, read_only: false }] },
      }) as unknown as VmRecord;
    assert.ok(statSync(q).size < 1 << 20, "the qcow2 file is small");
    assert.equal(domainUse("d", [vm(q, "qcow2")]).diskBytes, 64 << 20);
    assert.equal(domainUse("d", [vm(raw, "raw")]).diskBytes, 1 << 20);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
