#!/usr/bin/env bash
# Rebuilds one of moat's default guests, exactly, into guest/ARCH/:
#   riscv64: Image.gz    riscv64 Linux kernel Image, gzip-compressed (Debian linux-source-6.1)
#   x86_64:  vmlinux.gz  x86-64 Linux ELF vmlinux (PVH entry), stripped, gzip-compressed
#   initramfs.cpio.gz    busybox userspace (Debian's busybox-static) + /init, gzip-compressed
#   riscv64: agent.cpio.gz  the qemu-guest-agent overlay, by agent/build.sh (its pins: agent/debs.sha256)
#
# Inputs (all committed next to this script):
#   ARCH/kernel.fragment options merged on top of `make tinyconfig`
#   ARCH/kernel.config   the full .config that results; a rebuild must reproduce it
#   ARCH/patches/*.patch patches applied to the kernel source, in name order
#   ARCH/busybox.sha256  the pinned busybox-static .deb (version in its name) and its sha256
#   linux-source.sha256  the pinned linux-source-6.1 (Debian version) and its tarball's sha256
#   rootfs/              /init and /etc files copied into the initramfs (shared)
#   agent/               the riscv64 agent overlay's script, its pinned .debs and files
# The artefacts' SHA-256 are recorded in ../SHA256SUMS (npm run manifest); guest/check.sh
# rebuilds them into a temporary directory and compares.
#
# Usage: guest/build.sh [--arch riscv64|x86_64] [--kernel | --initramfs] [--out DIR] [--update-config] [-j N] [--keep]
#   --arch A                which guest (default: riscv64)
#   --kernel / --initramfs  rebuild only that artefact (default: both)
#   --out DIR               write the artefacts into DIR instead of guest/ARCH
#   --update-config         accept a .config that differs from kernel.config and
#                           rewrite kernel.config (after editing kernel.fragment)
#   -j N                    parallel make jobs (default: nproc)
#   --keep                  keep the temporary build directory
#
# Needs (Debian 12): apt-get install linux-source-6.1 bc flex bison libssl-dev libelf-dev \
#   cpio patch (plus make, gcc, xz-utils, debian-archive-keyring; gcc-riscv64-linux-gnu for riscv64)
# The initramfs alone needs only linux-source-6.1 (any version: its gen_init_cpio.c), gcc, cpio,
# xz-utils and debian-archive-keyring; the kernel needs the pinned linux-source-6.1 version.
# The busybox .deb is cached in ${XDG_CACHE_HOME:-~/.cache}/moat/debs (override the
# directory with MOAT_DEB_CACHE); a cached copy with the pinned sha256 needs no network.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
arch=riscv64
kernel_tarball=/usr/src/linux-source-6.1.tar.xz
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
mirror=http://deb.debian.org/debian
suite=stable

do_kernel=1
do_initramfs=1
out=
update_config=0
keep=0
jobs=$(nproc)

die() { echo "build.sh: error: $*" >&2; exit 1; }
say() { echo "build.sh: $*" >&2; }

while [ $# -gt 0 ]; do
	case $1 in
	--kernel) do_initramfs=0 ;;
	--initramfs) do_kernel=0 ;;
	--update-config) update_config=1 ;;
	--keep) keep=1 ;;
	--arch) [ $# -ge 2 ] || die "--arch needs riscv64 or x86_64"; arch=$2; shift ;;
	--out) [ $# -ge 2 ] || die "--out needs a directory"; out=$2; shift ;;
	-j) [ $# -ge 2 ] || die "-j needs a number"; jobs=$2; shift ;;
	-j*) jobs=${1#-j} ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument: $1 (try --help)" ;;
	esac
	shift
done
[ "$do_kernel" = 1 ] || [ "$do_initramfs" = 1 ] || die "--kernel and --initramfs exclude each other"
case $jobs in ''|*[!0-9]*) die "-j wants a number, not '$jobs'" ;; esac

# Per-architecture settings.
case $arch in
riscv64)
	karch=riscv cross=riscv64-linux-gnu- cross_pkg=gcc-riscv64-linux-gnu
	ktarget=Image kimage=arch/riscv/boot/Image artefact=Image.gz deb_arch=riscv64 ;;
x86_64)
	karch=x86_64 cross= cross_pkg=
	ktarget=vmlinux kimage=vmlinux artefact=vmlinux.gz deb_arch=amd64 ;;
