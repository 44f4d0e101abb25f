#!/usr/bin/env bash
# Fetches Debian's stock kernel of Debian stable and prints the path of a file moat boots:
#   riscv64 (default): package linux-image-riscv64; a plain, uncompressed `Image` (riscv
#                      boot header) made from it
#   --arch x86_64:     package linux-image-cloud-amd64; its bzImage (`vmlinuz`) as shipped
#
# Usage: guest/stock-kernel.sh [--arch riscv64|x86_64] [CACHE_DIR]
#   CACHE_DIR defaults to ${XDG_CACHE_HOME:-~/.cache}/moat/stock-kernel. The result is
#   CACHE_DIR/<kernel release>/Image (or vmlinuz), next to the package's config and System.map;
#   a cached result for the current stable version is reused without downloading
#   the package again (the package index is always fetched, ~10 MB).
#
# apt runs with a private configuration in a temporary directory: the host's apt
# sources and state are neither read nor written. Needs apt, dpkg, gzip, xz-utils;
# zstd only if the kernel is zstd-compressed. Progress goes to stderr, the path to stdout.
#
# Note: the stock kernel builds its virtio drivers as modules (the initramfs of
# build.sh has none), so it gets the 8250 serial console, initramfs and poweroff,
# but no virtio devices.
set -euo pipefail

keyring=/usr/share/keyrings/debian-archive-keyring.gpg
mirror=http://deb.debian.org/debian
suite=stable
meta=linux-image-riscv64
debarch=riscv64
result=Image

die() { echo "stock-kernel.sh: error: $*" >&2; exit 1; }
say() { echo "stock-kernel.sh: $*" >&2; }

case ${1:-} in -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;; esac
if [ "${1:-}" = --arch ]; then
	case ${2:-} in
	riscv64) ;;
	x86_64) meta=linux-image-cloud-amd64 debarch=amd64 result=vmlinuz ;;
	*) die "--arch must be riscv64 or x86_64" ;;
	esac
	shift 2
fi
[ $# -le 1 ] || die "usage: $0 [--arch riscv64|x86_64] [CACHE_DIR]"
cache=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/moat/stock-kernel}
[ -f "$keyring" ] || die "$keyring not found (apt-get install debian-archive-keyring)"
for c in apt-get apt-cache dpkg-deb gzip xz od dd; do
	command -v "$c" >/dev/null || die "$c not found"
done
export LC_ALL=C

work=$(mktemp -d -t moat-stock-kernel.XXXXXX)
trap 'rm -rf "$work"' EXIT

apt_dir=$work/apt
mkdir -p "$apt_dir/etc/preferences.d" "$apt_dir/state/lists/partial" "$apt_dir/cache/archives/partial"
: >"$apt_dir/state/status"
echo "deb [arch=$debarch signed-by=$keyring] $mirror $suite main" >"$apt_dir/etc/sources.list"
apt_opts=(
	-o Dir::Etc::sourcelist="$apt_dir/etc/sources.list"
	-o Dir::Etc::sourceparts=-
	-o Dir::Etc::preferences="$apt_dir/etc/preferences"
	-o Dir::Etc::preferencesparts="$apt_dir/etc/preferences.d"
	-o Dir::State="$apt_dir/state"
	-o Dir::State::status="$apt_dir/state/status"
	-o Dir::Cache="$apt_dir/cache"
	-o APT::Architecture=$debarch
	-o APT::Architectures=$debarch
	-o Acquire::Languages=none
	-o APT::Sandbox::User=root
	-o Debug::NoLocking=1
	-q
)

say "reading the package index of Debian $suite ($debarch)"
apt-get "${apt_opts[@]}" update >"$work/apt.log" 2>&1 || { cat "$work/apt.log" >&2; die "apt-get update failed"; }

# linux-image-riscv64 is a metapackage that depends on the real one,
# linux-image-<release> (e.g. linux-image-6.12.107+deb13-riscv64).
pkg=$(apt-cache "${apt_opts[@]}" depends "$meta" | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1)
[ -n "$pkg" ] || die "cannot tell which package $meta depends on"
release=${pkg#linux-image-}
version=$(apt-cache "${apt_opts[@]}" show "$pkg" | sed -n 's/^Version: //p' | head -n 1)
dest=$cache/$release
if [ -f "$dest/$result" ] && [ -f "$dest/.version" ] && [ "$(cat "$dest/.version")" = "$version" ]; then
	say "cached: $pkg $version"
	echo "$dest/$result"
	exit 0
fi

say "downloading $pkg $version"
mkdir -p "$work/dl"
(cd "$work/dl" && apt-get "${apt_opts[@]}" download "$pkg=$version") >"$work/apt.log" 2>&1 ||
	{ cat "$work/apt.log" >&2; die "apt-get download $pkg failed"; }
deb=$(find "$work/dl" -maxdepth 1 -name '*.deb' | head -n 1)
[ -n "$deb" ] || die "apt-get download produced no .deb"

mkdir -p "$work/root"
dpkg-deb --fsys-tarfile "$deb" | tar -C "$work/root" -x ./boot
kernel=
for f in "$work/root/boot/vmlinuz-$release" "$work/root/boot/vmlinux-$release" "$work/root/boot/Image-$release"; do
	if [ -f "$f" ]; then kernel=$f; break; fi
done
[ -n "$kernel" ] || die "no kernel in $pkg: $(ls "$work/root/boot")"
say "the package ships boot/${kernel##*/}"

save() { # file: the result, with the package's config and System.map
	mkdir -p "$dest"
	cp "$1" "$dest/$result.tmp" && mv "$dest/$result.tmp" "$dest/$result"
	for f in config System.map; do
		if [ -f "$work/root/boot/$f-$release" ]; then cp "$work/root/boot/$f-$release" "$dest/$f"; fi
	done
	echo "$version" >"$dest/.version"
	say "$pkg $version -> $dest/$result"
	echo "$dest/$result"
}

if [ "$debarch" = amd64 ]; then
	# x86: moat boots the bzImage itself (the Linux boot protocol's 64-bit entry).
	[ "$(dd if="$kernel" bs=1 skip=514 count=4 2>/dev/null)" = HdrS ] || die "${kernel##*/} is not a bzImage"
	save "$kernel"
	exit 0
fi

# --- make a plain Image out of whatever the package ships ---------------------
image=$work/Image
"$(dirname "$0")/kernel-image.sh" "$kernel" "$image" || die "no Image made of ${kernel##*/}"
save "$image"
