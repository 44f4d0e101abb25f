// The web console's two dialogs: New VM (the create form, create-form.ts, built from the API's
// VmSpec schema; the API's error shown in its words) and Delete (asks first; Cancel deletes
// nothing; a running VM is killed first, and the dialog says so).
import { buildCreateForm, showCreateError, type Schema } from "./create-form.js";
import { $, api, ApiError, vmPath, type Vm } from "./http.js";

/** What the dialogs need of the page. */
export interface DialogPage {
  /** The open VM. */
  current(): Vm | undefined;
  setStatus(text: string): void;
  created(vm: Vm): Promise<void>;
  /** VM `id` is about to be deleted (undefined: the delete failed). */
  deleting(id: string | undefined): Promise<void>;
  deleted(id: string): Promise<void>;
}

let page: DialogPage;
/** Reads the create form's request body, once the form is built from the API's schema. */
let readCreateForm: (() => Record<string, unknown>) | undefined;

async function openCreate(): Promise<void> {
  const dialog = $<HTMLDialogElement>("create-dialog");
  $("create-error").textContent = "";
  if (!readCreateForm) {
    try {
      // The OpenAPI document is public: the same VmSpec schema POST /v1/vms validates.
      const doc = await api<{ components: { schemas: { VmSpec: Schema } } }>(
        "GET",
        "/v1/openapi.json",
      );
      readCreateForm = buildCreateForm($("create-fields"), doc.components.schemas.VmSpec);
    } catch (e) {
      page.setStatus(`cannot read the VM schema: ${(e as Error).message}`);
      return;
    }
    void imageDirs();
  }
  showCreateError($("create-fields"), "");
  dialog.showModal();
  $("create-fields").querySelector<HTMLInputElement>("input")?.focus();
}

/** Where disk images may come from (GET /v1/host), offered beside the disks' paths. */
async function imageDirs(): Promise<void> {
  try {
    const h = await api<{
      image_dirs?: { operators?: string[]; tenants?: string[]; domains?: Record<string, string[]> };
    }>("GET", "/v1/host");
    const d = h.image_dirs ?? {};
    const dirs = [
      ...new Set([
        ...(d.operators ?? []),
        ...(d.tenants ?? []),
        ...Object.values(d.domains ?? {}).flat(),
      ]),
    ];
    $("image-dirs").replaceChildren(
      ...dirs.map((p) => Object.assign(document.createElement("option"), { value: `${p}/` })),
    );
    const hint = document.getElementById("disks-hint");
    if (hint) hint.textContent = dirs.length ? `Images may come from ${dirs.join(", ")}.` : "";
  } catch {
    // A tenant's token may not read the host: the API names the allowed directories on error.
  }
}

async function submitCreate(): Promise<void> {
  const body = readCreateForm!();
  const button = $<HTMLButtonElement>("create-submit");
  button.disabled = true;
  $("create-error").textContent = ""; // this try's answer, not the last one's
  try {
    const vm = await api<Vm>("POST", "/v1/vms", body);
    $<HTMLDialogElement>("create-dialog").close();
    readCreateForm = undefined; // the next VM starts from an empty form
    await page.created(vm);
  } catch (e) {
    $("create-error").textContent = (e as Error).message;
    showCreateError(
      $("create-fields"),
      (e as Error).message,
      e instanceof ApiError ? e.field : undefined,
    );
  } finally {
    button.disabled = false;
  }
}

function openDelete(): void {
  const vm = page.current();
  if (!vm) return;
  const live = vm.state !== "created" && vm.state !== "stopped" && vm.state !== "crashed";
  $("delete-text").textContent =
    `Delete VM '${vm.name}'? The daemon forgets it and removes its directory (console log ` +
    "included); its disk images stay." +
    (live ? ` It is ${vm.state}: it is killed first.` : "");
  $("delete-error").textContent = "";
  const dialog = $<HTMLDialogElement>("delete-dialog");
  dialog.dataset.vm = vm.id;
  dialog.dataset.force = String(live);
  dialog.showModal();
  $("delete-cancel").focus();
}

async function confirmDelete(): Promise<void> {
  const dialog = $<HTMLDialogElement>("delete-dialog");
  const id = dialog.dataset.vm;
  if (!id) return;
  const button = $<HTMLButtonElement>("delete-confirm");
  button.disabled = true; // one DELETE per confirmation
  try {
    await page.deleting(id);
    await api("DELETE", vmPath(id, dialog.dataset.force === "true" ? "?force=true" : ""));
    dialog.close();
    await page.deleted(id);
  } catch (e) {
    await page.deleting(undefined);
    $("delete-error").textContent = (e as Error).message;
  } finally {
    button.disabled = false;
  }
}

/** Wires the New VM and Delete buttons and the dialogs' own. */
export function setupVmDialogs(p: DialogPage): void {
  page = p;
  $("vm-new").addEventListener("click", () => void openCreate());
  $("create-form").addEventListener("submit", (e) => {
    e.preventDefault();
    void submitCreate();
  });
  $("create-cancel").addEventListener("click", () => $<HTMLDialogElement>("create-dialog").close());
  $("vm-delete").addEventListener("click", openDelete);
  $("delete-cancel").addEventListener("click", () => $<HTMLDialogElement>("delete-dialog").close());
  $("delete-confirm").addEventListener("click", () => void confirmDelete());
}
