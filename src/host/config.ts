// The daemon's configuration: defaults, an optional JSON file (validated by its schema: a typo or
// a bad value is refused at start with the field and the reason), then command-line overrides.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { CapacityPolicy } from "./admission.js";
import type { DomainQuota } from "./quota.js";
import { DEFAULT_RECLAIM, type ReclaimPolicy } from "./reclaim.js";
import { DOMAIN_PATTERN, IFNAME_PATTERN } from "./vm-spec.js";
import { MoatError } from "../base/moat-error.js";
import { LOG_FORMATS, type LogFormat } from "../base/log.js";

export interface DaemonConfig {
  /** Database, audit log, tokens, VM directories. */
  home: string;
  /** The API's Unix socket (root:socketGroup, 0660). */
  socket: string;
  socketGroup: string;
  /** Optional TCP listener: only with TLS. */
  tcp?: { host: string; port: number; cert: string; key: string };
  policy: CapacityPolicy;
  /** Memory cgroup room per VM process over its guest RAM, MiB. */
  vmmOverheadMiB: number;
  reclaim: ReclaimPolicy & { enabled: boolean };
  rateLimit: { max: number; windowMs: number };
  restartBackoffMs: { initial: number; max: number };
  stableAfterMs: number;
  startTimeoutMs: number;
  /**
   * `moat stop`'s default grace time: how long a guest has to shut down after it is asked (the
   * power button, or its agent) before it is powered off. A request may give its own.
   */
  stopGraceMs: number;
  /** Then how long to wait after asking the VMM to stop, then after SIGTERM. */
  stopTimeoutMs: number;
  /** Each VM process drops to a uid:gid of its own, from vmUidBase up (daemon as root). */
  vmUsers: boolean;
  vmUidBase: number;
  /**
   * Each VM process in its own jail (namespaces, a root of its own files, docs/security.md).
   * Off only for development: the daemon then starts VMs unjailed.
   */
  vmJail: boolean;
  /** The VM processes' seccomp filter: kill (default), log, or off (development only). */
  vmSeccomp: "kill" | "log" | "off";
  /**
   * Host directories the kernel, initrd and disk paths admins and operators give must lie under
   * (besides tenantImageDirs and the VM's domain's own). Never a system directory or the home
   * (its `images` aside): such a setting is refused at start (image-dirs.ts).
   */
  imageDirs: string[];
  /** Host directories a tenant's kernel, initrd and disk paths must lie under (shared). */
  tenantImageDirs: string[];
  /**
   * Trust domain -> image directories of its own. A file under one domain's directories is
   * refused to every other domain's VMs; that domain's tenants use these instead of
   * tenantImageDirs.
   */
  domainImageDirs: Record<string, string[]>;
  /**
   * Trust domain -> the TAP devices and bridges its VMs may attach to. A name listed for one
   * domain is refused to every other; a tenant's domain with no list gets no network.
   */
  domainNetworks: Record<string, string[]>;
  /** Trust domain -> what its VMs may hold together (quota.ts); a domain not listed: no limit. */
  domainQuotas: Record<string, DomainQuota>;
  /** The daemon's log on stderr: text lines (default) or JSON lines (log.ts). */
  logFormat: LogFormat;
  /** The cgroup (relative to each hierarchy's root) VM groups go under; default: the daemon's own + /moat. */
  cgroupParent?: string;
}

export const DEFAULT_HOME = "/var/lib/moat";
/** How the daemon writes its log (log.ts). */
export { LOG_FORMATS, type LogFormat };
/** Bound: a stop's grace time, seconds (an hour). */
export const STOP_GRACE_MAX_S = 3600;
/** A stop's grace time when neither the settings nor the request give one (stopGraceMs). */
export const DEFAULT_STOP_GRACE_MS = 30_000;

export function defaultConfig(home = process.env.MOAT_HOME ?? DEFAULT_HOME): DaemonConfig {
  return {
    home,
    socket: `${home}/moat.sock`,
    socketGroup: "moat",
    policy: { cpuOvercommit: 4, memoryOvercommit: 1, memoryReserveMiB: 1024, pinning: false },
    vmmOverheadMiB: 256,
    reclaim: { ...DEFAULT_RECLAIM, enabled: true },
    rateLimit: { max: 100, windowMs: 1000 },
    restartBackoffMs: { initial: 1000, max: 60000 },
    stableAfterMs: 60000,
    startTimeoutMs: 30000,
    stopGraceMs: DEFAULT_STOP_GRACE_MS,
    stopTimeoutMs: 10000,
    imageDirs: [`${home}/images`],
    tenantImageDirs: [`${home}/images`],
    domainNetworks: {},
    domainQuotas: {},
    domainImageDirs: {},
    vmSeccomp: process.arch === "x64" ? "kill" : "off",
    vmUsers: process.getuid?.() === 0,
    vmJail: true,
    vmUidBase: 1_900_000_000,
    logFormat: "text",
  };
}

const num = (min: number, max: number) => ({ type: "number", minimum: min, maximum: max });
const int = (min: number, max: number) => ({ type: "integer", minimum: min, maximum: max });
/** Trust domain -> up to 64 strings matching `pattern`, for up to 256 domains. */
const perDomain = (pattern: string) => ({
  type: "object",
  maxProperties: 256,
  propertyNames: { pattern: DOMAIN_PATTERN },
  additionalProperties: { type: "array", maxItems: 64, items: { type: "string", pattern } },
});

