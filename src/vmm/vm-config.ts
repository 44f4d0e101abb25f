// One VM as its process runs it: the machine (accelerator, vCPUs, RAM, boot files, every
// device, agent policy) and where it meets the host (its sockets and files, pinning, KSM,
// seccomp, the uid it drops to). `moat run` turns its flags into one, the daemon writes one into
// the VM's directory, and `moat vmm --config FILE` runs one. The API's VM spec is the machine
// part plus host-level fields (host/vm-spec.ts), so a setting has one name from the API to the
// device. The schema is the bound: every number has its range, every string its pattern and
// length, every list its length, and unknown fields are refused (a typo must not pass silently).
import { resolve } from "node:path";
import type { ErrorObject, ValidateFunction } from "ajv";
import { validators, type SchemaSet } from "./schema-compiler.js";
import { AGENT_POLICY_NAMES } from "../agent/agent-commands.js";
import { MAX_MODE } from "../devices/virtio/gpu.js";
import { CPU_TIERS, type CpuTier } from "../accel/soft/cpu-tier.js";
import { CONSOLE_LOG_MAX, CONSOLE_LOG_MIN } from "./console-log.js";
import { MEMORY_MIB_MAX, MEMORY_MIB_MIN, VCPUS_MAX, archOf } from "./vm-limits.js";
import { MoatError } from "../base/moat-error.js";
import { LOG_FORMATS, type LogFormat } from "../base/log.js";
import { initrdChoice, lacksShippedAgent, NO_X86_AGENT } from "../boot/shipped-guest.js";

/**
 * A VM's name, one rule everywhere (moat run --name, a config file, moat create and the API):
 * lower case as DNS labels are, since names are unique per trust domain and appear in paths,
 * logs and URLs. Bound: 1 to 63 characters.
 */
export const VM_NAME_PATTERN = "^[a-z0-9][a-z0-9_.-]{0,62}$";
/** VM_NAME_PATTERN in words, for every refusal of a name. */
export const VM_NAME_WORDS = "1 to 63 of a-z 0-9 _ . -, starting with a letter or digit";

/** A Linux network interface name (TAP or bridge): at most 15 bytes. */
export const IFNAME_PATTERN = "^[A-Za-z0-9_.-]{1,15}$";
/** No NUL: no file name or argument can hold one (the file system and exec refuse it). */
const NO_NUL = "[^\\u0000]*$";
/**
 * A host path: no NUL, and no comma, which `moat run --disk PATH,OPTIONS` could not say. A
 * config file's may be relative to the process's working directory; the API's are absolute.
 */
const PATH = { type: "string", minLength: 1, maxLength: 1024, pattern: "^[^\\u0000,]+$" } as const;
export const ABSOLUTE_PATH = { ...PATH, pattern: "^/[^\\u0000,]*$" } as const;
type PathSchema = typeof PATH | typeof ABSOLUTE_PATH;
const RATE = { type: "integer", minimum: 1, maximum: 2 ** 40 } as const;
/** Bound: disks and NICs per VM (the virtio-mmio slots they share with the other devices). */
export const DISKS_MAX = 8;
export const NICS_MAX = 4;

/** The disk image formats moat reads. */
export const DISK_FORMATS = ["raw", "qcow2"] as const;
export type DiskFormat = (typeof DISK_FORMATS)[number];

export interface DiskConfig {
  path: string;
  read_only: boolean;
  /**
   * The image's format, said (or recorded by the daemon at create): raw is never looked at for
   * another format, qcow2 is read as qcow2 (docs/disks.md). Unsaid: raw, once the first sector
   * is seen to name no other format.
   */
  format?: DiskFormat;
  /** Rate limits: data bytes per second, requests per second. */
  bps?: number;
  iops?: number;
}

export interface NicConfig {
  /** The TAP device to use (created when absent); with `bridge` alone, moat names it. */
  tap?: string;
  /** An existing Linux bridge the TAP is made a port of. */
  bridge?: string;
  mac?: string;
  /** Rate limits, each direction: bytes and frames per second. */
  bps?: number;
  pps?: number;
}

