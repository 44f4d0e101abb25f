// API callers and what each may do. A token is a random secret shown once at creation; the
// daemon keeps only its SHA-256 (a 256-bit random secret needs no slow hash: there is nothing
// to guess from the digest). Roles: admin (the host: tokens, audit, everything), operator (every
// VM, host capacity, metrics, events), tenant (only the VMs of its own trust domain).
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

export type Role = "admin" | "operator" | "tenant";
export const ROLES: readonly Role[] = ["admin", "operator", "tenant"];

export interface Caller {
  id: string;
  name: string;
  role: Role;
  /** The tenant's domain; null for admin and operator. */
  domain: string | null;
  /** When the token stops working (ms since the epoch), if it does. */
  expiresAt?: number;
}

/** What a request does, for authorisation. `vm.*` actions name the VM's domain. */
export type Action =
  | "vm.list"
  | "vm.create"
  | "vm.read"
  | "vm.change"
  | "vm.console"
  | "vm.agent"
  | "host.read"
  | "events.read"
  | "metrics.read"
  | "tokens.manage"
  | "audit.read";

/** Bound: a token is `moat_` + 43 base64url characters (32 random bytes). */
export const TOKEN_PATTERN = /^moat_[A-Za-z0-9_-]{43}$/;

export function newToken(): string {
  return "moat_" + randomBytes(32).toString("base64url");
}

export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** Constant-time comparison of two hex digests of equal length. */
export function sameDigest(a: string, b: string): boolean {
  const x = Buffer.from(a, "hex");
  const y = Buffer.from(b, "hex");
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Whether `caller` may do `action`; for VM actions `domain` is the VM's trust domain (for
 * vm.create, the domain asked for). Tenants reach only their own domain.
 */
export function allowed(caller: Caller, action: Action, domain?: string): boolean {
  switch (caller.role) {
    case "admin":
      return true;
    case "operator":
      return action !== "tokens.manage" && action !== "audit.read";
    case "tenant":
      if (action === "vm.list" || action === "events.read") return true; // filtered to its domain
      if (action.startsWith("vm.")) return domain !== undefined && domain === caller.domain;
      return false;
  }
}
