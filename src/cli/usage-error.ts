/** A bad command line or option value: moat prints the message and exits 125. */
export class UsageError extends Error {}
