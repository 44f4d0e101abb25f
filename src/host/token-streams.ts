// The long-lived streams (consoles, displays, event streams) each token has open, so that a
// token's revocation or expiry ends them: a token that no longer works keeps nothing open.
import type { Caller } from "./auth.js";

export class TokenStreams {
  /** Each token id's open streams, by the function that closes each. */
  private readonly open = new Map<string, Set<() => void>>();

  /** Registers a stream `caller` opened; returns the function that unregisters it. */
  hold(caller: Caller, close: () => void): () => void {
    let set = this.open.get(caller.id);
    if (!set) this.open.set(caller.id, (set = new Set()));
    set.add(close);
    // A stream ends when its token expires, as when it is revoked.
    let timer: NodeJS.Timeout | undefined;
    const expire = (): void => {
      const left = caller.expiresAt! - Date.now();
      if (left > 0) timer = setTimeout(expire, Math.min(left, 2 ** 31 - 1)).unref();
      else close();
    };
    if (caller.expiresAt !== undefined) expire();
    return () => {
      clearTimeout(timer);
      set.delete(close);
      if (set.size === 0 && this.open.get(caller.id) === set) this.open.delete(caller.id);
    };
  }

  /** Closes every stream token `id` opened (it was revoked). */
  closeAll(id: string): void {
    const open = this.open.get(id);
    this.open.delete(id);
    for (const close of open ?? []) close();
  }
}
