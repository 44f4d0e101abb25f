// `moat audit`: the host and moat's own set-up checked against what the threat model assumes
// (docs/threat-model.md). Every check reads files under an injectable root (`/` on a real host,
// a fixture tree in the tests) and the daemon's home; none changes anything. Each finding is
// pass, warn or fail, with why and how to fix it.
import { existsSync, readFileSync, readdirSync, readlinkSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { verifyAuditLog } from "./audit-log.js";
import type { DaemonConfig } from "./config.js";
import { Store, type TokenRecord, type VmRecord } from "./store.js";
import { vmProcesses, vmmProcess } from "./host-facts.js";
import { agentPolicy, DEFAULT_AGENT_ALLOW } from "../agent/agent-commands.js";
import { imageDirsProblem, imageRules, type ImageRules } from "./image-dirs.js";
import { imageFields, recheckFile } from "./vm-create.js";
import { domainUse, QUOTA_KEYS } from "./quota.js";
import { PACKAGE_ROOT } from "../base/sha256sums.js";
import { integrityAudit } from "./integrity-audit.js";
import type { Finding } from "./audit-finding.js";

export interface AuditEnv {
  /** Where /proc, /sys, /dev and /etc are read from ("/" on the host). */
  root: string;
  config: DaemonConfig;
  /** Today, for the runtime's support dates. */
  now: Date;
  /** process.version of the runtime moat runs on. */
  nodeVersion: string;
}

/**
 * End of security support of each Node.js major line (the project's published release
 * schedule: even-numbered lines get LTS until the 30th of April, 30 months after release).
 */
const NODE_END_OF_LIFE: Record<number, string> = {
  18: "2025-04-30",
  20: "2026-04-30",
  22: "2027-04-30",
  24: "2028-04-30",
  26: "2029-04-30",
};

const pass = (id: string, why: string): Finding => ({ id, status: "pass", why, fix: "" });
const warn = (id: string, why: string, fix: string): Finding => ({ id, status: "warn", why, fix });
const fail = (id: string, why: string, fix: string): Finding => ({ id, status: "fail", why, fix });

/** A small text file under the root, trimmed; undefined when absent. Bound: 64 KiB read. */
function read(root: string, path: string): string | undefined {
  try {
    return readFileSync(join(root, path), "utf8").slice(0, 65536).trim();
  } catch {
    return undefined;
  }
}

/** The host's CPU vulnerability report: any "Vulnerable" fails. */
export function checkCpuVulnerabilities(root: string): Finding {
  const id = "cpu.vulnerabilities";
  const dir = join(root, "sys/devices/system/cpu/vulnerabilities");
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return warn(
      id,
      "the kernel reports no CPU vulnerabilities (no sysfs entry)",
      "run a kernel that has /sys/devices/system/cpu/vulnerabilities (4.15 or later)",
    );
  }
  const vulnerable = names
    .map((n) => [n, read(root, join("sys/devices/system/cpu/vulnerabilities", n)) ?? ""])
    .filter(([, state]) => /^Vulnerable/i.test(state!));
  if (vulnerable.length)
    return fail(
      id,
      `vulnerable: ${vulnerable.map(([n, state]) => `${n} (${state})`).join("; ")}`,
      "update the CPU microcode and the kernel, and do not turn mitigations off (mitigations=off on the kernel command line)",
    );
  return pass(id, `${names.length} issues reported, each mitigated or not affected`);
}

/** The kernel's words for SMT control (sys/devices/system/cpu/smt/control), as a sentence says them. */
const smtWords: Record<string, string> = {
  forceoff: "forced off",
  notsupported: "not supported by this CPU",
  notimplemented: "not implemented by this kernel",
};

