# Sourced by guest/build.sh and guest/agent/build.sh. Debian packages pinned by name, version
# and sha256, fetched from Debian's archive through a private apt configuration (the host's own
# sources and state are neither read nor written) and cached, so a cached copy needs no network;
# and the kernel's gen_init_cpio, which writes an initramfs archive byte for byte the same
# everywhere.
#
# The caller sets: work (a temporary directory), deb_arch (riscv64, amd64), suite (a Debian
# suite), and defines die, say and logged (as guest/build.sh does).
# The cache: ${MOAT_DEB_CACHE:-${XDG_CACHE_HOME:-~/.cache}/moat/debs}.

kernel_tarball=${kernel_tarball:-/usr/src/linux-source-6.1.tar.xz}
keyring=${keyring:-/usr/share/keyrings/debian-archive-keyring.gpg}
mirror=${mirror:-http://deb.debian.org/debian}
deb_cache=${MOAT_DEB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/moat/debs}

# apt-get (or apt-cache, with APT_TOOL=apt-cache) with its own sources, lists, cache and
# (empty) status under $work/apt.
private_apt() {
	local d=$work/apt
	if [ ! -d "$d" ]; then
		mkdir -p "$d/etc/preferences.d" "$d/state/lists/partial" "$d/cache/archives/partial"
		: >"$d/state/status"
		echo "deb [arch=$deb_arch signed-by=$keyring] $mirror $suite main" >"$d/etc/sources.list"
	fi
	"${APT_TOOL:-apt-get}" \
		-o Dir::Etc::sourcelist="$d/etc/sources.list" \
		-o Dir::Etc::sourceparts=- \
		-o Dir::Etc::preferences="$d/etc/preferences" \
		-o Dir::Etc::preferencesparts="$d/etc/preferences.d" \
		-o Dir::State="$d/state" \
		-o Dir::State::status="$d/state/status" \
		-o Dir::Cache="$d/cache" \
		-o APT::Architecture="$deb_arch" \
		-o APT::Architectures="$deb_arch" \
		-o Acquire::Languages=none \
		-o APT::Sandbox::User=root \
		-o Debug::NoLocking=1 \
		-q "$@"
}

# The package lists, fetched once per build.
private_apt_update() {
	[ -f "$work/apt.updated" ] && return
	logged "$work/apt.log" private_apt update
	: >"$work/apt.updated"
}

# fetch_pinned_deb SHA256 NAME_VERSION_ARCH.deb [PIN_FILE]: prints the path of that .deb, from
# the cache or downloaded (and then cached); its sha256 must be the pinned one.
fetch_pinned_deb() {
	local sum=$1 name=$2 pin=${3:-the pin} pkg version deb
	case $name in *_*_"$deb_arch".deb) ;; *) die "unexpected name in $pin: $name" ;; esac
	pkg=${name%%_*}
	version=${name#"${pkg}_"}
	version=${version%_"$deb_arch".deb}
	deb=$deb_cache/$name
	if [ -f "$deb" ] && [ "$(sha256sum <"$deb" | cut -d' ' -f1)" = "$sum" ]; then
		say "using cached $deb"
		echo "$deb"
		return
	fi
	say "downloading $pkg $version ($deb_arch) from $mirror $suite"
	local dl=$work/dl/$pkg log=$work/apt.log
	mkdir -p "$dl"
	private_apt_update
	if ! (cd "$dl" && private_apt download "$pkg=$version") >>"$log" 2>&1; then
		tail -n 20 "$log" >&2
		die "cannot download $pkg=$version: Debian $suite may have moved on.
  Either put the pinned .deb (sha256 $sum) into $deb_cache/$name
  (snapshot.debian.org keeps every version), or pin the current version in $pin
  (this changes the artefact: rebuild it and run npm run manifest)."
	fi
	local got have
	got=$(find "$dl" -maxdepth 1 -name "${pkg}_*_${deb_arch}.deb" | head -n 1)
	[ -n "$got" ] || die "apt-get download $pkg produced no .deb"
	have=$(sha256sum <"$got" | cut -d' ' -f1)
	[ "$have" = "$sum" ] || die "$pkg $version: sha256 $have, pinned $sum in $pin"
	mkdir -p "$deb_cache"
	cp "$got" "$deb.tmp" && mv "$deb.tmp" "$deb"
	echo "$deb"
}

# Prints the path of gen_init_cpio (the kernel's own tool, from linux-source-6.1: any version),
# built into $work once. From a spec it writes exact modes, owner root, fixed mtimes (-t for
# everything but files, which keep theirs) and device nodes without mknod.
gen_init_cpio_tool() {
	local src=$work/linux-source-6.1/usr/gen_init_cpio.c tool=$work/gen_init_cpio
	if [ ! -x "$tool" ]; then
		[ -f "$src" ] || tar -C "$work" -xf "$kernel_tarball" linux-source-6.1/usr/gen_init_cpio.c
		gcc -O2 -o "$tool" "$src"
	fi
	echo "$tool"
}
