#!/usr/bin/env bash
# shellcheck disable=SC2016  # (single-quoted JavaScript template strings for lab_json)
# Faults in the network-namespace lab (issue #6 "Faults"; lab/README.md "Faults"), with continuous pings
# between the sites (site1->site2, site2->site3, site3->site1 every 0.05 s, counted per scenario):
#
#   1. ks-kill     the key server gets SIGKILL and is started again: the GMs keep encrypting with their
#                  TEKs while it is down, it comes back with its KEK, TEKs, members and SEQ, the next
#                  scheduled push carries a higher SEQ and every GM accepts it, and no GM re-registers.
#   2. gm-kill     GM-3 gets SIGKILL and is started again: it registers, and the pings through it resume.
#   3. ctl-loss    30 % loss and reordering (10 ms delay, 25 % sent at once) on the control plane only
#                  (UDP 848, both directions, on Middle-Man): every GM re-registers (reload) and holds the
#                  next rekey's TEK, by the push or by its registration, before the TEK before it expires.
#   4. blackout    Middle-Man drops everything for longer than the push retransmission window
#                  (retransmitPeriodSec x (retransmitCount + 1)) around a scheduled rekey: every GM misses
#                  the push, re-registers before its TEK expires, and the pings flow again.
#
# They run in the order 1, 3, 4, 2 (2 has no timing of its own; 1, 3 and 4 each take a scheduled rekey).
# Then a table: scenario | pings sent | lost | loss % | what was checked; the last line is "N passed, M
# failed" and the exit status is 0 only if every check passed. About 3 minutes: the GMs of
# lab/config/faults retransmit after 3 s (`retransmit.intervalSec`; Cisco's 7 s made the loss scenario
# take each GM 2-120 s).
#
#   sudo lab/faults.sh          build the lab (lab/netns.sh up with lab/config/faults), run 1-4, tear it down
#   sudo lab/faults.sh down     tear down a lab a killed run left behind
#
# Environment: GDOI_LAB_ID (default "flt": namespaces gdoi-flt-*, run directory /run/gdoi-flt),
# GDOI_LAB_CONFIG (default lab/config/faults: TEK 60 s, a push every 40 s), FAULTS_ONLY (scenario names to
# run, e.g. "ks-kill blackout"; default all four), FAULTS_KEEP=1 (leave the lab up). When a check fails,
# the daemons' logs and the ping outputs are copied to a directory under ${TMPDIR:-/tmp} (printed).
#
# How the faults are made: SIGKILL to the daemon's PID (the PID files of lab/netns.sh); loss and reordering
# by policy routing UDP 848 arriving on Middle-Man's interfaces into a TUN device served by
# lab/lib/impair.mjs (a user-space netem: kernels such as Firecracker guests have no sch_netem), the rest
# is forwarded untouched; the blackout by `ip rule ... blackhole` for everything arriving on Middle-Man.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export GDOI_LAB_ID=${GDOI_LAB_ID:-flt}
export GDOI_LAB_CONFIG=${GDOI_LAB_CONFIG:-$REPO/lab/config/faults}
GDOI_LAB_SOURCED=1
# shellcheck source=lab/netns.sh
source "$REPO/lab/netns.sh" # names (P, RUN, NS_*), need_root, cmd_up, cmd_down, start_daemon, wait_for …

PING_INTERVAL=0.05
MM_IFS=(ks gm1 gm2 gm3)     # Middle-Man's interfaces
IMPAIR_TABLE=8848           # Middle-Man: UDP 848 -> the impairment TUN
IMPAIR_PREF=100             # rule preferences 100-107 (impairment), 90-93 (blackout)
BLACKOUT_PREF=90
ATD_SEC=5                   # lab/config/faults/ks.yaml gap.activationDelaySec
CTL_LOSS_MAX_SEC=170        # how long the GMs may take to register through the loss

ROWS=()        # the table, one "scenario|sent lost trailing|checks" per scenario
PING_PIDS=()
KEEP=${FAULTS_KEEP:-0}
ONLY=${FAULTS_ONLY:-gm-kill ks-kill ctl-loss blackout}

