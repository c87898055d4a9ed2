#!/usr/bin/env bash
# composecheck (deploy/tools/composecheck): loads docker-compose.yml with compose-go, the
# Compose specification's reference loader, so CI validates it without a container engine.
# Usage: deploy/tools/composecheck.sh install | path | run [composecheck arguments]
# Env: ADOPTE_CACHE_DIR or XDG_CACHE_HOME (the binary goes to <cache>/go/bin).
set -euo pipefail

SERVICE=composecheck
INSTALL_HINT="install Go, e.g. apt-get install -y golang-go"
# shellcheck source-path=SCRIPTDIR source=../local/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../local/lib.sh"

SOURCE="$REPO_ROOT/deploy/tools/composecheck"
GODIR="$ADOPTE_CACHE_DIR/go"
BIN="$GODIR/bin/composecheck"
STAMP="$GODIR/bin/.composecheck.version"

# The stamp ties the binary to the sources it was built from.
source_stamp() { cat "$SOURCE/go.mod" "$SOURCE/go.sum" "$SOURCE"/*.go | sha256sum | cut -d' ' -f1; }

install() {
  if [[ -x "$BIN" && -f "$STAMP" && "$(<"$STAMP")" == "$(source_stamp)" ]]; then
    log "current build already in $BIN"
    return 0
  fi
  require go
  local t0
  t0="$(now)"
  log "go build $SOURCE into $BIN"
  mkdir -p "$GODIR/bin"
  if ! (cd "$SOURCE" && GOPATH="$GODIR" GOMODCACHE="$GODIR/pkg/mod" \
      GOFLAGS="-modcacherw -buildvcs=false -mod=readonly" GOTOOLCHAIN=auto \
      go build -trimpath -o "$BIN" .) >"$GODIR/composecheck-build.log" 2>&1; then
    show_log "$GODIR/composecheck-build.log"
    die "go build failed"
  fi
  source_stamp >"$STAMP"
  log "built in $(elapsed "$t0")"
}

case "${1:-}" in
  install) install; echo "$BIN" ;;
  path) echo "$BIN" ;;
  run) shift; install; exec "$BIN" "$@" ;;
  *) echo "usage: $0 install | path | run [arguments]" >&2; exit 2 ;;
esac
