#!/usr/bin/env bash
# kustomize, to render deploy/kubernetes without a cluster (CI and tests).
# Usage: deploy/tools/kustomize.sh install | path
# Env: ADOPTE_CACHE_DIR or XDG_CACHE_HOME (the binary goes to <cache>/go/bin).
set -euo pipefail

SERVICE=kustomize
INSTALL_HINT="install Go, e.g. apt-get install -y golang-go"
# shellcheck source-path=SCRIPTDIR source=../local/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../local/lib.sh"

KUSTOMIZE_VERSION=v5.5.0
GODIR="$ADOPTE_CACHE_DIR/go"
BIN="$GODIR/bin/kustomize"
STAMP="$GODIR/bin/.kustomize.version"

install() {
  if [[ -x "$BIN" && -f "$STAMP" && "$(<"$STAMP")" == "$KUSTOMIZE_VERSION" ]]; then
    log "$KUSTOMIZE_VERSION already in $BIN"
    return 0
  fi
  require go
  local t0
  t0="$(now)"
  log "go install sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION into $GODIR/bin"
  mkdir -p "$GODIR/bin"
  # GOTOOLCHAIN=auto: an older distribution Go fetches the toolchain the module asks for.
  if ! (cd "$GODIR" && GOPATH="$GODIR" GOMODCACHE="$GODIR/pkg/mod" GOBIN="$GODIR/bin" \
      GOFLAGS="-modcacherw -buildvcs=false" GOTOOLCHAIN=auto \
      go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION") >"$GODIR/kustomize-install.log" 2>&1; then
    show_log "$GODIR/kustomize-install.log"
    die "go install failed"
  fi
  echo "$KUSTOMIZE_VERSION" >"$STAMP"
  log "installed in $(elapsed "$t0")"
}

case "${1:-}" in
  install) install; echo "$BIN" ;;
  path) echo "$BIN" ;;
  *) echo "usage: $0 install | path" >&2; exit 2 ;;
esac
