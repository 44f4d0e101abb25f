// The daemon's API: its OpenAPI document against its handlers, the authorisation matrix (every
// role x every endpoint x own/other domain), request validation, admission refusals, rate
// limits, metrics, the audit chain, and the console scrollback bound. The daemon runs in this
// process (Daemon.start) with a fresh home; its VMs are real processes on the soft CPU.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createHash } from "node:crypto";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { Daemon } from "../src/host/daemon.js";
import { loadConfig } from "../src/host/config.js";
import { CONSOLE_LOG_MAX, vmFiles, vmConfigFor } from "../src/host/vmm-command.js";
import { VM_NAME_WORDS, parseVmConfig } from "../src/vmm/vm-config.js";
import type { VmSpec } from "../src/host/vm-spec.js";
import { CPU_TIERS } from "../src/accel/soft/cpu-tier.js";
import { admit, AdmissionError } from "../src/host/admission.js";
import { AUDIT_ACTION, apiAuditAction } from "../src/host/audit-actions.js";
import { nextTarget, DEFAULT_RECLAIM } from "../src/host/reclaim.js";
import {
  api,
  cli,
  killVms,
  newHome,
  rawApi,
  openConsole,
  selfSignedCert,
  until,
  type Home,
  type Reply,
} from "./support/moatd.js";
import { MOAT, REPO } from "./support/moat-cli.js";
import { DAEMON_HOST, sizeText } from "../src/cli/host-commands.js";
import { spawnSync } from "node:child_process";

let h: Home;
let d: Daemon;
let admin: string;
const tok: Record<string, string> = {};

before(async () => {
  h = newHome();
  // Image directories: the shared one (imageDirs' and tenantImageDirs' default) and, in it,
  // domain a's own.
  mkdirSync(join(h.dir, "images", "a"), { recursive: true });
  writeFileSync(
    h.config,
    JSON.stringify({
      reclaim: { enabled: false },
      rateLimit: { max: 1000, windowMs: 1000 },
      policy: { cpuOvercommit: 4 },
      domainNetworks: { a: ["br-a", "tap-a0"], b: ["br-b"] },
      domainImageDirs: { a: [join(h.dir, "images", "a")] },
      domainQuotas: { q: { vcpus: 2, memoryMiB: 100, vms: 3, diskBytes: 3 << 20 } },
    }),
  );
  d = await Daemon.start(loadConfig(h.config, h.dir), DAEMON_HOST);
  admin = readFileSync(join(h.dir, "admin.token"), "utf8").trim();
  for (const [name, role, domain] of [
    ["op", "operator", undefined],
    ["ta", "tenant", "a"],
    ["tb", "tenant", "b"],
    ["tq", "tenant", "q"],
  ] as const) {
    const r = await api(h.socket, admin, "POST", "/v1/tokens", {
      name,
      role,
      ...(domain ? { domain } : {}),
    });
    assert.equal(r.status, 201, r.text);
    tok[name] = (r.body as { token: string }).token;
  }
});

after(async () => {
  try {
    for (const v of (await api(h.socket, admin, "GET", "/v1/vms")).body as { id: string }[])
      await api(h.socket, admin, "DELETE", `/v1/vms/${v.id}?force=true`);
  } finally {
    await d.close();
    // The VM processes outlive the daemon by design: none may outlive the test.
    await killVms(h);
    rmSync(h.dir, { recursive: true, force: true });
  }
});

type Route = { method: string; url: string };

function documented(doc: { paths: Record<string, Record<string, unknown>> }): Route[] {
  const out: Route[] = [];
  for (const [p, ops] of Object.entries(doc.paths))
    for (const m of Object.keys(ops))
      out.push({ method: m.toUpperCase(), url: p.replace(/\{(\w+)\}/g, ":$1") });
  return out.sort((a, b) => `${a.method} ${a.url}`.localeCompare(`${b.method} ${b.url}`));
}

test("the OpenAPI document lists every route, and every documented route answers", async () => {
  const r = await api(h.socket, admin, "GET", "/v1/openapi.json");
  assert.equal(r.status, 200);
  const doc = r.body as { openapi: string; paths: Record<string, Record<string, unknown>> };
  assert.match(doc.openapi, /^3\./);
  const docs = documented(doc);
  // The web console's files are for browsers, not API clients: served, not documented.
  const page = (u: string) => u === "/" || u === "/console" || u.startsWith("/console/");
  const all = d.routes().filter((x) => x.method !== "HEAD");
  const served = all
    .filter((x) => !page(x.url))
    .sort((a, b) => `${a.method} ${a.url}`.localeCompare(`${b.method} ${b.url}`));
  assert.deepEqual(docs, served);
  assert.deepEqual(
    all.filter((x) => page(x.url)).map((x) => `${x.method} ${x.url}`),
    ["GET /", "GET /console", "GET /console/", "GET /console/*"],
  );
  assert.ok(docs.length >= 18, `${docs.length} routes`);
  // Each documented route reaches its handler (or its authorisation step): never the
  // router's own "not found".
  for (const { method, url } of docs) {
    const path = url.replace(":vm", "no-such-vm").replace(":id", "no-such-token");
    if (url.endsWith("/console") || url.endsWith("/vnc") || url === "/v1/events") continue; // streams: below
    const res = await api(
      h.socket,
      admin,
      method,
      path,
      method === "POST" || method === "PUT" ? {} : undefined,
    );
    assert.doesNotMatch(res.text, /Route .* not found/, `${method} ${url}`);
    assert.notEqual(res.status, 401, `${method} ${url}`);
  }
  const unknown = await api(h.socket, admin, "GET", "/v1/nothing-here");
  assert.match(unknown.text, /Route GET:\/v1\/nothing-here not found/);
});

