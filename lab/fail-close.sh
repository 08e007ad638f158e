#!/usr/bin/env bash
# Fail-close in the network-namespace lab (packages/gm-daemon/README.md "Fail-close"; Cisco
# `crypto map … gdoi fail-close`): the lab of lab/netns.sh with every GM configured `dataPlane.failClose:
# true`, pings crossing site1 <-> site2 every 0.05 s, and tcpdump on Middle-Man counting echo requests
# between the sites in CLEAR:
#
#   1. GM-2 gets SIGKILL: its TUN and the routes through it vanish with the process; the blackhole
#      routes (metric 4294967295) and the rules stay. GM-2 is started again: it finds the blackholes
#      (kept until its ACL is known), registers, and the pings flow again, as ESP. Nothing may cross
#      Middle-Man in clear from the kill to the re-registration (0 expected).
#   2. For contrast, the same with GM-2 fail-open (the lab's own configuration, SIGTERM then started
#      again without `dataPlane`): after its SIGKILL site2's echo requests leave in clear (> 0 expected).
#
# PASS/FAIL lines, a table (scenario | dead ms | echo requests in clear on Middle-Man), "N passed, M
# failed"; exit status 0 only if every check passed. About a minute.
#
#   sudo lab/fail-close.sh          build the lab, run 1 and 2, tear it down
#   sudo lab/fail-close.sh down     tear down a lab a killed run left behind
#
# Environment: GDOI_LAB_ID (default "fc": namespaces gdoi-fc-*, run directory /run/gdoi-fc),
# FAIL_CLOSE_KEEP=1 (leave the lab up), FAIL_CLOSE_DEAD_SEC (how long GM-2 stays dead, default 3).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export GDOI_LAB_ID=${GDOI_LAB_ID:-fc}
# shellcheck disable=SC2034  # read by lab/netns.sh
GDOI_LAB_SOURCED=1
# shellcheck source=lab/netns.sh
source "$REPO/lab/netns.sh" # names (P, RUN, NS_*), need_root, cmd_up, cmd_down, start_daemon, wait_for …

DEAD_SEC=${FAIL_CLOSE_DEAD_SEC:-3}
KEEP=${FAIL_CLOSE_KEEP:-0}
PING_INTERVAL=0.05
BETWEEN_SITES='icmp[icmptype] == icmp-echo and src net 10.1.0.0/16 and dst net 10.1.0.0/16'
ROWS=()
PING_PIDS=()
CFG_TMP=

now_ms() { date +%s%3N; }
gm_pid() { cat "$RUN/gm$1.pid"; }
log_count() { jq -Rc "fromjson? | select($2)" "$RUN/$1.log" | wc -l; }
blackholes() { ip -n "$(gm_ns "$1")" -4 route show table 8480 type blackhole | awk '{ print $2 }' | sort | tr '\n' ' '; }

pings_start() { # site1 -> site2 and site2 -> site1 every PING_INTERVAL
  PING_PIDS=()
  ip netns exec "$(site_ns 1)" ping -n -i "$PING_INTERVAL" -W 1 "$(site_addr 2)" >"$RUN/ping-$1-1.log" 2>&1 &
  PING_PIDS+=($!)
  ip netns exec "$(site_ns 2)" ping -n -i "$PING_INTERVAL" -W 1 "$(site_addr 1)" >"$RUN/ping-$1-2.log" 2>&1 &
  PING_PIDS+=($!)
}
pings_stop() {
  local pid
  for pid in "${PING_PIDS[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
  for pid in "${PING_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PING_PIDS=()
}

# kill_gm2 NAME: pings across, a capture NAME on Middle-Man (running on until clear_seen NAME), SIGKILL
# GM-2, DEAD_SEC dead. Sets T_KILL.
T_KILL=0
kill_gm2() {
  local pid
  pings_start "$1"
  sleep 1
  capture_start "$1" $((DEAD_SEC + 60)) 100000 "$BETWEEN_SITES"
  pid=$(gm_pid 2)
  T_KILL=$(now_ms)
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null || true
  if ip -n "$(gm_ns 2)" link show gdoi0 >/dev/null 2>&1; then note "GM-2's TUN is still there after the kill"; fi
  note "GM-2 killed; its plaintext table now: $(ip -n "$(gm_ns 2)" -4 route show table 8480 | tr '\n' ';')"
  sleep "$DEAD_SEC"
}
# clear_seen NAME: stops capture NAME; CLEAR = the echo requests between the sites it saw in clear
CLEAR=0
clear_seen() {
  kill "${LAB_CAPTURE_PID[$1]}" 2>/dev/null || true
  capture_wait "$1"
  # -i any shows each forwarded packet twice (in, out)
  CLEAR=$(($(grep -c 'ICMP echo request' "$LAB_TMP/$1.txt" || true) / 2))
}

