#!/usr/bin/env bash
# Latency benchmark (bench/README.md): the round-trip time GDOI adds to a ping between two sites of the
# netns lab (lab/netns.sh: site1 — GM-1 — Middle-Man — GM-2 — site2), p50 and p99, against the plain
# path measured in the same run: the same hosts, namespaces and hops, between the sites' 10.2.N.0/24
# addresses, which are outside the group's ACL and so forwarded in clear by the kernel (no GDOI).
# Runs alternate (encrypted, clear, encrypted, …) so machine load hits both alike; figures are the
# median over the runs of each run's p50/p99. Needs root and a built tree (`pnpm build`).
#
#   bench/run.sh latency [--runs 5] [--count 500] [--interval 0.01]
#
# Starts its own lab (GDOI_LAB_ID=benchlat, so it does not touch a lab someone else runs) and takes
# it down at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=5
count=500
interval=0.01
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --count) count=$2; shift 2 ;;
    --interval) interval=$2; shift 2 ;;
    *) echo "latency.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

[ "$(id -u)" = 0 ] || { echo "latency.sh: needs root (network namespaces)" >&2; exit 2; }
export GDOI_LAB_ID=${GDOI_LAB_ID:-benchlat}
lab() { bash lab/netns.sh "$@"; }
site1=gdoi-$GDOI_LAB_ID-site1

cleanup() { lab down >/dev/null 2>&1 || true; }
trap cleanup EXIT
lab down >/dev/null 2>&1 || true
lab up >/dev/null

# RTTs in ms, one per line, of `count` pings from site1 (source address $1) to $2.
rtts() {
  ip netns exec "$site1" ping -n -q -c 3 -W 2 -I "$1" "$2" >/dev/null 2>&1 || true # ARP, first packets
  ip netns exec "$site1" ping -n -c "$count" -i "$interval" -W 2 -I "$1" "$2" 2>/dev/null | sed -n 's/.* time=\([0-9.]*\) ms.*/\1/p'
}

# p50 p99 count of the numbers on stdin.
pct() {
  sort -n | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "nan nan 0"; exit }
    i50 = int(0.50 * NR + 0.999999); i99 = int(0.99 * NR + 0.999999)
    if (i50 < 1) i50 = 1; if (i99 < 1) i99 = 1
    printf "%.3f %.3f %d\n", v[i50], v[i99], NR }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) printf "%.3f", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

enc50=() enc99=() clr50=() clr99=() add50=() add99=()
echo "latency — $(date -u +%FT%TZ) — $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores — $runs runs × $count pings every ${interval} s — load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r = 1; r <= runs; r++)); do
  read -r e50 e99 en < <(rtts 10.1.1.2 10.1.2.2 | pct)
  read -r c50 c99 cn < <(rtts 10.2.1.2 10.2.2.2 | pct)
  [ "$en" -gt 0 ] && [ "$cn" -gt 0 ] || { echo "latency.sh: run $r: no replies (encrypted $en, clear $cn)" >&2; exit 1; }
  enc50+=("$e50") enc99+=("$e99") clr50+=("$c50") clr99+=("$c99")
  add50+=("$(awk -v a="$e50" -v b="$c50" 'BEGIN { printf "%.3f", a - b }')")
  add99+=("$(awk -v a="$e99" -v b="$c99" 'BEGIN { printf "%.3f", a - b }')")
  echo "run $r: through the GMs p50 $e50 ms p99 $e99 ms ($en replies); plain p50 $c50 ms p99 $c99 ms ($cn replies); load $(cut -d' ' -f1 /proc/loadavg)" >&2
done
m() { printf '%s\n' "$@" | median; }
echo
echo "| path | p50 RTT (ms) | p99 RTT (ms) |"
echo "|---|---:|---:|"
echo "| site1 → site2 through GM-1 and GM-2 (ESP) | $(m "${enc50[@]}") | $(m "${enc99[@]}") |"
echo "| plain path (same hops, outside the ACL) | $(m "${clr50[@]}") | $(m "${clr99[@]}") |"
echo "| **added by GDOI** (median of per-run differences) | **$(m "${add50[@]}")** | **$(m "${add99[@]}")** |"
