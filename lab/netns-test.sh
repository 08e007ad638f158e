# shellcheck shell=bash
# `lab/netns.sh test` (sourced by lab/netns.sh, which defines the names and helpers used here).
# Each check prints "ok - …" or "not ok - …"; the last line is "N passed, M failed" and the exit status
# is non-zero when anything failed. Takes about one TEK rekey period (≤ 90 s with lab/config).

T_PASS=0
T_FAIL=0
ok() { T_PASS=$((T_PASS + 1)); echo "ok - $*"; }
notok() { T_FAIL=$((T_FAIL + 1)); echo "not ok - $*"; }
check() { # check DESCRIPTION COMMAND...: passes when the command succeeds
  local what=$1
  shift
  if "$@"; then ok "$what"; else notok "$what"; fi
}
section() { echo "# --- $*"; }

TABLE_OUT=8480
TABLE_IN=8481
PREF=8480
ATD_SEC=5  # lab/config/ks.yaml gap.activationDelaySec
DTD_SEC=20 # lab/config/ks.yaml gap.deactivationDelaySec
# The largest plaintext that fits the TUN MTU (1400) once sealed in tunnel mode: 20 (outer IPv4) + 8 (ESP
# header) + IV + padding to the cipher's block (incl. the 2-octet trailer) + ICV. Follows the TEK
# transform the lab runs with (GDOI_LAB_TRANSFORM, lab/netns.sh).
route_mtu() {
  local iv block icv
  case "${GDOI_LAB_TRANSFORM:-esp-aes 256 esp-sha-hmac}" in
  esp-gcm*) iv=8 block=4 icv=16 ;;
  *esp-sha256-hmac*) iv=16 block=16 icv=16 ;;
  *esp-sha-hmac*) iv=16 block=16 icv=12 ;;
  *) echo 0; return ;;
  esac
  local room=$((1400 - 20 - 8 - iv - icv))
  echo $((room / block * block - 2))
}
MTU=$(route_mtu)

# ---- captures on Middle-Man ------------------------------------------------------------------------