/** SMT lets vCPUs on sibling threads observe each other; pinning keeps domains off shared cores. */
export function checkSmt(root: string, c: DaemonConfig): Finding {
  const id = "cpu.smt";
  const control = read(root, "sys/devices/system/cpu/smt/control");
  const active = read(root, "sys/devices/system/cpu/smt/active");
  const off = ["off", "forceoff", "notsupported", "notimplemented"];
  if (control === undefined || off.includes(control) || active === "0")
    return pass(
      id,
      `SMT is ${smtWords[control ?? ""] ?? control ?? "not reported"}` +
        (active === "0" ? " (no sibling threads active)" : ""),
    );
  if (c.policy.ksmDomain !== undefined)
    return pass(id, "SMT is on, but every VM is in one trust domain (policy.ksmDomain)");
  if (c.policy.pinning)
    return pass(id, "SMT is on; policy.pinning keeps trust domains on separate cores");
  return warn(
    id,
    "SMT is on and VMs are not pinned: vCPUs of different trust domains may run on sibling threads of one core (L1TF/MDS-class leaks)",
    'set "policy": {"pinning": true} in the daemon config, or turn SMT off (echo off > /sys/devices/system/cpu/smt/control)',
  );
}

/** KSM merges identical pages across VMs: a side channel unless all VMs share one domain. */
export function checkKsm(root: string, c: DaemonConfig): Finding {
  const id = "memory.ksm";
  const run = read(root, "sys/kernel/mm/ksm/run");
  if (run === undefined || run === "0" || run === "2")
    return pass(id, `KSM is off (run=${run ?? "absent"})`);
  if (c.policy.ksmDomain !== undefined)
    return pass(id, `KSM is on and every VM is in trust domain '${c.policy.ksmDomain}'`);
  return fail(
    id,
    "KSM is on while VMs of different trust domains may share the host: page merging is a timing side channel between them",
    "echo 2 > /sys/kernel/mm/ksm/run (unmerge and stop), or set policy.ksmDomain if one domain owns every VM",
  );
}

/** Swap writes guest memory (keys, secrets) to disk, where it outlives the VM. */
export function checkSwap(root: string): Finding {
  const id = "memory.swap";
  const swaps = read(root, "proc/swaps");
  const devices = (swaps ?? "")
    .split("\n")
    .slice(1)
    .filter((l) => l.trim() !== "");
  if (devices.length === 0) return pass(id, "no swap is active");
  return warn(
    id,
    `swap is active (${devices.map((l) => l.split(/\s+/)[0]).join(", ")}): guest memory may be written to disk`,
    "swapoff -a, use encrypted swap, or create VMs that hold secrets with lock_memory",
  );
}

/** Device nodes: who can open /dev/kvm and /dev/net/tun. */
export function checkDevice(root: string, path: string, what: string): Finding {
  const id = `dev.${path.split("/").pop()}`;
  let st;
  try {
    st = statSync(join(root, path));
  } catch {
    return warn(
      id,
      `/${path} is absent: no ${what}`,
      path === "dev/kvm"
        ? "load kvm_intel or kvm_amd (moat then runs x86-64 guests)"
        : "modprobe tun",
    );
  }
  const mode = st.mode & 0o777;
  if (path === "dev/kvm" && mode & 0o006)
    return warn(
      id,
      `/dev/kvm is mode ${mode.toString(8)}: every local user may create VMs and reach the kernel's KVM code`,
      "chmod 660 /dev/kvm and give access through the kvm group only",
    );
  if (mode & 0o002 && path !== "dev/net/tun")
    return fail(id, `/${path} is world-writable (mode ${mode.toString(8)})`, `chmod o-w /${path}`);
  return pass(id, `/${path} mode ${mode.toString(8)}`);
}

/** Nested virtualisation lets guests run hypervisors of their own: more of KVM is reachable. */
export function checkNested(root: string): Finding {
  const id = "kvm.nested";
  const on = ["kvm_intel", "kvm_amd"].filter((m) =>
    /^(Y|1)$/.test(read(root, `sys/module/${m}/parameters/nested`) ?? ""),
  );
  if (on.length === 0) return pass(id, "nested virtualisation is off (or KVM is not loaded)");
  return warn(
    id,
    `${on.join(", ")} allows nested virtualisation; moat hides VMX/SVM from its guests, other VMMs on this host may not`,
    `options ${on[0]} nested=0 in /etc/modprobe.d, then reload the module`,
  );
}

