#!/usr/bin/env bash
# Site-to-site throughput through two gdoi GMs against strongSwan 5.9 with its user-space ESP
# (kernel-libipsec: ESP in charon, cleartext through a TUN device), same topology, same cipher, same run.
#
#   gdoi       the netns lab (lab/netns.sh, GDOI_LAB_TRANSFORM = the cipher): site1 10.1.1.2 -> GM-1 ->
#              Middle-Man -> GM-2 -> site2 10.1.2.2; ESP in the GMs' user-space data plane
#   gdoi-base  a second lab with the GMs' data plane as before TUN offloads and the ESP socket
#              (GDOI_LAB_DATAPLANE=baseline): the before/after of that work, in the same run
#   strongSwan namespaces of its own with the lab's address plan: site1 10.1.1.2 -> gw1 (wan 10.0.1.2) ->
#              Middle-Man (10.0.1.1 / 10.0.2.1, no route to the sites) -> gw2 (wan 10.0.2.2) -> site2
#              10.1.2.2; one charon per gateway, IKEv2 PSK, a tunnel-mode CHILD_SA 10.1.1.0/24 <->
#              10.1.2.0/24 with the same ESP cipher; kernel-libipsec + kernel-netlink (routes only: this
#              kernel has no xfrm), crypto from the aesni/openssl/gcm plugins (AES-NI, as gdoi's OpenSSL)
#
# For each cipher (gcm = ESP AES-256-GCM-16, cbc = ESP AES-256-CBC + HMAC-SHA1-96): both set-ups up at
# once, then RUNS rounds of iperf3 TCP (one stream) and UDP (unlimited offered load, 1280-octet
# datagrams: what iperf3 received, and what the decrypting gateway delivered to site2's link), SECS
# seconds each, gdoi and strongSwan interleaved (the order alternates by round); medians, and the
# ratio gdoi / strongSwan. Beside each figure: the CPU time the two gateways' processes (GM-1 + GM-2,
# or both charons) used per GB that arrived (UDP: delivered), and the host's idle share.
#
#   sudo bench/strongswan-compare.sh [RUNS=5] [SECS=5] [CIPHERS="gcm cbc"]
#   sudo GDOI_SS_PERF=DIR bench/strongswan-compare.sh ...   # + one profiled run per cipher, system and
#        protocol after the measured ones (perf record of the two gateways' processes, JS frames named):
#        DIR/<cipher>-<system>-<proto>.{data,txt}, summaries printed after the table
#
# Root, iperf3, jq, a build (pnpm build). Installs strongSwan with apt-get when it is missing (Debian:
# strongswan strongswan-swanctl libcharon-extra-plugins libstrongswan-standard-plugins) and says so.
# Namespaces gdoi-ss<pid>-* (the lab) and gdoi-ss<pid>-sw-* (strongSwan), torn down at exit; only the
# processes this script started are stopped.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${1:-5}
SECS=${2:-5}
CIPHERS=${3:-gcm cbc}
UDP_LEN=1280 # fits both paths' MTU with the UDP/IP headers
# iperf3's UDP socket buffers (both ends; capped by net.core.rmem_max/wmem_max): with the default
# 208 KiB a receiving iperf3 that waits for a CPU overflows after ~90 datagrams, and the figure
# would measure that instead of the gateways
UDP_BUF=${GDOI_SS_UDP_BUF:-2M}
ID=ss$$
export GDOI_LAB_ID=$ID
export GDOI_LAB_RUN=/run/gdoi-$ID
LAB=gdoi-$ID      # the gdoi lab's namespaces: $LAB-site1, $LAB-gm1, ...
BASE_ID=${ID}b    # the baseline lab's (GDOI_LAB_DATAPLANE=baseline): gdoi-${ID}b-*
SYSTEMS=(gdoi gdoi-base strongswan)
SW=gdoi-$ID-sw    # strongSwan's: $SW-site1, $SW-gw1, $SW-mm, $SW-gw2, $SW-site2

# ---- cleanup: only what this script started ----------------------------------------------------

