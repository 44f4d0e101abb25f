// The fuzz targets (fuzz/), short: every parser that takes guest bytes gets a bounded run here
// (npm run fuzz runs them for longer). First the harness itself must catch what it is for: a
// device that writes into a device-readable buffer, one that throws an engine error, and one
// that allocates past its bound are each found.
import { test } from "node:test";
import assert from "node:assert/strict";
import { TARGETS, virtioTarget, vsockTarget, type FuzzTarget } from "../fuzz/targets.js";
import type { LateVsockHost } from "../fuzz/vsock-host.js";
import { VirtioVsock, type VsockKey } from "../src/devices/virtio/vsock.js";
import { fuzzTarget } from "../fuzz/fuzz-run.js";
import { coreTarget, type CoreInput } from "../fuzz/core-target.js";
import {
  HART_BASE,
  HART_STRIDE,
  MIP_MSIP,
  SH_HSM,
  SH_MIP,
  SH_MTIMECMP,
  SH_WAKE,
  sharedBlock,
} from "../src/accel/soft/layout.js";
import type { VirtioContext, VirtioDevice } from "../src/devices/virtio/device.js";
import { DeviceId } from "../src/devices/virtio/device.js";
import type { SplitQueue } from "../src/devices/virtio/queue.js";

/** A device with one planted bug, to prove the harness finds it. */
function broken(bug: "write-readable" | "engine-error" | "hoard"): {
  dev: VirtioDevice;
  check: () => string | undefined;
} {
  let ctx: VirtioContext | undefined;
  let q: SplitQueue | undefined;
  let hoard = 0;
  const dev: VirtioDevice = {
    deviceId: DeviceId.Entropy,
    name: `broken ${bug}`,
    features: 0n,
    queueMaxSizes: [16],
    maxChainBytes: 1 << 20,
    configRead: () => 0n,
    configWrite: () => {},
    activate(c, queues) {
      ctx = c;
      q = queues[0];
    },
    notify() {
      if (!ctx || !q) return;
      for (let chain = q.pop(); chain; chain = q.pop()) {
        const r = chain.readable[0];
        if (bug === "write-readable" && r) ctx.mem.write(r.addr, new Uint8Array(1));
        if (bug === "engine-error" && chain.readableBytes > 100)
          new DataView(new ArrayBuffer(4)).getUint32(chain.readableBytes);
        if (bug === "hoard") hoard += chain.readableBytes;
        q.push(chain.head, 0);
      }
      ctx.used(0);
    },
    reset() {
      ctx = undefined;
      q = undefined;
    },
  };
  return { dev, check: () => (hoard > 64 << 10 ? `holds ${hoard} bytes` : undefined) };
}

test("fuzz harness: a device writing a readable buffer, throwing an engine error or hoarding memory is caught", async () => {
  for (const [bug, why] of [
    ["write-readable", /outside every writable buffer and used ring/],
    ["engine-error", /an unchecked error: .*(Offset is outside|RangeError)/],
    ["hoard", /holds \d+ bytes/],
  ] as const) {
    const t = virtioTarget(`broken-${bug}`, "nothing", () => broken(bug));
    const r = await fuzzTarget(t as FuzzTarget<never>, { seconds: 60, seed: 1 });
    assert.ok(r.failure, `${bug}: not found in ${r.execs} runs`);
    assert.match(r.failure, why, bug);
  }
});

test("fuzz harness: a soft CPU writing another hart's registers or state is caught; a CLINT IPI is not", async () => {
  const hartArea = (h: number) => HART_BASE + h * HART_STRIDE;
  const planted: [string, (m: SharedArrayBuffer, i: CoreInput) => void, RegExp | undefined][] = [
    [
      "another hart's TLB",
      (m, i) => (new Uint8Array(m)[hartArea((i.hart + 1) % 8) + 0x2008] = 7),
      /wrote outside its hart's areas at 0x1[0-7]2008/,
    ],
    [
      "another hart's HSM state",
      (m, i) => (new Int32Array(m)[(sharedBlock((i.hart + 3) % 8) + SH_HSM) >> 2] = 2),
      /hart \d's cross-hart block at \+0x18/,
    ],
    ["the gap after the hart areas", (m) => (new Uint8Array(m)[0x30_0000] = 1), /at 0x300000/],
    // What the CLINT lets every hart do: another hart's MSIP bit, mtimecmp and wake counter.
    [
      "an IPI",
      (m, i) => {
        const b = sharedBlock((i.hart + 1) % 8);
        new Int32Array(m)[(b + SH_MIP) >> 2] |= MIP_MSIP;
        new Int32Array(m)[(b + SH_WAKE) >> 2]! += 1;
        new BigUint64Array(m)[(b + SH_MTIMECMP) >> 3] = 12345n;
      },
      undefined,
    ],
  ];
  for (const [what, plant, why] of planted) {
    const r = await fuzzTarget(coreTarget(plant) as FuzzTarget<never>, {
      seconds: 5,
      runs: 20,
      seed: 1,
    });
    if (why === undefined) assert.equal(r.failure, undefined, what);
    else {
      assert.ok(r.failure, `${what}: not found`);
      assert.match(r.failure, why, what);
    }
  }
});

test("fuzz harness: a vsock device that never lets a host socket go, or loses a refusal, is caught", async () => {
  const planted: [string, (host: LateVsockHost) => VirtioVsock, RegExp][] = [
    [
      "released() ignored",
      (host) =>
        new (class extends VirtioVsock {
          override released(): void {}
        })("planted", 3, host),
      /the device counts \d+ connections, the host holds \d+/,
    ],
    [
      "refuse() of a copy of the key",
      (host) =>
        new (class extends VirtioVsock {
          override refuse(key: VsockKey): void {
            super.refuse({ ...key });
          }
        })("planted", 3, host),
      /the device (counts|has) \d+ connections/,
    ],
  ];
  for (const [what, device, why] of planted) {
    // Found in the first seconds; the time bound cuts the shrinking short.
    const r = await fuzzTarget(vsockTarget(device) as FuzzTarget<never>, { seconds: 10, seed: 1 });
    assert.ok(r.failure, `${what}: not found in ${r.execs} runs`);
    assert.match(r.failure, why, what);
  }
});

test("fuzz: every guest-facing parser, a short run each, no invariant broken", async (t) => {
  assert.ok(TARGETS.length >= 14, `${TARGETS.length} targets`);
  for (const target of TARGETS) {
    const r = await fuzzTarget(target, { seconds: 2 });
    t.diagnostic(
      `${target.name}: ${r.execs} execs in ${r.seconds.toFixed(1)} s` +
        (r.wrotePct !== undefined
          ? `, device wrote in ${r.wrotePct.toFixed(0)}%, reset in ${r.failedPct!.toFixed(0)}%`
          : ""),
    );
    assert.equal(r.failure, undefined, `${target.name}: ${r.failure}`);
    assert.ok(r.execs >= 100, `${target.name}: only ${r.execs} inputs ran`);
    if (r.wrotePct !== undefined)
      assert.ok(r.wrotePct > 2, `${target.name}: the device completed almost nothing`);
  }
});
