# shellcheck shell=bash disable=SC2016  # (single-quoted JavaScript template strings for lab_json)
# lab/lib/checks.sh: the reference lab's checks (shared/LAB.md, "What a user must be able to see"),
# shared by the network-namespace lab (lab/netns.sh) and the Docker Compose lab (lab/docker.sh).
# Sourced, never run. Every check runs its commands through hooks the lab script defines, so the same
# check works whether a node is a namespace or a container:
#
#   lab_in NODE CMD...        run CMD inside node NODE (ks, mm, gm1..3, site1..3): a command prefix,
#                               netns:  ip netns exec gdoi-lab-NODE CMD...
#                               docker: docker compose exec -T NODE CMD...  (or docker exec -i ID CMD...)
#                             `lab_use_prefix FORMAT` defines it from a printf format of that prefix:
#                               lab_use_prefix 'ip netns exec gdoi-lab-%s'
#   lab_gm_status N ARGS...   `gdoi-gm status ARGS` of GM-N      (default: lab_in gmN gdoi-gm status ARGS)
#   lab_ks_status ARGS...     `gdoi-ks status ARGS`               (default: lab_in ks gdoi-ks status ARGS)
#   lab_ks_rekey              a TEK rekey now (default: lab_in ks gdoi-ks rekey --group $LAB_GROUP)
#   lab_logs NODE             the daemon log of ks or gmN, JSON lines (optional: log checks are skipped)
#   lab_scrape NODE           the Prometheus /metrics text of the daemon of ks or gmN (optional: the
#                             metrics check is skipped)
#   lab_metrics_published NODE  where this host publishes that endpoint, ADDRESS:PORT lines (optional;
#                             the docker lab: each must be on 127.0.0.1)
# Variables: LAB_GMS (default "1 2 3"), LAB_GROUP (GETVPN-GRP), LAB_NAME (for the summary),
#            LAB_REKEY_PING_SEC (26: how long traffic runs across the rekey).
# Addresses (LAB.md plan): GM-N WAN 10.0.N.2, site N 10.1.N.2 (protected), 10.2.N.2 (outside the ACL).
# Needs where the checks run: bash, node (JSON), timeout; in mm: tcpdump, timeout; in the sites: ping.
#
#   lab_run_checks            every check below, a PASS/FAIL line each, a summary; status 0 iff all pass
#   check_registered check_one_group_sa check_site_pings check_esp_on_mm check_rekey_no_loss
#   check_sa_counters check_status_text check_metrics   (each returns 0/1 and prints its own lines)

: "${LAB_GMS:=1 2 3}"
: "${LAB_GROUP:=GETVPN-GRP}"
: "${LAB_NAME:=lab}"
: "${LAB_REKEY_PING_SEC:=26}"

LAB_PASSED=0
LAB_FAILED=0
LAB_FAILURES=()
LAB_TMP=

lab_use_prefix() { # lab_use_prefix FORMAT: lab_in NODE CMD... runs $(printf FORMAT NODE) CMD...
  LAB_IN_FORMAT=$1
  # shellcheck disable=SC2317  # defined here, called by the checks
  lab_in() {
    local node=$1 prefix
    shift
    # shellcheck disable=SC2059
    read -r -a prefix <<<"$(printf "$LAB_IN_FORMAT" "$node")"
    "${prefix[@]}" "$@"
  }
}
declare -F lab_gm_status >/dev/null || lab_gm_status() { local n=$1; shift; lab_in "gm$n" gdoi-gm status "$@"; }
declare -F lab_ks_status >/dev/null || lab_ks_status() { lab_in ks gdoi-ks status "$@"; }
declare -F lab_ks_rekey >/dev/null || lab_ks_rekey() { lab_in ks gdoi-ks rekey --group "$LAB_GROUP"; }

site_addr() { echo "10.1.$1.2"; }
rx() { printf '%s' "${1//./\\.}"; }   # an address as a grep regex
clear_addr() { echo "10.2.$1.2"; }
wan_addr() { echo "10.0.$1.2"; }

