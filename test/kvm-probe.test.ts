// How moat classifies a host's /dev/kvm (for --accel auto and messages), on fake /dev, /sys
// and /proc trees, and on this host.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { kvmKind } from "../src/kvm/kvm-probe.js";

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "moat-kvmprobe-")) + "/";
  for (const [path, text] of Object.entries(files)) {
    const full = join(root, path);
    mkdirSync(join(full, ".."), { recursive: true });
    if (path.endsWith("/")) mkdirSync(full, { recursive: true });
    else writeFileSync(full, text);
  }
  return root;
}

test("no /dev/kvm, PVM by /sys or /proc/modules, hardware by the CPU flags", () => {
  const cases: [Record<string, string>, string][] = [
    [{ "proc/cpuinfo": "flags : vmx" }, "none"],
    [{ "dev/kvm": "", "sys/module/kvm_pvm/": "" }, "pvm"],
    [{ "dev/kvm": "", "proc/modules": "kvm_pvm 1 0 - Live\nkvm 2 1 kvm_pvm\n" }, "pvm"],
    [{ "dev/kvm": "", "proc/cpuinfo": "flags : fpu vmx sse" }, "hardware"],
    [{ "dev/kvm": "", "proc/cpuinfo": "flags : fpu sse hypervisor" }, "unknown"],
  ];
  for (const [files, want] of cases) {
    const root = tree(files);
    try {
      assert.equal(kvmKind(root), want, JSON.stringify(files));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }
});

test("this host: /dev/kvm is present and recognised", () => {
  assert.ok(existsSync("/dev/kvm"), "the tests need /dev/kvm");
  assert.notEqual(kvmKind(), "none");
});