*) die "--arch must be riscv64 or x86_64, not '$arch'" ;;
esac
src_dir=$here/$arch
if [ -n "$out" ]; then
	[ -d "$out" ] || die "--out $out: no such directory"
	out=$(cd "$out" && pwd)
else
	out=$src_dir
fi
rootfs=$here/rootfs

# ---------------------------------------------------------------- requirements
check_requirements() {
	local missing=() p pkgs=(linux-source-6.1 gcc cpio xz-utils gzip debian-archive-keyring)
	if [ "$do_kernel" = 1 ]; then
		pkgs+=($cross_pkg bc flex bison libssl-dev libelf-dev patch make binutils)
	fi
	for p in "${pkgs[@]}"; do
		if [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" != installed ]; then
			missing+=("$p")
		fi
	done
	if [ ${#missing[@]} -gt 0 ]; then
		die "missing apt packages: ${missing[*]}
  install them with: apt-get install ${missing[*]}"
	fi
	[ -f "$kernel_tarball" ] || die "$kernel_tarball not found (package linux-source-6.1)"
	[ -f "$keyring" ] || die "$keyring not found (package debian-archive-keyring)"
	local f
	for f in kernel.fragment kernel.config busybox.sha256; do
		[ -f "$src_dir/$f" ] || [ "$f" = kernel.config ] || die "$src_dir/$f is missing"
	done
	for f in init etc/passwd etc/group; do
		[ -f "$rootfs/$f" ] || die "$rootfs/$f is missing"
	done
}

# ---------------------------------------------------------------- environment
# Everything that could leak the build machine or the time into the artefacts is fixed.
export LC_ALL=C TZ=UTC
umask 022
unset KBUILD_OUTPUT KCONFIG_CONFIG KCFLAGS KCPPFLAGS KAFLAGS LOCALVERSION O ARCH CROSS_COMPILE || true

# The kernel's build date: the date of the installed linux-source-6.1 (its Debian
# changelog), so it only changes when the source does.
source_epoch() {
	local changelog=/usr/share/doc/linux-source-6.1/changelog.Debian.gz line
	line=$(gzip -dc "$changelog" | sed -n 's/^ -- .*>  //p' | head -n 1)
	[ -n "$line" ] || die "cannot read the date from $changelog"
	date -u -d "$line" +%s
}

check_requirements
# shellcheck source=build-lib.sh
. "$here/build-lib.sh"

work=$(mktemp -d -t moat-guest.XXXXXX)
cleanup() {
	if [ "$keep" = 1 ]; then say "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# Run a long command with its output in a log; on failure show the end of the log.
logged() {
	local log=$1; shift
	if ! "$@" >>"$log" 2>&1; then
		tail -n 40 "$log" >&2
		die "failed: $* (the end of its log is above; with --keep the whole log stays in $log)"
	fi
}

# ---------------------------------------------------------------- kernel
# The kernel's bytes depend on the exact source (and its Debian changelog date, the build
# date): the installed linux-source-6.1 must be the pinned version, its tarball the pinned one.
check_kernel_source() {
	local pin=$here/linux-source.sha256 sum name want have
	read -r sum name <"$pin" || die "cannot read $pin"
	want=${name#linux-source-6.1=}
	have=$(dpkg-query -W -f='${Version}' linux-source-6.1)
	[ "$have" = "$want" ] || die "linux-source-6.1 $have is installed; the shipped kernels are built from $want.
  Install it with: apt-get install linux-source-6.1=$want (from Debian's archive, or
  snapshot.debian.org once it has moved on), or pin the new version in guest/linux-source.sha256
  (this changes the kernels: then rebuild both and run npm run manifest)"
	[ "$(sha256sum <"$kernel_tarball" | cut -d' ' -f1)" = "$sum" ] ||
		die "$kernel_tarball is not the pinned linux-source-6.1 $want tarball (sha256 $sum)"
}

build_kernel() {
	local src=$work/linux-source-6.1 log=$work/kernel.log epoch
	check_kernel_source
	epoch=$(source_epoch)
	export KBUILD_BUILD_TIMESTAMP
	KBUILD_BUILD_TIMESTAMP=$(date -u -d "@$epoch" '+%a %b %e %H:%M:%S UTC %Y')
	export KBUILD_BUILD_USER=moat KBUILD_BUILD_HOST=moat KBUILD_BUILD_VERSION=1
	export SOURCE_DATE_EPOCH=$epoch

	say "kernel: unpacking $kernel_tarball"
	tar -C "$work" -xf "$kernel_tarball"
	[ -f "$src/Makefile" ] || die "unexpected layout of $kernel_tarball"
	local kmake=(make -C "$src" ARCH="$karch" CROSS_COMPILE="$cross")

	local p
	for p in "$src_dir"/patches/*.patch; do
		[ -f "$p" ] || continue
		say "kernel: applying patches/$(basename "$p")"
		logged "$log" patch -d "$src" -p1 --no-backup-if-mismatch -i "$p"
	done

	say "kernel: configuring (tinyconfig + $arch/kernel.fragment)"
	logged "$log" "${kmake[@]}" tinyconfig
	logged "$log" bash -c 'cd "$1" && scripts/kconfig/merge_config.sh -m .config "$2"' _ "$src" "$src_dir/kernel.fragment"
	logged "$log" "${kmake[@]}" olddefconfig

	# Every line of the fragment must have survived olddefconfig (a symbol whose
	# dependencies are not met is silently dropped).
	local line sym dropped=()
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*) grep -qxF -- "$line" "$src/.config" || dropped+=("$line") ;;
		"# CONFIG_"*" is not set")
			sym=${line#\# }; sym=${sym%% *}
			if grep -q "^$sym=" "$src/.config"; then dropped+=("$line"); fi ;;
		esac
	done <"$src_dir/kernel.fragment"
	if [ ${#dropped[@]} -gt 0 ]; then
		printf '  %s\n' "${dropped[@]}" >&2
		die "these kernel.fragment settings did not survive olddefconfig (unmet dependencies?)"
	fi

	if [ -f "$src_dir/kernel.config" ] && cmp -s "$src/.config" "$src_dir/kernel.config"; then
		say "kernel: .config matches $arch/kernel.config"
	elif [ "$update_config" = 1 ]; then
		cp "$src/.config" "$src_dir/kernel.config"
		say "kernel: wrote $arch/kernel.config"
	else
		diff -u "$src_dir/kernel.config" "$src/.config" >&2 || true
		die "the .config differs from $arch/kernel.config (above). A different
  linux-source-6.1 or gcc version changes it; if the change is intended
  (e.g. kernel.fragment was edited), rerun with --update-config"
	fi

	say "kernel: building $ktarget with $jobs jobs (about 10 minutes on 2 cores)"
	logged "$log" "${kmake[@]}" -j"$jobs" "$ktarget"
	local image=$src/$kimage
	case $arch in
	riscv64)
		# riscv boot header: magic "RISCV\0\0\0" at 48, "RSC\x05" at 56.
		[ "$(dd if="$image" bs=1 skip=48 count=5 2>/dev/null)" = RISCV ] || die "$image has no riscv boot header" ;;
	x86_64)
		# The symbol table is of no use to moat; the PVH note must survive.
		strip -o "$work/vmlinux.stripped" "$image"
		image=$work/vmlinux.stripped
		readelf -n "$image" | grep -q 'Xen.*0x00000012' || die "$image has no PVH (XEN_ELFNOTE_PHYS32_ENTRY) note" ;;
	esac
	# Shipped gzip-compressed to keep the repository small; moat decompresses it on the host.
	gzip -n -9 <"$image" >"$out/$artefact.tmp"
	mv "$out/$artefact.tmp" "$out/$artefact"
	say "kernel: $(make -s -C "$src" ARCH="$karch" kernelrelease 2>/dev/null) -> $out/$artefact ($(stat -c %s "$image") bytes, $(stat -c %s "$out/$artefact") compressed)"
}

# ---------------------------------------------------------------- busybox
# Prints the path of the pinned busybox-static .deb, fetching it if it is not cached (build-lib.sh).
fetch_busybox() {
	local pin=$src_dir/busybox.sha256 sum name
	read -r sum name <"$pin" || die "cannot read $pin"
	case $name in busybox-static_*) ;; *) die "unexpected name in $pin: $name" ;; esac
	fetch_pinned_deb "$sum" "$name" "$arch/busybox.sha256"
}

# The applet names of a busybox binary, one per line. busybox keeps them as one
# sorted NUL-separated list starting "[", "[[" and ending with an empty string.
busybox_applets() {
	# (awk reads to the end: an early exit would kill tr with SIGPIPE.)
	tr '\0' '\n' <"$1" | awk '
		f == 1 && $0 == "" { f = 2 }
		f == 1 { print }
		!f && prev ~ /\[$/ && $0 == "[[" { f = 1; print "["; print "[[" }
		{ prev = $0 }'
}

# ---------------------------------------------------------------- initramfs
build_initramfs() {
	local deb stage=$work/initramfs spec=$work/initramfs.spec tool
	deb=$(fetch_busybox)
	tool=$(gen_init_cpio_tool)

	mkdir -p "$stage/deb"
	dpkg-deb -x "$deb" "$stage/deb"
	local busybox=$stage/deb/usr/bin/busybox
	[ -f "$busybox" ] || busybox=$stage/deb/bin/busybox
	[ -f "$busybox" ] || die "no busybox binary in $deb"

	local applets
	applets=$(busybox_applets "$busybox")
	local a
	for a in sh mount devmem setsid cttyhack poweroff sync hostname ip sleep; do
		grep -qxF "$a" <<<"$applets" || die "busybox has no '$a' applet (applet list not found?)"
	done
	sort -c <<<"$applets" || die "the busybox applet list is not sorted: not parsed correctly"
	if grep -vqx '[][a-z0-9_.-]*' <<<"$applets"; then die "odd busybox applet names"; fi

	# Files, staged under fixed names, with a fixed mtime (gen_init_cpio takes it
	# from the file; -t gives it to everything else).
	mkdir -p "$stage/files"
	cp "$busybox" "$stage/files/busybox"
	cp "$rootfs/init" "$stage/files/init"
	local f
	for f in passwd group hosts profile; do
		cp "$rootfs/etc/$f" "$stage/files/etc.$f"
	done
	touch -d @0 "$stage/files"/*

	{
		echo "dir /bin 0755 0 0"
		echo "file /bin/busybox files/busybox 0755 0 0"
		while IFS= read -r a; do
			case $a in busybox|linuxrc) continue ;; esac
			echo "slink /bin/$a busybox 0777 0 0"
		done <<<"$applets"
		echo "slink /sbin bin 0777 0 0"
		echo "dir /usr 0755 0 0"
		echo "slink /usr/bin ../bin 0777 0 0"
		echo "slink /usr/sbin ../bin 0777 0 0"
		echo "file /init files/init 0755 0 0"
		echo "dir /etc 0755 0 0"
		for f in passwd group hosts profile; do
			echo "file /etc/$f files/etc.$f 0644 0 0"
		done
		echo "dir /dev 0755 0 0"
		echo "nod /dev/console 0600 0 0 c 5 1"
		for f in proc sys run mnt moat; do echo "dir /$f 0755 0 0"; done
		echo "dir /tmp 1777 0 0"
		echo "dir /root 0700 0 0"
	} | awk '{ print $2 "\t" $0 }' | sort -t "$(printf '\t')" -k1,1 | cut -f2- >"$spec"

	# Shipped gzip-compressed to keep the repository small. moat inflates it on the host before
	# loading it: inflating in the guest costs about 35 M instructions (40% of a boot on moat's
	# soft CPU).
	(cd "$stage" && "$tool" -t 0 "$spec") >"$work/initramfs.cpio"
	gzip -n -9 <"$work/initramfs.cpio" >"$out/initramfs.cpio.gz.tmp"

	# Check the result with GNU cpio.
	local listing
	listing=$(gzip -dc "$out/initramfs.cpio.gz.tmp" | cpio -t --quiet)
	for f in init bin/busybox bin/sh dev/console etc/passwd moat; do
		grep -qxF "$f" <<<"$listing" || die "initramfs lacks $f"
	done
	mv "$out/initramfs.cpio.gz.tmp" "$out/initramfs.cpio.gz"
	say "initramfs: busybox-static $(basename "$deb" "_${deb_arch}.deb" | sed "s/^busybox-static_//") ($(wc -l <<<"$applets") applets) -> $out/initramfs.cpio.gz ($(stat -c %s "$out/initramfs.cpio.gz") bytes)"
}

if [ "$do_kernel" = 1 ]; then build_kernel; fi
if [ "$do_initramfs" = 1 ]; then build_initramfs; fi
# The riscv64 guest's agent overlay (guest/agent/build.sh) goes with its initramfs.
if [ "$do_initramfs" = 1 ] && [ "$arch" = riscv64 ]; then "$here/agent/build.sh" --out "$out"; fi

say "done:"
(cd "$out" && for f in "$artefact" initramfs.cpio.gz agent.cpio.gz; do
	if [ -f "$f" ]; then sha256sum "$f"; fi
done) >&2
if [ "$out" = "$src_dir" ]; then
	say "the shipped guest changed unless these match SHA256SUMS; if it did, record it: npm run manifest"
fi
