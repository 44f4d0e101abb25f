// The daemon's settings as the commands that need them (moat daemon, moat audit) read them:
// --config over the defaults for --home (or $MOAT_HOME, or /var/lib/moat).
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, defaultConfig, loadConfig, type DaemonConfig } from "../host/config.js";
import { UsageError } from "./usage-error.js";

/**
 * A daemon's copy of the settings file it started with, in its home (root's, 0711): what
 * `moat audit --home H` checks when it is given no --config, so it judges the policies the
 * daemon runs with rather than the defaults.
 */
export const SETTINGS_COPY = "settings.json";

/** The settings from --config and --home; a bad file is a usage error naming the setting. */
export function daemonConfig(o: { home?: string; config?: string }): DaemonConfig {
  try {
    return loadConfig(o.config, o.home);
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(e.message);
    throw e;
  }
}

/**
 * Records in a started daemon's home the settings file it was given (the bytes it validated),
 * or `{}` (the defaults) when it had none; written whole and renamed into place.
 */
export function recordSettings(home: string, configFile: string | undefined): void {
  const copy = join(home, SETTINGS_COPY);
  const tmp = `${copy}.tmp`;
  writeFileSync(tmp, configFile === undefined ? "{}\n" : readFileSync(configFile), { mode: 0o600 });
  renameSync(tmp, copy);
}

/**
 * The settings `moat audit` checks: --config if given, else the copy the daemon at the home
 * recorded when it started, else the defaults; `from` says which, for the report.
 */
export function auditConfig(o: { home?: string; config?: string }): {
  config: DaemonConfig;
  from: "config" | "daemon" | "defaults";
} {
  if (o.config !== undefined) return { config: daemonConfig(o), from: "config" };
  const copy = join(defaultConfig(o.home).home, SETTINGS_COPY);
  if (!existsSync(copy)) return { config: daemonConfig(o), from: "defaults" };
  return { config: daemonConfig({ ...o, config: copy }), from: "daemon" };
}
