// The host end of the guest-agent protocol against hostile replies. The stream scanner is the
// real parser; the "guest" here is a small script that answers as qemu-guest-agent frames its
// replies (the real agent is tested in test/guest-agent.test.ts), and may instead send
// anything: huge, deep, truncated, binary, interleaved or never-ending replies. After each, no
// exception escapes, memory held stays bounded, and the next call works.
import { test } from "node:test";
import { guestArgvOrder } from "../src/cli/guest-commands.js";
import assert from "node:assert/strict";
import fc from "fast-check";
import { JsonStream, MAX_DEPTH, MAX_REPLY_BYTES } from "../src/agent/json-stream.js";
import { AgentClient, AgentError, MAX_REQUEST_BYTES } from "../src/agent/agent-client.js";
import { agentPolicy, DEFAULT_AGENT_ALLOW } from "../src/agent/agent-commands.js";
import {
  guestExec,
  MAX_EXEC_INPUT_BYTES,
  MAX_EXEC_REQUEST_BYTES,
} from "../src/agent/guest-exec.js";

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

test("the scanner: values in any split, 0xFF restarts, bounds on size and depth", () => {
  const s = new JsonStream();
  const text = '{"return": {"a": "}{\\"", "b": [1, {"c": 2}]}}\n{"return": 7}';
  // Byte by byte: the same two values.
  const events = [...enc(text)].flatMap((b) => s.push(new Uint8Array([b])));
  assert.deepEqual(events, [
    { kind: "value", value: { return: { a: '}{"', b: [1, { c: 2 }] } } },
    { kind: "value", value: { return: 7 } },
  ]);
  // A partial value, then 0xFF: it is dropped and the next value comes clean.
  assert.deepEqual(s.push(new Uint8Array([...enc('{"return": "hal'), 0xff, ...enc('{"x":1}')])), [
    { kind: "sync" },
    { kind: "value", value: { x: 1 } },
  ]);
  // Too deep: refused at depth MAX_DEPTH + 1, then everything up to the next 0xFF skipped.
  const deep = "[".repeat(MAX_DEPTH + 5);
  const ev = s.push(enc(`{"a":${deep}`));
  assert.deepEqual(ev, [{ kind: "bad", reason: `nested deeper than ${MAX_DEPTH}` }]);
  assert.deepEqual(s.push(enc('{"ignored":1}')), []);
  assert.deepEqual(s.push(new Uint8Array([0xff, ...enc('{"ok":1}')])), [
    { kind: "sync" },
    { kind: "value", value: { ok: 1 } },
  ]);
  // Too large: refused as soon as it passes the bound, nothing kept.
  const big = `{"return": "${"x".repeat(MAX_REPLY_BYTES)}"}`;
  const r = s.push(enc(big));
  assert.deepEqual(r, [{ kind: "bad", reason: `larger than ${MAX_REPLY_BYTES} bytes` }]);
  assert.equal(s.pending, 0);
  // Balanced but not JSON: that value fails alone.
  s.push(new Uint8Array([0xff]));
  const nj = s.push(enc('{abc}{"y":2}'));
  assert.equal(nj[0]!.kind, "bad");
  assert.deepEqual(nj[1], { kind: "value", value: { y: 2 } });
});

/**
 * A guest that answers like qemu-guest-agent: guest-sync-delimited with 0xFF and its id, other
 * commands from `answers`; `hostile` may replace the next reply with raw bytes.
 */
class FakeGuest {
  client: AgentClient;
  hostile: Uint8Array[] = [];
  silent = false;
  requests: Record<string, unknown>[] = [];
  private buf = "";
  constructor(private readonly answers: Record<string, unknown>) {
    this.client = new AgentClient((b) => this.fromHost(b));
    this.client.guestOpen(true);
  }
  private reply(bytes: Uint8Array): void {
    setImmediate(() => this.client.data(bytes));
  }
  private fromHost(b: Uint8Array): void {
    // qemu-ga resets its parser at 0xFF.
    const text = Buffer.from(b.filter((x) => x !== 0xff)).toString();
    this.buf += text;
    let nl;
    while ((nl = this.buf.indexOf("\n")) >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      const req = JSON.parse(line) as { execute: string; arguments?: { id?: number } };
      this.requests.push(req);
      if (this.silent) continue;
      if (req.execute === "guest-sync-delimited") {
        this.reply(
          new Uint8Array([0xff, ...enc(JSON.stringify({ return: req.arguments!.id }) + "\n")]),
        );
        continue;
      }
      const h = this.hostile.shift();
      if (h) {
        this.reply(h);
        continue;
      }
      const a = this.answers[req.execute];
      this.reply(
        enc(
          JSON.stringify(
            a === undefined
              ? {
                  error: {
                    class: "CommandNotFound",
                    desc: `The command ${req.execute} has not been found`,
                  },
                }
              : { return: a },
          ) + "\n",
        ),
      );
    }
  }
}

