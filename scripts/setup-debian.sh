#!/usr/bin/env bash
# Installs what a fresh Debian 12 + Node 20 machine lacks to build, run and test gdoi:
# pnpm (pinned), tshark (our independent decoder), iproute2 (network-namespace labs), iperf3/tcpdump/ping/jq,
# systemd (for systemd-analyze: the unit tests verify systemd/*.service; no running systemd needed),
# etcd-server + etcd-client 3.4 (key-server clustering: the tests and lab/cluster.sh start their own etcd
# processes; the package's system service is kept from starting and disabled).
# Idempotent; needs root for apt (skipped when everything is already there).
set -euo pipefail

PNPM_VERSION=12.4.2
need_apt=()
command -v tshark >/dev/null || need_apt+=(tshark)
command -v ip >/dev/null || need_apt+=(iproute2)
command -v tcpdump >/dev/null || need_apt+=(tcpdump)
command -v iperf3 >/dev/null || need_apt+=(iperf3)
command -v ping >/dev/null || need_apt+=(iputils-ping) # lab/netns.sh test, bench/netns-throughput.sh
command -v jq >/dev/null || need_apt+=(jq)             # lab/netns.sh reads the daemons' status --json
command -v curl >/dev/null || need_apt+=(curl)         # lab/flood.sh scrapes the key server's metrics
command -v gcc >/dev/null || need_apt+=(gcc libc6-dev) # lab/flood.sh compiles its raw-socket flooder
command -v systemd-analyze >/dev/null || need_apt+=(systemd)
command -v etcd >/dev/null || need_apt+=(etcd-server)
command -v etcdctl >/dev/null || need_apt+=(etcd-client)
if ((${#need_apt[@]})); then
  echo "== apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # No package may start a system service here (etcd-server would start a system etcd on :2379): a
  # policy-rc.d that denies starts while we install, unless the machine has one already.
  own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  if ((own_policy)); then rm -f /usr/sbin/policy-rc.d; fi
  if [[ " ${need_apt[*]} " == *" etcd-server "* ]] && [ -d /run/systemd/system ]; then
    systemctl disable --now etcd >/dev/null 2>&1 || true
  fi
fi
if [ "$(pnpm --version 2>/dev/null)" != "$PNPM_VERSION" ]; then
  echo "== npm install -g pnpm@$PNPM_VERSION"
  npm install -g --silent "pnpm@$PNPM_VERSION"
fi

# The Docker Compose lab test (packages/gm-daemon/test/lab/docker-lab.test.ts) needs a Docker engine and
# the base image; no image registry is reachable from CI, so both come from the shared tool (Debian's
# docker.io + docker-compose, and a local node:20-bookworm-slim). CI has a copy of shared/ beside the clone.
echo "== docker engine and base image (Docker Compose lab)"
OFFLINE_BASE=${GDOI_OFFLINE_BASE:-$(cd "$(dirname "$0")/.." && pwd)/../shared/tools/docker-offline-base.sh}
if [ ! -f "$OFFLINE_BASE" ]; then
  echo "== $OFFLINE_BASE not found: bring your own Docker engine (the Docker lab test skips without one)"
else
  bash "$OFFLINE_BASE" daemon || true
  # (`base` exits 1 when the image is already there, so ask Docker rather than its exit status)
  docker image inspect node:20-bookworm-slim >/dev/null 2>&1 || bash "$OFFLINE_BASE" base || true
  if ! docker info >/dev/null 2>&1 || ! docker image inspect node:20-bookworm-slim >/dev/null 2>&1; then
    echo "!! $OFFLINE_BASE could not start dockerd or build node:20-bookworm-slim: the Docker lab test will be skipped"
  fi
fi
