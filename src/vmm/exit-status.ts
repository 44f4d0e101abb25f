// The exit statuses of a VM process (`moat run`, the daemon's VMMs), in one place: the CLI
// sets them, a VM ends with them, and the daemon's supervisor tells a VM's ends apart by them.

/**
 * moat's own error (docker run's 125): a bad command line, a VM that could not start, or a
 * guest that stopped its machine (a kernel panic, a vCPU that halted for good).
 */
export const EXIT_MOAT_ERROR = 125;

/** Stopped by SIGINT (128 + 2), as a shell reports it. */
export const EXIT_SIGINT = 130;

/** Stopped: SIGTERM (128 + 15), the control socket's stop, or the guest after its power button. */
export const EXIT_STOPPED = 143;
