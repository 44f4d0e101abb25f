// docs/architecture.md's layers, held: every import in src/ goes to its own layer or one listed
// before it, and no import cycle runs between files.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { REPO } from "./support/moat-cli.js";

/** Bottom first, as docs/architecture.md lists them. */
const LAYERS = [
  "base",
  "sys",
  "memory",
  "disk",
  "bus",
  "boot",
  "devices",
  "kvm",
  "accel",
  "arch",
  "agent",
  "jail",
  "vmm",
  "host",
  "cli",
  "sdk",
];

const SRC = join(REPO, "src");

/** Each source file and the source files it imports (values and types alike). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")) {
        const deps: string[] = [];
        for (const m of readFileSync(p, "utf8").matchAll(/\bfrom\s+"(\.[^"]+)"/g)) {
          const target = resolve(dirname(p), m[1]!).replace(/\.js$/, ".ts");
          if (existsSync(target)) deps.push(target);
        }
        graph.set(p, deps);
      }
    }
  };
  walk(SRC);
  return graph;
}

const layerOf = (file: string): string => relative(SRC, file).split("/")[0]!;

test("every import goes to its own layer or one below it", () => {
  const graph = importGraph();
  assert.ok(graph.size > 150, `${graph.size} files read`);
  const upward: string[] = [];
  for (const [file, deps] of graph) {
    const from = LAYERS.indexOf(layerOf(file));
    assert.ok(from >= 0, `${relative(SRC, file)}: its layer is not in LAYERS`);
    for (const d of deps)
      if (LAYERS.indexOf(layerOf(d)) > from)
        upward.push(`${relative(SRC, file)} -> ${relative(SRC, d)}`);
  }
  assert.deepEqual(upward, []);
});

test("the daemon (host/) reaches KVM, devices and boot files only through vmm/", () => {
  const graph = importGraph();
  const sideways = [...graph].flatMap(([file, deps]) =>
    layerOf(file) === "host"
      ? deps
          .filter((d) => ["kvm", "devices", "boot"].includes(layerOf(d)))
          .map((d) => `${relative(SRC, file)} -> ${relative(SRC, d)}`)
      : [],
  );
  assert.deepEqual(sideways, []);
});

test("no import cycle between files", () => {
  const graph = importGraph();
  const state = new Map<string, "open" | "done">();
  const cycles: string[] = [];
  const visit = (f: string, path: string[]): void => {
    state.set(f, "open");
    for (const d of graph.get(f) ?? []) {
      if (state.get(d) === "open")
        cycles.push([...path.slice(path.indexOf(d)), d].map((x) => relative(SRC, x)).join(" -> "));
      else if (!state.has(d)) visit(d, [...path, d]);
    }
    state.set(f, "done");
  };
  for (const f of graph.keys()) if (!state.has(f)) visit(f, [f]);
  assert.deepEqual(cycles, []);
});
