// Hostile kernel and initrd input: the Image header parser, the boot layout, the initramfs
// builder and shell quoting, and the real CLI refusing bad files with one-line errors.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { KernelImageError, MAX_KERNEL_BYTES, parseRiscvImage } from "../src/boot/riscv-image.js";
import {
  BootLayoutError,
  computeBootLayout,
  type BootLayoutInput,
} from "../src/arch/riscv64/boot-layout.js";
import {
  buildCpio,
  commandArchive,
  runScript,
  shellQuote,
  type CpioFile,
} from "../src/boot/initramfs.js";
import { shippedKernel } from "../src/boot/shipped-guest.js";
import { moat } from "./support/moat-cli.js";
import { Rng } from "./support/core-harness.js";

interface HeaderOpts {
  textOffset?: bigint;
  imageSize?: bigint;
  magic?: boolean;
  magic2?: boolean;
  length?: number;
}

/** A riscv64 Image header (Documentation/arch/riscv/boot-image-header.rst) plus padding. */
function image(o: HeaderOpts = {}): Uint8Array {
  const out = new Uint8Array(o.length ?? 4096);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(8, o.textOffset ?? 0x20_0000n, true);
  dv.setBigUint64(16, o.imageSize ?? 0x10_0000n, true);
  if (o.magic ?? true) out.set(new TextEncoder().encode("RISCV\0\0\0"), 48);
  if (o.magic2 ?? true) out.set(Uint8Array.of(0x52, 0x53, 0x43, 0x05), 56);
  return out;
}

function kernelError(f: () => unknown, re: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof KernelImageError, `a KernelImageError, not ${String(e)}`);
    assert.match(e.message, re);
    assert.ok(!e.message.includes("\n"), "one line");
    return true;
  });
}

