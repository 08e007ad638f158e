#!/usr/bin/env bash
# Installs the systemd units of gdoi (systemd/README.md):
#   units      systemd/gdoi-ks.service gdoi-gm.service gdoi-gm@.service → /etc/systemd/system/
#   users      systemd/gdoi.sysusers → /etc/sysusers.d/gdoi.conf, then systemd-sysusers (gdoi-ks, gdoi-gm)
#   configs    /etc/gdoi/ks.yaml and /etc/gdoi/gm.yaml from examples/ (control sockets moved into the
#              units' RuntimeDirectory), mode 0640 root:<daemon group> — ONLY when absent: an existing
#              configuration is never overwritten
#   options    /etc/default/gdoi-ks, /etc/default/gdoi-gm (GDOI_*_ARGS, e.g. --metrics), only when absent
#   reload     systemctl daemon-reload (when systemd runs and DESTDIR is empty)
# It expects the daemons at PREFIX/bin/gdoi-ks and PREFIX/bin/gdoi-gm; with --link it points those at
# this checkout's bin/*.js (run `pnpm install && pnpm build` first; ProtectHome=yes hides /home and
# /root from the daemons, so keep the checkout elsewhere, e.g. /opt/gdoi). It enables nothing: see the
# commands it prints at the end.
#
#   sudo scripts/install-systemd.sh [--prefix /usr/local] [--link] [--dry-run]
#   DESTDIR=/tmp/stage scripts/install-systemd.sh      # stage into a tree (packaging); no root needed
#
# The units name /usr/local/bin/gdoi-*; with another --prefix the installed copies are rewritten.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX=/usr/local
DRY_RUN=0
DESTDIR="${DESTDIR:-}"

LINK=0

usage() { sed -n '2,20s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }
while (($#)); do
  case "$1" in
    --prefix) PREFIX="${2:?--prefix needs a directory}"; shift 2 ;;
    --prefix=*) PREFIX="${1#--prefix=}"; shift ;;
    --dry-run|-n) DRY_RUN=1; shift ;;
    --link) LINK=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install-systemd.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
PREFIX="${PREFIX%/}"

run() {
  if ((DRY_RUN)); then echo "  would run: $*"; else "$@"; fi
}
say() { echo "== $*"; }

if [ -z "$DESTDIR" ] && ((!DRY_RUN)) && [ "$(id -u)" -ne 0 ]; then
  echo "install-systemd.sh: needs root (or DESTDIR=… to stage, or --dry-run)" >&2
  exit 1
fi

unitdir="$DESTDIR/etc/systemd/system"
confdir="$DESTDIR/etc/gdoi"
defaultdir="$DESTDIR/etc/default"
sysusersdir="$DESTDIR/etc/sysusers.d"

