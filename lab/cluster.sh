#!/usr/bin/env bash
# Key-server redundancy on etcd, proven in network namespaces (root, iproute2, etcd-server, jq, ping;
# the repository built with `pnpm build`). README: packages/ks-daemon/README.md "Clustering on etcd".
#
#   lab/cluster.sh test   build the lab, run the scenario below, tear everything down; exit 0 only if all pass
#   lab/cluster.sh up     build the lab and leave it running (status: lab/cluster.sh status; stop: down)
#   lab/cluster.sh status the three key servers' `gdoi-ks status`
#   lab/cluster.sh down   stop what this lab started (by PID file) and delete its namespaces
#
#   etcd m1..m3 (gdoi-cl-etcd) 10.0.20.11-13          KS-1 10.0.11.2   KS-2 10.0.12.2   KS-3 10.0.13.2
#                  \                                    |                |                |
#                   +------------------ Middle-Man (gdoi-cl-mm, plain forwarding) --------+
#                                    /               |                \
#        site1 10.1.1.2 -- GM-1 10.0.31.2    GM-2 10.0.32.2 -- site2     GM-3 10.0.33.2 -- site3 10.1.3.2
#   Every GM lists the three key servers, each starting with a different one (GM-n registers with KS-n).
#
# The scenario (`test`), with continuous pings site1->site2, site2->site3, site3->site1 every 0.2 s:
#   1. one primary; every GM registered; the first scheduled TEK rekey reaches every GM;
#   2. SIGKILL the primary: another is primary within the lease TTL; the next scheduled rekey has a
#      higher SEQ and every GM accepts it;
#   3. SIGKILL one etcd member: the next rekey still reaches every GM;
#   4. cut the primary off from etcd (a blackhole route in its namespace; the GMs still reach it): it
#      stops being primary and sends nothing more; another primary sends the next rekey;
#   5. zero pings lost over 1-4;
#   6. restart every key server and every etcd member: the KEK, the TEKs and the SEQ survive, and the
#      next rekey (SEQ + 1) is accepted by every GM without re-registering.
# Namespaces are gdoi-cl-* (GDOI_LAB_ID=<id>: gdoi-<id>-cl-*); every process is started and stopped by
# PID; `down` runs on exit. The namespace helpers are lab/lib/netns.sh's, shared with lab/netns.sh.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# GDOI_LAB_ID=<id>: namespaces gdoi-<id>-cl-*, run directory /run/gdoi-<id>-cl (a lab of one's own).
if [ -n "${GDOI_LAB_ID:-}" ]; then
  [[ $GDOI_LAB_ID =~ ^[a-z0-9]{1,12}$ ]] || { echo "cluster.sh: GDOI_LAB_ID must be 1-12 lowercase letters or digits" >&2; exit 2; }
  P=gdoi-$GDOI_LAB_ID-cl
else
  P=gdoi-cl
fi
RUN=${GDOI_CL_RUN:-/run/$P}
TTL=${GDOI_CL_TTL:-5}              # store.leaseTtlSec
TEK_LIFE=${GDOI_CL_TEK_LIFE:-45}   # TEK rekey every 30 s (lead = lifetime/3)
NS_MM=$P-mm
NS_ETCD=$P-etcd
KSS=(1 2 3)
GMS=(1 2 3)
ALL_NS=("$NS_MM" "$NS_ETCD")
for n in "${KSS[@]}"; do ALL_NS+=("$P-ks$n"); done
for n in "${GMS[@]}"; do ALL_NS+=("$P-gm$n" "$P-site$n"); done
KS_BIN=$REPO/packages/ks-daemon/bin/gdoi-ks.js
GM_BIN=$REPO/packages/gm-daemon/bin/gdoi-gm.js
NODE=${NODE:-node}
ETCD=${ETCD:-etcd}
GROUP=GETVPN-GRP

# say die nsx ns_exists veth sysctl_ns wait_for start_daemon stop_pidfile (shared with lab/netns.sh)
# shellcheck source=lab/lib/netns.sh
source "$REPO/lab/lib/netns.sh"
ks_addr() { echo "10.0.1$1.2"; }
gm_addr() { echo "10.0.3$1.2"; }
etcd_addr() { echo "10.0.20.1$1"; }
now_ms() { date +%s%3N; }

