// A JSON schema for an object type T, its fields named by T: the compiler checks that each of
// T's fields has a schema, no other is given, and those T may leave out are marked `optional`
// (then left out of `required`). What each field's schema says of its value is the caller's.

/** A field's JSON schema; `optional` (not a JSON-schema keyword) is stripped from it. */
export interface FieldSchema {
  /** What the field must be, in a refusal's words. */
  description?: string;
  optional?: true;
  [keyword: string]: unknown;
}
export type OptionalField = FieldSchema & { optional: true };

/** A schema for each of T's fields; those T may leave out (K?: ...) must say `optional`. */
export type FieldSchemas<T> = {
  [K in keyof T]-?: Partial<Pick<T, K>> extends Pick<T, K>
    ? OptionalField
    : FieldSchema & { optional?: never };
};

// A type, not an interface: it is a FieldSchema too (an object nested in another).
export type ObjectSchema = {
  type: "object";
  properties: { [field: string]: object };
  required: string[];
  /** closed: a field T does not name is refused; open: it is let through unchecked. */
  additionalProperties: boolean;
};

export function objectSchema<T>(
  fields: FieldSchemas<T>,
  { closed }: { closed: boolean },
): ObjectSchema {
  const properties: ObjectSchema["properties"] = {};
  const required: string[] = [];
  for (const [name, { optional, ...schema }] of Object.entries<FieldSchema>(fields)) {
    properties[name] = schema;
    if (!optional) required.push(name);
  }
  return { type: "object", properties, required, additionalProperties: !closed };
}