restart_gm2() { # restart_gm2 CONFIG: started again, registered, pings site1 <-> site2 flow
  start_daemon gm2 "$(gm_ns 2)" "$NODE" "$GM_BIN" --config "$1" --metrics "$METRICS"
  wait_for 30 "GM-2 registration" gm_registered 2 || return 1
  wait_for 15 "pings through GM-2" ping_ok site1 -c 2 -i 0.2 -W 1 "$(site_addr 2)" || return 1
  ping_ok site2 -c 2 -i 0.2 -W 1 "$(site_addr 1)"
}

esp_between_sites() { # ESP site1 <-> site2 on Middle-Man while pinging (count)
  capture_start esp 6 8 'esp and src net 10.1.0.0/16 and dst net 10.1.0.0/16'
  ping_ok site2 -c 3 -i 0.2 -W 1 "$(site_addr 1)" >/dev/null || true
  capture_wait esp
  grep -c 'ESP' "$LAB_TMP/esp.txt" || true
}

scn_fail_close() {
  echo "-- 1. GM-2 fail-close: SIGKILL, restart"
  local bh st t_reg dropped n
  st=$(lab_gm_status 2)
  if grep -q '^    fail-close: active' <<<"$st"; then pass "gdoi-gm status: $(grep '^    fail-close:' <<<"$st" | sed 's/^ *//')"; else fail "gdoi-gm status of GM-2 does not say fail-close is active"; fi
  bh=$(blackholes 2)
  if [ -n "$bh" ]; then pass "GM-2's blackhole routes (table 8480, metric 4294967295): $bh"; else fail "GM-2 has no blackhole route in table 8480"; fi
  kill_gm2 fc-kill
  if [ "$(blackholes 2)" = "$bh" ]; then pass "the blackholes survived the SIGKILL: $bh"; else fail "blackholes after the kill: '$(blackholes 2)' (before: '$bh')"; fi
  # the capture runs on through the restart: neither the dead time nor the new process's start may leak
  if restart_gm2 "$RUN/config/gm2.yaml"; then
    t_reg=$(now_ms)
    pass "GM-2 restarted, registered and carries the pings again $((t_reg - T_KILL)) ms after the kill"
  else
    fail "GM-2 did not come back after its restart"; t_reg=$(now_ms)
  fi
  clear_seen fc-kill
  if [ "$CLEAR" = 0 ]; then pass "0 echo requests between the sites crossed Middle-Man in clear from the SIGKILL to the re-registration ($((t_reg - T_KILL)) ms, ${DEAD_SEC} s of it dead)"; else fail "$CLEAR echo requests crossed Middle-Man in clear while the fail-close GM-2 was dead or restarting"; fi
  ROWS+=("fail-close GM-2 SIGKILL, restart|$((t_reg - T_KILL))|$CLEAR")
  n=$(log_count gm2 '.event == "gdoi.routing.fail-close.left-over"')
  if [ "$n" -ge 1 ]; then pass "the restarted GM-2 found the blackholes of the killed one and kept them until its ACL was known"; else fail "the restarted GM-2 did not log gdoi.routing.fail-close.left-over"; fi
  dropped=$(gm_json 2 | lab_json 'j.dataPlane.counters.dropNoSa')
  note "GM-2 dropped $dropped packets without an SA (before its registration) after the restart"
  pings_stop
  n=$(esp_between_sites)
  if [ "$n" -ge 2 ]; then pass "site1 <-> site2 crosses Middle-Man as ESP again ($n ESP packets seen)"; else fail "no ESP between the sites after GM-2's restart ($n)"; fi
}

