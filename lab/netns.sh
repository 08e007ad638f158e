#!/usr/bin/env bash
# The reference lab of LAB.md in network namespaces on this machine (root, iproute2, the repo built
# with `pnpm build`). See lab/README.md.
#
#   lab/netns.sh up        create the namespaces and links, start gdoi-ks and three gdoi-gm, print the GMs' status
#   lab/netns.sh test      prove the lab works (registration, ESP on Middle-Man with one SPI, tshark
#                          decryption, no loss across a TEK rekey, clear traffic outside the ACL, MTU,
#                          status counters, routing removed on shutdown); exit status 0 only if all pass
#   lab/netns.sh checks    the checks shared with the Docker lab (lab/lib/checks.sh) against this lab
#   lab/netns.sh status    the key server's and the GMs' status
#   lab/netns.sh down      stop the daemons this lab started (PID files) and delete its namespaces
#
#                        KEYS-1 (gdoi-ks) 10.0.0.2
#                              | 10.0.0.0/24
#   site1 10.1.1.2 --- GM-1 ---+--- Middle-Man (plain forwarding) ---+--- GM-3 --- site3 10.1.3.2
#     LAN 10.1.1.0/24   wan 10.0.1.2      10.0.1.1 / .2.1 / .3.1      10.0.3.2   LAN 10.1.3.0/24
#                                          |
#                                 GM-2 10.0.2.2 --- site2 10.1.2.2 (LAN 10.1.2.0/24)
#   Each LAN also has 10.2.N.0/24 (GM .1, site host .2): outside the ACL, it crosses in clear.
#
# Environment: GDOI_LAB_ID (default "lab"; namespaces are gdoi-<id>-ks, -mm, -gm1..3, -site1..3, so
# several labs can run side by side), GDOI_LAB_RUN (run directory, default /run/gdoi-<id>: configs,
# logs, PID files, control sockets, key logs, captures; removed by `down`), GDOI_LAB_DATAPLANE=baseline (GMs
# without TUN offloads and ESP socket), GDOI_LAB_TRANSFORM (the
# group's TEK transform in the key server's IOS words, default the ks.yaml one "esp-aes 256 esp-sha-hmac";
# e.g. "esp-gcm 256" for ESP AES-256-GCM-16 with RFC 6054 sender IDs; the GMs take it from the KS).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LAB_ID=${GDOI_LAB_ID:-lab}
if [[ ! $LAB_ID =~ ^[a-z0-9]{1,12}$ ]]; then
  echo "netns.sh: GDOI_LAB_ID must be 1-12 lowercase letters or digits" >&2
  exit 2
fi
P=gdoi-$LAB_ID
RUN=${GDOI_LAB_RUN:-/run/gdoi-$LAB_ID}
# GDOI_LAB_CONFIG: a directory whose ks.yaml, gm1..3.yaml replace lab/config's (lab/faults.sh: lab/config/faults)
CONFIG_DIR=${GDOI_LAB_CONFIG:-$REPO/lab/config}
NS_KS=$P-ks
NS_MM=$P-mm
GMS=(1 2 3)
ALL_NS=("$NS_KS" "$NS_MM")
for n in "${GMS[@]}"; do ALL_NS+=("$P-gm$n" "$P-site$n"); done
KS_ADDR=10.0.0.2
KS_BIN=$REPO/packages/ks-daemon/bin/gdoi-ks.js
# Every daemon serves Prometheus metrics on its own namespace's loopback (the test scrapes them).
METRICS=127.0.0.1:9848
GM_BIN=$REPO/packages/gm-daemon/bin/gdoi-gm.js
NODE=${NODE:-node}

# say die nsx ns_exists veth sysctl_ns wait_for start_daemon stop_pidfile (shared with lab/cluster.sh)
# shellcheck source=lab/lib/netns.sh
source "$REPO/lab/lib/netns.sh"
gm_ns() { echo "$P-gm$1"; }
site_ns() { echo "$P-site$1"; }
site_addr() { echo "10.1.$1.2"; }
clear_addr() { echo "10.2.$1.2"; }

need_root() {
  [ "$(id -u)" = 0 ] || die "needs root (network namespaces, TUN devices, UDP port 848)"
  ip netns list >/dev/null 2>&1 || die "'ip netns' does not work here (iproute2 missing or no permission)"
}

# ---- up ------------------------------------------------------------------------------------------

gm_json() { "$NODE" "$GM_BIN" status --json --socket "$RUN/gm$1.sock"; }
ks_json() { "$NODE" "$KS_BIN" status --json --socket "$RUN/ks.sock"; }
gm_registered() { [ "$(gm_json "$1" | jq -r '.registration.status')" = Registered ]; }