/** The matrix: each role against each endpoint, on a VM of domain a. */
test("authorisation matrix: admin, operator, tenant of the VM's domain, tenant of another, no token", async () => {
  // VMs of domain a: one to act on, and one per role to delete.
  const mk = async (name: string, domain = "a"): Promise<void> => {
    const r = await api(h.socket, admin, "POST", "/v1/vms", {
      name,
      memory_mib: 40,
      domain,
      balloon: {},
    });
    assert.equal(r.status, 201, r.text);
  };
  await mk("m");
  for (const role of ["admin", "op", "ta", "tb", "none"]) await mk(`del-${role}`);
  const callers: Record<string, string | undefined> = {
    admin,
    op: tok.op,
    ta: tok.ta,
    tb: tok.tb,
    none: undefined,
  };
  type Cell = { method: string; path: (role: string) => string; body?: unknown; who: string[] };
  // who: the callers allowed; every other caller must be refused (401 without a token, else 403).
  // "none" in who: served without a token (the document alone).
  const everyone = ["admin", "op", "ta", "tb"];
  const vmRoles = ["admin", "op", "ta"];
  const cells: Cell[] = [
    { method: "GET", path: () => "/v1/openapi.json", who: [...everyone, "none"] },
    { method: "GET", path: () => "/v1/vms", who: everyone },
    { method: "POST", path: () => "/v1/vms", body: { name: "x", domain: "a" }, who: vmRoles },
    { method: "GET", path: () => "/v1/vms/m", who: vmRoles },
    { method: "GET", path: () => "/v1/vms/m/stats", who: vmRoles },
    { method: "GET", path: () => "/v1/vms/m/logs", who: vmRoles },
    // m has no agent channel: 409 for those allowed, still 403/401 for the others.
    { method: "GET", path: () => "/v1/vms/m/guest", who: vmRoles },
    // m has no display either: 409 for those allowed.
    { method: "GET", path: () => "/v1/vms/m/screenshot", who: vmRoles },
    {
      method: "POST",
      path: () => "/v1/vms/m/agent",
      body: { command: "ping" },
      who: vmRoles,
    },
    { method: "PUT", path: () => "/v1/vms/m/balloon", body: { target_mib: 0 }, who: vmRoles },
    { method: "POST", path: () => "/v1/vms/m/start", who: vmRoles },
    { method: "POST", path: () => "/v1/vms/m/pause", who: vmRoles },
    { method: "POST", path: () => "/v1/vms/m/resume", who: vmRoles },
    { method: "POST", path: () => "/v1/vms/m/stop", who: vmRoles },
    { method: "POST", path: () => "/v1/vms/m/kill", who: vmRoles },
    { method: "DELETE", path: (r) => `/v1/vms/del-${r}`, who: vmRoles },
    { method: "GET", path: () => "/v1/host", who: ["admin", "op"] },
    { method: "GET", path: () => "/metrics", who: ["admin", "op"] },
    { method: "GET", path: () => "/v1/tokens", who: ["admin"] },
    {
      method: "POST",
      path: () => "/v1/tokens",
      body: { name: "t-x", role: "operator" },
      who: ["admin"],
    },
    { method: "DELETE", path: () => "/v1/tokens/zzz", who: ["admin"] },
    { method: "GET", path: () => "/v1/audit/verify", who: ["admin"] },
  ];
  let n = 0;
  for (const cell of cells) {
    for (const [role, token] of Object.entries(callers)) {
      const body =
        cell.path(role) === "/v1/vms" && cell.method === "POST"
          ? { name: `new-${role}`, domain: "a", memory_mib: 40 }
          : cell.path(role) === "/v1/tokens" && cell.method === "POST"
            ? { name: `t-${role}`, role: "operator" }
            : cell.body;
      const r: Reply = await api(h.socket, token, cell.method, cell.path(role), body);
      const label = `${role} ${cell.method} ${cell.path(role)} -> ${r.status} ${r.text.slice(0, 200)}`;
      if (role === "none") assert.equal(r.status, cell.who.includes("none") ? 200 : 401, label);
      else if (cell.who.includes(role)) assert.ok(r.status !== 401 && r.status !== 403, label);
      else assert.equal(r.status, 403, label);
      n++;
    }
  }
  // A tenant may create only in its own domain; the list it sees is its own domain's.
  const other = await api(h.socket, tok.ta, "POST", "/v1/vms", { name: "sneak", domain: "b" });
  assert.equal(other.status, 403);
  const bList = (await api(h.socket, tok.tb, "GET", "/v1/vms")).body as { domain: string }[];
  assert.deepEqual(bList, []);
  const aList = (await api(h.socket, tok.ta, "GET", "/v1/vms")).body as { domain: string }[];
  assert.ok(aList.length > 0 && aList.every((v) => v.domain === "a"));
  // Console, display and events: tenant b refused, tenant a admitted, whether the token comes
  // in the header or (as from a browser) as a subprotocol.
  for (const [role, expect, path, how] of [
    ["ta", "open", "console", "header"],
    ["tb", 403, "console", "header"],
    ["none", 401, "console", "header"],
    ["ta", "open", "vnc", "protocol"],
    ["tb", 403, "vnc", "protocol"],
    ["tb", 403, "console", "protocol"],
    ["none", 401, "vnc", "header"],
  ] as const) {
    const t = callers[role];
    const ws = new WebSocket(
      `ws+unix://${h.socket}:/v1/vms/m/${path}`,
      how === "protocol" && t ? ["moat.v1", `moat.bearer.${t}`] : [],
      { headers: how === "header" && t ? { authorization: `Bearer ${t}` } : {} },
    );
    const got = await new Promise<string | number>((res) => {
      ws.once("open", () => res("open"));
      ws.once("unexpected-response", (_q, resp) => res(resp.statusCode ?? 0));
      ws.once("error", () => res("error"));
    });
    ws.terminate();
    assert.equal(got, expect, `${path} as ${role} (token in the ${how})`);
  }
  const evB = await api(h.socket, undefined, "GET", "/v1/events");
  assert.equal(evB.status, 401);
  await hostFilesRefused(callers);
  assert.equal(n, cells.length * 5);
  // Kill the VM the matrix started (started by admin, then states moved on).
  await api(h.socket, admin, "POST", "/v1/vms/m/kill");
});

/**
 * No role names a host file outside the image directories as a disk, kernel or initrd: not a
 * system file, not the daemon's database, audit log or token, not a file elsewhere, not through
 * `..` or a link in an image directory. Only a file in them is taken.
 */
