// The daemon's stop (src/host/guest-shutdown.ts), the parts that need no VM: its wait for a VM
// process leaves no timer behind once the process has ended (a stop's grace can be an hour), and
// the reason recorded for a VM that powered itself off follows what its exit record says.
// The stop itself, against real guests: vm-stop.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { endedWithin, shutDownReason, type AskedBy } from "../src/host/guest-shutdown.js";

const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;

test("endedWithin: true when the process ends first, false after the time; no timer outlives it", async () => {
  const before = timers();
  let end!: () => void;
  const exited = new Promise<void>((r) => (end = r));
  const waiting = endedWithin(exited, 30_000);
  assert.equal(timers(), before + 1);
  end();
  assert.equal(await waiting, true);
  assert.equal(
    timers(),
    before,
    "its timer is cleared when the process ends (a grace time can be an hour)",
  );
  assert.equal(await endedWithin(new Promise<void>(() => {}), 10), false);
  assert.equal(timers(), before);
});

test("shutDownReason: a guest that powered off after a stop asked it is named by how it did", () => {
  const poweroff = { reason: "poweroff" };
  const asked = (...a: AskedBy[]): Set<AskedBy> => new Set(a);
  const button = "shut down by the operator (power button)";
  const agent = "shut down by the operator through the guest agent";
  assert.equal(shutDownReason(asked("power button"), poweroff, 143), button);
  // systemd powers off with 0 on the button too.
  assert.equal(shutDownReason(asked("power button"), poweroff, 0), button);
  assert.equal(shutDownReason(asked("guest agent"), poweroff, 0), agent);
  // Both asked: the shipped /init's 143 is the button's, its 0 the agent's.
  assert.equal(shutDownReason(asked("guest agent", "power button"), poweroff, 143), button);
  assert.equal(shutDownReason(asked("guest agent", "power button"), poweroff, 0), agent);
  // Not a shutdown: nothing asked, a panic, powered off by the VMM (the hard phase), no record.
  assert.equal(shutDownReason(asked(), poweroff, 143), undefined);
  assert.equal(shutDownReason(asked("power button"), { reason: "panic" }, 125), undefined);
  assert.equal(shutDownReason(asked("power button"), { reason: "stopped" }, 143), undefined);
  assert.equal(shutDownReason(asked("power button"), undefined, null), undefined);
});
