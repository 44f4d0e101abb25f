// The virtio-gpu fuzz target's parts (targets.ts puts them together): well-formed commands to
// place where descriptors point, and a hostile guest's scenario: a resource with a backing list
// of pages, reversed pages, one-byte pieces, overlapping or outside RAM, as long as the bound or
// past it, then a batch of transfers, flushes, detaches and attaches made available and
// notified at once (more work than one turn of the event loop may do). Beyond the harness's
// invariants: the host bytes the device counts are exactly what its resources hold (pixels,
// backing lists, records), under the VM's cap, and no backing lists more entries than its bound.
import fc from "fast-check";
import {
  BACKING_SLACK,
  Cmd,
  GpuFormat,
  RESOURCE_META_BYTES,
  VirtioGpu,
} from "../src/devices/virtio/gpu.js";
import type { Backing } from "../src/devices/virtio/gpu-backing.js";
import { DATA, le, placed, type Op } from "./virtio-target.js";

/** Bound the gpu may hold for resources in the fuzz (small, so runs reach it). */
const GPU_CAP = 8 << 20;

/** Single commands, placed at the start of the first data pages. */
export const gpuRequest = fc.oneof(
  fc
    .constantFrom(Cmd.GetDisplayInfo, Cmd.ResourceUnref, Cmd.UpdateCursor, 0x9999)
    .map((t) => le([t, 0, 0n, 0, 0, 1, 0])),
  fc
    .tuple(
      fc.integer({ min: 0, max: 4 }),
      fc.constantFrom(GpuFormat.B8G8R8X8, GpuFormat.R8G8B8A8, 0, 99),
      fc.integer({ min: 0, max: 70000 }),
      fc.integer({ min: 0, max: 70000 }),
    )
    .map(([id, fmt, w, h]) => le([Cmd.ResourceCreate2d, 0, 0n, 0, 0, id, fmt, w, h])),
  fc
    .tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 300000 }))
    .map(([id, n]) =>
      le([Cmd.ResourceAttachBacking, 0, 0n, 0, 0, id, n, ...[DATA + 0x4000n, 4096, 0]]),
    ),
  fc
    .tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 0xffff_ffff }))
    .map(([id, v]) => le([Cmd.TransferToHost2d, 0, 0n, 0, 0, v, v, 64, 64, 0n, id, 0])),
  fc
    .tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 4 }))
    .map(([s, id]) => le([Cmd.SetScanout, 0, 0n, 0, 0, 0, 0, 640, 480, s, id])),
);

/** The scenario's pages in the data area: its commands, their responses, the backing. */
const PAGE = { create: 16, attach: 17, transfer: 20, scanout: 21, flush: 22, detach: 23 };
const RESPONSE_PAGE = 24;
const BACKING = DATA + 0x20000n;
const BACKING_PAGES = 192;

type Step = "transfer" | "flush" | "detach" | "attach";

/** The backing list's entries of each kind, [address, length]. */
function entries(kind: string, n: number): [bigint, number][] {
  const out: [bigint, number][] = [];
  for (let i = 0; i < n; i++) {
    const page = kind === "reversed" ? n - 1 - i : i;
    out.push(kind === "bytes" ? [BACKING + BigInt(i), 1] : [BACKING + BigInt(page * 4096), 4096]);
  }
  if (kind === "overlap" && n > 1) out[n - 1] = [BACKING + 100n, 4096];
  if (kind === "outside") out[n >> 1] = [DATA + 0x100000n, 4096];
  return out;
}

const fraction = fc.double({ min: 0, max: 1, noNaN: true });

/** A rectangle: all of a resource, a part of it (fractions), or anywhere. */
function rectangle(
  r: "all" | { part: number[] } | { at: [number, number, number, number] },
  width: number,
  height: number,
): [number, number, number, number] {
  if (r === "all") return [0, 0, width, height];
  if ("at" in r) return r.at;
  const [fx, fy, fw, fh] = r.part as [number, number, number, number];
  const x = Math.floor(fx * (width - 1));
  const y = Math.floor(fy * (height - 1));
  return [x, y, Math.ceil(fw * (width - x)), Math.ceil(fh * (height - y))];
}