start_bg() { # start_bg NAME NS ARGS...: start_daemon, not a job of this shell (the test's `wait`s)
  start_daemon "$@"
  disown $!
}
pid_of() { cat "$RUN/$1.pid" 2>/dev/null || true; }
stop_pid() { stop_pidfile "$RUN/$1.pid" "${2:-TERM}"; } # stop_pid NAME [SIGNAL]

ks_json() { "$NODE" "$KS_BIN" status --json --socket "$RUN/ks$1.sock" 2>/dev/null; }
gm_json() { "$NODE" "$GM_BIN" status --json --socket "$RUN/gm$1.sock" 2>/dev/null; }
ks_role() { ks_json "$1" | jq -r '.cluster.role // "down"' 2>/dev/null || echo down; }
gm_seq() { gm_json "$1" | jq -r '.rekeys.lastSeq // 0' 2>/dev/null || echo 0; }
gm_registered() { [ "$(gm_json "$1" | jq -r '.registration.status')" = Registered ]; }

primary() { # the number of the KS that says it is primary (empty if none or several)
  local n found=()
  for n in "${KSS[@]}"; do
    [ -e "$RUN/ks$n.pid" ] || continue
    [ "$(ks_role "$n")" = primary ] && found+=("$n")
  done
  [ ${#found[@]} -eq 1 ] && echo "${found[0]}"
  return 0
}
has_primary() { [ -n "$(primary)" ]; }
all_gms_seq_ge() { local n; for n in "${GMS[@]}"; do [ "$(gm_seq "$n")" -ge "$1" ] || return 1; done; }

# ---- configuration -------------------------------------------------------------------------------

write_configs() {
  local n endpoints
  endpoints="[http://$(etcd_addr 1):2379, http://$(etcd_addr 2):2379, http://$(etcd_addr 3):2379]"
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$RUN/store.key"
  chmod 600 "$RUN/store.key"
  for n in "${KSS[@]}"; do
    cat >"$RUN/ks$n.yaml" <<EOF
# gdoi-ks KS-$n of lab/cluster.sh (LAB ONLY: the pre-shared key is public)
listen: { address: $(ks_addr "$n"), port: 848 }
stateDir: $RUN/ks$n
controlSocket: $RUN/ks$n.sock
log: { level: info, format: json }
ike:
  policies:
    - { priority: 10, encryption: aes-256, hash: sha1, group: 5, authentication: pre-share, lifetimeSec: 86400 }
  preSharedKeys:
    - { peer: any, key: GETVPN-CLUSTER-LAB-KEY }
groups:
  - name: $GROUP
    identity: { number: 1234 }
    acl:
      - { action: deny, protocol: udp, source: any, sourcePort: 848, destination: any, destinationPort: 848 }
      - { action: permit, protocol: ip, source: 10.1.0.0/16, destination: 10.1.0.0/16 }
    transform: esp-aes 256 esp-sha-hmac
    tekLifetimeSec: $TEK_LIFE
    gap: { activationDelaySec: 5, deactivationDelaySec: 20 }
    kek: { algorithm: aes-256-cbc, lifetimeSec: 3600 }
    rekey:
      transport: unicast
      retransmitPeriodSec: 2
      retransmitCount: 2
      signingKey: { generate: { bits: 2048, label: REKEYRSA } }
      ack: rfc8263
store:
  kind: etcd
  endpoints: $endpoints
  prefix: /gdoi-cl/
  keyEncryptionKey: { file: $RUN/store.key }
  leaseTtlSec: $TTL
  instanceName: ks$n
  requestTimeoutSec: 1
EOF
  done
  for n in "${GMS[@]}"; do
    local a b c
    a=$(ks_addr "$n")
    b=$(ks_addr $(((n % 3) + 1)))
    c=$(ks_addr $((((n + 1) % 3) + 1)))
    cat >"$RUN/gm$n.yaml" <<EOF
# gdoi-gm GM-$n of lab/cluster.sh (LAB ONLY)
group: { name: $GROUP, identity: { number: 1234 } }
keyServers: [$a, $b, $c]
local: { address: $(gm_addr "$n"), port: 848 }
interface: wan
tun: { name: gdoi0, mtuBytes: 1400 }
controlSocket: $RUN/gm$n.sock
log: { level: info, format: json }
reregister: { beforeExpirySec: 10, jitterSec: 5 }
ike:
  policies:
    - { priority: 10, encryption: aes-256, hash: sha1, group: 5, authentication: pre-share }
  preSharedKeys:
    - { peer: 10.0.0.0/8, key: GETVPN-CLUSTER-LAB-KEY }
EOF
  done
}

# ---- etcd ----------------------------------------------------------------------------------------

start_etcd() { # start_etcd N new|existing
  local n=$1 state=$2 cluster
  cluster="m1=http://$(etcd_addr 1):2380,m2=http://$(etcd_addr 2):2380,m3=http://$(etcd_addr 3):2380"
  start_bg "etcd$n" "$NS_ETCD" "$ETCD" --name "m$n" --data-dir "$RUN/etcd/m$n" \
    --listen-client-urls "http://$(etcd_addr "$n"):2379" --advertise-client-urls "http://$(etcd_addr "$n"):2379" \
    --listen-peer-urls "http://$(etcd_addr "$n"):2380" --initial-advertise-peer-urls "http://$(etcd_addr "$n"):2380" \
    --initial-cluster "$cluster" --initial-cluster-state "$state" --initial-cluster-token gdoi-cl \
    --heartbeat-interval 100 --election-timeout 1000 --logger zap --log-level warn
}

etcd_healthy() {
  ETCDCTL_API=3 nsx "$NS_ETCD" etcdctl --command-timeout=1s \
    --endpoints "http://$(etcd_addr 1):2379,http://$(etcd_addr 2):2379,http://$(etcd_addr 3):2379" endpoint health >/dev/null 2>&1
}

# ---- up / down -----------------------------------------------------------------------------------

cmd_up() {
  [ "$(id -u)" = 0 ] || die "needs root (network namespaces, TUN devices, UDP port 848)"
  command -v jq >/dev/null || die "jq is needed (scripts/setup-debian.sh)"
  command -v "$ETCD" >/dev/null || die "etcd is needed: apt-get install etcd-server etcd-client (scripts/setup-debian.sh)"
  [ -f "$REPO/packages/ks-daemon/dist/store/etcd-store.js" ] && [ -f "$REPO/packages/gm-daemon/dist/cli.js" ] || die "build first: pnpm build"
  for ns in "${ALL_NS[@]}"; do ns_exists "$ns" && die "namespace $ns exists: lab/cluster.sh down first"; done
  mkdir -p "$RUN/etcd"
  chmod 700 "$RUN"
  write_configs

  say "creating namespaces $P-{mm,etcd,ks1..3,gm1..3,site1..3}"
  add_namespaces "${ALL_NS[@]}"
  sysctl_ns "$NS_MM" net.ipv4.ip_forward=1
  veth "$NS_ETCD" eth0 "$NS_MM" etcd
  for n in 1 2 3; do ip -n "$NS_ETCD" addr add "$(etcd_addr "$n")/24" dev eth0; done
  ip -n "$NS_MM" addr add 10.0.20.1/24 dev etcd
  ip -n "$NS_ETCD" route add default via 10.0.20.1
  for n in "${KSS[@]}"; do
    veth "$P-ks$n" eth0 "$NS_MM" "ks$n"
    ip -n "$P-ks$n" addr add "$(ks_addr "$n")/24" dev eth0
    ip -n "$NS_MM" addr add "10.0.1$n.1/24" dev "ks$n"
    ip -n "$P-ks$n" route add default via "10.0.1$n.1"
  done
  for n in "${GMS[@]}"; do
    local gm=$P-gm$n site=$P-site$n
    veth "$gm" wan "$NS_MM" "gm$n"
    ip -n "$gm" addr add "$(gm_addr "$n")/24" dev wan
    ip -n "$NS_MM" addr add "10.0.3$n.1/24" dev "gm$n"
    ip -n "$NS_MM" route add "10.1.$n.0/24" via "$(gm_addr "$n")"
    ip -n "$gm" route add default via "10.0.3$n.1"
    sysctl_ns "$gm" net.ipv4.ip_forward=1
    veth "$gm" lan "$site" eth0
    ip -n "$gm" addr add "10.1.$n.1/24" dev lan
    ip -n "$site" addr add "10.1.$n.2/24" dev eth0
    ip -n "$site" route add default via "10.1.$n.1"
  done

  say "starting etcd m1..m3 in $NS_ETCD"
  for n in 1 2 3; do start_etcd "$n" new; done
  wait_for 30 "etcd" etcd_healthy || die "etcd did not start (see $RUN/etcd*.log)"
  for n in "${KSS[@]}"; do
    say "starting gdoi-ks KS-$n"
    start_bg "ks$n" "$P-ks$n" "$NODE" "$KS_BIN" --config "$RUN/ks$n.yaml"
    wait_for 30 "KS-$n" ks_json "$n" || { tail -n 20 "$RUN/ks$n.log" >&2; die "KS-$n did not start"; }
  done
  wait_for 20 "a primary" has_primary || die "no primary elected"
  for n in "${GMS[@]}"; do
    say "starting gdoi-gm GM-$n"
    start_bg "gm$n" "$P-gm$n" "$NODE" "$GM_BIN" --config "$RUN/gm$n.yaml"
  done
  for n in "${GMS[@]}"; do
    wait_for 40 "GM-$n registration" gm_registered "$n" || { tail -n 20 "$RUN/gm$n.log" >&2; die "GM-$n did not register"; }
  done
  say "lab up: primary KS-$(primary); run directory $RUN"
}

cmd_status() {
  local n
  for n in "${KSS[@]}"; do
    echo "==================== KS-$n ($P-ks$n) ===================="
    "$NODE" "$KS_BIN" status --socket "$RUN/ks$n.sock" 2>&1 | sed -n '/KEY SERVER REDUNDANCY/,/^$/p;/Key servers:/,/^$/p' || true
  done
}

cmd_down() {
  local f name ns
  for f in "$RUN"/ping*.pid "$RUN"/gm*.pid "$RUN"/ks*.pid "$RUN"/etcd*.pid; do
    [ -e "$f" ] || continue
    name=$(basename "$f" .pid)
    stop_pid "$name"
  done
  for ns in "${ALL_NS[@]}"; do
    if ns_exists "$ns"; then ip netns del "$ns" || say "cannot delete namespace $ns"; fi
  done
  if [ -d "$RUN" ] && [ -z "${GDOI_CL_KEEP:-}" ]; then rm -rf "$RUN"; fi
  say "cluster lab is down"
}

# ---- test ----------------------------------------------------------------------------------------

T_PASS=0
T_FAIL=0
ok() { T_PASS=$((T_PASS + 1)); echo "ok - $*"; }
notok() { T_FAIL=$((T_FAIL + 1)); echo "not ok - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else notok "$what"; fi; }
section() { echo "# --- $* ($(($(date +%s) - T0)) s)"; }

start_pings() {
  start_bg ping1 "$P-site1" ping -n -i 0.2 10.1.2.2
  start_bg ping2 "$P-site2" ping -n -i 0.2 10.1.3.2
  start_bg ping3 "$P-site3" ping -n -i 0.2 10.1.1.2
}

# Lost = echo requests below the highest answered icmp_seq that got no answer (requests still in flight
# when ping is stopped are not counted).
ping_lost() {
  local f=$1
  grep -o 'icmp_seq=[0-9]*' "$f" | cut -d= -f2 | sort -n | awk 'NR==1{min=$1} {seen[$1]=1; max=$1; n++} END {lost=0; for (i=1;i<=max;i++) if (!(i in seen)) lost++; printf "%d %d\n", lost, max}'
}

rekeys_sent() { ks_json "$1" | jq -r '.counters["rekey.sent"] // 0' 2>/dev/null || echo 0; }
group_field() { ks_json "$1" | jq -r ".groups[0].$2" 2>/dev/null; }

cmd_test() {
  T0=$(date +%s)
  trap 'cmd_down' EXIT
  cmd_up
  section "1. cluster up"
  local p seq n t_kill t_new ms
  p=$(primary)
  check "exactly one primary (KS-$p)" test -n "$p"
  for n in "${GMS[@]}"; do
    check "GM-$n registered with KS-$n ($(gm_json "$n" | jq -r '.registration.registeredWith'))" test "$(gm_json "$n" | jq -r '.registration.registeredWith')" = "$(ks_addr "$n")"
  done
  check "the primary lists 3 members (registered at 3 different key servers)" test "$(ks_json "$p" | jq '.groups[0].members | length')" = 3
  check "status shows 3 instances and 3 healthy etcd endpoints" test "$(ks_json "$p" | jq -r '"\(.cluster.instances | length),\([.cluster.store.endpoints[] | select(.healthy)] | length)"')" = "3,3"
  start_pings
  sleep 2
  check "pings cross the VPN (site1 -> site2)" test "$(ping_lost "$RUN/ping1.log" | cut -d' ' -f2)" -gt 3
  wait_for $((TEK_LIFE + 10)) "the first scheduled rekey at every GM" all_gms_seq_ge 1 && ok "first scheduled rekey (SEQ 1) accepted by every GM" || notok "first scheduled rekey"

  section "2. SIGKILL the primary KS-$p"
  seq=$(group_field "$p" seq)
  t_kill=$(now_ms)
  kill -KILL "$(pid_of "ks$p")"
  rm -f "$RUN/ks$p.pid"
  local killed=$p
  wait_for $((TTL + 10)) "a new primary" has_primary || true
  p=$(primary)
  # When the new primary won the election: its own log line (status polling adds its own delay).
  t_new=$(jq -r 'select(.event == "gdoi.cluster.primary" and .c == "store") | .time' "$RUN/ks$p.log" 2>/dev/null | tail -n 1)
  ms=$(($(date -d "$t_new" +%s%3N 2>/dev/null || now_ms) - t_kill))
  check "new primary KS-$p elected ${ms} ms after the kill (lease TTL ${TTL} s)" test -n "$p" -a "$ms" -le $((TTL * 1000))
  check "KS-$p continues from SEQ $seq" test "$(group_field "$p" seq)" -ge "$seq"
  wait_for $((TEK_LIFE + 10)) "the next scheduled rekey" all_gms_seq_ge $((seq + 1)) && ok "next scheduled rekey (SEQ $((seq + 1))) from KS-$p accepted by every GM" || notok "no rekey after the failover"
  for n in "${GMS[@]}"; do check "GM-$n rejected no push" test "$(gm_json "$n" | jq '[.rekeys.rejected | to_entries[] | select(.key != "duplicate") | .value] | add // 0')" = 0; done
  start_bg "ks$killed" "$P-ks$killed" "$NODE" "$KS_BIN" --config "$RUN/ks$killed.yaml"
  wait_for 30 "KS-$killed back" ks_json "$killed" && check "KS-$killed restarted as a follower" test "$(ks_role "$killed")" = follower

  section "3. SIGKILL etcd member m3"
  seq=$(group_field "$p" seq)
  stop_pid etcd3 KILL
  wait_for $((TEK_LIFE + 10)) "the next rekey with an etcd member down" all_gms_seq_ge $((seq + 1)) && ok "rekey SEQ $((seq + 1)) accepted by every GM with one etcd member down" || notok "no rekey with one etcd member down"
  check "still primary: KS-$p" test "$(primary)" = "$p"
  wait_for 15 "status to show the dead member" bash -c "[ \"\$($NODE $KS_BIN status --json --socket $RUN/ks$p.sock | jq '[.cluster.store.endpoints[] | select(.healthy | not)] | length')\" = 1 ]" && ok "status shows 1 unhealthy etcd endpoint" || notok "status does not show the dead etcd member"
  start_etcd 3 existing
  wait_for 30 "etcd m3 back" etcd_healthy || true

  section "4. partition the primary KS-$p from etcd (not from the GMs)"
  seq=$(group_field "$p" seq)
  local cut=$p sent_before
  ip -n "$P-ks$cut" route add blackhole 10.0.20.0/24
  t_kill=$(now_ms)
  wait_for $((TTL + 10)) "KS-$cut to step down" bash -c "[ \"\$($NODE $KS_BIN status --json --socket $RUN/ks$cut.sock | jq -r .cluster.role)\" = follower ]" || true
  ms=$(($(now_ms) - t_kill))
  check "partitioned KS-$cut stopped being primary after ${ms} ms" test "$(ks_role "$cut")" = follower
  check "KS-$cut shows etcd unavailable" test "$(ks_json "$cut" | jq -r .cluster.store.available)" = false
  sent_before=$(rekeys_sent "$cut")
  wait_for $((TTL + 10)) "another primary" has_primary || true
  p=$(primary)
  check "KS-$p is primary" test -n "$p" -a "$p" != "$cut"
  wait_for $((TEK_LIFE + 15)) "the next rekey after the partition" all_gms_seq_ge $((seq + 1)) && ok "rekey SEQ $((seq + 1)) from KS-$p accepted by every GM" || notok "no rekey after the partition"
  check "partitioned KS-$cut sent no rekey ($(rekeys_sent "$cut") = $sent_before)" test "$(rekeys_sent "$cut")" = "$sent_before"
  check "GM-1 got its last push from KS-$p" test "$(gm_json 1 | jq -r .rekeys.lastFrom)" = "$(ks_addr "$p")"
  ip -n "$P-ks$cut" route del blackhole 10.0.20.0/24
  wait_for 20 "KS-$cut to see etcd again" bash -c "[ \"\$($NODE $KS_BIN status --json --socket $RUN/ks$cut.sock | jq -r .cluster.store.available)\" = true ]" && ok "KS-$cut back in touch with etcd, follower" || notok "KS-$cut did not reconnect"

  section "5. pings"
  for n in 1 2 3; do stop_pid "ping$n" INT; done
  sleep 0.5
  for n in 1 2 3; do
    read -r lost sent < <(ping_lost "$RUN/ping$n.log")
    check "ping $n: $lost of $sent lost" test "$lost" = 0 -a "$sent" -gt 50
  done

  section "6. restart every key server and every etcd member"
  local kek teks
  seq=$(group_field "$p" seq)
  kek=$(group_field "$p" kek.spi)
  teks=$(ks_json "$p" | jq -c '[.groups[0].teks[].spi]')
  for n in "${KSS[@]}"; do stop_pid "ks$n"; done
  for n in 1 2 3; do stop_pid "etcd$n"; done
  for n in 1 2 3; do start_etcd "$n" existing; done
  wait_for 30 "etcd" etcd_healthy || notok "etcd did not come back"
  for n in "${KSS[@]}"; do start_bg "ks$n" "$P-ks$n" "$NODE" "$KS_BIN" --config "$RUN/ks$n.yaml"; done
  for n in "${KSS[@]}"; do wait_for 30 "KS-$n" ks_json "$n" || true; done
  wait_for 20 "a primary" has_primary || true
  p=$(primary)
  check "a primary after the restart (KS-$p)" test -n "$p"
  check "same KEK after the restart" test "$(group_field "$p" kek.spi)" = "$kek"
  # A scheduled rekey may fall due during the restart (the new primary sends it at once): never lower.
  local seq_after
  seq_after=$(group_field "$p" seq)
  check "SEQ survived ($seq -> $seq_after: not lower, at most one rekey more)" test "$seq_after" -ge "$seq" -a "$seq_after" -le $((seq + 1))
  seq=$seq_after
  local teks_after
  teks_after=$(ks_json "$p" | jq -c '[.groups[0].teks[].spi]')
  check "the live TEKs survived ($teks -> $teks_after)" bash -c "jq -n --argjson a '$teks' --argjson b '$teks_after' '(\$b - \$a | length) == 0 or (\$a - \$b | length) <= 1' | grep -q true"
  "$NODE" "$KS_BIN" rekey --group "$GROUP" --socket "$RUN/ks$p.sock" >/dev/null
  wait_for 15 "SEQ $((seq + 1))" all_gms_seq_ge $((seq + 1)) && ok "rekey SEQ $((seq + 1)) after the restart accepted by every GM" || notok "no rekey after the restart"
  for n in "${GMS[@]}"; do check "GM-$n did not re-register ($(gm_json "$n" | jq -r .registration.succeeded) registration)" test "$(gm_json "$n" | jq -r .registration.succeeded)" = 1; done
  echo "# scenario took $(($(date +%s) - T0)) s"
  echo "$T_PASS passed, $T_FAIL failed"
  [ "$T_FAIL" = 0 ]
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  test) cmd_test ;;
  *)
    echo "usage: $0 test|up|status|down   (root)" >&2
    exit 2
    ;;
esac
