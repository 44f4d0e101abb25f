// A VM config file (vm-config.ts) as `moat vmm --config FILE` reads it, before anything of it
// is believed: what file it may be, how large, and that it is JSON of the config's schema.
import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { VmConfigError, parseVmConfig, type VmConfig } from "./vm-config.js";

/** Bound: a config file is at most this large (a VM with every device is a few KiB). */
const CONFIG_MAX_BYTES = 1024 * 1024;

/**
 * A config file as `moat vmm` reads it: a regular file, not a link, with one name, owned by
 * this user or root and writable by no one else (a VM's uid must not be able to hand its VMM,
 * still root, a config of its own), at most CONFIG_MAX_BYTES, JSON, then schema-checked.
 * Throws VmConfigError.
 */
export function readVmConfig(path: string): VmConfig {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new VmConfigError(
      `--config ${path}: ${code === "ENOENT" ? "no such file" : code === "ELOOP" ? "is a link" : (e as Error).message}`,
      "config",
    );
  }
  let text: string;
  try {
    const st = fstatSync(fd);
    const me = process.geteuid?.() ?? 0;
    if (!st.isFile()) throw new VmConfigError(`--config ${path}: not a regular file`, "config");
    const why =
      st.uid !== me && st.uid !== 0
        ? `is owned by uid ${st.uid}, not by you or root`
        : (st.mode & 0o022) !== 0
          ? `others may write it (mode ${(st.mode & 0o777).toString(8)}): chmod go-w ${path}`
          : st.nlink !== 1
            ? `has ${st.nlink} names (hard links); a config has one`
            : undefined;
    if (why) throw new VmConfigError(`--config ${path}: ${why}`, "config");
    if (st.size > CONFIG_MAX_BYTES)
      throw new VmConfigError(
        `--config ${path}: larger than ${CONFIG_MAX_BYTES >> 10} KiB`,
        "config",
      );
    const buf = Buffer.alloc(st.size);
    let got = 0;
    while (got < buf.length) {
      const r = readSync(fd, buf, got, buf.length - got, got);
      if (r === 0) break;
      got += r;
    }
    text = buf.subarray(0, got).toString("utf8");
  } finally {
    closeSync(fd);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new VmConfigError(
      `--config ${path}: not JSON (${(e as Error).message.replace(/\s+/g, " ")})`,
      "config",
    );
  }
  try {
    return parseVmConfig(value);
  } catch (e) {
    if (!(e instanceof VmConfigError)) throw e;
    throw new VmConfigError(`--config ${path}: ${e.message}`, e.field);
  }
}