PIDS=() # iperf3 servers and charons
cleanup() {
  local p ns
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
  bash "$REPO/lab/netns.sh" down >/dev/null 2>&1 || true
  GDOI_LAB_ID=$BASE_ID GDOI_LAB_RUN=/run/gdoi-$BASE_ID bash "$REPO/lab/netns.sh" down >/dev/null 2>&1 || true
  for ns in site1 gw1 mm gw2 site2; do
    if [ -e "/run/netns/$SW-$ns" ]; then ip netns del "$SW-$ns" 2>/dev/null || true; fi
  done
}
PERF_MAPS=() # perf maps the profiled GMs wrote
WORK=
on_exit() {
  cleanup
  if [ -n "$WORK" ]; then rm -rf "$WORK"; fi
  if [ ${#PERF_MAPS[@]} -gt 0 ]; then rm -f "${PERF_MAPS[@]}"; fi
}
trap on_exit EXIT
trap 'exit 130' INT TERM

WORK=$(mktemp -d /tmp/gdoi-ss-XXXXXX)
chmod 700 "$WORK"
CHARON=/usr/lib/ipsec/charon
PSK_SW="gdoi-bench-strongswan-$$-$RANDOM$RANDOM" # LAB ONLY, never logged

declare -A IOS=([gcm]="esp-gcm 256" [cbc]="esp-aes 256 esp-sha-hmac")
declare -A SWP=([gcm]=aes256gcm16 [cbc]=aes256-sha1)
declare -A LABEL=([gcm]="AES-256-GCM-16" [cbc]="AES-256-CBC + HMAC-SHA1-96")

# say die veth wait_for: the netns labs' helpers
# shellcheck source=lab/lib/netns.sh
source "$REPO/lab/lib/netns.sh"

[ "$(id -u)" = 0 ] || die "needs root (network namespaces, TUN devices)"
[[ $RUNS =~ ^[1-9][0-9]*$ && $SECS =~ ^[1-9][0-9]*$ ]] || die "RUNS and SECS are positive integers"
for c in $CIPHERS; do [ -n "${IOS[$c]:-}" ] || die "unknown cipher '$c' (gcm, cbc)"; done
for tool in iperf3 jq ip unshare; do command -v $tool >/dev/null || die "$tool is needed (scripts/setup-debian.sh)"; done
[ -f "$REPO/packages/gm-daemon/dist/cli.js" ] || die "build first: pnpm build"

# ---- strongSwan installation -------------------------------------------------------------------

SW_PKGS=(strongswan strongswan-swanctl libcharon-extra-plugins libstrongswan-standard-plugins)
SW_PLUGINS=(kernel-libipsec kernel-netlink socket-default vici aesni openssl gcm)
sw_missing() {
  local p
  [ -x "$CHARON" ] && command -v swanctl >/dev/null || return 0
  for p in "${SW_PLUGINS[@]}"; do [ -f "/usr/lib/ipsec/plugins/libstrongswan-$p.so" ] || return 0; done
  return 1
}
if sw_missing; then
  say "strongSwan (charon, swanctl, kernel-libipsec, openssl/aesni/gcm plugins) is missing:"
  say "  installing with apt-get: ${SW_PKGS[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends "${SW_PKGS[@]}" >"$WORK/apt.log" 2>&1 ||
    { apt-get update -q >>"$WORK/apt.log" 2>&1 && apt-get install -y -q --no-install-recommends "${SW_PKGS[@]}" >>"$WORK/apt.log" 2>&1; } ||
    { tail -n 20 "$WORK/apt.log" >&2; die "apt-get install failed"; }
  sw_missing && die "installed, but charon/swanctl/plugins are still missing"
fi
SW_VERSION=$(dpkg-query -W -f '${Version}' strongswan-charon 2>/dev/null || echo unknown)

# ---- the strongSwan set-up ----------------------------------------------------------------------

sw_topology() {
  local ns n
  for ns in site1 gw1 mm gw2 site2; do
    ip netns add "$SW-$ns"
    ip -n "$SW-$ns" link set lo up
  done
  veth "$SW-site1" eth0 "$SW-gw1" lan
  veth "$SW-gw1" wan "$SW-mm" gw1
  veth "$SW-gw2" wan "$SW-mm" gw2
  veth "$SW-gw2" lan "$SW-site2" eth0
  ip netns exec "$SW-mm" sysctl -qw net.ipv4.ip_forward=1
  for n in 1 2; do
    ip -n "$SW-mm" addr add "10.0.$n.1/24" dev "gw$n"
    ip -n "$SW-gw$n" addr add "10.0.$n.2/24" dev wan
    ip -n "$SW-gw$n" addr add "10.1.$n.1/24" dev lan
    ip -n "$SW-gw$n" route add default via "10.0.$n.1"
    ip netns exec "$SW-gw$n" sysctl -qw net.ipv4.ip_forward=1
    # ESP arrives on wan, its cleartext comes out of ipsec0: no strict reverse-path check
    ip netns exec "$SW-gw$n" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
    ip -n "$SW-site$n" addr add "10.1.$n.2/24" dev eth0
    ip -n "$SW-site$n" route add default via "10.1.$n.1"
  done
}

sw_config() { # sw_config N CIPHER: strongswan.conf and swanctl.conf of gateway N in $WORK/gwN
  local n=$1 c=$2 other=$((3 - $1)) d=$WORK/gw$1
  rm -rf "$d" # a previous charon's socket and PID file
  mkdir -p "$d/run"
  chmod 700 "$d"
  cat >"$d/strongswan.conf" <<EOF
# gw$n of bench/strongswan-compare.sh: user-space ESP (kernel-libipsec), routes via kernel-netlink.
charon {
  load_modular = no
  # aesni and openssl first: their AES (AES-NI) and GCM are preferred over the software aes/gcm
  load = random nonce aesni openssl gcm aes sha1 sha2 hmac kdf gmp pem pkcs1 x509 pubkey kernel-libipsec kernel-netlink socket-default vici
  install_routes = yes
  plugins {
    kernel-libipsec {
      allow_peer_ts = no
    }
  }
  filelog {
    gw$n {
      path = $d/charon.log
      time_format = %T
      default = 1
      flush_line = yes
    }
  }
  syslog {
    identifier = charon-gw$n
    daemon {
      default = -1
    }
  }
}
swanctl {
  load = random nonce openssl pem pkcs1 x509 pubkey
}
EOF
  cat >"$d/swanctl.conf" <<EOF
connections {
  s2s {
    version = 2
    local_addrs = 10.0.$n.2
    remote_addrs = 10.0.$other.2
    proposals = aes256-sha1-modp1536
    local {
      auth = psk
      id = gw$n.bench
    }
    remote {
      auth = psk
      id = gw$other.bench
    }
    children {
      net {
        mode = tunnel
        local_ts = 10.1.$n.0/24
        remote_ts = 10.1.$other.0/24
        esp_proposals = ${SWP[$c]}
      }
    }
  }
}
secrets {
  ike-bench {
    id-1 = gw1.bench
    id-2 = gw2.bench
    secret = "$PSK_SW"
  }
}
EOF
  chmod 600 "$d/swanctl.conf"
}

swanctl_gw() { # swanctl_gw N ARGS...: swanctl against gateway N's charon
  local n=$1
  shift
  STRONGSWAN_CONF=$WORK/gw$n/strongswan.conf swanctl "$@" --uri "unix://$WORK/gw$n/run/charon.vici"
}

declare -A CHARON_PID=()
sw_up() { # sw_up CIPHER
  local c=$1 n
  sw_topology
  for n in 1 2; do
    sw_config "$n" "$c"
    # Each charon gets a /run of its own (charon.pid, charon.vici are fixed names under /run):
    # a private mount namespace with $WORK/gwN/run bound over /run.
    # shellcheck disable=SC2016 # $1 and $2 are the inner shell's arguments
    ip netns exec "$SW-gw$n" unshare -m sh -c \
      'mount --make-rprivate / && mount --bind "$1/run" /run && STRONGSWAN_CONF="$1/strongswan.conf" exec "$2"' \
      charon "$WORK/gw$n" "$CHARON" </dev/null >"$WORK/gw$n/charon.out" 2>&1 &
    CHARON_PID[$n]=$!
    PIDS+=($!)
  done
  for n in 1 2; do
    if ! wait_for 20 "charon of gw$n" test -S "$WORK/gw$n/run/charon.vici"; then
      tail -n 30 "$WORK/gw$n/charon.out" "$WORK/gw$n/charon.log" >&2 || true
      die "charon of gw$n did not start"
    fi
    swanctl_gw "$n" --load-all --noprompt --file "$WORK/gw$n/swanctl.conf" >"$WORK/gw$n/load.out" 2>&1 ||
      { cat "$WORK/gw$n/load.out" >&2; die "swanctl --load-all failed on gw$n"; }
  done
  if ! swanctl_gw 1 --initiate --child net --timeout 20 >"$WORK/initiate.out" 2>&1; then
    cat "$WORK/initiate.out" >&2
    tail -n 40 "$WORK/gw1/charon.log" "$WORK/gw2/charon.log" >&2 || true
    die "the IKEv2 / CHILD_SA negotiation failed"
  fi
  wait_for 10 "the CHILD_SA on gw2" sw_installed 2 || die "gw2 has no INSTALLED CHILD_SA"
  wait_for 10 "a ping through the tunnel" ip netns exec "$SW-site1" ping -n -c 1 -W 1 10.1.2.2 ||
    { tail -n 40 "$WORK/gw1/charon.log" "$WORK/gw2/charon.log" >&2 || true; die "no ping through the strongSwan tunnel"; }
}
sw_installed() { swanctl_gw "$1" --list-sas --raw | grep -q 'state=INSTALLED'; }

sw_down() {
  local n p
  for n in 1 2; do
    p=${CHARON_PID[$n]:-}
    [ -n "$p" ] || continue
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  CHARON_PID=()
  for n in site1 gw1 mm gw2 site2; do ip netns del "$SW-$n" 2>/dev/null || true; done
}

# ---- measurement --------------------------------------------------------------------------------

declare -A CLIENT_NS=([gdoi]=$LAB-site1 [gdoi-base]=gdoi-$BASE_ID-site1 [strongswan]=$SW-site1)
declare -A SERVER_NS=([gdoi]=$LAB-site2 [gdoi-base]=gdoi-$BASE_ID-site2 [strongswan]=$SW-site2)

cpu_ticks() { # cpu_ticks PID...: user + system clock ticks of these processes
  local p t=0 s
  for p in "$@"; do
    s=$(cut -d' ' -f14,15 "/proc/$p/stat" 2>/dev/null) || continue
    t=$((t + ${s% *} + ${s#* }))
  done
  echo "$t"
}
gateway_pids() { # the encrypting and the decrypting gateway's processes
  case $1 in
    gdoi) cat "$GDOI_LAB_RUN/gm1.pid" "$GDOI_LAB_RUN/gm2.pid" ;;
    gdoi-base) cat "/run/gdoi-$BASE_ID/gm1.pid" "/run/gdoi-$BASE_ID/gm2.pid" ;;
    *) echo "${CHARON_PID[1]} ${CHARON_PID[2]}" ;;
  esac
}

host_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9, $5 + $6 }' /proc/stat; } # total idle

# octets into site2's host: bytes, not packets, since a gateway may deliver GSO packets (gdoi's GM-2
# writes runs of same-size datagrams as one, which the receiving kernel splits)
rx_bytes() { ip -n "$1" -s link show eth0 | awk 'NR == 4 { print $1 }'; }

# run_iperf SYSTEM tcp|udp → "Mbit/s CPU-s-per-GB host-idle-% delivered-Mbit/s host-CPU-s-per-GB"
# UDP: Mbit/s is what iperf3 received; delivered is what the decrypting gateway handed to site2's link
# (on a busy host the receiving iperf3 overflows its socket buffer first). CPU per GB counts the
# delivered bytes for UDP (the gateways did that work) and the received ones for TCP.
run_iperf() {
  local sys=$1 proto=$2 j mbit dlv t0 t1 pids hz h0 h1 r0 r1
  pids=$(gateway_pids "$sys")
  hz=$(getconf CLK_TCK)
  # shellcheck disable=SC2086
  t0=$(cpu_ticks $pids)
  h0=$(host_ticks)
  r0=$(rx_bytes "${SERVER_NS[$sys]}")
  if [ "$proto" = tcp ]; then
    j=$(ip netns exec "${CLIENT_NS[$sys]}" iperf3 -c 10.1.2.2 -B 10.1.1.2 -t "$SECS" -J)
    mbit=$(jq -r '.end.sum_received.bits_per_second / 1e6' <<<"$j")
    dlv=$mbit
  else
    j=$(ip netns exec "${CLIENT_NS[$sys]}" iperf3 -c 10.1.2.2 -B 10.1.1.2 -u -b 0 -l $UDP_LEN -w "$UDP_BUF" -t "$SECS" -J)
    mbit=$(jq -r --argjson l $UDP_LEN '.end.sum as $s | (($s.packets - $s.lost_packets) * $l * 8 / $s.seconds) / 1e6' <<<"$j")
    r1=$(rx_bytes "${SERVER_NS[$sys]}")
    # UDP payload of what arrived: each datagram is $UDP_LEN octets behind 28 of IPv4 + UDP headers
    dlv=$(jq -r --argjson l $UDP_LEN --argjson n "$((r1 - r0))" '.end.sum.seconds as $t | $n * $l / ($l + 28) * 8 / $t / 1e6' <<<"$j")
  fi
  # shellcheck disable=SC2086
  t1=$(cpu_ticks $pids)
  h1=$(host_ticks)
  awk -v m="$mbit" -v d="$dlv" -v dt="$((t1 - t0))" -v hz="$hz" -v s="$SECS" -v h0="$h0" -v h1="$h1" \
    'BEGIN { split(h0, a, " "); split(h1, b, " "); gb = d * s / 8 / 1000
             busy = (b[1] - a[1]) - (b[2] - a[2])
             printf "%.1f %.2f %.0f %.1f %.2f\n", m, (gb > 0 ? dt / hz / gb : 0), (b[1] > a[1] ? 100 * (b[2] - a[2]) / (b[1] - a[1]) : 0), d, (gb > 0 ? busy / hz / gb : 0) }'
}

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
range() { sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.0f–%.0f", lo, hi }'; }

PERF_DIR=${GDOI_SS_PERF:-}
if [ -n "$PERF_DIR" ]; then
  command -v perf >/dev/null || die "GDOI_SS_PERF needs perf (Debian: linux-perf)"
  mkdir -p "$PERF_DIR"
  # lab/netns.sh starts its daemons with $NODE: the GMs get perf maps (/tmp/perf-PID.map) for JS frames
  cat >"$WORK/node-perf" <<'EOF'
#!/bin/sh
case "$*" in *gdoi-gm.js\ --config*) exec node --perf-basic-prof-only-functions "$@" ;; esac
exec node "$@"
EOF
  chmod +x "$WORK/node-perf"
  export NODE=$WORK/node-perf