/** The machine: what the API's VM spec holds too. */
export interface MachineConfig {
  name?: string;
  /** auto: KVM where the host has hardware virtualisation, the soft CPU elsewhere. */
  accel: "soft" | "kvm" | "auto";
  cpu_tier?: CpuTier;
  /** A host path; absent: the shipped kernel. */
  kernel?: string;
  /** A host path, or "none"; absent: the shipped initramfs (unless `kernel` is given). */
  initrd?: string;
  cmdline?: string;
  cpus: number;
  memory_mib: number;
  disks: DiskConfig[];
  nics: NicConfig[];
  vsock?: { cid: number };
  balloon?: { free_page_reporting: boolean };
  agent?: { allow?: string[] };
  rng: boolean;
  lock_memory: boolean;
  display?: { width: number; height: number };
}

/** Where the VM meets the host: set by whoever starts the process, never by an API caller. */
export interface HostConfig {
  /** Unix sockets: the control API, the serial console, vsock's and a virtio console's host ends. */
  control?: string;
  console?: string;
  vsock?: string;
  vconsole?: string;
  /** VNC on a Unix socket path or a loopback host:port. */
  vnc?: string;
  vnc_password_file?: string;
  console_log?: { path: string; max_bytes: number };
  exit_file?: string;
  /** vCPU i's thread on host CPU pin_cpus[i % n]. */
  pin_cpus?: number[];
  ksm: boolean;
  seccomp?: "kill" | "log";
  /** Dropped to once guest RAM is set up. */
  jail_user?: { uid: number; gid: number };
  /** The process's own log on stderr: text lines ("moat: ..."; absent) or JSON lines. */
  log_format?: LogFormat;
  /** Where the control socket's snapshot op writes snapshots (one directory each, by name). */
  snapshot_dir?: string;
  /**
   * Directories (real paths) a qcow2 disk's backing files may lie in; absent: each image's own
   * directory (docs/disks.md). The daemon gives its VM's domain's image store directory.
   */
  backing_dirs?: string[];
  /**
   * A snapshot to start from instead of booting: the machine is the snapshot's (the config's
   * own machine fields are not used), the host part this config's.
   */
  restore?: string;
  /** With restore: the VM is a clone, given a new VM generation ID (docs/snapshot.md "Clones"). */
  clone?: boolean;
}

export interface VmConfig extends MachineConfig {
  /** riscv64 firmware: moat's SBI, Debian's OpenSBI, or a fw_dynamic file. */
  bios: string;
  host: HostConfig;
}

