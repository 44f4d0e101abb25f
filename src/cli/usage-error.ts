import { MoatError } from "../base/moat-error.js";

/** A bad command line or option value: moat prints the message and exits 125. */
export class UsageError extends MoatError {}
