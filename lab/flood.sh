#!/usr/bin/env bash
# A flood of spoofed Main Mode MM1s at the key server of the netns lab while its three GMs register
# (issue "Floods"; figures in RELIABILITY.md "Floods"). Root, iproute2, gcc, jq, curl, `pnpm build`.
#
#   lab/flood.sh [--runs 3] [--warmup 3] [--timeout 90] [--pps 0] [--flood-sec 0] [--json FILE] [--logs DIR]
#
#   1. brings up the netns lab (lab/netns.sh up) with its own GDOI_LAB_ID (default "fld": namespaces
#      gdoi-fld-*, run directory /run/gdoi-fld);
#   2. adds a namespace gdoi-<id>-flood linked to the key server's namespace only (veth fl0, 10.0.9.0/24)
#      and routes 198.18.0.0/15 (RFC 2544 benchmarking range, the spoofed sources) back into it: the
#      key server's MM2s to the spoofed sources end there, where nothing answers (not a local address,
#      no forwarding). Nothing leaves the namespaces this script creates;
#   3. compiles packages/ks-daemon/bench/flood/flood-mm1.c into a temporary directory and builds one MM1
#      with @gdoi/wire (bench/flood/mm1.ts): the lab's proposal, so the key server answers every one;
#   4. --runs times without a flood: restart the three GMs, time until all three logged
#      gdoi.registration.complete; then --runs times with the flood: start the flooder (one core, as
#      fast as it can, or --pps), wait --warmup s (the half-open table fills), restart the GMs, time
#      again, stop the flooder (or it stops by itself after --flood-sec s: the short CI run). During
#      each flood: KS RSS (/proc) and half-open SAs (its metrics) every second; flood rate sent (the
#      flooder's count) and received by the KS (`datagrams.in`), datagrams the kernel dropped at the KS
#      socket (Udp RcvbufErrors in its namespace), evictions and MM1s dropped at the cap, KS CPU;
#   5. prints the medians (and one JSON object with every run: --json), takes the lab down.
#
# Exit status 0 only if every registration completed within --timeout (with and without the flood) and
# the half-open count never exceeded the key server's cap.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export GDOI_LAB_ID=${GDOI_LAB_ID:-fld}
if [[ ! $GDOI_LAB_ID =~ ^[a-z0-9]{1,12}$ ]]; then
  echo "flood.sh: GDOI_LAB_ID must be 1-12 lowercase letters or digits" >&2
  exit 2
fi
P=gdoi-$GDOI_LAB_ID
export GDOI_LAB_RUN=${GDOI_LAB_RUN:-/run/gdoi-$GDOI_LAB_ID}
RUN=$GDOI_LAB_RUN
NS_KS=$P-ks
NS_FL=$P-flood
KS_ADDR=10.0.0.2
SPOOF_NET=198.18.0.0/15
GM_BIN=$REPO/packages/gm-daemon/bin/gdoi-gm.js
KS_BIN=$REPO/packages/ks-daemon/bin/gdoi-ks.js
NODE=${NODE:-node}
METRICS=127.0.0.1:9848

RUNS=3
WARMUP=3
TIMEOUT=90
PPS=0
FLOOD_SEC=0
JSON_OUT=
LOGS_OUT=
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    --pps) PPS=$2; shift 2 ;;
    --flood-sec) FLOOD_SEC=$2; shift 2 ;;
    --json) JSON_OUT=$2; shift 2 ;;
    --logs) LOGS_OUT=$2; shift 2 ;; # keep the daemons' logs and the samples here
    *) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
  esac
done
for v in "$RUNS" "$WARMUP" "$TIMEOUT" "$PPS" "$FLOOD_SEC"; do [[ $v =~ ^[0-9]+$ ]] || { echo "flood.sh: numbers only" >&2; exit 2; }; done

say() { printf '%s\n' "$*" >&2; }
die() { say "flood.sh: $*"; exit 1; }
nowms() { date +%s%3N; }

[ "$(id -u)" = 0 ] || die "needs root (network namespaces, a raw socket)"
for c in ip gcc jq curl "$NODE"; do command -v "$c" >/dev/null || die "$c is needed"; done
[ -f "$REPO/packages/ks-daemon/dist/cli.js" ] && [ -f "$REPO/packages/gm-daemon/dist/cli.js" ] || die "build first: pnpm build"
[ -e "/run/netns/$NS_FL" ] && die "namespace $NS_FL exists: another flood run with GDOI_LAB_ID=$GDOI_LAB_ID? (ip netns del $NS_FL; lab/netns.sh down)"

