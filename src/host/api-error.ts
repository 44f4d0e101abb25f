// The error type API handlers throw: the status and message the caller sees, and the field at fault.

/** An error the API reports as `{ error, field? }` with this status. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}
