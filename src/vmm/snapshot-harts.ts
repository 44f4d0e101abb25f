// The harts of a riscv64 VM as a snapshot's manifest keeps them (snapshot-file.ts SnapshotHart:
// u64s as "0x...", records base64) and back. The values themselves are checked by what takes
// them: the core (each record), the soft accelerator (HSM states, the timer).
import type { RiscvHartsState } from "../accel/accel.js";
import type { SoftCpuState } from "./snapshot-file.js";
import { SnapshotError } from "./snapshot-file.js";
import { isBase64, u64 } from "../devices/device-state.js";
import { HSM_STARTED, HSM_STOPPED } from "../accel/soft/layout.js";
import { HART_STATE_BYTES } from "../accel/soft/hart-state.js";

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
 * A manifest's cpu entry as the accelerator takes it, checked before the VM is built further.
 * Bound: exactly `harts` harts (the machine's config); each started with a record of
 * HART_STATE_BYTES (its values the core's to check) or stopped without one; mtime below 2^63.
 */
export function hartsFromManifest(cpu: SoftCpuState, harts: number): RiscvHartsState {
  if (cpu.harts.length !== harts)
    throw new SnapshotError(`the snapshot has ${cpu.harts.length} harts, the machine ${harts}`);
  const mtime = BigInt(cpu.mtime);
  if (mtime >= 1n << 63n)
    throw new SnapshotError(`the snapshot's mtime ${cpu.mtime} is out of range`);
  return {
    mtime,
    harts: cpu.harts.map((h, i) => {
      if (h.hsm !== HSM_STARTED && h.hsm !== HSM_STOPPED)
        throw new SnapshotError(`hart ${i}: HSM state ${h.hsm} is not started or stopped`);
      if ((h.record === null) !== (h.hsm === HSM_STOPPED))
        throw new SnapshotError(`hart ${i}: a state record is there exactly when it runs`);
      if (h.record !== null && !isBase64(h.record))
        throw new SnapshotError(`hart ${i}: its record is not base64`);
      if (h.record !== null && Buffer.byteLength(h.record, "base64") !== HART_STATE_BYTES)
        throw new SnapshotError(`hart ${i}: its record is not ${HART_STATE_BYTES} bytes`);
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
