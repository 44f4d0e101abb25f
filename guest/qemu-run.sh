#!/usr/bin/env bash
# Boots the default riscv64 guest under QEMU (the oracle moat is compared with), the
# way moat runs it: the initramfs with a second cpio holding /moat/run appended.
# Exits with the guest's exit status (QEMU's sifive_test finisher carries it).
#
# Usage: guest/qemu-run.sh [options] [--] [COMMAND [ARG...]]
#   COMMAND ARG...   run this command (each word quoted) and power off; none: interactive shell
#   -c SCRIPT        run SCRIPT (shell text, e.g. 'uname -a; exit 7') instead
#   --kernel FILE    kernel Image, optionally gzipped (default guest/riscv64/Image.gz)
#   --initrd FILE    base initramfs, optionally gzipped (default guest/riscv64/initramfs.cpio.gz)
#   --smp N          harts (default 1)     --mem MB   RAM in MiB (default 256)
#   --append ARGS    kernel command line (default "console=ttyS0 quiet")
#   --qemu ARG       one more argument for QEMU (repeatable), e.g. --qemu -device --qemu virtio-rng-device
#   --time           print the wall time from start to exit on stderr
# Needs qemu-system-misc (qemu-system-riscv64), opensbi and cpio.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
kernel=$here/riscv64/Image.gz
initrd=$here/riscv64/initramfs.cpio.gz
smp=1
mem=256
append="console=ttyS0 quiet"
script=
have_script=0
timed=0
extra=()

die() { echo "qemu-run.sh: error: $*" >&2; exit 125; }
while [ $# -gt 0 ]; do
	case $1 in
	-c) [ $# -ge 2 ] || die "-c needs a script"; script=$2; have_script=1; shift ;;
	--kernel) kernel=$2; shift ;;
	--initrd) initrd=$2; shift ;;
	--smp) smp=$2; shift ;;
	--mem) mem=$2; shift ;;
	--append) append=$2; shift ;;
	--qemu) [ $# -ge 2 ] || die "--qemu needs an argument"; extra+=("$2"); shift ;;
	--time) timed=1 ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	--) shift; break ;;
	-*) die "unknown option $1" ;;
	*) break ;;
	esac
	shift
done
if [ $# -gt 0 ]; then
	[ "$have_script" = 0 ] || die "give either -c SCRIPT or a command"
	# Quote every word for sh: 'word' with ' written as '\''.
	for w in "$@"; do script+="'${w//\'/\'\\\'\'}' "; done
	have_script=1
fi
[ -f "$kernel" ] || die "no kernel $kernel"
[ -f "$initrd" ] || die "no initramfs $initrd"

work=$(mktemp -d -t moat-qemu.XXXXXX)
trap 'rm -rf "$work"' EXIT
combined=$work/initrd
# QEMU's riscv64 loader takes no gzipped Image: inflate what is compressed, as moat does.
if [ "$(head -c 2 "$kernel" | od -An -tx1 | tr -d ' ')" = 1f8b ]; then
	gzip -dc "$kernel" >"$work/Image"
	kernel=$work/Image
fi
if [ "$(head -c 2 "$initrd" | od -An -tx1 | tr -d ' ')" = 1f8b ]; then
	gzip -dc "$initrd" >"$combined"
else
	cp "$initrd" "$combined"
fi
if [ "$have_script" = 1 ]; then
	mkdir -p "$work/stage/moat"
	printf '%s\n' "$script" >"$work/stage/moat/run"
	# The kernel only looks for a further (uncompressed) archive at 4-byte
	# aligned offsets, skipping zero bytes: pad, then append.
	pad=$(( (4 - $(stat -c %s "$combined") % 4) % 4 ))
	head -c "$pad" /dev/zero >>"$combined"
	(cd "$work/stage" && printf 'moat\nmoat/run\n' | cpio -o -H newc -R 0:0 --reproducible --quiet) >>"$combined"
fi

start=$(date +%s.%N)
status=0
qemu-system-riscv64 -M virt -m "$mem" -smp "$smp" -nographic -bios default \
	-kernel "$kernel" -initrd "$combined" -append "$append" "${extra[@]}" || status=$?
if [ "$timed" = 1 ]; then
	echo "qemu-run.sh: $(echo "$(date +%s.%N) - $start" | bc) s, exit status $status" >&2
fi
exit "$status"
