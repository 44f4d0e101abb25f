// The error type API handlers throw: the status and message the caller sees, and the field at fault.
import { HTTP_STATUS, MoatError, type ErrorKind } from "../base/moat-error.js";

/** The kind of error an HTTP status says (the inverse of HTTP_STATUS; others are the host's). */
function kindOf(status: number): ErrorKind {
  const kind = (Object.keys(HTTP_STATUS) as ErrorKind[]).find((k) => HTTP_STATUS[k] === status);
  return kind ?? (status < 500 ? "usage" : "host");
}

/** An error the API reports as `{ error, field? }` with this status. */
export class ApiError extends MoatError {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly field?: string,
  ) {
    super(message, kindOf(statusCode));
  }

  /** A MoatError as the API answers it: its kind's status, or its own if it has one. */
  static of(e: MoatError): ApiError {
    if (e instanceof ApiError) return e;
    const field = (e as { field?: unknown }).field;
    return new ApiError(
      HTTP_STATUS[e.kind],
      e.message,
      typeof field === "string" && field !== "" ? field : undefined,
    );
  }
}
