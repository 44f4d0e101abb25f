// Where a VM's host files (kernel, initrd, disks) may come from: the configured image
// directories, and never the daemon's own home or the host's system directories, whoever asks.
// A path is authorised as named before anything on the host is looked at (a tenant learns
// nothing about files outside its directories), then resolved, then its real path checked.
import { realpathSync, statSync } from "node:fs";
import { join, posix } from "node:path";
import type { Caller } from "./auth.js";

/** The settings this policy reads (config.ts). */
export interface ImageSettings {
  /** The daemon's home: refused but for its `images` directory. */
  home: string;
  /** Host directories admins' and operators' files may come from. */
  imageDirs: string[];
  /** Host directories a tenant's files must lie under when its domain has none of its own. */
  tenantImageDirs: string[];
  /** Trust domain -> directories of its own: refused to every other domain's VMs. */
  domainImageDirs: Record<string, string[]>;
  /** The TLS listener: its key and certificate are never a VM's file. */
  tcp?: { cert: string; key: string };
}

/** The installed daemon's home: refused on every host, whatever home this daemon uses. */
const INSTALLED_HOME = "/var/lib/moat";

/**
 * The host's own files: no image directory may be one of these, lie in one or hold one.
 * Exported for the docs' test and moat audit.
 */
export const SYSTEM_DIRS = [
  "/bin",
  "/boot",
  "/dev",
  "/etc",
  "/lib",
  "/lib32",
  "/lib64",
  "/libx32",
  "/proc",
  "/root",
  "/run",
  "/sbin",
  "/sys",
  "/usr",
  "/var/log",
  "/var/run",
];

/** A refused place: `path` and everything under it but `except`. */
interface Refused {
  path: string;
  except?: string;
  what: string;
}

/** True if `p` is `dir` or lies under it (both normalised absolute paths). */
export function inside(p: string, dir: string): boolean {
  return dir === "/" || p === dir || p.startsWith(dir + "/");
}

/** `p` and, if it resolves to another path, that path too. */
function forms(p: string): string[] {
  try {
    const real = realpathSync(p);
    return real === p ? [p] : [p, real];
  } catch {
    return [p];
  }
}

/** Everything no VM may use: system directories, daemon homes (their images aside), the TLS files. */
function refusedPlaces(s: ImageSettings): Refused[] {
  const out: Refused[] = SYSTEM_DIRS.map((path) => ({ path, what: "a system directory" }));
  for (const home of new Set([posix.normalize(s.home), INSTALLED_HOME]))
    for (const path of forms(home))
      out.push({ path, except: join(path, "images"), what: "the daemon's home" });
  for (const f of s.tcp ? [s.tcp.key, s.tcp.cert] : [])
    for (const path of forms(posix.normalize(f)))
      out.push({ path, what: "the API's TLS key or certificate" });
  return out;
}

function refusal(p: string, refused: Refused[]): Refused | undefined {
  return refused.find((r) => inside(p, r.path) && !(r.except && inside(p, r.except)));
}

/** Every configured image directory with the setting that names it. */
function configuredDirs(s: ImageSettings): [string, string][] {
  const out: [string, string][] = [];
  s.imageDirs.forEach((d, i) => out.push([`imageDirs.${i}`, d]));
  s.tenantImageDirs.forEach((d, i) => out.push([`tenantImageDirs.${i}`, d]));
  for (const [dom, dirs] of Object.entries(s.domainImageDirs))
    dirs.forEach((d, i) => out.push([`domainImageDirs.${dom}.${i}`, d]));
  return out;
}

/**
 * Why the configured image directories cannot be used, in one line, or undefined: a directory
 * that is, lies in or holds a system directory, a daemon home or the TLS files (as named and as
 * it resolves). The daemon refuses to start with it; moat audit fails it.
 */
