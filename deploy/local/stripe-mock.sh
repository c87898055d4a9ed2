#!/usr/bin/env bash
# stripe-mock (Stripe's API mock server) for development and tests, without Docker.
# Usage: deploy/local/stripe-mock.sh install | start | stop [--wipe] | status
# Env: STRIPE_MOCK_PORT (12111; HTTPS on the next port), ADOPTE_LOCAL_DIR, XDG_CACHE_HOME,
#      STRIPE_MOCK_START_TIMEOUT (30 s).
set -euo pipefail

SERVICE=stripe-mock
INSTALL_HINT="install Go, e.g. apt-get install -y golang"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STRIPE_MOCK_VERSION=v0.197.0
GODIR="$ADOPTE_CACHE_DIR/go"
BIN="$GODIR/bin/stripe-mock"
STAMP="$GODIR/bin/.stripe-mock.version"
STATE="$ADOPTE_LOCAL_DIR/stripe-mock"
PORT="${STRIPE_MOCK_PORT:-12111}"
HTTPS_PORT=$((PORT + 1))
START_TIMEOUT="${STRIPE_MOCK_START_TIMEOUT:-30}"
PIDFILE="$STATE/stripe-mock.pid"
LOGFILE="$STATE/stripe-mock.log"
PID_PATTERN="$BIN -http-addr 127.0.0.1:"

address() { echo "STRIPE_API_BASE=http://127.0.0.1:$PORT"; }

install() {
  if [[ -x "$BIN" && -f "$STAMP" && "$(<"$STAMP")" == "$STRIPE_MOCK_VERSION" ]]; then
    log "$STRIPE_MOCK_VERSION already in $BIN"
    return 0
  fi
  require go
  local t0
  t0="$(now)"
  log "go install github.com/stripe/stripe-mock@$STRIPE_MOCK_VERSION into $GODIR/bin"
  mkdir -p "$GODIR/bin"
  # Module cache inside our cache folder, writable so that it can be deleted.
  if ! (cd "$GODIR" && GOPATH="$GODIR" GOMODCACHE="$GODIR/pkg/mod" GOBIN="$GODIR/bin" \
      GOFLAGS="-modcacherw -buildvcs=false" \
      go install "github.com/stripe/stripe-mock@$STRIPE_MOCK_VERSION") >"$GODIR/install.log" 2>&1; then
    show_log "$GODIR/install.log"
    die "go install failed"
  fi
  echo "$STRIPE_MOCK_VERSION" >"$STAMP"
  log "installed in $(elapsed "$t0")"
}

# One plain HTTP request through bash's /dev/tcp, so that no HTTP client is needed.
answers() {
  # shellcheck disable=SC2016  # expanded by the inner bash
  timeout 5 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "GET /v1/customers HTTP/1.0\r\nHost: 127.0.0.1\r\nAuthorization: Bearer sk_test_123\r\n\r\n" >&3
    IFS= read -r line <&3 && [[ "$line" == "HTTP/1."?" 200"* ]]
  ' _ "$PORT" 2>/dev/null
}

start() {
  mkdir -p "$STATE"
  take_lock "$STATE/.lock"
  if pid_alive "$PIDFILE" "$PID_PATTERN"; then
    log "already running (pid $(<"$PIDFILE"))"
    cat "$STATE/env" 2>/dev/null || address
    return 0
  fi
  install
  local p
  for p in "$PORT" "$HTTPS_PORT"; do
    port_open "$p" && die "port $p on 127.0.0.1 is already in use (set STRIPE_MOCK_PORT)"
  done
  local t0
  t0="$(now)"
  log "starting on 127.0.0.1:$PORT (HTTPS on 127.0.0.1:$HTTPS_PORT), log $LOGFILE"
  start_detached "$PIDFILE" "$LOGFILE" \
    "$BIN" -http-addr "127.0.0.1:$PORT" -https-addr "127.0.0.1:$HTTPS_PORT"
  local deadline=$((SECONDS + START_TIMEOUT))
  until answers; do
    if ! pid_alive "$PIDFILE" "$PID_PATTERN"; then
      show_log "$LOGFILE"
      rm -f "$PIDFILE"
      die "stripe-mock exited during startup"
    fi
    if ((SECONDS >= deadline)); then
      show_log "$LOGFILE"
      stop_pid "$PIDFILE" "$PID_PATTERN" 5
      die "no answer on /v1/customers after ${START_TIMEOUT}s"
    fi
    sleep 0.2
  done
  log "started (pid $(<"$PIDFILE")) in $(elapsed "$t0")"
  address | tee "$STATE/env"
}

stop() { stop_pid_service 10 "${1:-}"; }

status() { status_pid_service; }

dispatch "$@"