/** The API socket must be root:moat 0660 or stricter; the TLS key not readable by others. */
export function checkApi(c: DaemonConfig): Finding[] {
  const out: Finding[] = [];
  let st;
  try {
    st = statSync(c.socket);
  } catch {
    out.push(
      warn("api.socket", `no API socket at ${c.socket} (is the daemon running?)`, "moat daemon"),
    );
  }
  if (st) {
    const mode = st.mode & 0o777;
    if (!st.isSocket())
      out.push(
        fail(
          "api.socket",
          `${c.socket} is not a socket`,
          "stop whatever made it and start moat daemon",
        ),
      );
    else if (mode & 0o007)
      out.push(
        fail(
          "api.socket",
          `${c.socket} is mode ${mode.toString(8)}: every local user reaches the API`,
          `chmod 660 ${c.socket}`,
        ),
      );
    else if (st.uid !== 0 && process.getuid?.() === 0)
      out.push(
        warn(
          "api.socket",
          `${c.socket} is owned by uid ${st.uid}, not root`,
          `chown root ${c.socket}`,
        ),
      );
    else out.push(pass("api.socket", `${c.socket} mode ${mode.toString(8)}`));
  }
  if (!c.tcp) out.push(pass("api.tcp", "no TCP listener: the API is on the Unix socket only"));
  else {
    // The daemon serves TCP only with TLS; what remains to check is the key's protection.
    let key;
    try {
      key = statSync(c.tcp.key);
    } catch {
      out.push(
        fail(
          "api.tcp",
          `the TLS key ${c.tcp.key} is missing`,
          "point tcp.key at the listener's private key",
        ),
      );
    }
    if (key && key.mode & 0o077)
      out.push(
        fail(
          "api.tcp",
          `the TLS key ${c.tcp.key} is mode ${(key.mode & 0o777).toString(8)}: others can read it`,
          `chmod 600 ${c.tcp.key}`,
        ),
      );
    else if (key) {
      const host = c.tcp.host ?? "127.0.0.1";
      const loopback = host === "::1" || host.startsWith("127.");
      out.push(
        pass(
          "api.tcp",
          `TLS on ${host}:${c.tcp.port}${loopback ? " (loopback)" : ""}, key mode 600`,
        ),
      );
    }
  }
  return out;
}

/** Admin tokens: one per person who administers the host, and at least one. */
function checkTokens(tokens: TokenRecord[] | undefined): Finding {
  const id = "api.admin-tokens";
  if (!tokens)
    return warn(
      id,
      "no daemon database: tokens not checked",
      "moat daemon (its first start makes the admin token)",
    );
  const admins = tokens.filter((t) => t.role === "admin").length;
  if (admins === 0)
    return warn(
      id,
      "no admin token: nobody can manage tokens or verify the audit log",
      "restart moat daemon, which makes one",
    );
  if (admins > 3)
    return warn(
      id,
      `${admins} admin tokens: each is the whole host`,
      "moat token rm the ones nobody needs; give others operator or tenant tokens",
    );
  return pass(id, `${admins} admin token${admins === 1 ? "" : "s"}`);
}

/** Tenants' tokens: each should end on its own, not only when someone remembers to revoke it. */
function checkTokenExpiry(tokens: TokenRecord[]): Finding {
  const id = "api.token-expiry";
  const forever = tokens.filter((t) => t.role === "tenant" && t.expiresAt === null);
  if (forever.length)
    return warn(
      id,
      `tenant token${forever.length === 1 ? "" : "s"} ${forever.map((t) => t.name).join(", ")} never expire${forever.length === 1 ? "s" : ""}`,
      "moat token create ... --expires 30d for each tenant, then moat token rm the old ones",
    );
  return pass(id, "every tenant token expires");
}