async function hostFilesRefused(callers: Record<string, string | undefined>): Promise<void> {
  const images = join(h.dir, "images");
  const elsewhere = mkdtempSync(join(tmpdir(), "moat-elsewhere-"));
  writeFileSync(join(elsewhere, "disk.img"), Buffer.alloc(4096));
  const linkToDb = join(images, "db.img");
  symlinkSync(join(h.dir, "moat.db"), linkToDb);
  const ok = join(images, "ok.img");
  writeFileSync(ok, Buffer.alloc(4096));
  const paths = [
    "/etc/shadow",
    join(h.dir, "moat.db"),
    join(h.dir, "audit.log"),
    join(h.dir, "admin.token"),
    join(elsewhere, "disk.img"),
    `${images}/../moat.db`,
    linkToDb,
  ];
  const before = readFileSync(join(h.dir, "admin.token"));
  try {
    for (const role of ["admin", "op", "ta"])
      for (const path of paths)
        for (const field of ["disks", "kernel", "initrd"]) {
          const body = {
            name: "hf",
            memory_mib: 40,
            ...(role === "ta" ? {} : { domain: "a" }),
            ...(field === "disks" ? { disks: [{ path }] } : { [field]: path }),
          };
          const r = await api(h.socket, callers[role], "POST", "/v1/vms", body);
          assert.equal(r.status, 403, `${role} ${field} ${path}: ${r.text}`);
          if (role === "ta")
            assert.match(r.text, /: not in your image directories"/, `${field} ${path}`);
          else
            assert.match(
              r.text,
              /not in the image directories for trust domain 'a'|in the daemon's home/,
              `${role} ${field} ${path}`,
            );
        }
    // Nothing was made, nothing written; a file in the image directories is taken.
    assert.equal((await api(h.socket, admin, "GET", "/v1/vms/hf")).status, 404);
    assert.deepEqual(readFileSync(join(h.dir, "admin.token")), before);
    const taken = await api(h.socket, tok.op, "POST", "/v1/vms", {
      name: "hf",
      memory_mib: 40,
      disks: [{ path: ok }],
    });
    assert.equal(taken.status, 201, taken.text);
    assert.equal((await api(h.socket, admin, "DELETE", "/v1/vms/hf")).status, 204);
  } finally {
    rmSync(elsewhere, { recursive: true, force: true });
    rmSync(linkToDb);
    rmSync(ok);
  }
}

test("every request body is validated: 400 with the field and the reason", async () => {
  const cases: [unknown, string, RegExp][] = [
    [{ name: "v", memory_mib: 10 }, "memory_mib", /memory_mib must be >= 32/],
    [{ name: "v", memroy_mib: 64 }, "memroy_mib", /memroy_mib is not a known field/],
    [{ memory_mib: 64 }, "name", /body: name is required$/],
    // A pattern is said in words, not as the regular expression.
    [{ name: "Bad Name" }, "name", /body: name must be 1 to 63 of/],
    [{ name: "v", cpus: 0 }, "cpus", /cpus must be >= 1/],
    [
      { name: "v", disks: [{ path: "relative" }] },
      "disks.0.path",
      /disks\.0\.path must be an absolute path with no NUL and no comma/,
    ],
    [
      { name: "v", nics: [{ mac: "02:00:00:00:00:01" }] },
      "nics.0",
      /nics\.0: give tap, bridge, or both/,
    ],
    [
      { name: "v", restart: "sometimes" },
      "restart",
      /restart must be one of no, on-failure, always/,
    ],
    [
      { name: "v", kernel: join(h.dir, "images", "no-such-kernel") },
      "kernel",
      /kernel: .*\/images\/no-such-kernel: no such file/,
    ],
    [
      { name: "v", lock_memory: true, balloon: {} },
      "lock_memory",
      /lock_memory: locked guest RAM cannot be given back; drop balloon/,
    ],
    [{ name: "v", cpu_tier: "warp" }, "cpu_tier", /cpu_tier must be one of interp, jit/],
    [
      { name: "v", accel: "kvm", cpu_tier: CPU_TIERS[0] },
      "cpu_tier",
      /cpu_tier is for the soft CPU \(accel soft or auto\); KVM runs the guest's code on the host CPU/,
    ],
    // the limits of vmm/vm-limits.ts, each just past its edge
    [{ name: "v", memory_mib: 31 }, "memory_mib", /memory_mib must be >= 32/],
    [{ name: "v", memory_mib: 4001 }, "memory_mib", /memory_mib must be <= 4000/],
    [{ name: "v", cpus: 0 }, "cpus", /cpus must be >= 1/],
    [{ name: "v", cpus: 9 }, "cpus", /cpus must be <= 8/],
    [
      { name: "v", accel: "kvm", memory_mib: 3073 },
      "memory_mib",
      /memory_mib must be between 32 and 3072 \(an x86-64 guest's RAM ends at the MMIO hole\), not 3073/,
    ],
  ];
  for (const [body, field, msg] of cases) {
    const r = await api(h.socket, admin, "POST", "/v1/vms", body);
    assert.equal(r.status, 400, r.text);
    assert.equal((r.body as { field: string }).field, field, r.text);
    assert.match((r.body as { error: string }).error, msg);
  }
  // Other routes' patterns are words too: a snapshot's name, a token's domain.
  const snap = await api(h.socket, admin, "POST", "/v1/vms/any/snapshot", { name: "../x" });
  assert.equal(snap.status, 400, snap.text);
  assert.equal((snap.body as { error: string }).error, `body: name must be ${VM_NAME_WORDS}`);
  const tok = await api(h.socket, admin, "POST", "/v1/tokens", {
    name: "t",
    role: "tenant",
    domain: "Bad Domain",
  });
  assert.equal(tok.status, 400, tok.text);
  assert.match(
    (tok.body as { error: string }).error,
    /^body: domain must be a trust domain's name: /,
  );
  // ... and at the edges themselves a VM is made
  for (const body of [
    { name: "edge-lo", memory_mib: 32, cpus: 1 },
    { name: "edge-cpus", cpus: 8 },
    { name: "edge-hi", memory_mib: 4000, accel: "soft" },
    { name: "edge-kvm", memory_mib: 3072, accel: "kvm" }, // needs /dev/kvm, as CI has
  ]) {
    const r = await api(h.socket, admin, "POST", "/v1/vms", body);
    assert.equal(r.status, 201, `${JSON.stringify(body)}: ${r.text}`);
  }
  const notJson = await new Promise<number>((res) => {
    import("node:http").then((http) => {
      const q = http.request(
        {
          socketPath: h.socket,
          method: "POST",
          path: "/v1/vms",
          headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
        },
        (r) => res(r.statusCode ?? 0),
      );
      q.end("{not json");
    });
  });
  assert.equal(notJson, 400);
  const balloon = await api(h.socket, admin, "PUT", "/v1/vms/m/balloon", { target_mib: -1 });
  assert.equal(balloon.status, 400);
  assert.equal((balloon.body as { field: string }).field, "target_mib");
});

test("cpu_tier: moat create --cpu-tier stores it with the VM, GET and moat inspect show it, its VMM's config has it; absent, the VMM's default", async () => {
  for (const tier of CPU_TIERS) {
    const name = `tier-${tier}`;
    const c = await cli(h, ["create", "--name", name, "--cpu-tier", tier], undefined, {
      MOAT_TOKEN: admin,
    });
    assert.equal(c.status, 0, c.err);
    const got = await api(h.socket, admin, "GET", `/v1/vms/${name}`);
    const spec = (got.body as { spec: VmSpec }).spec;
    assert.equal(spec.cpu_tier, tier);
    const insp = await cli(h, ["inspect", name], undefined, { MOAT_TOKEN: admin });
    assert.equal(insp.status, 0, insp.err);
    assert.equal((JSON.parse(insp.out) as { spec: VmSpec }).spec.cpu_tier, tier);
    const config = vmConfigFor(spec, vmFiles("/run/x"), {
      pinned: null,
      ksm: false,
      seccomp: "off",
      uid: null,
    });
    assert.equal(parseVmConfig(JSON.parse(JSON.stringify(config))).cpu_tier, tier);
    assert.equal((await api(h.socket, admin, "DELETE", `/v1/vms/${name}`)).status, 204);
  }
  const bad = await cli(h, ["create", "--name", "tier-bad", "--cpu-tier", "warp"]);
  assert.equal(bad.status, 125, bad.err);
  assert.match(
    bad.err,
    new RegExp(`--cpu-tier must be one of ${CPU_TIERS.join(", ")}, not 'warp'`),
  );
  const plain = await api(h.socket, admin, "POST", "/v1/vms", { name: "tier-none" });
  assert.equal(plain.status, 201, plain.text);
  const spec = (plain.body as { spec: VmSpec }).spec;
  assert.equal(spec.cpu_tier, undefined, "no tier stored: the VMM's default applies");
  const config = vmConfigFor(spec, vmFiles("/run/x"), {
    pinned: null,
    ksm: false,
    seccomp: "off",
    uid: null,
  });
  assert.equal(parseVmConfig(JSON.parse(JSON.stringify(config))).cpu_tier, undefined);
  assert.equal((await api(h.socket, admin, "DELETE", "/v1/vms/tier-none")).status, 204);
});

/** A request to this test's daemon, its headers and body sent as given. */
function rawRequest(
  path: string,
  headers: Record<string, string>,
  body: string,
  method = "POST",
): Promise<Reply> {
  return rawApi(h.socket, method, path, headers, body);
}

test("input: wrong JSON types are refused, not coerced; only JSON bodies; NUL, __proto__, forms and a tenant's bad kernel get a clear 4xx; Bearer in any case", async () => {
  const refused: [unknown, string, RegExp][] = [
    [{ name: 42 }, "name", /^body: name must be string$/],
    [{ name: "t1", memory_mib: "128" }, "memory_mib", /^body: memory_mib must be integer$/],
    [{ name: "t2", memory_mib: [128] }, "memory_mib", /^body: memory_mib must be integer$/],
    [{ name: "t3", rng: "true" }, "rng", /^body: rng must be boolean$/],
    [
      { name: "t4", kernel: "/tmp/x\0y" },
      "kernel",
      /^body: kernel must be an absolute path with no NUL/,
    ],
    [{ name: "t5", cmdline: "console=\0" }, "cmdline", /^body: cmdline must be text with no NUL$/],
    // A comma would split the VMM's --disk PATH,OPTIONS: the VMM would open another file.
    [
      { name: "t5c", disks: [{ path: `${h.dir}/images/a,rw` }] },
      "disks.0.path",
      /^body: disks\.0\.path must be an absolute path with no NUL and no comma$/,
    ],
  ];
  for (const [body, field, msg] of refused) {
    const r = await api(h.socket, admin, "POST", "/v1/vms", body);
    assert.equal(r.status, 400, r.text);
    assert.equal((r.body as { field: string }).field, field, r.text);
    assert.match((r.body as { error: string }).error, msg);
  }
  const auth = { authorization: `Bearer ${admin}` };
  const notJson: [Record<string, string>, string, RegExp][] = [
    [{ "content-type": "text/plain" }, '{"name":"t6"}', /this had content-type text\/plain$/],
    [{ "content-type": "application/x-www-form-urlencoded" }, "name=t7", /x-www-form-urlencoded$/],
    [{}, '{"name":"t8"}', /this had no content-type$/],
  ];
  for (const [headers, body, msg] of notJson) {
    const r = await rawRequest("/v1/vms", { ...auth, ...headers }, body);
    assert.equal(r.status, 415, r.text);
    assert.match(
      (r.body as { error: string }).error,
      /^body: send JSON with content-type application\/json; /,
    );
    assert.match((r.body as { error: string }).error, msg);
  }
  const json = { ...auth, "content-type": "application/json" };
  for (const [body, key] of [
    ['{"name":"t9","__proto__":{"rng":true}}', "__proto__"],
    ['{"name":"t9","labels":{"constructor":{"prototype":{"x":"y"}}}}', "constructor"],
  ] as const) {
    const r = await rawRequest("/v1/vms", json, body);
    assert.equal(r.status, 400, r.text);
    assert.equal((r.body as { error: string }).error, `body: "${key}" is not allowed as a key`);
  }
  const empty = await rawRequest("/v1/vms", json, "");
  assert.equal(empty.status, 400, empty.text);
  assert.match(empty.text, /body: empty, but its content-type says JSON/);
  // What was refused made nothing.
  const names = ((await api(h.socket, admin, "GET", "/v1/vms")).body as { name: string }[]).map(
    (v) => v.name,
  );
  for (const n of ["42", "t1", "t2", "t3", "t4", "t5", "t5c", "t6", "t7", "t8", "t9"])
    assert.ok(!names.includes(n), `VM ${n} was made`);

  // A tenant's kernel that is no kernel: the VM cannot start as defined, and says why.
  writeFileSync(join(h.dir, "images", "a", "bad-kernel"), "not a kernel, ".repeat(1000));
  const made = await api(h.socket, tok.ta, "POST", "/v1/vms", {
    name: "badk",
    kernel: join(h.dir, "images", "a", "bad-kernel"),
  });
  assert.equal(made.status, 201, made.text);
  const start = await api(h.socket, tok.ta, "POST", "/v1/vms/badk/start");
  assert.equal(start.status, 422, start.text);
  assert.match(
    (start.body as { error: string }).error,
    /^VM 'badk' ended while starting: the VMM failed: .*bad-kernel: not a riscv64 Linux Image/,
  );
  assert.equal((await api(h.socket, tok.ta, "DELETE", "/v1/vms/badk")).status, 204);

  // The auth scheme's name in any case (RFC 9110); the token itself is exact.
  for (const scheme of ["bearer", "BEARER", "Bearer"]) {
    const r = await rawRequest("/v1/host", { authorization: `${scheme} ${admin}` }, "", "GET");
    assert.equal(r.status, 200, `${scheme}: ${r.text}`);
  }
  const wrongCase = await rawRequest(
    "/v1/host",
    { authorization: `Bearer ${admin.toUpperCase()}` },
    "",
    "GET",
  );
  assert.equal(wrongCase.status, 401);
  // Query strings and path parameters are text, and still become their types.
  const logs = await api(h.socket, admin, "GET", "/v1/vms/m/logs?bytes=16");
  assert.equal(logs.status, 200, logs.text);
  const bad = await api(h.socket, admin, "GET", "/v1/vms/m/logs?bytes=many");
  assert.equal(bad.status, 400, bad.text);
  assert.match(bad.text, /querystring: bytes must be integer/);
});

test("admission control refuses what the host cannot carry, saying why", async () => {
  const host = (await api(h.socket, admin, "GET", "/v1/host")).body as {
    capacity: { memory_limit_mib: number; host_cpus: number; vcpus_limit: number };
  };
  // More vCPUs than host CPUs x overcommit (2 x 4 = 8 here; 8 fit, so ask on top of one VM).
  await api(h.socket, admin, "POST", "/v1/vms", { name: "one", memory_mib: 40 });
  assert.equal((await api(h.socket, admin, "POST", "/v1/vms/one/start")).status, 200);
  await api(h.socket, admin, "POST", "/v1/vms", { name: "eight", memory_mib: 40, cpus: 8 });
  const r = await api(h.socket, admin, "POST", "/v1/vms/eight/start");
  if (host.capacity.vcpus_limit < 9) {
    assert.equal(r.status, 409, r.text);
    assert.match(
      (r.body as { error: string }).error,
      /not enough CPU for 'eight': it wants 8 vCPUs, \d+ are left/,
    );
  }
  // Memory: a guest bigger than what is left.
  const big = Math.min(4000, host.capacity.memory_limit_mib + 1);
  if (big <= 4000 && host.capacity.memory_limit_mib < 4000) {
    await api(h.socket, admin, "POST", "/v1/vms", { name: "big", memory_mib: big });
    const m = await api(h.socket, admin, "POST", "/v1/vms/big/start");
    assert.equal(m.status, 409);
    assert.match((m.body as { error: string }).error, /not enough memory for 'big'/);
  }
  const st = ((await api(h.socket, admin, "GET", "/v1/vms/eight")).body as { state: string }).state;
  assert.equal(st, "created", "a refused VM stays as it was");
  await api(h.socket, admin, "POST", "/v1/vms/one/kill");
});

test("admission as policy: memory overcommit, pinning across trust domains, KSM for one domain", () => {
  const cpus = [0, 1, 2, 3].map((cpu) => ({ cpu, core: `0:${cpu >> 1}` })); // 2 cores x 2 threads
  const host = { cpus, memoryMiB: 4096 };
  const p = { cpuOvercommit: 2, memoryOvercommit: 1, memoryReserveMiB: 1024, pinning: true };
  const a1 = admit({ name: "a1", domain: "a", cpus: 1, memory_mib: 512 }, [], host, p);
  assert.deepEqual(a1.pinned, [0, 1], "a whole core (both SMT threads) for domain a");
  const act = [{ name: "a1", domain: "a", cpus: 1, memoryMiB: 512, pinned: a1.pinned }];
  const b1 = admit({ name: "b1", domain: "b", cpus: 1, memory_mib: 512 }, act, host, p);
  assert.deepEqual(b1.pinned, [2, 3], "domain b gets the other core, never a's");
  act.push({ name: "b1", domain: "b", cpus: 1, memoryMiB: 512, pinned: b1.pinned });
  const a2 = admit({ name: "a2", domain: "a", cpus: 2, memory_mib: 512 }, act, host, p);
  assert.deepEqual(a2.pinned, [0, 1], "a packs onto its own core");
  assert.throws(
    () => admit({ name: "c1", domain: "c", cpus: 1, memory_mib: 64 }, act, host, p),
    (e: Error) =>
      e instanceof AdmissionError &&
      /no physical core is free for trust domain 'c'/.test(e.message),
  );
  assert.throws(
    () => admit({ name: "big", domain: "a", cpus: 1, memory_mib: 2500 }, act, host, p),
    /not enough memory for 'big': it wants 2500 MiB, 2048 MiB are left \(host 4096 MiB x overcommit 1 - reserve 1024 MiB = 3072 MiB, 1024 MiB admitted\)/,
  );
  assert.throws(
    () =>
      admit({ name: "k", domain: "b", cpus: 1, memory_mib: 64 }, [], host, {
        ...p,
        ksmDomain: "a",
      }),
    /deduplicates memory \(KSM\) for trust domain 'a' only/,
  );
  assert.throws(
    () => admit({ name: "many", domain: "a", cpus: 8, memory_mib: 64 }, act, host, p),
    /not enough CPU for 'many': it wants 8 vCPUs, 6 are left/,
  );
});

test("reclaim policy: inflate idle guests under pressure, deflate for a guest in need or when pressure ends", () => {
  const p = { ...DEFAULT_RECLAIM, guestKeepPercent: 20, guestKeepMinMiB: 24, stepMiB: 64 };
  // 256 MiB guest, keep = 51.2 MiB.
  assert.equal(nextTarget({ memoryMiB: 256, targetMiB: 0, freeMiB: 200 }, true, p), 64, "one step");
  assert.equal(nextTarget({ memoryMiB: 256, targetMiB: 150, freeMiB: 60 }, true, p), 158);
  assert.equal(
    nextTarget({ memoryMiB: 256, targetMiB: 150, freeMiB: 40 }, true, p),
    undefined,
    "enough kept",
  );
  assert.equal(
    nextTarget({ memoryMiB: 256, targetMiB: 150, freeMiB: 10 }, true, p),
    108,
    "guest in need",
  );
  assert.equal(
    nextTarget({ memoryMiB: 256, targetMiB: 150, freeMiB: 100 }, false, p),
    86,
    "no pressure: deflate",
  );
  assert.equal(nextTarget({ memoryMiB: 256, targetMiB: 0, freeMiB: 100 }, false, p), undefined);
  assert.equal(
    nextTarget({ memoryMiB: 256, targetMiB: 200, freeMiB: 250 }, true, p),
    204,
    "never above RAM - keep",
  );
});

test("rate limits: a token past its budget gets 429", async () => {
  const h2 = newHome({ reclaim: { enabled: false }, rateLimit: { max: 5, windowMs: 60000 } });
  const d2 = await Daemon.start(loadConfig(h2.config, h2.dir), DAEMON_HOST);
  try {
    const t = readFileSync(join(h2.dir, "admin.token"), "utf8").trim();
    const codes: number[] = [];
    for (let i = 0; i < 8; i++) codes.push((await api(h2.socket, t, "GET", "/v1/vms")).status);
    assert.deepEqual(codes, [200, 200, 200, 200, 200, 429, 429, 429]);
    const r = await api(h2.socket, t, "GET", "/v1/host");
    assert.match((r.body as { error: string }).error, /rate limit: at most 5 requests/);
  } finally {
    await d2.close();
  }
});

test("metrics in Prometheus text: per VM and host series", async () => {
  await api(h.socket, admin, "POST", "/v1/vms", { name: "metered", memory_mib: 40, balloon: {} });
  assert.equal((await api(h.socket, admin, "POST", "/v1/vms/metered/start")).status, 200);
  // Exit counters reach the VMM's figures as the guest boots, and the vCPU series appears once
  // the vCPU threads have reported their ids: wait for both.
  const r = await until("exit counters and vCPU time", async () => {
    const x = await api(h.socket, admin, "GET", "/metrics");
    const exits = /^moat_vm_exits_total\{[^}]*name="metered"[^}]*\} [1-9]/m.test(x.text);
    const vcpu = /^moat_vm_vcpu_seconds_total\{[^}]*name="metered"/m.test(x.text);
    return exits && vcpu ? x : undefined;
  });
  assert.equal(r.status, 200);
  assert.match(String(r.headers["content-type"]), /text\/plain/);
  const m = r.text;
  assert.match(m, /^moat_vms\{state="running"\} [1-9]/m);
  assert.match(m, /^moat_admission_headroom_vcpus \d+/m);
  assert.match(m, /^moat_admission_headroom_memory_bytes \d+/m);
  assert.match(m, /^moat_vm_rss_bytes\{vm="[0-9a-f]+",name="metered",domain="default"\} [1-9]\d+/m);
  assert.match(m, /^moat_vm_cpu_seconds_total\{[^}]*name="metered"[^}]*\} [0-9.]+/m);
  assert.match(m, /^moat_vm_vcpu_seconds_total\{[^}]*name="metered"[^}]*\} [0-9.]+/m);
  assert.match(m, /^moat_vm_exits_total\{[^}]*name="metered"[^}]*reason="[a-z_]+"\} [1-9]/m);
  assert.match(m, /^moat_vm_balloon_bytes\{[^}]*name="metered"[^}]*\} 0/m);
  await api(h.socket, admin, "POST", "/v1/vms/metered/kill");
});