fi

profile_one() { # profile_one CIPHER SYSTEM PROTO: one more iperf3 run with perf on the two gateways
  local c=$1 sys=$2 proto=$3 pids pp f=$PERF_DIR/$1-$2-$3
  pids=$(gateway_pids "$sys" | tr -s ' \n' ',' | sed 's/,$//')
  perf record -q -g -p "$pids" -o "$f.data" -- sleep "$SECS" >/dev/null 2>&1 &
  pp=$!
  run_iperf "$sys" "$proto" >"$f.rate"
  wait "$pp" || true
  {
    echo "### $c $sys $proto: $(awk '{ printf "%s Mbit/s, gateways %s CPU-s/GB, host idle %s %%", $1, $2, $3 }' "$f.rate")"
    echo "gateway processes' samples by object:"
    perf report -i "$f.data" --no-children --sort dso --stdio -g none 2>/dev/null | grep '%' | head -8 || true
    echo "top symbols:"
    perf report -i "$f.data" --no-children --sort sym --stdio -g none 2>/dev/null | grep '%' | head -25 || true
  } >"$f.txt"
}

OUT=$WORK/out
mkdir -p "$OUT"
LOADS=()

for c in $CIPHERS; do
  say "# $c: gdoi lab up (${IOS[$c]}), namespaces $LAB-*"
  GDOI_LAB_TRANSFORM=${IOS[$c]} bash "$REPO/lab/netns.sh" up >/dev/null 2>"$WORK/lab-up-$c.log" ||
    { tail -n 20 "$WORK/lab-up-$c.log" >&2; die "lab/netns.sh up failed"; }
  say "# $c: gdoi baseline lab up, namespaces gdoi-$BASE_ID-*"
  GDOI_LAB_ID=$BASE_ID GDOI_LAB_RUN=/run/gdoi-$BASE_ID GDOI_LAB_DATAPLANE=baseline GDOI_LAB_TRANSFORM=${IOS[$c]} \
    bash "$REPO/lab/netns.sh" up >/dev/null 2>"$WORK/lab-base-up-$c.log" ||
    { tail -n 20 "$WORK/lab-base-up-$c.log" >&2; die "lab/netns.sh up (baseline) failed"; }
  say "# $c: strongSwan up (esp_proposals = ${SWP[$c]}), namespaces $SW-*"
  sw_up "$c"
  if [ -n "$PERF_DIR" ]; then
    for p in "$GDOI_LAB_RUN"/gm*.pid "/run/gdoi-$BASE_ID"/gm*.pid; do PERF_MAPS+=("/tmp/perf-$(cat "$p").map"); done
  fi
  for sys in "${SYSTEMS[@]}"; do
    ip netns exec "${SERVER_NS[$sys]}" iperf3 -s -B 10.1.2.2 >/dev/null 2>&1 &
    PIDS+=($!)
  done
  sleep 1
  for ((i = 1; i <= RUNS; i++)); do
    LOADS+=("$(cut -d' ' -f1 /proc/loadavg)")
    # the order rotates by round, so no system is always first
    r=$(((i - 1) % 3))
    order="${SYSTEMS[*]:$r} ${SYSTEMS[*]:0:$r}"
    for proto in tcp udp; do
      for sys in $order; do
        read -r v cpu idle dlv hcpu < <(run_iperf "$sys" "$proto")
        echo "$hcpu" >>"$OUT/$c-$sys-$proto-host"
        echo "$v" >>"$OUT/$c-$sys-$proto"
        echo "$cpu" >>"$OUT/$c-$sys-$proto-cpu"
        echo "$idle" >>"$OUT/$c-$sys-$proto-idle"
        echo "$dlv" >>"$OUT/$c-$sys-$proto-dlv"
        printf '# %s run %d %-10s %-3s %8.1f Mbit/s (delivered to site2 %8.1f)  gateways %5.2f CPU-s/GB  whole host %5.2f CPU-s/GB  host idle %3d %%\n' \
          "$c" "$i" "$sys" "$proto" "$v" "$dlv" "$cpu" "$hcpu" "$idle" >&2
        sleep 1
      done
    done
  done
  if [ -n "$PERF_DIR" ]; then
    for sys in "${SYSTEMS[@]}"; do
      for proto in tcp udp; do
        say "# $c: profiling $sys $proto"
        profile_one "$c" "$sys" "$proto"
        sleep 1
      done
    done
  fi
  # Evidence that both paths were encrypted with the cipher asked for.
  say "# $c: strongSwan CHILD_SA on gw2: $(swanctl_gw 2 --list-sas --raw | sed 's/.*child-sas//' | grep -o 'protocol=[^ ]*\|encap=[^ ]*\|encr-alg=[^ ]*\|encr-keysize=[^ ]*\|integ-alg=[^ ]*\|bytes-in=[^ ]*\|packets-in=[^ ]*' | tr '\n' ' ')"
  say "# $c: gdoi GM-2 inbound SAs: $(node "$REPO/packages/gm-daemon/bin/gdoi-gm.js" status --socket "$GDOI_LAB_RUN/gm2.sock" | grep -E 'transform:|#pkts decrypt' | sort | uniq -c | tr -s ' ' | tr '\n' ';')"
  cleanup
  sw_down
