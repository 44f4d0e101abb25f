// A VM's disk as the VMM opens it: a raw file (disk-file.ts), or a qcow2 image with its
// backing chain (src/disk/), every file of it under QEMU's image lock (backing files shared,
// read-only). The format is the one the config says; raw is the default (docs/disks.md).
import type { FileHandle } from "node:fs/promises";
import { realpathSync } from "node:fs";
import type { BlockBackend } from "../devices/virtio/blk.js";
import { DiskError, DiskFile } from "./disk-file.js";
import { lockImage } from "./image-lock.js";
import { openQcow2 } from "../disk/qcow2-chain.js";
import { Qcow2Error } from "../disk/qcow2-header.js";
import type { MetadataBudget } from "../disk/qcow2-image.js";
import type { DiskFormat } from "./vm-config.js";

export interface OpenDisk extends BlockBackend {
  readonly path: string;
  close(): Promise<void>;
}

/** Takes the image lock on a file of a qcow2 chain, or says who has it. */
function lock(fh: FileHandle, path: string, readOnly: boolean): void {
  let inUse: string | undefined;
  try {
    inUse = lockImage(fh.fd, readOnly);
  } catch (e) {
    throw new Qcow2Error(`${path}: cannot take its image lock: ${(e as Error).message}`);
  }
  if (inUse !== undefined) throw new Qcow2Error(`${path}: ${inUse}`);
}

const WHY: Record<string, string> = {
  ENOENT: "no such file",
  EACCES: "permission denied",
  ELOOP: "a symbolic link (a qcow2 image is opened with no link followed)",
  EROFS: "on a read-only file system (add ,ro)",
};

/**
 * Opens the disk `spec` names in its format; a DiskError says what is wrong with it. A qcow2
 * disk keeps its tables in memory within `budget`, the VM's (shared by all its disks).
 */
export async function openDisk(
  spec: {
    path: string;
    readOnly: boolean;
    format?: DiskFormat;
    /** Where its backing files may lie (absent: the image's own directory). */
    backingDirs?: string[];
  },
  budget?: MetadataBudget,
): Promise<OpenDisk> {
  if (spec.format !== "qcow2")
    return DiskFile.open(spec.path, spec.readOnly, spec.format === "raw");
  try {
    return await openQcow2(spec.path, {
      readOnly: spec.readOnly,
      onOpen: lock,
      ...(budget ? { budget } : {}),
      ...(spec.backingDirs !== undefined ? { backingDirs: spec.backingDirs } : {}),
    });
  } catch (e) {
    if (e instanceof Qcow2Error) {
      // The chain's errors name their file; the disk's own is named once, as given.
      let own = "";
      try {
        own = `${realpathSync(spec.path)}: `;
      } catch {
        // gone: the message names it
      }
      const what = own && e.message.startsWith(own) ? e.message.slice(own.length) : e.message;
      throw new DiskError(`disk ${spec.path}: ${what}`);
    }
    const code = (e as NodeJS.ErrnoException).code ?? "";
    if (WHY[code]) throw new DiskError(`disk ${spec.path}: ${WHY[code]}`);
    throw e;
  }
}
