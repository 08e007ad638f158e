#!/bin/bash
# The examples/ lab (KS 127.0.1.1, GMs 127.0.1.11–13) run unchanged inside the current network
# namespace, with private tmpfs mounts on /run/gdoi and /var/lib/gdoi (run it under
# `ip netns exec NS unshare --mount`). Usage: examples-lab.sh OUTDIR REPO LOADER-URL [TEK-LIFETIME-SEC]
# Writes ks.log, gm*.log, ks-status.{txt,json}, gm*-status.txt into OUTDIR.
set -u
OUT=$1 REPO=$2 LOADER=$3 TEKLIFE=${4:-}
mount --make-rprivate /
mkdir -p /run/gdoi /var/lib/gdoi
mount -t tmpfs -o mode=0700 tmpfs /run/gdoi
mount -t tmpfs -o mode=0700 tmpfs /var/lib/gdoi
ip link set lo up
export TS_NODE_TRANSPILE_ONLY=1 NODE_OPTIONS=
node_ts() { node --conditions=@gdoi/source "--import=$LOADER" "$@"; }
cd "$REPO"
KSCFG=examples/ks.yaml
if [ -n "$TEKLIFE" ]; then
  sed -e "s/tekLifetimeSec: 3600/tekLifetimeSec: $TEKLIFE/" -e 's/retransmitPeriodSec: 10/retransmitPeriodSec: 2/' examples/ks.yaml > "$OUT/ks.yaml"
  KSCFG=$OUT/ks.yaml
fi
node_ts packages/ks-daemon/src/cli.ts --config "$KSCFG" --log-format json > "$OUT/ks.log" 2>&1 &
KSPID=$!
for i in $(seq 1 200); do grep -q 'control socket ready' "$OUT/ks.log" && break; sleep 0.3; done
GMPIDS=
for n in 1 2 3; do
  node_ts packages/gm-daemon/src/cli.ts --config examples/gm$n.yaml --log-format json > "$OUT/gm$n.log" 2>&1 &
  GMPIDS="$GMPIDS $!"
done
for i in $(seq 1 200); do
  [ "$(cat "$OUT"/gm*.log | grep -c 'gdoi.registration.complete')" -ge 3 ] && break
  sleep 0.3
done
if [ -n "$TEKLIFE" ]; then
  sleep $((TEKLIFE * 4 / 3 + 3))   # TEK rekeys at 2/3 and 4/3 of the lifetime after the KS started
else
  node_ts packages/ks-daemon/src/cli.ts rekey --group GETVPN-GRP --config "$KSCFG" > "$OUT/rekey.txt" 2>&1
  sleep 2
fi
# all status snapshots at once (each CLI start takes seconds under the TypeScript loader)
node_ts packages/ks-daemon/src/cli.ts status --config "$KSCFG" > "$OUT/ks-status.txt" 2>&1 & S1=$!
node_ts packages/ks-daemon/src/cli.ts status --json --config "$KSCFG" > "$OUT/ks-status.json" 2>&1 & S2=$!
SP="$S1 $S2"
for n in 1 2 3; do node_ts packages/gm-daemon/src/cli.ts status --config examples/gm$n.yaml > "$OUT/gm$n-status.txt" 2>&1 & SP="$SP $!"; done
wait $SP
kill -TERM $GMPIDS $KSPID 2>/dev/null
wait
exit 0