/** A hostile guest's scenario: a backed resource, then a batch of work on one notify. */
export const gpuScenario: fc.Arbitrary<Op[]> = fc
  .record({
    width: fc.integer({ min: 1, max: 512 }),
    height: fc.integer({ min: 1, max: 256 }),
    kind: fc.constantFrom("pages", "reversed", "bytes", "overlap", "outside"),
    /** Entries beyond one per page of the resource: mostly within the bound, sometimes not. */
    extra: fc.oneof(
      { weight: 6, arbitrary: fc.integer({ min: 0, max: BACKING_SLACK }) },
      { weight: 1, arbitrary: fc.integer({ min: -8, max: -1 }) },
      { weight: 1, arbitrary: fc.integer({ min: BACKING_SLACK + 1, max: 2 * BACKING_PAGES }) },
    ),
    /** The count the header claims, when not the list's own. */
    claimed: fc.oneof(
      { weight: 6, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 0x7fff_ffff }) },
    ),
    /** The transfers' and flushes' rectangle: all of the resource, a part, or anywhere. */
    rect: fc.oneof(
      { weight: 4, arbitrary: fc.constant("all" as const) },
      {
        weight: 2,
        arbitrary: fc.record({ part: fc.array(fraction, { minLength: 4, maxLength: 4 }) }),
      },
      {
        weight: 1,
        arbitrary: fc.record({
          at: fc.tuple(
            fc.integer({ min: 0, max: 600 }),
            fc.integer({ min: 0, max: 300 }),
            fc.integer({ min: 0, max: 600 }),
            fc.integer({ min: 0, max: 300 }),
          ),
        }),
      },
    ),
    scanout: fc.boolean(),
    batch: fc.array(
      fc.oneof(
        { weight: 8, arbitrary: fc.constant<Step>("transfer") },
        { weight: 2, arbitrary: fc.constant<Step>("flush") },
        { weight: 1, arbitrary: fc.constantFrom<Step>("detach", "attach") },
      ),
      { minLength: 1, maxLength: 64 },
    ),
  })
  .map((s) => {
    const pages = Math.ceil((s.width * s.height * 4) / 4096);
    const list = entries(s.kind, Math.max(1, Math.min(pages + s.extra, 2 * BACKING_PAGES)));
    const [x, y, w, h] = rectangle(s.rect, s.width, s.height);
    const commands: [keyof typeof PAGE, Uint8Array][] = [
      ["create", le([Cmd.ResourceCreate2d, 0, 0n, 0, 0, 1, GpuFormat.B8G8R8X8, s.width, s.height])],
      [
        "attach",
        le([
          Cmd.ResourceAttachBacking,
          0,
          0n,
          0,
          0,
          1,
          s.claimed ?? list.length,
          ...list.flatMap(([a, l]) => [a, l, 0]),
        ]),
      ],
      ["transfer", le([Cmd.TransferToHost2d, 0, 0n, 0, 0, x, y, w, h, 0n, 1, 0])],
      ["scanout", le([Cmd.SetScanout, 0, 0n, 0, 0, 0, 0, s.width, s.height, 0, 1])],
      ["flush", le([Cmd.ResourceFlush, 0, 0n, 0, 0, x, y, w, h, 1, 0])],
      ["detach", le([Cmd.ResourceDetachBacking, 0, 0n, 0, 0, 1, 0])],
    ];
    const size = new Map(commands.map(([k, b]) => [k, b.length]));
    const request = (k: keyof typeof PAGE): Op => ({
      k: "request",
      q: 0,
      readable: [{ page: PAGE[k], off: 0, len: size.get(k)! }],
      writable: [{ page: RESPONSE_PAGE, off: 0, len: 24 }],
      notify: false,
    });
    const ops: Op[] = [{ k: "up", features: 0, size: 256, ok: true, fit: true }];
    for (const [k, b] of commands) ops.push(placed(PAGE[k] * 0x1000, b));
    ops.push(request("create"), request("attach"));
    if (s.scanout) ops.push(request("scanout"));
    for (const step of s.batch) ops.push(request(step));
    ops.push({ k: "notify", q: 0 });
    return ops;
  });

/**
 * A gpu with a small cap, and the check that what it counts is what its resources hold: the
 * pixels, each backing list and RESOURCE_META_BYTES a resource, under the cap; each backing
 * within one entry per 4 KiB page of its resource plus BACKING_SLACK.
 */
export function gpuDevice(): { dev: VirtioGpu; check: () => string | undefined } {
  const dev = new VirtioGpu("virtio-gpu fuzz", { width: 640, height: 480, maxHostBytes: GPU_CAP });
  const state = dev as unknown as {
    resources: Map<number, { pixels: Uint8Array; backing: Backing | null }>;
  };
  return {
    dev,
    check: () => {
      if (dev.resourceBytes > GPU_CAP) return `resources hold ${dev.resourceBytes} bytes`;
      let held = 0;
      for (const r of state.resources.values()) {
        held += r.pixels.length + RESOURCE_META_BYTES + (r.backing?.hostBytes ?? 0);
        const most = Math.ceil(r.pixels.length / 4096) + BACKING_SLACK;
        if (r.backing && r.backing.entries > most)
          return `a backing of ${r.backing.entries} entries for ${r.pixels.length} bytes`;
      }
      if (held !== dev.resourceBytes)
        return `${dev.resourceBytes} bytes counted, ${held} held by the resources`;
      return undefined;
    },
  };
}
