/**
 * Tests for the flattened-device-tree writer (src/arch/riscv64/fdt.ts) and
 * the riscv64 machine's device tree (src/arch/riscv64/device-tree.ts).
 *
 * Blobs are decompiled with Debian's `dtc` (package device-tree-compiler) and
 * the resulting DTS is parsed back into a tree of raw property values, so the
 * assertions do not depend on how dtc chooses to print a value; dtc is
 * required. When `qemu-system-riscv64` is installed, the tree is also
 * compared with the one QEMU's `virt` board generates, and handed to QEMU's
 * OpenSBI to parse.
 */

import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import {
  FDT_BEGIN_NODE,
  FDT_END,
  FDT_END_NODE,
  FDT_MAGIC,
  FDT_PROP,
  FdtBuilder,
  FdtError,
} from "../src/arch/riscv64/fdt.js";
import {
  buildDeviceTree,
  MachineDescriptionError,
  type MachineDescription,
} from "../src/arch/riscv64/device-tree.js";

// ---------------------------------------------------------------------------
// External tools

function hasCommand(name: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" }).status === 0;
}

const HAVE_DTC = hasCommand("dtc");
const HAVE_QEMU = hasCommand("qemu-system-riscv64");
/** dtc is required (.ci/run installs it): tests that need it fail without it. */
const NO_DTC = "dtc not found: install Debian's device-tree-compiler package";
const NO_QEMU = "qemu-system-riscv64 not installed (Debian package qemu-system-misc)";

let workDir = "";
let fileCounter = 0;

before(() => {
  workDir = mkdtempSync(join(tmpdir(), "moat-fdt-test-"));
});

after(() => {
  if (workDir !== "") rmSync(workDir, { recursive: true, force: true });
});

function tempFile(suffix: string): string {
  fileCounter += 1;
  return join(workDir, `f${fileCounter}${suffix}`);
}

interface DtcResult {
  stdout: string;
  stderr: string;
  status: number | null;
}

/** Runs dtc on `input` (written to a temp file) and returns its output. */
function runDtc(from: "dtb" | "dts", to: "dtb" | "dts", input: Uint8Array | string): DtcResult {
  assert.ok(HAVE_DTC, NO_DTC);
  const inFile = tempFile(`.${from}`);
  const outFile = tempFile(`.${to}`);
  writeFileSync(inFile, input);
  const r = spawnSync("dtc", ["-I", from, "-O", to, "-o", outFile, inFile], {
    encoding: "utf8",
  });
  if (r.error) throw r.error;
  const out = r.status === 0 ? readFileSync(outFile) : Buffer.alloc(0);
  return { stdout: out.toString("latin1"), stderr: r.stderr, status: r.status };
}

/** Decompiles a DTB with dtc, failing the test if dtc fails. */
function decompile(blob: Uint8Array): { dts: string; stderr: string } {
  const r = runDtc("dtb", "dts", blob);
  assert.equal(r.status, 0, `dtc -I dtb -O dts failed:\n${r.stderr}`);
  return { dts: r.stdout, stderr: r.stderr };
}

/** Compiles DTS text to a DTB with dtc, failing the test if dtc fails. */
function compile(dts: string): Uint8Array {
  const r = runDtc("dts", "dtb", dts);
  assert.equal(r.status, 0, `dtc -I dts -O dtb failed:\n${r.stderr}`);
  return new Uint8Array(Buffer.from(r.stdout, "latin1"));
}

/** dtc's diagnostics, one per line, without blank lines. */
function diagnostics(stderr: string): string[] {
  return stderr.split("\n").filter((l) => l.trim() !== "");
}

/**
 * dtc 1.6.1 wants `#address-cells` in every interrupt provider; the Linux
 * binding for `riscv,cpu-intc` does not have it and QEMU's own tree triggers
 * the same warning (checked below), so this one warning is tolerated.
 */
const TOLERATED_WARNING =
  /Warning \(interrupt_provider\): \/cpus\/cpu@[0-9a-f]+\/interrupt-controller: Missing #address-cells in interrupt provider$/;

// ---------------------------------------------------------------------------
// A small parser for the DTS that `dtc -O dts` prints

interface DtNode {
  name: string;
  path: string;
  props: Map<string, Uint8Array>;
  children: DtNode[];
}

