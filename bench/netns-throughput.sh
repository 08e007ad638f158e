#!/usr/bin/env bash
# Site-to-site throughput and latency through two GMs in the network-namespace lab (lab/netns.sh),
# against the plain path measured in the same run:
#   gdoi   site1 10.1.1.2 -> site2 10.1.2.2: inside the ACL, encrypted by GM-1, decrypted by GM-2
#   plain  site1 10.2.1.2 -> site2 10.2.2.2: the same hosts, GMs, links and Middle-Man, outside the ACL:
#          the GMs forward it as plain routers (it never enters a TUN)
# iperf3 TCP (one stream) and UDP (unlimited offered load, 1280-octet datagrams: what arrives counts),
# RUNS runs each, gdoi and plain interleaved, medians reported; ping RTT p50/p99 over PINGS echoes.
#
#   sudo bench/netns-throughput.sh [RUNS=5] [SECONDS_PER_RUN=5] [PINGS=1000]
#
# Root, iperf3, ping, jq and a build (pnpm build). Uses its own lab id (gdoi-b<pid>-*), torn down at exit.
# The TEK transform: GDOI_LAB_TRANSFORM (lab/netns.sh), e.g. GDOI_LAB_TRANSFORM="esp-gcm 256" for ESP
# AES-256-GCM-16; default the lab's "esp-aes 256 esp-sha-hmac".
# Prints a Markdown table for bench/README.md.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${1:-5}
SECS=${2:-5}
PINGS=${3:-1000}
UDP_LEN=1280 # fits the GDOI path's 1342-octet route MTU with its UDP/IP headers
export GDOI_LAB_ID=b$$
export GDOI_LAB_RUN=/run/gdoi-$GDOI_LAB_ID
P=gdoi-$GDOI_LAB_ID
S1=$P-site1
S2=$P-site2

[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 1; }
for tool in iperf3 ping jq; do command -v $tool >/dev/null || { echo "$tool is needed (scripts/setup-debian.sh)" >&2; exit 1; }; done

IPERF_PIDS=()
cleanup() {
  local p
  for p in "${IPERF_PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  bash "$REPO/lab/netns.sh" down >/dev/null 2>&1 || true
}
trap cleanup EXIT

echo "# lab up ($P-*)" >&2
bash "$REPO/lab/netns.sh" up >/dev/null 2>"/tmp/gdoi-bench-$GDOI_LAB_ID-up.log"
# One server per address: bound to 0.0.0.0, iperf3 answers UDP from the primary address (10.1.2.2),
# which neither matches the plain path nor the client's connected socket.
ip netns exec "$S2" iperf3 -s -B 10.1.2.2 -p 5201 >/dev/null 2>&1 &
IPERF_PIDS+=($!)
ip netns exec "$S2" iperf3 -s -B 10.2.2.2 -p 5202 >/dev/null 2>&1 &
IPERF_PIDS+=($!)
sleep 1

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
pct() { sort -g | awk -v p="$1" '{ a[NR] = $1 } END { i = int(NR * p / 100 + 0.999999); if (i < 1) i = 1; print a[i] }'; }

declare -A SRC=([gdoi]=10.1.1.2 [plain]=10.2.1.2)
declare -A DST=([gdoi]=10.1.2.2 [plain]=10.2.2.2)
declare -A PORT=([gdoi]=5201 [plain]=5202)
OUT=$(mktemp -d)

run_iperf() { # run_iperf PATH tcp|udp → Mbit/s received
  local path=$1 proto=$2 j
  if [ "$proto" = tcp ]; then
    j=$(ip netns exec "$S1" iperf3 -c "${DST[$path]}" -p "${PORT[$path]}" -B "${SRC[$path]}" -t "$SECS" -J)
    jq -r '.end.sum_received.bits_per_second / 1e6' <<<"$j"
  else
    j=$(ip netns exec "$S1" iperf3 -c "${DST[$path]}" -p "${PORT[$path]}" -B "${SRC[$path]}" -u -b 0 -l $UDP_LEN -t "$SECS" -J)
    # received rate: datagrams that arrived × their size, over the test's duration
    jq -r --argjson l $UDP_LEN '.end.sum as $s | (($s.packets - $s.lost_packets) * $l * 8 / $s.seconds) / 1e6' <<<"$j"
  fi
}

for ((i = 1; i <= RUNS; i++)); do
  for proto in tcp udp; do
    for path in gdoi plain; do
      v=$(run_iperf "$path" "$proto")
      echo "$v" >>"$OUT/$path-$proto"
      printf '# run %d %-5s %-3s %8.1f Mbit/s\n' "$i" "$path" "$proto" "$v" >&2
      sleep 1
    done
  done
done

for path in gdoi plain; do
  ip netns exec "$S1" ping -n -i 0.01 -c "$PINGS" -I "${SRC[$path]}" "${DST[$path]}" | sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' >"$OUT/$path-rtt"
  echo "# ping $path: $(wc -l <"$OUT/$path-rtt") replies of $PINGS" >&2
done

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
echo
echo "$(date -u +%Y-%m-%d), $(nproc) CPUs ($cpu), kernel $(uname -r), node $(node --version), iperf3 $(iperf3 --version | head -1 | awk '{print $2}'); TEK ${GDOI_LAB_TRANSFORM:-esp-aes 256 esp-sha-hmac}; $RUNS runs × ${SECS}s, medians"
echo
echo "| path | TCP Mbit/s | UDP received Mbit/s (1280-octet datagrams) | ping RTT p50 ms | ping RTT p99 ms |"
echo "|---|---|---|---|---|"
for path in gdoi plain; do
  printf '| %s | %.0f | %.0f | %.3f | %.3f |\n' "$path" \
    "$(median <"$OUT/$path-tcp")" "$(median <"$OUT/$path-udp")" "$(pct 50 <"$OUT/$path-rtt")" "$(pct 99 <"$OUT/$path-rtt")"
done
echo
awk -v gt="$(median <"$OUT/gdoi-tcp")" -v pt="$(median <"$OUT/plain-tcp")" -v gu="$(median <"$OUT/gdoi-udp")" -v pu="$(median <"$OUT/plain-udp")" \
  -v g50="$(pct 50 <"$OUT/gdoi-rtt")" -v p50="$(pct 50 <"$OUT/plain-rtt")" -v g99="$(pct 99 <"$OUT/gdoi-rtt")" -v p99="$(pct 99 <"$OUT/plain-rtt")" \
  'BEGIN { printf "added by GDOI (two GMs): TCP %.0f%% of plain, UDP %.0f%% of plain, RTT p50 +%.3f ms, p99 +%.3f ms\n", 100 * gt / pt, 100 * gu / pu, g50 - p50, g99 - p99 }'
echo "all runs (Mbit/s): $(for f in gdoi-tcp plain-tcp gdoi-udp plain-udp; do printf '%s %s; ' "$f" "$(tr '\n' ' ' <"$OUT/$f")"; done)"
rm -rf "$OUT"
