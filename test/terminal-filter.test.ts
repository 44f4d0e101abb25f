// What of a hostile guest's output reaches an operator's terminal: the sequences a terminal
// would act on against the operator (clipboard, links, reports, extensions) never do, in either
// policy, however the stream is split; what a console or a log needs does.
import { test } from "node:test";
import assert from "node:assert/strict";
import { CSI_MAX, TerminalFilter, type TerminalPolicy } from "../src/vmm/terminal-filter.js";

/** The filter's output for `s` fed whole, and fed one byte at a time (they must agree). */
function run(policy: TerminalPolicy, s: string | Uint8Array): string {
  const bytes = typeof s === "string" ? Buffer.from(s, "utf8") : Buffer.from(s);
  const whole = new TerminalFilter(policy).write(bytes);
  const f = new TerminalFilter(policy);
  const parts: Buffer[] = [];
  for (const b of bytes) parts.push(f.write(Uint8Array.of(b)));
  assert.deepEqual(Buffer.concat(parts), whole, "the same however it is split");
  return whole.toString("latin1");
}

const E = "\x1b";
const hostile: [string, string][] = [
  ["OSC 52 clipboard, BEL", `${E}]52;c;ZWNobyBwd25lZA==\x07`],
  ["OSC 52 clipboard, ST", `${E}]52;c;ZWNobyBwd25lZA==${E}\\`],
  ["OSC 8 link", `${E}]8;;https://evil.example/${E}\\click${E}]8;;${E}\\`],
  ["OSC title", `${E}]0;sudo rm -rf /\x07`],
  ["DCS DECRQSS", `${E}P$qm${E}\\`],
  ["APC", `${E}_Gf=100;AAAA${E}\\`],
  ["PM", `${E}^private${E}\\`],
  ["SOS", `${E}Xstart${E}\\`],
  ["CSI 21 t title report", `${E}[21t`],
  ["CSI 8 t resize", `${E}[8;100;100t`],
];
// C1 controls written as UTF-8 (U+0080–U+009F) start sequences in some terminals: they are
// dropped, and what followed them is plain text.
const c1: [string, string][] = [
  ["\u009b21t", "21t"],
  ["\u009d52;c;AAAA\u009c", "52;c;AAAA"],
  ["\u0090$qm\u009c", "$qm"],
];

test("log policy: text, newlines, tabs and SGR colours pass; every other sequence and control is dropped", () => {
  const ok = `plain ${E}[1;31mred${E}[0m ${E}[38;2;1;2;3mrgb${E}[m\ttab\r\nline\bX caf\u00e9 \u00a9`;
  assert.equal(run("log", ok), Buffer.from(ok, "utf8").toString("latin1"));
  for (const [what, seq] of hostile) {
    const f = new TerminalFilter("log");
    const out = f.write(Buffer.from(`a${seq}b`, "utf8")).toString("latin1");
    assert.equal(out.replace("click", ""), "ab", what);
    assert.ok(f.dropped >= 1, `${what}: counted`);
  }
  for (const [seq, left] of c1) assert.equal(run("log", `a${seq}b`), `a${left}b`, seq);
  const dropped = [
    `${E}[6n`, // cursor position report: the reply would be typed into the operator's shell
    `${E}[c`, // device attributes report
    `${E}[?1049h`, // private mode
    `${E}[2J`, // clear screen
    `${E}c`, // full reset
    `${E}(0`, // line-drawing charset: the rest of the log unreadable
    `${E}[1;31;>m`, // SGR-looking with a private byte
    "\x07\x00\x0e\x7f",
  ];
  for (const seq of dropped) assert.equal(run("log", `a${seq}b`), "ab", JSON.stringify(seq));
});

test("interactive policy: cursor, modes and ESC sequences pass; strings, window reports and C1 are dropped", () => {
  const ok = `${E}[?1049h${E}[2J${E}[H${E}7${E}(0qq${E}(B${E}8${E}[6n${E}[?25l\x07\x08x${E}[1;31mred${E}[0m`;
  assert.equal(run("interactive", ok), ok);
  for (const [what, seq] of hostile) {
    const out = run("interactive", `a${seq}b`);
    assert.equal(out.replace("click", ""), "ab", what);
  }
  for (const [seq, left] of c1) assert.equal(run("interactive", `a${seq}b`), `a${left}b`, seq);
});

test("a string swallows what follows until it ends, as in a terminal; ESC in it starts a new sequence", () => {
  // Nothing of an unfinished OSC leaks, whatever comes (a terminal would keep it too).
  assert.equal(run("interactive", `a${E}]52;c;${"A".repeat(5000)}\r\nmore text`), "a");
  // BEL ends an OSC but not a DCS: after a DCS, BEL and text stay in the string.
  assert.equal(run("interactive", `a${E}P$q\x07m${E}\\b`), "ab");
  assert.equal(run("interactive", `a${E}]0;t\x07b`), "ab");
  // CAN and SUB cancel; ESC ends the string and its next byte starts a sequence.
  assert.equal(run("interactive", `a${E}]52;c;AA\x18b`), "ab");
  assert.equal(run("interactive", `a${E}_x${E}[1mb`), `a${E}[1mb`);
  assert.equal(run("log", `a${E}_x${E}[1mb`), `a${E}[1mb`);
});

test("bounds: a CSI longer than CSI_MAX is dropped to its final byte; held bytes stay within the bound", () => {
  const f = new TerminalFilter("interactive");
  const long = `${E}[${"1;".repeat(CSI_MAX)}H`;
  let out = "";
  for (const b of Buffer.from(`a${long}b`)) {
    out += f.write(Uint8Array.of(b)).toString("latin1");
    assert.ok(f.heldBytes <= CSI_MAX + 1, `${f.heldBytes} bytes held`);
  }
  assert.equal(out, "ab");
  // A lone UTF-8 lead byte 0xc2 is held until the next byte says what it is.
  const g = new TerminalFilter("log");
  assert.equal(g.write(Uint8Array.of(0x61, 0xc2)).length, 1);
  assert.deepEqual([...g.write(Uint8Array.of(0xa9))], [0xc2, 0xa9]);
  assert.equal(g.write(Uint8Array.of(0xc2, 0x9b, 0x36, 0x6e)).toString(), "6n");
  // A lone 0xc2 before a dropped sequence must not pair with the byte after it into U+009D.
  const lone = Buffer.concat([Buffer.of(0xc2), Buffer.from(`${E}]x\x07`), Buffer.of(0x9d)]);
  for (const p of ["log", "interactive"] as const)
    assert.ok(!run(p, lone).includes("\u00c2\u009d"), `${p}: no C1 made of the pieces`);
});
