// The control protocol as one typed union (src/vmm/control-protocol.ts): a request that is not
// one (an unknown op, a field missing, of the wrong type, or unknown) is refused at the socket,
// saying which field and why, and changes nothing; every request docs/control.md shows parses;
// a client takes a reply only once it is one (a VMM may be compromised). The socket is the real
// ControlSocket over its devices' real models (no guest is needed to refuse a request).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { control } from "./support/control-client.js";
import { REPO } from "./support/moat-cli.js";
import { ControlSocket } from "../src/vmm/control-socket.js";
import { VmDevices } from "../src/vmm/vm-devices.js";
import {
  CONTROL_OPS,
  MAX_AGENT_TIMEOUT_MS,
  parseControlRequest,
  type ControlRequest,
} from "../src/vmm/control-protocol.js";
import { KEY_FIRST, KEY_LAST } from "../src/devices/virtio/input.js";
import { AGENT_COMMAND_NAMES } from "../src/agent/agent-commands.js";
import { vmmCall, VmmCallError } from "../src/host/vmm-client.js";

const OPS = CONTROL_OPS.join(", ");

/**
 * A control socket of a VM with a disk, a balloon (256 MiB of RAM), a display and an agent.
 * `changes` counts what requests have done to the VM: balloon targets set, disk limits replaced.
 */
