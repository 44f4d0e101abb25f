#!/usr/bin/env bash
# The Debian packages the test suite uses (run by `npm test` before the tests):
#   gcc-riscv64-linux-gnu, binutils-riscv64-unknown-elf  assemble the ISA and differential tests
#   qemu-system-misc, qemu-user                          QEMU: the oracle and the benchmark peer
#   qemu-utils                                           qemu-io, qemu-img: QEMU's image lock against moat's
#   opensbi                                              the --bios opensbi test
#   device-tree-compiler                                 dtc checks moat's device tree
#   cpio                                                 checks the archives moat writes
#   binutils                                             as/ld/objcopy build the x86-64 KVM payloads
#   e2fsprogs                                            debugfs reads what a guest wrote to a disk
#   iproute2, iputils-ping                               TAP/bridge set-up and host -> guest ping
#   libc6-dev-riscv64-cross                              static guest programs (the vsock test's peer)
#   openssl, passwd                                      the daemon's TLS test certificate; groupadd
#   gvncviewer                                           gvnccapture: a real VNC client for the display test
#   bsdutils                                             script: a terminal for gvnccapture's password prompt
#   strace                                               shows a VM drops its uid before parsing its kernel
#   chromium                                             the web console's browser test (playwright-core)
#   linux-source-6.1, gcc, xz-utils,                     guest/check.sh --initramfs rebuilds the shipped
#     debian-archive-keyring                               initramfs (gen_init_cpio.c; busybox from Debian)
# Packages named as arguments are wanted too (npm run test:debian adds debootstrap).
# Missing ones are installed when this runs as root with apt-get (a fresh CI or developer
# machine); otherwise it names them and fails, so no test silently skips.
set -euo pipefail
PKGS=(gcc-riscv64-linux-gnu binutils-riscv64-unknown-elf qemu-system-misc qemu-user qemu-utils
      opensbi device-tree-compiler cpio binutils e2fsprogs iproute2 iputils-ping
      libc6-dev-riscv64-cross openssl passwd gvncviewer bsdutils chromium strace
      linux-source-6.1 gcc xz-utils debian-archive-keyring "$@")
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "test-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "test-deps: the tests need: apt-get install ${missing[*]}" >&2
  exit 1
fi