/** The machine's properties, shared with the API's VM spec (host/vm-spec.ts), its paths `path`. */
export const machineProperties = (path: PathSchema) =>
  ({
    name: {
      type: "string",
      pattern: VM_NAME_PATTERN,
      description: "reported by status; in file names and logs",
    },
    accel: { type: "string", enum: ["soft", "kvm", "auto"], default: "auto" },
    cpu_tier: {
      type: "string",
      enum: CPU_TIERS,
      description:
        "how the soft CPU runs guest code (moat run --cpu-tier); absent: the VMM's default. " +
        "Not with accel kvm; ignored where auto picks KVM",
    },
    kernel: { ...path, description: "host path; default: the shipped kernel" },
    initrd: {
      anyOf: [path, { const: "none" }],
      description:
        'host path; default: the shipped initramfs; "none": no initramfs (the kernel mounts its root, e.g. cmdline "root=/dev/vda rw")',
    },
    cmdline: { type: "string", maxLength: 2048, pattern: `^${NO_NUL}` },
    cpus: { type: "integer", minimum: 1, maximum: VCPUS_MAX, default: 1 },
    memory_mib: {
      type: "integer",
      minimum: MEMORY_MIB_MIN,
      maximum: Math.max(...Object.values(MEMORY_MIB_MAX)),
      default: 128,
      description: `at most ${MEMORY_MIB_MAX.x86_64} with accel kvm (an x86-64 guest)`,
    },
    disks: {
      type: "array",
      maxItems: DISKS_MAX,
      default: [],
      items: {
        type: "object",
        additionalProperties: false,
        required: ["path"],
        properties: {
          path,
          read_only: { type: "boolean", default: false },
          format: {
            enum: DISK_FORMATS,
            description:
              "the image's format (raw or qcow2): given, or recorded at create from the file's " +
              "first sector, so nothing the guest writes there later changes how it is read",
          },
          bps: RATE,
          iops: RATE,
        },
      },
    },
    nics: {
      type: "array",
      maxItems: NICS_MAX,
      default: [],
      items: {
        type: "object",
        additionalProperties: false,
        properties: {
          tap: {
            type: "string",
            pattern: IFNAME_PATTERN,
            description: "the TAP device (created when absent)",
          },
          bridge: {
            type: "string",
            pattern: IFNAME_PATTERN,
            description:
              "an existing Linux bridge the TAP (tap's, else a new one) is made a port of",
          },
          mac: { type: "string", pattern: "^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$" },
          bps: RATE,
          pps: RATE,
        },
      },
    },
    vsock: {
      type: "object",
      additionalProperties: false,
      properties: { cid: { type: "integer", minimum: 3, maximum: 0xffff_fffe, default: 3 } },
    },
    balloon: {
      type: "object",
      additionalProperties: false,
      properties: { free_page_reporting: { type: "boolean", default: true } },
    },
    agent: {
      type: "object",
      additionalProperties: false,
      description:
        "a guest-agent channel (virtio-serial org.qemu.guest_agent.0); allow: commands or " +
        "classes its policy lets callers run (default: the informational ones and shutdown)",
      properties: {
        allow: {
          type: "array",
          maxItems: 32,
          uniqueItems: true,
          items: { type: "string", enum: AGENT_POLICY_NAMES },
        },
      },
    },
    rng: { type: "boolean", default: false },
    lock_memory: {
      type: "boolean",
      default: false,
      description:
        "lock guest RAM in host memory: never swapped, never merged by KSM; not with a balloon",
    },
    display: {
      type: "object",
      additionalProperties: false,
      description:
        "a virtio-gpu display with keyboard and tablet, served over VNC on the VM's Unix socket",
      properties: {
        width: { type: "integer", minimum: 320, maximum: MAX_MODE.width, default: 1024 },
        height: { type: "integer", minimum: 200, maximum: MAX_MODE.height, default: 768 },
      },
    },
  }) as const;

/** Bound: CPUs in pin_cpus. */
export const PIN_CPUS_MAX = 64;

const HOST_PROPERTIES = {
  control: PATH,
  console: PATH,
  vsock: PATH,
  vconsole: PATH,
  vnc: { type: "string", minLength: 1, maxLength: 1024, pattern: `^${NO_NUL}` },
  vnc_password_file: PATH,
  console_log: {
    type: "object",
    additionalProperties: false,
    required: ["path"],
    properties: {
      path: PATH,
      max_bytes: {
        type: "integer",
        minimum: CONSOLE_LOG_MIN,
        maximum: CONSOLE_LOG_MAX,
        default: 1024 * 1024,
      },
    },
  },
  exit_file: PATH,
  pin_cpus: {
    type: "array",
    minItems: 1,
    maxItems: PIN_CPUS_MAX,
    uniqueItems: true,
    items: { type: "integer", minimum: 0, maximum: 9999 },
  },
  ksm: { type: "boolean", default: false },
  seccomp: { type: "string", enum: ["kill", "log"] },
  jail_user: {
    type: "object",
    additionalProperties: false,
    required: ["uid", "gid"],
    properties: {
      uid: { type: "integer", minimum: 1, maximum: 2 ** 31 - 2 },
      gid: { type: "integer", minimum: 1, maximum: 2 ** 31 - 2 },
    },
  },
  log_format: { type: "string", enum: LOG_FORMATS },
  snapshot_dir: PATH,
  backing_dirs: { type: "array", maxItems: 8, items: PATH },
  restore: PATH,
  clone: { type: "boolean" },
} as const;

/** The schema of a VM process's config file (`moat vmm --config`). */
export const vmConfigSchema = {
  $id: "VmConfig",
  type: "object",
  additionalProperties: false,
  required: ["host"],
  properties: {
    ...machineProperties(PATH),
    bios: {
      type: "string",
      minLength: 1,
      maxLength: 1024,
      pattern: "^[^\\u0000]+$",
      default: "builtin",
    },
    host: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: HOST_PROPERTIES,
    },
  },
} as const;

