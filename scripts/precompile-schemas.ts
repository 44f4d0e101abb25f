// Compiles the schemas a VM's start checks (src/vmm/schema-compiler.ts) to Ajv standalone
// modules in dist/src/vmm/schemas/, each with the hash of what it was made from. Run by every
// build after tsc.
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import standalone from "ajv/dist/standalone/index.js";

// A CommonJS module whose function is its default export.
const standaloneCode = standalone.default;
import { PACKAGE_ROOT } from "../src/base/sha256sums.js";
import { schemaCompiler, schemaSetHash, type SchemaSet } from "../src/vmm/schema-compiler.js";
import { VM_CONFIG_SCHEMAS } from "../src/vmm/vm-config.js";
import { CONTROL_REQUEST_SCHEMAS } from "../src/vmm/control-protocol.js";
import { SNAPSHOT_SCHEMAS } from "../src/vmm/snapshot-file.js";

const dir = join(PACKAGE_ROOT, "dist", "src", "vmm", "schemas");
mkdirSync(dir, { recursive: true });
const sets: SchemaSet[] = [VM_CONFIG_SCHEMAS, CONTROL_REQUEST_SCHEMAS, SNAPSHOT_SCHEMAS];
for (const set of sets) {
  const ajv = schemaCompiler({ ...set.options, code: { source: true } });
  const refs: Record<string, string> = {};
  for (const [name, schema] of Object.entries(set.schemas)) {
    const { $id: _id, ...plain } = schema as { $id?: string };
    ajv.addSchema(plain, name);
    refs[name] = name;
  }
  const code = `${standaloneCode(ajv, refs)}\nexports.schemaSetHash = ${JSON.stringify(schemaSetHash(set))};\n`;
  const path = join(dir, `${set.file}.cjs`);
  writeFileSync(`${path}.tmp`, code);
  renameSync(`${path}.tmp`, path);
}
process.stdout.write(`dist/src/vmm/schemas: ${sets.length} schema modules\n`);
