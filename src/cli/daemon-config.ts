// The daemon's settings as the commands that need them (moat daemon, moat audit) read them:
// --config over the defaults for --home (or $MOAT_HOME, or /var/lib/moat).
import { ConfigError, loadConfig, type DaemonConfig } from "../host/config.js";
import { UsageError } from "./usage-error.js";

/** The settings from --config and --home; a bad file is a usage error naming the setting. */
export function daemonConfig(o: { home?: string; config?: string }): DaemonConfig {
  try {
    return loadConfig(o.config, o.home);
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(e.message);
    throw e;
  }
}
