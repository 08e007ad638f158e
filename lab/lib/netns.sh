# shellcheck shell=bash
# lab/lib/netns.sh: the helpers of the network-namespace labs (lab/netns.sh, lab/cluster.sh, and the
# scripts that drive them). Sourced, never run; defines functions only. add_namespaces, start_daemon
# and stop_pidfile use $RUN, the lab's run directory (logs, PID files), which the sourcing script
# sets. Messages start with the script's name.
#
#   say TEXT…                      a line on stderr
#   die TEXT…                      "<script>: TEXT" on stderr, exit 1
#   nsx NS CMD…                    CMD inside namespace NS
#   ns_exists NS                   does namespace NS exist?
#   add_namespaces NS…             create the namespaces, loopback up, each noted in $RUN/namespaces
#   veth NS_A IF_A NS_B IF_B       a veth link between two namespaces, both ends up (created inside them only)
#   sysctl_ns NS KEY=VALUE         a sysctl inside NS
#   wait_for SECONDS WHAT CMD…     poll CMD every 0.25 s until it succeeds; 1 (and a message) on timeout
#   start_daemon NAME NS CMD…      CMD in NS in the background: log $RUN/NAME.log, PID in $RUN/NAME.pid
#   stop_pidfile FILE [SIGNAL]     stop the process of a PID file (SIGTERM by default, SIGKILL after 10 s)
#                                  if it is still ours: its command line names $RUN/

say() { printf '%s\n' "$*" >&2; }
die() { say "$(basename "$0"): $*"; exit 1; }
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
ns_exists() { [ -e "/run/netns/$1" ]; }

add_namespaces() {
  local ns
  for ns in "$@"; do
    ip netns add "$ns"
    echo "$ns" >>"$RUN/namespaces"
    ip -n "$ns" link set lo up
  done
}

veth() {
  ip -n "$1" link add "$2" type veth peer name "$4" netns "$3"
  ip -n "$1" link set "$2" up
  ip -n "$3" link set "$4" up
}

sysctl_ns() { nsx "$1" sysctl -qw "$2" >/dev/null; }

wait_for() {
  local limit=$1 what=$2 i
  shift 2
  for ((i = 0; i < limit * 4; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.25
  done
  say "timed out after ${limit}s waiting for $what"
  return 1
}

start_daemon() {
  local name=$1 ns=$2
  shift 2
  ip netns exec "$ns" "$@" </dev/null >>"$RUN/$name.log" 2>&1 &
  echo $! >"$RUN/$name.pid"
}

stop_pidfile() {
  local f=$1 sig=${2:-TERM} pid i
  pid=$(cat "$f" 2>/dev/null || true)
  rm -f "$f"
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  [ -r "/proc/$pid/cmdline" ] || return 0
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$RUN/" || return 0
  kill "-$sig" "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 40; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.25
  done
  say "$(basename "$f" .pid) (pid $pid) did not stop on SIG$sig: SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
}

lab_keep_failed_logs() { # lab_keep_failed_logs NAME FILE...: after a failed check (LAB_FAILED,
  # lab/lib/checks.sh; nothing when the checks never ran), copy FILEs out of the run directory
  [ "${LAB_FAILED:-0}" -gt 0 ] && [ -d "$RUN" ] || return 0
  local keep
  keep=$(mktemp -d "${TMPDIR:-/tmp}/gdoi-$1-$LAB_ID.XXXXXX")
  shift
  cp "$@" "$keep"/ 2>/dev/null || true
  say "logs of the failed run: $keep"
}
