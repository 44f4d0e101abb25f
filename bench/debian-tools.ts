// Benchmark tools for the riscv64 guest, from Debian's own packages (trixie riscv64): the
// packages and their Depends closure are downloaded from deb.debian.org, unpacked with dpkg-deb
// and packed into a newc cpio that is appended to the shipped initramfs. Cached per machine in
// ~/.cache/moat/bench (the index for a day; the .debs for good).
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";

const MIRROR = "http://deb.debian.org/debian";
const SUITE = "trixie";
const ARCH = "riscv64";
/** Dependencies a tool binary does not need at run time (maintainer scripts, interpreters). */
const SKIP = new Set([
  "debconf",
  "debconf-2.0",
  "adduser",
  "init-system-helpers",
  "python3",
  "perl-base",
  "openssl-provider-legacy",
]);

export const CACHE = join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "moat", "bench");

async function download(url: string, to: string): Promise<void> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  writeFileSync(to, Buffer.from(await r.arrayBuffer()));
}

interface Pkg {
  depends: string[];
  filename: string;
}

async function index(): Promise<Map<string, Pkg>> {
  mkdirSync(CACHE, { recursive: true });
  const file = join(CACHE, `Packages-${SUITE}-${ARCH}`);
  if (!existsSync(file) || Date.now() - statSync(file).mtimeMs > 86_400_000) {
    await download(`${MIRROR}/dists/${SUITE}/main/binary-${ARCH}/Packages.xz`, `${file}.xz`);
    writeFileSync(file, execFileSync("xz", ["-dc", `${file}.xz`], { maxBuffer: 1 << 30 }));
  }
  const pkgs = new Map<string, Pkg>();
  for (const stanza of readFileSync(file, "utf8").split("\n\n")) {
    const field = (name: string) => new RegExp(`^${name}: (.*)$`, "m").exec(stanza)?.[1];
    const name = field("Package");
    const filename = field("Filename");
    if (!name || !filename) continue;
    const deps = [field("Pre-Depends"), field("Depends")]
      .filter((d): d is string => !!d)
      .flatMap((d) => d.split(","))
      // An alternative list: the first one. Versions do not matter within one suite.
      .map(
        (d) =>
          d
            .split("|")[0]!
            .trim()
            .split(/[\s(:]/)[0]!,
      )
      .filter((d) => d !== "");
    pkgs.set(name, { depends: deps, filename });
  }
  return pkgs;
}

/**
 * A directory holding `packages` and their run-time dependency closure, unpacked (documentation
 * and maintainer scripts left out), with /lib/ld-linux-riscv64-lp64d.so.1 where binaries look
 * for it. Returns its path.
 */
async function toolsRoot(name: string, packages: string[]): Promise<string> {
  const root = join(CACHE, `${name}.root`);
  if (existsSync(join(root, ".complete"))) return root;
  const pkgs = await index();
  const want = new Set<string>();
  const visit = (p: string): void => {
    if (want.has(p) || SKIP.has(p)) return;
    const info = pkgs.get(p);
    if (!info) throw new Error(`package ${p} is not in ${SUITE}/${ARCH}`);
    want.add(p);
    for (const d of info.depends) visit(d);
  };
  for (const p of packages) visit(p);
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  for (const p of want) {
    const info = pkgs.get(p)!;
    const deb = join(CACHE, info.filename.split("/").at(-1)!);
    if (!existsSync(deb)) await download(`${MIRROR}/${info.filename}`, deb);
    execFileSync("dpkg-deb", ["-x", deb, root]);
  }
  rmSync(join(root, "usr/share"), { recursive: true, force: true });
  // Debian's merged /usr: binaries ask for /lib/ld-linux-riscv64-lp64d.so.1.
  mkdirSync(join(root, "lib"), { recursive: true });
  execFileSync("ln", [
    "-sf",
    "../usr/lib/riscv64-linux-gnu/ld-linux-riscv64-lp64d.so.1",
    join(root, "lib/ld-linux-riscv64-lp64d.so.1"),
  ]);
  writeFileSync(join(root, ".complete"), [...want].join(" ") + "\n");
  process.stderr.write(`bench: ${name}: ${[...want].join(" ")}\n`);
  return root;
}

/** `toolsRoot` as a newc cpio, to append to the shipped initramfs. Returns its path. */
export async function toolsCpio(name: string, packages: string[]): Promise<string> {
  const out = join(CACHE, `${name}.cpio`);
  if (existsSync(out)) return out;
  const root = await toolsRoot(name, packages);
  execFileSync("sh", [
    "-c",
    `cd '${root}' && find . ! -name .complete | cpio -o -H newc --quiet > '${out}.tmp' && mv '${out}.tmp' '${out}'`,
  ]);
  return out;
}

/**
 * `toolsRoot` as an ext4 image (for tools too big for an initramfs), with empty /dev, /proc,
 * /tmp and /data for a chroot. Made by mke2fs -d, no mounting. Returns its path.
 */
export async function toolsExt4(name: string, packages: string[]): Promise<string> {
  const out = join(CACHE, `${name}.ext4`);
  if (existsSync(out)) return out;
  const root = await toolsRoot(name, packages);
  for (const d of ["dev", "proc", "sys", "tmp", "data"])
    mkdirSync(join(root, d), { recursive: true });
  const kib = Number(execFileSync("du", ["-sk", root], { encoding: "utf8" }).split("\t")[0]);
  execFileSync("mke2fs", [
    "-q",
    "-F",
    "-t",
    "ext4",
    "-d",
    root,
    `${out}.tmp`,
    `${Math.ceil(kib * 1.3 + 16384)}k`,
  ]);
  execFileSync("mv", [`${out}.tmp`, out]);
  return out;
}

/**
 * The shipped riscv64 initramfs, uncompressed, with `extra` (a cpio) appended: for --initrd of
 * moat and of guest/qemu-run.sh alike (which unpacks gzip itself).
 */
export function withShippedInitramfs(repo: string, extra: string, to: string): string {
  const shipped = gunzipSync(readFileSync(join(repo, "guest/riscv64/initramfs.cpio.gz")));
  const pad = Buffer.alloc((4 - (shipped.length % 4)) % 4);
  writeFileSync(to, Buffer.concat([shipped, pad, readFileSync(extra)]));
  return to;
}
