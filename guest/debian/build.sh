#!/usr/bin/env bash
# Builds a Debian trixie riscv64 disk image that boots under moat with systemd, from its
# virtio-blk root disk, to a login prompt on the serial console, with qemu-guest-agent started
# by udev when the agent's port appears (docs/agent.md, docs/guest.md):
#   1. debootstrap --foreign on the host: minbase plus systemd-sysv, udev, qemu-guest-agent,
#      linux-image-riscv64, initramfs-tools (downloaded and unpacked; nothing of riscv64 runs)
#   2. an ext4 image of that tree (mkfs.ext4 -d)
#   3. debootstrap's second stage inside a moat VM: the shipped kernel and initramfs, the image
#      as /dev/vda, one hart; then the virtio modules are named for the initramfs and
#      update-initramfs runs, still in that VM
#   4. the kernel (as a plain Image, guest/kernel-image.sh) and the initrd, read out with debugfs
#
#   guest/debian/build.sh OUT_DIR      -> OUT_DIR/disk.img, OUT_DIR/Image, OUT_DIR/initrd.img
#
# Cached: nothing is done when all three exist. Needs root (debootstrap), debootstrap,
# e2fsprogs, binutils-riscv64-linux-gnu (the kernel is an ELF vmlinux), and a built moat. The
# second stage is the slow part: the soft CPU runs dpkg and its scripts for ~120 packages.
# The root account is locked: reach the guest through the agent (moat exec) or set a password.
set -euo pipefail
out=$(realpath -m "$1")
[ -s "$out/disk.img" ] && [ -s "$out/Image" ] && [ -s "$out/initrd.img" ] && exit 0
here=$(cd "$(dirname "$0")" && pwd)
moat=("${MOAT_NODE:-node}" "$here/../../bin/moat.js")
say() { echo "debian/build.sh: $*" >&2; }
mkdir -p "$out"
work=$(mktemp -d "$out/work.XXXXXX")
trap 'rm -rf "$work"' EXIT
export LC_ALL=C

say "first stage (debootstrap --foreign)"
debootstrap --foreign --arch=riscv64 --variant=minbase \
  --include=systemd-sysv,udev,qemu-guest-agent,linux-image-riscv64,initramfs-tools,kmod,procps,iproute2 \
  trixie "$work/root" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 ||
  { tail -20 "$work/debootstrap.log" >&2; exit 1; }
echo moat-debian >"$work/root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tmoat-debian\n' >"$work/root/etc/hosts"
echo '/dev/vda / ext4 defaults,errors=remount-ro 0 1' >"$work/root/etc/fstab"
cat >"$work/root/moat-stage3" <<'STAGE3'
#!/bin/sh
# Run in the chroot after the second stage: moat's devices for the initramfs.
set -e
mkdir -p /etc/initramfs-tools
printf 'virtio_mmio\nvirtio_blk\nvirtio_console\next4\n' >>/etc/initramfs-tools/modules
update-initramfs -u -k all
rm -f /moat-stage3
STAGE3
chmod +x "$work/root/moat-stage3"
truncate -s 3G "$work/disk.img"
mkfs.ext4 -q -F -L debian -d "$work/root" "$work/disk.img"
rm -rf "$work/root"

say "second stage, in a moat VM (this takes a while)"
"${moat[@]}" run --accel soft --cpus 1 --memory 1536 --disk "$work/disk.img" -- sh -c '
  set -e
  mount /dev/vda /mnt
  DEBIAN_FRONTEND=noninteractive chroot /mnt /debootstrap/debootstrap --second-stage
  mount -t proc proc /mnt/proc
  mount -t sysfs sysfs /mnt/sys
  mount -t devtmpfs devtmpfs /mnt/dev
  DEBIAN_FRONTEND=noninteractive chroot /mnt /moat-stage3
  umount /mnt/dev /mnt/sys /mnt/proc
  rm -rf /mnt/var/cache/apt/archives/*.deb
  umount /mnt
  echo stage2-done' >"$work/stage2.log" 2>&1 || { tail -30 "$work/stage2.log" >&2; exit 1; }
grep -q stage2-done "$work/stage2.log" || { tail -30 "$work/stage2.log" >&2; exit 1; }

say "reading out the kernel and the initrd"
boot=$(debugfs -R "ls -p /boot" "$work/disk.img" 2>/dev/null | tr '/' '\n')
vmlinux=$(echo "$boot" | grep -E '^vmlinu[xz]-' | sort | tail -1)
initrd=$(echo "$boot" | grep -E '^initrd\.img-' | sort | tail -1)
[ -n "$vmlinux" ] && [ -n "$initrd" ] || { say "no kernel or initrd in /boot: $boot"; exit 1; }
debugfs -R "dump /boot/$vmlinux $work/vmlinux" "$work/disk.img" 2>/dev/null
debugfs -R "dump /boot/$initrd $work/initrd.img" "$work/disk.img" 2>/dev/null
"$here/../kernel-image.sh" "$work/vmlinux" "$work/Image"
mv "$work/initrd.img" "$out/initrd.img"
mv "$work/Image" "$out/Image"
mv "$work/disk.img" "$out/disk.img"
say "done: $out ($vmlinux, $initrd)"