for pair in gdoi-ks:ks-daemon gdoi-gm:gm-daemon; do
  bin="${pair%%:*}" pkg="${pair#*:}"
  if ((LINK)); then
    target="$repo/packages/$pkg/bin/$bin.js"
    [ -f "$repo/packages/$pkg/dist/cli.js" ] || echo "warning: $repo/packages/$pkg/dist/cli.js missing: run pnpm build" >&2
    case "$repo" in /home/*|/root/*|/run/user/*) echo "warning: $repo is hidden from the daemons by ProtectHome=yes" >&2 ;; esac
    run install -d -m 0755 "$DESTDIR$PREFIX/bin"
    run ln -sfn "$target" "$DESTDIR$PREFIX/bin/$bin"
  elif [ ! -x "$DESTDIR$PREFIX/bin/$bin" ] && [ ! -x "$PREFIX/bin/$bin" ]; then
    echo "warning: $PREFIX/bin/$bin not found; the units fail until it is there (--link points it at this checkout)" >&2
  fi
done

say "units → $unitdir"
run install -d -m 0755 "$unitdir"
for unit in gdoi-ks.service gdoi-gm.service gdoi-gm@.service; do
  src="$repo/systemd/$unit"
  if [ "$PREFIX" = /usr/local ]; then
    run install -m 0644 "$src" "$unitdir/$unit"
  elif ((DRY_RUN)); then
    echo "  would install $src → $unitdir/$unit with /usr/local/bin/ → $PREFIX/bin/"
  else
    sed "s#/usr/local/bin/gdoi-#$PREFIX/bin/gdoi-#g" "$src" >"$unitdir/$unit.tmp"
    chmod 0644 "$unitdir/$unit.tmp"
    mv "$unitdir/$unit.tmp" "$unitdir/$unit"
  fi
done

say "system users gdoi-ks, gdoi-gm → $sysusersdir/gdoi.conf"
run install -d -m 0755 "$sysusersdir"
run install -m 0644 "$repo/systemd/gdoi.sysusers" "$sysusersdir/gdoi.conf"
if [ -z "$DESTDIR" ]; then
  if command -v systemd-sysusers >/dev/null; then
    run systemd-sysusers "$sysusersdir/gdoi.conf"
  else
    for u in gdoi-ks gdoi-gm; do
      id "$u" >/dev/null 2>&1 || run useradd --system --user-group --no-create-home --home-dir / --shell /usr/sbin/nologin "$u"
    done
  fi
fi

# $1 example, $2 target name, $3 control socket, $4 group that may read it
install_config() {
  local src="$repo/examples/$1" dst="$confdir/$2" sock="$3" group="$4"
  if [ -e "$dst" ]; then
    echo "  $dst exists: kept, not overwritten (its controlSocket must be $sock under systemd)"
    return
  fi
  if ((DRY_RUN)); then
    echo "  would create $dst from examples/$1 (controlSocket: $sock, mode 0640 root:$group)"
    return
  fi
  local tmp
  tmp="$(mktemp "$confdir/.$2.XXXXXX")"
  {
    echo "# Installed by scripts/install-systemd.sh from examples/$1 — EDIT BEFORE USE: the pre-shared"
    echo "# key below is a public example. Under systemd the control socket lives in the unit's"
    echo "# RuntimeDirectory ($sock)."
    sed "s#^controlSocket:.*#controlSocket: $sock#" "$src"
  } >"$tmp"
  chmod 0640 "$tmp"
  if [ -z "$DESTDIR" ]; then chown "root:$group" "$tmp"; fi
  # ln (not mv) refuses to replace a file that appeared meanwhile.
  if ln "$tmp" "$dst" 2>/dev/null; then
    echo "  created $dst"
  else
    echo "  $dst appeared meanwhile: kept, not overwritten"
  fi
  rm -f "$tmp"
}

say "configuration → $confdir (existing files are never overwritten)"
run install -d -m 0755 "$confdir"
install_config ks.yaml ks.yaml /run/gdoi/ks/ks.sock gdoi-ks
install_config gm1.yaml gm.yaml /run/gdoi/gm/gm.sock gdoi-gm

# $1 file, $2 variable, $3 example value
install_default() {
  local dst="$defaultdir/$1"
  if [ -e "$dst" ]; then
    echo "  $dst exists: kept"
    return
  fi
  if ((DRY_RUN)); then
    echo "  would create $dst"
    return
  fi
  printf '# Extra arguments for %s (systemd EnvironmentFile), e.g. Prometheus metrics on loopback:\n#%s="--metrics %s"\n%s=""\n' \
    "$1" "$2" "$3" "$2" >"$dst"
  chmod 0644 "$dst"
  echo "  created $dst"
}
say "daemon options → $defaultdir"
run install -d -m 0755 "$defaultdir"
install_default gdoi-ks GDOI_KS_ARGS 127.0.0.1:9848
install_default gdoi-gm GDOI_GM_ARGS 127.0.0.1:9849

if [ -z "$DESTDIR" ] && [ -d /run/systemd/system ]; then
  say "systemctl daemon-reload"
  run systemctl daemon-reload
else
  say "systemd is not running here (or DESTDIR is set): no daemon-reload"
fi

cat <<EOF

Next:
  edit /etc/gdoi/ks.yaml (key server) and/or /etc/gdoi/gm.yaml (group member), then
    systemctl enable --now gdoi-ks
    systemctl enable --now gdoi-gm
  several members on one host: /etc/gdoi/gm-NAME.yaml (controlSocket: /run/gdoi/gm-NAME/gm.sock,
  mode 0640 root:gdoi-gm), then systemctl enable --now gdoi-gm@NAME
  status: gdoi-ks status -c /etc/gdoi/ks.yaml ; gdoi-gm status --socket /run/gdoi/gm/gm.sock
  reload: systemctl reload gdoi-ks (SIGHUP)
EOF
