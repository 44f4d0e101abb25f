// The console log keeps every byte the guest wrote, in order, within its bound: output that
// arrives while a file write is in flight must queue behind it, not replace it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConsoleLog } from "../src/vmm/console-log.js";

function lines(from: number, to: number): string {
  let s = "";
  for (let i = from; i < to; i++) s += `line ${i}\n`;
  return s;
}

test("output written while a file write is in flight is kept, in order", async () => {
  const path = join(mkdtempSync(join(tmpdir(), "moat-log-")), "console.log");
  const log = await ConsoleLog.open({ path, maxBytes: 4 * 1024 * 1024 }, (m) => assert.fail(m));
  // Many small writes, some in the same tick and some in later ticks, as a guest's UART gives.
  for (let i = 0; i < 5000; i++) {
    log.write(Buffer.from(`line ${i}\n`));
    if (i % 97 === 0) await new Promise((r) => setImmediate(r));
  }
  await log.close();
  assert.equal(log.dropped, 0);
  assert.equal(readFileSync(path, "utf8"), lines(0, 5000));
});

test("rotation keeps the newest output, contiguous, within max bytes", async () => {
  const path = join(mkdtempSync(join(tmpdir(), "moat-log-")), "console.log");
  const max = 64 * 1024;
  const log = await ConsoleLog.open({ path, maxBytes: max }, (m) => assert.fail(m));
  for (let i = 0; i < 20000; i++) {
    log.write(Buffer.from(`line ${i}\n`));
    if (i % 50 === 0) await new Promise((r) => setImmediate(r));
  }
  await log.close();
  assert.equal(log.dropped, 0);
  const text =
    (existsSync(`${path}.1`) ? readFileSync(`${path}.1`, "utf8") : "") + readFileSync(path, "utf8");
  assert.ok(text.length <= max, `${text.length} bytes`);
  assert.ok(text.endsWith(lines(19990, 20000)));
  // Everything after the first (possibly cut) line is the exact sequence up to the end.
  const first = Number(/line (\d+)\n/.exec(text.slice(text.indexOf("\n") + 1))![1]);
  assert.ok(text.endsWith(lines(first, 20000)), "no gap in the kept output");
});
