#!/usr/bin/env bash
# promtool, to check deploy/prometheus and unit-test its alert rules: taken from Debian's
# prometheus package (about 20 MB), unpacked into the cache rather than installed, so no
# Prometheus server is set up on the machine.
# Usage: deploy/tools/promtool.sh install | path | run [promtool arguments]
# Env: ADOPTE_CACHE_DIR or XDG_CACHE_HOME (the binary goes to <cache>/promtool/usr/bin).
set -euo pipefail

SERVICE=promtool
INSTALL_HINT="run on Debian or Ubuntu (apt-get download prometheus)"
# shellcheck source-path=SCRIPTDIR source=../local/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../local/lib.sh"

ROOT="$ADOPTE_CACHE_DIR/promtool"
BIN="$ROOT/usr/bin/promtool"

install() {
  if [[ -x "$BIN" ]]; then
    log "already in $BIN"
    return 0
  fi
  require apt-get
  require dpkg-deb
  local t0 work
  t0="$(now)"
  work="$(mktemp -d)"
  log "apt-get download prometheus, unpacked into $ROOT"
  if ! (cd "$work" && apt-get download prometheus) >"$work/download.log" 2>&1; then
    (apt-get update -q && cd "$work" && apt-get download prometheus) >>"$work/download.log" 2>&1 \
      || { show_log "$work/download.log"; rm -rf "$work"; die "apt-get download prometheus failed"; }
  fi
  mkdir -p "$ROOT"
  dpkg-deb -x "$work"/prometheus_*.deb "$ROOT"
  rm -rf "$work"
  [[ -x "$BIN" ]] || die "the prometheus package holds no usr/bin/promtool"
  log "unpacked in $(elapsed "$t0")"
}

case "${1:-}" in
  install) install; echo "$BIN" ;;
  path) echo "$BIN" ;;
  run) shift; install; exec "$BIN" "$@" ;;
  *) echo "usage: $0 install | path | run [arguments]" >&2; exit 2 ;;
esac
