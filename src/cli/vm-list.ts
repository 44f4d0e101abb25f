// What `moat ls` prints: a table (the default), JSON, ids only (-q), or the columns asked for
// (--format name,state), one VM a line, for scripts.
import { UsageError } from "./usage-error.js";

/** What a listing shows of a VM (the API's VM view). */
export interface ListedVm {
  id: string;
  name: string;
  domain: string;
  state: string;
  spec: { cpus?: unknown; memory_mib?: unknown };
  pid?: number | null;
  last_exit?: { reason?: unknown } | null;
  restored_from?: string | null;
}

/** Each column `moat ls` knows: its header and its text. */
export const VM_COLUMNS: Readonly<Record<string, [string, (v: ListedVm) => string]>> = {
  name: ["NAME", (v) => v.name],
  id: ["ID", (v) => v.id],
  domain: ["DOMAIN", (v) => v.domain],
  state: ["STATE", (v) => v.state],
  cpus: ["CPUS", (v) => String(v.spec.cpus ?? "-")],
  memory: ["MEMORY", (v) => `${String(v.spec.memory_mib ?? "-")}M`],
  pid: ["PID", (v) => (v.pid == null ? "-" : String(v.pid))],
  last_exit: ["LAST EXIT", (v) => String(v.last_exit?.reason ?? "")],
  restored_from: ["FROM", (v) => v.restored_from ?? "-"],
};

export const LIST_FORMAT_HELP =
  "table (the default), json, or columns to print without a header, one VM a line, separated " +
  `by a tab: a comma-separated list of ${Object.keys(VM_COLUMNS).join(", ")} (e.g. name,state)`;

export type ListFormat = "table" | "json" | string[];

/** `--format`: table, json or known column names. */
export function parseListFormat(v: string): ListFormat {
  if (v === "table" || v === "json") return v;
  const cols = v.split(",");
  const unknown = cols.find((c) => !(c in VM_COLUMNS));
  if (unknown !== undefined)
    throw new UsageError(
      `--format '${v}': '${unknown}' is not a column; table, json, or columns of ` +
        Object.keys(VM_COLUMNS).join(", "),
    );
  return cols;
}

/** The rows of `vms`: a header and every column for the table, the columns asked for else. */
export function vmRows(vms: readonly ListedVm[], cols?: readonly string[]): string[][] {
  const pick = cols ?? Object.keys(VM_COLUMNS);
  const rows = vms.map((v) => pick.map((c) => VM_COLUMNS[c]![1](v)));
  return cols ? rows : [pick.map((c) => VM_COLUMNS[c]![0]), ...rows];
}
