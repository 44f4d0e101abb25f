// The API's operations on the daemon's images (docs/disks.md "Images through the daemon"):
// importing a host file the caller may use (the image directories' rules, as a VM's disk) into
// the store of a trust domain, listing, inspecting and deleting images, and the thin qcow2
// overlay a VM created with a disk `{ "image": N }` gets on one in its own directory.
import { closeSync, fchownSync, fsyncSync, statSync, writeSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { newQcow2 } from "../disk/qcow2-create.js";
import { ApiError } from "./api-error.js";
import { findRef } from "./find-ref.js";
import type { Caller } from "./auth.js";
import type { DaemonConfig } from "./config.js";
import { imageRules } from "./image-dirs.js";
import type { ImageFormat, ImageStore } from "./image-store.js";
import { checkImageQuota } from "./quota.js";
import type { ImageRecord, Store, VmRecord } from "./store.js";
import { denier } from "./vm-create.js";
import { createVmFile, prepareVmDir, removeVmDir } from "./vm-dir.js";

/** A VM's overlay on a store image: `overlay-N.qcow2` in its directory, N the disk's place. */
export const overlayFile = (index: number): string => `overlay-${index}.qcow2`;

/** An image as the API answers it; `usedBy`: the VMs with an overlay on it (inspect). */
export function imageView(i: ImageRecord, usedBy?: VmRecord[]): Record<string, unknown> {
  let fileSize: number | undefined;
  if (usedBy)
    try {
      fileSize = statSync(i.path).size;
    } catch {
      // Gone from the store: the record says so by having no size.
    }
  return {
    id: i.id,
    name: i.name,
    domain: i.domain,
    format: i.format,
    virtual_size: i.virtualSize,
    bytes: i.bytes,
    cluster_size: i.clusterSize,
    source: i.source,
    path: i.path,
    created_at: i.createdAt,
    ...(fileSize !== undefined ? { file_size: fileSize } : {}),
    ...(usedBy ? { used_by: usedBy.map((v) => ({ id: v.id, name: v.name })) } : {}),
  };
}

export interface ImportBody {
  path: string;
  name: string;
  domain?: string;
  format?: ImageFormat;
}

export class ImageOps {
  /** Imports under way: their domains and bytes of data, counted by the quota check too. */
  private readonly copying = new Set<{ domain: string; bytes: number }>();

  constructor(
    private readonly store: Store,
    private readonly files: ImageStore,
    private readonly cfg: DaemonConfig,
    /** A VM's directory (supervisor.ts files(id).dir). */
    private readonly vmDir: (id: string) => string,
  ) {}

  /** Images `caller` may see: a tenant its own domain's. */
  list(caller: Caller): ImageRecord[] {
    return this.store
      .images()
      .filter((i) => caller.role !== "tenant" || i.domain === caller.domain);
  }

  /** The image `ref` (an id, or a name in `domain`) names; ApiError if a name is ambiguous. */
  find(ref: string, domain?: string): ImageRecord | undefined {
    return findRef(this.store.images(), ref, domain, "images");
  }

  /** The VMs with an overlay on image `i`. */
  usedBy(i: ImageRecord): VmRecord[] {
    return this.store.vms().filter((v) => v.spec.disks.some((d) => d.image === i.id));
  }

  /**
   * Imports the host file `b.path` as image `b.name` of `b.domain` (default: the caller's):
   * the path checked as a VM's disk path is (tenants: their domain's directories), copied into
   * the store and checked there (image-store.ts), counted against the domain's diskBytes.
   */
  async import(b: ImportBody, caller: Caller): Promise<ImageRecord> {
    const domain = b.domain ?? caller.domain ?? "default";
    const taken = (): ApiError =>
      new ApiError(409, `trust domain '${domain}' has an image named '${b.name}'`, "name");
    if (this.store.images().some((i) => i.domain === domain && i.name === b.name)) throw taken();
    const rules = imageRules(this.cfg);
    const deny = denier("path", b.path, caller.role);
    const real = rules.resolve(rules.authorise(b.path, domain, caller.role, deny), deny);
    rules.place(real, domain, caller.role, deny);
    const id = randomBytes(6).toString("hex");
    // Checked against what the domain holds when the copy starts, imports under way included.
    const mine = { domain, bytes: 0 };
    const admit = (bytes: number): void => {
      const held = [...this.store.images(), ...this.copying];
      checkImageQuota(domain, this.store.vms(), held, this.cfg.domainQuotas, bytes);
      mine.bytes = bytes;
      this.copying.add(mine);
    };
    let got: Awaited<ReturnType<ImageStore["import"]>>;
    try {
      got = await this.files.import(real, domain, id, b.format, admit);
    } catch (e) {
      this.copying.delete(mine);
      throw e;
    }
    const rec: ImageRecord = {
      id,
      name: b.name,
      domain,
      format: got.format,
      virtualSize: got.virtualSize,
      bytes: got.bytes,
      clusterSize: got.clusterSize,
      source: real,
      path: got.path,
      createdAt: new Date().toISOString(),
    };
    try {
      this.store.insertImage(rec);
      this.copying.delete(mine);
    } catch (e) {
      this.copying.delete(mine);
      this.files.remove(got.path);
      // Another import took the name meanwhile (the table's unique key).
      if ((e as { code?: unknown }).code === "SQLITE_CONSTRAINT_UNIQUE") throw taken();
      throw e;
    }
    return rec;
  }

  /** Deletes an image no VM has an overlay on. */
  delete(i: ImageRecord): void {
    const users = this.usedBy(i);
    if (users.length > 0)
      throw new ApiError(
        409,
        `image '${i.name}': ${users.length === 1 ? "VM" : "VMs"} ${users.map((v) => v.name).join(", ")} ${users.length === 1 ? "has an overlay" : "have overlays"} on it; delete ${users.length === 1 ? "it" : "them"} first`,
      );
    this.store.deleteImage(i.id);
    this.files.remove(i.path);
  }

  /**
   * For a create (vm-create.ts CreateContext.overlay): the image `ref` of `domain`, and where
   * VM `vmId`'s overlay on it for disk `index` will be. A tenant's refs are its own domain's.
   */
  overlayFor(
    ref: string,
    domain: string,
    vmId: string,
    index: number,
  ): { path: string; id: string } {
    const i = this.find(ref, domain);
    const field = `disks.${index}.image`;
    if (!i)
      throw new ApiError(
        400,
        `${field}: no image '${ref}' in trust domain '${domain}' (moat image ls)`,
        field,
      );
    return { path: join(this.vmDir(vmId), overlayFile(index)), id: i.id };
  }

  /** Where `vm`'s qcow2 disks' backing files may lie: its domain's store, if it uses images. */
  backingDirs(vm: VmRecord): string[] | undefined {
    return vm.spec.disks.some((d) => d.image !== undefined)
      ? [this.files.domainDir(vm.domain)]
      : undefined;
  }

  /**
   * Makes `vm`'s overlays on its images in its directory (made here, its uid's): each file made
   * afresh with no link followed (vm-dir.ts createVmFile), written and handed to the VM's uid.
   * On failure the directory goes again.
   */
  makeOverlays(vm: VmRecord): void {
    const disks = vm.spec.disks.flatMap((d, index) => (d.image ? [{ index, id: d.image }] : []));
    if (disks.length === 0) return;
    const dir = this.vmDir(vm.id);
    try {
      prepareVmDir(dir, vm.uid, []);
      for (const d of disks) {
        const i = this.store.images().find((x) => x.id === d.id);
        if (!i) throw new ApiError(409, `image ${d.id} was deleted meanwhile`);
        const fd = createVmFile(dir, overlayFile(d.index));
        try {
          writeSync(
            fd,
            newQcow2({ size: i.virtualSize, backing: { file: i.path, format: i.format } }),
          );
          fsyncSync(fd);
          fchownSync(fd, vm.uid ?? 0, vm.uid ?? 0);
        } finally {
          closeSync(fd);
        }
      }
    } catch (e) {
      removeVmDir(dir);
      throw e;
    }
  }
}
