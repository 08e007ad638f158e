#!/usr/bin/env bash
# Runs bench/esp.bench.ts (TypeScript, through the ts-node ESM loader tap already ships) against the
# workspace sources. Usage: bash packages/gm-daemon/bench/esp-seal.sh [--runs 5] [--ms 250] [--only gcm] [--json out.json]
# Pin to one core with: taskset -c 0 bash packages/gm-daemon/bench/esp-seal.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
bench="${BENCH:-esp.bench.ts}"
loader="$(ls -d "$root"/node_modules/.pnpm/@isaacs+ts-node-temp-fork-for-pr-2009@*/node_modules/@isaacs/ts-node-temp-fork-for-pr-2009 | head -n1)/import.mjs"
[ -f "$here/../build/Release/gdoi_native.node" ] || (cd "$here/.." && node native/build.mjs)
cd "$here/.."
TS_NODE_TRANSPILE_ONLY=1 TS_NODE_PROJECT="$here/../tsconfig.json" \
  exec node --no-warnings --conditions=@gdoi/source --import "$loader" "$here/$bench" "$@"
