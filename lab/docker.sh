#!/usr/bin/env bash
# The reference lab of LAB.md in Docker Compose (docker/compose.yaml): the same topology, addresses and
# configuration as the network-namespace lab (lab/netns.sh), in containers. See docker/README.md.
#
#   lab/docker.sh up       build the images, start ks, mm, gm1..3, site1..3, wait until every GM is
#                          registered, print the GMs' status
#   lab/docker.sh test     prove the lab works (lab/lib/checks.sh, shared with lab/netns.sh: registration,
#                          site-to-site pings, ESP with preserved addresses and one SPI seen from mm,
#                          clear traffic outside the ACL, a TEK rekey with no loss, `status` from inside
#                          the containers, the daemons' Prometheus metrics scraped on this host's
#                          127.0.0.1:9848..9851); exit status 0 only if all pass
#   lab/docker.sh status   the key server's and the GMs' status (from inside the containers)
#   lab/docker.sh logs     the containers' logs
#   lab/docker.sh down     remove the containers, networks and the key server's volume (images stay;
#                          GDOI_DOCKER_RMI=1 removes them too)
#   lab/docker.sh build    only build the images
#
# Environment:
#   GDOI_DOCKER_APP    auto (default) | host | source: where the daemons in the image come from.
#                      source = docker/Dockerfile compiles the TypeScript and the addon inside the build
#                      (needs the npm registry and a Debian mirror from the build); host = the tree this
#                      checkout's `pnpm install && pnpm build` made, staged in docker/prebuilt (seconds,
#                      no network); auto = host when that tree exists and the host runs the base
#                      image's Node.js major version, else source.
#   GDOI_BASE_IMAGE    base image (node:20-bookworm-slim). When it has no Node headers (the stand-in of
#                      shared/tools/docker-offline-base.sh) and the source build needs them, they are
#                      added from this host's Node (same version) as the image gdoi-node-base:local.
#   GDOI_COMPOSE       compose command (default: `docker compose` if it works, else docker-compose)
#   GDOI_UP_TIMEOUT    seconds to wait for registration (90)
# One lab at a time on a host: the compose project is `gdoi`, the networks gdoi-* with fixed subnets.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
COMPOSE_YAML=$REPO/docker/compose.yaml
PROJECT=gdoi
APP_MODE=${GDOI_DOCKER_APP:-auto}
BASE_IMAGE=${GDOI_BASE_IMAGE:-node:20-bookworm-slim}
HEADERS_IMAGE=gdoi-node-base:local
UP_TIMEOUT=${GDOI_UP_TIMEOUT:-90}
GMS=(1 2 3)
LOGDIR=${TMPDIR:-/tmp}/gdoi-docker-$PROJECT

say() { printf '%s\n' "$*" >&2; }
die() { say "docker.sh: $*"; exit 1; }
now() { date +%s; }

if [ -n "${GDOI_COMPOSE:-}" ]; then
  read -r -a COMPOSE_CMD <<<"$GDOI_COMPOSE"
elif docker compose version >/dev/null 2>&1; then
  COMPOSE_CMD=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
  COMPOSE_CMD=(docker-compose)
else
  COMPOSE_CMD=()
fi
compose() { "${COMPOSE_CMD[@]}" -p "$PROJECT" -f "$COMPOSE_YAML" "$@"; }

