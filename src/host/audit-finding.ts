// One finding of `moat audit` (host-audit.ts, integrity-audit.ts): its own file so both checks
// share it without importing each other.

export type Status = "pass" | "warn" | "fail";

export interface Finding {
  /** Stable id, e.g. "cpu.vulnerabilities" or "vm.web.seccomp". */
  id: string;
  status: Status;
  /** What was found. */
  why: string;
  /** What to do about it (empty for a pass). */
  fix: string;
}
