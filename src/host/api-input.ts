// How the API takes its input. Bodies are JSON and only JSON (another media type is a 415),
// parsed without the keys that reach an object's prototype, and validated against their schema
// as sent: a wrong type is refused, never coerced ("name": 42 is not the name "42"). Query
// strings and path parameters are text by nature and are still converted to their types.
import { Ajv, type Options } from "ajv";
import type { FastifyInstance, FastifySchemaCompiler } from "fastify";
import { ApiError } from "./api-error.js";

const AJV_OPTIONS: Options = {
  removeAdditional: false,
  allErrors: false,
  useDefaults: true,
  // Schemas with an $id are compiled once per route, not kept in the instance.
  addUsedSchema: false,
};

/**
 * The schema compiler for every route: bodies without type coercion, query strings and path
 * parameters with it (a number or a boolean there arrives as text).
 */
export function inputValidator(): FastifySchemaCompiler<unknown> {
  const strict = new Ajv({ ...AJV_OPTIONS, coerceTypes: false });
  const text = new Ajv({ ...AJV_OPTIONS, coerceTypes: "array" });
  return ({ schema, httpPart }) =>
    (httpPart === "body" ? strict : text).compile(schema as object) as ReturnType<
      FastifySchemaCompiler<unknown>
    >;
}

/**
 * Replaces fastify's body parsers with one for application/json: a body of any other type
 * (text, a form) gets 415, which the error handler words (unsupportedMediaType).
 */
export function acceptJsonBodiesOnly(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (e) {
      done(e as Error, undefined);
    }
  });
}

/**
 * A request body as JSON; ApiError 400 saying why when it is not JSON, or when it holds a
 * `__proto__` key or a `constructor` with a `prototype` (harmless as parsed, but what merges
 * them into another object reaches its prototype). Bound: the body is at most the API's
 * bodyLimit (64 KiB) before it gets here.
 */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === "") throw new ApiError(400, "body: empty, but its content-type says JSON");
  try {
    return JSON.parse(text, refuseProtoKeys);
  } catch (e) {
    if (e instanceof ApiError) throw e;
    throw new ApiError(400, `body: not valid JSON (${(e as Error).message})`);
  }
}

function refuseProtoKeys(key: string, value: unknown): unknown {
  const prototypeOf =
    key === "constructor" &&
    typeof value === "object" &&
    value !== null &&
    Object.hasOwn(value, "prototype");
  if (key === "__proto__" || prototypeOf)
    throw new ApiError(400, `body: "${key}" is not allowed as a key`, key);
  return value;
}

/** The 415 for a body that is not JSON, naming what was sent. */
export function unsupportedMediaType(contentType: string | undefined): ApiError {
  const sent = contentType ? `content-type ${contentType.slice(0, 100)}` : "no content-type";
  return new ApiError(415, `body: send JSON with content-type application/json; this had ${sent}`);
}