test("revoking a token closes the consoles and event streams it opened", async () => {
  const made = await api(h.socket, admin, "POST", "/v1/tokens", {
    name: "revokee",
    role: "tenant",
    domain: "a",
  });
  assert.equal(made.status, 201, made.text);
  const { id, token } = made.body as { id: string; token: string };
  const vm = await api(h.socket, admin, "POST", "/v1/vms", {
    name: "rv",
    memory_mib: 40,
    domain: "a",
  });
  assert.equal(vm.status, 201, vm.text);
  assert.equal((await api(h.socket, admin, "POST", "/v1/vms/rv/start")).status, 200);
  // A console (the token as a browser sends it) and the event stream.
  const ws = new WebSocket(`ws+unix://${h.socket}:/v1/vms/rv/console`, [
    "moat.v1",
    `moat.bearer.${token}`,
  ]);
  await new Promise((r, j) => (ws.once("open", r), ws.once("error", j)));
  const closed = new Promise<number>((r) => ws.once("close", (code) => r(code)));
  const events = await openEvents(token);
  assert.equal(events.statusCode, 200);
  events.resume();
  const ended = new Promise<void>((r) => events.once("end", () => r()));
  assert.equal((await api(h.socket, admin, "DELETE", `/v1/tokens/${id}`)).status, 204);
  assert.equal(await closed, 4401, "the console closed with 'token revoked'");
  await ended;
  assert.equal((await api(h.socket, token, "GET", "/v1/vms")).status, 401);
  await api(h.socket, admin, "DELETE", "/v1/vms/rv?force=true");
});

