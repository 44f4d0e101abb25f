#!/usr/bin/env bash
# Brings up (and tears down) a minimal, real OpenStack Zed cloud on this one machine from Debian
# 12's packages (install-deps.sh), for the moat Nova driver's test: MariaDB, RabbitMQ, Keystone,
# Glance, Placement, Nova (api, conductor, scheduler, one nova-compute per host name), Neutron
# (ML2, flat provider network on a dummy interface, one Linux-bridge agent per host name).
#
#   cloud.sh up STATE_DIR [--driver DRIVER] --compute NAME:EXTRA_CONF [--compute NAME:EXTRA_CONF ...]
#   cloud.sh down STATE_DIR
#
# Everything is a plain process (no systemd) in its own process group, listening on 127.0.0.1
# only; every config, database, log, pid file and image lives under STATE_DIR. `up` writes
# STATE_DIR/admin-openrc (for the `openstack` CLI) and STATE_DIR/cloud.env (ids and facts).
# `down` stops what `up` started (also after a half-failed `up`) and removes the dummy interface
# and the bridges on it; running it twice is harmless. Run as root. docs/openstack.md explains
# what is configured and why. CLOUD_DEBUG=1 turns on the services' debug logging.
set -euo pipefail
umask 077
# Debian's python3 (Nova's modules live there), never a python3 earlier on PATH.
export PATH=/usr/local/sbin:/usr/sbin:/sbin:/usr/bin:/bin:$PATH
PY=/usr/bin/python3
SELF=$(readlink -f "$0")
HERE=$(dirname "$SELF")

# Ports (127.0.0.1 only). `up` refuses to start when any is taken.
P_KEYSTONE=5000 P_GLANCE=9292 P_PLACEMENT=8778 P_NOVA=8774 P_NEUTRON=9696
P_AMQP=5672 P_ERLDIST=25672 P_EPMD=4369
PORTS=($P_KEYSTONE $P_GLANCE $P_PLACEMENT $P_NOVA $P_NEUTRON $P_AMQP $P_ERLDIST $P_EPMD)
PHYS_IF=moatphys0          # the dummy interface physnet1 is mapped to
SUBNET_CIDR=192.0.2.0/24   # TEST-NET-1 (RFC 5737): never routed, never anyone's LAN
REGION=RegionOne
DEADLINE=${CLOUD_DEADLINE:-240} # seconds any single wait may take

usage() {
  cat >&2 <<EOF
usage: cloud.sh up STATE_DIR [--driver DRIVER] --compute NAME:EXTRA_CONF [--compute ...]
       cloud.sh down STATE_DIR
  --driver DRIVER          nova compute_driver (default moat.MoatDriver, i.e. nova.virt.moat)
  --compute NAME:CONF      one compute host: a nova-compute and a Linux-bridge agent with
                           host = NAME; CONF is an extra nova config file given last (e.g. [moat])
EOF
  exit 2
}
die() { echo "cloud.sh: $*" >&2; exit 1; }
now() { date +%s.%N; }

# ---------------------------------------------------------------- state layout and processes
set_paths() {
  S=$(readlink -m "$1")
  PIDS=$S/pids LOGS=$S/log SOCK=$S/mysql/mysql.sock
}
# Facts `up` chooses once (passwords) and internal jobs re-read.
load_secrets() { [ -f "$S/secrets.env" ] && . "$S/secrets.env"; true; }

log_tail() { # NAME: the last lines of a service's log, to stderr
  local f=$LOGS/$1.log
  [ -f "$f" ] || return 0
  echo "---- last lines of $f" >&2
  tail -n 40 "$f" >&2
  echo "----" >&2
}
fail() { # NAME MESSAGE
  echo "cloud.sh: $2" >&2
  log_tail "$1"
  exit 1
}