/** The audit log's hash chain, against the head the daemon recorded. */
async function checkAuditLog(home: string, store: Store | undefined): Promise<Finding> {
  const id = "audit.chain";
  const path = join(home, "audit.log");
  if (!existsSync(path))
    return warn(id, `no audit log at ${path}`, "moat daemon writes it from its first start");
  // A running daemon appends a line and then records its head: read between the two, the log
  // is one line ahead of the head. Such a gap closes within milliseconds, a change does not:
  // a failure is checked twice more before it is reported.
  let r;
  for (let attempt = 0; ; attempt++) {
    r = await verifyAuditLog(path, store?.auditHead());
    if (r.ok) return pass(id, `${r.lines} entries, chain intact`);
    if (attempt === 2) break;
    await new Promise((res) => setTimeout(res, 250));
  }
  const first = r.problems.slice(0, 3).map((p) => `line ${p.line}: ${p.reason}`);
  return fail(
    id,
    `the audit log was changed: ${first.join("; ")}${r.problems.length > 3 ? "; ..." : ""}`,
    "keep the file for investigation; moat audit-log verify lists every problem",
  );
}

/** What the daemon applies to every VM process. */
export function checkVmIsolation(c: DaemonConfig): Finding[] {
  return [
    c.vmJail
      ? pass("vm.jail", "VM processes run jailed (namespaces, a root of their own)")
      : fail(
          "vm.jail",
          "vmJail is off: VM processes see the whole host file system",
          'remove "vmJail": false from the config',
        ),
    c.vmSeccomp === "kill"
      ? pass("vm.seccomp", "VM processes run under the seccomp filter (kill)")
      : c.vmSeccomp === "log"
        ? warn("vm.seccomp", "the seccomp filter only logs", 'set "vmSeccomp": "kill"')
        : fail(
            "vm.seccomp",
            "VM processes run without a seccomp filter",
            'set "vmSeccomp": "kill"',
          ),
    c.vmUsers
      ? pass("vm.users", "each VM process runs as a uid of its own")
      : warn(
          "vm.users",
          "VM processes share the daemon's uid",
          "run the daemon as root with vmUsers on",
        ),
  ];
}

/**
 * A running VM's process as the kernel sees it: under a seccomp filter, without capabilities,
 * in mount and PID namespaces of its own (what the jail promises, checked on the live process).
 */
export function checkVmProcess(root: string, vm: VmRecord): Finding | undefined {
  if (vm.pid === null) return undefined;
  const id = `vm.${vm.name}.process`;
  const proc = join(root, "proc");
  const pid = vmmProcess(vm.pid, root.endsWith("/") ? root : `${root}/`);
  const status = pid === undefined ? undefined : read(root, `proc/${pid}/status`);
  if (pid === undefined || status === undefined)
    return warn(id, `no process ${vm.pid} (the VM ended?)`, "moat ls; start it again");
  const field = (k: string) => new RegExp(`^${k}:\\s*(\\S+)`, "m").exec(status)?.[1];
  const ns = (p: number | "1", kind: string) => {
    try {
      return readlinkSync(join(proc, String(p), "ns", kind));
    } catch {
      return undefined;
    }
  };
  const missing: string[] = [];
  if (field("Seccomp") !== "2")
    missing.push(`no seccomp filter (Seccomp ${field("Seccomp") ?? "?"})`);
  if (!/^0+$/.test(field("CapEff") ?? "")) missing.push(`capabilities ${field("CapEff") ?? "?"}`);
  if (field("NoNewPrivs") !== "1") missing.push("may gain privileges (NoNewPrivs 0)");
  for (const kind of ["mnt", "pid"]) {
    const own = ns(pid, kind);
    if (own === undefined || own === ns("1", kind)) missing.push(`the host's ${kind} namespace`);
  }
  if (missing.length === 0)
    return pass(
      id,
      `process ${pid}: seccomp filter, no capabilities, its own mount and PID namespaces`,
    );
  return (vm.state === "running" || vm.state === "paused" ? fail : warn)(
    id,
    `process ${pid}: ${missing.join(", ")}`,
    'run VMs jailed ("vmJail": true, "vmSeccomp": "kill") and restart this one',
  );
}

/**
 * VM processes whose directory is gone, as when a daemon's home is removed under its running
 * VMs: no daemon supervises them any more (nothing stops or restarts them, no quota or capacity
 * counts them, the audit log does not see them) and their console and control sockets went with
 * the directory. Any daemon's on this host, not only this home's.
 */