/**
 * The host paths the VM process makes (sockets, its console log, its exit record), by field:
 * what must be distinct, what must have a directory, what a jail binds writable.
 */
export function madePaths(h: HostConfig): [string, string][] {
  const all: [string, string | undefined][] = [
    ["host.control", h.control],
    ["host.console", h.console],
    ["host.console_log", h.console_log?.path],
    ["host.exit_file", h.exit_file],
    ["host.vconsole", h.vconsole],
    ["host.vsock", h.vsock],
  ];
  return all.filter((e): e is [string, string] => e[1] !== undefined);
}

/** A config that does not hold, naming the setting at fault (as its reader names it). */
export class VmConfigError extends MoatError {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message, "usage");
  }
}

/** The config's schema as the build precompiles it (schema-compiler.ts). */
export const VM_CONFIG_SCHEMAS: SchemaSet = {
  file: "vm-config",
  options: { useDefaults: true },
  schemas: { vmConfig: vmConfigSchema },
};

let validate: ValidateFunction | undefined;

/** What each pattern of the schema asks for, in words (a regular expression is no answer). */
const PATTERN_WORDS: Readonly<Record<string, string>> = {
  [PATH.pattern]:
    "a path with no NUL and no comma (moat run --disk PATH,OPTIONS could not name it)",
  [ABSOLUTE_PATH.pattern]: "an absolute path with no NUL and no comma",
  [IFNAME_PATTERN]: "an interface name: 1 to 15 of A-Z a-z 0-9 _ . -",
  [VM_NAME_PATTERN]: VM_NAME_WORDS,
  [`^${NO_NUL}`]: "text with no NUL",
};

/** What a schema pattern asks for, in words where moat has them (a regular expression otherwise). */
export function patternWords(pattern: string): string {
  return PATTERN_WORDS[pattern] ?? `like ${pattern}`;
}