/** The event stream (server-sent events) as `token` sees it. */
function openEvents(token: string): Promise<http.IncomingMessage> {
  return new Promise((r, j) => {
    const q = http.request(
      { socketPath: h.socket, path: "/v1/events", headers: { authorization: `Bearer ${token}` } },
      r,
    );
    q.on("error", j);
    q.end();
  });
}

test("an expiring token works until its time, then is refused, and its event stream ends then", async () => {
  for (const bad of [0, 31_536_001, 1.5])
    assert.equal(
      (
        await api(h.socket, admin, "POST", "/v1/tokens", {
          name: "exp0",
          role: "operator",
          expires_in_s: bad,
        })
      ).status,
      400,
      String(bad),
    );
  const wrong = await cli(h, [
    "token",
    "create",
    "--name",
    "exp0",
    "--role",
    "operator",
    "--expires",
    "2y",
  ]);
  assert.notEqual(wrong.status, 0);
  assert.match(wrong.err, /--expires wants a duration from 1s to 365d .* not '2y'/);
  const made = await cli(h, [
    "token",
    "create",
    "--name",
    "exp1",
    "--role",
    "operator",
    "--expires",
    "3s",
    "--json",
  ]);
  assert.equal(made.status, 0, made.err);
  const { token, expires_at } = JSON.parse(made.out) as { token: string; expires_at: string };
  const at = Date.parse(expires_at);
  assert.ok(at - Date.now() > 1000 && at - Date.now() <= 3000, expires_at);
  const ls = await cli(h, ["token", "ls"]);
  assert.match(ls.out, /^\S+\s+exp1\s+operator\s+-\s+\d{4}-\d\d-\d\dT/m);
  assert.match(ls.out, /^\S+\s+op\s+operator\s+-\s+never$/m);
  assert.equal((await api(h.socket, token, "GET", "/v1/vms")).status, 200);
  const events = await openEvents(token);
  assert.equal(events.statusCode, 200);
  events.resume();
  await new Promise<void>((r) => events.once("end", () => r()));
  assert.ok(Date.now() >= at - 50, `the stream ended ${at - Date.now()} ms before the expiry`);
  assert.equal((await api(h.socket, token, "GET", "/v1/vms")).status, 401);
});

test("refused requests are counted in the metrics and audited at most once a minute", async () => {
  const count = async () => {
    const m = (await api(h.socket, admin, "GET", "/metrics")).text;
    return Number(/^moat_api_auth_failures_total (\d+)/m.exec(m)?.[1]);
  };
  const before = await count();
  for (let i = 0; i < 5; i++)
    assert.equal((await api(h.socket, "moat_" + "Z".repeat(43), "GET", "/v1/vms")).status, 401);
  assert.equal((await api(h.socket, undefined, "GET", "/v1/host")).status, 401);
  assert.equal(await count(), before + 6);
  const lines = readFileSync(join(h.dir, "audit.log"), "utf8").trim().split("\n");
  const refused = lines
    .map(
      (l) =>
        JSON.parse(l) as { action: string; ok: boolean; time: string; detail: { count?: number } },
    )
    .filter((e) => e.action === "api.auth.failed");
  assert.ok(refused.length >= 1, "a refusal is in the audit log");
  for (let i = 1; i < refused.length; i++)
    assert.ok(
      Date.parse(refused[i]!.time) - Date.parse(refused[i - 1]!.time) >= 60_000,
      "at most one audit line a minute",
    );
  assert.equal(refused[0]!.ok, false);
  assert.ok((refused.at(-1)!.detail.count ?? 0) >= 1);
});

test("networks per trust domain: a tenant only on its domain's, nobody on another domain's; a tenant is not told whose another is", async () => {
  const mk = (token: string, name: string, domain: string | undefined, nic: object) =>
    api(h.socket, token, "POST", "/v1/vms", {
      name,
      memory_mib: 40,
      ...(domain ? { domain } : {}),
      nics: [nic],
    });
  const cases: [string, string, string | undefined, object, number, RegExp?][] = [
    [tok.ta!, "na1", undefined, { bridge: "br-a" }, 201],
    [tok.ta!, "na2", undefined, { tap: "tap-a0" }, 201],
    [
      tok.ta!,
      "na3",
      undefined,
      { bridge: "br-b" },
      403,
      /trust domain 'a' may use br-a, tap-a0 only/,
    ],
    [tok.ta!, "na4", undefined, { tap: "tap9" }, 403, /trust domain 'a' may use br-a, tap-a0 only/],
    [tok.tb!, "nb1", undefined, { bridge: "br-a" }, 403, /trust domain 'b' may use br-b only/],
    [tok.op!, "nb2", "b", { bridge: "br-a" }, 403, /br-a belongs to trust domain 'a'/],
    [admin, "nc1", "c", { bridge: "br-a" }, 403, /belongs to trust domain 'a'/],
    [admin, "nc2", "c", { bridge: "br-free" }, 201],
    // A NIC naming both its TAP and a bridge: each name is the domain's, or it is refused.
    [
      tok.ta!,
      "na5",
      undefined,
      { tap: "tap-a0", bridge: "br-b" },
      403,
      /trust domain 'a' may use br-a, tap-a0 only/,
    ],
    [tok.op!, "nc4", "c", { tap: "tap-c9", bridge: "br-a" }, 403, /br-a belongs to trust domain 'a'/],
    [tok.op!, "nc5", "c", { tap: "tap-a0", bridge: "br-c" }, 403, /tap-a0 belongs to trust domain 'a'/],
  ];
  for (const [token, name, domain, nic, status, why] of cases) {
    const r = await mk(token, name, domain, nic);
    assert.equal(r.status, status, `${name}: ${r.text}`);
    if (why) assert.match(r.text, why, name);
    if (token === tok.ta || token === tok.tb) assert.doesNotMatch(r.text, /belongs to/, name);
  }
  // A tenant of a domain with no networks gets none.
  const c = await api(h.socket, admin, "POST", "/v1/tokens", {
    name: "tc",
    role: "tenant",
    domain: "c",
  });
  const tc = (c.body as { token: string }).token;
  const none = await mk(tc, "nc3", undefined, { bridge: "br-free" });
  assert.equal(none.status, 403);
  assert.match(none.text, /no network is assigned to trust domain 'c'/);
  for (const n of ["na1", "na2", "nc2"]) await api(h.socket, admin, "DELETE", `/v1/vms/${n}`);
});

