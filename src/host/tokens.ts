// The API's tokens as the daemon keeps them (auth.ts says what a token is and what each role may
// do): who holds one, listing, creating and revoking them (their streams end with them), the
// first admin token, and requests refused for want of one (counted, audited at a bounded rate).
import { randomBytes } from "node:crypto";
import { chmodSync, writeFileSync } from "node:fs";
import { ApiError } from "./api-error.js";
import { hashToken, newToken, type Caller, type Role } from "./auth.js";
import type { AuditTrail } from "./audit-trail.js";
import type { Store, TokenRecord } from "./store.js";
import type { TokenStreams } from "./token-streams.js";
import type { Log } from "./log.js";

export class Tokens {
  /** Refused requests: counted, and audited at most once a minute with the count since. */
  private readonly failures = { total: 0, sinceAudit: 0, lastAudit: 0 };

  constructor(
    private readonly store: Store,
    private readonly trail: AuditTrail,
    private readonly streams: TokenStreams,
  ) {}

  /** On a first start (no admin token yet), an admin token written to `file` (mode 0600). */
  bootstrap(file: string, log: Log): void {
    if (this.store.tokens().some((t) => t.role === "admin")) return;
    const { token } = this.insert("admin", "admin", null, null);
    writeFileSync(file, token + "\n", { mode: 0o600 });
    chmodSync(file, 0o600);
    log.info(`first start: an admin token is in ${file} (mode 0600)`);
  }

  /** The token's holder, unless there is no such token or it has expired. */
  caller(tokenHash: string): Caller | undefined {
    const t = this.store.tokenByHash(tokenHash);
    if (!t) return undefined;
    const expiresAt = t.expiresAt !== null ? Date.parse(t.expiresAt) : undefined;
    if (expiresAt !== undefined && !(expiresAt > Date.now())) return undefined;
    return {
      id: t.id,
      name: t.name,
      role: t.role,
      domain: t.domain,
      ...(expiresAt !== undefined ? { expiresAt } : {}),
    };
  }

  list(): Record<string, unknown>[] {
    return this.store.tokens().map((t) => ({
      id: t.id,
      name: t.name,
      role: t.role,
      domain: t.domain,
      created_at: t.createdAt,
      expires_at: t.expiresAt,
    }));
  }

  create(b: {
    name: string;
    role: string;
    domain?: string;
    expires_in_s?: number;
  }): Record<string, unknown> {
    if (b.role === "tenant" && !b.domain)
      throw new ApiError(400, "body: domain is required for a tenant token", "domain");
    if (b.role !== "tenant" && b.domain)
      throw new ApiError(400, "body: domain is only for tenant tokens", "domain");
    if (this.store.tokens().some((t) => t.name === b.name))
      throw new ApiError(409, `a token named '${b.name}' exists`, "name");
    const expiresAt =
      b.expires_in_s !== undefined
        ? new Date(Date.now() + b.expires_in_s * 1000).toISOString()
        : null;
    const { rec, token } = this.insert(b.name, b.role as Role, b.domain ?? null, expiresAt);
    return {
      id: rec.id,
      name: rec.name,
      role: rec.role,
      domain: rec.domain,
      expires_at: rec.expiresAt,
      token,
    };
  }

  /** Revokes a token; the consoles, displays and event streams it opened are closed too. */
  delete(id: string): boolean {
    if (!this.store.deleteToken(id)) return false;
    this.streams.closeAll(id);
    return true;
  }

  authFailed(peer: string): void {
    const a = this.failures;
    a.total++;
    a.sinceAudit++;
    const now = Date.now();
    // One line a minute at most: a flood of bad tokens must not flood the audit log.
    if (now - a.lastAudit < 60_000) return;
    this.trail.note(null, "api.auth.failed", null, false, { peer, count: a.sinceAudit });
    a.sinceAudit = 0;
    a.lastAudit = now;
  }

  /** Requests refused for want of a valid token since the daemon started. */
  get failedTotal(): number {
    return this.failures.total;
  }

  /** A new token's record stored (its hash, never the token); the token is returned once. */
  private insert(
    name: string,
    role: Role,
    domain: string | null,
    expiresAt: string | null,
  ): { rec: TokenRecord; token: string } {
    const token = newToken();
    const rec: TokenRecord = {
      id: randomBytes(6).toString("hex"),
      name,
      hash: hashToken(token),
      role,
      domain,
      createdAt: new Date().toISOString(),
      expiresAt,
    };
    this.store.insertToken(rec);
    return { rec, token };
  }
}
