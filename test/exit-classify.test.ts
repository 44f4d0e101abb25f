// The supervisor's naming of a VM's end (src/host/exit-classify.ts): each kind of end, and
// which fact wins when several hold.
import { test } from "node:test";
import assert from "node:assert/strict";
import { classifyExit } from "../src/host/exit-classify.js";

test("each kind of end: its reason and whether it is a crash", () => {
  const cases: [Parameters<typeof classifyExit>[0], string, boolean][] = [
    [{ killed: "deleted", status: null, signal: "SIGKILL" }, "deleted", false],
    [
      { record: { reason: "panic", detail: "the guest kernel panicked" }, status: 125 },
      "guest panic: the guest kernel panicked",
      true,
    ],
    [{ record: { reason: "halt" }, status: 125 }, "guest halt:", true],
    [
      { shutDown: "the guest shut down (power button)", status: 143 },
      "the guest shut down (power button)",
      false,
    ],
    [
      { requested: "stopped by the operator", status: null, signal: "SIGKILL" },
      "stopped by the operator",
      false,
    ],
    [{ signal: "SIGSEGV", status: null }, "killed by SIGSEGV", true],
    [
      { status: null },
      "the VM process ended while the daemon was not its parent and left no exit record (killed by a signal)",
      true,
    ],
    [{ status: 0 }, "the guest powered off", false],
    [
      { status: 125, lastLogLine: "moat: no such kernel" },
      "the VMM failed: moat: no such kernel",
      true,
    ],
    [{ status: 125, record: { detail: "bad disk" } }, "the VMM failed: bad disk", true],
    [{ status: 125 }, "the VMM failed: no message", true],
    [{ status: 3, record: { detail: "why" } }, "exited with status 3 (why)", true],
    [{ status: 3 }, "exited with status 3", true],
  ];
  for (const [facts, reason, crashed] of cases) {
    assert.deepEqual(classifyExit(facts), { reason, crashed }, JSON.stringify(facts));
  }
});

test("which fact wins: a kill, then the guest's own end, then a shutdown, then a power-off", () => {
  const panic = { reason: "panic", detail: "oops" };
  // the daemon's kill over a panic the guest reported on its way down
  assert.equal(classifyExit({ killed: "deleted", record: panic, status: 125 }).reason, "deleted");
  // a panic while a stop was shutting the guest down is still a crash
  assert.deepEqual(
    classifyExit({
      record: panic,
      shutDown: "the guest shut down",
      requested: "stop",
      status: 125,
    }),
    { reason: "guest panic: oops", crashed: true },
  );
  // the shutdown a stop asked for over the power-off that followed it
  assert.equal(
    classifyExit({ shutDown: "the guest shut down", requested: "powered off", status: 143 }).reason,
    "the guest shut down",
  );
  // a requested stop over the signal it was carried out with
  assert.equal(
    classifyExit({ requested: "powered off", signal: "SIGKILL", status: null }).crashed,
    false,
  );
});
