// Device state from a snapshot as a fuzz target (issue 22): a state saved from a device a guest
// driver brought into use (virtio devices with their transport and queues, the PLIC, the UART
// behind the serial console, the goldfish RTC) has fields replaced by hostile values (wrong
// types, out of range, huge, negative, removed) and is loaded into a fresh device. Invariants:
// loadState only ever throws DeviceStateError, and a state it takes saves again into one that
// a fresh device takes too.
import fc from "fast-check";
import type { FuzzTarget } from "./targets.js";
import {
  DeviceStateError,
  StateReader,
  type DeviceState,
  type Snapshottable,
} from "../src/devices/device-state.js";
import { VirtioRng } from "../src/devices/virtio/rng.js";
import { VirtioBalloon } from "../src/devices/virtio/balloon.js";
import { VirtioSerial } from "../src/devices/virtio/serial.js";
import { VirtioNet, parseMac } from "../src/devices/virtio/net.js";
import { VirtioVsock } from "../src/devices/virtio/vsock.js";
import { VirtioInput } from "../src/devices/virtio/input.js";
import { VirtioGpu } from "../src/devices/virtio/gpu.js";
import { VirtioBlk } from "../src/devices/virtio/blk.js";
import type { VirtioDevice } from "../src/devices/virtio/device.js";
import { u32s } from "../test/support/le-words.js";
import { TokenBucket } from "../src/devices/rate-limiter.js";
import { Plic } from "../src/arch/riscv64/plic.js";
import { SerialConsole } from "../src/vmm/serial-console.js";
import { GoldfishRtc } from "../src/devices/goldfish-rtc.js";
import { VmGenId } from "../src/devices/vmgenid.js";
import { FakeRtcHost } from "../test/support/fake-rtc-host.js";
import { DATA, VirtioGuest, settle } from "../test/support/virtio-guest.js";

const none = () => {};

/** Fresh devices of each kind, the same configuration every time. */
const virtio: Record<string, () => VirtioDevice> = {
  rng: () => new VirtioRng("virtio-rng", new TokenBucket(1e6, 1e6), (b) => b.fill(1)),
  balloon: () => new VirtioBalloon("virtio-balloon", 1 << 20, { release: none }),
  serial: () =>
    new VirtioSerial("virtio-serial", [{ name: "p", host: { data: none, guestOpen: none } }]),
  net: () =>
    new VirtioNet("virtio-net", parseMac("52:54:00:00:00:01"), {
      receive: () => -1,
      whenReadable: none,
      send: () => true,
      setOffload: none,
    }),
  vsock: () =>
    new VirtioVsock("virtio-vsock", 3, {
      connect: none,
      data: none,
      closed: none,
      established: none,
    }),
  input: () => new VirtioInput("virtio-input", "keyboard"),
  gpu: () => new VirtioGpu("virtio-gpu", { width: 64, height: 64 }),
  blk: () =>
    new VirtioBlk(
      "virtio-blk",
      {
        sizeBytes: 1 << 16,
        readOnly: false,
        read: async (_o, len) => new Uint8Array(len),
        write: async () => {},
        flush: async () => {},
        discard: async () => {},
        writeZeroes: async () => {},
      },
      "vda",
    ),
};

/** virtio-gpu commands that leave two resources, one backed and shown (a header, then words). */
const GPU_SETUP = [
  [0x0101, 1, 2, 32, 32],
  [0x0101, 2, 1, 8, 8],
  [0x0106, 1, 1, 0x8_0000n, 4096, 0],
  [0x0103, 0, 0, 32, 16, 0, 1],
].map(([type, ...words]) => {
  const body = u32s(words!);
  const req = new Uint8Array(24 + body.length);
  new DataView(req.buffer).setUint32(0, Number(type), true);
  req.set(body, 24);
  return req;
});

const machine: Record<string, () => Snapshottable> = {
  plic: () => new Plic(4, none),
  serialConsole: () => new SerialConsole(none, none, false),
  rtc: () => new GoldfishRtc(new FakeRtcHost(0), none),
  vmgenid: () => new VmGenId(none, (n) => new Uint8Array(n).fill(7)),
};

/** Makes a fresh device of `kind`: a virtio device in its transport, or a machine device. */
function fresh(kind: string): Snapshottable {
  const v = virtio[kind];
  return v ? new VirtioGuest(v()).t : machine[kind]!();
}

