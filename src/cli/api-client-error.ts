// What a call to the daemon's API fails with: its own module, so that the SDK's declarations
// name it without the client's transport (ws and the rest) coming along.
import { MoatError } from "../base/moat-error.js";

/** The daemon answered with an error (or could not be reached); moat exits 1, not 125. */
export class ApiClientError extends MoatError {
  constructor(
    message: string,
    readonly status?: number,
    /** The request's field at fault, when the API names one. */
    readonly field?: string,
  ) {
    super(message, "host");
  }
}
