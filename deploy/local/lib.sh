# Helpers shared by deploy/local/*.sh (sourced, not run).
# shellcheck shell=bash

LOCAL_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$LOCAL_DIR/../.." && pwd)"
ADOPTE_CACHE_DIR="${ADOPTE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/adopte}"
ADOPTE_LOCAL_DIR="${ADOPTE_LOCAL_DIR:-$REPO_ROOT/var/local}"
[[ "$ADOPTE_LOCAL_DIR" == /* ]] || ADOPTE_LOCAL_DIR="$PWD/$ADOPTE_LOCAL_DIR"
[[ "$ADOPTE_CACHE_DIR" == /* ]] || ADOPTE_CACHE_DIR="$PWD/$ADOPTE_CACHE_DIR"

log() { printf '[%s] %s\n' "$SERVICE" "$*" >&2; }
die() { log "error: $*"; exit 1; }

require() {
  local cmd
  for cmd in "$@"; do
    command -v "$cmd" >/dev/null 2>&1 || die "'$cmd' not found on PATH (${INSTALL_HINT:-see deploy/local/README.md})"
  done
}

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start_detached PIDFILE LOGFILE COMMAND...: runs COMMAND in a session of its own (it outlives
# the shell, and a Ctrl-C in it, that started it) and writes its pid to PIDFILE. The process
# writes its own pid before it execs: setsid forks when its caller leads a process group (a
# shell with job control), and then $! would be setsid's, gone at once.
start_detached() {
  local pidfile="$1" logfile="$2" i
  shift 2
  rm -f "$pidfile"
  # shellcheck disable=SC2016  # $$ and "$@" belong to the inner shell
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" >"$logfile" 2>&1 </dev/null 9>&- &
  for ((i = 0; i < 100; i++)); do
    [[ -s "$pidfile" ]] && return 0
    sleep 0.05
  done
  die "$1 did not start"
}

# pid_alive PIDFILE PATTERN: the pid in PIDFILE is running and its command line
# contains PATTERN (guards against a pid recycled by an unrelated process).
pid_alive() {
  local pid
  [[ -s "$1" ]] || return 1
  pid="$(<"$1")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2"
}

# stop_pid PIDFILE PATTERN [TIMEOUT]: SIGTERM, wait, then SIGKILL.
stop_pid() {
  local pidfile="$1" pattern="$2" timeout="${3:-30}" pid i
  if ! pid_alive "$pidfile" "$pattern"; then
    rm -f "$pidfile"
    log "not running"
    return 0
  fi
  pid="$(<"$pidfile")"
  log "stopping (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < timeout * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "still running after ${timeout}s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
  fi
  rm -f "$pidfile"
  log "stopped"
}

# show_log FILE: print the end of a service log to stderr, to explain a failure.
show_log() {
  [[ -f "$1" ]] || return 0
  printf -- '----- last lines of %s -----\n' "$1" >&2
  tail -n "${2:-40}" "$1" >&2
  printf -- '-----\n' >&2
}

# take_lock FILE: serialise concurrent start/stop calls on the same state dir.
# Background servers must be started with 9>&- so that they do not keep the lock.
take_lock() {
  exec 9>"$1"
  if command -v flock >/dev/null 2>&1; then
    flock -w 300 9 || log "warning: could not lock $1 within 300s, going on"
  fi
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

# Kafka and stripe-mock are pid-file services: they stop and report alike.
stop_pid_service() {
  local grace="$1" wipe="${2:-}"
  [[ -d "$STATE" ]] || { log "not running"; return 0; }
  take_lock "$STATE/.lock"
  stop_pid "$PIDFILE" "$PID_PATTERN" "$grace"
  if [[ "$wipe" == "--wipe" ]]; then
    rm -rf "$STATE"
    log "wiped $STATE"
  fi
}

status_pid_service() {
  if pid_alive "$PIDFILE" "$PID_PATTERN"; then
    log "running (pid $(<"$PIDFILE")), state in $STATE"
    cat "$STATE/env" 2>/dev/null || address
  else
    log "not running"
    return 3
  fi
}

# Every script answers the same four subcommands.
dispatch() {
  case "${1:-}" in
    install) install ;;
    start) start ;;
    stop) shift; stop "$@" ;;
    status) status ;;
    *) echo "usage: $0 install | start | stop [--wipe] | status" >&2; exit 2 ;;
  esac
}
