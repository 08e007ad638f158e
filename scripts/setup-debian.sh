#!/usr/bin/env bash
# Installs what a fresh Debian 12 + Node 20 machine lacks to build, run and test gdoi:
# pnpm (pinned), tshark (our independent decoder), iproute2 (network-namespace labs), iperf3/tcpdump,
# systemd (for systemd-analyze: the unit tests verify systemd/*.service; no running systemd needed).
# Idempotent; needs root for apt (skipped when everything is already there).
set -euo pipefail

PNPM_VERSION=12.4.2
need_apt=()
command -v tshark >/dev/null || need_apt+=(tshark)
command -v ip >/dev/null || need_apt+=(iproute2)
command -v tcpdump >/dev/null || need_apt+=(tcpdump)
command -v iperf3 >/dev/null || need_apt+=(iperf3)
command -v systemd-analyze >/dev/null || need_apt+=(systemd)
if ((${#need_apt[@]})); then
  echo "== apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
if [ "$(pnpm --version 2>/dev/null)" != "$PNPM_VERSION" ]; then
  echo "== npm install -g pnpm@$PNPM_VERSION"
  npm install -g --silent "pnpm@$PNPM_VERSION"
fi