# start NAME CMD...: runs CMD in a new session (its own process group, so `down` can stop it
# and every child), output to log/NAME.log, pid (= process group id) in pids/NAME.pid.
start() {
  local name=$1; shift
  # A non-interactive script's background job is not a group leader, so setsid execs in place
  # and $! is the service's own pid and group id.
  setsid "$@" </dev/null >>"$LOGS/$name.log" 2>&1 &
  echo $! >"$PIDS/$name.pid"
  # When it started (clock ticks since boot): `down` signals the group only while its leader is
  # this process, not another that got the number since.
  starttime $! >"$PIDS/$name.start" || true
}
starttime() { # PID: field 22 of /proc/PID/stat (after the command's parenthesised name)
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  s=${s##*) }
  set -- $s
  echo "${20}"
}
alive() { local p; p=$(cat "$PIDS/$1.pid" 2>/dev/null) && kill -0 "$p" 2>/dev/null; }

# wait_for "NAME..." WHAT CMD...: polls CMD until it succeeds; fails naming WHAT when one of the
# NAMEs' processes dies (with that one's log) or the deadline passes.
wait_for() {
  local names=$1 what=$2 n; shift 2
  local end=$(( $(date +%s) + DEADLINE ))
  until "$@" >/dev/null 2>&1; do
    for n in $names; do alive "$n" || fail "$n" "$n exited while waiting for $what"; done
    (( $(date +%s) < end )) || fail "${names%% *}" "timed out after ${DEADLINE}s waiting for $what"
    sleep 0.3
  done
}
http_up() { # URL: any HTTP answer below 500
  local code
  code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' "$1") || return 1
  [ "$code" != 000 ] && [ "$code" -lt 500 ]
}
tcp_up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
sql() { mariadb --no-defaults -S "$SOCK" -uroot -N -B "$@"; }

# Background set-up jobs (database syncs) run as `cloud.sh _job NAME STATE_DIR` in their own
# process group like the services, so a failed `up` leaves nothing `down` cannot stop.
job() { start "job-$1" "$SELF" _job "$1" "$S"; }
job_wait() {
  local name=job-$1 end=$(( $(date +%s) + DEADLINE ))
  while alive "$name"; do
    (( $(date +%s) < end )) || fail "$name" "timed out after ${DEADLINE}s waiting for set-up step $1"
    sleep 0.2
  done
  [ "$(cat "$LOGS/$name.rc" 2>/dev/null)" = 0 ] || fail "$name" "set-up step $1 failed"
  rm -f "$PIDS/$name.pid"
}

# ---------------------------------------------------------------- configuration files
db_url() { echo "mysql+pymysql://openstack:$DB_PASS@localhost/$1?unix_socket=$SOCK&charset=utf8"; }
transport_url() { echo "rabbit://openstack:$RABBIT_PASS@127.0.0.1:$P_AMQP/"; }
# keystoneauth section for a service user ($1) in a config section named by the caller
ks_auth() {
  cat <<EOF
auth_type = password
auth_url = http://127.0.0.1:$P_KEYSTONE/v3
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $1
password = $SERVICE_PASS
region_name = $REGION
EOF
}
authtoken() {
  cat <<EOF
[keystone_authtoken]
www_authenticate_uri = http://127.0.0.1:$P_KEYSTONE/v3
$(ks_auth "$1")
EOF
}
debug_line() { if [ -n "${CLOUD_DEBUG:-}" ]; then echo "debug = true"; else echo "debug = false"; fi; }

uwsgi_ini() { # NAME PORT WSGI_FILE ENV...
  local name=$1 port=$2 wsgi=$3; shift 3
  {
    cat <<EOF
[uwsgi]
plugins = python3
http-socket = 127.0.0.1:$port
wsgi-file = $wsgi
master = true
processes = 1
threads = 1
lazy-apps = true
need-app = true
die-on-term = true
no-orphans = true
enable-threads = true
buffer-size = 65535
http-auto-chunked = true
http-chunked-input = true
http-raw-body = true
wsgi-manage-chunked-input = true
add-header = Connection: close
chdir = $S
procname-prefix-spaced = $name
EOF
    local e; for e in "$@"; do echo "env = $e"; done
  } >"$S/$name-uwsgi.ini"
}

write_configs() {
  local dbg; dbg=$(debug_line)
  mkdir -p "$S/keystone/fernet-keys" "$S/keystone/credential-keys" "$S/glance/images" \
    "$S/glance/staging" "$S/glance/tasks" "$S/glance/cache" "$S/nova/lock" "$S/neutron/lock" \
    "$S/rabbitmq/mnesia" "$S/rabbitmq/log"

  cat >"$S/keystone.conf" <<EOF
[DEFAULT]
$dbg
[database]
connection = $(db_url keystone)
[token]
provider = fernet
[fernet_tokens]
key_repository = $S/keystone/fernet-keys
[fernet_receipts]
key_repository = $S/keystone/fernet-keys
[credential]
key_repository = $S/keystone/credential-keys
EOF
  uwsgi_ini keystone $P_KEYSTONE /usr/bin/keystone-wsgi-public \
    "OS_KEYSTONE_CONFIG_FILES=$S/keystone.conf"

  cat >"$S/glance-api.conf" <<EOF
[DEFAULT]
$dbg
bind_host = 127.0.0.1
bind_port = $P_GLANCE
workers = 0
enabled_backends = fs:file
image_cache_dir = $S/glance/cache
lock_path = $S/glance
[database]
connection = $(db_url glance)
$(authtoken glance)
[paste_deploy]
flavor = keystone
config_file = /etc/glance/glance-api-paste.ini
[glance_store]
default_backend = fs
[fs]
filesystem_store_datadir = $S/glance/images
[os_glance_staging_store]
filesystem_store_datadir = $S/glance/staging
[os_glance_tasks_store]
filesystem_store_datadir = $S/glance/tasks
[oslo_concurrency]
lock_path = $S/glance
EOF

  cat >"$S/placement.conf" <<EOF
[DEFAULT]
$dbg
[placement_database]
connection = $(db_url placement)
[api]
auth_strategy = keystone
$(authtoken placement)
EOF
  uwsgi_ini placement $P_PLACEMENT /usr/bin/placement-api "OS_PLACEMENT_CONFIG_DIR=$S"

  # Shared by nova-api, nova-conductor and nova-scheduler (nova-compute has its own, without
  # any database).
  local nova_common
  nova_common=$(cat <<EOF
$(authtoken nova)
[placement]
$(ks_auth nova)
[neutron]
$(ks_auth nova)
[glance]
region_name = $REGION
[oslo_concurrency]
lock_path = $S/nova/lock
[vnc]
enabled = false
[oslo_messaging_rabbit]
heartbeat_timeout_threshold = 0
EOF
)
  cat >"$S/nova.conf" <<EOF
[DEFAULT]
$dbg
transport_url = $(transport_url)
state_path = $S/nova
my_ip = 127.0.0.1
enabled_apis = osapi_compute
[api]
auth_strategy = keystone
[wsgi]
api_paste_config = /etc/nova/api-paste.ini
[api_database]
connection = $(db_url nova_api)
[database]
connection = $(db_url nova)
[conductor]
workers = 1
[scheduler]
workers = 1
# A host in an aggregate with trait:CUSTOM_X=required only gets instances whose flavor (or
# image) requires CUSTOM_X: one trust domain's instances stay off another's hosts.
enable_isolated_aggregate_filtering = true
$nova_common
EOF
  uwsgi_ini nova-api $P_NOVA /usr/bin/nova-api-wsgi \
    "OS_NOVA_CONFIG_DIR=$S" "OS_NOVA_CONFIG_FILES=/etc/nova/api-paste.ini;nova.conf"

  cat >"$S/nova-compute.conf" <<EOF
[DEFAULT]
$dbg
transport_url = $(transport_url)
compute_driver = $DRIVER
my_ip = 127.0.0.1
# What moatd admits is what a host has: no over-commit, nothing held back for the host.
cpu_allocation_ratio = 1.0
ram_allocation_ratio = 1.0
disk_allocation_ratio = 1.0
reserved_host_memory_mb = 0
reserved_host_disk_mb = 0
$nova_common
EOF

  cat >"$S/neutron.conf" <<EOF
[DEFAULT]
$dbg
core_plugin = ml2
service_plugins =
bind_host = 127.0.0.1
bind_port = $P_NEUTRON
auth_strategy = keystone
transport_url = $(transport_url)
# The API in the main process; one RPC worker, which also takes the agents' state reports.
api_workers = 0
rpc_workers = 1
rpc_state_report_workers = 0
state_path = $S/neutron
api_paste_config = /etc/neutron/api-paste.ini
# Nova learns that a port went up (network-vif-plugged) or changed.
notify_nova_on_port_status_changes = true
notify_nova_on_port_data_changes = true
[database]
connection = $(db_url neutron)
$(authtoken neutron)
[nova]
$(ks_auth nova)
[oslo_concurrency]
lock_path = $S/neutron/lock
[experimental]
# Zed marks the Linux-bridge mechanism driver and agent experimental; they must be asked for.
linuxbridge = true
EOF
  cat >"$S/ml2_conf.ini" <<EOF
[ml2]
type_drivers = flat
tenant_network_types =
mechanism_drivers = linuxbridge
extension_drivers = port_security
[ml2_type_flat]
flat_networks = physnet1
[securitygroup]
# moat drops spoofed source MACs itself; no iptables/ebtables rules on this host.
enable_security_group = false
firewall_driver = noop
EOF

  cat >"$S/rabbitmq/rabbitmq.conf" <<EOF
listeners.tcp.default = 127.0.0.1:$P_AMQP
default_user = openstack
default_pass = $RABBIT_PASS
loopback_users = none
log.file.level = info
EOF
  echo '[].' >"$S/rabbitmq/enabled_plugins"
  : >"$S/rabbitmq/rabbitmq-env.conf"
}

write_host_configs() { # NAME: nova-compute's and the Linux-bridge agent's per-host files
  local h=$1 dbg; dbg=$(debug_line)
  mkdir -p "$S/hosts/$h/instances" "$S/hosts/$h/lock"
  cat >"$S/hosts/$h/nova-compute-host.conf" <<EOF
[DEFAULT]
host = $h
state_path = $S/hosts/$h
instances_path = $S/hosts/$h/instances
[oslo_concurrency]
lock_path = $S/hosts/$h/lock
EOF
  cat >"$S/hosts/$h/linuxbridge-agent.ini" <<EOF
[DEFAULT]
$dbg
host = $h
transport_url = $(transport_url)
state_path = $S/hosts/$h
[linux_bridge]
physical_interface_mappings = physnet1:$PHYS_IF
[vxlan]
enable_vxlan = false
[securitygroup]
enable_security_group = false
firewall_driver = noop
[oslo_concurrency]
lock_path = $S/hosts/$h/lock
[experimental]
linuxbridge = true
EOF
}

# ---------------------------------------------------------------- set-up jobs (run detached)
run_job() { # NAME: one set-up step; its exit status goes to log/job-NAME.rc
  local rc
  # Not `( ... ) || rc=$?`: errexit is off inside the left side of ||.
  set +e
  ( set -euo pipefail; "job_$1" )
  rc=$?
  set -e
  echo "$rc" >"$LOGS/job-$1.rc"
  return "$rc"
}
job_keystone() {
  local c=(--config-file "$S/keystone.conf")
  keystone-manage "${c[@]}" db_sync
  keystone-manage "${c[@]}" fernet_setup --keystone-user root --keystone-group root
  keystone-manage "${c[@]}" credential_setup --keystone-user root --keystone-group root
  keystone-manage "${c[@]}" bootstrap --bootstrap-password "$ADMIN_PASS" \
    --bootstrap-admin-url "http://127.0.0.1:$P_KEYSTONE/v3" \
    --bootstrap-internal-url "http://127.0.0.1:$P_KEYSTONE/v3" \
    --bootstrap-public-url "http://127.0.0.1:$P_KEYSTONE/v3" --bootstrap-region-id "$REGION"
}
job_glance() { glance-manage --config-file "$S/glance-api.conf" db_sync; }
job_placement() { OS_PLACEMENT_CONFIG_DIR=$S placement-manage --config-file "$S/placement.conf" db sync; }
job_nova() {
  local c=(--config-file "$S/nova.conf")
  nova-manage "${c[@]}" api_db sync
  nova-manage "${c[@]}" cell_v2 map_cell0 --database_connection "$(db_url nova_cell0)"
  nova-manage "${c[@]}" cell_v2 create_cell --name cell1 --verbose
  nova-manage "${c[@]}" db sync
}
job_neutron() {
  neutron-db-manage --config-file "$S/neutron.conf" --config-file "$S/ml2_conf.ini" upgrade heads
}

# ---------------------------------------------------------------- up
check_ports() {
  local p taken=()
  for p in "${PORTS[@]}"; do
    [ -z "$(ss -Hltn "sport = :$p")" ] || taken+=("$p")
  done
  ((${#taken[@]} == 0)) ||
    die "port(s) ${taken[*]} already in use (ss -ltnp shows by whom); another cloud running? cloud.sh down STATE_DIR"
}

install_driver() { # copies nova_moat/ into Nova's namespace as nova.virt.moat
  local src=$HERE/nova_moat dst
  [ -d "$src" ] || return 0
  dst=$($PY -c 'import nova.virt,os;print(os.path.dirname(nova.virt.__file__))')/moat
  rm -rf "$dst"
  mkdir -p "$dst"
  (cd "$src" && tar --exclude=__pycache__ -cf - .) | tar -C "$dst" -xf -
  chmod -R u=rwX,go=rX "$dst"
}

identity_setup() { # service project, users, services and endpoints (Keystone must answer)
  OS_PASSWORD=$ADMIN_PASS SERVICE_PASS=$SERVICE_PASS $PY - \
    "$P_KEYSTONE" "$P_GLANCE" "$P_PLACEMENT" "$P_NOVA" "$P_NEUTRON" "$REGION" <<'PY'
import os, sys, openstack
ks, gl, pl, nv, ne, region = sys.argv[1:]
c = openstack.connect(auth_url=f"http://127.0.0.1:{ks}/v3", username="admin",
                      password=os.environ["OS_PASSWORD"], project_name="admin",
                      user_domain_name="Default", project_domain_name="Default",
                      region_name=region)
svc = c.identity.create_project(name="service", domain_id="default")
admin = c.identity.find_role("admin", ignore_missing=False)
for name in ("glance", "placement", "nova", "neutron"):
    u = c.identity.create_user(name=name, password=os.environ["SERVICE_PASS"],
                               domain_id="default", default_project_id=svc.id)
    c.identity.assign_project_role_to_user(svc, u, admin)
for name, typ, url in (("glance", "image", f"http://127.0.0.1:{gl}"),
                       ("placement", "placement", f"http://127.0.0.1:{pl}"),
                       ("nova", "compute", f"http://127.0.0.1:{nv}/v2.1"),
                       ("neutron", "network", f"http://127.0.0.1:{ne}")):
    s = c.identity.create_service(name=name, type=typ)
    for iface in ("public", "internal"):
        c.identity.create_endpoint(service_id=s.id, interface=iface, url=url, region_id=region)
PY
}

network_setup() { # the shared flat provider network on physnet1; prints NETWORK_ID SUBNET_ID
  OS_PASSWORD=$ADMIN_PASS $PY - "$P_KEYSTONE" "$REGION" "$SUBNET_CIDR" <<'PY'
import os, sys, openstack
ks, region, cidr = sys.argv[1:]
c = openstack.connect(auth_url=f"http://127.0.0.1:{ks}/v3", username="admin",
                      password=os.environ["OS_PASSWORD"], project_name="admin",
                      user_domain_name="Default", project_domain_name="Default",
                      region_name=region)
net = c.network.create_network(name="physnet1", shared=True, provider_network_type="flat",
                               provider_physical_network="physnet1",
                               port_security_enabled=False)
sub = c.network.create_subnet(name="physnet1-v4", network_id=net.id, ip_version=4, cidr=cidr,
                              enable_dhcp=False, gateway_ip=None)
print(net.id, sub.id)
PY
}

computes_ready() { # all compute hosts: a compute node whose resource provider has inventory
  local n
  n=$(sql -e "SELECT COUNT(DISTINCT cn.host) FROM nova.compute_nodes cn
    JOIN placement.resource_providers rp ON rp.uuid = cn.uuid
    WHERE cn.deleted = 0 AND cn.host IN ($HOSTS_SQL)
      AND EXISTS (SELECT 1 FROM placement.inventories i WHERE i.resource_provider_id = rp.id)")
  [ "$n" = "${#HOSTS[@]}" ]
}
computes_up() { # every nova-compute service row reported within service_down_time
  local n
  n=$(sql -e "SELECT COUNT(*) FROM nova.services WHERE deleted = 0 AND \`binary\` = 'nova-compute'
    AND host IN ($HOSTS_SQL) AND COALESCE(updated_at, created_at) > UTC_TIMESTAMP() - INTERVAL 60 SECOND")
  [ "$n" = "${#HOSTS[@]}" ]
}
agents_alive() {
  local n
  n=$(sql -e "SELECT COUNT(*) FROM neutron.agents WHERE agent_type = 'Linux bridge agent'
    AND host IN ($HOSTS_SQL) AND heartbeat_timestamp > UTC_TIMESTAMP() - INTERVAL 75 SECOND")
  [ "$n" = "${#HOSTS[@]}" ]
}
hosts_mapped() {
  local n
  n=$(sql -e "SELECT COUNT(*) FROM nova_api.host_mappings WHERE host IN ($HOSTS_SQL)")
  [ "$n" = "${#HOSTS[@]}" ]
}

memory_mb() { # RSS and PSS (shared pages split) of every process `up` started: "RSS PSS" MiB
  local f p rss=0 pss=0 kb
  for f in "$PIDS"/*.pid; do
    [ -e "$f" ] || continue
    for p in $(ps -o pid= -g "$(cat "$f")" 2>/dev/null); do
      kb=$(awk '/^Rss:/ {r=$2} /^Pss:/ {s=$2} END {print r+0, s+0}' "/proc/$p/smaps_rollup" 2>/dev/null) ||
        continue
      rss=$((rss + ${kb% *})) pss=$((pss + ${kb#* }))
    done
  done
  echo $((rss / 1024)) $((pss / 1024))
}

# The provider network's uplink: a dummy interface, or where the kernel has no dummy driver (some
# VM kernels) one end of a veth pair whose other end goes nowhere. No addresses, IPv6 included,
# so nothing on this host speaks on the guests' network.
make_phys_if() {
  local devs=("$PHYS_IF") d
  if ! ip link add "$PHYS_IF" type dummy 2>/dev/null; then
    ip link add "$PHYS_IF" type veth peer name "${PHYS_IF}p" ||
      die "cannot create $PHYS_IF (neither a dummy nor a veth interface)"
    devs+=("${PHYS_IF}p")
  fi
  for d in "${devs[@]}"; do
    ip link set dev "$d" addrgenmode none
    ip link set dev "$d" up
  done
}

# The network's bridge, made before any agent or driver needs it, so that it never gets an
# address (an agent-made bridge gets an IPv6 link-local one and the host would answer neighbour
# solicitations on the guests' network). The Linux-bridge agent adopts an existing bridge of the
# name it expects (brq + the network id's first 11 characters).
make_bridge() {
  echo "$1" >>"$S/netdevs"
  ip link add "$1" type bridge forward_delay 0 stp_state 0
  ip link set dev "$1" addrgenmode none
  ip link set dev "$PHYS_IF" master "$1"
  ip link set dev "$1" up
}

cmd_up() {
  [ $# -ge 1 ] || usage
  set_paths "$1"; shift
  DRIVER=moat.MoatDriver HOSTS=() EXTRAS=()
  while [ $# -gt 0 ]; do
    case $1 in
      --driver) [ $# -ge 2 ] || usage; DRIVER=$2; shift 2 ;;
      --compute)
        [ $# -ge 2 ] || usage
        local name=${2%%:*} extra=${2#*:}
        [[ $2 == *:* && $name =~ ^[a-z0-9][a-z0-9-]*$ ]] ||
          die "--compute wants NAME:EXTRA_CONF with NAME of a-z, 0-9 and -, got '$2'"
        [ -f "$extra" ] && [ -r "$extra" ] || die "--compute $name: no readable config file '$extra'"
        HOSTS+=("$name"); EXTRAS+=("$(readlink -f "$extra")"); shift 2 ;;
      *) usage ;;
    esac
  done
  ((${#HOSTS[@]} > 0)) || die "at least one --compute NAME:EXTRA_CONF is needed"
  [ "$(id -u)" = 0 ] || die "run as root (it creates an interface and bridges, runs the services)"
  [ "$(printf '%s\n' "${HOSTS[@]}" | sort -u | wc -l)" = "${#HOSTS[@]}" ] || die "compute names repeat"
  [ ${#SOCK} -lt 100 ] || die "STATE_DIR path too long for a unix socket: $S"
  # Other files may be there (the caller's EXTRA_CONFs, tokens); an earlier cloud may not.
  local f
  for f in secrets.env mysql pids netdevs; do
    [ ! -e "$S/$f" ] || die "$S held a cloud ($f): up wants a new STATE_DIR (cloud.sh down $S stops the old one; its files stay for reading)"
  done
  HOSTS_SQL=$(printf "'%s'," "${HOSTS[@]}"); HOSTS_SQL=${HOSTS_SQL%,}
  check_ports
  ! ip link show "$PHYS_IF" >/dev/null 2>&1 ||
    die "interface $PHYS_IF exists; another cloud running? cloud.sh down STATE_DIR"
  local t0; t0=$(now)

  mkdir -p "$S" "$PIDS" "$LOGS" "$S/mysql"
  rand() { head -c 18 /dev/urandom | base64 | tr -d '+/='; }
  cat >"$S/secrets.env" <<EOF
ADMIN_PASS=$(rand)
SERVICE_PASS=$(rand)
DB_PASS=$(rand)
RABBIT_PASS=$(rand)
EOF
  load_secrets
  write_configs
  local i
  for i in "${!HOSTS[@]}"; do write_host_configs "${HOSTS[$i]}"; done

  # The provider network's "physical" side: a dummy interface, no address. Recorded first so
  # `down` finds it whatever fails next.
  echo "$PHYS_IF" >>"$S/netdevs"
  make_phys_if

  # Message bus: our own epmd (so nothing outlives `down`) and a private RabbitMQ node.
  start epmd epmd -address 127.0.0.1 -port "$P_EPMD"
  wait_for epmd "epmd on 127.0.0.1:$P_EPMD" tcp_up "$P_EPMD"
  start rabbitmq env HOME="$S/rabbitmq" ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT="$P_EPMD" \
    RABBITMQ_NODENAME=moatcloud@localhost RABBITMQ_DIST_PORT="$P_ERLDIST" \
    RABBITMQ_CONF_ENV_FILE="$S/rabbitmq/rabbitmq-env.conf" \
    RABBITMQ_CONFIG_FILE="$S/rabbitmq/rabbitmq.conf" \
    RABBITMQ_ADVANCED_CONFIG_FILE="$S/rabbitmq/advanced.config" \
    RABBITMQ_ENABLED_PLUGINS_FILE="$S/rabbitmq/enabled_plugins" \
    RABBITMQ_MNESIA_BASE="$S/rabbitmq/mnesia" RABBITMQ_LOG_BASE="$S/rabbitmq/log" \
    RABBITMQ_PID_FILE="$S/rabbitmq/rabbit.pid" RABBITMQ_LOGS=- \
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
    /usr/lib/rabbitmq/bin/rabbitmq-server

  # Database: a private MariaDB on a unix socket only (skip-networking). Durability traded for
  # speed (the schema syncs are thousands of DDL statements): a test cloud is thrown away.
  mariadb-install-db --no-defaults --datadir="$S/mysql" --user=root \
    --auth-root-authentication-method=socket --skip-test-db >"$LOGS/mariadb-install.log" 2>&1 ||
    fail mariadb-install "mariadb-install-db failed"
  start mariadb mariadbd --no-defaults --datadir="$S/mysql" --socket="$SOCK" --skip-networking \
    --user=root --pid-file="$S/mysql/mariadb.pid" --log-error="$LOGS/mariadb.err" \
    --innodb-buffer-pool-size=32M --aria-pagecache-buffer-size=8M --key-buffer-size=8M \
    --innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 --skip-log-bin \
    --max-connections=1000 --character-set-server=utf8mb4
  wait_for mariadb "MariaDB on $SOCK" mariadb-admin --no-defaults -S "$SOCK" -uroot ping
  {
    echo "CREATE USER 'openstack'@'localhost' IDENTIFIED BY '$DB_PASS';"
    for i in keystone glance placement nova_api nova nova_cell0 neutron; do
      echo "CREATE DATABASE $i; GRANT ALL ON $i.* TO 'openstack'@'localhost';"
    done
  } | sql

  # Schema syncs in parallel (they are most of the set-up time); each service starts as soon as
  # its own schema is there.
  for i in keystone placement nova neutron glance; do job "$i"; done

  job_wait keystone
  start keystone uwsgi --ini "$S/keystone-uwsgi.ini"
  job_wait placement
  start placement uwsgi --ini "$S/placement-uwsgi.ini"
  wait_for keystone "Keystone on :$P_KEYSTONE" http_up "http://127.0.0.1:$P_KEYSTONE/v3"
  identity_setup >"$LOGS/identity-setup.log" 2>&1 || fail identity-setup "creating users and endpoints failed"
  wait_for rabbitmq "RabbitMQ on :$P_AMQP" tcp_up "$P_AMQP"
  wait_for placement "Placement on :$P_PLACEMENT" http_up "http://127.0.0.1:$P_PLACEMENT/"

  job_wait nova
  # Placement must answer before conductor and scheduler start.
  start nova-conductor nova-conductor --config-file "$S/nova.conf" --log-file "$LOGS/nova-conductor.log"
  start nova-scheduler nova-scheduler --config-file "$S/nova.conf" --log-file "$LOGS/nova-scheduler.log"
  start nova-api uwsgi --ini "$S/nova-api-uwsgi.ini"
  install_driver
  for i in "${!HOSTS[@]}"; do
    start "nova-compute-${HOSTS[$i]}" nova-compute --config-file "$S/nova-compute.conf" \
      --config-file "$S/hosts/${HOSTS[$i]}/nova-compute-host.conf" --config-file "${EXTRAS[$i]}" \
      --log-file "$LOGS/nova-compute-${HOSTS[$i]}.log"
  done

  job_wait neutron
  start neutron-server neutron-server --config-file "$S/neutron.conf" --config-file "$S/ml2_conf.ini" \
    --log-file "$LOGS/neutron-server.log"
  job_wait glance
  start glance-api glance-api --config-file "$S/glance-api.conf" --log-file "$LOGS/glance-api.log"
  wait_for neutron-server "Neutron on :$P_NEUTRON" http_up "http://127.0.0.1:$P_NEUTRON/"
  for i in "${HOSTS[@]}"; do
    start "linuxbridge-agent-$i" neutron-linuxbridge-agent --config-file "$S/hosts/$i/linuxbridge-agent.ini" \
      --log-file "$LOGS/linuxbridge-agent-$i.log"
  done
  local ids
  ids=$(network_setup 2>"$LOGS/network-setup.log") || fail network-setup "creating the provider network failed"
  NETWORK_ID=${ids% *} SUBNET_ID=${ids#* }
  make_bridge "brq${NETWORK_ID:0:11}"

  wait_for nova-api "Nova API on :$P_NOVA" http_up "http://127.0.0.1:$P_NOVA/"
  wait_for glance-api "Glance on :$P_GLANCE" http_up "http://127.0.0.1:$P_GLANCE/"
  local computes agents
  computes=$(printf 'nova-compute-%s ' "${HOSTS[@]}") agents=$(printf 'linuxbridge-agent-%s ' "${HOSTS[@]}")
  wait_for "$computes" "every nova-compute's service up" computes_up
  wait_for "$computes" "every compute node with its inventory in Placement" computes_ready
  nova-manage --config-file "$S/nova.conf" cell_v2 discover_hosts --verbose \
    >"$LOGS/discover-hosts.log" 2>&1 || fail discover-hosts "nova-manage cell_v2 discover_hosts failed"
  hosts_mapped || fail discover-hosts "compute hosts not mapped to cell1 after discover_hosts"
  wait_for "$agents" "a live Linux-bridge agent on every host" agents_alive
  for i in nova-conductor nova-scheduler neutron-server; do
    alive "$i" || fail "$i" "$i exited"
  done

  cat >"$S/admin-openrc" <<EOF
export OS_AUTH_URL=http://127.0.0.1:$P_KEYSTONE/v3
export OS_IDENTITY_API_VERSION=3
export OS_USERNAME=admin
export OS_PASSWORD=$ADMIN_PASS
export OS_PROJECT_NAME=admin
export OS_USER_DOMAIN_NAME=Default
export OS_PROJECT_DOMAIN_NAME=Default
export OS_REGION_NAME=$REGION
export OS_INTERFACE=public
EOF
  cat >"$S/cloud.env" <<EOF
STATE_DIR=$S
COMPUTE_HOSTS="${HOSTS[*]}"
COMPUTE_DRIVER=$DRIVER
NETWORK_ID=$NETWORK_ID
NETWORK_NAME=physnet1
SUBNET_ID=$SUBNET_ID
SUBNET_CIDR=$SUBNET_CIDR
PHYSNET=physnet1
PHYS_IF=$PHYS_IF
BRIDGE=brq${NETWORK_ID:0:11}
KEYSTONE_URL=http://127.0.0.1:$P_KEYSTONE/v3
GLANCE_URL=http://127.0.0.1:$P_GLANCE
PLACEMENT_URL=http://127.0.0.1:$P_PLACEMENT
NOVA_URL=http://127.0.0.1:$P_NOVA/v2.1
NEUTRON_URL=http://127.0.0.1:$P_NEUTRON
MYSQL_SOCKET=$SOCK
LOG_DIR=$LOGS
EOF
  local t1 mem; t1=$(now) mem=$(memory_mb)
  printf 'cloud.sh: up in %.0f s (compute hosts: %s); its processes hold %s MiB RSS, %s MiB PSS\n' \
    "$(awk "BEGIN{print $t1 - $t0}")" "${HOSTS[*]}" "${mem% *}" "${mem#* }"
}

# ---------------------------------------------------------------- down
cmd_down() {
  [ $# -eq 1 ] || usage
  set_paths "$1"
  [ "$(id -u)" = 0 ] || die "run as root"
  local pg groups=()
  # The groups the pid files name, each only if it is still this cloud's: its leader alive and
  # started when ours did, or its leader gone but members left (the kernel gives no new process
  # a number a group still holds). Not an environment marker: uwsgi and setproctitle write over
  # /proc/PID/environ.
  local f
  for f in "$PIDS"/*.pid; do
    [ -e "$f" ] || continue
    pg=$(cat "$f")
    [[ $pg =~ ^[0-9]+$ ]] && kill -0 -- "-$pg" 2>/dev/null || continue
    if [ -e "/proc/$pg" ] && [ "$(starttime "$pg")" != "$(cat "${f%.pid}.start" 2>/dev/null)" ]; then
      continue
    fi
    groups+=("$pg")
  done
  # Every group at once, 5 s to go, then KILL: a test cloud keeps nothing worth an orderly stop
  # (neutron-server and uwsgi would otherwise wait up to a minute for their workers).
  for pg in "${groups[@]}"; do kill -TERM -- "-$pg" 2>/dev/null || true; done
  local end=$(( $(date +%s) + 5 )) left
  while :; do
    left=()
    for pg in "${groups[@]}"; do
      if kill -0 -- "-$pg" 2>/dev/null; then left+=("$pg"); fi
    done
    ((${#left[@]} == 0)) && break
    if (( $(date +%s) >= end )); then
      for pg in "${left[@]}"; do kill -KILL -- "-$pg" 2>/dev/null || true; done
      break
    fi
    sleep 0.2
  done
  # privsep helpers started through sudo run in their own session; they name our configs.
  local p
  for p in /proc/[0-9]*; do
    tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q "privsep-helper --config-file $S/" &&
      kill -KILL "${p#/proc/}" 2>/dev/null || true
  done
  rm -f "$PIDS"/*.pid "$PIDS"/*.start
  [ -d "$PIDS" ] && rmdir "$PIDS" 2>/dev/null || true
  # The uplink interface, any bridge it was put in, and the bridge `up` made.
  local dev br
  for dev in $(cat "$S/netdevs" 2>/dev/null); do
    ip link show "$dev" >/dev/null 2>&1 || continue
    br=$(ip -o link show "$dev" | sed -n 's/.* master \(brq[^ ]*\) .*/\1/p')
    ip link del "$dev" 2>/dev/null || true
    if [ -n "$br" ]; then ip link del "$br" 2>/dev/null || true; fi
  done
  echo "cloud.sh: down ($S)"
}

case ${1:-} in
  up) shift; cmd_up "$@" ;;
  down) shift; cmd_down "$@" ;;
  _job) set_paths "$3"; load_secrets; run_job "$2" ;;
  *) usage ;;
esac