describe("riscv64 Image header", () => {
  test("too short, empty, no magic", () => {
    kernelError(() => parseRiscvImage(new Uint8Array(0)), /0 bytes is too short/);
    kernelError(() => parseRiscvImage(image().subarray(0, 63)), /63 bytes is too short/);
    kernelError(
      () => parseRiscvImage(new Uint8Array(64)),
      /not a riscv64 Linux Image \(no RISCV magic\)$/,
    );
    kernelError(
      () => parseRiscvImage(new Uint8Array(4096).fill(0x41), "junk.bin"),
      /^junk\.bin: not a riscv64/,
    );
  });

  test("an ELF file and a gzip file get a hint", () => {
    const elf = new Uint8Array(readFileSync("/bin/true").subarray(0, 4096));
    kernelError(() => parseRiscvImage(elf), /ELF file: pass the kernel's arch\/riscv\/boot\/Image/);
    const gz = gzipSync(readFileSync("/bin/true"));
    assert.ok(gz.length > 64);
    kernelError(() => parseRiscvImage(new Uint8Array(gz)), /gzip-compressed: decompress it first/);
  });

  test("implausible text_offset and image_size are refused", () => {
    for (const t of [0x123n, 0x20_0800n, 0x4000_1000n, 0x8000_0000n, (1n << 64n) - 0x1000n]) {
      kernelError(() => parseRiscvImage(image({ textOffset: t })), /implausible text_offset/);
    }
    for (const s of [BigInt(MAX_KERNEL_BYTES) * 4n + 1n, 1n << 63n, (1n << 64n) - 1n]) {
      kernelError(() => parseRiscvImage(image({ imageSize: s })), /implausible image_size/);
    }
  });

  test("a file over the size limit is refused before anything else", () => {
    const big = new Uint8Array(MAX_KERNEL_BYTES + 1);
    kernelError(() => parseRiscvImage(big), /larger than the 256 MiB limit/);
  });

  test("valid headers: either magic is enough, text_offset 0 means 2 MiB, image_size is at least the file", () => {
    const a = parseRiscvImage(image({ magic2: false }));
    assert.equal(a.textOffset, 0x20_0000n);
    const b = parseRiscvImage(image({ magic: false, textOffset: 0n, imageSize: 0n }));
    assert.equal(b.textOffset, 0x20_0000n);
    assert.equal(b.imageSize, 4096n, "the file size when image_size is smaller");
    const c = parseRiscvImage(image({ textOffset: 0x40_0000n, imageSize: 0x80_0000n }));
    assert.deepEqual([c.textOffset, c.imageSize], [0x40_0000n, 0x80_0000n]);
    const shipped = parseRiscvImage(shippedKernel());
    assert.equal(shipped.textOffset, 0x20_0000n);
    assert.ok(shipped.imageSize >= BigInt(shipped.bytes.length));
  });

  test("random and mutated headers either parse to sane values or throw KernelImageError", () => {
    const rng = new Rng(11);
    for (let i = 0; i < 3000; i++) {
      const len = rng.int(3) === 0 ? rng.int(80) : 64 + rng.int(512);
      let buf: Uint8Array;
      if (rng.int(2) === 0) {
        buf = new Uint8Array(len);
        for (let k = 0; k < len; k++) buf[k] = rng.int(256);
      } else {
        buf = image({
          length: Math.max(len, 64),
          textOffset: rng.operand(),
          imageSize: rng.operand(),
        }).subarray(0, len);
        if (len > 0 && rng.int(4) === 0) buf[rng.int(len)] ^= 1 << rng.int(8);
      }
      try {
        const r = parseRiscvImage(buf);
        assert.equal(r.textOffset % 0x1000n, 0n);
        assert.ok(r.textOffset > 0n && r.textOffset <= 0x4000_0000n);
        assert.ok(
          r.imageSize >= BigInt(buf.length) && r.imageSize <= BigInt(MAX_KERNEL_BYTES) * 4n,
        );
        assert.equal(r.bytes, buf);
      } catch (e) {
        assert.ok(e instanceof KernelImageError, `case ${i}: ${String(e)}`);
      }
    }
  });
});

// ---- boot layout -----------------------------------------------------------------------------

const MiB = 1 << 20;
const RAM = 0x8000_0000n;

function normal(over: Partial<BootLayoutInput> = {}): BootLayoutInput {
  return {
    ramBase: RAM,
    ramBytes: 256 * MiB,
    kernelOffset: 0x20_0000n,
    kernelSize: 8n * BigInt(MiB),
    initrdSize: 3 * MiB + 123,
    dtbSize: 3000,
    firmwareSize: 0,
    ...over,
  };
}

/** Checks a layout: everything inside RAM, in order, no overlaps, the DTB 2 MiB aligned at the top. */
function checkLayout(i: BootLayoutInput): void {
  const l = computeBootLayout(i);
  const ramEnd = i.ramBase + BigInt(i.ramBytes);
  const regions: [string, bigint, bigint][] = [["kernel", l.kernel, l.kernel + i.kernelSize]];
  if (l.firmware !== undefined)
    regions.push(["firmware", l.firmware, l.firmware + BigInt(i.firmwareSize)]);
  if (l.initrd) {
    assert.equal(l.initrd.end - l.initrd.start, BigInt(i.initrdSize));
    assert.equal(l.initrd.start % 0x1000n, 0n, "initrd page aligned");
    regions.push(["initrd", l.initrd.start, l.initrd.end]);
  } else assert.equal(i.initrdSize, 0);
  if (l.fwInfo !== undefined) regions.push(["fwInfo", l.fwInfo, l.fwInfo + 48n]);
  regions.push(["dtb", l.dtb, l.dtb + BigInt(i.dtbSize)]);
  assert.equal(l.kernel, i.ramBase + i.kernelOffset);
  assert.equal(l.dtb % (2n * BigInt(MiB)), 0n, "DTB 2 MiB aligned");
  assert.ok(ramEnd - l.dtb <= 2n * BigInt(MiB) + BigInt(i.dtbSize), "DTB at the top of RAM");
  for (const [n, s, e] of regions)
    assert.ok(s >= i.ramBase && e <= ramEnd && s <= e, `${n} inside RAM`);
  regions.sort((a, b) => (a[1] < b[1] ? -1 : 1));
  for (let k = 1; k < regions.length; k++) {
    assert.ok(
      regions[k - 1]![2] <= regions[k]![1],
      `${regions[k - 1]![0]} overlaps ${regions[k]![0]}`,
    );
  }
  if (l.initrd) {
    assert.ok(
      l.initrd.end <= (l.fwInfo ?? l.dtb),
      "initrd below the DTB (and the fw_dynamic info)",
    );
    assert.ok(
      l.initrd.start >= l.kernel + i.kernelSize + 16n * BigInt(MiB),
      "16 MiB kept free after the kernel",
    );
  }
}

function layoutError(i: BootLayoutInput, re: RegExp): void {
  assert.throws(
    () => computeBootLayout(i),
    (e: unknown) => {
      assert.ok(e instanceof BootLayoutError, String(e));
      assert.match(e.message, re);
      assert.ok(!e.message.includes("\n"));
      return true;
    },
  );
}

describe("boot layout", () => {
  test("a normal layout: DTB 2 MiB aligned at the top, initrd below it, no overlaps", () => {
    checkLayout(normal());
    const l = computeBootLayout(normal());
    assert.equal(l.dtb, RAM + 256n * BigInt(MiB) - 2n * BigInt(MiB));
    assert.ok(l.initrd && l.initrd.end <= l.dtb);
    checkLayout(normal({ initrdSize: 0 }));
    checkLayout(normal({ firmwareSize: 288 * 1024 }));
    checkLayout(normal({ ramBytes: 32 * MiB, initrdSize: 1 * MiB, kernelSize: 4n * BigInt(MiB) }));
  });

  test("an initrd, a kernel or a DTB too big for RAM is refused with the RAM it would need", () => {
    layoutError(
      normal({ initrdSize: 300 * MiB }),
      /256 MiB of RAM is too small for this kernel and initrd: about \d+ MiB needed/,
    );
    layoutError(normal({ initrdSize: 250 * MiB }), /too small/);
    layoutError(normal({ kernelSize: 250n * BigInt(MiB) }), /too small/);
    layoutError(normal({ kernelSize: 1n << 62n }), /too small/);
    layoutError(normal({ kernelOffset: 0x4000_0000n }), /too small/);
    layoutError(normal({ dtbSize: 300 * MiB }), /too small/);
    layoutError(normal({ ramBytes: 16 * MiB }), /16 MiB of RAM is too small/);
  });

  test("the RAM size the error suggests is (about) enough", () => {
    const i = normal({ initrdSize: 300 * MiB });
    let msg = "";
    try {
      computeBootLayout(i);
    } catch (e) {
      msg = (e as Error).message;
    }
    const need = Number(/about (\d+) MiB needed/.exec(msg)?.[1]);
    assert.ok(need > 256, msg);
    checkLayout({ ...i, ramBytes: (need + 2) * MiB });
  });

  test("firmware that does not fit below the kernel is refused", () => {
    layoutError(
      normal({ firmwareSize: 2 * MiB + 1 }),
      /the firmware \(2097153 bytes\) does not fit below the kernel at 0x80200000/,
    );
    checkLayout(normal({ firmwareSize: 2 * MiB }));
  });

  test("random sizes: either a BootLayoutError or a valid layout", () => {
    const rng = new Rng(12);
    for (let k = 0; k < 3000; k++) {
      const i = normal({
        ramBytes: (32 + rng.int(512)) * MiB,
        kernelOffset: BigInt(rng.int(64)) * 0x20_0000n,
        kernelSize: BigInt(rng.int(64 * MiB)),
        initrdSize: rng.int(4) === 0 ? 0 : rng.int(400 * MiB),
        dtbSize: 1 + rng.int(64 * 1024),
        firmwareSize: rng.int(2) === 0 ? 0 : rng.int(4 * MiB),
      });
      try {
        computeBootLayout(i);
      } catch (e) {
        assert.ok(e instanceof BootLayoutError, String(e));
        continue;
      }
      checkLayout(i);
    }
  });
});

// ---- initramfs and quoting -------------------------------------------------------------------

const enc = new TextEncoder();

function cpioList(archive: Uint8Array): string[] {
  const out = execFileSync("cpio", ["-it", "--quiet"], { input: archive, encoding: "utf8" });
  return out.split("\n").filter((l) => l !== "");
}

function cpioCat(archive: Uint8Array, name: string): Buffer {
  return execFileSync("cpio", ["-i", "--quiet", "--to-stdout", name], { input: archive });
}

describe("initramfs", () => {
  test("buildCpio's newc archive is read back by cpio -it, every name and every byte", () => {
    const files: CpioFile[] = [
      { name: "dir", mode: 0o040755, data: new Uint8Array(0) },
      { name: "dir/empty", mode: 0o100644, data: new Uint8Array(0) },
      { name: "dir/one", mode: 0o100644, data: enc.encode("1") },
      { name: "dir/two", mode: 0o100644, data: enc.encode("22") },
      { name: "dir/three", mode: 0o100644, data: enc.encode("333") },
      { name: "dir/four", mode: 0o100755, data: enc.encode("4444") },
      { name: "dir/with space", mode: 0o100644, data: enc.encode("five!") },
      {
        name: "dir/ünïcödé-名前",
        mode: 0o100644,
        data: new Uint8Array(1001).map((_, i) => i & 0xff),
      },
      { name: "ab", mode: 0o100644, data: enc.encode("odd name length") },
    ];
    const a = buildCpio(files);
    assert.equal(a.length % 4, 0);
    assert.deepEqual(
      cpioList(a),
      files.map((f) => f.name),
    );
    for (const f of files.filter((f) => (f.mode & 0o170000) === 0o100000)) {
      assert.deepEqual(new Uint8Array(cpioCat(a, f.name)), f.data, f.name);
    }
  });

  test("commandArchive holds /moat/run with the quoted command", () => {
    const cmd = {
      argv: ["printf", "%s\n", "it's", "$HOME", ""],
      pipedInput: true,
      pipedOutput: false,
    };
    const a = commandArchive(cmd);
    assert.deepEqual(cpioList(a), ["moat", "moat/run"]);
    const script = cpioCat(a, "moat/run").toString("utf8");
    assert.equal(script, runScript(cmd));
    assert.match(script, /^stty -echo 2>\/dev\/null\n/);
    assert.ok(script.includes("\nprintf '%s\n' 'it'\\''s' '$HOME' ''\n"), script);
    // The exit status is kept across the drain of the terminal that ends the script.
    assert.ok(
      script.endsWith('moat_status=$?; stty "$(stty -g)" 2>/dev/null; exit $moat_status\n'),
    );
  });

  test("shellQuote round-trips arbitrary strings through the host's sh", () => {
    const rng = new Rng(13);
    const pool = [
      ..."abcXYZ019 _-./=:,@%+",
      "'",
      '"',
      "$",
      "\\",
      "\n",
      "\t",
      "`",
      "!",
      "*",
      "?",
      "[",
      "]",
      "{",
      "}",
      "~",
      "#",
      "&",
      ";",
      "|",
      "<",
      ">",
      "(",
      ")",
      "^",
      "\r",
      "\x01",
      "\x7f",
      "é",
      "名",
      "🚀",
      "\u00a0",
      "$(",
      "${",
      "'\\''",
    ];
    const strings = [
      "",
      "'",
      "''",
      "\\",
      "-n",
      "--",
      "~",
      "a b",
      "$HOME",
      "'$(id)'",
      "\n",
      "%s",
      "-",
      "=",
      "x=y",
    ];
    for (let i = 0; i < 600; i++) {
      let s = "";
      const n = rng.int(24);
      for (let k = 0; k < n; k++) s += rng.pick(pool);
      strings.push(s);
    }
    // All at once: printf '%s\0' ARG... , split on NUL.
    const script = "printf '%s\\000' " + strings.map(shellQuote).join(" ");
    const out = execFileSync("sh", ["-c", script], { encoding: "utf8" });
    const back = out.split("\0");
    assert.equal(back.pop(), "");
    assert.equal(back.length, strings.length);
    for (let i = 0; i < strings.length; i++)
      assert.equal(back[i], strings[i], `string ${i}: ${JSON.stringify(strings[i])}`);
    // and one at a time, as a lone argument
    for (const s of strings.slice(0, 40)) {
      assert.equal(
        execFileSync("sh", ["-c", "printf %s " + shellQuote(s)], { encoding: "utf8" }),
        s,
        JSON.stringify(s),
      );
    }
    assert.equal(shellQuote(""), "''");
    assert.equal(shellQuote("plain-word_1.txt"), "plain-word_1.txt");
  });
});

// ---- the CLI ---------------------------------------------------------------------------------

describe("moat run with hostile files", () => {
  const dir = mkdtempSync(join(tmpdir(), "moat-boot-files-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, data: Uint8Array): string => {
    const p = join(dir, name);
    writeFileSync(p, data);
    return p;
  };
  const shipped = shippedKernel();

  const refused = async (args: string[], re: RegExp): Promise<void> => {
    const r = await moat(["run", ...args, "--", "true"], { timeoutMs: 30_000 });
    assert.equal(r.status, 125, `${args.join(" ")}: status ${r.status}, stderr ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trimEnd().split("\n").length, 1, `one line: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
    assert.equal(r.stdout, "");
  };

  test("a truncated Image (its first 32 bytes) → 125, one line", async () => {
    await refused(
      ["--kernel", file("Image.32", shipped.subarray(0, 32))],
      /^moat: .*Image\.32: 32 bytes is too short for a riscv64 Image header$/m,
    );
  });

  test("an ELF file as --kernel → 125 with the ELF hint", async () => {
    await refused(
      ["--kernel", file("vmlinux", new Uint8Array(readFileSync("/bin/true")))],
      /this is an ELF file/,
    );
  });

  test("a gzip file as --kernel → 125 with the gzip hint", async () => {
    await refused(
      ["--kernel", file("Image.gz", new Uint8Array(gzipSync(shipped.subarray(0, 65536))))],
      /gzip-compressed/,
    );
  });

  test("an Image whose text_offset puts it beyond RAM → 125", async () => {
    const patched = new Uint8Array(shipped);
    new DataView(patched.buffer).setBigUint64(8, 0x4000_0000n, true);
    await refused(["--kernel", file("Image.far", patched)], /RAM is too small for this kernel/);
  });

  test("an initrd larger than RAM → 125", async () => {
    await refused(
      ["--memory", "32", "--initrd", file("big.cpio", new Uint8Array(40 * MiB))],
      /32 MiB of RAM is too small for this kernel and initrd/,
    );
  });

  test(
    "a random 1 MiB file as --initrd: the kernel complains and the VM still ends (no hang)",
    { timeout: 90_000 },
    async () => {
      const rng = new Rng(14);
      const junk = new Uint8Array(MiB);
      for (let i = 0; i < junk.length; i += 8)
        new DataView(junk.buffer).setBigUint64(i, rng.u64(), true);
      const started = performance.now();
      const r = await moat(["run", "--initrd", file("junk.img", junk), "--", "true"], {
        timeoutMs: 60_000,
      });
      const ms = performance.now() - started;
      assert.equal(
        r.signal,
        null,
        `moat did not end within 60 s (killed after ${ms.toFixed(0)} ms); output tail: ${r.stdout.slice(-300)}`,
      );
      assert.doesNotMatch(r.stderr, /internal error/);
      // No root file system is a kernel panic: pvpanic tells moat, which fails the run.
      assert.equal(r.status, 125, r.stderr);
      assert.match(r.stderr, /the guest kernel panicked/);
    },
  );
});