now_ms() { date +%s%3N; }
iso_ms() { date -d "$1" +%s%3N; }
ks_seq() { ks_json | lab_json "(j.groups.find((g) => g.name === '$LAB_GROUP') || {}).seq ?? 0"; }
ks_group() { ks_json | lab_json "j.groups.find((g) => g.name === '$LAB_GROUP')"; }
# The SPI of the KS's newest TEK (the one with the most life left).
ks_newest_tek() { ks_group | lab_json 'j.teks.reduce((a, t) => (a === null || t.remainingSec > a.remainingSec ? t : a), null)?.spi ?? "none"'; }
ks_time_to_rekey() { ks_group | lab_json 'Math.min(...j.teks.map((t) => t.timeToRekeySec ?? 1e9))'; }
gm_field() { gm_json "$1" | lab_json "$2"; }
gm_has_spi() { gm_json "$1" | lab_json "j.ipsecSas.some((s) => s.spiHex.toLowerCase() === '${2,,}') ? 'yes' : 'no'"; }
all_gms() { local n; for n in $LAB_GMS; do "$@" "$n" || return 1; done; }
gm_pid() { cat "$RUN/gm$1.pid"; }
# The time (epoch ms) of the first log event of a daemon matching a jq filter, or "".
log_first_ms() {
  local t
  t=$(jq -Rr "fromjson? | select($2) | .time" "$RUN/$1.log" | head -n 1)
  if [ -n "$t" ]; then iso_ms "$t"; fi
}
log_count() { jq -Rc "fromjson? | select($2)" "$RUN/$1.log" | wc -l; }

# ---- continuous pings, counted per scenario --------------------------------------------------------

