// The create form, built from the VmSpec schema of the API's own OpenAPI document (the same typed
// configuration POST /v1/vms validates and `moat create -f` takes), so a field the API gains or
// a range it changes reaches the form without an edit here. The browser checks nothing
// (novalidate): the API's words, and the field it names, are shown next to the form.

/** The part of JSON Schema the form reads. */
export interface Schema {
  type?: string;
  enum?: readonly (string | number)[];
  const?: unknown;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  maxItems?: number;
  description?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
}

/** The VmSpec fields the form offers, in order, with the sub-fields of objects and list items. */
const FIELDS: [string, string[]?][] = [
  ["name"],
  ["domain"],
  ["accel"],
  ["cpus"],
  ["memory_mib"],
  ["disks", ["path", "read_only"]],
  ["display", ["width", "height"]],
  ["agent", []],
  ["rng"],
  ["restart"],
  ["cpu_tier"],
  ["cmdline"],
];

const LABELS: Record<string, string> = {
  name: "Name",
  domain: "Trust domain",
  accel: "Accelerator (guest architecture)",
  cpus: "vCPUs",
  memory_mib: "Memory (MiB)",
  disks: "Disks",
  path: "Image path",
  read_only: "read-only",
  display: "Display",
  width: "Width",
  height: "Height",
  agent: "Guest agent",
  rng: "Entropy device (virtio-rng)",
  restart: "Restart policy",
  cpu_tier: "Soft CPU tier",
  cmdline: "Kernel command line",
};

/** What each accelerator runs (vm-limits.ts archOf): the guest's architecture follows from it. */
const ACCEL_TEXT: Record<string, string> = {
  auto: "auto (KVM if the host has it)",
  soft: "soft: riscv64 guest on moat's CPU",
  kvm: "kvm: x86-64 guest",
};

/** One control of the form: its element, and its value for the request (undefined: absent). */
interface Field {
  el: HTMLElement;
  read(): unknown;
}

const el = <K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<HTMLElementTagNameMap[K]> = {},
  ...kids: (Node | string)[]
): HTMLElementTagNameMap[K] => {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...kids);
  return e;
};

let ids = 0;

/** A control for a scalar (enum, number, boolean, string) at request path `at`. */
function scalar(key: string, s: Schema, at: string): Field {
  const id = `f-${++ids}`;
  const label = el("label", { htmlFor: id }, LABELS[key] ?? key);
  const range =
    s.minimum !== undefined && s.maximum !== undefined ? `${s.minimum} to ${s.maximum}` : "";
  const about = [range, s.description].filter((x) => x).join("; ");
  const hint = about ? el("small", { className: "muted" }, about) : "";
  let input: HTMLInputElement | HTMLSelectElement;
  let read: () => unknown;
  if (s.type === "boolean") {
    const box = el("input", { id, type: "checkbox", checked: s.default === true });
    box.dataset.field = at;
    return {
      el: el("div", { className: "field check" }, box, label, hint),
      read: () => (box.checked === (s.default === true) ? undefined : box.checked),
    };
  }
  if (s.enum) {
    const sel = el("select", { id });
    const none = s.default === undefined ? [el("option", { value: "" }, "(default)")] : [];
    sel.append(
      ...none,
      ...s.enum.map((v) =>
        el(
          "option",
          { value: String(v), selected: v === s.default },
          (key === "accel" && ACCEL_TEXT[v]) || String(v),
        ),
      ),
    );
    input = sel;
    read = () => (sel.value === "" || sel.value === String(s.default) ? undefined : sel.value);
  } else if (s.type === "integer" || s.type === "number") {
    // Text, not type=number: a browser empties a number field that does not parse, and the
    // default would be used without a word; here what was typed goes, for the API to judge.
    const num = el("input", { id, type: "text", inputMode: "decimal", autocomplete: "off" });
    if (s.default !== undefined) num.placeholder = String(s.default);
    input = num;
    read = () =>
      num.value.trim() === ""
        ? undefined
        : Number.isNaN(Number(num.value))
          ? num.value
          : Number(num.value);
  } else {
    const text = el("input", { id, type: "text", spellcheck: false, autocomplete: "off" });
    if (key === "path") text.setAttribute("list", "image-dirs");
    if (s.default !== undefined) text.placeholder = String(s.default);
    input = text;
    read = () => (text.value === "" ? undefined : text.value);
  }
  input.dataset.field = at;
  input.name = at;
  return { el: el("div", { className: "field" }, label, input, hint), read };
}