preflight() {
  docker info >/dev/null 2>&1 || die "no Docker engine answers (docker info failed); on Debian: shared/tools/docker-offline-base.sh daemon"
  ((${#COMPOSE_CMD[@]})) || die "neither 'docker compose' nor docker-compose is installed"
  mkdir -p "$LOGDIR"
}

# ---- images --------------------------------------------------------------------------------------

# The Node.js version inside an image ("v20.20.2").
image_node() { docker run --rm --entrypoint node "$1" --version 2>/dev/null; }

ensure_base() {
  docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 && return 0
  say "base image $BASE_IMAGE is not here: pulling it (no registry? shared/tools/docker-offline-base.sh base builds a local one)"
  timeout 300 docker pull "$BASE_IMAGE" >&2 || die "cannot get $BASE_IMAGE"
}

# The host's build, complete enough to stage: every package's dist/, the addon, node_modules.
host_tree_ready() {
  local p
  for p in gdoi-wire daemon-kit ks-daemon gm-daemon; do [ -d "$REPO/packages/$p/dist" ] || return 1; done
  [ -f "$REPO/packages/ks-daemon/dist/cli.js" ] && [ -f "$REPO/packages/gm-daemon/dist/cli.js" ] \
    && [ -f "$REPO/packages/gm-daemon/build/Release/gdoi_native.node" ] && [ -d "$REPO/node_modules" ] \
    && command -v pnpm >/dev/null 2>&1
}

# Stages docker/prebuilt: production node_modules (pnpm, from the host's store) + dist/ bin/ + the addon.
stage_host_tree() {
  local S=$REPO/docker/prebuilt p f
  clean_stage
  cp "$REPO/package.json" "$REPO/pnpm-lock.yaml" "$REPO/pnpm-workspace.yaml" "$S/"
  for p in gdoi-wire daemon-kit ks-daemon gm-daemon; do
    mkdir -p "$S/packages/$p"
    for f in package.json bin dist; do
      if [ -e "$REPO/packages/$p/$f" ]; then cp -a "$REPO/packages/$p/$f" "$S/packages/$p/"; fi
    done
  done
  mkdir -p "$S/packages/gm-daemon/build/Release"
  cp "$REPO/packages/gm-daemon/build/Release/gdoi_native.node" "$S/packages/gm-daemon/build/Release/"
  find "$S/packages" \( -name '*.map' -o -name '*.tsbuildinfo' \) -delete
  (cd "$S" && CI=true pnpm install --frozen-lockfile --prod --prefer-offline --ignore-scripts --reporter=silent) >"$LOGDIR/stage.log" 2>&1 \
    || { tail -n 20 "$LOGDIR/stage.log" >&2; return 1; }
}

clean_stage() {
  local S=$REPO/docker/prebuilt
  rm -rf "$S/package.json" "$S/pnpm-lock.yaml" "$S/pnpm-workspace.yaml" "$S/node_modules" "$S/packages"
}

# The source build compiles the addon against the base image's Node headers; the offline stand-in has
# none: add this host's (same Node version) as gdoi-node-base:local.
base_with_headers() {
  # shellcheck disable=SC2016  # expanded by the container's shell
  local probe='p=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")"); test -f "$p/include/node/node_api.h"'
  if docker run --rm --entrypoint sh "$BASE_IMAGE" -c "$probe" 2>/dev/null; then
    echo "$BASE_IMAGE"
    return 0
  fi
  local hv iv hdr T
  hv=$(node --version 2>/dev/null || true)
  iv=$(image_node "$BASE_IMAGE")
  hdr=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")/include/node
  if [ -z "$hv" ] || [ "$hv" != "$iv" ] || [ ! -f "$hdr/node_api.h" ]; then
    die "$BASE_IMAGE has no Node headers and this host cannot supply them (host node ${hv:-none}, image $iv, $hdr)"
  fi
  say "adding this host's Node $hv headers to $BASE_IMAGE as $HEADERS_IMAGE"
  T=$(mktemp -d)
  cp -a "$hdr" "$T/node"
  # shellcheck disable=SC2016  # a Dockerfile's ${BASE_IMAGE}
  printf 'ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY node /usr/local/include/node\n' >"$T/Dockerfile"
  docker build -q --force-rm --build-arg BASE_IMAGE="$BASE_IMAGE" -t "$HEADERS_IMAGE" "$T" >/dev/null 2>"$LOGDIR/headers.log" \
    || { rm -rf "$T"; cat "$LOGDIR/headers.log" >&2; die "cannot build $HEADERS_IMAGE"; }
  rm -rf "$T"
  echo "$HEADERS_IMAGE"
}

cmd_build() {
  preflight
  ensure_base
  local mode=$APP_MODE target base t0 hv iv
  t0=$(now)
  if [ "$mode" = auto ]; then
    mode=source
    if host_tree_ready; then
      hv=$(node --version)
      iv=$(image_node "$BASE_IMAGE")
      if [ "${hv%%.*}" = "${iv%%.*}" ]; then mode=host; else say "host Node $hv, image Node $iv: building from source"; fi
    fi
  fi
  base=$BASE_IMAGE
  case "$mode" in
    host)
      host_tree_ready || die "GDOI_DOCKER_APP=host needs the host's build: pnpm install && pnpm build"
      say "staging the host's build in docker/prebuilt (GDOI_DOCKER_APP=source compiles in the image instead)"
      (cd "$REPO" && pnpm build) >"$LOGDIR/tsc.log" 2>&1 || { tail -n 20 "$LOGDIR/tsc.log" >&2; die "pnpm build failed"; }
      stage_host_tree || { clean_stage; die "staging the host's build failed (log: $LOGDIR/stage.log)"; }
      target=prebuilt
      ;;
    source)
      target=runtime
      base=$(base_with_headers)
      ;;
    *) die "GDOI_DOCKER_APP must be auto, host or source" ;;
  esac
  say "building gdoi:local ($target) and gdoi-debug:local from $base (log: $LOGDIR/build.log)"
  local extra=()
  [ "${COMPOSE_CMD[*]}" = docker-compose ] && extra=(--force-rm)
  if ! GDOI_APP_TARGET=$target GDOI_BASE_IMAGE=$base compose build "${extra[@]}" >"$LOGDIR/build.log" 2>&1; then
    clean_stage
    grep -v -e '^debconf' -e '^Progress' "$LOGDIR/build.log" | tail -n 30 >&2
    die "image build failed (log: $LOGDIR/build.log)"
  fi
  clean_stage
  docker run --rm --entrypoint node "gdoi:local" -e "require('/opt/gdoi/packages/gm-daemon/build/Release/gdoi_native.node')" \
    || die "the gm-daemon addon does not load in gdoi:local (GDOI_DOCKER_APP=source builds it in the image)"
  say "images built in $(($(now) - t0)) s"
}

