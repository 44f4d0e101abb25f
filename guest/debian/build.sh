#!/usr/bin/env bash
# Builds a Debian trixie riscv64 disk image that boots under moat with systemd, from its
# virtio-blk root disk, to a login prompt on the serial console, with qemu-guest-agent started
# by udev when the agent's port appears (docs/guest.md, docs/agent.md):
#   1. debootstrap --foreign on the host: minbase plus systemd-sysv, udev and qemu-guest-agent
#      (downloaded and unpacked; nothing of riscv64 runs on the host)
#   2. an ext4 image of that tree (mkfs.ext4 -d)
#   3. debootstrap's second stage inside a moat VM (the shipped kernel and initramfs, the image
#      as /dev/vda, two harts), then the image's finishing touches, still in that VM
#
#   guest/debian/build.sh [--force] OUT.img
#
# The image has no kernel of its own: moat boots it with the shipped kernel, whose config has
# what systemd needs (guest/riscv64/kernel.fragment), and no initramfs:
#   moat run --accel soft --memory 512 --no-initrd --disk OUT.img \
#     --cmdline 'console=ttyS0 root=/dev/vda rw' --agent
# Debian's own kernel package was the first plan; under the soft CPU its ~400 MB of modules
# and an initramfs built in the guest tripled the second stage, for a kernel moat would then
# have to find and convert (docs/guest.md has the figures).
#
# Progress: every 30 s, the time so far and debootstrap's last step. The second stage's log
# (the VM's console) is kept beside the image as OUT.img.stage2.log, on success and failure.
#
# Cached: nothing is done when OUT.img exists (--force rebuilds). The image is written under
# a temporary name and renamed when whole, so an interrupted build leaves nothing that looks
# finished. Needs root (debootstrap), debootstrap, e2fsprogs, network access to
# deb.debian.org, and a built moat (npm run build). The root account is locked: reach the guest
# through the agent (moat exec, with a policy allowing exec) or set a password with it.
set -euo pipefail
die() { echo "debian/build.sh: error: $*" >&2; exit 1; }
say() { echo "debian/build.sh: $*" >&2; }
force=0
case ${1:-} in
--force) force=1; shift ;;
-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
esac
[ $# -eq 1 ] || die "usage: $0 [--force] OUT.img"
out=$(realpath -m "$1")
[ "$force" = 0 ] && [ -s "$out" ] && { say "cached: $out"; exit 0; }
[ "$(id -u)" = 0 ] || die "debootstrap needs root"
command -v debootstrap >/dev/null || die "debootstrap is missing: apt-get install debootstrap"
command -v mkfs.ext4 >/dev/null || die "mkfs.ext4 is missing: apt-get install e2fsprogs"
here=$(cd "$(dirname "$0")" && pwd)
moat=("${MOAT_NODE:-node}" "$here/../../bin/moat.js")
[ -f "$here/../../dist/src/cli/moat.js" ] || die "moat is not built: npm run build"
mkdir -p "$(dirname "$out")"
work=$(mktemp -d "$(dirname "$out")/.debian-build.XXXXXX")
ticker=
trap '[ -z "$ticker" ] || kill "$ticker" 2>/dev/null; rm -rf "$work"' EXIT
export LC_ALL=C
start=$(date +%s)
# progress LOG WHAT: in the background, every 30 s, the time so far and LOG's last debootstrap
# step ("I: Unpacking ..."); the line is the guest's output, so only printable bytes, 100 of them.
progress() {
  while sleep 30; do
    local step
    step=$(grep -a '^I: ' "$1" 2>/dev/null | tail -1 | tr -cd '[:print:]' | cut -c1-100) || true
    say "$2: $(($(date +%s) - start)) s${step:+, ${step#I: }}"
  done &
  ticker=$!
}
stop_progress() { kill "$ticker" 2>/dev/null || true; wait "$ticker" 2>/dev/null || true; ticker=; }

say "first stage (debootstrap --foreign, downloads about 40 MB)"
progress "$work/debootstrap.log" "first stage"
debootstrap --foreign --arch=riscv64 --variant=minbase \
  --include=systemd-sysv,udev,dbus,qemu-guest-agent \
  trixie "$work/root" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 ||
  { tail -20 "$work/debootstrap.log" >&2; die "debootstrap --foreign failed"; }
stop_progress
r=$work/root
echo moat-debian >"$r/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tmoat-debian\n' >"$r/etc/hosts"
# The kernel mounts the root read-write (root=/dev/vda rw): nothing for systemd-fsck to do.
echo '/dev/vda / ext4 defaults,errors=remount-ro 0 0' >"$r/etc/fstab"
# dpkg fsyncs every file it unpacks; a build that fails is thrown away whole, so those
# flushes buy nothing here (the file goes again in the finishing touches).
mkdir -p "$r/etc/dpkg/dpkg.cfg.d"
echo force-unsafe-io >"$r/etc/dpkg/dpkg.cfg.d/moat-build"
cat >"$r/moat-finish" <<'FINISH'
#!/bin/sh
# Run in the chroot after the second stage.
set -e
rm -f /etc/dpkg/dpkg.cfg.d/moat-build
# Each copy of the image gets its own machine id at its first boot; without one systemd
# would treat that boot as a first boot and systemd-firstboot could stop to ask on the console.
: >/etc/machine-id
ln -sf /dev/null /etc/systemd/system/systemd-firstboot.service
apt-get clean
rm -rf /var/lib/apt/lists/* /var/log/bootstrap.log
rm -f /moat-finish
FINISH
chmod +x "$r/moat-finish"
truncate -s 2G "$work/disk.img"
mkfs.ext4 -q -F -L debian -d "$r" "$work/disk.img"
rm -rf "$r"

say "second stage, in a moat VM on the soft CPU (about 25 minutes; log: $out.stage2.log)"
progress "$work/stage2.log" "second stage"
stage2=0
"${moat[@]}" run --accel soft --cpus 2 --memory 1024 --disk "$work/disk.img" -- sh -c '
  set -e
  mount /dev/vda /mnt
  DEBIAN_FRONTEND=noninteractive chroot /mnt /debootstrap/debootstrap --second-stage
  mount -t proc proc /mnt/proc
  DEBIAN_FRONTEND=noninteractive chroot /mnt /moat-finish
  umount /mnt/proc
  umount /mnt
  echo moat-stage2-done' >"$work/stage2.log" 2>&1 || stage2=$?
stop_progress
cp "$work/stage2.log" "$out.stage2.log"
[ "$stage2" = 0 ] || { tail -30 "$work/stage2.log" >&2; die "the second stage failed (log: $out.stage2.log)"; }
grep -q moat-stage2-done "$work/stage2.log" || { tail -30 "$work/stage2.log" >&2; die "the second stage did not finish (log: $out.stage2.log)"; }
e2fsck -fn "$work/disk.img" >"$work/fsck.log" 2>&1 || { cat "$work/fsck.log" >&2; die "the image's file system is damaged"; }
mv "$work/disk.img" "$out"
say "done in $(($(date +%s) - start)) s: $out (second stage log: $out.stage2.log)"