pass() { LAB_PASSED=$((LAB_PASSED + 1)); printf 'PASS  %s\n' "$*"; }
fail() { LAB_FAILED=$((LAB_FAILED + 1)); LAB_FAILURES+=("$*"); printf 'FAIL  %s\n' "$*"; }
note() { printf '      %s\n' "$*"; }

# lab_json 'JS expression of j' < JSON: prints the value (strings raw, anything else as JSON).
lab_json() {
  node -e '
    let s = ""
    process.stdin.setEncoding("utf8").on("data", (d) => (s += d)).on("end", () => {
      const j = JSON.parse(s)
      const v = (0, eval)("(j) => (" + process.argv[1] + ")")(j)
      process.stdout.write((typeof v === "string" ? v : JSON.stringify(v)) + "\n")
    })' "$1"
}

gm_json() { lab_gm_status "$1" --json; }
ks_json() { lab_ks_status --json; }
# The SPI GM-N sends with ("0x1234ABCD"), lower case: the active outbound SA.
gm_out_spi() {
  gm_json "$1" | lab_json 'String((j.ipsecSas.find((s) => s.direction === "outbound" && s.state === "active") || {}).spiHex || "none").toLowerCase()'
}

lab_tmp() { # creates $LAB_TMP once (call it outside $(…): a subshell's assignment is lost)
  if [ -z "$LAB_TMP" ] || [ ! -d "$LAB_TMP" ]; then
    LAB_TMP=$(mktemp -d "${TMPDIR:-/tmp}/gdoi-checks.XXXXXX")
  fi
}

