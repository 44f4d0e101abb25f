#!/usr/bin/env bash
# Rebuilds, exactly, guest/riscv64/agent.cpio.gz: the initramfs overlay that runs the real
# qemu-guest-agent in moat's riscv64 guest. It holds Debian trixie's riscv64 qemu-ga and the
# shared libraries its binary needs (followed through DT_NEEDED), unpacked from the .debs
# pinned in debs.sha256 (name, version and sha256 of each), plus /agent-init and the
# shutdown that qemu-ga runs as /sbin/shutdown (/sbin links to /bin in the shipped initramfs,
# so it is /bin/shutdown here; both next to this script). moat appends it to the shipped
# initramfs and boots it with rdinit=/agent-init when a VM has --agent (docs/agent.md);
# /agent-init starts the agent on the virtio-serial port org.qemu.guest_agent.0, then runs
# moat's usual /init.
#
# The archive is the same bytes on every machine: gen_init_cpio (the kernel's tool) writes it
# from a sorted spec with owner root, fixed modes and mtime 0; gzip -n -9 compresses it (gzip:
# the one initramfs compression the shipped kernel reads, CONFIG_RD_GZIP). Its SHA-256 is in
# ../../SHA256SUMS (npm run manifest); guest/check.sh --initramfs rebuilds and compares it.
#
# Usage: guest/agent/build.sh [--out DIR] [--update-pins]
#   --out DIR       write agent.cpio.gz into DIR instead of guest/riscv64
#   --update-pins   pin the agent and libraries Debian trixie has now: rewrites debs.sha256
#                   (this changes the overlay: then run npm run manifest)
#
# Needs (Debian 12): apt-get install linux-source-6.1 gcc binutils gzip debian-archive-keyring
# (linux-source-6.1 of any version: its gen_init_cpio.c). The .debs are cached in
# ${XDG_CACHE_HOME:-~/.cache}/moat/debs (override with MOAT_DEB_CACHE); cached copies with
# the pinned sha256 need no network.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pins=$here/debs.sha256
out=$here/../riscv64
update_pins=0
deb_arch=riscv64
suite=trixie
triplet=riscv64-linux-gnu
interp=ld-linux-riscv64-lp64d.so.1

die() { echo "agent/build.sh: error: $*" >&2; exit 1; }
say() { echo "agent/build.sh: $*" >&2; }
logged() {
	local log=$1; shift
	if ! "$@" >>"$log" 2>&1; then
		tail -n 40 "$log" >&2
		die "failed: $*"
	fi
}

while [ $# -gt 0 ]; do
	case $1 in
	--out) [ $# -ge 2 ] || die "--out needs a directory"; out=$2; shift ;;
	--update-pins) update_pins=1 ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument: $1 (try --help)" ;;
	esac
	shift
done
[ -d "$out" ] || die "--out $out: no such directory"
out=$(cd "$out" && pwd)
for t in apt-get dpkg-deb readelf gcc gzip sha256sum; do
	command -v "$t" >/dev/null || die "$t is missing (see --help for the packages)"
done

export LC_ALL=C TZ=UTC
umask 022
work=$(mktemp -d -t moat-agent.XXXXXX)
trap 'rm -rf "$work"' EXIT
# shellcheck source=../build-lib.sh
. "$here/../build-lib.sh"
[ -f "$keyring" ] || die "$keyring not found (package debian-archive-keyring)"
[ -f "$kernel_tarball" ] || die "$kernel_tarball not found (package linux-source-6.1)"

# ---------------------------------------------------------------- the packages
# Every package's .deb is unpacked into its own directory, so each file copied is known to
# come from a pinned package.
declare -A name_of=() path_of=()
pkgs=()
unpack() {
	local pkg=${2%%_*}
	mkdir -p "$work/pkg/$pkg"
	dpkg-deb -x "$1" "$work/pkg/$pkg"
	path_of[$pkg]=$1
	name_of[$pkg]=$2
	pkgs+=("$pkg")
}