/** One schema refusal in a user's words, naming the field by its path (disks.0.path). */
function ajvMessage(e: ErrorObject): string {
  const at = e.instancePath.replace(/^\//, "").replaceAll("/", ".");
  const field = at || "the config";
  switch (e.keyword) {
    case "additionalProperties":
      return `${at ? `${at}: ` : ""}unknown field '${String(e.params["additionalProperty"])}'`;
    case "enum":
      return `${field} must be one of ${(e.params["allowedValues"] as unknown[]).join(", ")}`;
    case "pattern": {
      return `${field} must be ${patternWords(String(e.params["pattern"]))}`;
    }
    case "type":
      return e.params["type"] === "object"
        ? `${field} must be a JSON object`
        : `${field} must be ${String(e.params["type"])}`;
    default:
      return `${field} ${e.message ?? "is not valid"}`;
  }
}

/**
 * A VM process's config as read from JSON: schema-checked (defaults filled, unknown fields
 * refused), then checked as a whole (checkVmConfig). Throws VmConfigError.
 */
export function parseVmConfig(value: unknown): VmConfig {
  validate ??= validators(VM_CONFIG_SCHEMAS)["vmConfig"]!;
  if (!validate(value)) {
    const e = validate.errors![0]!;
    throw new VmConfigError(ajvMessage(e), e.instancePath.replace(/^\//, "").replaceAll("/", "."));
  }
  return value as unknown as VmConfig;
}

/** How a reader names a setting: `moat run` by its flag, a config file or the API by its field. */
export type FieldNames = (field: string) => string;

export const FIELD_NAMES: FieldNames = (f) => f;

/**
 * The checks across a machine's settings that a schema cannot make, for a VM that runs on
 * `accel`: the guest RAM limit of its architecture, what only the soft CPU has, settings that
 * exclude each other, a NIC's tap or bridge (or both). Throws VmConfigError naming the settings
 * by `n`.
 */
export function checkMachine(c: MachineConfig, accel: "soft" | "kvm", n = FIELD_NAMES): void {
  const arch = archOf(accel);
  const most = MEMORY_MIB_MAX[arch];
  if (c.memory_mib < MEMORY_MIB_MIN || c.memory_mib > most)
    fail(
      "memory_mib",
      `${n("memory_mib")} must be between ${MEMORY_MIB_MIN} and ${most}` +
        `${arch === "x86_64" ? " (an x86-64 guest's RAM ends at the MMIO hole)" : ""}` +
        `, not ${c.memory_mib}`,
    );
  if (c.cpus < 1 || c.cpus > VCPUS_MAX)
    fail("cpus", `${n("cpus")} must be between 1 and ${VCPUS_MAX}, not ${c.cpus}`);
  if (c.cpu_tier !== undefined && c.accel === "kvm")
    fail(
      "cpu_tier",
      `${n("cpu_tier")} is for the soft CPU (${n("accel")} soft or auto); KVM runs the guest's ` +
        "code on the host CPU: drop one or the other",
    );
  if (c.lock_memory && c.balloon)
    fail(
      "lock_memory",
      `${n("lock_memory")}: locked guest RAM cannot be given back; drop ${n("balloon")}`,
    );
  c.nics.forEach((nic, i) => {
    if (nic.tap === undefined && nic.bridge === undefined)
      fail(`nics.${i}`, `${n(`nics.${i}`)}: give tap, bridge, or both`);
  });
  const taps = c.nics.flatMap((s) => (s.tap ? [s.tap] : []));
  const dup = taps.find((t, i) => taps.indexOf(t) !== i);
  if (dup) fail("nics", `${n("nics")}: TAP ${dup} is given twice`);
  // With an agent, the shipped riscv64 guest gets its agent overlay; there is none for x86-64.
  if (c.agent && lacksShippedAgent(arch, initrdChoice(configInitrd(c))))
    fail(
      "agent",
      `${n("agent")}: ${NO_X86_AGENT}; with your own ${n("kernel")} and ${n("initrd")}, ` +
        `${n("agent")} adds the channel for the qemu-guest-agent your guest runs (docs/agent.md)`,
    );
}

/** The initramfs choice of a machine (initrd "none" is `moat run --no-initrd`'s false). */
export function configInitrd(c: MachineConfig): { kernel?: string; initrd?: string | false } {
  return {
    ...(c.kernel !== undefined ? { kernel: c.kernel } : {}),
    ...(c.initrd !== undefined ? { initrd: c.initrd === "none" ? false : c.initrd } : {}),
  };
}

function fail(field: string, message: string): never {
  throw new VmConfigError(message, field);
}

/**
 * checkMachine, then the checks of where the VM meets the host: riscv64 firmware on riscv64
 * only, no KSM for locked RAM, a vsock's and a VNC's host ends, and no path given for two
 * things. Throws VmConfigError naming the settings by `n`.
 */
export function checkVmConfig(c: VmConfig, accel: "soft" | "kvm", n = FIELD_NAMES): void {
  checkMachine(c, accel, n);
  if (archOf(accel) === "x86_64" && c.bios !== "builtin")
    fail("bios", `${n("bios")} is for riscv64 guests (${n("accel")} soft)`);
  if (c.lock_memory && c.host.ksm)
    fail(
      "lock_memory",
      `${n("lock_memory")}: locked guest RAM is not for merging; drop ${n("host.ksm")}`,
    );
  if (c.vsock && c.host.vsock === undefined)
    fail("host.vsock", `${n("vsock")}: the host end needs a socket path (${n("host.vsock")})`);
  if (c.host.vnc_password_file !== undefined && c.host.vnc === undefined)
    fail(
      "host.vnc_password_file",
      `${n("host.vnc_password_file")} is for ${n("host.vnc")}: add it`,
    );
  if (c.host.vnc !== undefined && !c.display)
    fail("host.vnc", `${n("host.vnc")} serves a display: add ${n("display")}`);
  const seen = new Map<string, string>();
  for (const [field, p] of madePaths(c.host)) {
    const full = resolve(p);
    const other = seen.get(full);
    if (other) fail(field, `${n(other)} and ${n(field)} name the same path ${p}`);
    seen.set(full, field);
  }
}
