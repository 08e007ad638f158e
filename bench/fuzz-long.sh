#!/usr/bin/env bash
# The long fuzz run of RELIABILITY.md: N inputs (default 10,000,000) over every target in
# packages/gdoi-wire/fuzz/targets.ts, one process (a worker thread fuzzes, the main thread watches),
# at low CPU priority so it can share a machine. Findings and report.{md,json} go to --out (default
# /tmp/gdoi-fuzz-<time>). Exit status 1 when anything other than DecodeError escaped, an input stayed
# slower than --slow-ms (10) after re-running it, or the run hung or died.
#
#   bench/fuzz-long.sh                          # 10 M inputs
#   bench/fuzz-long.sh 1000000 --seed 7         # 1 M inputs, another seed
#   bench/fuzz-long.sh 10000000 --seconds 1800  # at most 30 minutes
#   bench/fuzz-long.sh --worst-case             # the hand-built worst cases only (fuzz/worst-case.ts)
#   bench/fuzz-long.sh --repro FILE.bin --target push-signed
# Options after the count go to packages/gdoi-wire/fuzz/long-run.ts (see its header).
set -euo pipefail
cd "$(dirname "$0")/.."
args=()
if [[ $# -gt 0 && "$1" =~ ^[0-9_]+$ ]]; then
  args+=(--inputs "$1")
  shift
fi
# TS_NODE_TRANSPILE_ONLY: tap's TypeScript loader without type checking (as under `tap`); type-check
# with tsc instead. --expose-gc lets the run measure allocation per input on a sample.
export TS_NODE_TRANSPILE_ONLY=1
exec nice -n 10 node --conditions=@gdoi/source --expose-gc \
  --import=./node_modules/.pnpm/node_modules/@tapjs/typescript/dist/esm/import.mjs \
  packages/gdoi-wire/fuzz/long-run.ts "${args[@]}" "$@"