export function checkVmOrphans(root: string): Finding {
  const id = "vm.orphans";
  const gone = vmProcesses(root).filter((p) => !existsSync(join(root, dirname(p.path))));
  if (gone.length === 0) return pass(id, "every VM process's directory is there");
  const named = gone.map(
    (p) => `process ${p.pid}${p.name !== undefined ? ` (VM ${p.name})` : ""}: ${p.path}`,
  );
  return fail(
    id,
    `VM processes whose directory is gone, so no daemon supervises them: ${named.join("; ")}`,
    // SIGKILL: a jailed VM's unshare ignores SIGTERM; the VMM dies with it.
    `kill -KILL ${gone.map((p) => p.pid).join(" ")} (their daemon's home was removed while ` +
      "they ran: stop a daemon's VMs before removing its home)",
  );
}

/** The image directories: none may be, lie in or hold a system directory or the home. */
export function checkImageDirs(c: DaemonConfig): Finding {
  const id = "images.dirs";
  const bad = imageDirsProblem(c);
  if (bad)
    return fail(id, `${bad} (the daemon refuses to start)`, "list only directories of images");
  const domains = Object.keys(c.domainImageDirs).length;
  return pass(
    id,
    `operators: ${c.imageDirs.join(", ") || "none"}; tenants: ${c.tenantImageDirs.join(", ") || "none"}` +
      (domains ? `; ${domains} domain${domains === 1 ? "" : "s"} with their own` : ""),
  );
}

/**
 * A VM's kernel, initrd and disks: each still in its domain's image directories as the daemon
 * checks before a start (a file put there before the rule, a setting changed, a link put in).
 */
export function checkVmImages(vm: VmRecord, rules: ImageRules): Finding | undefined {
  const files = imageFields(vm.spec, vm.restoredFrom !== null);
  if (files.length === 0) return undefined;
  const id = `vm.${vm.name}.images`;
  const bad: string[] = [];
  for (const { field, path } of files)
    try {
      recheckFile(rules, path, vm.domain, (_status, why) => {
        throw new Error(`${field} ${path}: ${why}`);
      });
    } catch (e) {
      bad.push((e as Error).message);
    }
  if (bad.length === 0)
    return pass(
      id,
      `${files.length} host file${files.length === 1 ? "" : "s"}, each in its image directories`,
    );
  return fail(
    id,
    bad.join("; "),
    "move the file into an image directory (or add its directory to imageDirs) and create the VM again",
  );
}

/** Tenants' domains should each have a quota, and no domain should hold more than its quota. */
export function checkQuotas(c: DaemonConfig, tokens: TokenRecord[], vms: VmRecord[]): Finding {
  const id = "quota.domains";
  const tenantDomains = [
    ...new Set(tokens.flatMap((t) => (t.role === "tenant" && t.domain ? [t.domain] : []))),
  ].sort();
  const problems: string[] = [];
  for (const d of tenantDomains) {
    const q = Object.hasOwn(c.domainQuotas, d) ? c.domainQuotas[d]! : undefined;
    const missing = QUOTA_KEYS.filter((k) => q?.[k] === undefined);
    if (missing.length)
      problems.push(
        q
          ? `tenant domain ${d} has no ${missing.join(", ")} quota`
          : `tenant domain ${d} has no quota`,
      );
  }
  for (const [d, q] of Object.entries(c.domainQuotas)) {
    const use = domainUse(d, vms);
    for (const k of QUOTA_KEYS)
      if (q[k] !== undefined && use[k] > q[k])
        problems.push(`domain ${d} holds ${use[k]} ${k}, over its quota of ${q[k]}`);
  }
  if (problems.length)
    return warn(
      id,
      `${problems.join("; ")}: one tenant can take the host's headroom or fill its records`,
      'set domainQuotas in the daemon config, e.g. "acme": {"vcpus": 4, "memoryMiB": 4096, "vms": 20, "diskBytes": 107374182400}',
    );
  return pass(
    id,
    tenantDomains.length
      ? `every tenant domain has a quota (${tenantDomains.join(", ")}), none is over it`
      : "no tenant domains; no domain over its quota",
  );
}

