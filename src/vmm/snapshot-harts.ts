// The harts of a riscv64 VM as a snapshot's manifest keeps them (snapshot-file.ts SnapshotHart:
// u64s as "0x...", records base64) and back. The values themselves are checked by what takes
// them: the core (each record), the soft accelerator (HSM states, the timer).
import type { RiscvHartsState } from "../accel/accel.js";
import type { SoftCpuState } from "./snapshot-file.js";
import { SnapshotError } from "./snapshot-file.js";
import { u64 } from "../devices/device-state.js";

/** `s` as a manifest's cpu entry. */
export function hartsToManifest(s: RiscvHartsState): SoftCpuState {
  return {
    mtime: u64(s.mtime),
    harts: s.harts.map((h) => ({
      record: h.record === null ? null : Buffer.from(h.record).toString("base64"),
      mip: h.mip,
      mtimecmp: u64(h.mtimecmp),
      hsm: h.hsm,
      start_addr: u64(h.startAddr),
      opaque: u64(h.opaque),
    })),
  };
}

/**
 * A manifest's cpu entry as the accelerator takes it. Bound: exactly `harts` harts (the
 * machine's config), records base64 (their size is the core's to check).
 */
export function hartsFromManifest(cpu: SoftCpuState, harts: number): RiscvHartsState {
  if (cpu.harts.length !== harts)
    throw new SnapshotError(`the snapshot has ${cpu.harts.length} harts, the machine ${harts}`);
  return {
    mtime: BigInt(cpu.mtime),
    harts: cpu.harts.map((h, i) => {
      if (h.record !== null && !/^[A-Za-z0-9+/]*={0,2}$/.test(h.record))
        throw new SnapshotError(`hart ${i}: its record is not base64`);
      return {
        record: h.record === null ? null : new Uint8Array(Buffer.from(h.record, "base64")),
        mip: h.mip,
        mtimecmp: BigInt(h.mtimecmp),
        hsm: h.hsm,
        startAddr: BigInt(h.start_addr),
        opaque: BigInt(h.opaque),
      };
    }),
  };
}
