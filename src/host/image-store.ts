// The daemon's image store (docs/disks.md "Images through the daemon"):
// `<home>/images-store/<domain>/<id>.<raw|qcow2>`, root's (directories 0700, files 0600), one
// directory per trust domain. An import copies the caller's file in (sparse: its data ranges
// only) through a descriptor opened with no link followed, and then checks the copy, not the
// source the caller may still change: its first sector must name the format the import found,
// a qcow2 copy must have no backing file and pass moat's full open to write (its tables in
// bounds, its reference counts consistent). A VM of the domain gets a thin overlay on an image
// in its own directory (image-ops.ts); its VMM opens the image read-only as a backing file.
import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readSync,
  readdirSync,
  realpathSync,
  rmSync,
  unlinkSync,
} from "node:fs";
import { join } from "node:path";
import { openQcow2 } from "../disk/qcow2-chain.js";
import { Qcow2Error, parseQcow2Header } from "../disk/qcow2-header.js";
import { FORMAT_PROBE_BYTES, formatRefusal, knownImageFormat } from "../vmm/image-format.js";
import { ApiError } from "./api-error.js";
import { dataExtents, sparseCopy } from "./disk-copy.js";
import { openSource } from "./snapshot-disks.js";

export type ImageFormat = "raw" | "qcow2";

/** What an import found of the copy it keeps. */
export interface ImportedImage {
  path: string;
  format: ImageFormat;
  virtualSize: number;
  /** Bytes of data copied. */
  bytes: number;
  clusterSize: number | null;
}

const READ = constants.O_RDONLY | constants.O_NOFOLLOW;
const CREATE = constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
/** Bound: a qcow2 header and its extensions lie in its first cluster, at most 2 MiB. */
const HEADER_READ = 2 * 1024 * 1024;

/** The first `n` bytes of the file open at `fd` (fewer if it is shorter). */
function head(fd: number, n: number): Buffer {
  const b = Buffer.alloc(n);
  return b.subarray(0, readSync(fd, b, 0, n, 0));
}

/** The source of an import: its real path opened read-only, no link in any component. */
function openImport(path: string): { fd: number; size: number } {
  try {
    return openSource(path);
  } catch (e) {
    throw new ApiError(
      400,
      (e as Error).message.replace(
        / \(a link, or gone since create\)$/,
        " (a link, or gone since checked)",
      ),
      "path",
    );
  }
}

/**
 * The format the first sector of the file open at `fd` names: qcow2, or raw when it names
 * none; another format is refused with the command that converts it. `said`: the caller's
 * word (raw is then not looked at, as `--disk PATH,format=raw`).
 */
function formatOf(fd: number, path: string, said: ImageFormat | undefined): ImageFormat {
  if (said === "raw") return "raw";
  const found = knownImageFormat(head(fd, FORMAT_PROBE_BYTES));
  if (found === "qcow2") return "qcow2";
  if (found !== undefined)
    throw new ApiError(400, `${path} ${formatRefusal(path, found, "--format raw")}`, "path");
  if (said === "qcow2") throw new ApiError(400, `${path}: not a qcow2 image`, "path");
  return "raw";
}

export class ImageStore {
  /** `<home>/images-store`, root's, as it resolves (a VMM checks backing files' real paths). */
  readonly dir: string;

  constructor(dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.dir = realpathSync(dir);
  }

  /** The directory of `domain`'s images: what its VMs' overlays may name as backing files. */
  domainDir(domain: string): string {
    return join(this.dir, domain);
  }

  /** Removes files no record names (an import a daemon killed mid-way left); returns them. */
  sweep(recorded: ReadonlySet<string>): string[] {
    const gone: string[] = [];
    for (const domain of readdirSync(this.dir))
      for (const f of readdirSync(this.domainDir(domain))) {
        const p = join(this.domainDir(domain), f);
        if (!recorded.has(p)) {
          rmSync(p, { recursive: true, force: true });
          gone.push(p);
        }
      }
    return gone;
  }

  /**
   * Copies the checked file at `source` (its real path) into `domain`'s directory as `id`,
   * checked as described above. `admit` is given its bytes of data before a byte is copied.
   * Nothing is left in the store on a refusal. Throws ApiError.
   */
  async import(
    source: string,
    domain: string,
    id: string,
    said: ImageFormat | undefined,
    admit: (bytes: number) => void,
  ): Promise<ImportedImage> {
    const src = openImport(source);
    let dest: string;
    let bytes: number;
    let format: ImageFormat;
    try {
      format = formatOf(src.fd, source, said);
      if (format === "raw" && (src.size === 0 || src.size % 512 !== 0))
        throw new ApiError(
          400,
          `${source}: ${src.size} bytes, not a whole number of 512-byte sectors ` +
            `(qemu-img resize -f raw ${source} SIZE makes it one)`,
          "path",
        );
      const extents = dataExtents(src.fd, src.size);
      bytes = extents.reduce((n, [, len]) => n + len, 0);
      admit(bytes);
      mkdirSync(this.domainDir(domain), { recursive: true, mode: 0o700 });
      dest = join(this.domainDir(domain), `${id}.${format}`);
      const out = openSync(dest, CREATE, 0o600);
      try {
        sparseCopy(src.fd, out, extents, src.size, source);
        fsyncSync(out);
      } catch (e) {
        // A source cut short while copied (its owner may change it): nothing half-copied stays.
        unlinkSync(dest);
        throw e;
      } finally {
        closeSync(out);
      }
    } finally {
      closeSync(src.fd);
    }
    try {
      return { path: dest, format, bytes, ...(await this.checkCopy(dest, format, source)) };
    } catch (e) {
      unlinkSync(dest);
      throw e;
    }
  }

  /** The copy at `dest` checked as what it must be (see the top): its size and cluster size. */
  private async checkCopy(
    dest: string,
    format: ImageFormat,
    source: string,
  ): Promise<{ virtualSize: number; clusterSize: number | null }> {
    const fd = openSync(dest, READ);
    let first: Buffer;
    let size: number;
    try {
      size = fstatSync(fd).size;
      first = head(fd, Math.min(HEADER_READ, Math.max(FORMAT_PROBE_BYTES, size)));
    } finally {
      closeSync(fd);
    }
    const now = knownImageFormat(first.subarray(0, FORMAT_PROBE_BYTES)) ?? "raw";
    if (format === "raw") return { virtualSize: size, clusterSize: null };
    if (now !== "qcow2")
      throw new ApiError(409, `${source}: changed while it was copied; import it again`, "path");
    try {
      const h = parseQcow2Header(first, size);
      if (h.backingFile !== undefined)
        throw new ApiError(
          400,
          `${source}: a qcow2 overlay (its backing file: ${h.backingFile}); the store keeps ` +
            `whole images: qemu-img convert -O qcow2 ${source} FLAT.qcow2 makes one, import that`,
          "path",
        );
      if (h.size % 512 !== 0) throw new Qcow2Error(`virtual size ${h.size}: not whole sectors`);
      // Opened to be written, as a VM's disk is: every table checked, the counts too.
      const img = await openQcow2(dest, { readOnly: false, backingDirs: [] });
      await img.close();
      return { virtualSize: h.size, clusterSize: h.clusterSize };
    } catch (e) {
      if (e instanceof Qcow2Error) throw new ApiError(400, `${source}: ${e.message}`, "path");
      throw e;
    }
  }

  remove(path: string): void {
    rmSync(path, { force: true });
  }
}
