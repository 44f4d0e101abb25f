// The supply chain (docs/security.md, "Supply chain"): what a host runs is what the repository
// holds. The CPU core and the shipped initramfs rebuild byte for byte to the hashes SHA256SUMS
// records; a shipped guest that differs is refused; `moat audit` names any installed file or
// package changed since the build; only the approved packages run install scripts; `npm run
// sbom` lists the tree.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO } from "./support/moat-cli.js";

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

/** SHA256SUMS as path -> hash. */
function recorded(): Map<string, string> {
  const text = readFileSync(join(REPO, "SHA256SUMS"), "utf8");
  return new Map(
    text
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => {
        const m = /^([0-9a-f]{64}) {2}(\S+)$/.exec(l);
        assert.ok(m, `SHA256SUMS line "${l}"`);
        return [m[2]!, m[1]!] as [string, string];
      }),
  );
}

const pkg = () =>
  JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as {
    scripts: Record<string, string>;
    allowScripts?: Record<string, boolean>;
  };
const lock = () =>
  JSON.parse(readFileSync(join(REPO, "package-lock.json"), "utf8")) as {
    packages: Record<
      string,
      { version?: string; integrity?: string; dev?: boolean; hasInstallScript?: boolean }
    >;
  };

test("the CPU core rebuilds byte for byte: twice alike, as dist/cpu.wasm and as SHA256SUMS records", () => {
  const dir = mkdtempSync(join(tmpdir(), "moat-core-"));
  try {
    // The build's own command (package.json's build:wasm), into a directory of the test's.
    const [tool, ...args] = pkg().scripts["build:wasm"]!.split(" ");
    assert.equal(tool, "asc");
    const build = (name: string) => {
      execFileSync(join(REPO, "node_modules/.bin/asc"), [...args, "--outFile", join(dir, name)], {
        cwd: REPO,
      });
      return readFileSync(join(dir, name));
    };
    const a = build("a.wasm");
    const b = build("b.wasm");
    assert.ok(a.equals(b), "two builds of the core differ: the build is not deterministic");
    assert.ok(
      a.equals(readFileSync(join(REPO, "dist/cpu.wasm"))),
      "dist/cpu.wasm is not the build",
    );
    assert.equal(
      sha256(a),
      recorded().get("dist/cpu.wasm"),
      "the core's SHA-256 is not the one in SHA256SUMS (changed src/accel/soft/cpu/? npm run manifest)",
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("every shipped guest file is recorded in SHA256SUMS and gzip-compressed without a name or a time", () => {
  const sums = recorded();
  const shipped = ["riscv64", "x86_64"].flatMap((arch) =>
    readdirSync(join(REPO, "guest", arch))
      .filter((f) => f.endsWith(".gz"))
      .map((f) => `guest/${arch}/${f}`),
  );
  assert.deepEqual(shipped.sort(), [...sums.keys()].filter((f) => f.startsWith("guest/")).sort());
  for (const f of shipped) {
    const data = readFileSync(join(REPO, f));
    assert.equal(sha256(data), sums.get(f), `${f} is not as recorded`);
    // RFC 1952: FLG (byte 3) without FNAME/FCOMMENT/FEXTRA, MTIME (bytes 4-7) zero: gzip -n.
    assert.deepEqual([...data.subarray(0, 8)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0], `${f} header`);
  }
});

test(
  "the initramfs of both shipped guests and the riscv64 agent overlay rebuild byte for byte (guest/check.sh --initramfs)",
  { timeout: 600_000 },
  () => {
    const r = spawnSync("bash", [join(REPO, "guest/check.sh"), "--initramfs"], {
      cwd: REPO,
      encoding: "utf8",
    });
    const out = r.stdout + r.stderr;
    assert.equal(r.status, 0, out);
    for (const f of ["riscv64/initramfs", "x86_64/initramfs", "riscv64/agent"])
      assert.match(out, new RegExp(`guest/${f}\\.cpio\\.gz: OK, rebuilt byte for byte`));
  },
);

/**
 * A copy of this install as npm ci leaves it, for a host to run: moat's built code, bin/, web/,
 * the manifests, the shipped guests and the runtime packages (package-lock.json's non-dev ones).
 */
function installCopy(): string {
  const root = mkdtempSync(join(tmpdir(), "moat-install-"));
  const parts = [
    "bin",
    "web",
    "dist/src",
    "dist/web",
    "dist/cpu.wasm",
    "dist/install.sha256",
    "package.json",
    "package-lock.json",
    "SHA256SUMS",
    "node_modules/.package-lock.json",
    ...[...recorded().keys()].filter((f) => f.startsWith("guest/")),
    ...Object.entries(lock().packages)
      .filter(([p, e]) => p.startsWith("node_modules/") && !e.dev && existsSync(join(REPO, p)))
      .map(([p]) => p),
  ];
  for (const p of parts) cpSync(join(REPO, p), join(root, p), { recursive: true });
  return root;
}

interface Finding {
  id: string;
  status: string;
  why: string;
}

function moatIn(root: string, args: string[]) {
  return spawnSync(process.execPath, [join(root, "bin/moat.js"), ...args], {
    encoding: "utf8",
    timeout: 120_000,
  });
}

/** The copy's own `moat audit --json`: its install.* findings by id. */
function installFindings(root: string): Map<string, Finding> {
  const r = moatIn(root, ["audit", "--json", "--home", join(root, "no-home")]);
  const findings = (JSON.parse(r.stdout) as { findings: Finding[] }).findings;
  return new Map(findings.filter((f) => f.id.startsWith("install.")).map((f) => [f.id, f]));
}

test("moat audit passes an install as built and names each file or package changed, added or swapped since", () => {
  const root = installCopy();
  try {
    let f = installFindings(root);
    for (const id of ["install.cpu-core", "install.guests", "install.packages", "install.files"])
      assert.equal(f.get(id)?.status, "pass", `${id}: ${f.get(id)?.why}`);

    appendFileSync(join(root, "dist/src/host/api.js"), "\n// planted\n");
    writeFileSync(join(root, "dist/src/host/extra.js"), "export {};\n");
    appendFileSync(join(root, "node_modules/ws/lib/websocket.js"), "\n// planted\n");
    // What `npm install ws@8.18.0` leaves in npm's record of the install.
    const record = join(root, "node_modules/.package-lock.json");
    const installed = JSON.parse(readFileSync(record, "utf8")) as ReturnType<typeof lock>;
    installed.packages["node_modules/ws"]!.version = "8.18.0";
    writeFileSync(record, JSON.stringify(installed));
    const core = readFileSync(join(root, "dist/cpu.wasm"));
    core[core.length - 1]! ^= 1;
    writeFileSync(join(root, "dist/cpu.wasm"), core);
    f = installFindings(root);
    const files = f.get("install.files")!;
    assert.equal(files.status, "fail");
    assert.match(files.why, /changed: .*dist\/src\/host\/api\.js/);
    assert.match(files.why, /changed: .*node_modules\/ws\/lib\/websocket\.js/);
    assert.match(files.why, /added: dist\/src\/host\/extra\.js/);
    assert.equal(f.get("install.cpu-core")?.status, "fail");
    assert.match(f.get("install.cpu-core")!.why, /dist\/cpu\.wasm/);
    assert.equal(f.get("install.packages")?.status, "fail");
    assert.match(
      f.get("install.packages")!.why,
      /node_modules\/ws 8\.18\.0 \(locked: 8\.\d+\.\d+\)/,
    );
    assert.equal(f.get("install.guests")?.status, "pass");
    const text = moatIn(root, ["audit", "--home", join(root, "no-home")]);
    assert.equal(text.status, 1, "moat audit exits 1 with a failure");
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("a shipped guest file (the initramfs, the agent overlay) changed after it was recorded is refused at load, with a clear error, and named by moat audit", () => {
  const root = installCopy();
  try {
    const name = "guest/riscv64/initramfs.cpio.gz";
    // Still a valid gzip stream: the check, not gunzip, refuses it.
    const data = readFileSync(join(root, name));
    data[9] = data[9] === 3 ? 255 : 3; // the header's OS byte
    writeFileSync(join(root, name), data);
    const r = moatIn(root, ["run", "--", "true"]);
    assert.equal(r.status, 125, r.stderr);
    assert.match(
      r.stderr,
      /^moat: the shipped guest file guest\/riscv64\/initramfs\.cpio\.gz was changed: its SHA-256 is [0-9a-f]{64}, SHA256SUMS records [0-9a-f]{64}; refused/,
    );
    let guests = installFindings(root).get("install.guests")!;
    assert.equal(guests.status, "fail");
    assert.match(guests.why, /guest\/riscv64\/initramfs\.cpio\.gz/);
    // The agent overlay likewise, when a VM with --agent would boot it.
    const agent = "guest/riscv64/agent.cpio.gz";
    const overlay = readFileSync(join(root, agent));
    overlay[9] = overlay[9] === 3 ? 255 : 3;
    writeFileSync(join(root, agent), overlay);
    writeFileSync(join(root, name), readFileSync(join(REPO, name)));
    const a = moatIn(root, ["run", "--agent", "--", "true"]);
    assert.equal(a.status, 125, a.stderr);
    assert.match(
      a.stderr,
      /^moat: the shipped guest file guest\/riscv64\/agent\.cpio\.gz was changed: its SHA-256 is [0-9a-f]{64}, SHA256SUMS records [0-9a-f]{64}; refused/,
    );
    guests = installFindings(root).get("install.guests")!;
    assert.equal(guests.status, "fail");
    assert.match(guests.why, /guest\/riscv64\/agent\.cpio\.gz/);
    assert.doesNotMatch(guests.why, /initramfs/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("install scripts: only package.json's allowScripts run them, and npm refuses a new one", () => {
  // Every locked package with an install script is approved by name, and nothing else is.
  const withScripts = new Set(
    Object.entries(lock().packages)
      .filter(([, e]) => e.hasInstallScript)
      .map(([p]) => p.slice(p.lastIndexOf("node_modules/") + "node_modules/".length)),
  );
  const allowed = pkg().allowScripts ?? {};
  assert.deepEqual([...withScripts].sort(), Object.keys(allowed).sort());
  assert.ok(Object.values(allowed).every((v) => v === true));

  // With this machine's npm, installing as .ci/run does (--strict-allow-scripts): a dependency
  // with an install script that allowScripts does not name fails the install, and its script
  // never runs.
  const dir = mkdtempSync(join(tmpdir(), "moat-npm-"));
  try {
    const evil = join(dir, "evil");
    mkdirSync(evil);
    writeFileSync(
      join(evil, "package.json"),
      JSON.stringify({
        name: "evil",
        version: "1.0.0",
        scripts: { install: `touch ${join(dir, "ran")}` },
      }),
    );
    execFileSync("npm", ["pack", "--silent", "--pack-destination", dir], { cwd: evil });
    writeFileSync(
      join(dir, "package.json"),
      JSON.stringify({
        name: "project",
        version: "1.0.0",
        private: true,
        dependencies: { evil: "file:evil-1.0.0.tgz" },
        allowScripts: allowed,
      }),
    );
    const args = ["install", "--strict-allow-scripts", "--offline", "--no-audit", "--no-fund"];
    const r = spawnSync("npm", args, {
      cwd: dir,
      encoding: "utf8",
    });
    assert.notEqual(r.status, 0, "npm installed a package whose install script is not approved");
    assert.match(r.stderr, /ESTRICTALLOWSCRIPTS/);
    assert.match(r.stderr, /evil@1\.0\.0/);
    assert.equal(existsSync(join(dir, "ran")), false, "the unapproved install script ran");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("npm run sbom writes a CycloneDX SBOM of moat naming every locked package with its SHA-512", () => {
  execFileSync("npm", ["run", "--silent", "sbom"], { cwd: REPO, encoding: "utf8" });
  const bom = JSON.parse(readFileSync(join(REPO, "dist/sbom.cdx.json"), "utf8")) as {
    bomFormat: string;
    metadata: { component: { name: string } };
    components: { name: string; version: string; hashes?: { alg: string; content: string }[] }[];
  };
  assert.equal(bom.bomFormat, "CycloneDX");
  assert.equal(bom.metadata.component.name, "moat-vmm"); // package.json's name
  const listed = new Map(bom.components.map((c) => [`${c.name}@${c.version}`, c]));
  for (const [path, e] of Object.entries(lock().packages)) {
    if (!path.startsWith("node_modules/") || !e.integrity) continue;
    const name = path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length);
    const c = listed.get(`${name}@${e.version}`);
    assert.ok(c, `${name}@${e.version} is in the SBOM`);
    const sha512 = Buffer.from(e.integrity.replace(/^sha512-/, ""), "base64").toString("hex");
    assert.ok(
      c.hashes?.some((h) => h.alg === "SHA-512" && h.content === sha512),
      `${name}@${e.version}: the lockfile's SHA-512`,
    );
  }
});
