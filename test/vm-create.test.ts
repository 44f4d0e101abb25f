// newVmRecord's checks that depend on the host: accel "auto" is resolved as the VM process
// will resolve it, so a VM this host could not start is refused at create.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { newVmRecord, type VmPolicy } from "../src/host/vm-create.js";
import { ApiError } from "../src/host/api-error.js";
import type { Caller } from "../src/host/auth.js";

const admin: Caller = { id: "t", name: "admin", role: "admin", domain: null };

test('accel "auto" on a host where it picks KVM is held to the x86-64 memory limit at create', () => {
  const home = mkdtempSync(join(tmpdir(), "moat-vm-create-"));
  try {
    const cfg: VmPolicy = {
      home,
      imageDirs: [],
      tenantImageDirs: [],
      domainImageDirs: {},
      domainNetworks: {},
    };
    const body = (memory_mib: number, name: string) => ({
      name,
      accel: "auto",
      memory_mib,
      nics: [],
      disks: [],
    });
    const ctx = (autoAccel: "soft" | "kvm") => ({ nameTaken: () => false, autoAccel });
    assert.throws(
      () => newVmRecord(body(3500, "a"), admin, cfg, ctx("kvm")),
      (e: unknown) =>
        e instanceof ApiError &&
        /memory_mib must be between 32 and 3072 \(an x86-64 guest's RAM ends at the MMIO hole\), not 3500 \(accel auto picks kvm on this host\)/.test(
          e.message,
        ),
    );
    assert.equal(newVmRecord(body(3072, "b"), admin, cfg, ctx("kvm")).spec.memory_mib, 3072);
    // where auto picks the soft CPU, riscv64's limit holds
    assert.equal(newVmRecord(body(3500, "c"), admin, cfg, ctx("soft")).spec.memory_mib, 3500);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
