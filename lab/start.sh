#!/usr/bin/env bash
# `pnpm start`: bring up the reference lab (shared LAB.md topology) and show the group members' status.
# Docker Compose when a Docker engine answers, otherwise the network-namespace lab (root), otherwise —
# on a machine where neither can run — decode the bundled sample capture so the user still sees gdoi work.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -x lab/docker.sh ] && docker info >/dev/null 2>&1; then
  exec bash lab/docker.sh up
fi
if [ -x lab/netns.sh ] && [ "$(id -u)" = 0 ] && ip netns list >/dev/null 2>&1; then
  exec bash lab/netns.sh up
fi
echo "No Docker engine and no root for network namespaces: decoding the bundled sample capture instead." >&2
exec node packages/gdoi-wire/bin/gdoi-pcap.js --keys samples/gdoid.ikev1_decryption_table samples/gdoi-gdoid-loopback.pcap