cmd_up() {
  need_root
  command -v jq >/dev/null || die "jq is needed"
  [ -f "$REPO/packages/ks-daemon/dist/cli.js" ] && [ -f "$REPO/packages/gm-daemon/dist/cli.js" ] || die "build first: pnpm build"
  [ -f "$REPO/packages/gm-daemon/build/Release/gdoi_native.node" ] || say "note: the gm-daemon addon is not built (TUN needs it): pnpm install / node packages/gm-daemon/native/build.mjs"
  if [ -S "$RUN/ks.sock" ] && ns_exists "$NS_KS" && ks_json >/dev/null 2>&1; then
    say "the lab '$LAB_ID' is up already (lab/netns.sh down to stop it)"
    cmd_status
    return 0
  fi
  for ns in "${ALL_NS[@]}"; do ns_exists "$ns" && die "namespace $ns exists: a lab '$LAB_ID' is half up (lab/netns.sh down first)"; done
  [ -e "$RUN/ks.pid" ] && die "$RUN holds a lab (lab/netns.sh down first)"
  mkdir -p "$RUN/config"
  chmod 700 "$RUN"
  for f in ks gm1 gm2 gm3; do sed "s#/run/gdoi-lab#$RUN#g" "$CONFIG_DIR/$f.yaml" >"$RUN/config/$f.yaml"; done
  if [ -n "${GDOI_LAB_TRANSFORM:-}" ]; then
    [[ $GDOI_LAB_TRANSFORM =~ ^[a-z0-9][a-z0-9\ -]*$ ]] || die "GDOI_LAB_TRANSFORM: IOS transform words, e.g. 'esp-gcm 256'"
    sed -i "s#^\(    transform: \).*#\1$GDOI_LAB_TRANSFORM#" "$RUN/config/ks.yaml"
    grep -qxF "    transform: $GDOI_LAB_TRANSFORM" "$RUN/config/ks.yaml" || die "GDOI_LAB_TRANSFORM: no transform line in $CONFIG_DIR/ks.yaml"
    say "TEK transform: $GDOI_LAB_TRANSFORM"
  fi
  if [ "${GDOI_LAB_DATAPLANE:-}" = baseline ]; then
    # the GMs' data plane as it was before TUN offloads and the ESP socket (bench/strongswan-compare.sh
    # measures both): every packet read from and written to the TUN one by one
    for f in gm1 gm2 gm3; do
      sed -i "s#^\(  mtuBytes: .*\)\$#\1\n  offload: false#" "$RUN/config/$f.yaml"
      grep -q '^  offload: false' "$RUN/config/$f.yaml" || die "GDOI_LAB_DATAPLANE: no tun mtuBytes line in $CONFIG_DIR/$f.yaml"
      if grep -q '^dataPlane:' "$RUN/config/$f.yaml"; then sed -i "s#^dataPlane:.*#&\n  espSocket: false#" "$RUN/config/$f.yaml"
      else printf 'dataPlane:\n  espSocket: false\n' >>"$RUN/config/$f.yaml"; fi
    done
    say "GM data plane: baseline (no TUN offloads, ESP through the TUN)"
  fi

  say "creating namespaces ${P}-{ks,mm,gm1..3,site1..3}"
  add_namespaces "${ALL_NS[@]}"
  # KEYS-1 <-> Middle-Man
  veth "$NS_KS" eth0 "$NS_MM" ks
  ip -n "$NS_KS" addr add $KS_ADDR/24 dev eth0
  ip -n "$NS_MM" addr add 10.0.0.1/24 dev ks
  ip -n "$NS_KS" route add default via 10.0.0.1
  sysctl_ns "$NS_MM" net.ipv4.ip_forward=1
  for n in "${GMS[@]}"; do
    local gm site
    gm=$(gm_ns "$n")
    site=$(site_ns "$n")
    veth "$gm" wan "$NS_MM" "gm$n"
    ip -n "$gm" addr add "10.0.$n.2/24" dev wan
    ip -n "$NS_MM" addr add "10.0.$n.1/24" dev "gm$n"
    ip -n "$NS_MM" route add "10.1.$n.0/24" via "10.0.$n.2"
    ip -n "$NS_MM" route add "10.2.$n.0/24" via "10.0.$n.2"
    ip -n "$gm" route add default via "10.0.$n.1"
    sysctl_ns "$gm" net.ipv4.ip_forward=1
    # A hardened router's strict reverse-path filter: gdoi-gm must cope (it loosens the TUN and the WAN).
    sysctl_ns "$gm" net.ipv4.conf.all.rp_filter=1
    sysctl_ns "$gm" net.ipv4.conf.default.rp_filter=1
    veth "$gm" lan "$site" eth0
    ip -n "$gm" addr add "10.1.$n.1/24" dev lan
    ip -n "$gm" addr add "10.2.$n.1/24" dev lan
    ip -n "$site" addr add "$(site_addr "$n")/24" dev eth0
    ip -n "$site" addr add "$(clear_addr "$n")/24" dev eth0
    ip -n "$site" route add default via "10.1.$n.1"
  done

  say "starting gdoi-ks in $NS_KS"
  start_daemon ks "$NS_KS" "$NODE" "$KS_BIN" --config "$RUN/config/ks.yaml" --metrics "$METRICS"
  wait_for 20 "the key server's control socket" ks_json || { tail -n 20 "$RUN/ks.log" >&2; die "key server did not start (lab/netns.sh down to clean up)"; }
  for n in "${GMS[@]}"; do
    say "starting gdoi-gm GM-$n in $(gm_ns "$n")"
    start_daemon "gm$n" "$(gm_ns "$n")" "$NODE" "$GM_BIN" --config "$RUN/config/gm$n.yaml" --metrics "$METRICS"
  done
  for n in "${GMS[@]}"; do
    wait_for 40 "GM-$n registration" gm_registered "$n" || { tail -n 20 "$RUN/gm$n.log" >&2; die "GM-$n did not register (lab/netns.sh down to clean up)"; }
  done
  cmd_status
  say ""
  say "lab '$LAB_ID' is up: namespaces ${P}-*, run directory $RUN"
  say "  ping across the VPN : ip netns exec $(site_ns 1) ping 10.1.2.2"
  say "  watch Middle-Man    : ip netns exec $NS_MM tcpdump -ni any 'esp or udp port 848'"
  say "  check everything    : $0 test        stop: $0 down"
}

