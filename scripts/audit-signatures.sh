#!/usr/bin/env bash
# The npm registry's signatures of every installed package (`npm audit signatures`), run by
# .ci/run after `npm ci`. An invalid signature, or a missing one from a registry that publishes
# signing keys, fails. Where no key can be had at all — the Sigstore TUF repository unreachable
# and the registry serving no keys, as behind a mirror that strips signatures — nothing can be
# verified: that is said in one line and the run goes on (npm ci has still checked every tarball
# against package-lock.json's SHA-512), unless MOAT_REQUIRE_SIGNATURES=1 makes it a failure.
# docs/dependencies.md, "Registry signatures".
set -uo pipefail
cd "$(dirname "$0")/.."
out=$(npm audit signatures --fetch-retries=1 --fetch-retry-mintimeout=2000 \
	--fetch-retry-maxtimeout=5000 2>&1)
rc=$?
if [ $rc -eq 0 ]; then
	printf '%s\n' "$out"
	exit 0
fi
# No keys: TUF's fetch failed on the network, or no installed package came from a registry that
# publishes keys. An invalid or missing signature is reported otherwise, and fails below.
if grep -qE 'tuf-repo-cdn\.sigstore\.dev.*(ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|ECONNRESET)|found no dependencies to audit that were installed from a supported registry' <<<"$out" &&
	! grep -qE 'invalid|missing registry signature' <<<"$out"; then
	reason=$(grep -m1 -E 'npm error (network request|found no)' <<<"$out" | sed 's/^npm error //')
	echo "audit-signatures: registry signatures NOT verified: no signing keys can be had here ($reason)"
	[ "${MOAT_REQUIRE_SIGNATURES:-0}" = 1 ] && exit 1
	exit 0
fi
printf '%s\n' "$out" >&2
echo "audit-signatures: npm audit signatures failed (status $rc)" >&2
exit 1
