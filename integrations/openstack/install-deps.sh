#!/usr/bin/env bash
# Installs the Debian 12 (Zed) OpenStack packages the moat Nova driver's test cloud uses, as root,
# without starting any of their daemons: the test (and an operator, docs/openstack.md) starts each
# service as a plain process with its own config. Safe to run again: installed packages are kept.
#
#   keystone glance placement-api      identity, images (file store), Placement (all under uwsgi)
#   nova-api nova-conductor            Nova's API, conductor and scheduler
#     nova-scheduler nova-compute        (nova-compute is what loads nova.virt.moat)
#   neutron-server                     Neutron with ML2 and the Linux-bridge agent
#     neutron-linuxbridge-agent
#   mariadb-server rabbitmq-server     the database and message bus, private instances
#   python3-openstackclient            the `openstack` CLI the test drives
#     python3-osc-placement
#   sudo curl                          the Linux-bridge agents start their privsep helpers
#                                        through sudo; cloud.sh polls the APIs with curl
set -euo pipefail
PKGS=(keystone glance placement-api nova-api nova-conductor nova-scheduler nova-compute
      neutron-server neutron-linuxbridge-agent mariadb-server rabbitmq-server
      python3-openstackclient python3-osc-placement python3-pymysql iproute2 bridge-utils
      sudo curl)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "install-deps: the OpenStack test cloud needs, as root: $0 (apt-get install ${missing[*]})" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
work=$(mktemp -d)
trap 'rm -rf "$work"; [ -n "${made_policy:-}" ] && rm -f /usr/sbin/policy-rc.d' EXIT
# Maintainer scripts must not start daemons (they would take the ports and databases the test
# configures itself); policy-rc.d answering 101 forbids it. Removed again if this made it.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  made_policy=1
fi
# nova-compute depends on nova-compute-kvm | nova-compute-hypervisor; moat is the hypervisor, so
# a package with no files that Provides the virtual one stands in for libvirt's.
if ! dpkg-query -W -f='${Status}' moat-nova-compute-hypervisor 2>/dev/null | grep -q "install ok installed"; then
  mkdir -p "$work/pkg/DEBIAN"
  cat >"$work/pkg/DEBIAN/control" <<CTL
Package: moat-nova-compute-hypervisor
Version: 1.0
Architecture: all
Maintainer: moat <moat@localhost>
Provides: nova-compute-hypervisor
Description: moat as nova-compute's hypervisor (the nova.virt.moat driver)
 Satisfies nova-compute's dependency on a hypervisor package without libvirt.
CTL
  dpkg-deb --build --root-owner-group "$work/pkg" "$work/moat-nova-compute-hypervisor.deb" >/dev/null
  dpkg -i "$work/moat-nova-compute-hypervisor.deb" >/dev/null
fi
echo "install-deps: installing ${missing[*]}" >&2
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