CAP_PID=
cap_start() { # cap_start FILE [tcpdump options/filter…]: wait until tcpdump listens
  local file=$1 i
  shift
  rm -f "$file" "$file.err"
  ip netns exec "$NS_MM" tcpdump -ni any --immediate-mode -U -w "$file" "$@" 2>"$file.err" &
  CAP_PID=$!
  echo "$CAP_PID" >"$RUN/tcpdump.pid"
  for ((i = 0; i < 40; i++)); do
    grep -q 'listening on' "$file.err" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
cap_stop() {
  sleep 0.3
  [ -n "$CAP_PID" ] && kill -INT "$CAP_PID" 2>/dev/null && wait "$CAP_PID" 2>/dev/null
  CAP_PID=
  rm -f "$RUN/tcpdump.pid"
}
# tshark over a capture; ESP decryption with the esp_sa lines of every GM's key log when $ESP_KEYS is set.
ts() {
  local file=$1
  shift
  local args=(-n -r "$file" -d udp.port==848,isakmp)
  if [ -n "${ESP_KEYS:-}" ]; then
    args+=(-o esp.enable_encryption_decode:TRUE)
    local l
    while IFS= read -r l; do args+=(-o "uat:esp_sa:$l"); done < <(grep -h '^"IPv4"' "$RUN"/gm*.keylog | sort -u)
  fi
  tshark "${args[@]}" "$@" 2>/dev/null
}
count() { ts "$1" -Y "$2" | wc -l; }

# ---- status helpers ---------------------------------------------------------------------------------

gm_current_spi() { gm_json "$1" | jq -r '.dataPlane.slots[0].current // empty' | tr 'a-f' 'A-F' | sed 's/^0X/0x/'; }
# Data-plane totals (e encrypted, d decrypted, f ICMP frag-needed sent) and the `status` SA counters of
# the current TEK (so outbound packets, si inbound packets).
counters() {
  gm_json "$1" | jq -c '(.dataPlane.slots[0].current // "" | ascii_upcase) as $c | .dataPlane.counters as $k
    | ([.ipsecSas[] | select((.spiHex | ascii_upcase) == $c)]) as $sa
    | { e: $k.encryptedPackets, d: $k.decryptedPackets, f: $k.icmpFragNeeded, spi: $c,
        so: ([$sa[] | select(.direction == "outbound") | .counters.packets] | add // 0),
        si: ([$sa[] | select(.direction == "inbound") | .counters.packets] | add // 0) }'
}
delta() { jq -rn --argjson a "$1" --argjson b "$2" '"\($a.e - $b.e) \($a.d - $b.d)" + (if $a.spi == $b.spi then ", SA \($a.spi): \($a.so - $b.so) \($a.si - $b.si)" else "" end)'; }
ks_ttr() { ks_json | jq -r '[.groups[0].teks[].timeToRekeySec | select(. != null)] | max // 0'; }
ks_seq() { ks_json | jq -r '.groups[0].seq'; }
ping_ok() { # ping_ok SITE DEST [ping options]: quiet ping; succeeds when every reply came back
  local site=$1 dst=$2
  shift 2
  ip netns exec "$(site_ns "$site")" ping -q -W 2 "$@" "$dst" >/dev/null 2>&1
}

# ---- the checks ------------------------------------------------------------------------------------

scrape() { # scrape NS: the /metrics text of the daemon in that namespace
  ip netns exec "$1" "$NODE" -e "fetch('http://$METRICS/metrics').then((r) => r.text()).then((t) => process.stdout.write(t), () => process.exit(1))"
}
metric_sum() { # metric_sum TEXT NAME: the sum of every series of NAME
  awk -v n="$2" '$1 == n || index($1, n "{") == 1 { s += $NF } END { printf "%d", s }' <<<"$1"
}

# bulk SERVER_SITE SERVER_ARGS… -- CLIENT_SITE CLIENT_ARGS…: runs lab/lib/bulk.mjs as server and client
# in two sites; prints "client: <n> <sha256> server: <n> <sha256>"
bulk() {
  local ss=$1 sargs=() cs cargs=() f pid i
  # the server runs in the background of this shell (a $(…) subshell could not wait for it)
  shift
  while [ "$1" != -- ]; do sargs+=("$1"); shift; done
  shift
  cs=$1
  shift
  cargs=("$@")
  f=$RUN/bulk-${sargs[0]}
  ip netns exec "$(site_ns "$ss")" "$NODE" "$REPO/lab/lib/bulk.mjs" "${sargs[@]}" >"$f.out" 2>"$f.err" &
  pid=$!
  for i in $(seq 50); do grep -q listening "$f.err" 2>/dev/null && break; sleep 0.1; done
  local client
  client=$(timeout 60 ip netns exec "$(site_ns "$cs")" "$NODE" "$REPO/lab/lib/bulk.mjs" "${cargs[@]}" 2>&1 | tail -1)
  wait "$pid" || true # the server prints when the connection ends (TCP) or the datagrams are in (UDP)
  echo "client: $client server: $(cat "$f.out")"
}
same_twice() { # same_twice "client: N H server: N H": both sides saw the same count and hash
  local -a w
  read -ra w <<<"$1"
  [ "${#w[@]}" = 6 ] && [ "${w[1]}" = "${w[4]}" ] && [ "${w[2]}" = "${w[5]}" ] && [ "${w[1]}" -gt 0 ]
}

cmd_test() {
  need_root
  local tool
  for tool in jq tshark tcpdump ping; do command -v $tool >/dev/null || die "$tool is needed (scripts/setup-debian.sh)"; done
  [ -S "$RUN/ks.sock" ] || die "the lab '$LAB_ID' is not up (lab/netns.sh up)"
  local start=$SECONDS n
  trap 'cap_stop' EXIT

  section "registration (LAB.md 1)"
  for n in "${GMS[@]}"; do
    check "GM-$n registered with the key server" gm_registered "$n"
    check "GM-$n logged registration started and complete" grep -q '"gdoi.registration.complete"' "$RUN/gm$n.log"
  done
  check "the key server lists three members" test "$(ks_json | jq '.groups[0].members | length')" = 3
  check "the key server logged each new member" test "$(grep -c '"gdoi.member.added"' "$RUN/ks.log")" -ge 3

  section "routing installed by each GM"
  for n in "${GMS[@]}"; do
    local gm rules
    gm=$(gm_ns "$n")
    rules=$(ip -n "$gm" -4 rule show)
    check "GM-$n: ESP from the WAN is diverted (iif wan ipproto esp lookup $TABLE_IN)" grep -q "iif wan ipproto esp lookup $TABLE_IN" <<<"$rules"
    check "GM-$n: GDOI control traffic is exempt (udp dport/sport 848 goto)" grep -q "ipproto udp dport 848 goto $((PREF + 9))" <<<"$rules"
    check "GM-$n: what the TUN writes back uses the normal routes (iif gdoi0 goto)" grep -q "iif gdoi0 goto $((PREF + 9))" <<<"$rules"
    check "GM-$n: plaintext for 10.1.0.0/16 routes into the TUN with the ESP-sized MTU" grep -q "^10.1.0.0/16 dev gdoi0 .*mtu $MTU" < <(ip -n "$gm" -4 route show table $TABLE_OUT)
    check "GM-$n: its own LAN 10.1.$n.0/24 is not diverted (throw)" grep -q "^throw 10.1.$n.0/24" < <(ip -n "$gm" -4 route show table $TABLE_OUT)
    check "GM-$n: ESP for its own LAN goes into the TUN" grep -q "^10.1.$n.0/24 dev gdoi0" < <(ip -n "$gm" -4 route show table $TABLE_IN)
  done

  # Not right before a TEK switch: the SPI check below wants one TEK in use.
  local ttr
  ttr=$(ks_ttr)
  if [ "$ttr" -lt 20 ]; then
    echo "# the next TEK rekey is in ${ttr}s: waiting until the members switched"
    sleep $((ttr + ATD_SEC + 3))
  fi

  section "site-to-site pings, capture on Middle-Man (LAB.md 3)"
  local capA=$RUN/mm-pings.pcap
  check "tcpdump listens on Middle-Man" cap_start "$capA" ip
  check "ping site1 10.1.1.2 -> site2 10.1.2.2" ping_ok 1 10.1.2.2 -c 3 -i 0.2
  check "ping site2 10.1.2.2 -> site3 10.1.3.2" ping_ok 2 10.1.3.2 -c 3 -i 0.2
  check "ping site3 10.1.3.2 -> site1 10.1.1.2" ping_ok 3 10.1.1.2 -c 3 -i 0.2
  check "ping outside the ACL 10.2.1.2 -> 10.2.2.2" ping_ok 1 10.2.2.2 -c 2 -i 0.2 -I 10.2.1.2
  cap_stop
  local esp spis senders outer
  esp=$(ts "$capA" -Y esp -T fields -e ip.src -e ip.dst -e esp.spi)
  spis=$(cut -f3 <<<"$esp" | sort -u | tr '\n' ' ')
  senders=$(cut -f1 <<<"$esp" | sort -u | tr '\n' ' ')
  outer=$(cut -f1,2 <<<"$esp" | tr '\t' '\n' | sort -u | tr '\n' ' ')
  echo "# ESP on Middle-Man: $(wc -l <<<"$esp") frames, SPIs: $spis, outer addresses: $outer"
  check "Middle-Man saw ESP (≥ 36 frames: 18 echo requests and replies, each in and out)" test "$(grep -c . <<<"$esp")" -ge 36
  check "ESP outer addresses are the site hosts' (address preservation)" test "$outer" = "10.1.1.2 10.1.2.2 10.1.3.2 "
  check "all three GMs sent ESP" test "$senders" = "10.1.1.2 10.1.2.2 10.1.3.2 "
  check "one SPI from all three GMs" test "$(wc -w <<<"$spis")" = 1
  local cur1
  cur1=$(gm_current_spi 1)
  check "that SPI is the GMs' current TEK ($cur1)" test "$(tr 'a-f' 'A-F' <<<"${spis% }" | sed 's/^0X/0x/')" = "$cur1"
  check "no site-to-site packet crossed Middle-Man in clear" test "$(count "$capA" 'ip.src==10.1.0.0/16 && ip.dst==10.1.0.0/16 && !esp')" = 0
  local dec
  dec=$(ESP_KEYS=1 ts "$capA" -Y 'esp && icmp' -T fields -E occurrence=a -E aggregator=, -e ip.src -e ip.dst -e icmp.type)
  check "tshark decrypts the ESP with the GMs' key logs (uat:esp_sa) and finds the 9 echo requests" test "$(grep -c '	8$' <<<"$dec")" -ge 18
  check "… and the 9 echo replies" test "$(grep -c '	0$' <<<"$dec")" -ge 18
  check "… whose inner addresses equal the outer ones" test -z "$(awk -F'\t' '{split($1,s,",");split($2,d,","); if (s[1]!=s[2]||d[1]!=d[2]) print}' <<<"$dec")"
  check "traffic outside the ACL crossed in clear (ICMP 10.2.1.2 <-> 10.2.2.2)" test "$(count "$capA" 'icmp && !esp && ip.addr==10.2.1.2 && ip.addr==10.2.2.2')" -ge 8

  section "status counters match the traffic (LAB.md 5)"
  local b1 b2 b3 a1 a2 a3 d try pr
  for try in 1 2; do # again if a TEK switch fell into the window (the SA check needs one SPI throughout)
    b1=$(counters 1) b2=$(counters 2) b3=$(counters 3)
    pr=0
    ping_ok 1 10.1.2.2 -c 20 -i 0.05 || pr=$?
    ping_ok 1 10.2.2.2 -c 5 -i 0.05 -I 10.2.1.2 || true # outside the ACL: never reaches a TUN
    a1=$(counters 1) a2=$(counters 2) a3=$(counters 3)
    [ "$(jq -r .spi <<<"$a1")" = "$(jq -r .spi <<<"$b1")" ] && break
  done
  check "ping site1 -> site2, 20 packets" test "$pr" = 0
  local spi
  spi=$(jq -r .spi <<<"$a1")
  d=$(delta "$a1" "$b1")
  check "GM-1 data plane and status SA $spi: 20 encrypted, 20 decrypted (got $d)" test "$d" = "20 20, SA $spi: 20 20"
  d=$(delta "$a2" "$b2")
  check "GM-2 data plane and status SA $spi: 20 encrypted, 20 decrypted (got $d)" test "$d" = "20 20, SA $spi: 20 20"
  d=$(delta "$a3" "$b3")
  check "GM-3: nothing (got $d)" test "$d" = "0 0, SA $spi: 0 0"
  local st
  st=$("$NODE" "$GM_BIN" status --socket "$RUN/gm1.sock")
  check "gdoi-gm status shows the ACL downloaded from the KS" grep -q 'access-list   permit ip 10.1.0.0 0.0.255.255 10.1.0.0 0.0.255.255' <<<"$st"
  check "gdoi-gm status shows per-SA counters (#pkts encrypt / decrypt)" grep -qE '#pkts encrypt: [1-9]' <<<"$st"

  section "MTU"
  local out
  out=$(ip netns exec "$(site_ns 1)" ping -M do -s 1372 -c 1 -W 2 10.1.2.2 2>&1 || true)
  check "a 1400-octet DF packet gets ICMP fragmentation needed, mtu $MTU (route MTU)" grep -qE "mtu ?= ?$MTU" <<<"$out"
  check "a $MTU-octet DF packet crosses" ping_ok 1 10.1.2.2 -M do -s $((MTU - 28)) -c 2 -i 0.2
  check "a 3000-octet packet without DF crosses (fragmented before encryption)" ping_ok 1 10.1.2.2 -M dont -s 2972 -c 2 -i 0.2
  # The data plane's own guard, for traffic that reaches the TUN without the route MTU: take it away
  # for a moment (GM-1 puts it back on its next refresh; we do it at once).
  ip -n "$(gm_ns 1)" route flush cache 2>/dev/null || true
  ip -n "$(site_ns 1)" route flush cache
  ip -n "$(gm_ns 1)" -4 route replace 10.1.0.0/16 dev gdoi0 table $TABLE_OUT
  local f0 f1 try
  f0=$(counters 1 | jq .f)
  # GM-1 re-asserts its routes (MTU included) every 30 s: when that lands between taking the MTU away
  # and the ping, GM-1's kernel answers instead of the data plane — take it away again and retry.
  for try in 1 2 3; do
    out=$(ip netns exec "$(site_ns 1)" ping -M do -s 1372 -c 1 -W 2 10.1.2.2 2>&1 || true)
    grep -qE "From 10.1.2.2 .*mtu ?= ?$MTU" <<<"$out" && break
    echo "# try $try: $(grep -m1 -E 'From|error' <<<"$out") — again"
    ip -n "$(gm_ns 1)" -4 route replace 10.1.0.0/16 dev gdoi0 table $TABLE_OUT
    ip -n "$(site_ns 1)" route flush cache
  done
  ip -n "$(gm_ns 1)" -4 route replace 10.1.0.0/16 dev gdoi0 mtu "$MTU" table $TABLE_OUT
  ip -n "$(site_ns 1)" route flush cache
  f1=$(counters 1 | jq .f)
  check "without the route MTU the data plane answers ICMP fragmentation needed, mtu $MTU ($(grep -m1 -E 'From|error' <<<"$out"))" grep -qE "From 10.1.2.2 .*mtu ?= ?$MTU" <<<"$out"
  check "… counted as icmpFragNeeded ($f0 -> $f1)" test "$f1" -gt "$f0"

  section "bulk TCP and UDP through the TUN offloads and the ESP socket"
  local g1a g2a g1b g2b tcp_out udp_out
  g1a=$(gm_json 1) g2a=$(gm_json 2)
  check "GM-1 and GM-2 opened their TUN with TSO (tun.offload)" test "$(jq -r '.dataPlane.tun.offload.tso' <<<"$g1a") $(jq -r '.dataPlane.tun.offload.tso' <<<"$g2a")" = "true true"
  check "GM-1 sends its ESP on the ESP socket, whose marked packets take the normal routes" \
    test "$(jq -r '.dataPlane.espOut' <<<"$g1a")" = socket -a -n "$(ip -n "$(gm_ns 1)" -4 rule show | grep "fwmark 0x[0-9a-f]* goto $((PREF + 9))")"
  tcp_out=$(bulk 2 tcp-server 5001 -- 1 tcp-client 10.1.2.2 5001 $((32 << 20)))
  check "32 MiB over TCP site1 -> site2 arrive intact ($tcp_out)" same_twice "$tcp_out"
  udp_out=$(bulk 2 udp-server 5002 3000 -- 1 udp-client 10.1.2.2 5002 3000 1200)
  check "3000 UDP datagrams of 1200 octets arrive intact and in order ($udp_out)" same_twice "$udp_out"
  g1b=$(gm_json 1) g2b=$(gm_json 2)
  local d1 d2
  d1=$(jq -rn --argjson a "$g1b" --argjson b "$g1a" '[$a, $b] | map(.dataPlane.tun.offload.stats) | "\(.[0].superPacketsRead - .[1].superPacketsRead) \(.[0].segmentsCut - .[1].segmentsCut)"')
  check "GM-1 read TCP super-packets and cut them (super-packets, segments: $d1)" test "${d1% *}" -gt 0 -a "${d1#* }" -gt "${d1% *}"
  d2=$(jq -rn --argjson a "$g2b" --argjson b "$g2a" '[$a, $b] | map(.dataPlane.tun.offload.stats) | "\(.[0].coalescedWrites - .[1].coalescedWrites) \(.[0].coalescedPackets - .[1].coalescedPackets)"')
  check "GM-2 wrote decrypted runs as GSO packets (writes, packets: $d2)" test "${d2% *}" -gt 0 -a "${d2#* }" -gt "${d2% *}"
  check "GM-1's ESP went out on the socket ($(jq -r '.dataPlane.counters | "\(.espSocketPackets) sent, \(.espSocketFallbacks) refused"' <<<"$g1b"))" \
    test "$(jq -r '.dataPlane.counters.espSocketPackets - ($g.dataPlane.counters.espSocketPackets)' --argjson g "$g1a" <<<"$g1b")" -gt 20000
  check "no authentication or malformed drops on GM-2" test "$(jq -r '.dataPlane.counters | .dropAuth + .dropMalformed' <<<"$g2b")" = 0

  section "continuous pings across a TEK rekey (LAB.md 4)"
  local seq0 spi0 nping capB p1 p2 p3 r1 r2 r3
  seq0=$(ks_seq)
  spi0=$(gm_current_spi 1)
  ttr=$(ks_ttr)
  local t_push=$((SECONDS + ttr))
  nping=$(((ttr + ATD_SEC + 8) * 5))
  echo "# KS SEQ $seq0, current SPI $spi0, next rekey in ${ttr}s: ${nping} pings per pair at 0.2 s"
  capB=$RUN/mm-rekey.pcap
  check "tcpdump listens on Middle-Man" cap_start "$capB" -s 200 'esp or udp port 848'
  ip netns exec "$(site_ns 1)" ping -q -i 0.2 -W 2 -c "$nping" 10.1.2.2 >"$RUN/ping12.txt" 2>&1 &
  p1=$!
  ip netns exec "$(site_ns 2)" ping -q -i 0.2 -W 2 -c "$nping" 10.1.3.2 >"$RUN/ping23.txt" 2>&1 &
  p2=$!
  ip netns exec "$(site_ns 3)" ping -q -i 0.2 -W 2 -c "$nping" 10.1.1.2 >"$RUN/ping31.txt" 2>&1 &
  p3=$!
  wait $p1 && r1=0 || r1=$?
  wait $p2 && r2=0 || r2=$?
  wait $p3 && r3=0 || r3=$?
  cap_stop
  check "site1 -> site2: $(grep -o '[0-9]* packets transmitted, [0-9]* received' "$RUN/ping12.txt")" test "$r1" = 0 -a -n "$(grep " $nping received" "$RUN/ping12.txt")"
  check "site2 -> site3: $(grep -o '[0-9]* packets transmitted, [0-9]* received' "$RUN/ping23.txt")" test "$r2" = 0 -a -n "$(grep " $nping received" "$RUN/ping23.txt")"
  check "site3 -> site1: $(grep -o '[0-9]* packets transmitted, [0-9]* received' "$RUN/ping31.txt")" test "$r3" = 0 -a -n "$(grep " $nping received" "$RUN/ping31.txt")"
  local seq1 spi1
  seq1=$(ks_seq)
  check "the key server sent a rekey (SEQ $seq0 -> $seq1) and logged it" test "$seq1" -gt "$seq0" -a -n "$(grep '"gdoi.rekey.sent"' "$RUN/ks.log" | grep "\"seq\":$seq1,")"
  spi1=$(gm_current_spi 1)
  for n in "${GMS[@]}"; do
    check "GM-$n received rekey SEQ $seq1, logged it and acknowledged it" test "$(gm_json "$n" | jq -r '"\(.rekeys.lastSeq) \(.rekeys.acksSent > 0)"')" = "$seq1 true" -a -n "$(grep '"gdoi.rekey.received"' "$RUN/gm$n.log" | grep "\"seq\":$seq1,")"
    check "GM-$n sends with the new TEK $spi1 (was $spi0)" test "$(gm_current_spi "$n")" = "$spi1" -a "$spi1" != "$spi0"
  done
  section "routing removed when a GM stops; a GM registering during the TEK overlap"
  local gm3
  gm3=$(gm_ns 3)
  # Restart GM-3 after DTD (the others no longer accept the old TEK) but before the old TEK expires
  # (the key server still hands it out, lead = 30 s): it must send with the new one at once.
  local wait_s=$((t_push + DTD_SEC + 3 - SECONDS))
  if [ "$wait_s" -gt 0 ]; then sleep "$wait_s"; fi
  stop_pidfile "$RUN/gm3.pid"
  check "GM-3 stopped" test ! -e "$RUN/gm3.sock"
  check "no gdoi rule left in GM-3 (preferences $PREF-$((PREF + 9)))" test -z "$(ip -n "$gm3" -4 rule show | grep -E "^$PREF[0-9]:" || true)"
  check "tables $TABLE_OUT and $TABLE_IN empty, TUN gone" test -z "$(ip -n "$gm3" -4 route show table $TABLE_OUT 2>/dev/null; ip -n "$gm3" -4 route show table $TABLE_IN 2>/dev/null; ip -n "$gm3" link show gdoi0 2>/dev/null)"
  start_daemon gm3 "$gm3" "$NODE" "$GM_BIN" --config "$RUN/config/gm3.yaml" --metrics "$METRICS"
  check "GM-3 restarted and registered again" wait_for 40 "GM-3 registration" gm_registered 3
  echo "# GM-3 registration brought TEKs $(grep '"gdoi.registration.complete"' "$RUN/gm3.log" | tail -n 1 | jq -c .teks)"
  check "GM-3 sends with the newest TEK at once ($spi1)" test "$(gm_current_spi 3)" = "$spi1"
  check "ping site3 -> site1 after the restart" ping_ok 3 10.1.1.2 -c 3 -i 0.2

  section "the rekey on Middle-Man"
  local b
  b=$(ts "$capB" -Y esp -T fields -e ip.src -e esp.spi | sort -u | tr 'a-f' 'A-F' | sed 's/0X/0x/' | tr '\t\n' ': ')
  echo "# ESP senders:SPI on Middle-Man across the rekey: $b"
  for n in "${GMS[@]}"; do
    check "GM-$n sent ESP with the old and then the new SPI" test -n "$(grep "10.1.$n.2:$spi0 " <<<"$b ")" -a -n "$(grep "10.1.$n.2:$spi1 " <<<"$b ")"
    check "the rekey to GM-$n crossed Middle-Man in clear on UDP 848 (GROUPKEY-PUSH)" test "$(count "$capB" "udp.port==848 && ip.src==$KS_ADDR && ip.dst==10.0.$n.2 && isakmp.exchangetype==33")" -ge 1
  done

  section "Prometheus metrics, scraped in each namespace (--metrics $METRICS)"
  local m
  m=$(scrape "$NS_KS")
  check "KS metrics: three members" grep -q '^gdoi_ks_members{group="GETVPN-GRP"} 3$' <<<"$m"
  check "KS metrics: rekeys sent and ACKs received" test "$(metric_sum "$m" gdoi_ks_rekey_acks_received_total)" -ge 3
  for n in "${GMS[@]}"; do
    m=$(scrape "$(gm_ns "$n")")
    check "GM-$n metrics: registered" test "$(metric_sum "$m" gdoi_gm_registered)" = 1
    check "GM-$n metrics: packets encrypted and decrypted per SA" test "$(metric_sum "$m" gdoi_gm_sa_encrypted_packets_total)" -gt 0 -a "$(metric_sum "$m" gdoi_gm_sa_decrypted_packets_total)" -gt 0
  done

  echo "# $((SECONDS - start)) s; captures and logs in $RUN"
  echo "$T_PASS passed, $T_FAIL failed"
  [ "$T_FAIL" = 0 ]
}
