// The two real-time clocks as a fuzz target: register reads and writes of any size, offset and
// value (the goldfish RTC's MMIO page, the CMOS RTC's two ports) with the host's clock moving
// between them, firing the models' timers (a few seconds at a time, or a late jump of years). Invariants: reads fit the access, at most one host
// timer is armed, timers ask for delays within setTimeout's range (the fake host checks), the
// interrupt line only changes level, and nothing runs after close.
import fc from "fast-check";
import type { FuzzTarget } from "./targets.js";
import { GoldfishRtc } from "../src/devices/goldfish-rtc.js";
import { CmosRtc } from "../src/devices/legacy/cmos-rtc.js";
import { FakeRtcHost } from "../test/support/fake-rtc-host.js";

interface RtcOp {
  /** The CMOS register selected first (through port 0x70) when the access is to port 0x71. */
  reg: number;
  off: number;
  size: 1 | 2 | 4 | 8;
  write: boolean;
  value: bigint;
  advanceMs: number;
  jumpMs: number;
}

export function rtcTarget(): FuzzTarget<{ cmos: boolean; startMs: number; ops: RtcOp[] }> {
  const op = fc.record({
    reg: fc.oneof(
      fc.constantFrom(0x00, 0x01, 0x02, 0x04, 0x05, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x32),
      fc.integer({ min: 0, max: 0xff }),
    ),
    off: fc.oneof(
      fc.integer({ min: 0, max: 7 }).map((i) => 4 * i),
      fc.integer({ min: 0, max: 0xfff }),
    ),
    size: fc.constantFrom(1 as const, 2 as const, 4 as const, 8 as const),
    write: fc.boolean(),
    value: fc.oneof(
      fc.integer({ min: 0, max: 0x7f }).map(BigInt),
      fc.constantFrom(0n, 1n, 0x99n, 0xa0n, 0xc0n),
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      fc.constantFrom(0x0an, 0x0bn, 0x0cn, 0x32n, 0x80n, 0xffn, 0x20n, 0x70n, 0x86n, 0x06n),
    ),
    advanceMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 3000 })),
    jumpMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 2 ** 40 })),
  });
  return {
    name: "rtc",
    parses: "goldfish RTC and CMOS RTC register reads and writes, the clock moving between them",
    input: fc.record({
      cmos: fc.boolean(),
      startMs: fc.integer({ min: 0, max: 2 ** 45 }),
      ops: fc.array(op, { maxLength: 100 }),
    }),
    run({ cmos, startMs, ops }) {
      const host = new FakeRtcHost(startMs);
      let level = false;
      let closed = false;
      const irq = (l: boolean): void => {
        if (closed) throw new Error("interrupt after close");
        if (l === level) throw new Error(`interrupt line set to ${l} twice`);
        level = l;
      };
      const dev = cmos ? new CmosRtc(host, irq) : new GoldfishRtc(host, irq);
      for (const o of ops) {
        // The CMOS RTC sits on two ports; the bus never hands it more than fits. Most accesses
        // to its data port come after its index port picked a register, as a driver's do.
        const off = cmos ? o.off % 2 : o.off;
        if (cmos && off === 1 && o.reg < 0x80) dev.write(0, 1, BigInt(o.reg));
        const size = cmos ? (Math.min(o.size, 2 - off) as 1 | 2) : o.size;
        if (o.write) dev.write(off, size, BigInt.asUintN(size * 8, o.value));
        else {
          const v = dev.read(off, size);
          if (v < 0n || v >= 1n << BigInt(size * 8)) throw new Error(`read ${v} of ${size} bytes`);
        }
        if (host.live() > 1) throw new Error(`${host.live()} timers armed`);
        host.advance(o.advanceMs);
        host.jump(o.jumpMs);
      }
      dev.close();
      closed = true;
      host.jump(2 ** 40);
    },
  };
}
