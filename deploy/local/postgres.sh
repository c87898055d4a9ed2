#!/usr/bin/env bash
# Throwaway PostgreSQL cluster for development and tests, without Docker.
# Usage: deploy/local/postgres.sh install | start | stop [--wipe] | status
# Env: PGPORT_LOCAL (15432), ADOPTE_LOCAL_DIR, PG_START_TIMEOUT (60 s).
set -euo pipefail

SERVICE=postgres
INSTALL_HINT="run deploy/local/postgres.sh install (apt-get install -y postgresql)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PATH="$PATH:/usr/sbin:/sbin"  # runuser and useradd, for non-login root shells
PORT="${PGPORT_LOCAL:-15432}"
START_TIMEOUT="${PG_START_TIMEOUT:-60}"
STATE="$ADOPTE_LOCAL_DIR/postgres"

address() { echo "ADOPTE_TEST_DATABASE_URL=postgresql+asyncpg://adopte:adopte@127.0.0.1:$PORT/adopte"; }

# Newest server binaries: Debian keeps them in /usr/lib/postgresql/<ver>/bin.
find_bindir() {
  local d
  d="$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/initdb' 2>/dev/null |
    sort -V | tail -n 1)"
  if [[ -n "$d" ]]; then
    dirname "$d"
  elif command -v initdb >/dev/null 2>&1; then
    dirname "$(readlink -f "$(command -v initdb)")"
  fi
}

install() {
  if [[ -n "$(find_bindir)" ]]; then
    log "server binaries found in $(find_bindir)"
    return 0
  fi
  local sudo=()
  if [[ $EUID -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || die "PostgreSQL is not installed and you are not root: install the 'postgresql' package"
    sudo=(sudo)
  fi
  log "installing PostgreSQL with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get install -y -q postgresql >/dev/null ||
    { "${sudo[@]}" apt-get update -q >/dev/null && "${sudo[@]}" apt-get install -y -q postgresql >/dev/null; } ||
    die "apt-get install postgresql failed"
  [[ -n "$(find_bindir)" ]] || die "initdb still not found after installing postgresql"
}

# initdb and postgres refuse to run as root: root runs them as the postgres user.
if [[ $EUID -eq 0 ]]; then
  as_pg() { (cd / && runuser -u postgres -- "$@"); }
else
  as_pg() { "$@"; }
fi

# The postgres user must be able to reach the state dir; a repo under a private
# home (e.g. /root) is not, so fall back to a per-repo folder in /var/tmp.
resolve_state() {
  mkdir -p "$STATE"
  if [[ $EUID -eq 0 ]] && ! as_pg test -x "$STATE"; then
    STATE="/var/tmp/adopte-postgres-$(printf '%s' "$STATE" | sha256sum | cut -c1-12)"
    mkdir -p "$STATE"
  fi
  DATA="$STATE/data"
  SOCKDIR="$STATE/run"
  LOGFILE="$STATE/postgres.log"
}

pg() { as_pg "$BINDIR/$1" "${@:2}"; }

running() { [[ -f "$DATA/PG_VERSION" ]] && pg pg_ctl -D "$DATA" status >/dev/null 2>&1; }

write_config() {
  # Rewritten at each start so that PGPORT_LOCAL can change between runs.
  as_pg tee "$DATA/adopte.conf" >/dev/null <<EOF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$SOCKDIR'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
logging_collector = off
EOF
  as_pg tee "$DATA/pg_hba.conf" >/dev/null <<'EOF'
local all all               trust
host  all all 127.0.0.1/32  trust
EOF
}

psql_admin() {
  pg psql -X -q -v ON_ERROR_STOP=1 -h "$SOCKDIR" -p "$PORT" -U postgres -d postgres
}

start() {
  BINDIR="$(find_bindir)"
  [[ -n "$BINDIR" ]] || { install; BINDIR="$(find_bindir)"; }
  if [[ $EUID -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  fi
  resolve_state
  take_lock "$STATE/.lock"
  if running; then
    log "already running, data in $DATA"
    cat "$STATE/env" 2>/dev/null || address
    return 0
  fi
  port_open "$PORT" && die "port $PORT on 127.0.0.1 is already in use (set PGPORT_LOCAL)"
  [[ $EUID -eq 0 ]] && chown postgres: "$STATE"
  as_pg mkdir -p "$SOCKDIR"
  if [[ ! -f "$DATA/PG_VERSION" ]]; then
    log "initdb in $DATA"
    if ! pg initdb -D "$DATA" -U postgres --auth=trust --no-locale -E UTF8 \
        --no-sync --no-instructions >"$STATE/initdb.log" 2>&1; then
      show_log "$STATE/initdb.log"
      die "initdb failed"
    fi
    echo "include_if_exists = 'adopte.conf'" | as_pg tee -a "$DATA/postgresql.conf" >/dev/null
  fi
  write_config
  local t0
  t0="$(now)"
  log "starting on 127.0.0.1:$PORT, log $LOGFILE"
  [[ $EUID -eq 0 ]] && { touch "$LOGFILE"; chown postgres: "$LOGFILE"; }
  if ! pg pg_ctl -D "$DATA" -l "$LOGFILE" -w -t "$START_TIMEOUT" start >/dev/null 9>&-; then
    show_log "$LOGFILE"
    die "pg_ctl start failed"
  fi
  pg pg_isready -q -h 127.0.0.1 -p "$PORT" -t "$START_TIMEOUT" || { show_log "$LOGFILE"; die "pg_isready failed"; }
  psql_admin <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'adopte') THEN
    CREATE ROLE adopte LOGIN SUPERUSER PASSWORD 'adopte';
  END IF;
END $$;
SELECT 'CREATE DATABASE adopte OWNER adopte'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'adopte') \gexec
SQL
  log "started in $(elapsed "$t0")"
  address | tee "$STATE/env"
}

stop() {
  BINDIR="$(find_bindir)"
  [[ -n "$BINDIR" ]] || { log "not installed"; return 0; }
  resolve_state
  take_lock "$STATE/.lock"
  if running; then
    log "stopping"
    pg pg_ctl -D "$DATA" -m fast -w -t 60 stop >/dev/null || { show_log "$LOGFILE"; die "pg_ctl stop failed"; }
    log "stopped"
  else
    log "not running"
  fi
  if [[ "${1:-}" == "--wipe" ]]; then
    rm -rf "$STATE"
    log "wiped $STATE"
  fi
}

status() {
  BINDIR="$(find_bindir)"
  [[ -n "$BINDIR" ]] || { log "not installed"; return 3; }
  resolve_state
  if running; then
    log "running, data in $DATA"
    cat "$STATE/env" 2>/dev/null || address
  else
    log "not running"
    return 3
  fi
}

dispatch "$@"