async function controlSocket() {
  const dir = mkdtempSync(join(tmpdir(), "moat-ctlproto-"));
  const disk = join(dir, "d.img");
  writeFileSync(disk, Buffer.alloc(1 << 20));
  const devices = await VmDevices.open({
    disks: [{ path: disk, readOnly: false, format: "raw" }],
    nets: [],
    balloon: { ramBytes: 256 << 20 },
    display: { width: 640, height: 480 },
    agent: { allow: new Set(["ping"]) },
  });
  const changes: string[] = [];
  const blk = devices.blks[0]!;
  const setLimits = blk.setLimits.bind(blk);
  blk.setLimits = (l) => {
    changes.push("vda limits");
    setLimits(l);
  };
  const path = join(dir, "ctl.sock");
  const ctl = await ControlSocket.listen(path, devices);
  return {
    path,
    devices,
    /** What requests have changed: each call of the disk's setLimits, the balloon's target. */
    changes: () => [...changes, `balloon ${devices.balloon!.targetMiB} MiB`],
    close: async () => {
      await ctl.close();
      await devices.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Sends each request on one connection to a fresh VM's control socket: each is refused with
 * "kind":"request" and its error, and nothing changes.
 */
async function refusedAtTheSocket(cases: [object | string, string][]): Promise<void> {
  const s = await controlSocket();
  try {
    const replies = await control(s.path, [...cases.map(([req]) => req), { op: "status" }]);
    for (const [i, [req, error]] of cases.entries())
      assert.deepEqual(replies[i], { ok: false, kind: "request", error }, JSON.stringify(req));
    assert.deepEqual(s.changes(), ["balloon 0 MiB"], "nothing changed");
    assert.equal(replies.at(-1)!.ok, true, "the socket still answers");
  } finally {
    await s.close();
  }
}

test("control socket: a bad op is refused", () =>
  refusedAtTheSocket([
    [{ op: "reboot" }, `unknown op "reboot" (${OPS})`],
    [{ op: "toString" }, `unknown op "toString" (${OPS})`],
    [{ target_mib: 64 }, `unknown op undefined (${OPS})`],
    ["[]", "a request is a JSON object with an op"],
  ]));

test("control socket: a request without a field its op needs is refused, naming the field", () =>
  refusedAtTheSocket([
    [{ op: "balloon" }, "target_mib: missing (a whole number of MiB)"],
    [{ op: "key" }, `code: missing (a Linux key code, ${KEY_FIRST}-${KEY_LAST})`],
    [{ op: "limits", bps: 1 }, "device: missing (vda..vdh or eth0..eth3)"],
    [{ op: "agent" }, `command: missing (one of ${AGENT_COMMAND_NAMES.join(", ")})`],
  ]));

test("control socket: a field of the wrong type or out of its range is refused, saying what it must be", () =>
  refusedAtTheSocket([
    [{ op: "balloon", target_mib: "64" }, "target_mib: a whole number of MiB"],
    [{ op: "balloon", target_mib: 64.5 }, "target_mib: a whole number of MiB"],
    [{ op: "key", code: 30, down: "yes" }, "down: true or false"],
    [{ op: "key", code: KEY_LAST + 1 }, `code: a Linux key code, ${KEY_FIRST}-${KEY_LAST}`],
    [
      { op: "limits", device: "vda", iops: "100" },
      "iops: a positive whole number, or null to lift the limit",
    ],
    [
      { op: "limits", device: "vda", bps: 2 ** 50 },
      "bps: a positive whole number, or null to lift the limit",
    ],
    [{ op: "limits", device: 0 }, "device: vda..vdh or eth0..eth3"],
    [{ op: "limits", device: "vdz" }, "device: vda..vdh or eth0..eth3"],
    [{ op: "agent", command: "ping", timeout_ms: 99 }, `timeout_ms: 100..${MAX_AGENT_TIMEOUT_MS}`],
    [
      { op: "agent", command: "ping", timeout_ms: null },
      `timeout_ms: 100..${MAX_AGENT_TIMEOUT_MS}`,
    ],
    [{ op: "agent", command: "ping", arguments: [] }, "arguments: a JSON object"],
  ]));

test("control socket: a field its op does not have is refused, not ignored", () =>
  refusedAtTheSocket([
    [
      { op: "balloon", target_mib: 64, force: true },
      "force: not a field of op balloon (its fields: target_mib)",
    ],
    [{ op: "status", verbose: true }, "verbose: not a field of op status (it has none)"],
    [
      { op: "limits", device: "vda", pps: 10 },
      "pps: not a field of op limits (its fields: device, bps, iops)",
    ],
    [
      { op: "limits", device: "eth0", iops: 10 },
      "iops: not a field of op limits (its fields: device, bps, pps)",
    ],
    ['{"op":"stop","__proto__":{}}', "__proto__: not a field of op stop (it has none)"],
  ]));

test("control socket: the same requests, valid, are taken", async () => {
  const s = await controlSocket();
  try {
    const replies = await control(s.path, [
      { op: "balloon", target_mib: 64 },
      { op: "key", code: 30, down: true },
      { op: "limits", device: "vda", iops: 100 },
    ]);
    assert.deepEqual(replies, [
      { ok: true, balloon: { target_mib: 64, actual_mib: 0, reported_mib: 0 } },
      { ok: true },
      { ok: true },
    ]);
    assert.deepEqual(s.changes(), ["vda limits", "balloon 64 MiB"]);
  } finally {
    await s.close();
  }
});

/** The requests docs/control.md's table shows (its first column), placeholders given values. */
function documentedRequests(): string[] {
  const doc = readFileSync(join(REPO, "docs/control.md"), "utf8");
  const cells = [...doc.matchAll(/^\| (`\{"op":.*?) \|/gm)].map((m) => m[1]!);
  return cells.flatMap((cell) =>
    [...cell.matchAll(/`(\{[^`]*\})`/g)].map((m) =>
      m[1]!
        .replace(/\{\.\.\.\}/g, "{}")
        .replace(/:N\b/g, ":100")
        .replace(/:B\b/g, ":true")
        .replace(/:C\b/g, ':"ping"'),
    ),
  );
}

test("control protocol: every request docs/control.md shows parses, and it shows every op", () => {
  const shown = documentedRequests();
  const ops = new Set<string>();
  for (const text of shown) {
    const r = parseControlRequest(JSON.parse(text));
    ops.add(r.op);
  }
  assert.deepEqual([...ops].sort(), [...CONTROL_OPS].sort(), shown.join("\n"));
});

test("control protocol: what a valid request is, field by field", () => {
  const valid: ControlRequest[] = [
    { op: "limits", device: "vdh", bps: null, iops: 1 },
    { op: "limits", device: "eth3", pps: 2 ** 50 - 1 },
    { op: "limits", device: "vda" },
    { op: "key", code: KEY_FIRST, down: false },
    { op: "balloon", target_mib: 0 },
    { op: "agent", command: "exec", arguments: { argv: ["true"] }, timeout_ms: 100 },
    { op: "agent", command: "shutdown", timeout_ms: MAX_AGENT_TIMEOUT_MS },
  ];
  for (const r of valid) assert.deepEqual(parseControlRequest(structuredClone(r)), r);
  for (const [value, error] of [
    [null, /^a request is a JSON object with an op$/],
    ["status", /^a request is a JSON object with an op$/],
    [{ op: "agent", command: "rm" }, /^command: one of ping, /],
    [{ op: "agent", command: "ping", timeout_ms: MAX_AGENT_TIMEOUT_MS + 1 }, /^timeout_ms: /],
    [{ op: "limits", device: "eth4" }, /^device: vda\.\.vdh or eth0\.\.eth3$/],
    [{ op: "limits", device: "vda", bps: 0 }, /^bps: a positive whole number/],
    [
      { op: "key", code: 30, extra: 1 },
      /^extra: not a field of op key \(its fields: code, down\)$/,
    ],
  ] as const)
    assert.throws(() => parseControlRequest(value), { message: error }, JSON.stringify(value));
});

test("vmmCall: each op's reply from a real control socket is taken as its type", async () => {
  const s = await controlSocket();
  try {
    const status = await vmmCall(s.path, { op: "status" });
    assert.equal(status.ok, true);
    assert.equal(status.state, "running");
    // No VM yet behind this socket: it says so (a daemon waits for a VM that runs).
    assert.equal(status.starting, true);
    assert.deepEqual(status.agent?.allow, ["ping"]);
    const metrics = await vmmCall(s.path, { op: "metrics" });
    assert.equal(metrics.ok, true);
    assert.deepEqual(
      metrics.disks.map((d) => d.name),
      ["vda"],
    );
    const stats = await vmmCall(s.path, { op: "balloon-stats" });
    assert.equal(stats.ok, true);
    assert.equal(stats.fresh, false, "no guest to send them");
    const set = await vmmCall(s.path, { op: "balloon", target_mib: 32 });
    assert.equal(set.ok, true);
    assert.equal(set.balloon.target_mib, 32);
    assert.deepEqual(await vmmCall(s.path, { op: "limits", device: "vda", bps: 4096 }), {
      ok: true,
    });
    assert.deepEqual(await vmmCall(s.path, { op: "key", code: 30 }), { ok: true });
    // Refusals are replies too: the VMM's own, and a request the socket refuses.
    const shot = await vmmCall(s.path, { op: "screenshot" });
    assert.equal(shot.ok, false);
    assert.match(shot.error, /shows nothing on its display yet/);
    const pause = await vmmCall(s.path, { op: "pause" });
    assert.equal(pause.ok, false);
    assert.match(pause.error, /not running yet/);
    const agent = await vmmCall(s.path, { op: "agent", command: "ping", timeout_ms: 100 });
    assert.equal(agent.ok, false, "no guest agent to answer");
  } finally {
    await s.close();
  }
});

test("vmmCall: a reply that is not its op's (a compromised VMM's) is refused, naming the field", async () => {
  const dir = mkdtempSync(join(tmpdir(), "moat-ctlproto-"));
  const path = join(dir, "fake.sock");
  // What this VMM answers, whatever it is asked.
  let answer = "";
  const server = net.createServer((c) => c.once("data", () => c.end(answer + "\n")));
  await new Promise<void>((r) => server.listen(path, r));
  try {
    const call = async (reply: object, req: ControlRequest = { op: "status" }) => {
      answer = JSON.stringify(reply);
      return vmmCall(path, req, 2000);
    };
    const notOne = (op: string, why: string) => (e: Error) => {
      assert.ok(e instanceof VmmCallError, String(e));
      assert.equal(e.message, `a reply to ${op} that is not one: ${why}`);
      return true;
    };
    const tids = { ok: true, state: "running", nets: [], vcpu_tids: ["1; rm -rf /"] };
    await assert.rejects(call(tids), notOne("status", "vcpu_tids.0 must be integer"));
    await assert.rejects(
      call({ ok: true, nets: [] }),
      notOne("status", "it must have required property 'state'"),
    );
    await assert.rejects(
      call({ ok: false }),
      notOne("status", "it must have required property 'error'"),
    );
    await assert.rejects(
      call({ ok: true, width: 1, height: 1, png: 7 }, { op: "screenshot" }),
      notOne("screenshot", "png must be string"),
    );
    await assert.rejects(
      call(
        { ok: true, exits: { io: "many" }, disks: [], nets: [], console_dropped_bytes: 0 },
        {
          op: "metrics",
        },
      ),
      notOne("metrics", "exits.io must be number"),
    );
    // A refusal, and a reply with fields this moat does not know, are taken.
    assert.deepEqual(await call({ ok: false, error: "no", kind: "policy" }), {
      ok: false,
      error: "no",
      kind: "policy",
    });
    const newer = { ok: true, state: "paused", nets: [], spare: 1 };
    assert.deepEqual(await call(newer), newer);
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