/** Up to 64 absolute paths. */
const DIRS = { type: "array", maxItems: 64, items: { type: "string", pattern: "^/" } } as const;

/** Schema of the config file: every key optional; unknown keys are errors. */
export const configSchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    socket: { type: "string", pattern: "^/", maxLength: 100 },
    socketGroup: { type: "string", pattern: "^[a-z_][a-z0-9_-]{0,31}$" },
    tcp: {
      type: "object",
      additionalProperties: false,
      required: ["port", "cert", "key"],
      properties: {
        host: { type: "string", maxLength: 255 },
        port: int(1, 65535),
        cert: { type: "string", pattern: "^/" },
        key: { type: "string", pattern: "^/" },
      },
    },
    policy: {
      type: "object",
      additionalProperties: false,
      properties: {
        cpuOvercommit: num(0.1, 64),
        memoryOvercommit: num(0.1, 4),
        memoryReserveMiB: int(0, 1 << 20),
        pinning: { type: "boolean" },
        ksmDomain: { type: "string", pattern: "^[a-z0-9][a-z0-9_-]{0,31}$" },
      },
    },
    vmmOverheadMiB: int(32, 4096),
    reclaim: {
      type: "object",
      additionalProperties: false,
      properties: {
        enabled: { type: "boolean" },
        intervalMs: int(200, 3_600_000),
        hostLowPercent: num(0, 100),
        pressurePercent: num(0, 100),
        guestKeepPercent: num(0, 100),
        guestKeepMinMiB: int(0, 1 << 16),
        stepMiB: int(1, 1 << 16),
      },
    },
    rateLimit: {
      type: "object",
      additionalProperties: false,
      properties: { max: int(1, 1_000_000), windowMs: int(10, 3_600_000) },
    },
    restartBackoffMs: {
      type: "object",
      additionalProperties: false,
      properties: { initial: int(10, 3_600_000), max: int(10, 86_400_000) },
    },
    stableAfterMs: int(0, 86_400_000),
    startTimeoutMs: int(1000, 600_000),
    stopGraceMs: int(0, STOP_GRACE_MAX_S * 1000),
    stopTimeoutMs: int(100, 600_000),
    vmSeccomp: { type: "string", enum: ["kill", "log", "off"] },
    vmUsers: { type: "boolean" },
    vmJail: { type: "boolean" },
    vmUidBase: int(1000, 2_100_000_000),
    imageDirs: DIRS,
    tenantImageDirs: DIRS,
    domainNetworks: perDomain(IFNAME_PATTERN),
    domainImageDirs: perDomain("^/"),
    domainQuotas: {
      type: "object",
      maxProperties: 256,
      propertyNames: { pattern: DOMAIN_PATTERN },
      additionalProperties: {
        type: "object",
        additionalProperties: false,
        properties: {
          vcpus: int(0, 1 << 16),
          memoryMiB: int(0, 1 << 30),
          vms: int(0, 1 << 20),
          diskBytes: int(0, Number.MAX_SAFE_INTEGER),
          snapshots: int(0, 1 << 20),
          snapshotBytes: int(0, Number.MAX_SAFE_INTEGER),
        },
      },
    },
    cgroupParent: { type: "string", pattern: "^[A-Za-z0-9_./-]{1,200}$" },
    logFormat: { type: "string", enum: LOG_FORMATS },
  },
} as const;

export class ConfigError extends MoatError {}

/** Defaults, overlaid with the JSON file at `path` (if any). */
export function loadConfig(path: string | undefined, home?: string): DaemonConfig {
  const cfg = defaultConfig(home);
  if (path === undefined) return cfg;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new ConfigError(`config ${path}: ${(e as Error).message}`);
  }
  // Loaded here, not at the top: every `moat` command reads this module's defaults.
  const { Ajv } = createRequire(import.meta.url)("ajv") as typeof import("ajv");
  const ajv = new Ajv({ allErrors: false });
  const validate = ajv.compile(configSchema);
  if (!validate(raw)) {
    const err = validate.errors![0]!;
    const params = err.params as { additionalProperty?: string; missingProperty?: string };
    const extra = params.additionalProperty ?? params.missingProperty;
    const base = err.instancePath.replace(/^\//, "").replace(/\//g, ".");
    const field = extra ? (base ? `${base}.${extra}` : extra) : base;
    const reason = params.additionalProperty
      ? "is not a known setting"
      : params.missingProperty
        ? "is required"
        : err.message;
    throw new ConfigError(`config ${path}: ${field || "(root)"} ${reason}`);
  }
  const f = raw as Partial<DaemonConfig> & {
    policy?: Partial<CapacityPolicy>;
    reclaim?: Partial<DaemonConfig["reclaim"]>;
  };
  return {
    ...cfg,
    ...f,
    policy: { ...cfg.policy, ...f.policy },
    reclaim: { ...cfg.reclaim, ...f.reclaim },
    rateLimit: { ...cfg.rateLimit, ...f.rateLimit },
    restartBackoffMs: { ...cfg.restartBackoffMs, ...f.restartBackoffMs },
  } as DaemonConfig;
}
