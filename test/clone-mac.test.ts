// Clones of a snapshot with a NIC (docs/snapshot.md "Clones"), on a real TAP device: a guest
// that configured eth0 and pinged the host is snapshotted. A restore without --clone is its
// parent again: the same MAC, and its frames still pass (the device takes the snapshot's MAC).
// Ten `--restore --clone` each get their own MAC (one given with --net ...,mac=, the others
// random), which the guest's eth0 takes up (the shipped /init re-probes virtio_net on the new
// VM generation and gives eth0 back its MTU, address and route), and each pings the host from
// it. Fails without the device's clone MAC, the /init handler, the receive side surviving the
// driver's reset, or the restore taking the snapshot's MAC.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { moat, startMoat, until } from "./support/moat-cli.js";
import { snapshotAndKill } from "./support/snapshot-vm.js";
import { restoredMachine } from "../src/host/snapshot-ops.js";
import type { VmSpec } from "../src/host/vm-spec.js";

const HOST_IP = "10.79.0.1";
const GUEST_IP = "10.79.0.2";
const ADDRESS = "/sys/class/net/eth0/address";
const GIVEN_MAC = "02:00:00:00:79:aa";
const ROUTE = "10.80.0.0/16";
/** A route on the link, no gateway: /init puts it back too. */
const LINK_ROUTE = "10.81.0.0/16";
// The parent: eth0 up (MTU 1400) with an address and a route, the host pinged, its RNG seeded
// (a clone's reseed needs it), its MAC printed; then it waits for a line. "clone": it waits (up
// to 10 s) until eth0 has another MAC than before and its route back (/init restores it last);
// either way it prints its MAC and MTU, whether the route is there, and pings the host.
const GUEST =
  `ip link set eth0 mtu 1400 up && ip addr add ${GUEST_IP}/24 dev eth0 && ` +
  `ip route add ${ROUTE} via ${HOST_IP} && ip route add ${LINK_ROUTE} dev eth0 && ` +
  `ping -c 1 -W 10 ${HOST_IP} >/dev/null && head -c 1 /dev/random >/dev/null && ` +
  `old=$(cat ${ADDRESS}) && echo "parent=$old" && read x; i=0; ` +
  `while [ "$x" = clone ] && [ $i -lt 100 ] && { [ "$(cat ${ADDRESS} 2>/dev/null)" = "$old" ] || ` +
  `! ip route 2>/dev/null | grep -q "^${ROUTE} via ${HOST_IP}"; }; do ` +
  "sleep 0.1; i=$((i+1)); done; " +
  `echo "mac=$(cat ${ADDRESS}) mtu=$(cat /sys/class/net/eth0/mtu)"; ` +
  `ip route | grep -q "^${ROUTE} via ${HOST_IP}" && echo routed; ` +
  `ip route | grep -q "^${LINK_ROUTE} dev eth0" && echo linked; ` +
  `ping -c 1 -W 10 ${HOST_IP} >/dev/null && echo pinged`;

const ip = (...args: string[]): void => {
  const r = spawnSync("ip", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr}`);
};

/**
 * Restores `snap` (`extra`: --clone, --net), gives the guest its line; checks eth0 has its MTU
 * and route and passes traffic; returns its MAC.
 */
async function restore(snap: string, extra: string[], line: string): Promise<string> {
  const vm = startMoat(["run", "--restore", snap, ...extra], 120_000, true);
  vm.p.stdin!.write(`${line}\n`);
  const status = await vm.done;
  const out = vm.out();
  assert.match(
    out,
    /^pinged\r?$/m,
    `the guest pinged the host; stderr: ${vm.err()}; output: ${out}`,
  );
  assert.equal(status, 0, vm.err());
  assert.match(out, /^routed\r?$/m, `eth0's route is back: ${out}`);
  assert.match(out, /^linked\r?$/m, `eth0's link route is back: ${out}`);
  const mac = /^mac=([0-9a-f:]{17}) mtu=1400\r?$/m.exec(out)?.[1];
  assert.ok(mac !== undefined, out);
  return mac;
}

test("clones of a snapshot with a NIC each get their own MAC, and their traffic passes", async () => {
  const dir = mkdtempSync(join(tmpdir(), "moat-clone-mac-"));
  const tap = `mtc${process.pid % 100000}`;
  ip("tuntap", "add", "mode", "tap", "name", tap);
  try {
    ip("addr", "add", `${HOST_IP}/24`, "dev", tap);
    ip("link", "set", tap, "up");
    const sock = join(dir, "control.sock");
    const snaps = join(dir, "snaps");
    mkdirSync(snaps);
    // No mac=: the parent's is random, known to its guest and the snapshot only.
    const first = startMoat(
      ["run", "--net", `tap=${tap}`, "--control", sock, "--snapshot-dir", snaps, "--"].concat([
        "sh",
        "-c",
        GUEST,
      ]),
      150_000,
      true, // an open stdin: EOF would end the guest's read
    );
    await until(
      () => /^parent=/m.test(first.out()) || first.p.exitCode !== null,
      "the parent waiting on its line",
    );
    const parent = /^parent=([0-9a-f:]{17})\r?$/m.exec(first.out())?.[1];
    assert.ok(parent !== undefined, first.out() + first.err());
    const snap = await snapshotAndKill(first, sock, snaps);

    assert.equal(await restore(snap, [], "same"), parent, "a restore that is not a clone");

    const macs: string[] = [];
    for (let i = 0; i < 10; i++) {
      const given = i === 0 ? ["--net", `tap=${tap},mac=${GIVEN_MAC}`] : [];
      macs.push(await restore(snap, ["--clone", ...given], "clone"));
    }
    assert.equal(macs[0], GIVEN_MAC, "the MAC given with --net");
    for (const m of macs.slice(1))
      assert.match(m, /^02:/, "a random one is locally administered and unicast");
    assert.ok(!macs.includes(parent), `none is the parent's ${parent}: ${macs.join(" ")}`);
    assert.equal(new Set(macs).size, 10, `ten different: ${macs.join(" ")}`);
    console.log(`# parent ${parent}; clones ${macs.join(" ")}`);

    // Refused: a MAC for a restore that is not a clone, another number of NICs.
    const plain = await moat(["run", "--restore", snap, "--net", `tap=${tap},mac=${GIVEN_MAC}`]);
    assert.equal(plain.status, 125);
    assert.match(
      plain.stderr,
      /--net: a restore keeps the snapshot's MAC; a MAC is given to a clone \(--clone\)/,
    );
    const two = await moat([
      "run",
      "--restore",
      snap,
      "--clone",
      "--net",
      `tap=${tap}`,
      "--net",
      "tap=other0",
    ]);
    assert.equal(two.status, 125);
    assert.match(
      two.stderr,
      /--net: the snapshot's VM has 1 NICs; give as many, in order, or none/,
    );
  } finally {
    ip("link", "del", tap);
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a daemon restore names no MAC: every one is a clone, and its NICs get their own", () => {
  const spec = {
    name: "src",
    domain: "d",
    labels: {},
    restart: "no",
    cpu: { weight: 100 },
    disks: [],
    nics: [{ bridge: "br0", mac: "02:00:00:00:00:01", bps: 1000 }, { tap: "t1" }],
  } as unknown as VmSpec;
  const m = restoredMachine(spec) as { nics: Record<string, unknown>[]; name?: string };
  assert.deepEqual(m.nics, [{ bridge: "br0", bps: 1000 }, { tap: "t1" }]);
  assert.equal(m.name, undefined);
});
