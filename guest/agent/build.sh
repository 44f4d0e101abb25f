#!/usr/bin/env bash
# Builds an initramfs overlay that runs the real qemu-guest-agent in moat's riscv64 guest:
# Debian trixie's riscv64 qemu-guest-agent package and the shared libraries its binary needs
# (followed through DT_NEEDED), unpacked from Debian's .debs, plus /agent-init. Appended to the
# shipped initramfs and booted with rdinit=/agent-init, the guest starts the agent on the
# virtio-serial port named org.qemu.guest_agent.0, then runs moat's usual /init. /sbin/shutdown
# (busybox has none) lets guest-shutdown power the guest off.
#
#   guest/agent/build.sh OUT.cpio        (cached: rebuilt only when OUT.cpio is missing)
#
# Needs apt-get, dpkg-deb, readelf (binutils) and cpio; fetches from Debian's archive with a
# private apt configuration (the host's own sources and state are not touched).
set -euo pipefail
out=$(realpath -m "$1")
[ -s "$out" ] && exit 0
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
apt_dir=$work/apt
mkdir -p "$apt_dir"/{etc/preferences.d,state/lists/partial,cache/archives/partial} "$work/debs"
echo "deb [arch=riscv64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" \
  > "$apt_dir/etc/sources.list"
APT=(-o "Dir::Etc::SourceList=$apt_dir/etc/sources.list" -o Dir::Etc::SourceParts=/nonexistent
     -o "Dir::Etc::PreferencesParts=$apt_dir/etc/preferences.d" -o "Dir::State=$apt_dir/state"
     -o "Dir::Cache=$apt_dir/cache" -o APT::Architecture=riscv64 -o APT::Architectures=riscv64
     -o Debug::NoLocking=1 -o APT::Sandbox::User=root -qq)
apt-get "${APT[@]}" update

# The agent and every library package it depends on, transitively (not init-system-helpers and
# the like: only the ELF closure below is kept anyway).
pkgs=$(apt-cache "${APT[@]}" depends --recurse --no-recommends --no-suggests --no-conflicts \
  --no-breaks --no-replaces --no-enhances qemu-guest-agent |
  awk '/^[a-z0-9]/ { print } /Depends: [a-z0-9]/ { print $2 }' | sort -u |
  grep -E '^(qemu-guest-agent|lib[a-z0-9.+-]+|zlib1g)$' | grep -vE -- '-(dev|doc|bin|data)$')
(cd "$work/debs" && apt-get "${APT[@]}" download $pkgs)
root=$work/unpacked
mkdir -p "$root"
for d in "$work"/debs/*.deb; do dpkg-deb -x "$d" "$root"; done

# The overlay: qemu-ga and the libraries it needs, found by following DT_NEEDED.
ov=$work/overlay
mkdir -p "$ov/usr/sbin" "$ov/usr/lib/riscv64-linux-gnu" "$ov/lib"
cp "$root/usr/sbin/qemu-ga" "$ov/usr/sbin/"
find_lib() {
  for dir in usr/lib/riscv64-linux-gnu lib/riscv64-linux-gnu usr/lib lib; do
    [ -e "$root/$dir/$1" ] && { echo "$root/$dir/$1"; return; }
  done
  echo "agent/build.sh: $1 is not in the unpacked packages" >&2
  exit 1
}
todo=("$ov/usr/sbin/qemu-ga")
declare -A seen
while ((${#todo[@]})); do
  f=${todo[0]}
  todo=("${todo[@]:1}")
  for n in $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    [ -n "${seen[$n]:-}" ] && continue
    seen[$n]=1
    src=$(find_lib "$n")
    cp -L "$src" "$ov/usr/lib/riscv64-linux-gnu/$n"
    todo+=("$ov/usr/lib/riscv64-linux-gnu/$n")
  done
done
interp=$(readelf -l "$ov/usr/sbin/qemu-ga" | sed -n 's/.*interpreter: \(.*\)\]/\1/p')
cp -L "$(find_lib "$(basename "$interp")")" "$ov/lib/$(basename "$interp")"
[ "$interp" = "/lib/$(basename "$interp")" ] || { echo "unexpected interpreter $interp" >&2; exit 1; }
install -m 0755 "$here/agent-init" "$ov/agent-init"
install -D -m 0755 "$here/shutdown" "$ov/sbin/shutdown"
mkdir -p "$(dirname "$out")"
(cd "$ov" && find . | sort | cpio -o -H newc --quiet -R 0:0) > "$out.tmp"
mv "$out.tmp" "$out"
echo "agent/build.sh: $(du -h "$out" | cut -f1) overlay: qemu-ga $(dpkg-deb -f "$work"/debs/qemu-guest-agent_*.deb Version), ${#seen[@]} libraries" >&2