const WORD = /[A-Za-z0-9,._+?#@/-]+/y;
const SIMPLE_ESCAPES: Record<string, number> = {
  a: 7,
  b: 8,
  t: 9,
  n: 10,
  v: 11,
  f: 12,
  r: 13,
  "\\": 0x5c,
  '"': 0x22,
  "'": 0x27,
};

/** Parses dtc's DTS output into a tree whose property values are raw bytes. */
function parseDts(text: string): DtNode {
  let pos = 0;
  const utf8 = new TextEncoder();

  const fail = (what: string): never => {
    throw new Error(
      `DTS parse error: ${what} at offset ${pos}: ${JSON.stringify(text.slice(pos, pos + 40))}`,
    );
  };
  const skip = (): void => {
    for (;;) {
      const c = text[pos];
      if (c === " " || c === "\t" || c === "\n" || c === "\r") pos++;
      else if (text.startsWith("//", pos)) {
        const nl = text.indexOf("\n", pos);
        pos = nl < 0 ? text.length : nl + 1;
      } else if (text.startsWith("/*", pos)) {
        const end = text.indexOf("*/", pos + 2);
        if (end < 0) fail("unterminated comment");
        pos = end + 2;
      } else return;
    }
  };
  const peek = (): string => {
    skip();
    return text[pos] ?? "";
  };
  const expect = (s: string): void => {
    skip();
    if (!text.startsWith(s, pos)) fail(`expected ${JSON.stringify(s)}`);
    pos += s.length;
  };
  const word = (): string => {
    skip();
    WORD.lastIndex = pos;
    const m = WORD.exec(text);
    if (m === null) return fail("expected a name");
    pos = WORD.lastIndex;
    return m[0];
  };

  const parseString = (): number[] => {
    expect('"');
    const out: number[] = [];
    for (;;) {
      const c = text[pos];
      if (c === undefined) return fail("unterminated string");
      pos++;
      if (c === '"') break;
      if (c !== "\\") {
        const cp = text.codePointAt(pos - 1) ?? 0;
        if (cp > 0xffff) pos++;
        out.push(...utf8.encode(String.fromCodePoint(cp)));
        continue;
      }
      const e = text[pos] ?? "";
      pos++;
      if (e in SIMPLE_ESCAPES) {
        out.push(SIMPLE_ESCAPES[e] ?? 0);
      } else if (e === "x") {
        const m = /^[0-9a-fA-F]{1,2}/.exec(text.slice(pos, pos + 2));
        if (m === null) fail("bad \\x escape");
        out.push(parseInt(m![0], 16));
        pos += m![0].length;
      } else if (/[0-7]/.test(e)) {
        let digits = e;
        while (digits.length < 3 && /[0-7]/.test(text[pos] ?? "")) digits += text[pos++];
        out.push(parseInt(digits, 8) & 0xff);
      } else {
        out.push(...utf8.encode(e));
      }
    }
    out.push(0);
    return out;
  };

  const parseCells = (): number[] => {
    expect("<");
    const out: number[] = [];
    while (peek() !== ">") {
      const tok = word();
      let v: bigint;
      try {
        v = BigInt(tok);
      } catch {
        return fail(`bad cell ${JSON.stringify(tok)}`);
      }
      if (v < 0n || v > 0xffff_ffffn) fail(`cell out of range ${tok}`);
      const n = Number(v);
      out.push(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
    }
    expect(">");
    return out;
  };

  const parseByteString = (): number[] => {
    expect("[");
    const out: number[] = [];
    while (peek() !== "]") {
      const tok = word();
      if (!/^([0-9a-fA-F]{2})+$/.test(tok)) fail(`bad byte ${tok}`);
      for (let i = 0; i < tok.length; i += 2) out.push(parseInt(tok.slice(i, i + 2), 16));
    }
    expect("]");
    return out;
  };

  const parseNode = (name: string, path: string): DtNode => {
    const node: DtNode = { name, path, props: new Map(), children: [] };
    expect("{");
    while (peek() !== "}") {
      const n = word();
      const c = peek();
      if (c === "{") {
        node.children.push(parseNode(n, path === "/" ? `/${n}` : `${path}/${n}`));
        expect(";");
      } else if (c === ";") {
        pos++;
        node.props.set(n, new Uint8Array(0));
      } else {
        expect("=");
        const bytes: number[] = [];
        for (;;) {
          const v = peek();
          if (v === '"') bytes.push(...parseString());
          else if (v === "<") bytes.push(...parseCells());
          else if (v === "[") bytes.push(...parseByteString());
          else fail("expected a property value");
          if (peek() !== ",") break;
          pos++;
        }
        expect(";");
        node.props.set(n, new Uint8Array(bytes));
      }
    }
    expect("}");
    return node;
  };

  expect("/dts-v1/;");
  skip();
  if (text.startsWith("/memreserve/", pos)) fail("unexpected /memreserve/ entry");
  if (word() !== "/") fail("expected the root node");
  const root = parseNode("", "/");
  expect(";");
  skip();
  if (pos !== text.length) fail("trailing text");
  return root;
}

// Accessors on the parsed tree.

function node(root: DtNode, path: string): DtNode {
  let cur = root;
  for (const part of path.split("/").filter((p) => p !== "")) {
    const next = cur.children.find((c) => c.name === part);
    assert.ok(next, `node ${path} not found (no "${part}" under ${cur.path})`);
    cur = next;
  }
  return cur;
}

function hasNode(root: DtNode, path: string): boolean {
  let cur: DtNode | undefined = root;
  for (const part of path.split("/").filter((p) => p !== "")) {
    cur = cur.children.find((c) => c.name === part);
    if (cur === undefined) return false;
  }
  return true;
}

function raw(n: DtNode, prop: string): Uint8Array {
  const v = n.props.get(prop);
  assert.ok(v, `property ${prop} missing from ${n.path}`);
  return v;
}

function strings(n: DtNode, prop: string): string[] {
  const v = raw(n, prop);
  assert.ok(v.length > 0 && v[v.length - 1] === 0, `${n.path}/${prop} is not a string list`);
  return Buffer.from(v.subarray(0, v.length - 1))
    .toString("utf8")
    .split("\0");
}

function str(n: DtNode, prop: string): string {
  const list = strings(n, prop);
  assert.equal(list.length, 1, `${n.path}/${prop} holds ${list.length} strings`);
  return list[0]!;
}

function cells(n: DtNode, prop: string): number[] {
  const v = raw(n, prop);
  assert.equal(v.length % 4, 0, `${n.path}/${prop} is not a cell array`);
  const view = new DataView(v.buffer, v.byteOffset, v.byteLength);
  return Array.from({ length: v.length / 4 }, (_, i) => view.getUint32(i * 4));
}

function u32(n: DtNode, prop: string): number {
  const c = cells(n, prop);
  assert.equal(c.length, 1, `${n.path}/${prop} holds ${c.length} cells`);
  return c[0]!;
}

/** Values of a property of 2-cell (64-bit) numbers, e.g. reg with 2/2 cells. */
function u64s(n: DtNode, prop: string): bigint[] {
  const c = cells(n, prop);
  assert.equal(c.length % 2, 0, `${n.path}/${prop} has an odd number of cells`);
  const out: bigint[] = [];
  for (let i = 0; i < c.length; i += 2) out.push((BigInt(c[i]!) << 32n) | BigInt(c[i + 1]!));
  return out;
}

function allNodes(root: DtNode): DtNode[] {
  return [root, ...root.children.flatMap(allNodes)];
}

/** Map from phandle to node path, checking phandles are unique and non-zero. */
function phandles(root: DtNode): Map<number, string> {
  const map = new Map<number, string>();
  for (const n of allNodes(root)) {
    if (!n.props.has("phandle")) continue;
    const p = u32(n, "phandle");
    assert.ok(p !== 0 && p !== 0xffff_ffff, `${n.path} has invalid phandle ${p}`);
    assert.ok(!map.has(p), `phandle ${p} used by both ${map.get(p)} and ${n.path}`);
    map.set(p, n.path);
  }
  return map;
}

/** A property holding one phandle, resolved to the referenced node's path. */
function refPath(root: DtNode, n: DtNode, prop: string): string {
  const target = phandles(root).get(u32(n, prop));
  assert.ok(target, `${n.path}/${prop} references an unknown phandle`);
  return target;
}

/**
 * `interrupts-extended` resolved to `path:irq` entries, using each
 * provider's `#interrupt-cells`.
 */
function interruptsExtended(root: DtNode, n: DtNode): string[] {
  const map = phandles(root);
  const c = cells(n, "interrupts-extended");
  const out: string[] = [];
  for (let i = 0; i < c.length;) {
    const path = map.get(c[i]!);
    assert.ok(path, `${n.path}/interrupts-extended references unknown phandle ${c[i]}`);
    const provider = node(root, path);
    const count = u32(provider, "#interrupt-cells");
    out.push(`${path}:${c.slice(i + 1, i + 1 + count).join(",")}`);
    i += 1 + count;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Reading a DTB directly (header and blocks)

interface Header {
  magic: number;
  totalsize: number;
  offDtStruct: number;
  offDtStrings: number;
  offMemRsvmap: number;
  version: number;
  lastCompVersion: number;
  bootCpuidPhys: number;
  sizeDtStrings: number;
  sizeDtStruct: number;
}

function header(blob: Uint8Array): Header {
  const v = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const w = (i: number): number => v.getUint32(i * 4);
  return {
    magic: w(0),
    totalsize: w(1),
    offDtStruct: w(2),
    offDtStrings: w(3),
    offMemRsvmap: w(4),
    version: w(5),
    lastCompVersion: w(6),
    bootCpuidPhys: w(7),
    sizeDtStrings: w(8),
    sizeDtStruct: w(9),
  };
}

function checkBlobLayout(blob: Uint8Array): Header {
  const h = header(blob);
  assert.equal(h.magic, FDT_MAGIC);
  assert.equal(h.version, 17);
  assert.equal(h.lastCompVersion, 16);
  assert.equal(h.totalsize, blob.length);
  assert.equal(h.offMemRsvmap % 8, 0, "memory reservation map must be 8-byte aligned");
  assert.ok(h.offMemRsvmap >= 40, "reservation map overlaps the header");
  assert.deepEqual([...blob.subarray(h.offMemRsvmap, h.offMemRsvmap + 16)], new Array(16).fill(0));
  assert.equal(h.offDtStruct % 4, 0, "structure block must be 4-byte aligned");
  assert.ok(h.offDtStruct >= h.offMemRsvmap + 16);
  assert.equal(h.sizeDtStruct % 4, 0);
  assert.ok(h.offDtStrings >= h.offDtStruct + h.sizeDtStruct);
  assert.ok(h.offDtStrings + h.sizeDtStrings <= h.totalsize);
  const v = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  assert.equal(v.getUint32(h.offDtStruct), FDT_BEGIN_NODE);
  assert.equal(v.getUint32(h.offDtStruct + h.sizeDtStruct - 4), FDT_END);
  assert.equal(v.getUint32(h.offDtStruct + h.sizeDtStruct - 8), FDT_END_NODE);
  return h;
}

function stringsBlock(blob: Uint8Array): string[] {
  const h = header(blob);
  const block = Buffer.from(blob.subarray(h.offDtStrings, h.offDtStrings + h.sizeDtStrings));
  assert.equal(block[block.length - 1], 0);
  return block
    .subarray(0, block.length - 1)
    .toString("latin1")
    .split("\0");
}

// ---------------------------------------------------------------------------
// Machine descriptions used below

const MiB = 1024n * 1024n;

function twoHarts(): MachineDescription {
  return {
    harts: 2,
    ramBase: 0x8000_0000n,
    ramSize: 256n * MiB,
    bootargs: "console=ttyS0 earlycon root=/dev/vda rw",
    initrd: { start: 0x8400_0000n, end: 0x8412_3400n },
    virtio: [{ slot: 3 }, { slot: 0 }],
    rngSeed: new Uint8Array([0x9e, 0x37, 0x79, 0xb9, 0x7f, 0x4a, 0x7c, 0x15]),
  };
}

// ---------------------------------------------------------------------------

describe("FdtBuilder", () => {
  it("writes the header, an empty reservation map and de-duplicated strings", () => {
    const blob = new FdtBuilder({ bootCpuidPhys: 3 })
      .beginNode("")
      .propU32("#address-cells", 2)
      .propString("compatible", "a")
      .beginNode("x@1")
      .propString("compatible", "b")
      .propEmpty("ranges")
      .endNode()
      .beginNode("y")
      .propString("compatible", "c")
      .propU32("#address-cells", 1)
      .endNode()
      .endNode()
      .finish();
    const h = checkBlobLayout(blob);
    assert.equal(h.bootCpuidPhys, 3);
    assert.equal(h.offMemRsvmap, 40);
    assert.equal(h.offDtStruct, 56);
    assert.equal(h.offDtStrings, h.offDtStruct + h.sizeDtStruct);
    assert.equal(h.totalsize, h.offDtStrings + h.sizeDtStrings);
    assert.deepEqual(stringsBlock(blob), ["#address-cells", "compatible", "ranges"]);

    // Walk the structure block token by token.
    const v = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
    const names = stringsBlock(blob);
    const nameAt = new Map<number, string>();
    let off = 0;
    for (const n of names) {
      nameAt.set(off, n);
      off += n.length + 1;
    }
    const tokens: string[] = [];
    let p = h.offDtStruct;
    for (;;) {
      const t = v.getUint32(p);
      p += 4;
      if (t === FDT_BEGIN_NODE) {
        const end = blob.indexOf(0, p);
        tokens.push(`begin ${Buffer.from(blob.subarray(p, end)).toString()}`);
        p = (end + 1 + 3) & ~3;
      } else if (t === FDT_PROP) {
        const len = v.getUint32(p);
        const name = nameAt.get(v.getUint32(p + 4));
        tokens.push(`prop ${name} ${len}`);
        p = (p + 8 + len + 3) & ~3;
      } else if (t === FDT_END_NODE) {
        tokens.push("end");
      } else if (t === FDT_END) {
        tokens.push("END");
        break;
      } else {
        assert.fail(`unexpected token ${t} at ${p - 4}`);
      }
    }
    assert.equal(p, h.offDtStruct + h.sizeDtStruct);
    assert.deepEqual(tokens, [
      "begin ",
      "prop #address-cells 4",
      "prop compatible 2",
      "begin x@1",
      "prop compatible 2",
      "prop ranges 0",
      "end",
      "begin y",
      "prop compatible 2",
      "prop #address-cells 4",
      "end",
      "end",
      "END",
    ]);
  });

  it("encodes every property kind the way dtc reads it", () => {
    const blob = new FdtBuilder()
      .beginNode("")
      .propU32("u32", 0x12345678)
      .propCells("cells", [1, 2, 0xffff_ffff])
      .propCells("no-cells", [])
      .propU64("u64", 0x1_2345_6789n)
      .propU64s("pairs", [0x8000_0000n, 0x1000_0000n])
      .propString("str", "hello, world")
      .propStrings("list", ["first", "second,x"])
      .propBytes("raw", new Uint8Array([0xde, 0xad, 0xbe]))
      .propEmpty("flag")
      .beginNode("child")
      .propU32("#size-cells", 0)
      .beginNode("grand_child-1")
      .endNode()
      .endNode()
      .beginNode("sibling")
      .endNode()
      .endNode()
      .finish();
    checkBlobLayout(blob);
    const { dts, stderr } = decompile(blob);
    assert.deepEqual(diagnostics(stderr), []);
    const expected = [
      "/dts-v1/;",
      "",
      "/ {",
      "\tu32 = <0x12345678>;",
      "\tcells = <0x01 0x02 0xffffffff>;",
      "\tno-cells;",
      "\tu64 = <0x01 0x23456789>;",
      "\tpairs = <0x00 0x80000000 0x00 0x10000000>;",
      '\tstr = "hello, world";',
      '\tlist = "first\\0second,x";',
      "\traw = [de ad be];",
      "\tflag;",
      "",
      "\tchild {",
      "\t\t#size-cells = <0x00>;",
      "",
      "\t\tgrand_child-1 {",
      "\t\t};",
      "\t};",
      "",
      "\tsibling {",
      "\t};",
      "};",
    ].join("\n");
    assert.equal(dts.trimEnd(), expected);

    const root = parseDts(dts);
    assert.deepEqual(cells(root, "cells"), [1, 2, 0xffff_ffff]);
    assert.deepEqual(u64s(root, "u64"), [0x1_2345_6789n]);
    assert.deepEqual(strings(root, "list"), ["first", "second,x"]);
    assert.deepEqual([...raw(root, "raw")], [0xde, 0xad, 0xbe]);
    assert.equal(raw(root, "flag").length, 0);
    assert.ok(hasNode(root, "/child/grand_child-1"));
  });

  it("pads names and values to 4 bytes", () => {
    for (let len = 1; len <= 9; len++) {
      const blob = new FdtBuilder()
        .beginNode("")
        .beginNode("n".repeat(len))
        .propBytes("p", new Uint8Array(len).fill(0xaa))
        .endNode()
        .endNode()
        .finish();
      const h = checkBlobLayout(blob);
      const nameWords = Math.ceil((len + 1) / 4);
      const valueWords = Math.ceil(len / 4);
      // root begin (2 words) + node begin + prop header/value + 2 ends + END
      assert.equal(h.sizeDtStruct, 4 * (2 + 1 + nameWords + 3 + valueWords + 2 + 1));
    }
  });

  it("accepts names the specification allows", () => {
    const fdt = new FdtBuilder().beginNode("");
    for (const name of [
      "#address-cells",
      "linux,initrd-start",
      "riscv,isa",
      "foo?",
      "a".repeat(31),
    ]) {
      fdt.propEmpty(name);
    }
    for (const name of [
      "virtio_mmio@10001000",
      "cpu-map",
      "a,b.c+d-e_f@1,2",
      "Z",
      "n".repeat(31) + "@ffff",
    ]) {
      fdt.beginNode(name).endNode();
    }
    fdt.endNode().finish();
  });

  it("rejects invalid node names", () => {
    const cases: [string, RegExp][] = [
      ["", /node name must not be empty/],
      ["1abc", /must start with a letter/],
      ["a b", /character outside/],
      ["foo/bar", /character outside/],
      ["x@", /empty unit address/],
      ["@1", /empty node-name before '@'/],
      ["x@1@2", /unit address contains a character outside/],
      ["n".repeat(32), /32 characters, at most 31/],
    ];
    for (const [name, message] of cases) {
      const fdt = new FdtBuilder().beginNode("");
      assert.throws(
        () => fdt.beginNode(name),
        (e: unknown) => e instanceof FdtError && message.test(e.message),
        name,
      );
    }
    assert.throws(() => new FdtBuilder().beginNode("root"), /root node's name must be empty/);
  });

  it("rejects invalid property names", () => {
    const cases: [string, RegExp][] = [
      ["", /property name must not be empty/],
      ["bad name", /character outside/],
      ["a=b", /character outside/],
      ["a@b", /character outside/],
      ["p".repeat(32), /32 characters, at most 31/],
    ];
    for (const [name, message] of cases) {
      const fdt = new FdtBuilder().beginNode("");
      assert.throws(
        () => fdt.propEmpty(name),
        (e: unknown) => e instanceof FdtError && message.test(e.message),
        name,
      );
    }
  });

  it("rejects unbalanced nesting and misplaced properties", () => {
    assert.throws(() => new FdtBuilder().endNode(), /no open node \(unbalanced nesting\)/);
    assert.throws(() => new FdtBuilder().finish(), /no root node was written/);
    assert.throws(
      () => new FdtBuilder().beginNode("").beginNode("a").finish(),
      /2 node\(s\) still open \(unbalanced nesting\): \/, \/a/,
    );
    assert.throws(
      () => new FdtBuilder().beginNode("").endNode().beginNode(""),
      /root node has already been ended/,
    );
    assert.throws(() => new FdtBuilder().beginNode("").endNode().endNode(), /unbalanced nesting/);
    assert.throws(() => new FdtBuilder().propU32("x", 1), /must be added inside a node/);
    assert.throws(
      () => new FdtBuilder().beginNode("").beginNode("a").endNode().propU32("x", 1),
      /property "x" of "\/" must come before the node's child nodes/,
    );
    assert.throws(
      () => new FdtBuilder().beginNode("").beginNode("a").propU32("x", 1).propU32("x", 2),
      /duplicate property "x" in "\/a"/,
    );
    assert.throws(
      () => new FdtBuilder().beginNode("").beginNode("a").endNode().beginNode("a"),
      /duplicate node "a" under "\/"/,
    );
    const done = new FdtBuilder().beginNode("").endNode();
    done.finish();
    assert.throws(() => done.finish(), /already been finished/);
    assert.throws(() => done.beginNode("x"), /already been finished/);
  });

  it("rejects out-of-range values", () => {
    const fdt = (): FdtBuilder => new FdtBuilder().beginNode("");
    assert.throws(
      () => fdt().propU32("x", -1),
      /"x" cell 0 must be an integer in 0..0xffffffff, got -1/,
    );
    assert.throws(() => fdt().propU32("x", 2 ** 32), /must be an integer in 0..0xffffffff/);
    assert.throws(() => fdt().propCells("x", [1, 1.5]), /cell 1 must be an integer/);
    assert.throws(() => fdt().propU64("x", -1n), /"x" value 0 must be a bigint in 0..2\^64-1/);
    assert.throws(() => fdt().propU64("x", 1n << 64n), /must be a bigint in 0..2\^64-1/);
    assert.throws(() => fdt().propString("x", "a\0b"), /must not contain a NUL/);
    assert.throws(() => fdt().propStrings("x", ["a", "b\0"]), /string 1 must not contain a NUL/);
    assert.throws(() => fdt().propStrings("x", []), /needs at least one string/);
    assert.throws(() => new FdtBuilder({ bootCpuidPhys: -2 }), /bootCpuidPhys must be an integer/);
  });
});

describe("buildDeviceTree", () => {
  it("describes a 2-hart machine", () => {
    const m = twoHarts();
    const blob = buildDeviceTree(m);
    const h = checkBlobLayout(blob);
    assert.equal(h.bootCpuidPhys, 0);
    const root = parseDts(decompile(blob).dts);

    assert.deepEqual(strings(root, "compatible"), ["moat,virt"]);
    assert.equal(str(root, "model"), "moat riscv64 virt");
    assert.equal(u32(root, "#address-cells"), 2);
    assert.equal(u32(root, "#size-cells"), 2);

    const chosen = node(root, "/chosen");
    assert.equal(str(chosen, "bootargs"), m.bootargs);
    assert.equal(str(chosen, "stdout-path"), "/soc/serial@10000000");
    assert.deepEqual(u64s(chosen, "linux,initrd-start"), [0x8400_0000n]);
    assert.deepEqual(u64s(chosen, "linux,initrd-end"), [0x8412_3400n]);
    assert.deepEqual([...raw(chosen, "rng-seed")], [...m.rngSeed!]);

    const cpus = node(root, "/cpus");
    assert.equal(u32(cpus, "#address-cells"), 1);
    assert.equal(u32(cpus, "#size-cells"), 0);
    assert.equal(u32(cpus, "timebase-frequency"), 10_000_000);
    assert.deepEqual(
      cpus.children.map((c) => c.name),
      ["cpu@0", "cpu@1", "cpu-map"],
    );
    for (const hart of [0, 1]) {
      const cpu = node(root, `/cpus/cpu@${hart}`);
      assert.equal(str(cpu, "device_type"), "cpu");
      assert.equal(u32(cpu, "reg"), hart);
      assert.equal(str(cpu, "status"), "okay");
      assert.deepEqual(strings(cpu, "compatible"), ["riscv"]);
      assert.equal(str(cpu, "riscv,isa"), "rv64imafdc_zicsr_zifencei");
      assert.equal(str(cpu, "mmu-type"), "riscv,sv48");
      const intc = node(root, `/cpus/cpu@${hart}/interrupt-controller`);
      assert.equal(u32(intc, "#interrupt-cells"), 1);
      assert.equal(raw(intc, "interrupt-controller").length, 0);
      assert.deepEqual(strings(intc, "compatible"), ["riscv,cpu-intc"]);
      assert.ok(intc.props.has("phandle"));
      const core = node(root, `/cpus/cpu-map/cluster0/core${hart}`);
      assert.equal(refPath(root, core, "cpu"), `/cpus/cpu@${hart}`);
    }

    const memory = node(root, "/memory@80000000");
    assert.equal(str(memory, "device_type"), "memory");
    assert.deepEqual(u64s(memory, "reg"), [0x8000_0000n, 0x1000_0000n]);

    const soc = node(root, "/soc");
    assert.deepEqual(strings(soc, "compatible"), ["simple-bus"]);
    assert.equal(raw(soc, "ranges").length, 0);
    assert.equal(u32(soc, "#address-cells"), 2);
    assert.equal(u32(soc, "#size-cells"), 2);

    const intc0 = "/cpus/cpu@0/interrupt-controller";
    const intc1 = "/cpus/cpu@1/interrupt-controller";
    const clint = node(root, "/soc/clint@2000000");
    assert.deepEqual(strings(clint, "compatible"), ["sifive,clint0", "riscv,clint0"]);
    assert.deepEqual(u64s(clint, "reg"), [0x200_0000n, 0x1_0000n]);
    assert.deepEqual(interruptsExtended(root, clint), [
      `${intc0}:3`,
      `${intc0}:7`,
      `${intc1}:3`,
      `${intc1}:7`,
    ]);

    const plic = node(root, "/soc/plic@c000000");
    assert.deepEqual(strings(plic, "compatible"), ["sifive,plic-1.0.0", "riscv,plic0"]);
    assert.deepEqual(u64s(plic, "reg"), [0xc00_0000n, 0x60_0000n]);
    assert.equal(u32(plic, "#address-cells"), 0);
    assert.equal(u32(plic, "#interrupt-cells"), 1);
    assert.equal(raw(plic, "interrupt-controller").length, 0);
    assert.equal(u32(plic, "riscv,ndev"), 31);
    assert.deepEqual(interruptsExtended(root, plic), [
      `${intc0}:11`,
      `${intc0}:9`,
      `${intc1}:11`,
      `${intc1}:9`,
    ]);

    const serial = node(root, "/soc/serial@10000000");
    assert.deepEqual(strings(serial, "compatible"), ["ns16550a"]);
    assert.deepEqual(u64s(serial, "reg"), [0x1000_0000n, 0x100n]);
    assert.equal(u32(serial, "clock-frequency"), 3_686_400);
    assert.equal(u32(serial, "interrupts"), 10);
    assert.equal(refPath(root, serial, "interrupt-parent"), "/soc/plic@c000000");

    const virtio = soc.children.filter((c) => c.name.startsWith("virtio_mmio@"));
    assert.deepEqual(
      virtio.map((c) => c.name),
      ["virtio_mmio@10001000", "virtio_mmio@10004000"],
    );
    for (const [dev, slot] of [
      [virtio[0]!, 0],
      [virtio[1]!, 3],
    ] as const) {
      assert.deepEqual(strings(dev, "compatible"), ["virtio,mmio"]);
      assert.deepEqual(u64s(dev, "reg"), [0x1000_1000n + BigInt(slot) * 0x1000n, 0x1000n]);
      assert.equal(u32(dev, "interrupts"), 1 + slot);
      assert.equal(refPath(root, dev, "interrupt-parent"), "/soc/plic@c000000");
    }

    const rtc = node(root, "/soc/rtc@101000");
    assert.deepEqual(strings(rtc, "compatible"), ["google,goldfish-rtc"]);
    assert.deepEqual(u64s(rtc, "reg"), [0x10_1000n, 0x1000n]);
    assert.equal(u32(rtc, "interrupts"), 11);
    assert.equal(refPath(root, rtc, "interrupt-parent"), "/soc/plic@c000000");

    const test = node(root, "/soc/test@100000");
    assert.deepEqual(strings(test, "compatible"), ["sifive,test1", "sifive,test0", "syscon"]);
    assert.deepEqual(u64s(test, "reg"), [0x10_0000n, 0x1000n]);
    for (const [path, compatible, value] of [
      ["/poweroff", "syscon-poweroff", 0x5555],
      ["/reboot", "syscon-reboot", 0x7777],
    ] as const) {
      const n = node(root, path);
      assert.deepEqual(strings(n, "compatible"), [compatible]);
      assert.equal(refPath(root, n, "regmap"), "/soc/test@100000");
      assert.equal(u32(n, "offset"), 0);
      assert.equal(u32(n, "value"), value);
    }
    // Every phandle is unique (phandles() asserts it) and all are referenced.
    assert.equal(phandles(root).size, 2 + 2 * 2);
  });

  it("passes dtc's checks", () => {
    for (const harts of [1, 2, 8]) {
      const blob = buildDeviceTree({
        ...twoHarts(),
        harts,
        virtio: [0, 1, 2, 3, 4, 5, 6, 7, 8].map((slot) => ({ slot })),
      });
      const { stderr } = decompile(blob);
      const lines = diagnostics(stderr);
      assert.ok(!lines.some((l) => /error/i.test(l)), `dtc reported errors:\n${stderr}`);
      const unexpected = lines.filter((l) => !TOLERATED_WARNING.test(l));
      assert.deepEqual(unexpected, [], `dtc reported unexpected warnings:\n${stderr}`);
    }
  });

  it("round-trips through dtc: dtb -> dts -> dtb -> dts gives the same text", () => {
    const { dts } = decompile(buildDeviceTree(twoHarts()));
    const again = decompile(compile(dts)).dts;
    assert.equal(again, dts);
  });

  it("uses the defaults and honours the options", () => {
    const minimal = parseDts(
      decompile(
        buildDeviceTree({
          harts: 1,
          ramBase: 0x8000_0000n,
          ramSize: 16n * MiB,
          bootargs: "",
          virtio: [],
        }),
      ).dts,
    );
    const chosen = node(minimal, "/chosen");
    assert.deepEqual([...chosen.props.keys()], ["bootargs", "stdout-path"]);
    assert.equal(str(chosen, "bootargs"), "");
    assert.deepEqual(
      node(minimal, "/cpus").children.map((c) => c.name),
      ["cpu@0", "cpu-map"],
    );
    assert.deepEqual(
      node(minimal, "/cpus/cpu-map/cluster0").children.map((c) => c.name),
      ["core0"],
    );
    assert.deepEqual(u64s(node(minimal, "/memory@80000000"), "reg"), [0x8000_0000n, 16n * MiB]);
    assert.ok(!node(minimal, "/soc").children.some((c) => c.name.startsWith("virtio_mmio")));
    assert.deepEqual(interruptsExtended(minimal, node(minimal, "/soc/plic@c000000")), [
      "/cpus/cpu@0/interrupt-controller:11",
      "/cpus/cpu@0/interrupt-controller:9",
    ]);

    const big = parseDts(
      decompile(
        buildDeviceTree({
          harts: 8,
          ramBase: 0x8000_0000n,
          ramSize: 0x1_0000_0000n,
          bootargs: 'quiet "quoted" \\ tab\there',
          virtio: [{ slot: 7 }, { slot: 5 }, { slot: 6 }],
          isa: "rv64imafdch_zicsr_zifencei_zba_zbb",
          mmuType: "riscv,sv39",
        }),
      ).dts,
    );
    assert.equal(str(node(big, "/chosen"), "bootargs"), 'quiet "quoted" \\ tab\there');
    const cpus = node(big, "/cpus").children.filter((c) => c.name.startsWith("cpu@"));
    assert.deepEqual(
      cpus.map((c) => c.name),
      ["cpu@0", "cpu@1", "cpu@2", "cpu@3", "cpu@4", "cpu@5", "cpu@6", "cpu@7"],
    );
    for (const cpu of cpus) {
      assert.equal(str(cpu, "riscv,isa"), "rv64imafdch_zicsr_zifencei_zba_zbb");
      assert.equal(str(cpu, "mmu-type"), "riscv,sv39");
    }
    const plicContexts = interruptsExtended(big, node(big, "/soc/plic@c000000"));
    assert.equal(plicContexts.length, 16);
    assert.equal(plicContexts[14], "/cpus/cpu@7/interrupt-controller:11");
    assert.equal(plicContexts[15], "/cpus/cpu@7/interrupt-controller:9");
    assert.equal(interruptsExtended(big, node(big, "/soc/clint@2000000")).length, 16);
    assert.deepEqual(u64s(node(big, "/memory@80000000"), "reg"), [0x8000_0000n, 0x1_0000_0000n]);
    assert.deepEqual(
      node(big, "/soc")
        .children.filter((c) => c.name.startsWith("virtio_mmio"))
        .map((c) => [c.name, u32(c, "interrupts")]),
      [
        ["virtio_mmio@10006000", 6],
        ["virtio_mmio@10007000", 7],
        ["virtio_mmio@10008000", 8],
      ],
    );
  });

  it("rejects invalid descriptions", () => {
    const cases: [Partial<MachineDescription>, RegExp][] = [
      [{ harts: 0 }, /harts must be an integer in 1\.\.8, got 0/],
      [{ harts: 9 }, /harts must be an integer in 1\.\.8, got 9/],
      [{ harts: 1.5 }, /harts must be an integer in 1\.\.8, got 1\.5/],
      [{ ramSize: 256n * MiB + 512n }, /ramSize must be a multiple of 4 KiB, got 268435968 bytes/],
      [{ ramSize: 8n * MiB }, /ramSize must be at least 16 MiB, got 8388608 bytes/],
      [{ ramBase: 0x8000_0800n }, /ramBase must be 4 KiB aligned and at least 0x80000000/],
      [{ ramBase: 0x4000_0000n }, /ramBase must be 4 KiB aligned and at least 0x80000000/],
      [{ virtio: [{ slot: 1 }, { slot: 1 }] }, /virtio slot 1 is listed more than once/],
      [{ virtio: [{ slot: 9 }] }, /virtio slot must be an integer in 0\.\.8, got 9/],
      [{ virtio: [{ slot: -1 }] }, /virtio slot must be an integer in 0\.\.8, got -1/],
      [
        { initrd: { start: 0x7fff_f000n, end: 0x8010_0000n } },
        /initrd \[0x7ffff000, 0x80100000\) must lie inside RAM \[0x80000000, 0x90000000\)/,
      ],
      [{ initrd: { start: 0x8ff0_0000n, end: 0x9000_1000n } }, /initrd .* must lie inside RAM/],
      [{ initrd: { start: 0x8400_0000n, end: 0x8400_0000n } }, /initrd is empty or reversed/],
      [{ bootargs: "a\0b" }, /bootargs must be a string without NUL/],
      [{ isa: "rv32imac" }, /isa must be a lower-case RISC-V ISA string starting with "rv64"/],
      [
        { mmuType: "riscv,sv32" },
        /mmuType must be one of riscv,sv39, riscv,sv48, riscv,sv57, riscv,none/,
      ],
      [{ rngSeed: new Uint8Array(0) }, /rngSeed must be a non-empty Uint8Array/],
    ];
    for (const [change, message] of cases) {
      const m = { ...twoHarts(), ...change };
      assert.throws(
        () => buildDeviceTree(m),
        (e: unknown) =>
          e instanceof MachineDescriptionError &&
          e.message.startsWith("invalid machine description: ") &&
          message.test(e.message),
        `expected ${message} for ${JSON.stringify(change, (_, v: unknown) => (typeof v === "bigint" ? `0x${v.toString(16)}` : v))}`,
      );
    }
    // The boundaries themselves are fine.
    buildDeviceTree({
      ...twoHarts(),
      harts: 8,
      ramSize: 16n * MiB,
      initrd: { start: 0x8000_0000n, end: 0x8100_0000n },
    });
  });
});

describe("compared with QEMU's virt board", () => {
  // QEMU is required (.ci/run installs it): without it these fail, they do not skip.
  before(() => assert.ok(HAVE_QEMU, NO_QEMU));
  /** QEMU 7.2 has all 8 virtio-mmio transports; give moat the same. */
  const sameAsQemu = (): MachineDescription => ({
    ...twoHarts(),
    virtio: [0, 1, 2, 3, 4, 5, 6, 7].map((slot) => ({ slot })),
  });

  function qemuDtb(): Uint8Array {
    const file = tempFile(".dtb");
    const r = spawnSync(
      "qemu-system-riscv64",
      ["-M", `virt,dumpdtb=${file}`, "-m", "256", "-smp", "2", "-nographic", "-nodefaults"],
      { encoding: "utf8", timeout: 60_000 },
    );
    assert.equal(r.status, 0, `qemu -M virt,dumpdtb failed:\n${r.stderr}`);
    return new Uint8Array(readFileSync(file));
  }

  /** Nodes Linux (and OpenSBI) rely on; both trees must have them. */
  const IMPORTANT_NODES = [
    "/",
    "/chosen",
    "/cpus",
    "/cpus/cpu@0",
    "/cpus/cpu@0/interrupt-controller",
    "/cpus/cpu@1",
    "/cpus/cpu@1/interrupt-controller",
    "/cpus/cpu-map/cluster0/core0",
    "/cpus/cpu-map/cluster0/core1",
    "/memory@80000000",
    "/soc",
    "/soc/clint@2000000",
    "/soc/plic@c000000",
    "/soc/serial@10000000",
    "/soc/test@100000",
    "/soc/rtc@101000",
    ...[1, 2, 3, 4, 5, 6, 7, 8].map((i) => `/soc/virtio_mmio@1000${i}000`),
    "/poweroff",
    "/reboot",
  ];

  /**
   * Properties compared where QEMU's node has them. Intentional
   * differences are left out: the root's compatible/model, riscv,isa (moat
   * implements fewer extensions) and riscv,ndev (QEMU 7.2 has 96 sources).
   */
  const COMPARED_PROPS = [
    "compatible",
    "device_type",
    "reg",
    "status",
    "mmu-type",
    "#address-cells",
    "#size-cells",
    "#interrupt-cells",
    "interrupt-controller",
    "ranges",
    "timebase-frequency",
    "clock-frequency",
    "interrupts",
    "offset",
    "value",
    "stdout-path",
  ];
  /** Properties holding one phandle, compared by the path they point at. */
  const REFERENCE_PROPS = ["interrupt-parent", "regmap", "cpu"];

  it("has the nodes Linux needs, with the same compatible strings and wiring", () => {
    const qemu = parseDts(decompile(qemuDtb()).dts);
    const moat = parseDts(decompile(buildDeviceTree(sameAsQemu())).dts);
    let compared = 0;
    for (const path of IMPORTANT_NODES) {
      assert.ok(hasNode(qemu, path), `QEMU's tree has no ${path} (QEMU version changed?)`);
      assert.ok(hasNode(moat, path), `moat's tree has no ${path}`);
      const q = node(qemu, path);
      const ours = node(moat, path);
      for (const prop of COMPARED_PROPS) {
        if (path === "/" && prop === "compatible") continue;
        if (!q.props.has(prop)) continue;
        assert.ok(ours.props.has(prop), `${path}: QEMU has ${prop}, moat does not`);
        assert.deepEqual(raw(ours, prop), raw(q, prop), `${path}/${prop} differs from QEMU's`);
        compared++;
      }
      for (const prop of REFERENCE_PROPS) {
        if (!q.props.has(prop)) continue;
        assert.equal(
          refPath(moat, ours, prop),
          refPath(qemu, q, prop),
          `${path}/${prop} points elsewhere`,
        );
        compared++;
      }
      if (q.props.has("interrupts-extended")) {
        assert.deepEqual(
          interruptsExtended(moat, ours),
          interruptsExtended(qemu, q),
          `${path}/interrupts-extended differs from QEMU's`,
        );
        compared++;
      }
    }
    assert.ok(compared > 80, `only ${compared} properties compared`);
    // Spot checks that the comparison above really covered the essentials.
    assert.deepEqual(strings(node(qemu, "/soc/plic@c000000"), "compatible"), [
      "sifive,plic-1.0.0",
      "riscv,plic0",
    ]);
    assert.deepEqual(strings(node(qemu, "/soc/clint@2000000"), "compatible"), [
      "sifive,clint0",
      "riscv,clint0",
    ]);
    assert.deepEqual(strings(node(qemu, "/cpus/cpu@0/interrupt-controller"), "compatible"), [
      "riscv,cpu-intc",
    ]);
  });

  it("draws no dtc warning that QEMU's own tree does not", () => {
    const kinds = (stderr: string): Set<string> =>
      new Set(diagnostics(stderr).map((l) => l.replace(/^[^:]*: /, "")));
    const qemuWarnings = kinds(decompile(qemuDtb()).stderr);
    for (const w of kinds(decompile(buildDeviceTree(sameAsQemu())).stderr)) {
      assert.ok(qemuWarnings.has(w), `dtc warns about moat's tree but not QEMU's: ${w}`);
    }
  });

  it("is accepted by the OpenSBI firmware QEMU ships", { timeout: 60_000 }, async () => {
    const dtbFile = tempFile(".dtb");
    writeFileSync(dtbFile, buildDeviceTree(sameAsQemu()));
    const child = spawn(
      "qemu-system-riscv64",
      [
        "-M",
        "virt",
        "-m",
        "256",
        "-smp",
        "2",
        "-bios",
        "default",
        "-dtb",
        dtbFile,
        "-nographic",
        "-nodefaults",
        "-serial",
        "stdio",
        "-monitor",
        "none",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`OpenSBI did not finish booting:\n${output}`)),
          45_000,
        );
        const onData = (chunk: Buffer): void => {
          output += chunk.toString("utf8");
          if (/Boot HART MEDELEG/.test(output)) {
            clearTimeout(timer);
            resolve();
          }
        };
        child.stdout.on("data", onData);
        child.stderr.on("data", onData);
        child.once("exit", (code) => {
          clearTimeout(timer);
          reject(new Error(`qemu exited early (${code}):\n${output}`));
        });
      });
    } finally {
      child.kill("SIGTERM");
      await exited;
    }
    const field = (name: string): string => {
      const m = new RegExp(`^${name}\\s*: (.*)$`, "m").exec(output);
      assert.ok(m, `OpenSBI printed no "${name}":\n${output}`);
      return m[1]!.trim();
    };
    assert.equal(field("Platform Name"), "moat riscv64 virt");
    assert.equal(field("Platform HART Count"), "2");
    assert.equal(field("Platform Console Device"), "uart8250");
    assert.match(field("Platform Timer Device"), /@ 10000000Hz/);
    assert.equal(field("Platform Reboot Device"), "sifive_test");
    assert.equal(field("Platform Shutdown Device"), "sifive_test");
    assert.equal(field("Domain0 HARTs"), "0*,1*");
  });
});