pings_start() { # pings_start NAME: site1->site2, site2->site3, site3->site1, every PING_INTERVAL
  local a b
  PING_PIDS=()
  for a in $LAB_GMS; do
    b=$((a % 3 + 1))
    ip netns exec "$(site_ns "$a")" ping -n -i "$PING_INTERVAL" -W 1 "$(site_addr "$b")" >"$RUN/ping-$1-$a.log" 2>&1 &
    PING_PIDS+=($!)
  done
}
# Lost = echo requests up to the highest answered icmp_seq without an answer (requests still in flight
# when ping is stopped do not count). Sets PINGS to "sent lost trailing" summed over the three pairs,
# where trailing = requests after the last answer (more than a few: the traffic did not come back).
PINGS=
pings_stop() {
  local pid a f sent=0 lost=0 trail=0 s l t
  sleep 1.2 # the last requests' replies
  for pid in "${PING_PIDS[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
  for pid in "${PING_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PING_PIDS=()
  for a in $LAB_GMS; do
    f=$RUN/ping-$1-$a.log
    read -r s l t < <(awk '
      /bytes from/ { if (match($0, /icmp_seq=[0-9]+/)) { q = substr($0, RSTART + 9, RLENGTH - 9) + 0; seen[q] = 1; if (q > max) max = q } }
      /packets transmitted/ { tx = $1 + 0 }
      END { lost = 0; for (i = 1; i <= max; i++) if (!(i in seen)) lost++; printf "%d %d %d\n", max, lost, (tx > max ? tx - max : 0) }' "$f")
    note "ping site$a -> site$((a % 3 + 1)): $s sent, $l lost, $t unanswered at the end (${PING_INTERVAL} s apart)"
    sent=$((sent + s)) lost=$((lost + l)) trail=$((trail + t))
  done
  PINGS="$sent $lost $trail"
}

row() { ROWS+=("$1|$2|$3"); } # row SCENARIO "sent lost trailing" CHECKS (no "|" in them)

# ---- faults on Middle-Man ---------------------------------------------------------------------------

impair_on() { # 30 % loss, 10 ms delay, 25 % at once (reordering) for UDP 848 through Middle-Man
  local i k=0
  start_daemon impair "$NS_MM" "$NODE" "$REPO/lab/lib/impair.mjs" --dev imp0 --loss 30 --delay-ms 10 --reorder 25 --stats "$RUN/impair.json"
  wait_for 10 "the impairment TUN imp0" ip -n "$NS_MM" link show imp0 || return 1
  ip -n "$NS_MM" link set imp0 up
  # what imp0 writes back has the GMs' and the KS's source addresses: no reverse-path check there
  sysctl_ns "$NS_MM" net.ipv4.conf.all.rp_filter=0
  sysctl_ns "$NS_MM" net.ipv4.conf.imp0.rp_filter=0
  ip -n "$NS_MM" route replace default dev imp0 table $IMPAIR_TABLE
  for i in "${MM_IFS[@]}"; do
    ip -n "$NS_MM" rule add pref $((IMPAIR_PREF + k)) iif "$i" ipproto udp dport 848 lookup $IMPAIR_TABLE
    ip -n "$NS_MM" rule add pref $((IMPAIR_PREF + k + 1)) iif "$i" ipproto udp sport 848 lookup $IMPAIR_TABLE
    k=$((k + 2))
  done
}
impair_off() {
  local k
  for ((k = 0; k < 2 * ${#MM_IFS[@]}; k++)); do ip -n "$NS_MM" rule del pref $((IMPAIR_PREF + k)) 2>/dev/null || true; done
  ip -n "$NS_MM" route flush table "$IMPAIR_TABLE" 2>/dev/null || true
  [ -e "$RUN/impair.pid" ] && stop_pidfile "$RUN/impair.pid"
  return 0
}
blackout_on() { local k; for ((k = 0; k < ${#MM_IFS[@]}; k++)); do ip -n "$NS_MM" rule add pref $((BLACKOUT_PREF + k)) iif "${MM_IFS[$k]}" blackhole; done; }
blackout_off() { local k; for ((k = 0; k < ${#MM_IFS[@]}; k++)); do ip -n "$NS_MM" rule del pref $((BLACKOUT_PREF + k)) 2>/dev/null || true; done; }

UP_LOG=
UP_OK=0
cleanup() {
  local pid
  if [ -n "$UP_LOG" ]; then
    [ "$UP_OK" = 1 ] || cat "$UP_LOG" >&2
    rm -f "$UP_LOG"
  fi
  for pid in "${PING_PIDS[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
  if ns_exists "$NS_MM"; then blackout_off; impair_off; fi
  [ -n "${LAB_TMP:-}" ] && rm -rf "$LAB_TMP"
  lab_keep_failed_logs faults "$RUN"/*.log "$RUN"/impair.json
  if [ "$KEEP" = 1 ]; then say "FAULTS_KEEP=1: the lab '$LAB_ID' stays up (lab/faults.sh down)"; else cmd_down; fi
}

# ---- 2. GM-3 killed and restarted -------------------------------------------------------------------

scn_gm_kill() {
  echo "-- 2. GM-3: SIGKILL, restart"
  local pid t_kill t_up t_reg reg0 clear checks r ok=0
  reg0=$(log_count gm3 '.event == "gdoi.registration.complete"')
  pings_start gm-kill
  sleep 2
  capture_start gmclear 10 100000 'icmp and src net 10.1.0.0/16 and dst net 10.1.0.0/16'
  pid=$(gm_pid 3)
  t_kill=$(now_ms)
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null || true
  if ip -n "$(gm_ns 3)" link show gdoi0 >/dev/null 2>&1; then note "GM-3's TUN is still there after the kill"; fi
  start_daemon gm3 "$(gm_ns 3)" "$NODE" "$GM_BIN" --config "$RUN/config/gm3.yaml" --metrics "$METRICS"
  t_up=$(now_ms)
  if wait_for 30 "GM-3 registration after the restart" gm_registered 3; then
    t_reg=$(now_ms)
    pass "GM-3 registered again $((t_reg - t_kill)) ms after the kill (started $((t_up - t_kill)) ms after it)"
  else
    fail "GM-3 did not register after its restart"; ok=1; t_reg=$(now_ms)
  fi
  r=$(gm_field 3 '`${j.registration.succeeded} ${j.registration.registeredWith}`')
  if [ "$(log_count gm3 '.event == "gdoi.registration.complete"')" -gt "$reg0" ] && [ "${r%% *}" = 1 ]; then
    pass "GM-3 (a new process: $r) logged gdoi.registration.complete"
  else
    fail "GM-3 after the restart: registrations '$r', log lines $reg0 -> $(log_count gm3 '.event == "gdoi.registration.complete"')"; ok=1
  fi
  if wait_for 15 "pings through GM-3" ping_ok site3 -c 2 -i 0.2 -W 1 "$(site_addr 1)" && ping_ok site2 -c 2 -i 0.2 -W 1 "$(site_addr 3)"; then
    pass "traffic through GM-3 resumed ($(($(now_ms) - t_kill)) ms after the kill)"
  else
    fail "no traffic through GM-3 after its restart"; ok=1
  fi
  sleep 1
  pings_stop gm-kill
  capture_wait gmclear
  # -i any shows each forwarded packet twice (in, out)
  clear=$(($(grep -c 'ICMP echo request' "$LAB_TMP/gmclear.txt" || true) / 2))
  note "while GM-3 was down its site's echo requests left in clear (fail-open: the TUN and its routes died with the process, the rules fell through to the main table): $clear seen on Middle-Man"
  checks="GM-3 re-registered $((t_reg - t_kill)) ms after SIGKILL, pings via GM-3 resumed; $clear echo requests of site3 crossed Middle-Man in clear meanwhile"
  row "GM-3 SIGKILL + restart" "$PINGS" "$checks"
  return $ok
}

# ---- 1. the key server killed and restarted ----------------------------------------------------------

scn_ks_kill() {
  echo "-- 1. key server: SIGKILL, restart, next scheduled rekey"
  local pid n seq0 seq1 kek0 kek1 t_kill t_up ok=0
  local -A succ0=() att0=() started0=() enc0=() acks0=()
  local ttr teks0 s a c
  # The kill goes between two rekeys, with time for a slow restart before the next one (a rekey that
  # falls due while the KS is down is sent as it starts: right, but then SEQ is one more at once).
  while :; do
    read -r seq0 kek0 teks0 < <(ks_group | lab_json '`${j.seq} ${j.kek.spi} ${j.teks.map((t) => t.spi.toLowerCase()).join(" ")}`')
    for n in $LAB_GMS; do
      read -r s a c < <(gm_field "$n" '`${j.registration.succeeded} ${j.registration.attempted} ${j.rekeys.acksSent}`')
      succ0[$n]=$s att0[$n]=$a acks0[$n]=$c
      started0[$n]=$(log_count "gm$n" '.event == "gdoi.registration.started"')
    done
    ttr=$(ks_time_to_rekey)
    [ "$ttr" -ge 10 ] && break
    note "next rekey in ${ttr} s: waiting for it"
    sleep $((ttr + ATD_SEC + 2))
  done
  pings_start ks-kill
  for n in $LAB_GMS; do enc0[$n]=$(gm_field "$n" 'j.dataPlane.counters.encryptedPackets'); done
  pid=$(cat "$RUN/ks.pid")
  t_kill=$(now_ms)
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null || true
  sleep 2 # the GMs alone
  local same=0 enc="" spis=""
  for n in $LAB_GMS; do
    local e o
    read -r e o < <(gm_field "$n" '`${j.dataPlane.counters.encryptedPackets} ${(j.ipsecSas.find((s) => s.direction === "outbound" && s.state === "active") || {}).spiHex || "none"}`')
    o=${o,,}
    enc+=" GM-$n +$((e - enc0[$n]))"
    spis+=" $o"
    [[ " $teks0 " == *" $o "* ]] && [ "$e" -gt "${enc0[$n]}" ] && same=$((same + 1))
  done
  if [ "$same" = 3 ]; then pass "KS down: every GM keeps encrypting with a TEK it had before (SPIs$spis; packets encrypted meanwhile:$enc)"; else fail "KS down: GMs send with$spis (KS TEKs before: $teks0), encrypted:$enc"; ok=1; fi
  start_daemon ks "$NS_KS" "$NODE" "$KS_BIN" --config "$RUN/config/ks.yaml" --metrics "$METRICS"
  if ! wait_for 30 "the key server after its restart" ks_json; then fail "the key server did not come back"; return 1; fi
  t_up=$(now_ms)
  local members seq_up
  read -r seq_up kek1 members < <(ks_group | lab_json '`${j.seq} ${j.kek.spi} ${j.members.length}`')
  if [ "$seq_up" -ge "$seq0" ] && [ "$kek1" = "$kek0" ] && [ "$members" = 3 ]; then
    pass "KS back after $((t_up - t_kill)) ms with SEQ $seq_up (was $seq0$([ "$seq_up" -gt "$seq0" ] && echo ": the rekey that fell due while it was down, sent as it started"), never lower), KEK $kek0 and 3 members (its state file)"
  else
    fail "KS after the restart: SEQ $seq_up (was $seq0), KEK $kek1 (was $kek0), $members members"; ok=1
  fi
  note "next scheduled rekey in $(ks_time_to_rekey) s"
  seq_all_gt() { [ "$(gm_field "$1" 'j.rekeys.lastSeq ?? 0')" -gt "$seq0" ]; }
  if wait_for 70 "the next scheduled rekey at every GM" all_gms seq_all_gt; then
    seq1=$(ks_seq)
    local good=0 got=""
    for n in $LAB_GMS; do
      local s a
      read -r s a < <(gm_field "$n" '`${j.rekeys.lastSeq} ${j.rekeys.acksSent}`')
      got+=" GM-$n:$s"
      [ "$s" = "$seq1" ] && [ "$a" -gt "${acks0[$n]}" ] && good=$((good + 1))
    done
    if [ "$seq1" -gt "$seq0" ] && [ "$good" = 3 ]; then pass "the restarted KS's next push, SEQ $seq1 > $seq0, accepted and acknowledged by every GM ($got)"; else fail "push after the restart: KS SEQ $seq1, GMs$got"; ok=1; fi
  else
    fail "no push after the KS restart reached every GM"; ok=1; seq1=$(ks_seq)
  fi
  local same_reg=0 regs=""
  for n in $LAB_GMS; do
    local s a st
    read -r s a < <(gm_field "$n" '`${j.registration.succeeded} ${j.registration.attempted}`')
    st=$(log_count "gm$n" '.event == "gdoi.registration.started"')
    regs+=" GM-$n $s/$a"
    [ "$s" = "${succ0[$n]}" ] && [ "$a" = "${att0[$n]}" ] && [ "$st" = "${started0[$n]}" ] && same_reg=$((same_reg + 1))
  done
  if [ "$same_reg" = 3 ]; then pass "no GM re-registered (registrations succeeded/attempted unchanged:$regs)"; else fail "a GM re-registered across the KS restart (succeeded/attempted:$regs)"; ok=1; fi
  sleep $((ATD_SEC + 1)) # every GM sends with the new TEK
  pings_stop ks-kill
  row "KS SIGKILL + restart" "$PINGS" "KS down $((t_up - t_kill)) ms; SEQ $seq0 -> restart $seq0 -> next push $seq1 ACKed by 3/3 GMs; registrations unchanged ($regs)"
  return $ok
}

# ---- 3. loss and reordering on the control plane ---------------------------------------------------

scn_ctl_loss() {
  echo "-- 3. 30 % loss + reordering on UDP 848 through Middle-Man: every GM re-registers, then a rekey"
  local n seq0 seq1 t0 ok=0 old_exp new_spi d0 a0
  local -A succ0=() treg=() tnew=() how=()
  seq0=$(ks_seq)
  d0=$(ks_json | lab_json 'j.counters["rekey.datagrams"] ?? 0')
  a0=$(ks_json | lab_json 'j.counters["rekey.acks"] ?? 0')
  for n in $LAB_GMS; do succ0[$n]=$(gm_field "$n" 'j.registration.succeeded'); done
  pings_start ctl-loss
  impair_on || { fail "could not start the impairment on Middle-Man"; return 1; }
  t0=$(now_ms)
  for n in $LAB_GMS; do "$NODE" "$GM_BIN" reload --socket "$RUN/gm$n.sock" >/dev/null; done
  note "$(date +%T) every GM re-registers through the lossy path; next scheduled rekey in $(ks_time_to_rekey) s"
  # Until every GM registered again and holds the TEK of a rekey sent after the start (from the logs:
  # cheap enough to look every second). Registering through 30 % loss each way takes a retransmission
  # (3 s in lab/config/faults) about once per round trip (5 of them).
  local deadline=$((t0 + CTL_LOSS_MAX_SEC * 1000)) done_all since
  since=$(date -u -d "@$((t0 / 1000))" +%Y-%m-%dT%H:%M:%S)
  while :; do
    done_all=1
    for n in $LAB_GMS; do
      [ -n "${treg[$n]:-}" ] || treg[$n]=$(log_first_ms "gm$n" ".event == \"gdoi.registration.complete\" and .time >= \"$since\"")
      [ -n "${treg[$n]}" ] || done_all=0
    done
    new_spi=$(jq -Rr "fromjson? | select(.event == \"gdoi.rekey.sent\" and .seq > $seq0) | .newSpi" "$RUN/ks.log" | tail -n 1)
    if [ -n "$new_spi" ]; then
      for n in $LAB_GMS; do [ "$(log_count "gm$n" ".event == \"gdoi.tek.installed\" and .spi == \"$new_spi\"")" -gt 0 ] || done_all=0; done
    else
      done_all=0
    fi
    [ "$done_all" = 1 ] && break
    [ "$(now_ms)" -lt "$deadline" ] || break
    sleep 1
  done
  seq1=$(ks_seq)
  local stats
  stats=$(cat "$RUN/impair.json" 2>/dev/null || echo '{}')
  impair_off
  local regs=""
  for n in $LAB_GMS; do
    if [ -n "${treg[$n]:-}" ]; then regs+=" GM-$n $(((treg[$n] - t0) / 1000))s"; else regs+=" GM-$n never"; fi
  done
  if [ -n "${treg[1]:-}" ] && [ -n "${treg[2]:-}" ] && [ -n "${treg[3]:-}" ]; then pass "every GM registered through 30 % loss (after:$regs)"; else fail "registration through 30 % loss:$regs"; ok=1; fi
  # Every rekey sent meanwhile: each GM had its TEK before the TEK created before it expired (KS log).
  local life good_all=1 detail="" line q spi prev
  life=$(ks_group | lab_json 'j.tekLifetimeSec')
  while read -r q spi; do
    prev=$(jq -Rr 'fromjson? | select(.event == "gdoi.tek.created") | .spi' "$RUN/ks.log" | grep -B1 -x "$spi" | head -n 1)
    old_exp=$(($(log_first_ms ks ".event == \"gdoi.tek.created\" and .spi == \"$prev\"") + life * 1000))
    line=" SEQ $q:"
    for n in $LAB_GMS; do
      tnew[$n]=$(log_first_ms "gm$n" ".event == \"gdoi.tek.installed\" and .spi == \"$spi\"")
      how[$n]=$(jq -Rr "fromjson? | select(.event == \"gdoi.tek.installed\" and .spi == \"$spi\") | .source" "$RUN/gm$n.log" | head -n 1)
      if [ -n "${tnew[$n]}" ] && [ "${tnew[$n]}" -lt "$old_exp" ]; then
        line+=" GM-$n by ${how[$n]} $(((old_exp - tnew[$n]) / 1000))s early"
      else
        line+=" GM-$n ${tnew[$n]:+late by $(((tnew[$n] - old_exp) / 1000))s}${tnew[$n]:-never}"; good_all=0
      fi
    done
    detail+="$line;"
  done < <(jq -Rr "fromjson? | select(.event == \"gdoi.rekey.sent\" and .seq > $seq0 and .seq <= $seq1) | \"\\(.seq) \\(.newSpi)\"" "$RUN/ks.log")
  if [ "$seq1" -gt "$seq0" ] && [ "$good_all" = 1 ]; then
    pass "every rekey of the loss window reached every GM (by push or registration) before the TEK before it expired:$detail"
  else
    fail "rekeys of the loss window (SEQ $seq0 -> $seq1):${detail:- none}"; ok=1
  fi
  local dropped reordered read_n retx acks
  read -r read_n dropped reordered < <(lab_json '`${j.read ?? 0} ${j.dropped ?? 0} ${j.reordered ?? 0}`' <<<"$stats")
  retx=$(($(ks_json | lab_json 'j.counters["rekey.datagrams"] ?? 0') - d0))
  acks=$(($(ks_json | lab_json 'j.counters["rekey.acks"] ?? 0') - a0))
  if [ "$dropped" -gt 0 ]; then pass "the control plane was lossy: $dropped of $read_n GDOI datagrams dropped on Middle-Man, $reordered reordered"; else fail "impairment dropped nothing ($stats)"; ok=1; fi
  check_site_pings || ok=1
  pings_stop ctl-loss
  row "30 % loss + reorder, UDP 848 only" "$PINGS" "$dropped/$read_n GDOI datagrams dropped, $reordered reordered; re-registered after:$regs; SEQ $seq0 -> $seq1 ($retx push datagrams, $acks ACKs at the KS); each rekey at each GM before the TEK before it expired:${detail:- none}"
  return $ok
}

# ---- 4. blackout across a rekey ---------------------------------------------------------------------

scn_blackout() {
  echo "-- 4. Middle-Man drops everything across a scheduled rekey"
  local n seq0 seq1 ok=0 period count window blackout t_on t_off old_spi old_exp new_spi
  local -A succ0=() tnew=() how=()
  read -r period count < <(ks_group | lab_json '`${j.retransmitPeriodSec} ${j.retransmitCount}`')
  window=$((period * (count + 1)))
  blackout=$((window + 4)) # 2 s before the push to 2 s after its last retransmission's wait
  # When the next rekey is due (ms): the newest TEK's creation (KS log) + the KS's creation-to-rekey
  # time (elapsed + time to rekey, whole seconds that add up exactly).
  local t_push lag
  due_ms() {
    local spi el
    read -r spi el < <(ks_group | lab_json 'j.teks.reduce((a, t) => (a === null || t.remainingSec > a.remainingSec ? t : a), null) ?? {}' | lab_json '`${j.spi} ${j.elapsedSec + j.timeToRekeySec}`')
    echo $(($(log_first_ms ks ".event == \"gdoi.tek.created\" and .spi == \"$spi\"") + el * 1000))
  }
  while :; do # the reads first (slow on a loaded machine), then the timing
    seq0=$(ks_seq)
    old_spi=$(ks_newest_tek)
    old_exp=$(($(log_first_ms ks ".event == \"gdoi.tek.created\" and .spi == \"$old_spi\"") + $(ks_group | lab_json 'j.tekLifetimeSec') * 1000))
    for n in $LAB_GMS; do succ0[$n]=$(gm_field "$n" 'j.registration.succeeded'); done
    t_push=$(due_ms)
    [ "$(ks_newest_tek)" = "$old_spi" ] || continue # it came during the reads: read again
    [ $((t_push - $(now_ms))) -ge 4000 ] && break
    note "next rekey in $(((t_push - $(now_ms)) / 1000)) s: too close, waiting for the one after"
    sleep "$(awk -v m="$((t_push - $(now_ms)))" -v a="$ATD_SEC" 'BEGIN { m = m / 1000 + a + 3; printf "%d", (m < 1 ? 1 : m) }')"
  done
  note "push retransmission window ${period} s x ($count + 1) = ${window} s; blackout ${blackout} s from 2 s before the rekey due in $(((t_push - $(now_ms)) / 1000)) s"
  pings_start blackout
  lag=$((t_push - 2000 - $(now_ms)))
  [ "$lag" -gt 0 ] && sleep "$(awk -v m="$lag" 'BEGIN { printf "%.3f", m / 1000 }')"
  blackout_on
  t_on=$(now_ms)
  sleep "$blackout" # nothing else meanwhile: the blackout ends on time, before the GMs' re-registration
  blackout_off
  t_off=$(now_ms)
  note "blackout $((t_on - t_push)) ms to $((t_off - t_push)) ms around the rekey's due time"
  seq1=$(ks_seq)
  local t_sent got=0
  t_sent=$(log_first_ms ks ".event == \"gdoi.rekey.sent\" and .seq == $((seq0 + 1))")
  for n in $LAB_GMS; do got=$((got + $(log_count "gm$n" ".event == \"gdoi.rekey.received\" and .seq == $((seq0 + 1))"))); done
  if [ "$seq1" -gt "$seq0" ] && [ -n "$t_sent" ] && [ "$t_sent" -ge "$t_on" ] && [ $((t_sent + window * 1000)) -le "$t_off" ] && [ "$got" = 0 ]; then
    pass "the KS pushed SEQ $((seq0 + 1)) $(((t_sent - t_on) / 1000)) s into the ${blackout} s blackout, its retransmissions (${window} s) ended inside it, and no GM received it"
  else
    fail "blackout from $t_on to $t_off: KS SEQ $seq0 -> $seq1, pushed at ${t_sent:-never}, received by $got GM(s)"; ok=1
  fi
  new_spi=$(ks_newest_tek)
  has_new() { [ "$(gm_has_spi "$1" "$new_spi")" = yes ]; }
  wait_for $(((old_exp - $(now_ms)) / 1000 + 10)) "every GM with the new TEK $new_spi" all_gms has_new || true
  local good=0 detail="" regs=""
  for n in $LAB_GMS; do
    tnew[$n]=$(log_first_ms "gm$n" ".event == \"gdoi.tek.installed\" and .spi == \"$new_spi\"")
    how[$n]=$(jq -Rr "fromjson? | select(.event == \"gdoi.tek.installed\" and .spi == \"$new_spi\") | .source" "$RUN/gm$n.log" | head -n 1)
    regs+=" GM-$n $(gm_field "$n" 'j.registration.succeeded')"
    if [ -n "${tnew[$n]}" ] && [ "${tnew[$n]}" -lt "$old_exp" ] && [ "${how[$n]}" = registration ] && [ "$(gm_field "$n" 'j.registration.succeeded')" -gt "${succ0[$n]}" ]; then
      good=$((good + 1)); detail+=" GM-$n $(((tnew[$n] - t_off) / 1000))s after the blackout, $(((old_exp - tnew[$n]) / 1000))s before expiry;"
    else
      detail+=" GM-$n: ${how[$n]:-no} install ${tnew[$n]:+$(((tnew[$n] - old_exp) / 1000))s from the expiry};"
    fi
  done
  if [ "$good" = 3 ]; then pass "every GM re-registered and got TEK $new_spi before TEK $old_spi expired:$detail"; else fail "recovery after the blackout:$detail (registrations:$regs)"; ok=1; fi
  local nr
  nr=0
  for n in $LAB_GMS; do [ "$(log_count "gm$n" ".event == \"gdoi.rekey.not-received\" and (.time | . >= \"$(date -u -d "@$((t_on / 1000))" +%Y-%m-%dT%H:%M:%S)\")")" -gt 0 ] && nr=$((nr + 1)); done
  if [ "$nr" = 3 ]; then pass "every GM logged gdoi.rekey.not-received before re-registering"; else fail "$nr of 3 GMs logged gdoi.rekey.not-received"; ok=1; fi
  sleep $((ATD_SEC + 1))
  check_site_pings || ok=1 # every pair pings again after the blackout
  pings_stop blackout
  row "blackout ${blackout} s across a rekey" "$PINGS" "push SEQ $seq1 lost at all 3 GMs (window ${window} s); re-registered with TEK $new_spi before $old_spi expired:$detail"
  return $ok
}

# ---- run ---------------------------------------------------------------------------------------------

print_table() {
  local r s counts c sent lost trail pct
  echo
  echo "| scenario | pings sent | lost | loss % | what was checked |"
  echo "|---|---:|---:|---:|---|"
  for r in "${ROWS[@]}"; do
    IFS='|' read -r s counts c <<<"$r"
    read -r sent lost trail <<<"$counts"
    pct=$(awk -v l="$lost" -v s="$sent" 'BEGIN { printf "%.1f", (s > 0 ? 100 * l / s : 0) }')
    [ "$trail" -gt 3 ] && c="$c (pings unanswered at the end: $trail)"
    echo "| $s | $sent | $lost | $pct | $c |"
  done
}

cmd_faults() {
  need_root
  local tool t0
  for tool in jq ping tcpdump; do command -v $tool >/dev/null || die "$tool is needed (scripts/setup-debian.sh)"; done
  [ -e /dev/net/tun ] || die "no /dev/net/tun"
  t0=$SECONDS
  echo "== faults: lab '$LAB_ID' ($GDOI_LAB_CONFIG), $(date -u +%FT%TZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
  trap cleanup EXIT
  UP_LOG=$(mktemp "${TMPDIR:-/tmp}/gdoi-faults-up.XXXXXX")
  cmd_up >/dev/null 2>"$UP_LOG" # its messages only if it fails (cleanup)
  UP_OK=1
  echo "lab '$LAB_ID' up: namespaces $P-*, run directory $RUN"
  use_checks_lib
  lab_tmp
  # a push before the key-server scenario, so that "a higher SEQ after the restart" means something
  lab_ks_rekey >/dev/null
  seq_ge1() { [ "$(gm_field "$1" 'j.rekeys.lastSeq ?? 0')" -ge 1 ]; }
  wait_for 15 "the first rekey at every GM" all_gms seq_ge1 || fail "the first (manual) rekey did not reach every GM"
  sleep $((ATD_SEC + 1)) # every GM sends with that rekey's TEK
  local s
  for s in ks-kill ctl-loss blackout gm-kill; do # gm-kill last: it has no timing of its own
    [[ " $ONLY " == *" $s "* ]] || continue
    case $s in
      ks-kill) scn_ks_kill || true ;;
      gm-kill) scn_gm_kill || true ;;
      ctl-loss) scn_ctl_loss || true ;;
      blackout) scn_blackout || true ;;
    esac
  done
  print_table
  echo
  lab_summary "$((SECONDS - t0)) s; load $(cut -d' ' -f1-3 /proc/loadavg)"
}

case "${1:-run}" in
  run) cmd_faults ;;
  down) cmd_down ;;
  *)
    echo "usage: $0 [run|down]   (root; GDOI_LAB_ID=<id>, FAULTS_KEEP=1)" >&2
    exit 2
    ;;
esac