# capture_start NAME SECONDS COUNT FILTER: tcpdump on every interface of mm, in the background, into
# $LAB_TMP/NAME.txt, one line per packet, until COUNT packets or SECONDS (-i any shows each forwarded
# packet twice: in, out). Returns once tcpdump listens. capture_wait NAME waits for it to end.
# `-Z root`: tcpdump keeps its uid, so that `timeout` can stop it where root lacks CAP_KILL (a container
# that dropped it) — it could not signal tcpdump's own user. (-Z still needs CAP_SETUID/SETGID.)
declare -gA LAB_CAPTURE_PID=() LAB_CAPTURE_END=() # -g: global even when sourced inside a function
capture_start() {
  local name=$1 secs=$2 count=$3 filter=$4 i
  lab_tmp
  : >"$LAB_TMP/$name.err"
  lab_in mm timeout "$secs" tcpdump -Z root -l -n -i any -c "$count" "$filter" >"$LAB_TMP/$name.txt" 2>"$LAB_TMP/$name.err" &
  LAB_CAPTURE_PID[$name]=$!
  LAB_CAPTURE_END[$name]=$(($(date +%s) + secs + 5))
  for ((i = 0; i < 40; i++)); do
    grep -q 'listening on' "$LAB_TMP/$name.err" 2>/dev/null && return 0
    sleep 0.25
  done
  note "tcpdump on mm did not report 'listening' ($(tr '\n' ' ' <"$LAB_TMP/$name.err"))"
}
capture_wait() {
  local pid=${LAB_CAPTURE_PID[$1]}
  while kill -0 "$pid" 2>/dev/null && [ "$(date +%s)" -lt "${LAB_CAPTURE_END[$1]}" ]; do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    note "capture $1 did not end by itself: stopping the local client"
    kill "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

ping_ok() { # ping_ok NODE [ping args...] DST: 0 % loss (else the summary is noted)
  local out
  out=$(lab_in "$1" ping "${@:2}" 2>&1) || true
  grep -q ' 0% packet loss' <<<"$out" && return 0
  note "$(date +%T) ping ${*:2} from $1: $(grep -E 'transmitted|icmp_seq' <<<"$out" | tr '\n' ' ' | cut -c1-300)"
  return 1
}

# ---- 1. registration -----------------------------------------------------------------------------

check_registered() {
  local n st ok=0 members ks log
  for n in $LAB_GMS; do
    st=$(gm_json "$n" | lab_json '`${j.registration.status} with ${j.registration.registeredWith} (group ${j.group.name} ${j.group.identity})`' 2>/dev/null || echo "no status")
    if [[ $st == Registered* ]]; then pass "GM-$n registration: $st"; else fail "GM-$n registration: $st"; ok=1; fi
  done
  ks=$(ks_json)
  members=$(lab_json "(j.groups.find((g) => g.name === '$LAB_GROUP') || { members: [] }).members.map((m) => m.address).sort().join(' ')" <<<"$ks")
  for n in $LAB_GMS; do
    if [[ " $members " == *" $(wan_addr "$n") "* ]]; then pass "KS lists GM-$n ($(wan_addr "$n")) as a member of $LAB_GROUP"; else fail "KS members of $LAB_GROUP are '$members': GM-$n ($(wan_addr "$n")) missing"; ok=1; fi
  done
  if declare -F lab_logs >/dev/null; then
    for n in $LAB_GMS; do
      log=$(lab_logs "gm$n")
      if grep -q '"gdoi.registration.started"' <<<"$log" && grep -q '"gdoi.registration.complete"' <<<"$log"; then
        pass "GM-$n logged gdoi.registration.started and gdoi.registration.complete"
      else
        fail "GM-$n log lacks gdoi.registration.started/complete"; ok=1
      fi
    done
    log=$(lab_logs ks)
    for n in $LAB_GMS; do
      if grep '"gdoi.member.added"' <<<"$log" | grep -q "\"$(wan_addr "$n"):"; then pass "KS logged gdoi.member.added for GM-$n"; else fail "KS log has no gdoi.member.added for GM-$n"; ok=1; fi
    done
  fi
  return $ok
}

# ---- 2. one group SA -----------------------------------------------------------------------------

gm_spis() { local n; for n in $LAB_GMS; do gm_out_spi "$n"; done | sort -u | tr '\n' ' ' | sed 's/ $//'; }

check_one_group_sa() {
  local spis teks
  spis=$(gm_spis)
  if [ "$(wc -w <<<"$spis")" != 1 ]; then
    sleep 6 # a scheduled rekey may be switching right now (GAP ATD): look once more
    spis=$(gm_spis)
  fi
  teks=$(ks_json | lab_json "(j.groups.find((g) => g.name === '$LAB_GROUP') || { teks: [] }).teks.map((t) => t.spi.toLowerCase()).join(' ')")
  if [ "$(wc -w <<<"$spis")" = 1 ] && [ "$spis" != none ] && [[ " $teks " == *" $spis "* ]]; then
    pass "every GM sends with the same SA, SPI $spis, one of the KS's TEKs ($teks)"
  else
    fail "GMs send with SPI(s) '$spis'; the KS's TEKs are: $teks"
    return 1
  fi
}

# ---- 3. site-to-site pings -----------------------------------------------------------------------

check_site_pings() {
  local a b ok=0
  for a in $LAB_GMS; do
    for b in $LAB_GMS; do
      [ "$a" = "$b" ] && continue
      # one retry: on a loaded machine a member's event loop can stall for seconds; the rekey check below
      # is the strict one (every packet of 26 s of traffic)
      if ping_ok "site$a" -c 3 -i 0.2 -W 3 "$(site_addr "$b")"; then
        pass "ping site$a $(site_addr "$a") -> site$b $(site_addr "$b")"
      elif ping_ok "site$a" -c 3 -i 0.2 -W 3 "$(site_addr "$b")"; then
        pass "ping site$a $(site_addr "$a") -> site$b $(site_addr "$b") (second try)"
      else
        fail "ping site$a $(site_addr "$a") -> site$b $(site_addr "$b")"; ok=1
      fi
    done
  done
  return $ok
}

# ---- 4. ESP on Middle-Man, one SPI, addresses preserved; outside the ACL in clear -------------------

esp_capture_round() { # pings between every pair of neighbouring sites and once outside the ACL, captured on mm
  local a b k
  k=$(wc -w <<<"$LAB_GMS")
  capture_start esp 10 $((k * 8 + 8)) 'esp or icmp'
  for a in $LAB_GMS; do
    b=$(((a % k) + 1))
    lab_in "site$a" ping -c 2 -i 0.2 -W 2 "$(site_addr "$b")" >/dev/null 2>&1 || true
  done
  lab_in site1 ping -c 2 -i 0.2 -W 2 -I "$(clear_addr 1)" "$(clear_addr 2)" >/dev/null 2>&1 || true
  capture_wait esp
}

check_esp_on_mm() {
  local f spis n ok=0 srcs bad clear_icmp prot_icmp gm_spi
  lab_tmp
  f=$LAB_TMP/esp.txt
  esp_capture_round
  spis=$(grep -o 'ESP(spi=0x[0-9a-f]*' "$f" | sed 's/ESP(spi=//' | sort -u | tr '\n' ' ')
  if [ "$(wc -w <<<"$spis")" -gt 1 ]; then
    note "two SPIs in one capture ($spis): a scheduled TEK switch; capturing again"
    sleep 6
    esp_capture_round
    spis=$(grep -o 'ESP(spi=0x[0-9a-f]*' "$f" | sed 's/ESP(spi=//' | sort -u | tr '\n' ' ')
  fi
  note "mm saw $(grep -c 'ESP(' "$f") ESP and $(grep -c 'ICMP' "$f") ICMP lines; e.g.: $(grep -m1 'ESP(' "$f" || true)"
  # every ESP packet: outer addresses are two sites' own (address preservation)
  bad=$(grep 'ESP(' "$f" | awk '{ for (i = 1; i < NF; i++) if ($i == "IP") { print $(i+1), $(i+3); break } }' \
    | sed 's/:$//' | grep -Ev '^10\.1\.[0-9]+\.2 10\.1\.[0-9]+\.2$' || true)
  srcs=$(grep 'ESP(' "$f" | awk '{ for (i = 1; i < NF; i++) if ($i == "IP") { print $(i+1); break } }' | sort -u | tr '\n' ' ')
  if grep -q 'ESP(' "$f" && [ -z "$bad" ]; then
    pass "ESP on mm has the sites' own addresses outside (sources: $srcs)"
  else
    fail "ESP on mm: expected outer site addresses only; got: ${bad:-no ESP at all}"; ok=1
  fi
  for n in $LAB_GMS; do
    if [[ " $srcs " == *" $(site_addr "$n") "* ]]; then :; else fail "no ESP from site$n ($(site_addr "$n")) seen on mm"; ok=1; fi
  done
  gm_spi=$(gm_out_spi "${LAB_GMS%% *}")
  if [ "$(wc -w <<<"$spis")" = 1 ]; then
    pass "one SPI on mm from every GM: $spis(GM-${LAB_GMS%% *} sends with $gm_spi)"
  else
    fail "SPIs on mm: '${spis}' (expected exactly one)"; ok=1
  fi
  prot_icmp=$(grep 'ICMP' "$f" | grep -E 'IP 10\.1\.[0-9]+\.[0-9]+ > 10\.1\.' || true)
  if [ -z "$prot_icmp" ]; then pass "no protected (10.1/16 <-> 10.1/16) traffic in clear on mm"; else fail "protected traffic in clear on mm: $(head -n 1 <<<"$prot_icmp")"; ok=1; fi
  clear_icmp=$(grep -c "IP $(clear_addr 1) > $(clear_addr 2): ICMP echo request" "$f" || true)
  if [ "$clear_icmp" -gt 0 ]; then
    pass "traffic outside the ACL ($(clear_addr 1) -> $(clear_addr 2)) crosses mm in clear"
  else
    fail "no clear ICMP $(clear_addr 1) -> $(clear_addr 2) on mm"; ok=1
  fi
  return $ok
}

# ---- 5. a rekey with no loss; the control traffic in clear ---------------------------------------

check_rekey_no_loss() {
  local d seq0 seq1 n ok=0 out count spi0 spi1 acks0=() acks1 log cap gm_seq
  lab_tmp
  d=$LAB_TMP
  seq0=$(ks_json | lab_json "(j.groups.find((g) => g.name === '$LAB_GROUP') || {}).seq ?? 0")
  spi0=$(gm_out_spi "${LAB_GMS%% *}")
  for n in $LAB_GMS; do acks0+=("$(gm_json "$n" | lab_json 'j.rekeys.acksSent')"); done
  count=$((LAB_REKEY_PING_SEC * 5))
  lab_in site1 ping -c "$count" -i 0.2 -W 3 "$(site_addr 2)" >"$d/rekey-ping.txt" 2>&1 &
  local ping_pid=$!
  capture_start ctl 8 200 'udp port 848'
  sleep 1
  if out=$(lab_ks_rekey 2>&1); then note "gdoi-ks rekey: $out"; else fail "gdoi-ks rekey failed: $out"; ok=1; fi
  capture_wait ctl
  cap=$d/ctl.txt
  wait "$ping_pid" || true
  seq1=$(ks_json | lab_json "(j.groups.find((g) => g.name === '$LAB_GROUP') || {}).seq ?? 0")
  if [ "$seq1" -gt "$seq0" ]; then pass "KS sent rekey(s): sequence number $seq0 -> $seq1"; else fail "KS sequence number did not move ($seq0 -> $seq1)"; ok=1; fi
  local i=0
  for n in $LAB_GMS; do
    gm_seq=$(gm_json "$n" | lab_json '`${j.rekeys.lastSeq} ${j.rekeys.acksSent}`')
    acks1=${gm_seq#* }
    if [ "${gm_seq%% *}" = "$seq1" ] && [ "$acks1" -gt "${acks0[$i]}" ]; then
      pass "GM-$n received rekey seq $seq1 and acknowledged it (ACKs sent ${acks0[$i]} -> $acks1)"
    else
      fail "GM-$n: last rekey seq ${gm_seq%% *} (KS: $seq1), ACKs sent ${acks0[$i]} -> $acks1"; ok=1
    fi
    i=$((i + 1))
  done
  if declare -F lab_logs >/dev/null; then
    log=$(lab_logs ks)
    if grep '"gdoi.rekey.sent"' <<<"$log" | grep -q "\"seq\":${seq1}[,}]"; then pass "KS logged gdoi.rekey.sent seq $seq1"; else fail "KS log has no gdoi.rekey.sent with seq $seq1"; ok=1; fi
    for n in $LAB_GMS; do
      log=$(lab_logs "gm$n")
      if grep '"gdoi.rekey.received"' <<<"$log" | grep -q "\"seq\":${seq1}[,}]"; then pass "GM-$n logged gdoi.rekey.received seq $seq1"; else fail "GM-$n log has no gdoi.rekey.received with seq $seq1"; ok=1; fi
    done
  fi
  spi1=$(gm_out_spi "${LAB_GMS%% *}")
  if [ "$spi1" != "$spi0" ] && [ "$spi1" != none ]; then pass "GMs switched to the new TEK: SPI $spi0 -> $spi1"; else fail "outbound SPI did not change across the rekey ($spi0 -> $spi1)"; ok=1; fi
  out=$(grep -E 'packets transmitted' "$d/rekey-ping.txt" || echo "no ping summary: $(tail -n 2 "$d/rekey-ping.txt")")
  if grep -q ' 0% packet loss' <<<"$out" && grep -q "^$count packets transmitted" <<<"$out"; then
    pass "no loss across the rekey: site1 -> site2 every 0.2 s for ${LAB_REKEY_PING_SEC} s: $out"
  else
    fail "loss across the rekey: $out"; ok=1
  fi
  # tcpdump prints GDOI on UDP 848 as "UDP, length N" (it decodes ISAKMP on 500 only)
  local ks_addr pushes=0 acks=0 missing=()
  ks_addr=$(ks_json | lab_json 'j.listen.replace(/:\d+$/, "")')
  for n in $LAB_GMS; do
    if grep -q "IP $(rx "$ks_addr")\.848 > $(rx "$(wan_addr "$n")")\.848: UDP" "$cap"; then pushes=$((pushes + 1)); else missing+=("push to GM-$n"); fi
    if grep -q "IP $(rx "$(wan_addr "$n")")\.848 > $(rx "$ks_addr")\.848: UDP" "$cap"; then acks=$((acks + 1)); else missing+=("ACK from GM-$n"); fi
  done
  if [ ${#missing[@]} -eq 0 ]; then
    pass "the rekey crossed mm in clear on UDP 848: a push to each of the $pushes GMs and their $acks ACKs (e.g. $(grep -m1 "IP ${ks_addr}.848 >" "$cap" | cut -c1-100))"
  else
    fail "on mm during the rekey (UDP 848, $(wc -l <"$cap") lines): missing ${missing[*]}"; ok=1
  fi
  return $ok
}

# ---- 6. per-SA counters (show crypto ipsec sa) ----------------------------------------------------

check_sa_counters() {
  local n c ok=0 enc dec auth
  for n in $LAB_GMS; do
    c=$(gm_json "$n" | lab_json '(() => { const p = j.dataPlane; if (!p) return "no data plane"; const c = p.counters; return `${c.encryptedPackets} ${c.decryptedPackets} ${c.dropAuth}` })()')
    read -r enc dec auth <<<"$c"
    if [[ $enc =~ ^[0-9]+$ ]] && [ "$enc" -gt 0 ] && [ "$dec" -gt 0 ] && [ "$auth" = 0 ]; then
      pass "GM-$n data plane: $enc packets encrypted, $dec decrypted, 0 authentication failures"
    else
      fail "GM-$n data plane counters: $c (encrypted decrypted auth-drops)"; ok=1
    fi
  done
  return $ok
}

# ---- 7. status text, from where the daemons run --------------------------------------------------

check_status_text() {
  local n out ok=0 want
  for n in $LAB_GMS; do
    out=$(lab_gm_status "$n" 2>&1 || true)
    for want in 'Registration status *: Registered' "$LAB_GROUP" 'ACL Downloaded From KS' 'KEK POLICY' 'direction: outbound' 'GDOI_REKEY' '#pkts encrypt' \
      '^Routing: policy routing into gdoi0 \(transit interface wan\)$' '^    ip rule pref [0-9]+ iif wan ipproto esp lookup [0-9]+$' '^    table [0-9]+ \(plaintext to the TUN\): 10\.1\.0\.0/16 mtu [0-9]+'; do
      grep -Eq -- "$want" <<<"$out" || { fail "gdoi-gm status of GM-$n lacks /$want/"; ok=1; continue 2; }
    done
    pass "gdoi-gm status in GM-$n: registered, ACL, KEK, TEK SAs with counters, ISAKMP SAs, its policy routing"
  done
  out=$(lab_ks_status 2>&1 || true)
  want="Group Members *: $(wc -w <<<"$LAB_GMS")"
  if grep -q "$LAB_GROUP" <<<"$out" && grep -Eq "$want" <<<"$out" && grep -q 'Rekey Sequence Number' <<<"$out"; then
    pass "gdoi-ks status in KS: $LAB_GROUP, $(grep -Eo "$want" <<<"$out"), $(grep -m1 -o 'Rekey Sequence Number *: [0-9]*' <<<"$out")"
  else
    fail "gdoi-ks status lacks the group, its $(wc -w <<<"$LAB_GMS") members or the sequence number"; ok=1
  fi
  return $ok
}

# ---- 8. Prometheus metrics, scraped where the lab publishes them -----------------------------------

lab_metric_sum() { # lab_metric_sum NAME [LABEL="VALUE"] < TEXT: the sum of the series of NAME (with that label), else 0
  awk -v n="$1" -v l="${2:-}" '($1 == n || index($1, n "{") == 1) && index($1, l) > 0 { s += $NF } END { printf "%d\n", s }'
}

check_metrics() {
  local n m ok=0 node where bad members acks
  if ! declare -F lab_scrape >/dev/null; then note "this lab serves no metrics: skipped"; return 0; fi
  if declare -F lab_metrics_published >/dev/null; then
    local nodes=(ks)
    for n in $LAB_GMS; do nodes+=("gm$n"); done
    for node in "${nodes[@]}"; do
      where=$(lab_metrics_published "$node" 2>&1 | tr '\n' ' ' | sed 's/ $//')
      bad=$(tr ' ' '\n' <<<"$where" | grep -v '^127\.0\.0\.1:[0-9]*$' || true)
      if [ -n "$where" ] && [ -z "$bad" ]; then pass "$node metrics published on host loopback only ($where)"; else fail "$node metrics published at '${where:-nowhere}' (only 127.0.0.1:PORT allowed)"; ok=1; fi
    done
  fi
  if m=$(lab_scrape ks 2>&1) && grep -q '^gdoi_ks_' <<<"$m"; then
    members=$(grep -E "^gdoi_ks_members\{group=\"$LAB_GROUP\"\} " <<<"$m" | awk '{ print $2 }')
    acks=$(lab_metric_sum gdoi_ks_rekey_acks_received_total <<<"$m")
    if [ "$members" = "$(wc -w <<<"$LAB_GMS")" ] && [ "$acks" -ge "$(wc -w <<<"$LAB_GMS")" ]; then
      pass "KS metrics: gdoi_ks_members{group=\"$LAB_GROUP\"} $members, $acks rekey ACKs received"
    else
      fail "KS metrics: members '${members:-none}', rekey ACKs $acks (want $(wc -w <<<"$LAB_GMS") and at least as many)"; ok=1
    fi
  else
    fail "KS metrics: no gdoi_ks_* series ($(head -c 200 <<<"$m"))"; ok=1
  fi
  for n in $LAB_GMS; do
    if ! m=$(lab_scrape "gm$n" 2>&1) || ! grep -q '^gdoi_gm_' <<<"$m"; then fail "GM-$n metrics: no gdoi_gm_* series ($(head -c 200 <<<"$m"))"; ok=1; continue; fi
    local reg up enc dec rk
    reg=$(lab_metric_sum gdoi_gm_registered <<<"$m")
    up=$(lab_metric_sum gdoi_gm_dataplane_up <<<"$m")
    # the data plane's totals: the per-SA series follow the SAs, and a rekey may have retired those that carried GM-3's traffic
    enc=$(lab_metric_sum gdoi_gm_dataplane_packets_total 'action="encrypted"' <<<"$m")
    dec=$(lab_metric_sum gdoi_gm_dataplane_packets_total 'action="decrypted"' <<<"$m")
    rk=$(lab_metric_sum gdoi_gm_rekeys_received_total <<<"$m")
    if [ "$reg" = 1 ] && [ "$up" = 1 ] && [ "$enc" -gt 0 ] && [ "$dec" -gt 0 ] && [ "$rk" -ge 1 ] && grep -q '^gdoi_gm_sa_encrypted_packets_total{' <<<"$m"; then
      pass "GM-$n metrics: registered, data plane up, $enc packets encrypted / $dec decrypted, per-SA series, $rk rekeys received"
    else
      fail "GM-$n metrics: registered $reg, data plane up $up, encrypted $enc, decrypted $dec, rekeys received $rk"; ok=1
    fi
  done
  return $ok
}

lab_run_checks() {
  local t0 c
  t0=$(date +%s)
  lab_tmp
  echo "== checks: $LAB_NAME"
  for c in check_registered check_one_group_sa check_site_pings check_esp_on_mm check_rekey_no_loss check_sa_counters check_status_text check_metrics; do
    echo "-- ${c#check_} ($(($(date +%s) - t0)) s)"
    "$c" || true
  done
  [ -n "$LAB_TMP" ] && rm -rf "$LAB_TMP"
  LAB_TMP=
  lab_summary "$(($(date +%s) - t0)) s"
}

lab_summary() { # lab_summary TEXT: "== N passed, M failed (TEXT)" and the failures; status 1 if any failed
  echo "== $LAB_PASSED passed, $LAB_FAILED failed ($1)"
  if [ "$LAB_FAILED" -gt 0 ]; then
    printf '   failed: %s\n' "${LAB_FAILURES[@]}"
    return 1
  fi
}