done

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($cpu), kernel $(uname -r), node $(node --version), strongSwan $SW_VERSION (kernel-libipsec), iperf3 $(iperf3 --version | head -1 | awk '{print $2}'); $RUNS runs × ${SECS} s, medians (min–max); load average (1 min) at each round: ${LOADS[*]}"
echo
echo "| cipher | path | TCP Mbit/s | UDP Mbit/s received by iperf3 | UDP Mbit/s delivered to site2 by the gateway | gateways' CPU s per GB, TCP / UDP (delivered) |"
echo "|---|---|---|---|---|---|"
m() { median <"$OUT/$1"; }
for c in $CIPHERS; do
  for sys in "${SYSTEMS[@]}"; do
    printf '| %s | %s | %.0f (%s) | %.0f (%s) | %.0f (%s) | %.2f / %.2f |\n' "${LABEL[$c]}" \
      "$(case $sys in gdoi) echo "gdoi (two GMs)" ;; gdoi-base) echo "gdoi baseline (no TUN offloads, no ESP socket)" ;; *) echo "strongSwan ${SW_VERSION%%-*} kernel-libipsec" ;; esac)" \
      "$(m "$c-$sys-tcp")" "$(range <"$OUT/$c-$sys-tcp")" "$(m "$c-$sys-udp")" "$(range <"$OUT/$c-$sys-udp")" \
      "$(m "$c-$sys-udp-dlv")" "$(range <"$OUT/$c-$sys-udp-dlv")" "$(m "$c-$sys-tcp-cpu")" "$(m "$c-$sys-udp-cpu")"
  done
  awk -v gt="$(m "$c-gdoi-tcp")" -v st="$(m "$c-strongswan-tcp")" -v gu="$(m "$c-gdoi-udp")" -v su="$(m "$c-strongswan-udp")" \
    -v gd="$(m "$c-gdoi-udp-dlv")" -v sd="$(m "$c-strongswan-udp-dlv")" \
    -v gtc="$(m "$c-gdoi-tcp-cpu")" -v stc="$(m "$c-strongswan-tcp-cpu")" -v guc="$(m "$c-gdoi-udp-cpu")" -v suc="$(m "$c-strongswan-udp-cpu")" \
    -v l="${LABEL[$c]}" \
    'function r(a, b) { return b > 0 ? sprintf("%.2f×", a / b) : "n/a" }
     BEGIN { printf "| %s | **gdoi / strongSwan** | **%s** | **%s** | **%s** | %s / %s |\n", l, r(gt, st), r(gu, su), r(gd, sd), r(gtc, stc), r(guc, suc) }'
  awk -v gt="$(m "$c-gdoi-tcp")" -v bt="$(m "$c-gdoi-base-tcp")" -v gu="$(m "$c-gdoi-udp")" -v bu="$(m "$c-gdoi-base-udp")" \
    -v gd="$(m "$c-gdoi-udp-dlv")" -v bd="$(m "$c-gdoi-base-udp-dlv")" \
    -v gtc="$(m "$c-gdoi-tcp-cpu")" -v btc="$(m "$c-gdoi-base-tcp-cpu")" -v guc="$(m "$c-gdoi-udp-cpu")" -v buc="$(m "$c-gdoi-base-udp-cpu")" \
    -v l="${LABEL[$c]}" \
    'function r(a, b) { return b > 0 ? sprintf("%.2f×", a / b) : "n/a" }
     BEGIN { printf "| %s | gdoi / gdoi baseline | %s | %s | %s | %s / %s |\n", l, r(gt, bt), r(gu, bu), r(gd, bd), r(gtc, btc), r(guc, buc) }'