cmd_status() {
  need_root
  [ -S "$RUN/ks.sock" ] || die "the lab '$LAB_ID' is not up ($RUN/ks.sock missing)"
  echo "==================== KEYS-1 ($NS_KS): gdoi-ks status ===================="
  "$NODE" "$KS_BIN" status --socket "$RUN/ks.sock" || true
  for n in "${GMS[@]}"; do
    echo "==================== GM-$n ($(gm_ns "$n")): gdoi-gm status ===================="
    "$NODE" "$GM_BIN" status --socket "$RUN/gm$n.sock" || true
  done
}

# ---- down ----------------------------------------------------------------------------------------

cmd_down() {
  need_root
  local f ns
  # GMs first (they remove their routing and delete their phase-1 SAs at the key server), then the KS.
  for f in "$RUN"/gm*.pid "$RUN"/*.pid; do [ -e "$f" ] && stop_pidfile "$f"; done
  for ns in "${ALL_NS[@]}"; do
    if ns_exists "$ns"; then ip netns del "$ns" || say "cannot delete namespace $ns"; fi
  done
  if [ -d "$RUN" ]; then rm -rf "$RUN"; fi
  say "lab '$LAB_ID' is down"
}

# ---- the checks shared with the Docker lab (lab/lib/checks.sh) ---------------------------------

use_checks_lib() { # the helpers of lab/lib/checks.sh against this lab (also lab/faults.sh)
  [ -f "$REPO/lab/lib/checks.sh" ] || die "lab/lib/checks.sh missing"
  LAB_NAME="netns lab '$LAB_ID'"
  # shellcheck source=lab/lib/checks.sh
  source "$REPO/lab/lib/checks.sh" # redefines gm_json, ks_json, ping_ok … for this run only
  lab_use_prefix "ip netns exec $P-%s"
  lab_gm_status() { local n=$1; shift; "$NODE" "$GM_BIN" status --socket "$RUN/gm$n.sock" "$@"; }
  lab_ks_status() { "$NODE" "$KS_BIN" status --socket "$RUN/ks.sock" "$@"; }
  lab_ks_rekey() { "$NODE" "$KS_BIN" rekey --group "$LAB_GROUP" --socket "$RUN/ks.sock"; }
  lab_logs() { cat "$RUN/$1.log"; }
  lab_scrape() { scrape "$P-$1"; } # each daemon's --metrics on its namespace's loopback (netns-test.sh)
}

cmd_checks() {
  need_root
  [ -S "$RUN/ks.sock" ] || die "the lab '$LAB_ID' is not up (lab/netns.sh up)"
  use_checks_lib
  lab_run_checks
}

# ---- test ----------------------------------------------------------------------------------------

# shellcheck source=lab/netns-test.sh
source "$REPO/lab/netns-test.sh"

# lab/faults.sh sources this file for its functions only
[ "${GDOI_LAB_SOURCED:-}" = 1 ] && return 0

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  test) cmd_test ;;
  checks) cmd_checks ;;
  *)
    echo "usage: $0 up|test|checks|status|down   (root; GDOI_LAB_ID=<id> for a lab of your own)" >&2
    exit 2
    ;;
esac
