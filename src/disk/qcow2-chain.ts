// A qcow2 image with its backing chain: each backing file found where the image names it
// (relative to the image's own directory), only inside that directory or the others the caller
// allows,
// opened read-only, at most BACKING_DEPTH_MAX deep and never twice (a loop is refused). A
// backing file's format must be named by the image that uses it: moat never guesses a raw
// file to be qcow2.
import { open, realpath, type FileHandle } from "node:fs/promises";
import { closeSync, constants, fstatSync, openSync, readSync, realpathSync } from "node:fs";
import { dirname, isAbsolute, resolve, sep } from "node:path";
import { handleFile, rawReader, type DiskReader, type ImageFile } from "./image-file.js";
import { Qcow2Error, parseQcow2Header, type Qcow2Header } from "./qcow2-header.js";
import { Qcow2Image, type MetadataBudget } from "./qcow2-image.js";

/** Bound: a chain of at most this many files under the image itself. */
export const BACKING_DEPTH_MAX = 16;

export interface ChainOptions {
  readOnly: boolean;
  /**
   * Directories (real paths) a backing file may lie in besides the image's own directory
   * (the top image's: every file of the chain is confined to the same set).
   */
  backingDirs?: string[];
  /** Called on each file opened (the VMM takes its image lock there; `readOnly` for backings). */
  onOpen?: (fh: FileHandle, path: string, readOnly: boolean) => void;
  /** The VM's metadata cache budget, shared by every file of the chain (and its other disks). */
  budget?: MetadataBudget;
}

const inside = (path: string, dir: string): boolean =>
  path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);

async function openFile(path: string, readOnly: boolean, o: ChainOptions): Promise<ImageFile> {
  const fh = await open(
    path,
    (readOnly ? constants.O_RDONLY : constants.O_RDWR) | constants.O_NOFOLLOW,
  );
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new Qcow2Error(`${path}: not a regular file`);
    o.onOpen?.(fh, path, readOnly);
    return handleFile(fh, path, st.size);
  } catch (e) {
    await fh.close();
    throw e;
  }
}

/**
 * Opens the qcow2 image at `path` and its backing chain. Throws Qcow2Error naming the file at
 * fault: a backing file outside the allowed directories, missing, of no named format, of
 * another virtual size than it can serve, a loop, or a chain deeper than BACKING_DEPTH_MAX.
 */
export async function openQcow2(path: string, o: ChainOptions): Promise<Qcow2Image> {
  const real = await realpath(path);
  const dirs = [dirname(real), ...(o.backingDirs ?? [])];
  return openLevel(real, o.readOnly, o, dirs, new Set(), 0);
}

/**
 * The backing file the image at `real` with header `h` names, resolved and checked: inside
 * `dirs`, its format named, the chain not deeper than BACKING_DEPTH_MAX. Undefined: none.
 */
function nextInChain(
  real: string,
  h: Qcow2Header,
  dirs: string[],
  depth: number,
): { path: string; format: string } | undefined {
  if (h.backingFile === undefined) return undefined;
  if (depth >= BACKING_DEPTH_MAX)
    throw new Qcow2Error(`backing chain deeper than ${BACKING_DEPTH_MAX} files`);
  const named = isAbsolute(h.backingFile) ? h.backingFile : resolve(dirname(real), h.backingFile);
  let next: string;
  try {
    next = realpathSync(named);
  } catch {
    throw new Qcow2Error(`its backing file ${named} cannot be found`);
  }
  if (!dirs.some((d) => inside(next, d)))
    throw new Qcow2Error(
      `its backing file ${next} lies outside the directories images may come from ` +
        `(${dirs.join(", ")}, and below)`,
    );
  if (h.backingFormat === undefined)
    throw new Qcow2Error(
      `it names no format for its backing file ${h.backingFile} (moat does not guess): ` +
        `qemu-img rebase -u -F qcow2|raw -b ${h.backingFile} ${real}`,
    );
  return { path: next, format: h.backingFormat };
}

/**
 * The files of the backing chain under the qcow2 image at `path` (real paths, nearest first),
 * read and checked as openQcow2 does (for a jail to hold them); the image itself not included.
 * Bound: BACKING_DEPTH_MAX files, each header read within its first 2 MiB.
 */
export function backingChainSync(path: string, o: { backingDirs?: string[] } = {}): string[] {
  let real = realpathSync(path);
  const dirs = [dirname(real), ...(o.backingDirs ?? [])];
  const chain: string[] = [];
  const seen = new Set([real]);
  for (let depth = 0; ; depth++) {
    const fd = openSync(real, constants.O_RDONLY | constants.O_NOFOLLOW);
    let h: Qcow2Header;
    try {
      const size = fstatSync(fd).size;
      const head = Buffer.alloc(Math.min(2 * 1024 * 1024, Math.max(512, size)));
      readSync(fd, head, 0, head.length, 0);
      h = parseQcow2Header(head, size);
    } catch (e) {
      if (e instanceof Qcow2Error) throw new Qcow2Error(`${real}: ${e.message}`);
      throw e;
    } finally {
      closeSync(fd);
    }
    const next = nextInChain(real, h, dirs, depth);
    if (!next) return chain;
    if (seen.has(next.path))
      throw new Qcow2Error(`${next.path}: the backing chain loops back to it`);
    seen.add(next.path);
    chain.push(next.path);
    if (next.format === "raw") return chain;
    real = next.path;
  }
}

async function openLevel(
  real: string,
  readOnly: boolean,
  o: ChainOptions,
  dirs: string[],
  seen: Set<string>,
  depth: number,
): Promise<Qcow2Image> {
  if (seen.has(real)) throw new Qcow2Error(`${real}: the backing chain loops back to it`);
  seen.add(real);
  const file = await openFile(real, readOnly, o);
  let backing: DiskReader | undefined;
  try {
    const h = await Qcow2Image.header(file);
    const next = nextInChain(real, h, dirs, depth);
    if (next)
      backing =
        next.format === "raw"
          ? rawReader(await openFile(next.path, true, o))
          : await openLevel(next.path, true, o, dirs, seen, depth + 1);
    return await Qcow2Image.open(file, {
      readOnly,
      ...(backing ? { backing } : {}),
      ...(o.budget ? { budget: o.budget } : {}),
    });
  } catch (e) {
    await backing?.close();
    await file.close();
    if (e instanceof Qcow2Error && !e.message.startsWith("/"))
      throw new Qcow2Error(`${real}: ${e.message}`);
    throw e;
  }
}
