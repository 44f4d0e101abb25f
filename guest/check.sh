#!/usr/bin/env bash
# Rebuilds the shipped guests with guest/build.sh into a temporary directory and compares each
# artefact, byte for byte, with the SHA-256 that SHA256SUMS records for it (and that moat checks
# before it boots the committed file). Exit status 0 only if every one is identical.
#
# Usage: guest/check.sh [--initramfs] [--arch riscv64|x86_64] [-j N]
#   --initramfs  the initramfs only (riscv64: and its agent overlay): about 10 s a guest
#                (npm test does this)
#   --arch A     that guest only (default: both)
#   -j N         parallel make jobs for the kernels
# Without --initramfs the kernels are rebuilt too, about 10 minutes each on 2 cores
# (`npm run check:guest`); that needs the pinned linux-source-6.1 (guest/linux-source.sha256)
# and the packages guest/build.sh names.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
sums=$here/../SHA256SUMS
archs=(riscv64 x86_64)
only=()
jobs=()
die() { echo "check.sh: error: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
	case $1 in
	--initramfs) only=(--initramfs) ;;
	--arch) [ $# -ge 2 ] || die "--arch needs riscv64 or x86_64"; archs=("$2"); shift ;;
	-j) [ $# -ge 2 ] || die "-j needs a number"; jobs=(-j "$2"); shift ;;
	*) die "unknown argument: $1" ;;
	esac
	shift
done
[ -f "$sums" ] || die "$sums is missing"

work=$(mktemp -d -t moat-guest-check.XXXXXX)
trap 'rm -rf "$work"' EXIT
bad=0
for arch in "${archs[@]}"; do
	mkdir "$work/$arch"
	"$here/build.sh" --arch "$arch" "${only[@]}" "${jobs[@]}" --out "$work/$arch"
	for f in "$work/$arch"/*.gz; do
		name=guest/$arch/${f##*/}
		want=$(awk -v n="$name" '$2 == n { print $1 }' "$sums")
		have=$(sha256sum <"$f" | cut -d' ' -f1)
		if [ -z "$want" ]; then
			echo "check.sh: $name: FAILED, SHA256SUMS has no entry for it"
			bad=1
		elif [ "$have" = "$want" ]; then
			echo "check.sh: $name: OK, rebuilt byte for byte ($have)"
		else
			echo "check.sh: $name: FAILED, rebuilt $have, SHA256SUMS records $want"
			bad=1
		fi
	done
done
exit $bad
