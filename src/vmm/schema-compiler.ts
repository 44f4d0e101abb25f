// Validators for moat's own schemas on a VM's start path (its config, the control protocol).
// Compiling a schema costs ~20 ms of a cold process (Ajv generates and V8 compiles code), which
// every VM's start would pay; so the build compiles them once to a module beside this one
// (scripts/precompile-schemas.ts, Ajv's standalone code), and a process loads that. Where the
// module is missing or was made from other schemas (a hash of them is in it), the schema is
// compiled here instead, with the same options.
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import type { Ajv, Options, ValidateFunction } from "ajv";

const require = createRequire(import.meta.url);

/**
 * Ajv's options for moat's schemas: no meta-schema (they are moat's own, not a caller's:
 * test/vm-config.test.ts validates them against it instead), strict about unknown keywords;
 * `extra` on top.
 */
export function schemaCompiler(extra: Options = {}): Ajv {
  // Loaded when first needed: Ajv is some 60 modules, which a VM process that finds its schemas
  // precompiled (every built one) never reads.
  const { Ajv } = require("ajv") as typeof import("ajv");
  return new Ajv({ allErrors: false, strict: true, meta: false, validateSchema: false, ...extra });
}

/** One precompiled module: its file name under schemas/, its options, its schemas by export. */
export interface SchemaSet {
  file: string;
  options: Options;
  schemas: Readonly<Record<string, object>>;
}

/** What ties a precompiled module to the schemas and options it was made from. */
export function schemaSetHash(set: SchemaSet): string {
  return createHash("sha256")
    .update(JSON.stringify([set.options, set.schemas]))
    .digest("hex");
}

/** The validators of `set` by export name: precompiled at build if that is still true, else now. */
export function validators(set: SchemaSet): Record<string, ValidateFunction> {
  try {
    const mod = require(`./schemas/${set.file}.cjs`) as Record<string, unknown>;
    if (mod["schemaSetHash"] === schemaSetHash(set)) return mod as Record<string, ValidateFunction>;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "MODULE_NOT_FOUND") throw e;
  }
  const ajv = schemaCompiler(set.options);
  return Object.fromEntries(
    Object.entries(set.schemas).map(([name, schema]) => [name, ajv.compile(schema)]),
  );
}
