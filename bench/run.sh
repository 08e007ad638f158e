#!/usr/bin/env bash
# One command per benchmark of bench/README.md. Each prints its figures and the ratio to a baseline
# measured in the same run; results and how to read them are in bench/README.md.
#
#   bench/run.sh storm   [--count 1000,10000] [--runs 5] [--concurrency 64] [--cpu-prof DIR] [--json F]
#   bench/run.sh fanout  [--count 10000] [--runs 5] [--multicast]        # --multicast needs root (netns)
#   bench/run.sh floor   [REGS_PER_RUN] [RUNS]                           # the storm's crypto baseline alone
#   bench/run.sh smoke                                                   # storm + fanout with 20 GMs, 1 run
#   bench/run.sh fuzz    [N] [options]                                   # = bench/fuzz-long.sh
#   bench/run.sh cluster-storm [--count 2000] [--runs 3] [--servers 1,2]  # storm over key servers on etcd
#   bench/run.sh latency [--runs 5] [--count 500]                        # added ping RTT through two GMs (netns lab, root)
#   bench/run.sh throughput [RUNS] [SECONDS] [PINGS]                     # = bench/netns-throughput.sh (netns lab, root)
#   bench/run.sh strongswan [RUNS] [SECONDS] ["gcm cbc"]                 # = bench/strongswan-compare.sh: vs strongSwan (root)
#   bench/run.sh flood   [--runs 3] [--pps N] [--json F]                 # = lab/flood.sh: spoofed MM1s vs 3 GMs registering (root)
#
# The daemons run from dist/ (built first with `pnpm build`); the orchestrator runs from the TypeScript
# sources through the loader tap ships. Options after NAME go to the benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."

name="${1:-}"
[ $# -gt 0 ] && shift

ts() {
  TS_NODE_TRANSPILE_ONLY=1 exec node --conditions=@gdoi/source \
    --import=./node_modules/.pnpm/node_modules/@tapjs/typescript/dist/esm/import.mjs "$@"
}

build() {
  local out
  out="$(pnpm build 2>&1)" || { printf '%s\n' "$out" >&2; exit 1; }
}

# Each simulated GM holds one UDP socket.
raise_nofile() {
  ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
}

case "$name" in
  storm | fanout)
    build
    raise_nofile
    ts packages/gm-daemon/bench/scale.ts "$name" "$@"
    ;;
  floor)
    ts packages/gm-daemon/bench/crypto-floor.ts "$@"
    ;;
  smoke)
    build
    raise_nofile
    TS_NODE_TRANSPILE_ONLY=1 node --conditions=@gdoi/source \
      --import=./node_modules/.pnpm/node_modules/@tapjs/typescript/dist/esm/import.mjs \
      packages/gm-daemon/bench/scale.ts storm --count 20 --runs 1
    ts packages/gm-daemon/bench/scale.ts fanout --count 20 --runs 1
    ;;
  fuzz)
    exec bash bench/fuzz-long.sh "$@"
    ;;
  cluster-storm)
    # Storm over one and two key servers sharing etcd (needs `etcd`: scripts/setup-debian.sh).
    build
    raise_nofile
    ts packages/ks-daemon/bench/cluster-storm.ts "$@"
    ;;
  latency)
    # Added RTT of a ping through two GMs vs the plain path, in the netns lab (root).
    build
    exec bash bench/latency.sh "$@"
    ;;
  throughput)
    # Site-to-site iperf3 TCP/UDP through two GMs vs the plain path, in the netns lab (root).
    if [ -f bench/netns-throughput.sh ]; then
      build
      exec bash bench/netns-throughput.sh "$@"
    fi
    echo "bench/run.sh throughput: bench/netns-throughput.sh is not there" >&2
    exit 2
    ;;
  strongswan)
    # iperf3 through two GMs vs two strongSwan 5.9 gateways (kernel-libipsec), same ciphers, same run
    # (root; installs strongSwan with apt-get when it is missing).
    build
    exec bash bench/strongswan-compare.sh "$@"
    ;;
  flood)
    # A flood of spoofed MM1s at the key server while three GMs register, in the netns lab (root).
    build
    exec bash lab/flood.sh "$@"
    ;;
  *)
    sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
