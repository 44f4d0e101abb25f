#!/usr/bin/env bash
# Builds bench/guest/wl, the guest side of `npm run bench`'s workloads, from wl.c beside it, and
# checks it against wl.sha256. The binary is committed so that every run measures the same code
# whatever compiler a machine has; this script says how it was made.
#
# Usage: bench/guest/build.sh [--check | --update]
#   (none)     build into a temporary file and compare with wl.sha256; replace wl if it matches
#   --check    build and compare only (exit 1 on a difference)
#   --update   build, write wl and record its SHA-256 in wl.sha256 (after editing wl.c)
#
# Needs (Debian 12): apt-get install gcc-riscv64-linux-gnu (the recorded build: 12.2.0-13).
# No C library: static, no PIE, no build ID and no debug information, so the bytes depend only
# on wl.c, these flags and the compiler's version.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cc=riscv64-linux-gnu-gcc
mode=build
case ${1:-} in
'') ;;
--check) mode=check ;;
--update) mode=update ;;
*) echo "build.sh: unknown argument: $1 (try --check or --update)" >&2; exit 2 ;;
esac
command -v "$cc" >/dev/null || { echo "build.sh: $cc is missing: apt-get install gcc-riscv64-linux-gnu" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# -march=rv64gc: what the shipped guest's kernel offers (rv64imafdc). -fno-math-errno lets
# __builtin_sqrt be fsqrt.d alone; -fno-tree-loop-distribute-patterns keeps memset/memcpy
# from calling themselves.
"$cc" -O2 -march=rv64gc -mabi=lp64d -static -nostdlib -ffreestanding -fno-pie -no-pie \
	-fno-math-errno -fno-tree-loop-distribute-patterns -fno-asynchronous-unwind-tables \
	-fno-ident -Wall -Wextra -Werror -Wl,--build-id=none -Wl,-z,noexecstack -Wl,-z,separate-code -s \
	-o "$tmp/wl" "$here/wl.c"
have=$(sha256sum "$tmp/wl" | cut -d' ' -f1)
if [ "$mode" = update ]; then
	cp "$tmp/wl" "$here/wl"
	echo "$have  wl" >"$here/wl.sha256"
	echo "build.sh: wl updated, SHA-256 $have" >&2
	exit 0
fi
want=$(cut -d' ' -f1 "$here/wl.sha256")
if [ "$have" != "$want" ]; then
	echo "build.sh: the build's SHA-256 is $have, wl.sha256 records $want ($($cc --version | head -1))" >&2
	exit 1
fi
[ "$mode" = check ] || cp "$tmp/wl" "$here/wl"
echo "build.sh: wl is reproducible (SHA-256 $have)" >&2
