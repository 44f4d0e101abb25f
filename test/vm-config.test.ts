// One VM config (src/vmm/vm-config.ts): its schema and whole-config checks at each limit's edge,
// how `moat vmm --config` reads a file, and a real VM run from one.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  VmConfigError,
  checkVmConfig,
  parseVmConfig,
  VM_CONFIG_SCHEMAS,
  vmConfigSchema,
  type VmConfig,
} from "../src/vmm/vm-config.js";
import { FLAG_NAMES } from "../src/cli/run-config.js";
import { Ajv } from "ajv";
import { vmSpecSchema } from "../src/host/vm-spec.js";
import { REQUEST_SCHEMAS } from "../src/vmm/control-protocol.js";
import { OK_SCHEMAS } from "../src/vmm/control-reply-check.js";
import { CONTROL_REQUEST_SCHEMAS } from "../src/vmm/control-protocol.js";
import { schemaSetHash, validators, type SchemaSet } from "../src/vmm/schema-compiler.js";
import { REPO, moat } from "./support/moat-cli.js";
import { readVmConfig } from "../src/vmm/vm-config-file.js";
import { vmConfigFor, vmFiles } from "../src/host/vmm-command.js";
import type { VmSpec } from "../src/host/vm-spec.js";
import { CONSOLE_LOG_MAX, CONSOLE_LOG_MIN } from "../src/vmm/console-log.js";
import { MEMORY_MIB_MAX, MEMORY_MIB_MIN, VCPUS_MAX } from "../src/vmm/vm-limits.js";
import { MAX_MODE } from "../src/devices/virtio/gpu.js";

/** A config from `extra` over the least one, schema-checked (defaults filled). */
function config(extra: Record<string, unknown> = {}, host: Record<string, unknown> = {}): VmConfig {
  return parseVmConfig({ accel: "soft", ...extra, host });
}

function refused(fn: () => unknown, field: string, msg: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof VmConfigError, String(e));
    assert.equal(e.field, field, e.message);
    assert.match(e.message, msg);
    return true;
  });
}

test("moat's schemas are valid JSON schemas (the start path compiles them unchecked)", () => {
  const ajv = new Ajv({ strict: true, allErrors: true });
  const schemas: [string, object][] = [
    ["VmConfig", vmConfigSchema],
    ["VmSpec", vmSpecSchema],
    ...Object.entries(REQUEST_SCHEMAS).map(([op, sc]): [string, object] => [`request ${op}`, sc]),
    ...Object.entries(OK_SCHEMAS).map(([op, sc]): [string, object] => [`reply ${op}`, sc]),
  ];
  for (const [name, schema] of schemas) {
    const { $id: _id, ...rest } = schema as { $id?: string };
    assert.equal(ajv.validateSchema(rest), true, `${name}: ${ajv.errorsText()}`);
    ajv.compile(rest);
  }
  // and a schema that is not one is found: the check can fail
  assert.equal(
    ajv.validateSchema({ type: "object", properties: { a: { type: "integr" } } }),
    false,
  );
});

test("the build's precompiled validators are of today's schemas; other schemas are compiled then", () => {
  for (const set of [VM_CONFIG_SCHEMAS, CONTROL_REQUEST_SCHEMAS]) {
    const file = join(REPO, "dist", "src", "vmm", "schemas", `${set.file}.cjs`);
    assert.match(readFileSync(file, "utf8"), new RegExp(`schemaSetHash = "${schemaSetHash(set)}"`));
  }
  // A set that differs from what the module was made from is not served by it.
  const needsName: SchemaSet = {
    ...VM_CONFIG_SCHEMAS,
    schemas: { vmConfig: { ...vmConfigSchema, required: ["host", "name"] } },
  };
  assert.equal(validators(VM_CONFIG_SCHEMAS)["vmConfig"]!({ host: {} }), true);
  assert.equal(validators(needsName)["vmConfig"]!({ host: {} }), false);
});