test("image directories per trust domain: a domain's own are refused to every other; a link put in after create is refused at start, naming neither its target nor its domain", async () => {
  const shared = join(h.dir, "images", "shared.img");
  const mine = join(h.dir, "images", "a", "a.img");
  for (const f of [shared, mine]) writeFileSync(f, Buffer.alloc(4096));
  const mk = (token: string, name: string, domain: string | undefined, path: string) =>
    api(h.socket, token, "POST", "/v1/vms", {
      name,
      memory_mib: 40,
      ...(domain ? { domain } : {}),
      disks: [{ path }],
    });
  const cases: [string, string, string | undefined, string, number, RegExp?][] = [
    [tok.ta!, "ia1", undefined, mine, 201],
    [tok.ta!, "ia2", undefined, shared, 403, /shared\.img: not in your image directories/],
    [tok.tb!, "ib1", undefined, mine, 403, /a\.img: not in your image directories/],
    [tok.tb!, "ib2", undefined, shared, 201],
    [admin, "ic1", "c", mine, 403, /belongs to trust domain 'a'/],
    [tok.op!, "ic2", "c", mine, 403, /belongs to trust domain 'a'/],
    [admin, "ic3", "a", mine, 201],
    [admin, "ic4", "c", shared, 201],
  ];
  for (const [token, name, domain, path, status, why] of cases) {
    const r = await mk(token, name, domain, path);
    assert.equal(r.status, status, `${name}: ${r.text}`);
    if (why) assert.match(r.text, why, name);
  }
  // ib2 was checked on images/shared.img; that path now links to domain a's image. The VMM
  // would open a's disk: the start is refused, and nothing was started.
  rmSync(shared);
  symlinkSync(mine, shared);
  const start = await api(h.socket, tok.tb!, "POST", "/v1/vms/ib2/start");
  assert.equal(start.status, 409, start.text);
  assert.match(start.text, /disks\.0\.path: .*shared\.img no longer resolves to itself/);
  assert.doesNotMatch(start.text, /a\.img|'a'/);
  // Whatever the link names, a file that exists, one that does not, or a path through a file,
  // the tenant gets the same answer: the start says nothing of the host's files.
  const answers = new Set<string>();
  for (const target of [
    "/etc/shadow",
    "/etc/no-such-file",
    "/etc/passwd/x",
    join(h.dir, "moat.db"),
  ]) {
    rmSync(shared);
    symlinkSync(target, shared);
    const r = await api(h.socket, tok.tb!, "POST", "/v1/vms/ib2/start");
    assert.equal(r.status, 409, r.text);
    answers.add(r.text);
  }
  assert.equal(answers.size, 1, [...answers].join("\n"));
  const ib2 = (await api(h.socket, admin, "GET", "/v1/vms/ib2")).body as { state: string };
  assert.equal(ib2.state, "created");
  for (const n of ["ia1", "ib2", "ic3", "ic4"])
    await api(h.socket, admin, "DELETE", `/v1/vms/${n}`);
  rmSync(shared);
});

