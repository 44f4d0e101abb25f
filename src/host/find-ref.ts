// How the API finds a thing of the daemon's store (a snapshot, an image) that a request names:
// by its id, or by its name, which is unique in its trust domain only.
import { ApiError } from "./api-error.js";

/**
 * The one of `all` (among `domain`'s, if given) whose id or name is `ref`; undefined if none.
 * ApiError 409 when a name is that of several (in different domains): the id then says which.
 */
export function findRef<T extends { id: string; name: string; domain: string }>(
  all: readonly T[],
  ref: string,
  domain: string | undefined,
  what: string,
): T | undefined {
  const mine = all.filter((x) => domain === undefined || x.domain === domain);
  const byId = mine.find((x) => x.id === ref);
  if (byId) return byId;
  const named = mine.filter((x) => x.name === ref);
  if (named.length > 1)
    throw new ApiError(
      409,
      `'${ref}' names ${named.length} ${what} (trust domains ${named.map((x) => x.domain).join(", ")}): use its id`,
    );
  return named[0];
}