export function imageDirsProblem(s: ImageSettings): string | undefined {
  const refused = refusedPlaces(s);
  for (const [key, dir] of configuredDirs(s))
    for (const p of forms(posix.normalize(dir))) {
      const r = refusal(p, refused);
      const held = refused.find((x) => inside(x.path, p));
      const why = r
        ? `lies in ${r.path}, ${r.what}`
        : held
          ? `holds ${held.path}, ${held.what}`
          : undefined;
      if (why)
        return (
          `config: ${key} ${dir}${p !== dir ? ` (${p})` : ""} ${why}: VMs' host files never ` +
          "come from there; give a directory of images only"
        );
    }
  return undefined;
}

/** The daemon's default image directory, `<home>/images`, if a setting names it. */
export function defaultImageDir(s: ImageSettings): string | undefined {
  const d = join(s.home, "images");
  return configuredDirs(s).some(([, x]) => posix.normalize(x) === d) ? d : undefined;
}

/** A directory list as named and as each resolves (one not made yet stands as named). */
interface Dirs {
  named: string[];
  real: string[];
}

function dirs(list: string[]): Dirs {
  const named = list.map((d) => posix.normalize(d));
  return { named, real: named.flatMap((d) => forms(d).slice(-1)) };
}

const within = (p: string, ds: string[]): boolean => ds.some((d) => inside(p, d));

/** What went wrong with one file: said in full to admins and operators, not to tenants. */
export type Deny = (status: number, why: string) => never;

/** The checks for the files of one create or one start (directories resolved once). */
export interface ImageRules {
  /** The path as named lies in the directories `role` may use for `domain`: nothing is read. */
  authorise(p: string, domain: string, role: Caller["role"], deny: Deny): string;
  /** The named path resolved: a regular file. */
  resolve(named: string, deny: Deny): string;
  /** The resolved path: not refused, not another domain's, still in the directories. */
  place(real: string, domain: string, role: Caller["role"], deny: Deny): void;
}

/** Builds the rules from the settings; the directories are resolved here, once. */
export function imageRules(s: ImageSettings): ImageRules {
  const refused = refusedPlaces(s);
  const byDomain = new Map(Object.entries(s.domainImageDirs).map(([d, l]) => [d, dirs(l)]));
  const tenantDirs = dirs(s.tenantImageDirs);
  const opDirs = dirs(s.imageDirs);
  /** A tenant: its domain's own directories, else the shared ones. Others: those and imageDirs. */
  const allowed = (domain: string, role: Caller["role"]): Dirs => {
    const own = byDomain.get(domain) ?? tenantDirs;
    if (role === "tenant") return own;
    const all = [opDirs, tenantDirs, own];
    return { named: all.flatMap((x) => x.named), real: all.flatMap((x) => x.real) };
  };
  const where = (d: Dirs): string => [...new Set(d.named)].join(", ") || "no directory";
  return {
    authorise(p, domain, role, deny) {
      if (p.includes("\0")) return deny(400, "a path may not hold a NUL byte");
      const named = posix.normalize(p);
      const mine = allowed(domain, role);
      if (!within(named, mine.named) && !within(named, mine.real))
        deny(
          403,
          `not in the image directories for trust domain '${domain}' (${where(mine)}); ` +
            "an admin adds directories to the daemon's config (imageDirs), not to a request",
        );
      return named;
    },
    resolve(named, deny) {
      try {
        const real = realpathSync(named);
        if (statSync(real).isFile()) return real;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        deny(400, code === "ENOENT" ? "no such file" : (e as Error).message);
      }
      return deny(400, "not a regular file");
    },
    place(real, domain, role, deny) {
      const r = refusal(real, refused);
      if (r) deny(403, `resolves to ${real}, in ${r.what}`);
      for (const [d, ds] of byDomain)
        if (d !== domain && within(real, ds.real))
          deny(403, `${real} belongs to trust domain '${d}'`);
      const mine = allowed(domain, role);
      if (!within(real, mine.real))
        deny(403, `resolves to ${real}, outside the image directories (${where(mine)})`);
    },
  };
}
