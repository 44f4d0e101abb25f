// Assemble, link and objcopy the bare-metal ISA test programs (test/isa/).
//
// Programs are built with the Debian cross toolchain:
//   riscv64-linux-gnu-gcc -nostdlib -nostartfiles -static -march=rv64gc -mabi=lp64d
//     -T test/isa/link.ld -I test/isa -g  prog.S -o prog.elf
//   riscv64-linux-gnu-objcopy -O binary prog.elf prog.bin
// and cached in $TMPDIR/moat-isa-cache, keyed by a hash of the source, every
// header in test/isa/, the linker script, the flags and the compiler version.
// Override the tools with ISA_CC / ISA_OBJCOPY / ISA_ADDR2LINE.

import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, readdir, rename, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Repository root: the first ancestor of this file (normally dist/test/support/)
 * that holds test/isa/common.h, else the current directory if it does.
 */
function findRepoRoot(): string {
  const has = (d: string) => existsSync(path.join(d, "test", "isa", "common.h"));
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (has(dir)) return dir;
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  if (has(process.cwd())) return process.cwd();
  throw new Error(
    "isa-build: cannot find test/isa/common.h above " + import.meta.url + " or in " + process.cwd(),
  );
}

export const REPO_ROOT = findRepoRoot();
export const ISA_DIR = path.join(REPO_ROOT, "test", "isa");
export const LINK_SCRIPT = path.join(ISA_DIR, "link.ld");
export const CACHE_DIR = path.join(os.tmpdir(), "moat-isa-cache");

const CC = process.env.ISA_CC ?? "riscv64-linux-gnu-gcc";
const OBJCOPY = process.env.ISA_OBJCOPY ?? "riscv64-linux-gnu-objcopy";
const ADDR2LINE = process.env.ISA_ADDR2LINE ?? "riscv64-linux-gnu-addr2line";

const CFLAGS = [
  "-nostdlib",
  "-nostartfiles",
  "-static",
  "-march=rv64gc",
  "-mabi=lp64d",
  "-Wl,--build-id=none",
  "-g",
];

export interface BuiltProgram {
  /** Name given to the build (file stem). */
  name: string;
  /** Linked ELF (with line info, for addr2line). */
  elf: string;
  /** Flat binary to be loaded at 0x8000_0000. */
  bin: string;
}

interface ExecResult {
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], cwd?: string): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd, maxBuffer: 64 << 20, encoding: "utf8" }, (err, stdout, stderr) => {
      if (err) {
        const e = new Error(`${file} ${args.join(" ")} failed: ${err.message}\n${stderr}${stdout}`);
        reject(e);
      } else resolve({ stdout, stderr });
    });
  });
}

let toolVersion: Promise<string> | undefined;
function getToolVersion(): Promise<string> {
  toolVersion ??= run(CC, ["--version"]).then((r) => r.stdout.split("\n")[0] ?? "");
  return toolVersion;
}

let headersHash: Promise<string> | undefined;
/** Hash of everything in test/isa that a program may depend on besides its own source. */
function getHeadersHash(): Promise<string> {
  headersHash ??= (async () => {
    const h = createHash("sha256");
    const names = (await readdir(ISA_DIR))
      .filter((n) => n.endsWith(".h") || n.endsWith(".inc") || n.endsWith(".ld"))
      .sort();
    for (const n of names) {
      h.update(n + "\0");
      h.update(await readFile(path.join(ISA_DIR, n)));
      h.update("\0");
    }
    return h.digest("hex");
  })();
  return headersHash;
}

async function cacheKey(text: string | Buffer, extraFlags: string[]): Promise<string> {
  const h = createHash("sha256");
  h.update(await getToolVersion());
  h.update("\0" + CFLAGS.join(" ") + "\0" + extraFlags.join(" ") + "\0");
  h.update(await getHeadersHash());
  h.update("\0");
  h.update(text);
  return h.digest("hex").slice(0, 20);
}

function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]/g, "_");
}

async function compile(
  srcPath: string,
  name: string,
  key: string,
  extraFlags: string[],
): Promise<BuiltProgram> {
  await mkdir(CACHE_DIR, { recursive: true });
  const base = path.join(CACHE_DIR, `${safeName(name)}-${key}`);
  const elf = base + ".elf";
  const bin = base + ".bin";
  if (existsSync(elf) && existsSync(bin)) return { name, elf, bin };
  const tmp = `${base}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  try {
    await run(CC, [
      ...CFLAGS,
      ...extraFlags,
      "-T",
      LINK_SCRIPT,
      "-I",
      ISA_DIR,
      "-o",
      tmp + ".elf",
      srcPath,
    ]);
    await run(OBJCOPY, ["-O", "binary", tmp + ".elf", tmp + ".bin"]);
    // bin first: a present .elf implies a complete pair.
    await rename(tmp + ".bin", bin);
    await rename(tmp + ".elf", elf);
  } finally {
    await rm(tmp + ".elf", { force: true });
    await rm(tmp + ".bin", { force: true });
  }
  return { name, elf, bin };
}

/** Build test/isa/<file> (or an absolute path to a .S file). */
export async function buildProgram(file: string, extraFlags: string[] = []): Promise<BuiltProgram> {
  const src = path.isAbsolute(file) ? file : path.join(ISA_DIR, file);
  const text = await readFile(src);
  const key = await cacheKey(Buffer.concat([Buffer.from(src + "\0"), text]), extraFlags);
  return compile(src, path.basename(src).replace(/\.[Ss]$/, ""), key, extraFlags);
}

/** Build a program from assembly text (it may `#include "common.h"`). */
export async function buildSource(
  name: string,
  text: string,
  extraFlags: string[] = [],
): Promise<BuiltProgram> {
  const key = await cacheKey(text, extraFlags);
  await mkdir(CACHE_DIR, { recursive: true });
  const src = path.join(CACHE_DIR, `${safeName(name)}-${key}.S`);
  if (!existsSync(src)) {
    const tmp = `${src}.${process.pid}.tmp`;
    await writeFile(tmp, text);
    await rename(tmp, src);
  }
  return compile(src, name, key, extraFlags);
}

/** The flat image of a built program, as runBare() wants it. */
export async function loadImage(p: BuiltProgram): Promise<Uint8Array> {
  return new Uint8Array(await readFile(p.bin));
}

/** Map code addresses to "file:line" using the ELF's line table. */
export async function addr2line(elf: string, addrs: bigint[]): Promise<string[]> {
  if (addrs.length === 0) return [];
  try {
    const r = await run(ADDR2LINE, ["-e", elf, ...addrs.map((a) => "0x" + a.toString(16))]);
    return r.stdout
      .trim()
      .split("\n")
      .map((l) => l.replace(REPO_ROOT + path.sep, ""));
  } catch {
    return addrs.map(() => "?");
  }
}

/**
 * Turn a program's failure output into something readable: every "pc 0x..."
 * or "epc=0x..." in it is annotated with its source line.
 */
export async function explainOutput(p: BuiltProgram, output: string): Promise<string> {
  const re = /(?:pc 0x|epc=0x)([0-9a-f]{16})/g;
  const addrs: bigint[] = [];
  for (const m of output.matchAll(re)) addrs.push(BigInt("0x" + m[1]));
  if (addrs.length === 0) return output;
  const lines = await addr2line(p.elf, addrs);
  const notes = addrs.map((a, i) => `  0x${a.toString(16)} = ${lines[i]}`).join("\n");
  return `${output}\n[source]\n${notes}`;
}