test("defaults are filled and unknown fields refused, at any depth", () => {
  const c = config();
  assert.equal(c.cpus, 1);
  assert.equal(c.memory_mib, 128);
  assert.deepEqual(c.disks, []);
  assert.equal(c.bios, "builtin");
  assert.equal(c.host.ksm, false);
  refused(() => config({ memroy_mib: 64 }), "", /unknown field 'memroy_mib'/);
  refused(() => config({}, { contorl: "/x" }), "host", /host: unknown field 'contorl'/);
  refused(
    () => config({ disks: [{ path: "/d", speed: 1 }] }),
    "disks.0",
    /disks\.0: unknown field 'speed'/,
  );
  refused(() => parseVmConfig([]), "", /^the config must be a JSON object$/);
  refused(() => config({ accel: "sfot" }), "accel", /^accel must be one of soft, kvm, auto$/);
  refused(
    () => config({ disks: [{ path: "my,disk.img" }] }),
    "disks.0.path",
    /^disks\.0\.path must be a path with no NUL and no comma/,
  );
  refused(() => config({ cpus: "2" }), "cpus", /cpus must be integer/);
});

test("each limit of the schema holds at its edge and is refused just past it", () => {
  const edges: [
    string,
    Record<string, unknown>,
    Record<string, unknown>,
    Record<string, unknown>,
  ][] = [
    ["memory_mib", { memory_mib: MEMORY_MIB_MIN }, { memory_mib: MEMORY_MIB_MIN - 1 }, {}],
    ["memory_mib", { memory_mib: MEMORY_MIB_MAX.riscv64 }, { memory_mib: 4001 }, {}],
    ["cpus", { cpus: 1 }, { cpus: 0 }, {}],
    ["cpus", { cpus: VCPUS_MAX }, { cpus: VCPUS_MAX + 1 }, {}],
    [
      "disks",
      { disks: Array.from({ length: 8 }, (_, i) => ({ path: `/d${i}` })) },
      { disks: Array.from({ length: 9 }, (_, i) => ({ path: `/d${i}` })) },
      {},
    ],
    [
      "nics",
      { nics: Array.from({ length: 4 }, (_, i) => ({ tap: `t${i}` })) },
      { nics: Array.from({ length: 5 }, (_, i) => ({ tap: `t${i}` })) },
      {},
    ],
    ["vsock.cid", { vsock: { cid: 3 } }, { vsock: { cid: 2 } }, { vsock: "/v" }],
    [
      "vsock.cid",
      { vsock: { cid: 0xffff_fffe } },
      { vsock: { cid: 0xffff_ffff } },
      { vsock: "/v" },
    ],
    ["display.width", { display: { width: 320 } }, { display: { width: 319 } }, {}],
    [
      "display.height",
      { display: { height: MAX_MODE.height } },
      { display: { height: MAX_MODE.height + 1 } },
      {},
    ],
    [
      "disks.0.bps",
      { disks: [{ path: "/d", bps: 2 ** 40 }] },
      { disks: [{ path: "/d", bps: 2 ** 40 + 1 }] },
      {},
    ],
    [
      "disks.0.iops",
      { disks: [{ path: "/d", iops: 1 }] },
      { disks: [{ path: "/d", iops: 0 }] },
      {},
    ],
    ["cmdline", { cmdline: "x".repeat(2048) }, { cmdline: "x".repeat(2049) }, {}],
    ["disks.0.path", { disks: [{ path: "rel/d" }] }, { disks: [{ path: "/d,ro" }] }, {}],
  ];
  for (const [field, ok, bad, host] of edges) {
    config(ok, host);
    refused(() => config(bad, host), field, new RegExp(`^${field.replaceAll(".", "\\.")} `));
  }
  const hostEdges: [string, Record<string, unknown>, Record<string, unknown>][] = [
    [
      "host.console_log.max_bytes",
      { console_log: { path: "/l", max_bytes: CONSOLE_LOG_MIN } },
      { console_log: { path: "/l", max_bytes: CONSOLE_LOG_MIN - 1 } },
    ],
    [
      "host.console_log.max_bytes",
      { console_log: { path: "/l", max_bytes: CONSOLE_LOG_MAX } },
      { console_log: { path: "/l", max_bytes: CONSOLE_LOG_MAX + 1 } },
    ],
    [
      "host.pin_cpus",
      { pin_cpus: Array.from({ length: 64 }, (_, i) => i) },
      { pin_cpus: Array.from({ length: 65 }, (_, i) => i) },
    ],
    ["host.pin_cpus", { pin_cpus: [0] }, { pin_cpus: [] }],
    ["host.jail_user.uid", { jail_user: { uid: 1, gid: 1 } }, { jail_user: { uid: 0, gid: 1 } }],
    ["host.seccomp", { seccomp: "log" }, { seccomp: "off" }],
  ];
  for (const [field, ok, bad] of hostEdges) {
    config({}, ok);
    refused(() => config({}, bad), field, new RegExp(`^${field.replaceAll(".", "\\.")} `));
  }
});