if [ "$update_pins" = 1 ]; then
	# The agent and every library package it depends on, transitively, as trixie has them now;
	# the ELF closure below keeps only those that give it a file.
	private_apt_update
	candidates=$(APT_TOOL=apt-cache private_apt depends --recurse --no-recommends --no-suggests \
		--no-conflicts --no-breaks --no-replaces --no-enhances qemu-guest-agent |
		awk '/^[a-z0-9]/ { print } /Depends: [a-z0-9]/ { print $2 }' | sort -u |
		grep -E '^(qemu-guest-agent|lib[a-z0-9.+-]+|zlib1g)$' | grep -vE -- '-(dev|doc|bin|data)$')
	mkdir -p "$work/dl/all"
	# shellcheck disable=SC2086
	(cd "$work/dl/all" && private_apt download $candidates) >>"$work/apt.log" 2>&1 ||
		{ tail -n 20 "$work/apt.log" >&2; die "apt-get download failed"; }
	for d in "$work"/dl/all/*.deb; do
		# apt-get writes an epoch's colon as %3a.
		name=$(basename "$d" | sed 's/%3a/:/g')
		unpack "$d" "$name"
	done
else
	[ -f "$pins" ] || die "$pins is missing"
	# (fd 3: apt-get must not read the list.)
	while read -r sum name <&3; do
		case $sum in ''|'#'*) continue ;; esac
		deb=$(fetch_pinned_deb "$sum" "$name" "guest/agent/debs.sha256")
		unpack "$deb" "$name"
	done 3<"$pins"
fi
[ -n "${name_of[qemu-guest-agent]:-}" ] || die "no qemu-guest-agent package among the pins"

# ---------------------------------------------------------------- the ELF closure
# qemu-ga, then every library named by DT_NEEDED, found in the packages' library
# directories. The interpreter goes to /lib (PT_INTERP names it there); glibc's loader
# answers for its own soname, so libc's DT_NEEDED entry for it needs no second copy.
stage=$work/stage
mkdir -p "$stage"
declare -A used=([qemu-guest-agent]=1)
# Sets lib to the path of library $1 (no subshell: `used` records the package it came from).
find_lib() {
	local p dir
	for p in "${pkgs[@]}"; do
		for dir in "usr/lib/$triplet" "lib/$triplet" usr/lib lib; do
			if [ -e "$work/pkg/$p/$dir/$1" ]; then
				used[$p]=1
				lib=$work/pkg/$p/$dir/$1
				return
			fi
		done
	done
	die "$1 (DT_NEEDED) is in none of the pinned packages: pin the package that has it"
}
needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
ga=$work/pkg/qemu-guest-agent/usr/sbin/qemu-ga
[ -f "$ga" ] || die "qemu-guest-agent has no usr/sbin/qemu-ga"
[ "$(readelf -l "$ga" | sed -n 's/.*interpreter: \(.*\)\]/\1/p')" = "/lib/$interp" ] ||
	die "qemu-ga's interpreter is not /lib/$interp"
cp "$ga" "$stage/qemu-ga"
find_lib "$interp"
cp -L "$lib" "$stage/$interp"
libs=()
declare -A seen=([$interp]=1)
todo=("$stage/qemu-ga")
while ((${#todo[@]})); do
	f=${todo[0]}
	todo=("${todo[@]:1}")
	for n in $(needed "$f"); do
		[ -n "${seen[$n]:-}" ] && continue
		seen[$n]=1
		find_lib "$n"
		cp -L "$lib" "$stage/$n"
		libs+=("$n")
		todo+=("$stage/$n")
	done
done
cp "$here/agent-init" "$stage/agent-init"
cp "$here/shutdown" "$stage/shutdown"
touch -d @0 "$stage"/*

if [ "$update_pins" = 1 ]; then
	{
		echo "# The Debian trixie riscv64 packages guest/agent/build.sh unpacks: qemu-guest-agent and"
		echo "# those that hold a library in its ELF closure. sha256sum format; the name carries the version."
		for p in $(printf '%s\n' "${!used[@]}" | sort); do
			echo "$(sha256sum <"${path_of[$p]}" | cut -d' ' -f1)  ${name_of[$p]}"
		done
	} >"$pins.tmp"
	mv "$pins.tmp" "$pins"
	say "wrote $pins (${#used[@]} packages); build again without --update-pins to check them"
else
	for p in "${pkgs[@]}"; do
		[ -n "${used[$p]:-}" ] || die "the pinned $p gives qemu-ga no library: drop it from $pins"
	done
fi

# ---------------------------------------------------------------- the archive
# Paths that fit the shipped initramfs: /bin is its one binary directory (/sbin and /usr/sbin
# link to it), so qemu-ga and shutdown go there; /lib and /usr/lib are new.
spec=$work/agent.spec
{
	echo "file /agent-init stage/agent-init 0755 0 0"
	echo "file /bin/qemu-ga stage/qemu-ga 0755 0 0"
	echo "file /bin/shutdown stage/shutdown 0755 0 0"
	echo "dir /lib 0755 0 0"
	echo "file /lib/$interp stage/$interp 0755 0 0"
	echo "dir /usr/lib 0755 0 0"
	echo "dir /usr/lib/$triplet 0755 0 0"
	for n in "${libs[@]}"; do echo "file /usr/lib/$triplet/$n stage/$n 0644 0 0"; done
} | awk '{ print $2 "\t" $0 }' | sort -t "$(printf '\t')" -k1,1 | cut -f2- >"$spec"
tool=$(gen_init_cpio_tool)
(cd "$work" && "$tool" -t 0 "$spec") >"$work/agent.cpio"
gzip -n -9 <"$work/agent.cpio" >"$out/agent.cpio.gz.tmp"
mv "$out/agent.cpio.gz.tmp" "$out/agent.cpio.gz"
version=${name_of[qemu-guest-agent]#qemu-guest-agent_}
say "qemu-guest-agent ${version%_"$deb_arch".deb} and ${#libs[@]} libraries -> $out/agent.cpio.gz ($(stat -c %s "$work/agent.cpio") bytes, $(stat -c %s "$out/agent.cpio.gz") compressed)"
(cd "$out" && sha256sum agent.cpio.gz) >&2
