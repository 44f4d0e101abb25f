// What an operator asks for when creating a VM: the JSON schema the API validates every request
// body against (and the OpenAPI document shows), and the type the rest of the daemon uses: the
// machine of a VM config (vm-config.ts, the same schema) plus what the host keeps of the VM.
// The schema is the bound: every number has its range, every string its pattern and length,
// every list its length, and unknown fields are refused (a typo must not pass silently).
import {
  ABSOLUTE_PATH,
  IFNAME_PATTERN,
  machineProperties,
  VM_NAME_PATTERN,
  type DiskConfig,
  type MachineConfig,
} from "../vmm/vm-config.js";

export { IFNAME_PATTERN };
export const NAME_PATTERN = VM_NAME_PATTERN;
export const DOMAIN_PATTERN = "^[a-z0-9][a-z0-9_-]{0,31}$";

const machine = machineProperties(ABSOLUTE_PATH);

/** An image's name in the daemon's store (image-ops.ts). */
export const IMAGE_NAME_PATTERN = VM_NAME_PATTERN;

/**
 * A disk of the API's spec: a host file (`path`), or (`image`) an image of the daemon's store,
 * on which the daemon makes the VM a thin qcow2 overlay (docs/disks.md); one of the two.
 */
const specDisks = {
  ...machine.disks,
  items: {
    ...machine.disks.items,
    required: [],
    properties: {
      ...machine.disks.items.properties,
      image: {
        type: "string",
        minLength: 1,
        maxLength: 64,
        description:
          "an image of the VM's trust domain in the daemon's store (moat image ls), by name " +
          "or id, instead of a path: the daemon makes the VM a thin qcow2 overlay on it in the " +
          "VM's own directory (its path and format are then the overlay's)",
      },
    },
  },
} as const;

export const vmSpecSchema = {
  $id: "VmSpec",
  type: "object",
  additionalProperties: false,
  required: ["name"],
  properties: {
    ...machine,
    disks: specDisks,
    name: { type: "string", pattern: NAME_PATTERN, description: "unique in its trust domain" },
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

/** A disk of a VM record: its path, and the store image (its id) its overlay is on, if any. */
export interface SpecDisk extends DiskConfig {
  image?: string;
}

/** The machine (vm-config.ts) and what the host keeps of a VM: its domain, labels, policies. */
export interface VmSpec extends MachineConfig {
  disks: SpecDisk[];
  name: string;
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