test("tenants cannot probe: VM names are per domain, and a path outside a tenant's image directories gets one answer whatever is there", async () => {
  const mk = (token: string, name: string, extra: object = {}) =>
    api(h.socket, token, "POST", "/v1/vms", { name, memory_mib: 40, ...extra });
  // Domain b's 'vb' neither stops nor shows itself to domain a.
  assert.equal((await mk(tok.tb!, "vb")).status, 201);
  const mine = await mk(tok.ta!, "vb");
  assert.equal(mine.status, 201, mine.text);
  const again = await mk(tok.ta!, "vb");
  assert.equal(again.status, 409);
  assert.match(again.text, /trust domain 'a' has a VM named 'vb'/);
  for (const [t, domain] of [
    [tok.ta!, "a"],
    [tok.tb!, "b"],
  ] as const) {
    const r = await api(h.socket, t, "GET", "/v1/vms/vb");
    assert.equal(r.status, 200, r.text);
    assert.equal((r.body as { domain: string }).domain, domain);
    // The CLI looks names up the same way.
    const ins = await cli(h, ["inspect", "vb"], undefined, { MOAT_TOKEN: t });
    assert.equal(ins.status, 0, ins.err);
    assert.equal((JSON.parse(ins.out) as { domain: string }).domain, domain);
  }
  // Admins see every domain: the name alone is ambiguous, the id is not.
  const both = await api(h.socket, admin, "GET", "/v1/vms/vb");
  assert.equal(both.status, 409, both.text);
  assert.match(both.text, /'vb' names 2 VMs \(trust domains a, b\): use the VM's id/);
  const id = (mine.body as { id: string }).id;
  assert.equal(
    ((await api(h.socket, admin, "GET", `/v1/vms/${id}`)).body as { id: string }).id,
    id,
  );
  // Paths: whether a file exists, is a directory, is another's or is reached through a link,
  // a tenant hears only that it is not in its image directories.
  const own = join(h.dir, "images", "a");
  const shared = join(h.dir, "images", "probe.img");
  writeFileSync(shared, Buffer.alloc(4096));
  const links: [string, string][] = [
    ["to-shared", shared],
    ["to-shadow", "/etc/shadow"],
    ["to-nothing", "/nonexistent/x.img"],
    ["to-db", join(h.dir, "moat.db")],
  ];
  for (const [n, target] of links) symlinkSync(target, join(own, n));
  const probes = [
    "/etc/shadow",
    "/etc/no-such-file",
    "/root",
    shared,
    join(h.dir, "moat.db"),
    `${own}/../../moat.db`,
    own,
    join(own, "missing.img"),
    ...links.map(([n]) => join(own, n)),
  ];
  try {
    for (const p of probes) {
      const r = await mk(tok.ta!, "probe", { disks: [{ path: p }] });
      assert.equal(r.status, 403, `${p}: ${r.text}`);
      assert.deepEqual(r.body, {
        error: `disks.0.path: ${p}: not in your image directories`,
        field: "disks.0.path",
      });
    }
  } finally {
    for (const [n] of links) rmSync(join(own, n));
    rmSync(shared);
    await api(h.socket, tok.ta!, "DELETE", "/v1/vms/vb");
    await api(h.socket, tok.tb!, "DELETE", "/v1/vms/vb");
  }
});

test("quotas per domain: vCPUs, memory, VM count and disk bytes, at create and at start, refused with the arithmetic and shown in moat host", async () => {
  const t = tok.tq!;
  const mk = (name: string, extra: object = {}) =>
    api(h.socket, t, "POST", "/v1/vms", { name, memory_mib: 40, ...extra });
  const refused = (r: Reply, msg: string): void => {
    assert.equal(r.status, 409, r.text);
    assert.equal((r.body as { error: string }).error, msg);
  };
  const d1 = join(h.dir, "images", "q1.img");
  const d2 = join(h.dir, "images", "q2.img");
  for (const f of [d1, d2]) writeFileSync(f, Buffer.alloc(2 << 20));
  try {
    assert.equal((await mk("q1")).status, 201);
    refused(
      await mk("big", { cpus: 3 }),
      "domain q: 3 vCPUs would exceed its quota of 2 (0 in use + 3 asked)",
    );
    assert.equal((await mk("q2", { cpus: 2 })).status, 201);
    assert.equal((await api(h.socket, t, "POST", "/v1/vms/q1/start")).status, 200);
    refused(
      await api(h.socket, t, "POST", "/v1/vms/q2/start"),
      "domain q: 3 vCPUs would exceed its quota of 2 (1 in use + 2 asked)",
    );
    assert.equal(
      ((await api(h.socket, t, "GET", "/v1/vms/q2")).body as { state: string }).state,
      "created",
    );
    assert.equal((await mk("q3", { memory_mib: 70, disks: [{ path: d1 }] })).status, 201);
    refused(await mk("q4"), "domain q: 4 VMs would exceed its quota of 3 (3 in use + 1 asked)");
    assert.equal((await api(h.socket, t, "DELETE", "/v1/vms/q2")).status, 204);
    refused(
      await mk("q4", { disks: [{ path: d2 }] }),
      "domain q: 4194304 bytes of disk would exceed its quota of 3145728 (2097152 in use + 2097152 asked)",
    );
    // A file two VMs name is counted once.
    assert.equal((await mk("q4", { disks: [{ path: d1, read_only: true }] })).status, 201);
    refused(
      await api(h.socket, t, "POST", "/v1/vms/q3/start"),
      "domain q: 110 MiB of memory would exceed its quota of 100 (40 in use + 70 asked)",
    );
    // The disk grew since it was created: the next start is refused.
    writeFileSync(d1, Buffer.alloc(4 << 20));
    refused(
      await api(h.socket, t, "POST", "/v1/vms/q4/start"),
      "domain q: 4194304 bytes of disk would exceed its quota of 3145728 (4194304 in use + 0 asked)",
    );
    const host = (await api(h.socket, admin, "GET", "/v1/host")).body as {
      quotas: Record<string, { used: object; quota: object | null }>;
    };
    assert.deepEqual(host.quotas.q, {
      used: { vcpus: 1, memoryMiB: 40, vms: 3, diskBytes: 4 << 20, snapshots: 0, snapshotBytes: 0 },
      quota: { vcpus: 2, memoryMiB: 100, vms: 3, diskBytes: 3 << 20 },
    });
    const text = await cli(h, ["host"]);
    assert.equal(text.status, 0, text.err);
    // Words and tables, not the API's JSON.
    assert.doesNotMatch(text.out, /[{}"]/, text.out);
    assert.match(text.out, /^vCPUs +\d+ of \d+ admitted \(\d+ free\)$/m, text.out);
    assert.match(text.out, /^VMs +(\d+ [a-z]+)(, \d+ [a-z]+)*$/m, text.out);
    assert.match(text.out, /^DOMAIN +VCPUS +MEMORY +VMS +DISKS +SNAPSHOTS$/m, text.out);
    assert.match(text.out, /^q +1\/2 +40 MiB\/100 MiB +3\/3 +4 MiB\/3 MiB +0\/-$/m, text.out);
    // --json keeps the bytes.
    const json = await cli(h, ["host", "--json"]);
    assert.equal(json.status, 0, json.err);
    const q = (JSON.parse(json.out) as { quotas: Record<string, { used: { diskBytes: number } }> })
      .quotas.q!;
    assert.equal(q.used.diskBytes, 4 << 20);
    assert.deepEqual([512, 1536, 3 << 20, 1.5 * 2 ** 30, 100 * 2 ** 30, 2 ** 41].map(sizeText), [
      "512 bytes",
      "1.5 KiB",
      "3 MiB",
      "1.5 GiB",
      "100 GiB",
      "2 TiB",
    ]);
    // A domain without a quota is not limited by another's.
    const free = await api(h.socket, admin, "POST", "/v1/vms", {
      name: "q-free",
      domain: "free",
      cpus: 3,
      memory_mib: 200,
    });
    assert.equal(free.status, 201, free.text);
    assert.equal((await api(h.socket, admin, "DELETE", "/v1/vms/q-free")).status, 204);
  } finally {
    await api(h.socket, t, "POST", "/v1/vms/q1/kill");
    for (const n of ["q1", "q2", "q3", "q4"]) await api(h.socket, t, "DELETE", `/v1/vms/${n}`);
    for (const f of [d1, d2]) rmSync(f);
  }
});

test("console scrollback is bounded on disk and keeps the latest output", async () => {
  await api(h.socket, admin, "POST", "/v1/vms", { name: "chatty", memory_mib: 48 });
  assert.equal((await api(h.socket, admin, "POST", "/v1/vms/chatty/start")).status, 200);
  const con = await openConsole(h.socket, admin, "chatty");
  await con.expect("echo up-$((3*3))", "up-9", 120000);
  // About 2.5 MiB of output, more than twice the bound, then a marker.
  con.send(
    "i=0; while [ $i -lt 40000 ]; do echo line-$i-0123456789012345678901234567890123456789012345; i=$((i+1)); done; echo done-$((5*5))\n",
  );
  await until("the flood to end", () => con.out().includes("done-25"), 300000);
  con.close();
  const vm = (await api(h.socket, admin, "GET", "/v1/vms/chatty")).body as { id: string };
  const dir = join(h.dir, "vms", vm.id);
  let total = 0;
  for (const f of ["console.log", "console.log.1"]) total += statSync(join(dir, f)).size;
  assert.ok(total <= CONSOLE_LOG_MAX, `${total} bytes on disk`);
  assert.ok(total > CONSOLE_LOG_MAX / 2, `${total} bytes on disk`);
  const logs = await api(h.socket, admin, "GET", "/v1/vms/chatty/logs?bytes=1048576");
  assert.match(logs.text, /done-25/);
  assert.match(logs.text, /line-39999-/);
  assert.doesNotMatch(logs.text, /line-100-0123/, "the oldest output is gone");
  await api(h.socket, admin, "POST", "/v1/vms/chatty/kill");
});

test("audit actions are named one way: every audited route has its name, every entry the scheme", async () => {
  // Every route that changes something, and the one audited read, is named (not api.request).
  const audited = d
    .routes()
    .filter((r) => !["GET", "HEAD"].includes(r.method) || r.url === "/v1/vms/:vm/guest");
  assert.ok(audited.length >= 12, JSON.stringify(audited));
  for (const r of audited) {
    const name = apiAuditAction(r.method, r.url);
    assert.notEqual(name, "api.request", `${r.method} ${r.url} has no audit action`);
    assert.match(name, AUDIT_ACTION, `${r.method} ${r.url}`);
  }
  assert.equal(apiAuditAction("POST", undefined), "api.request");
  // A request's entry says the route it came by; every entry, the daemon's own too, fits.
  assert.equal((await api(h.socket, admin, "POST", "/v1/vms/nosuch/pause")).status, 404);
  assert.equal((await api(h.socket, admin, "POST", "/v1/no/such/route")).status, 404);
  const entries = readFileSync(join(h.dir, "audit.log"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { action: string; detail: { request?: string } });
  for (const e of entries) assert.match(e.action, AUDIT_ACTION, JSON.stringify(e));
  const by = (request: string) => entries.filter((e) => e.detail.request === request);
  assert.deepEqual(
    new Set(by("POST /v1/vms/:vm/pause").map((e) => e.action)),
    new Set(["vm.pause"]),
  );
  assert.deepEqual(
    new Set(by("POST /v1/no/such/route").map((e) => e.action)),
    new Set(["api.request"]),
  );
  assert.ok(entries.some((e) => e.action === "daemon.start"));
  assert.ok(entries.some((e) => e.action === "token.create"));
});

test("audit log: every change is chained; moat audit-log verify finds an edited, inserted or removed line", async () => {
  const v = await api(h.socket, admin, "GET", "/v1/audit/verify");
  const res = v.body as { ok: boolean; lines: number };
  assert.equal(res.ok, true, v.text);
  assert.ok(res.lines > 20);
  const log = join(h.dir, "audit.log");
  const lines = readFileSync(log, "utf8").trim().split("\n");
  const entries = lines.map((l) => JSON.parse(l) as { action: string; ok: boolean; role: string });
  assert.ok(entries.some((e) => e.action === "vm.start" && e.ok));
  assert.ok(entries.some((e) => e.action === "vm.console.attach"));
  assert.ok(
    entries.some((e) => e.ok === false && e.role === "tenant"),
    "refused requests are audited too",
  );
  const verify = (file: string): { status: number | null; out: string } => {
    const r = spawnSync(
      process.execPath,
      [MOAT, "audit-log", "verify", "--file", file, "--db", join(h.dir, "moat.db")],
      {
        cwd: REPO,
        encoding: "utf8",
      },
    );
    return { status: r.status, out: r.stdout + r.stderr };
  };
  // Copy the log as it is now, then tamper with copies. The head in the database may move on
  // as this test's own requests are audited: compare against a snapshot taken with the copy.
  const snap = readFileSync(log, "utf8");
  const copy = join(h.dir, "audit.copy");
  writeFileSync(copy, snap);
  const ok = verify(copy);
  // The copy may lag the database head by the lines written since: only prefix problems matter.
  const tamper = (f: (ls: string[]) => string[]): { status: number | null; out: string } => {
    writeFileSync(copy, f(snap.trim().split("\n")).join("\n") + "\n");
    return verify(copy);
  };
  void ok;
  const edited = tamper((ls) =>
    ls.map((l, i) => (i === 4 ? l.replace('"action":"', '"action":"x') : l)),
  );
  assert.equal(edited.status, 1);
  assert.match(edited.out, /line 5: hash does not match its content/);
  const removed = tamper((ls) => ls.filter((_, i) => i !== 6));
  assert.equal(removed.status, 1);
  assert.match(removed.out, /line 7: /);
  const inserted = tamper((ls) => [...ls.slice(0, 3), ls[2]!, ...ls.slice(3)]);
  assert.equal(inserted.status, 1);
  assert.match(inserted.out, /line 4: /);
  // The real log, untouched, verifies against the database head.
  const real = verify(log);
  assert.equal(real.status, 0, real.out);
});

test("the API socket is root:moat 0660; a second daemon on the same home, or on another home with the same socket, is refused", async () => {
  const st = statSync(h.socket);
  assert.equal(st.mode & 0o777, 0o660);
  assert.equal(st.uid, 0);
  await assert.rejects(
    Daemon.start(loadConfig(h.config, h.dir), DAEMON_HOST),
    /another moat daemon \(pid \d+\) holds /,
  );
  // A daemon on another home configured with this daemon's socket: refused, and this daemon's
  // API still answers this daemon's token.
  const other = newHome({ reclaim: { enabled: false }, socket: h.socket });
  try {
    await assert.rejects(
      Daemon.start(loadConfig(other.config, other.dir), DAEMON_HOST),
      /something already serves .*moat\.sock \(a daemon with another home\?\)/,
    );
  } finally {
    rmSync(other.dir, { recursive: true, force: true });
  }
  assert.equal((await api(h.socket, admin, "GET", "/v1/vms")).status, 200);
  // Tokens are kept as digests only: the secrets appear in no database file, their SHA-256 does.
  const files = ["moat.db", "moat.db-wal"].map((f) => join(h.dir, f)).filter((f) => existsSync(f));
  const bytes = Buffer.concat(files.map((f) => readFileSync(f)));
  for (const secret of [admin, tok.op!, tok.ta!]) {
    assert.equal(bytes.includes(secret), false, "a token secret is stored");
    assert.equal(bytes.includes(createHash("sha256").update(secret).digest("hex")), true);
  }
  for (const f of files) assert.equal(statSync(f).mode & 0o777, 0o600, f);
});

test("the optional TCP listener speaks only TLS, with the same tokens", async () => {
  const h3 = newHome({});
  const { cert, key } = selfSignedCert(h3.dir);
  writeFileSync(
    h3.config,
    JSON.stringify({
      reclaim: { enabled: false },
      tcp: { host: "127.0.0.1", port: 18443, cert, key },
    }),
  );
  const d3 = await Daemon.start(loadConfig(h3.config, h3.dir), DAEMON_HOST);
  try {
    const t = readFileSync(join(h3.dir, "admin.token"), "utf8").trim();
    const https = await import("node:https");
    const get = (token?: string): Promise<number> =>
      new Promise((res, rej) => {
        const q = https.request(
          {
            host: "127.0.0.1",
            port: 18443,
            path: "/v1/vms",
            ca: readFileSync(cert),
            servername: "localhost",
            headers: token ? { authorization: `Bearer ${token}` } : {},
          },
          (r) => {
            r.resume();
            res(r.statusCode ?? 0);
          },
        );
        q.on("error", rej);
        q.end();
      });
    assert.equal(await get(t), 200);
    assert.equal(await get(), 401);
    // Plain HTTP on the TLS port gets no API.
    const http = await import("node:http");
    const plain = await new Promise<string>((res) => {
      const q = http.request({ host: "127.0.0.1", port: 18443, path: "/v1/vms" }, (r) => {
        r.resume();
        res(`HTTP ${r.statusCode}`);
      });
      q.on("error", (e) => res(`error ${e.message}`));
      q.end();
    });
    assert.doesNotMatch(plain, /HTTP 200/);
  } finally {
    await d3.close();
  }
  // A TCP listener without a certificate is refused at start.
  writeFileSync(h3.config, JSON.stringify({ tcp: { port: 18444 } }));
  assert.throws(
    () => loadConfig(h3.config, h3.dir),
    /tcp\.cert|must have required property 'cert'/,
  );
});

test("an image directory that is, lies in or holds a system directory or the daemon's home is refused at start, in one line", async () => {
  const h5 = newHome({});
  const away = mkdtempSync(join(tmpdir(), "moat-link-"));
  symlinkSync("/etc", join(away, "etc"));
  const cases: [Record<string, unknown>, RegExp][] = [
    [
      { imageDirs: ["/etc/moat"] },
      /^config: imageDirs\.0 \/etc\/moat lies in \/etc, a system directory/,
    ],
    [{ imageDirs: ["/"] }, /^config: imageDirs\.0 \/ holds \/bin, a system directory/],
    [
      { imageDirs: ["/var/lib"] },
      /^config: imageDirs\.0 \/var\/lib holds \/var\/lib\/moat, the daemon's home/,
    ],
    [
      { tenantImageDirs: [h5.dir] },
      /^config: tenantImageDirs\.0 \S+ lies in \S+, the daemon's home/,
    ],
    [
      { imageDirs: [join(h5.dir, "vms")] },
      /^config: imageDirs\.0 \S+\/vms lies in \S+, the daemon's home/,
    ],
    [{ imageDirs: [tmpdir()] }, /^config: imageDirs\.0 \S+ holds \S+moatd-\w+, the daemon's home/],
    [
      { domainImageDirs: { a: ["/usr/share/img"] } },
      /^config: domainImageDirs\.a\.0 \/usr\/share\/img lies in \/usr/,
    ],
    [
      { imageDirs: [join(away, "etc")] },
      /^config: imageDirs\.0 \S+\/etc \(\/etc\) lies in \/etc, a system directory/,
    ],
  ];
  try {
    for (const [cfg, why] of cases) {
      writeFileSync(h5.config, JSON.stringify(cfg));
      await assert.rejects(Daemon.start(loadConfig(h5.config, h5.dir), DAEMON_HOST), (e: Error) => {
        assert.match(e.message, why);
        assert.doesNotMatch(e.message, /\n/);
        return true;
      });
    }
    assert.equal(existsSync(join(h5.dir, "moat.db")), false, "nothing was opened");
    const r = spawnSync(
      process.execPath,
      [MOAT, "daemon", "--home", h5.dir, "--config", h5.config],
      {
        cwd: REPO,
        encoding: "utf8",
      },
    );
    assert.equal(r.status, 125);
    assert.match(r.stderr, /^moat: config: imageDirs\.0 \S+ \(\/etc\) lies in \/etc[^\n]*\n$/);
  } finally {
    rmSync(away, { recursive: true, force: true });
    rmSync(h5.dir, { recursive: true, force: true });
  }
});

test("a bad config file is refused with the setting and the reason", () => {
  const h4 = newHome({ polcy: { pinning: true } });
  assert.throws(() => loadConfig(h4.config, h4.dir), /polcy is not a known setting/);
  writeFileSync(h4.config, JSON.stringify({ policy: { cpuOvercommit: 0 } }));
  assert.throws(() => loadConfig(h4.config, h4.dir), /policy\.cpuOvercommit must be >= 0\.1/);
  writeFileSync(h4.config, JSON.stringify({ domainImageDirs: { a: ["images/a"] } }));
  assert.throws(
    () => loadConfig(h4.config, h4.dir),
    /domainImageDirs\.a\.0 must match pattern "\^\/"/,
  );
  writeFileSync(h4.config, "{not json");
  assert.throws(() => loadConfig(h4.config, h4.dir), /config .*config\.json: /);
});
