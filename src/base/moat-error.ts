// The base of moat's own errors: each says what kind of failure it is, and that kind alone
// decides the HTTP status of an API answer (a command exits 125 for any of them, exit-status.ts). Anything thrown
// that is not a MoatError is a bug in moat, reported as an internal error.

/**
 * - usage: the command line, a config file or a request is wrong (the caller fixes it);
 * - refused: not allowed to this caller or by this host's policy;
 * - not-found: what it names does not exist;
 * - conflict: the thing is in a state that does not allow it now;
 * - invalid: a file the VM was given cannot run as defined (a kernel that is no kernel);
 * - guest: the guest did what it must not (a hostile ring, an address outside its RAM) or
 *   failed to answer;
 * - host: this host cannot do it (no KVM, a system call failed, a file it needs is missing).
 */
export type ErrorKind =
  "usage" | "refused" | "not-found" | "conflict" | "invalid" | "guest" | "host";

export class MoatError extends Error {
  constructor(
    message: string,
    readonly kind: ErrorKind = "usage",
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The HTTP status an API answer gives an error of each kind. */
export const HTTP_STATUS: Readonly<Record<ErrorKind, number>> = {
  usage: 400,
  refused: 403,
  "not-found": 404,
  conflict: 409,
  invalid: 422,
  guest: 502,
  host: 500,
};
