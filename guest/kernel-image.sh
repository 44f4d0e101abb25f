#!/usr/bin/env bash
# Makes the plain riscv64 `Image` moat boots (the riscv boot header, magic RISCV at offset 48)
# out of whatever a Debian kernel package ships in /boot: an Image as is (Debian's has an EFI
# PE stub in front of the same header), an EFI zboot image, a gzip/xz/zstd-compressed Image,
# or an ELF vmlinux.
#
#   guest/kernel-image.sh KERNEL OUT
set -euo pipefail
die() { echo "kernel-image.sh: error: $*" >&2; exit 1; }
say() { echo "kernel-image.sh: $*" >&2; }
[ $# -eq 2 ] || die "usage: $0 KERNEL OUT"
kernel=$1
image=$2
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
bytes() { dd if="$1" bs=1 skip="$2" count="$3" 2>/dev/null | od -A n -t x1 | tr -d ' \n'; }
u32le() { # file offset -> number
	local h
	h=$(bytes "$1" "$2" 4)
	echo $((16#${h:6:2}${h:4:2}${h:2:2}${h:0:2}))
}
is_image() { [ "$(bytes "$1" 48 5)" = 5249534356 ]; } # "RISCV" at offset 48
decompress() { # in out: whole-file compression, by magic
	local magic
	magic=$(bytes "$1" 0 6)
	case $magic in
	1f8b*) gzip -dc <"$1" >"$2" ;;
	fd377a585a00) xz -dc <"$1" >"$2" ;;
	28b52ffd*) command -v zstd >/dev/null || die "the kernel is zstd-compressed: apt-get install zstd"
		zstd -dc <"$1" >"$2" ;;
	*) return 1 ;;
	esac
}

if is_image "$kernel"; then
	# Already an Image (Debian riscv64 ships it uncompressed, with an EFI PE stub
	# in front of the same riscv boot header; booting it directly works).
	cp "$kernel" "$image"
elif [ "$(bytes "$kernel" 0 2)" = 4d5a ] && [ "$(bytes "$kernel" 4 4)" = 7a696d67 ]; then
	# EFI zboot ("MZ" .. "zimg"): offset 8 = payload offset, 12 = payload size,
	# 24 = compression name; the payload is the compressed Image.
	off=$(u32le "$kernel" 8)
	size=$(u32le "$kernel" 12)
	say "EFI zboot image, $(dd if="$kernel" bs=1 skip=24 count=8 2>/dev/null | tr -d '\0') payload of $size bytes at $off"
	tail -c +$((off + 1)) "$kernel" | head -c "$size" >"$tmp"
	decompress "$tmp" "$image" || die "unknown zboot compression"
elif decompress "$kernel" "$image"; then
	:
elif [ "$(bytes "$kernel" 0 4)" = 7f454c46 ]; then
	command -v riscv64-linux-gnu-objcopy >/dev/null || die "the kernel is an ELF file: apt-get install binutils-riscv64-linux-gnu"
	riscv64-linux-gnu-objcopy -O binary "$kernel" "$image"
else
	die "do not know what ${kernel##*/} is ($(bytes "$kernel" 0 8))"
fi
is_image "$image" || die "the result has no riscv boot header (magic RISCV at offset 48)"
