// What an operator asks for when creating a VM: the JSON schema the API validates every request
// body against (and the OpenAPI document shows), and the type the rest of the daemon uses.
// The schema is the bound: every number has its range, every string its pattern and length,
// every list its length, and unknown fields are refused (a typo must not pass silently).
import { AGENT_POLICY_NAMES } from "../agent/agent-commands.js";
import { MAX_MODE } from "../devices/virtio/gpu.js";
import { CPU_TIERS, type CpuTier } from "../accel/soft/cpu-tier.js";
import { MEMORY_MIB_MAX, MEMORY_MIB_MIN, VCPUS_MAX } from "../vmm/vm-limits.js";

export const NAME_PATTERN = "^[a-z0-9][a-z0-9_.-]{0,62}$";
/** A Linux network interface name (TAP or bridge): at most 15 bytes. */
export const IFNAME_PATTERN = "^[A-Za-z0-9_.-]{1,15}$";
export const DOMAIN_PATTERN = "^[a-z0-9][a-z0-9_-]{0,31}$";
/** No NUL: no file name or argument can hold one (the file system and exec refuse it). */
const NO_NUL = "[^\\u0000]*$";
/**
 * A host path: absolute, no NUL, and no comma, which the VMM's `--disk PATH,OPTIONS` would
 * split, so that the VMM would open another file than the one checked.
 */
const PATH = {
  type: "string",
  minLength: 1,
  maxLength: 1024,
  pattern: "^/[^\\u0000,]*$",
} as const;
const RATE = { type: "integer", minimum: 1, maximum: 2 ** 40 } as const;

export const vmSpecSchema = {
  $id: "VmSpec",
  type: "object",
  additionalProperties: false,
  required: ["name"],
  properties: {
    name: { type: "string", pattern: NAME_PATTERN, description: "unique in its trust domain" },
    accel: { type: "string", enum: ["soft", "kvm", "auto"], default: "auto" },
    cpu_tier: {
      type: "string",
      enum: CPU_TIERS,
      description:
        "how the soft CPU runs guest code (moat run --cpu-tier); absent: the VMM's default. " +
        "Not with accel kvm; ignored where auto picks KVM",
    },
    kernel: { ...PATH, description: "host path; default: the shipped kernel" },
    initrd: {
      anyOf: [PATH, { const: "none" }],
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
      maxItems: 8,
      default: [],
      items: {
        type: "object",
        additionalProperties: false,
        required: ["path"],
        properties: {
          path: PATH,
          read_only: { type: "boolean", default: false },
          format: {
            const: "raw",
            description:
              "the image is raw (the only format moat reads): given, or recorded at create once " +
              "the file's first sector named no other format, so nothing the guest writes " +
              "there later changes how it is read",
          },
          bps: RATE,
          iops: RATE,
        },
      },
    },
    nics: {
      type: "array",
      maxItems: 4,
      default: [],
      items: {
        type: "object",
        additionalProperties: false,
        properties: {
          tap: { type: "string", pattern: IFNAME_PATTERN },
          bridge: { type: "string", pattern: IFNAME_PATTERN },
          mac: { type: "string", pattern: "^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$" },
          bps: RATE,
          pps: RATE,
        },
      },
    },
    vsock: {
      type: "object",
      additionalProperties: false,
      properties: { cid: { type: "integer", minimum: 3, maximum: 0xfffffff0, default: 3 } },
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
    domain: {
      type: "string",
      pattern: DOMAIN_PATTERN,
      description: "trust domain (tenant); default: the caller's domain, or 'default'",
    },
    labels: {
      type: "object",
      maxProperties: 32,
      default: {},
      propertyNames: { pattern: "^[a-zA-Z0-9_./-]{1,63}$" },
      additionalProperties: { type: "string", maxLength: 256 },
    },
    restart: { type: "string", enum: ["no", "on-failure", "always"], default: "no" },
    cpu: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        weight: { type: "integer", minimum: 1, maximum: 10000, default: 100 },
        max: {
          type: "number",
          exclusiveMinimum: 0,
          maximum: 64,
          description: "hard cap in host CPUs (0.2 = a fifth of one core)",
        },
      },
    },
  },
} as const;

export interface VmSpec {
  name: string;
  accel: "soft" | "kvm" | "auto";
  cpu_tier?: CpuTier;
  kernel?: string;
  /** A host path, or "none". */
  initrd?: string;
  cmdline?: string;
  cpus: number;
  memory_mib: number;
  disks: { path: string; read_only: boolean; format?: "raw"; bps?: number; iops?: number }[];
  nics: { tap?: string; bridge?: string; mac?: string; bps?: number; pps?: number }[];
  vsock?: { cid: number };
  balloon?: { free_page_reporting: boolean };
  agent?: { allow?: string[] };
  rng: boolean;
  lock_memory: boolean;
  display?: { width: number; height: number };
  domain: string;
  labels: Record<string, string>;
  restart: "no" | "on-failure" | "always";
  cpu: { weight: number; max?: number };
}

/** States a VM record moves through (docs/host.md has the diagram). */
export type VmState =
  "created" | "starting" | "running" | "paused" | "stopping" | "stopped" | "crashed";

export const VM_STATES: readonly VmState[] = [
  "created",
  "starting",
  "running",
  "paused",
  "stopping",
  "stopped",
  "crashed",
];

/** States in which the VM holds host CPU and memory (counted by admission control). */
export function isActive(s: VmState): boolean {
  return s === "starting" || s === "running" || s === "paused" || s === "stopping";
}