/** An optional object (display, agent): a checkbox adds it, with its scalar sub-fields. */
function object(key: string, s: Schema, sub: string[]): Field {
  const id = `f-${++ids}`;
  const on = el("input", { id, type: "checkbox" });
  on.dataset.field = key;
  const inner = sub.map((k) => scalar(k, s.properties![k]!, `${key}.${k}`));
  const body = el("div", { className: "sub" }, ...inner.map((f) => f.el));
  body.hidden = true;
  on.addEventListener("change", () => (body.hidden = !on.checked));
  const hint = s.description ? el("small", { className: "muted" }, s.description) : "";
  return {
    el: el(
      "fieldset",
      { className: "group" },
      el(
        "div",
        { className: "field check" },
        on,
        el("label", { htmlFor: id }, LABELS[key] ?? key),
        hint,
      ),
      body,
    ),
    read: () => (on.checked ? values(sub, inner) : undefined),
  };
}

/** A list of objects (disks): rows added and removed by the user, up to the schema's maxItems. */
function list(key: string, s: Schema, sub: string[]): Field {
  const item = s.items!;
  const rows: { row: HTMLElement; fields: Field[] }[] = [];
  const box = el("div", { className: "rows" });
  const add = el(
    "button",
    { type: "button", className: "secondary" },
    `Add ${(LABELS[key] ?? key).toLowerCase().replace(/s$/, "")}`,
  );
  add.dataset.field = key;
  const renumber = () => {
    rows.forEach((r, i) =>
      r.row.querySelectorAll<HTMLElement>("[data-field]").forEach((c) => {
        c.dataset.field = c.dataset.field!.replace(/^[^.]+\.\d+/, `${key}.${i}`);
      }),
    );
    add.disabled = rows.length >= (s.maxItems ?? Infinity);
  };
  add.addEventListener("click", () => {
    const fields = sub.map((k) => scalar(k, item.properties![k]!, `${key}.${rows.length}.${k}`));
    const remove = el("button", { type: "button", className: "secondary" }, "Remove");
    const row = el("div", { className: "row" }, ...fields.map((f) => f.el), remove);
    const entry = { row, fields };
    remove.addEventListener("click", () => {
      rows.splice(rows.indexOf(entry), 1);
      row.remove();
      renumber();
    });
    rows.push(entry);
    box.append(row);
    renumber();
  });
  const hint = el("small", { className: "muted", id: `${key}-hint` });
  return {
    el: el(
      "fieldset",
      { className: "group" },
      el("legend", {}, LABELS[key] ?? key),
      box,
      add,
      hint,
    ),
    read: () => (rows.length ? rows.map((r) => values(sub, r.fields)) : undefined),
  };
}

function values(keys: string[], fields: Field[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  keys.forEach((k, i) => {
    const v = fields[i]!.read();
    if (v !== undefined) out[k] = v;
  });
  return out;
}

/**
 * Fills `form` with the fields of `spec` (components.schemas.VmSpec); returns what reads the
 * request body from it. Fields the schema lacks are left out.
 */
export function buildCreateForm(form: HTMLElement, spec: Schema): () => Record<string, unknown> {
  const props = spec.properties ?? {};
  const keys: string[] = [];
  const fields: Field[] = [];
  for (const [key, sub] of FIELDS) {
    const s = props[key];
    if (!s) continue;
    const f =
      s.type === "array" && s.items?.properties
        ? list(
            key,
            s,
            (sub ?? []).filter((k) => s.items!.properties![k]),
          )
        : s.type === "object"
          ? object(
              key,
              s,
              (sub ?? []).filter((k) => s.properties?.[k]),
            )
          : scalar(key, s, key);
    keys.push(key);
    fields.push(f);
  }
  form.replaceChildren(...fields.map((f) => f.el));
  return () => values(keys, fields);
}

/** Shows the API's error next to the form, and beside the control of the field it names. */
export function showCreateError(form: HTMLElement, message: string, field?: string): void {
  for (const e of form.querySelectorAll(".field-error")) e.remove();
  for (const e of form.querySelectorAll("[aria-invalid]")) e.removeAttribute("aria-invalid");
  if (!field) return;
  // The control named, or the nearest one above it (`disks.0.format`: the disks list).
  const controls = [...form.querySelectorAll<HTMLElement>("[data-field]")];
  let target: HTMLElement | undefined;
  for (let f = field; !target && f !== ""; f = f.includes(".") ? f.replace(/\.[^.]*$/, "") : "")
    target = controls.find((c) => c.dataset.field === f);
  if (!target) return;
  target.setAttribute("aria-invalid", "true");
  target.scrollIntoView({ block: "nearest" });
  const note = el("span", { className: "field-error" }, message);
  const box = target.closest(".field");
  if (box) box.append(note);
  else target.after(note);
}