test("calls: synced first, replies matched, guest errors reported, a closed port fails at once", async () => {
  const g = new FakeGuest({ "guest-ping": {}, "guest-get-host-name": { "host-name": "g1" } });
  assert.deepEqual(await g.client.call("guest-ping"), {});
  assert.equal(g.requests[0]!.execute, "guest-sync-delimited", "the first call syncs");
  assert.deepEqual(await g.client.call("guest-get-host-name"), { "host-name": "g1" });
  assert.equal(g.requests.length, 3, "no resync while in step");
  await assert.rejects(
    g.client.call("guest-nothing"),
    (e: AgentError) => e.failure === "guest" && /has not been found/.test(e.message),
  );
  assert.deepEqual(
    await g.client.call("guest-ping"),
    {},
    "an error reply keeps the stream in step",
  );
  g.client.guestOpen(false);
  await assert.rejects(g.client.call("guest-ping"), (e: AgentError) => e.failure === "gone");
  g.client.guestOpen(true);
  assert.deepEqual(await g.client.call("guest-ping"), {}, "reconnected: synced again");
});

test("a silent agent: each call times out, the next resyncs; unasked replies are dropped", async () => {
  const g = new FakeGuest({ "guest-ping": {} });
  g.silent = true;
  await assert.rejects(
    g.client.call("guest-ping", undefined, 200),
    (e: AgentError) => e.failure === "timeout",
  );
  g.silent = false;
  // Stale replies arriving late and unasked objects are not taken for the next reply.
  g.client.data(enc('{"return": "stale"}\n{"event": "x"}\n'));
  assert.ok(g.client.unsolicited >= 2);
  assert.deepEqual(await g.client.call("guest-ping"), {});
});

test("property: hostile replies never crash the client, memory stays bounded, the next call works", async () => {
  const hostileReply = fc.oneof(
    fc.uint8Array({ maxLength: 4096 }), // binary
    fc.string({ maxLength: 2000 }).map(enc), // text, often not JSON
    fc.integer({ min: 1, max: 200 }).map((d) => enc(`{"return":${"[".repeat(d)}`)), // deep, truncated
    fc.integer({ min: 1, max: 3 }).map((n) => enc(`{"return":"${"A".repeat(n * 400_000)}"}`)), // huge
    fc.json().map((j) => enc(j)), // valid JSON of any shape
    fc.constant(enc('{"return": "never-ending ')), // never ends
    fc.tuple(fc.json(), fc.json()).map(([a, b]) => enc(`${a}\xff${b}`)), // interleaved markers
  );
  await fc.assert(
    fc.asyncProperty(hostileReply, async (bytes) => {
      const g = new FakeGuest({ "guest-ping": {}, "guest-info": { version: "x" } });
      assert.deepEqual(await g.client.call("guest-ping", undefined, 2000), {});
      g.hostile.push(bytes);
      try {
        await g.client.call("guest-info", undefined, 300);
      } catch (e) {
        assert.ok(e instanceof AgentError, String(e));
      }
      // Nothing larger than one reply is ever held.
      assert.ok((g.client as unknown as { stream: JsonStream }).stream.pending <= MAX_REPLY_BYTES);
      // The next call works: resynced if needed.
      assert.deepEqual(await g.client.call("guest-ping", undefined, 2000), {});
    }),
    { numRuns: 60 },
  );
});

test("a flood of unasked bytes: dropped as it comes, never kept", () => {
  const c = new AgentClient(() => {});
  c.guestOpen(true);
  const chunk = enc('{"return": 1}'.repeat(1000));
  for (let i = 0; i < 200; i++) c.data(chunk);
  assert.equal(c.unsolicited, 200_000);
  const never = new Uint8Array(64 * 1024).fill(0x5b); // "[[[[": deeper than the bound at once
  c.data(enc('{"x":'));
  for (let i = 0; i < 100; i++) c.data(never);
  assert.equal((c as unknown as { stream: JsonStream }).stream.pending, 0);
});

test("exec: output and status from guest-exec-status, polled until it ends", async () => {
  let polls = 0;
  const g = new FakeGuest({ "guest-exec": { pid: 42 } });
  const c = g.client;
  const realCall = c.call.bind(c);
  c.call = (cmd, args, t) => {
    if (cmd === "guest-exec-status") {
      assert.deepEqual(args, { pid: 42 });
      return Promise.resolve(
        ++polls < 3
          ? { exited: false }
          : { exited: true, exitcode: 3, "out-data": Buffer.from("hi\n").toString("base64") },
      );
    }
    return realCall(cmd, args, t);
  };
  const r = await guestExec(c, ["/bin/sh", "-c", "echo hi; exit 3"], { timeoutMs: 5000 });
  assert.equal(r.exitCode, 3);
  assert.equal(r.stdout.toString(), "hi\n");
  assert.equal(polls, 3);
  const sent = g.requests.find((q) => q.execute === "guest-exec")!;
  assert.deepEqual(sent.arguments, {
    path: "/bin/sh",
    arg: ["-c", "echo hi; exit 3"],
    "capture-output": true,
  });
});