# ---- up / status / down --------------------------------------------------------------------------

gm_registered() { docker exec "${CID[gm$1]}" gdoi-gm status --json 2>/dev/null | grep -Eq '"status": *"Registered"'; }
service_running() { [ "$(docker inspect -f '{{.State.Running}}' "${CID[$1]}" 2>/dev/null)" = true ]; }

wait_registered() {
  local n deadline=$(($(now) + UP_TIMEOUT))
  for n in "${GMS[@]}"; do
    until gm_registered "$n"; do
      if ! service_running "gm$n"; then
        compose logs --no-color --tail=30 "gm$n" >&2 || true
        die "GM-$n stopped (lab/docker.sh down to clean up)"
      fi
      if [ "$(now)" -ge "$deadline" ]; then
        compose logs --no-color --tail=30 ks "gm$n" >&2 || true
        die "GM-$n did not register within ${UP_TIMEOUT}s (lab/docker.sh down to clean up)"
      fi
      sleep 1
    done
  done
}

cmd_up() {
  preflight
  local t0
  t0=$(now)
  if [ "${GDOI_DOCKER_BUILD:-1}" = 1 ] || ! docker image inspect gdoi:local gdoi-debug:local >/dev/null 2>&1; then cmd_build; fi
  say "starting the lab (project $PROJECT): ks, mm, gm1..3, site1..3"
  local up_args=(up -d --no-build)
  compose "${up_args[@]}" >"$LOGDIR/up.log" 2>&1 || { cat "$LOGDIR/up.log" >&2; compose logs --no-color --tail=40 >&2 || true; die "compose up failed (lab/docker.sh down to clean up)"; }
  resolve_containers
  wait_registered
  cmd_status
  say ""
  say "lab is up in $(($(now) - t0)) s (compose project $PROJECT, file docker/compose.yaml)"
  say "  ping across the VPN : ${COMPOSE_CMD[*]} -p $PROJECT -f docker/compose.yaml exec site1 ping 10.1.2.2"
  say "  watch Middle-Man    : ${COMPOSE_CMD[*]} -p $PROJECT -f docker/compose.yaml exec mm tcpdump -ni any 'esp or udp port 848'"
  say "  check everything    : $0 test        stop: $0 down"
}