done
echo
echo "all runs (Mbit/s; UDP delivered; host idle %):"
for c in $CIPHERS; do
  for sys in "${SYSTEMS[@]}"; do
    for proto in tcp udp; do
      echo "  $c $sys $proto: $(tr '\n' ' ' <"$OUT/$c-$sys-$proto")$([ $proto = udp ] && echo "; delivered $(tr '\n' ' ' <"$OUT/$c-$sys-udp-dlv")"); idle $(tr '\n' ' ' <"$OUT/$c-$sys-$proto-idle")"
    done
  done
done
echo
echo "whole host's CPU s per GB (busy time of every CPU over the run, all processes and softirq: sites, iperf3,"
echo "Middle-Man, gateways; medians) — on a saturated host, throughput ≈ CPUs ÷ this. Softirq work a gateway's send"
echo "triggers (forwarding through Middle-Man, the next hop's input) is counted in the gateway's own CPU time above:"
for c in $CIPHERS; do
  for proto in tcp udp; do
    awk -v c="$c" -v p="$proto" -v gh="$(m "$c-gdoi-$proto-host")" -v bh="$(m "$c-gdoi-base-$proto-host")" -v sh="$(m "$c-strongswan-$proto-host")" \
      'BEGIN { printf "  %s %s: gdoi %.2f, gdoi baseline %.2f, strongSwan %.2f; strongSwan / gdoi %s\n", c, p, gh, bh, sh, (gh > 0 ? sprintf("%.2f×", sh / gh) : "n/a") }'
  done
done
if [ -n "$PERF_DIR" ]; then
  echo
  cat "$PERF_DIR"/*.txt
fi