scn_fail_open() {
  echo "-- 2. GM-2 fail-open (contrast): SIGKILL"
  sed '/^dataPlane:/,$d' "$RUN/config/gm2.yaml" >"$RUN/config/gm2-open.yaml"
  stop_pidfile "$RUN/gm2.pid"
  if [ -z "$(blackholes 2)" ]; then pass "a clean stop (SIGTERM) removed GM-2's blackholes"; else fail "blackholes left after a clean stop: $(blackholes 2)"; fi
  restart_gm2 "$RUN/config/gm2-open.yaml" || { fail "GM-2 fail-open did not start and register"; return 1; }
  if lab_gm_status 2 | grep -q '^    fail-close: off'; then pass "GM-2 restarted fail-open (status: fail-close: off)"; else fail "GM-2's status does not say fail-close: off"; fi
  kill_gm2 fo-kill
  clear_seen fo-kill
  pings_stop
  if [ "$CLEAR" -gt 0 ]; then pass "fail-open: $CLEAR echo requests crossed Middle-Man in clear while GM-2 was dead (the leak fail-close prevents)"; else fail "fail-open: no clear echo request while GM-2 was dead: the contrast shows nothing"; fi
  ROWS+=("fail-open GM-2 SIGKILL (contrast; not restarted)|$((DEAD_SEC * 1000))|$CLEAR")
}

cleanup() {
  pings_stop
  [ -n "${LAB_TMP:-}" ] && rm -rf "$LAB_TMP"
  [ -n "$CFG_TMP" ] && rm -rf "$CFG_TMP"
  lab_keep_failed_logs fail-close "$RUN"/*.log
  if [ "$KEEP" = 1 ]; then say "FAIL_CLOSE_KEEP=1: the lab '$LAB_ID' stays up (lab/fail-close.sh down)"; else cmd_down; fi
}

cmd_fail_close() {
  need_root
  local tool t0 f r s dead clear up_log
  for tool in jq ping tcpdump; do command -v $tool >/dev/null || die "$tool is needed (scripts/setup-debian.sh)"; done
  [ -e /dev/net/tun ] || die "no /dev/net/tun"
  t0=$SECONDS
  echo "== fail-close: lab '$LAB_ID', $(date -u +%FT%TZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
  trap cleanup EXIT
  # the lab's configuration, every GM fail-close (appended: lab/config stays the one source)
  CFG_TMP=$(mktemp -d "${TMPDIR:-/tmp}/gdoi-fail-close-cfg.XXXXXX")
  cp "$REPO"/lab/config/*.yaml "$CFG_TMP"/
  for f in "$CFG_TMP"/gm*.yaml; do printf '\ndataPlane:\n  failClose: true\n' >>"$f"; done
  # shellcheck disable=SC2034  # read by cmd_up (lab/netns.sh)
  CONFIG_DIR=$CFG_TMP
  up_log=$(mktemp "${TMPDIR:-/tmp}/gdoi-fail-close-up.XXXXXX")
  cmd_up >/dev/null 2>"$up_log" || { cat "$up_log" >&2; rm -f "$up_log"; exit 1; }
  rm -f "$up_log"
  echo "lab '$LAB_ID' up ($((SECONDS - t0)) s): namespaces $P-*, run directory $RUN"
  use_checks_lib
  lab_tmp
  wait_for 15 "pings site1 -> site2" ping_ok site1 -c 2 -i 0.2 -W 1 "$(site_addr 2)" || fail "no pings site1 -> site2 before the faults"
  scn_fail_close || true
  scn_fail_open || true
  echo
  echo "| scenario | SIGKILL to registered / end (ms) | echo requests site1 <-> site2 in clear on Middle-Man |"
  echo "|---|---:|---:|"
  for r in "${ROWS[@]}"; do
    IFS='|' read -r s dead clear <<<"$r"
    echo "| $s | $dead | $clear |"
  done
  echo
  lab_summary "$((SECONDS - t0)) s; load $(cut -d' ' -f1-3 /proc/loadavg)"
}

case "${1:-run}" in
  run) cmd_fail_close ;;
  down) cmd_down ;;
  *)
    echo "usage: $0 [run|down]   (root; GDOI_LAB_ID=<id>, FAIL_CLOSE_KEEP=1)" >&2
    exit 2
    ;;
esac