cmd_status() {
  preflight
  echo "==================== KEYS-1 (ks): gdoi-ks status ===================="
  compose exec -T ks gdoi-ks status || true
  local n
  for n in "${GMS[@]}"; do
    echo "==================== GM-$n (gm$n): gdoi-gm status ===================="
    compose exec -T "gm$n" gdoi-gm status || true
  done
}

cmd_down() {
  preflight
  local rmi=()
  [ "${GDOI_DOCKER_RMI:-0}" = 1 ] && rmi=(--rmi all)
  compose down -v --remove-orphans -t 15 "${rmi[@]}" >"$LOGDIR/down.log" 2>&1 || { cat "$LOGDIR/down.log" >&2; die "compose down failed"; }
  clean_stage
  say "lab (project $PROJECT) is down"
}

# ---- test ----------------------------------------------------------------------------------------

# The hooks lab/lib/checks.sh runs everything through: here, inside the containers. `docker exec` on
# the containers' ids is `compose exec -T SERVICE` without compose's start-up cost (about 1 s for v1).
declare -A CID=()
resolve_containers() {
  local s id
  while read -r s id; do CID[$s]=$id; done < <(docker ps -a --filter "label=com.docker.compose.project=$PROJECT" \
    --format '{{.Label "com.docker.compose.service"}} {{.ID}}')
  for s in ks mm site1 site2 site3 "${GMS[@]/#/gm}"; do
    [ -n "${CID[$s]:-}" ] || die "service $s has no container: is the lab up? (lab/docker.sh up)"
  done
}
lab_in() { local node=$1; shift; docker exec "${CID[$node]}" "$@"; }
lab_gm_status() { local n=$1; shift; docker exec "${CID[gm$n]}" gdoi-gm status "$@"; }
lab_ks_status() { docker exec "${CID[ks]}" gdoi-ks status "$@"; }
lab_ks_rekey() { docker exec "${CID[ks]}" gdoi-ks rekey --group GETVPN-GRP; }
lab_logs() { docker logs "${CID[$1]}" 2>&1; }
# Metrics: the port each daemon listens on in its container (docker/config/*.yaml metrics.listen), and
# where compose published it on this host (compose.yaml: 127.0.0.1 only). Scraped from the host, as a
# Prometheus next to the lab would.
metrics_port() { case "$1" in ks) echo 9848 ;; *) echo 9849 ;; esac; }
lab_metrics_published() { docker port "${CID[$1]}" "$(metrics_port "$1")/tcp"; }
lab_scrape() {
  local where
  where=$(lab_metrics_published "$1" | head -n 1)
  [ -n "$where" ] || { echo "$1: metrics port $(metrics_port "$1") not published" >&2; return 1; }
  # shellcheck disable=SC2016  # JavaScript, not shell
  node -e 'fetch(`http://${process.argv[1]}/metrics`).then((r) => r.text()).then((t) => process.stdout.write(t), (e) => { console.error(String(e)); process.exit(1) })' "$where"
}

cmd_test() {
  preflight
  resolve_containers
  # shellcheck source=lab/lib/checks.sh
  source "$REPO/lab/lib/checks.sh"
  LAB_NAME="docker lab (compose project $PROJECT)"
  LAB_GMS="${GMS[*]}"
  lab_run_checks
}

case "${1:-}" in
  up) cmd_up ;;
  build) cmd_build ;;
  test) cmd_test ;;
  status) cmd_status ;;
  logs) preflight; compose logs --no-color ;;
  down) cmd_down ;;
  *)
    echo "usage: $0 up|test|status|logs|down|build   (GDOI_DOCKER_APP=auto|host|source)" >&2
    exit 2
    ;;
esac
