// A snapshot's manifest and a hart's state record as fuzz targets (issue 22): a snapshot written
// by moat has manifest fields replaced by hostile values (its digest made to match again half
// the time, as a forger would, so the checks behind it are reached) and is read, its memory
// loaded and its harts taken as the soft accelerator takes them: only SnapshotError may come
// out. A hart's record with bytes replaced is loaded into a core: only HartStateError.
import fc from "fast-check";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FuzzTarget } from "./targets.js";
import { DELETE, hostile, places } from "./state-target.js";
import {
  SnapshotError,
  readSnapshot,
  writeSnapshot,
  type SnapshotManifest,
  type SoftCpuState,
} from "../src/vmm/snapshot-file.js";
import { hartsFromManifest } from "../src/vmm/snapshot-harts.js";
import {
  HART_STATE_BYTES,
  HartStateError,
  loadHartState,
  saveHartState,
} from "../src/accel/soft/hart-state.js";
import { Hart } from "../test/support/core-harness.js";

const RAM = 1 << 20;

/** A snapshot directory moat wrote (made once), and its manifest's text. */
let made: { dir: string; text: string } | undefined;
function original(): { dir: string; text: string } {
  if (made) return made;
  const dir = mkdtempSync(join(tmpdir(), "moat-fuzz-snap-"));
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  const ram = new Uint8Array(RAM);
  ram.fill(5, 8192, 3 * 8192);
  const hart = new Hart(RAM);
  hart.run(100);
  const record = saveHartState(hart.core, hart.memory, 0).toString("base64");
  writeSnapshot(join(dir, "s"), {
    arch: "riscv64",
    accel: "soft",
    machine: { accel: "soft", cpus: 1, memory_mib: 1 },
    cpu: {
      mtime: "0x1000",
      harts: [
        {
          record,
          mip: 0,
          mtimecmp: "0xffffffffffffffff",
          hsm: 0,
          start_addr: "0x0",
          opaque: "0x0",
        },
      ],
    },
    devices: { machine: { booted: true } },
    ram,
  });
  made = { dir, text: readFileSync(join(dir, "s", "snapshot.json"), "utf8") };
  return made;
}

/** The manifest's digest made to match its (changed) body. */
function reseal(m: Record<string, unknown>): void {
  const { sha256: _s, hmac: _h, ...body } = m;
  m.sha256 = createHash("sha256").update(JSON.stringify(body)).digest("hex");
}

export function snapshotTarget(): FuzzTarget<{ edits: [number, unknown][]; seal: boolean }> {
  return {
    name: "snapshot",
    parses: "a snapshot's manifest (schema, versions, digest, extents, harts) and its memory file",
    input: fc.record({
      edits: fc.array(fc.tuple(fc.nat(), hostile), { minLength: 1, maxLength: 4 }),
      seal: fc.boolean(),
    }),
    run({ edits, seal }) {
      const { dir, text } = original();
      const m = JSON.parse(text) as Record<string, unknown>;
      for (const [at, value] of edits) {
        const all = places(m);
        if (all.length === 0) break;
        const [parent, key] = all[at % all.length]!;
        if (value === DELETE) delete parent[key];
        else parent[key] = structuredClone(value);
      }
      if (seal) reseal(m);
      const copy = mkdtempSync(join(tmpdir(), "moat-fuzz-snap-"));
      try {
        writeFileSync(join(copy, "snapshot.json"), JSON.stringify(m));
        writeFileSync(join(copy, "memory"), readFileSync(join(dir, "s", "memory")));
        try {
          const s = readSnapshot(copy);
          s.loadMemory(new Uint8Array(s.manifest.memory.bytes));
          const manifest: SnapshotManifest = s.manifest;
          hartsFromManifest(manifest.cpu as SoftCpuState, 1);
        } catch (e) {
          if (e instanceof SnapshotError) return;
          throw new Error(`a changed snapshot gave ${String(e)}, not a SnapshotError`);
        }
      } finally {
        rmSync(copy, { recursive: true, force: true });
      }
    },
  };
}

export function hartRecordTarget(): FuzzTarget<{ at: number; bytes: number[] }[]> {
  let good: Buffer | undefined;
  return {
    name: "hart-record",
    parses: "a soft-CPU hart's state record from a snapshot, loaded by the core",
    input: fc.array(
      fc.record({
        at: fc.nat({ max: HART_STATE_BYTES - 1 }),
        bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 8 }),
      }),
      { minLength: 1, maxLength: 6 },
    ),
    run(edits) {
      if (!good) {
        const h = new Hart(RAM);
        h.run(50);
        good = saveHartState(h.core, h.memory, 0);
      }
      const record = Buffer.from(good);
      for (const { at, bytes } of edits) record.set(bytes.slice(0, HART_STATE_BYTES - at), at);
      const h = new Hart(RAM);
      try {
        loadHartState(h.core, h.memory, 0, record);
      } catch (e) {
        if (e instanceof HartStateError) return;
        throw new Error(`a changed record gave ${String(e)}, not a HartStateError`);
      }
      // Taken: the hart runs on (a WebAssembly trap would be a core bug).
      h.run(1000);
    },
  };
}