/** argv for `sh -c` whose JSON, with `inputBytes` of stdin as base64, takes exactly `total`. */
function execOfSize(total: number, inputBytes: number): string[] {
  const room = total - 4 * Math.ceil(inputBytes / 3) - JSON.stringify(["sh", "-c", ""]).length;
  // Quotes and two-byte characters: JSON and UTF-8 make them larger than they look.
  const pad = '"é'.repeat(Math.floor(room / 4)) + "x".repeat(room % 4);
  const argv = ["sh", "-c", pad];
  assert.equal(Buffer.byteLength(JSON.stringify(argv)) + 4 * Math.ceil(inputBytes / 3), total);
  return argv;
}

test("exec: argv and stdin together are bounded by one request (MAX_EXEC_REQUEST_BYTES), refused before anything is sent", async () => {
  const g = new FakeGuest({
    "guest-exec": { pid: 7 },
    "guest-exec-status": { exited: true, exitcode: 0 },
  });
  const input = new Uint8Array(MAX_EXEC_INPUT_BYTES).fill(0x41);
  // At the bound: sent, and the request the agent gets fits its bound with room to spare.
  const at = execOfSize(MAX_EXEC_REQUEST_BYTES, input.length);
  assert.equal((await guestExec(g.client, at, { timeoutMs: 5000, input })).exitCode, 0);
  const sent = g.requests.find((q) => q.execute === "guest-exec")!;
  assert.ok(Buffer.byteLength(JSON.stringify(sent)) <= MAX_REQUEST_BYTES);
  // One byte past it, and far past it (the argv alone under 64 KiB): refused with the bound.
  for (const total of [MAX_EXEC_REQUEST_BYTES + 1, MAX_EXEC_REQUEST_BYTES + 20_000]) {
    const before = g.requests.length;
    await assert.rejects(
      guestExec(g.client, execOfSize(total, input.length), { timeoutMs: 5000, input }),
      (e: Error) =>
        e instanceof RangeError &&
        e.message.includes(`take ${total} bytes`) &&
        e.message.includes(`${MAX_EXEC_REQUEST_BYTES} one request carries`),
    );
    assert.equal(g.requests.length, before, "nothing sent");
  }
});

test("a request is bounded in bytes, not characters (MAX_REQUEST_BYTES)", async () => {
  const g = new FakeGuest({ "guest-ping": {} });
  assert.deepEqual(await g.client.call("guest-ping"), {});
  const before = g.requests.length;
  // Fewer characters than the bound, more bytes.
  const pad = "é".repeat(MAX_REQUEST_BYTES / 2);
  await assert.rejects(
    g.client.call("guest-ping", { pad }),
    (e: AgentError) => e.failure === "protocol" && /larger than 65536 bytes/.test(e.message),
  );
  assert.equal(g.requests.length, before, "nothing sent");
  assert.deepEqual(await g.client.call("guest-ping"), {}, "the next call works");
});

test("policies: the default is read-only information and shutdown; classes expand", () => {
  assert.ok(DEFAULT_AGENT_ALLOW.includes("info") && DEFAULT_AGENT_ALLOW.includes("shutdown"));
  assert.ok(!DEFAULT_AGENT_ALLOW.includes("exec") && !DEFAULT_AGENT_ALLOW.includes("file-write"));
  assert.ok(!DEFAULT_AGENT_ALLOW.includes("fsfreeze-freeze"));
  assert.deepEqual([...agentPolicy(["exec"])].sort(), ["exec", "exec-status"]);
  assert.throws(() => agentPolicy(["rm-rf"]), /not a guest-agent command/);
});

test("moat guest VM info is read as moat guest info VM; a VM named like a subcommand is left alone", () => {
  const a = (...w: string[]) => guestArgvOrder(["node", "moat", ...w]).slice(2);
  assert.deepEqual(a("guest", "web1", "info"), ["guest", "info", "web1"]);
  assert.deepEqual(a("guest", "web1", "fsfreeze"), ["guest", "fsfreeze", "web1"]);
  assert.deepEqual(a("guest", "web1", "call", "users"), ["guest", "call", "web1", "users"]);
  assert.deepEqual(a("guest", "info", "web1"), ["guest", "info", "web1"]);
  assert.deepEqual(a("guest", "info", "thaw"), ["guest", "info", "thaw"]);
  assert.deepEqual(a("exec", "guest", "web1", "info"), ["exec", "guest", "web1", "info"]);
  assert.deepEqual(a("--socket", "/s", "guest", "web1", "thaw"), [
    "--socket",
    "/s",
    "guest",
    "thaw",
    "web1",
  ]);
});