test("the guest RAM limit is the architecture's: x86-64 ends at 3072 MiB, riscv64 at 4000", () => {
  checkVmConfig(config({ accel: "kvm", memory_mib: MEMORY_MIB_MAX.x86_64 }), "kvm");
  refused(
    () => checkVmConfig(config({ accel: "kvm", memory_mib: MEMORY_MIB_MAX.x86_64 + 1 }), "kvm"),
    "memory_mib",
    /^memory_mib must be between 32 and 3072 .*not 3073$/,
  );
  // auto that runs on KVM has KVM's limit; on the soft CPU, riscv64's
  refused(
    () => checkVmConfig(config({ accel: "auto", memory_mib: 3500 }), "kvm"),
    "memory_mib",
    /between 32 and 3072/,
  );
  checkVmConfig(config({ accel: "auto", memory_mib: 3500 }), "soft");
  checkVmConfig(config({ memory_mib: MEMORY_MIB_MAX.riscv64 }), "soft");
  // moat run names it by its flag
  refused(
    () => checkVmConfig(config({ accel: "kvm", memory_mib: 3500 }), "kvm", FLAG_NAMES),
    "memory_mib",
    /^--memory must be between 32 and 3072/,
  );
});

test("settings that exclude each other, and host ends a device needs, are refused by name", () => {
  const cases: [VmConfig, "soft" | "kvm", string, RegExp][] = [
    [
      config({ accel: "kvm", cpu_tier: "interp" }),
      "kvm",
      "cpu_tier",
      /cpu_tier is for the soft CPU/,
    ],
    [config({ accel: "kvm", bios: "opensbi" }), "kvm", "bios", /bios is for riscv64 guests/],
    [config({ lock_memory: true, balloon: {} }), "soft", "lock_memory", /drop balloon/],
    [config({ lock_memory: true }, { ksm: true }), "soft", "lock_memory", /drop host\.ksm/],
    [
      config({ nics: [{ mac: "02:00:00:00:00:01" }] }),
      "soft",
      "nics.0",
      /give tap, bridge, or both/,
    ],
    [config({ nics: [{ tap: "a" }, { tap: "a" }] }), "soft", "nics", /TAP a is given twice/],
    [config({ vsock: {} }), "soft", "host.vsock", /host end needs a socket path/],
    [config({}, { vnc: "/v.sock" }), "soft", "host.vnc", /serves a display: add display/],
    [
      config({ display: {} }, { vnc_password_file: "/p" }),
      "soft",
      "host.vnc_password_file",
      /is for host\.vnc/,
    ],
    [
      config({}, { control: "/run/a", exit_file: "/run/a" }),
      "soft",
      "host.exit_file",
      /host\.control and host\.exit_file name the same path/,
    ],
  ];
  for (const [c, accel, field, msg] of cases) refused(() => checkVmConfig(c, accel), field, msg);
  // and moat run's names for the same
  refused(
    () => checkVmConfig(config({ lock_memory: true, balloon: {} }), "soft", FLAG_NAMES),
    "lock_memory",
    /^--lock-memory: locked guest RAM cannot be given back; drop --balloon$/,
  );
});