/** Per VM: a guest agent that may run commands, and devices without rate limits. */
function checkVm(vm: VmRecord): Finding[] {
  const out: Finding[] = [];
  const id = `vm.${vm.name}`;
  const s = vm.spec;
  if (s.agent) {
    const allowed = agentPolicy(s.agent.allow ?? DEFAULT_AGENT_ALLOW);
    const risky = (["exec", "file-open", "file-write"] as const).filter((c) => allowed.has(c));
    out.push(
      risky.length
        ? warn(
            `${id}.agent`,
            `its guest agent allows ${risky.join(", ")}: a token with vm.agent runs code in the guest`,
            "allow only info,shutdown unless the guest's owner asked for more",
          )
        : pass(`${id}.agent`, "guest agent: informational commands and shutdown only"),
    );
  }
  const unlimited = [
    ...s.disks
      .filter((d) => d.bps === undefined && d.iops === undefined)
      .map((d) => `disk ${d.path}`),
    ...s.nics
      .filter((n) => n.bps === undefined && n.pps === undefined)
      .map((n) => `nic ${[n.tap, n.bridge].filter(Boolean).join(" on ") || "?"}`),
  ];
  if (unlimited.length)
    out.push(
      warn(
        `${id}.rate-limits`,
        `no rate limit on ${unlimited.join(", ")}: the guest can take the host's whole disk or network bandwidth`,
        "set bps/iops on disks and bps/pps on nics",
      ),
    );
  else if (s.disks.length + s.nics.length)
    out.push(pass(`${id}.rate-limits`, "every disk and nic is rate-limited"));
  return out;
}

/** The runtime moat runs on must still get security fixes. */
export function checkNode(version: string, now: Date): Finding {
  const id = "runtime.node";
  const major = Number(/^v?(\d+)/.exec(version)?.[1]);
  const eol = NODE_END_OF_LIFE[major];
  if (eol === undefined)
    return major % 2 === 1
      ? warn(
          id,
          `Node.js ${version} is an odd-numbered (short-lived) release line`,
          "run an LTS line (even-numbered)",
        )
      : warn(
          id,
          `Node.js ${version}: support dates unknown to this moat`,
          "check the Node.js release schedule",
        );
  if (now.getTime() > Date.parse(`${eol}T23:59:59Z`))
    return fail(
      id,
      `Node.js ${version} reached end of life on ${eol}: no more security fixes`,
      "install a supported LTS line of Node.js (22 or later)",
    );
  return pass(id, `Node.js ${version}, supported until ${eol}`);
}

/** Every check, in a stable order. */
export async function audit(env: AuditEnv): Promise<Finding[]> {
  const c = env.config;
  const dbPath = join(c.home, "moat.db");
  let store: Store | undefined;
  try {
    store = new Store(dbPath, { readOnly: true });
  } catch {
    store = undefined; // no daemon database (yet)
  }
  try {
    const tokens = store?.tokens();
    const vms = store?.vms() ?? [];
    const rules = imageRules(c);
    return [
      checkCpuVulnerabilities(env.root),
      checkSmt(env.root, c),
      checkKsm(env.root, c),
      checkSwap(env.root),
      checkDevice(env.root, "dev/kvm", "KVM"),
      checkDevice(env.root, "dev/net/tun", "TAP networking"),
      checkNested(env.root),
      ...checkApi(c),
      checkTokens(tokens),
      ...(tokens ? [checkTokenExpiry(tokens)] : []),
      await checkAuditLog(c.home, store),
      ...checkVmIsolation(c),
      checkImageDirs(c),
      ...(tokens ? [checkQuotas(c, tokens, vms)] : []),
      ...vms.flatMap((named) => {
        // Names are unique per domain: one used in two domains is told apart by its domain.
        const twice = vms.some((v) => v.name === named.name && v.id !== named.id);
        const vm = twice ? { ...named, name: `${named.name}@${named.domain}` } : named;
        const p = checkVmProcess(env.root, vm);
        const i = checkVmImages(vm, rules);
        return [...(p ? [p] : []), ...(i ? [i] : []), ...checkVm(vm)];
      }),
      checkVmOrphans(env.root),
      checkNode(env.nodeVersion, env.now),
      ...integrityAudit(PACKAGE_ROOT),
    ];
  } finally {
    store?.close();
  }
}