/** A state of each kind, saved from a device in use (made once). */
let saved: Promise<Map<string, DeviceState>> | undefined;
function savedStates(): Promise<Map<string, DeviceState>> {
  saved ??= (async () => {
    const states = new Map<string, DeviceState>();
    for (const [kind, make] of Object.entries(virtio)) {
      const g = new VirtioGuest(make()).up(1 << 29); // EVENT_IDX
      if (kind === "gpu") {
        for (const req of GPU_SETUP) {
          g.mem.write(DATA, req);
          g.post(0, [
            { addr: DATA, len: req.length },
            { addr: DATA + 0x1000n, len: 64, write: true },
          ]);
          await settle();
        }
      } else if (kind !== "blk")
        // blk: no request (this one would be malformed); its queue is set up all the same.
        g.sizes.forEach((_, q) =>
          g.post(q, [{ addr: DATA + BigInt(q) * 0x1000n, len: 64, write: true }]),
        );
      await settle();
      states.set(kind, g.t.saveState());
    }
    const plic = new Plic(4, none);
    plic.write(12, 4, 3n);
    plic.write(0x2080, 4, 8n);
    plic.setLevel(3, true);
    states.set("plic", plic.saveState());
    const serial = new SerialConsole(none, none, false);
    serial.uart.write(1, 1, 1n);
    serial.sendInput(Uint8Array.of(1, 2, 3), none);
    states.set("serialConsole", serial.saveState());
    const rtc = new GoldfishRtc(new FakeRtcHost(0), none);
    rtc.write(8, 4, 5n);
    states.set("rtc", rtc.saveState());
    rtc.close();
    const gen = new VmGenId(none, (n) => new Uint8Array(n).fill(7));
    gen.newGeneration();
    states.set("vmgenid", gen.saveState());
    return states;
  })();
  return saved;
}

/** Every place in a JSON value a mutation can go: [parent, key]. */
export function places(v: unknown, out: [Record<string, unknown>, string][] = []) {
  if (v !== null && typeof v === "object") {
    for (const k of Object.keys(v)) {
      out.push([v as Record<string, unknown>, k]);
      places((v as Record<string, unknown>)[k], out);
    }
  }
  return out;
}

export const DELETE = Symbol("delete");
/** Values a hostile snapshot puts where a field was. */
export const hostile = fc.oneof(
  fc.integer(),
  fc.constantFrom(-1, 0, 1, 3, 15, 16, 0x1f, 0xff, 256, 65535, 65536, 2 ** 32, 2 ** 53, 1.5, NaN),
  fc.bigInt({ min: 0n, max: 2n ** 68n }).map((b) => `0x${b.toString(16)}`),
  fc.string({ maxLength: 20 }),
  fc.base64String({ maxLength: 12000 }),
  fc.boolean(),
  fc.constantFrom(null, [], {}, [1, 2], { a: 1 }, DELETE),
);

export function stateTarget(): FuzzTarget<{ kind: string; edits: [number, unknown][] }> {
  return {
    name: "device-state",
    parses:
      "device state from a snapshot: virtio transports, queues and devices, PLIC, UART, RTC, VM generation ID",
    input: fc.record({
      kind: fc.constantFrom(...Object.keys(virtio), ...Object.keys(machine)),
      edits: fc.array(fc.tuple(fc.nat(), hostile), { minLength: 1, maxLength: 4 }),
    }),
    async run({ kind, edits }) {
      const state = JSON.parse(JSON.stringify((await savedStates()).get(kind)!)) as unknown;
      for (const [at, value] of edits) {
        const all = places(state);
        if (all.length === 0) break;
        const [parent, key] = all[at % all.length]!;
        if (value === DELETE) delete parent[key];
        else parent[key] = structuredClone(value); // the generator's objects are shared
      }
      const dev = fresh(kind);
      try {
        dev.loadState(new StateReader(state, kind));
      } catch (e) {
        if (e instanceof DeviceStateError) return;
        throw new Error(`${kind}: loadState threw ${String(e)} instead of a DeviceStateError`);
      }
      // Taken: what it saves now is a state a fresh device takes.
      const again = JSON.parse(JSON.stringify(dev.saveState())) as unknown;
      fresh(kind).loadState(new StateReader(again, kind));
      await settle();
    },
  };
}