TMP=$(mktemp -d /tmp/gdoi-flood.XXXXXX)
FLOOD_PID=
SAMPLER_PID=
LAB_UP=0
cleanup() {
  set +e
  [ -n "$FLOOD_PID" ] && kill -TERM "$FLOOD_PID" 2>/dev/null && wait "$FLOOD_PID" 2>/dev/null
  [ -n "$SAMPLER_PID" ] && kill -TERM "$SAMPLER_PID" 2>/dev/null && wait "$SAMPLER_PID" 2>/dev/null
  if [ -n "$LOGS_OUT" ]; then mkdir -p "$LOGS_OUT" && cp "$RUN"/*.log "$TMP"/samples-* "$TMP"/flood-*.json "$LOGS_OUT"/ 2>/dev/null; fi
  [ -e "/run/netns/$NS_FL" ] && ip netns del "$NS_FL"
  ((LAB_UP)) && bash "$REPO/lab/netns.sh" down >/dev/null 2>&1
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the flooder and its MM1 -----------------------------------------------------------------------
gcc -O2 -Wall -o "$TMP/flood-mm1" "$REPO/packages/ks-daemon/bench/flood/flood-mm1.c" || die "cannot compile flood-mm1.c"
(cd "$REPO" && TS_NODE_TRANSPILE_ONLY=1 "$NODE" --conditions=@gdoi/source \
  --import=./node_modules/.pnpm/node_modules/@tapjs/typescript/dist/esm/import.mjs \
  packages/ks-daemon/bench/flood/mm1.ts "$TMP/mm1.bin") || die "cannot build the MM1"
say "MM1: $(stat -c %s "$TMP/mm1.bin") octets (HDR, SA: AES-256 / SHA-1 / MODP-1536 / PSK)"

# ---- the lab and the flood namespace ---------------------------------------------------------------
say "lab/netns.sh up (GDOI_LAB_ID=$GDOI_LAB_ID)"
LAB_UP=1
bash "$REPO/lab/netns.sh" up >"$TMP/up.log" 2>&1 || { tail -n 30 "$TMP/up.log" >&2; die "the lab did not come up"; }
ip netns add "$NS_FL"
ip -n "$NS_FL" link set lo up
ip -n "$NS_KS" link add fl0 type veth peer name eth0 netns "$NS_FL"
ip -n "$NS_KS" addr add 10.0.9.1/24 dev fl0
ip -n "$NS_FL" addr add 10.0.9.2/24 dev eth0
ip -n "$NS_KS" link set fl0 up
ip -n "$NS_FL" link set eth0 up
ip -n "$NS_FL" route add default via 10.0.9.1
# the key server's answers to the spoofed sources go back to the flood namespace and die there
ip -n "$NS_KS" route add "$SPOOF_NET" via 10.0.9.2 dev fl0
ip netns exec "$NS_FL" sysctl -qw net.ipv4.ip_forward=0

KS_PID=$(cat "$RUN/ks.pid")
ks_metrics() { ip netns exec "$NS_KS" curl -s --max-time 5 "http://$METRICS/metrics"; }
metric() { awk -v m="$1" '$1 == m { print $2; exit }'; }
ks_counters() { "$NODE" "$KS_BIN" status --json --socket "$RUN/ks.sock" | jq -c '.counters' 2>/dev/null || echo '{}'; }
counter_of() { jq -r --arg k "$2" '.[$k] // 0' <<<"$1"; }
# Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors … (the second Udp: line has the values)
# CPU seconds (user + system) the key server used so far
ks_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$KS_PID/stat"; }
rcvbuf_errors() { ip netns exec "$NS_KS" awk '/^Udp:/ { if (h) { print $6; exit } h = 1 }' /proc/net/snmp; }
HALF_OPEN_CAP=$(ks_metrics | metric gdoi_ks_phase1_half_open_limit)
[ -n "$HALF_OPEN_CAP" ] || die "the key server exports no gdoi_ks_phase1_half_open_limit"

# ---- GM restarts and registration timing ------------------------------------------------------------
stop_gm() {
  local n=$1 pid i
  pid=$(cat "$RUN/gm$n.pid" 2>/dev/null || true)
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$RUN/" || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 80; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}
start_gm() {
  local n=$1
  ip netns exec "$P-gm$n" "$NODE" "$GM_BIN" --config "$RUN/config/gm$n.yaml" --metrics "$METRICS" </dev/null >>"$RUN/gm$n.log" 2>&1 &
  echo $! >"$RUN/gm$n.pid"
}
# first time (epoch ms) >= $2 at which GM $1 logged event $3 (empty when none yet); pino writes ISO times
event_at() {
  grep -F "\"$3\"" "$RUN/gm$1.log" | jq -r --argjson t0 "$2" '
    (.time | capture("^(?<s>[^.Z]+)(\\.(?<ms>[0-9]{1,3}))?Z$")) as $c
    | ((($c.s + "Z") | fromdateiso8601) * 1000 + (($c.ms // "0") | tonumber)) as $ms
    | select($ms >= $t0) | $ms' 2>/dev/null | head -n 1
}

# Restarts the three GMs; prints "ALL_MS SLOWEST_EXCHANGE_MS" (from the restart to the last
# registration; the slowest started→complete of the three), or "timeout".
reregister() {
  local n t0 deadline done_at started max_all=0 max_ex=0
  for n in 1 2 3; do stop_gm "$n"; done
  t0=$(nowms)
  for n in 1 2 3; do start_gm "$n"; done
  deadline=$((t0 + TIMEOUT * 1000))
  while :; do
    local all=1
    for n in 1 2 3; do [ -n "$(event_at "$n" "$t0" gdoi.registration.complete)" ] || all=0; done
    ((all)) && break
    if (($(nowms) > deadline)); then echo timeout; return 0; fi
    sleep 0.2
  done
  for n in 1 2 3; do
    done_at=$(event_at "$n" "$t0" gdoi.registration.complete)
    started=$(event_at "$n" "$t0" gdoi.registration.started)
    ((done_at - t0 > max_all)) && max_all=$((done_at - t0))
    [ -n "$started" ] && ((done_at - started > max_ex)) && max_ex=$((done_at - started))
  done
  echo "$max_all $max_ex"
}

median() { sort -n | awk '{ a[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

FAILED=0
declare -a BASE_ALL=() BASE_EX=() FL_ALL=() FL_EX=() FL_PPS=() FL_RX=() FL_RSS=() FL_HO=() FL_DROP=() FL_EVICT=() FL_LIMIT=() FL_CPU=()
RSS_IDLE_KB=$(awk '/^VmRSS/ { print $2 }' "/proc/$KS_PID/status")

for ((r = 1; r <= RUNS; r++)); do
  res=$(reregister)
  if [ "$res" = timeout ]; then say "baseline run $r: registration timed out"; FAILED=1; continue; fi
  read -r a e <<<"$res"
  BASE_ALL+=("$a"); BASE_EX+=("$e")
  say "baseline run $r: all three registered ${a} ms after the restart (slowest exchange ${e} ms)"
done

for ((r = 1; r <= RUNS; r++)); do
  c0=$(ks_counters)
  drop0=$(rcvbuf_errors || echo 0)
  cpu0=$(ks_cpu)
  flood_for=$((FLOOD_SEC > 0 ? FLOOD_SEC : WARMUP + TIMEOUT + 30))
  ip netns exec "$NS_FL" "$TMP/flood-mm1" "$KS_ADDR" 848 "$SPOOF_NET" "$TMP/mm1.bin" "$flood_for" "$PPS" >"$TMP/flood-$r.json" 2>"$TMP/flood-$r.err" &
  FLOOD_PID=$!
  : >"$TMP/samples-$r"
  (
    while :; do
      rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$KS_PID/status" 2>/dev/null || echo 0)
      ho=$(ks_metrics | metric gdoi_ks_phase1_half_open)
      echo "$rss ${ho:-0}" >>"$TMP/samples-$r"
      sleep 1
    done
  ) &
  SAMPLER_PID=$!
  sleep "$WARMUP"
  res=$(reregister)
  kill -TERM "$FLOOD_PID" 2>/dev/null || true
  wait "$FLOOD_PID" 2>/dev/null || true
  FLOOD_PID=
  kill -TERM "$SAMPLER_PID" 2>/dev/null || true
  wait "$SAMPLER_PID" 2>/dev/null || true
  SAMPLER_PID=
  c1=$(ks_counters)
  drop1=$(rcvbuf_errors || echo 0)
  cpu1=$(ks_cpu)
  in0=$(counter_of "$c0" datagrams.in); in1=$(counter_of "$c1" datagrams.in)
  ev0=$(counter_of "$c0" ike.half-open-evicted); ev1=$(counter_of "$c1" ike.half-open-evicted)
  lim0=$(counter_of "$c0" ike.half-open-limit); lim1=$(counter_of "$c1" ike.half-open-limit)
  fjson=$(cat "$TMP/flood-$r.json")
  [ -n "$fjson" ] || { cat "$TMP/flood-$r.err" >&2; die "the flooder printed nothing"; }
  secs=$(jq -r .seconds <<<"$fjson")
  pps=$(jq -r .pps <<<"$fjson")
  rx=$(awk -v a="$in0" -v b="$in1" -v s="$secs" 'BEGIN { printf "%.0f", (b - a) / s }')
  cpu=$(awk -v a="$cpu0" -v b="$cpu1" -v s="$secs" 'BEGIN { printf "%.0f", 100 * (b - a) / s }')
  FL_CPU+=("$cpu")
  rss_max=$(awk 'BEGIN { m = 0 } $1 > m { m = $1 } END { print m }' "$TMP/samples-$r")
  ho_max=$(awk 'BEGIN { m = 0 } $2 > m { m = $2 } END { print m }' "$TMP/samples-$r")
  FL_PPS+=("$pps"); FL_RX+=("$rx"); FL_RSS+=("$rss_max"); FL_HO+=("$ho_max")
  FL_DROP+=("$((drop1 - drop0))"); FL_EVICT+=("$((ev1 - ev0))"); FL_LIMIT+=("$((lim1 - lim0))")
  if ((ho_max > HALF_OPEN_CAP)); then say "flood run $r: half-open $ho_max > cap $HALF_OPEN_CAP"; FAILED=1; fi
  if [ "$res" = timeout ]; then
    say "flood run $r: registration timed out after ${TIMEOUT}s (flood ${pps} pps sent, ${rx} pps received, kernel dropped $((drop1 - drop0)) at the KS socket, $((ev1 - ev0)) evictions, $((lim1 - lim0)) MM1s dropped at the cap, KS CPU ${cpu}%)"
    FAILED=1
    continue
  fi
  read -r a e <<<"$res"
  FL_ALL+=("$a"); FL_EX+=("$e")
  say "flood run $r: all three registered ${a} ms after the restart (slowest exchange ${e} ms); flood ${pps} pps sent for ${secs} s, KS received ${rx}/s, kernel dropped $((drop1 - drop0)) at the KS socket, $((ev1 - ev0)) evictions, $((lim1 - lim0)) MM1s dropped at the cap, KS CPU ${cpu}%; KS RSS max $((rss_max / 1024)) MiB, half-open max ${ho_max} (cap ${HALF_OPEN_CAP})"
done

m() { printf '%s\n' "$@" | median; }
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
echo "flood figures ($RUNS runs, medians; $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, load average $LOAD)"
echo "  without flood: all 3 GMs registered $(m "${BASE_ALL[@]}") ms after their restart (slowest exchange $(m "${BASE_EX[@]}") ms)"
echo "  with flood   : all 3 GMs registered $(m "${FL_ALL[@]}") ms after their restart (slowest exchange $(m "${FL_EX[@]}") ms)"
echo "  flood sent   : $(m "${FL_PPS[@]}") MM1/s from random ${SPOOF_NET} sources (one core)"
echo "  KS received  : $(m "${FL_RX[@]}") datagrams/s using $(m "${FL_CPU[@]}")% of a CPU; kernel drops at the KS socket $(m "${FL_DROP[@]}") per run; evictions $(m "${FL_EVICT[@]}") and MM1s dropped at the cap $(m "${FL_LIMIT[@]}") per run"
echo "  KS memory    : RSS $((RSS_IDLE_KB / 1024)) MiB before the floods, max $(($(m "${FL_RSS[@]}") / 1024)) MiB during (median of the per-run maxima); half-open max $(m "${FL_HO[@]}") (cap $HALF_OPEN_CAP)"
json=$(jq -n \
  --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg load "$LOAD" --argjson cpus "$(nproc)" --argjson cap "$HALF_OPEN_CAP" --argjson failed "$FAILED" \
  --argjson rssIdleKb "$RSS_IDLE_KB" \
  --arg baseAll "${BASE_ALL[*]}" --arg baseEx "${BASE_EX[*]}" --arg flAll "${FL_ALL[*]}" --arg flEx "${FL_EX[*]}" \
  --arg pps "${FL_PPS[*]}" --arg rx "${FL_RX[*]}" --arg rss "${FL_RSS[*]}" --arg ho "${FL_HO[*]}" --arg drop "${FL_DROP[*]}" --arg ev "${FL_EVICT[*]}" --arg lim "${FL_LIMIT[*]}" --arg cpu "${FL_CPU[*]}" \
  'def nums: [splits(" ") | select(. != "") | tonumber];
   { date: $date, loadAverage: $load, cpus: $cpus, halfOpenCap: $cap, ok: ($failed == 0), ksRssIdleKb: $rssIdleKb,
     baseline: { allRegisteredMs: ($baseAll | nums), slowestExchangeMs: ($baseEx | nums) },
     flood: { allRegisteredMs: ($flAll | nums), slowestExchangeMs: ($flEx | nums), sentPps: ($pps | nums), ksReceivedPps: ($rx | nums),
              ksRssMaxKb: ($rss | nums), halfOpenMax: ($ho | nums), kernelDrops: ($drop | nums), evictions: ($ev | nums), mm1DroppedAtCap: ($lim | nums), ksCpuPercent: ($cpu | nums) } }')
echo "FLOOD_JSON $json"
[ -n "$JSON_OUT" ] && printf '%s\n' "$json" >"$JSON_OUT"
exit "$FAILED"