test("the daemon's config of a VM with every device passes the VM process's schema and checks", () => {
  const spec: VmSpec = {
    name: "full",
    accel: "auto",
    cpu_tier: "interp",
    kernel: "/img/k",
    initrd: "none",
    cmdline: "root=/dev/vda",
    cpus: 2,
    memory_mib: 256,
    disks: [{ path: "/img/d", read_only: true, format: "raw", bps: 1, iops: 2 }],
    nics: [{ bridge: "br0", mac: "02:00:00:00:00:01", bps: 3, pps: 4 }],
    vsock: { cid: 9 },
    agent: { allow: ["exec"] },
    rng: true,
    lock_memory: true,
    display: { width: 800, height: 600 },
    domain: "d",
    labels: { a: "b" },
    restart: "always",
    cpu: { weight: 5 },
  };
  const c = vmConfigFor(spec, vmFiles("/vms/1"), {
    pinned: [1],
    ksm: true,
    seccomp: "kill",
    uid: 1234,
  });
  const read = parseVmConfig(JSON.parse(JSON.stringify(c)));
  checkVmConfig(read, "soft");
  assert.equal(read.host.ksm, false, "locked RAM is not merged");
  assert.equal(read.host.vsock, "/vms/1/vsock.sock");
  assert.equal(read.host.vnc, "/vms/1/vnc.sock");
  assert.deepEqual(read.host.jail_user, { uid: 1234, gid: 1234 });
  assert.deepEqual(read.disks, spec.disks);
  assert.ok(!("domain" in read) && !("labels" in read), "host-level fields stay with the daemon");
});

test("moat vmm reads a config file only if it is a plain file of its own, JSON and valid", () => {
  const dir = mkdtempSync(join(tmpdir(), "moat-config-"));
  try {
    const good = join(dir, "good.json");
    writeFileSync(good, JSON.stringify({ accel: "soft", host: {} }), { mode: 0o600 });
    assert.equal(readVmConfig(good).memory_mib, 128);
    const link = join(dir, "link.json");
    symlinkSync(good, link);
    assert.throws(() => readVmConfig(link), /link\.json: is a link/);
    const shared = join(dir, "shared.json");
    writeFileSync(shared, "{}", { mode: 0o600 });
    chmodSync(shared, 0o620);
    assert.throws(() => readVmConfig(shared), /others may write it \(mode 620\): chmod go-w/);
    const big = join(dir, "big.json");
    writeFileSync(big, " ".repeat(1024 * 1024 + 1), { mode: 0o600 });
    assert.throws(() => readVmConfig(big), /larger than 1024 KiB/);
    const text = join(dir, "text.json");
    writeFileSync(text, "accel = soft", { mode: 0o600 });
    assert.throws(() => readVmConfig(text), /not JSON/);
    assert.throws(() => readVmConfig(join(dir, "none.json")), /none\.json: no such file/);
    assert.throws(() => readVmConfig(dir), /not a regular file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("moat vmm --config runs the VM the file describes; a bad one exits 125 naming the field", async () => {
  const dir = mkdtempSync(join(tmpdir(), "moat-vmm-"));
  try {
    const file = join(dir, "vm.json");
    const exit = join(dir, "exit.json");
    writeFileSync(
      file,
      JSON.stringify({ accel: "soft", cpus: 2, rng: true, host: { exit_file: exit } }),
      { mode: 0o600 },
    );
    const r = await moat(["vmm", "--config", file, "--", "sh", "-c", "nproc; test -e /dev/hwrng"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), "2");
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ accel: "kvm", memory_mib: 3500, host: {} }), {
      mode: 0o600,
    });
    const b = await moat(["vmm", "--config", bad]);
    assert.equal(b.status, 125, b.stderr);
    assert.match(b.stderr, /^moat: memory_mib must be between 32 and 3072/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("moat run --exit-file records a refused flag too, as it records any other end", async () => {
  const dir = mkdtempSync(join(tmpdir(), "moat-exit-"));
  try {
    const exit = join(dir, "exit.json");
    const r = await moat(["run", "--exit-file", exit, "--memory", "8", "--", "true"]);
    assert.equal(r.status, 125, r.stderr);
    const rec = JSON.parse(readFileSync(exit, "utf8")) as {
      status: number;
      reason: string;
      detail: string;
    };
    assert.equal(rec.status, 125);
    assert.equal(rec.reason, "error");
    assert.match(rec.detail, /--memory must be between 32 and/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a socket in a directory that is not there is said as such, not as EACCES", async () => {
  const dir = mkdtempSync(join(tmpdir(), "moat-nodir-"));
  try {
    const r = await moat(["run", "--control", join(dir, "nodir", "c.sock"), "--", "true"]);
    assert.equal(r.status, 125, r.stderr);
    assert.match(r.stderr, /^moat: --control .*nodir\/c\.sock: no directory .*nodir\n/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
