#!/usr/bin/env bash
# Single-node Apache Kafka (KRaft, no ZooKeeper) for development and tests, without Docker.
# Usage: deploy/local/kafka.sh install | start | stop [--wipe] | status
# Env: KAFKA_PORT (19092), KAFKA_CONTROLLER_PORT (19093), ADOPTE_LOCAL_DIR, XDG_CACHE_HOME,
#      KAFKA_START_TIMEOUT (90 s).
set -euo pipefail

SERVICE=kafka
INSTALL_HINT="install OpenJDK 17 and Maven, e.g. apt-get install -y openjdk-17-jdk-headless maven"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KAFKA_VERSION=3.9.1
POM="$LOCAL_DIR/kafka/pom.xml"
LIBS="$ADOPTE_CACHE_DIR/kafka-$KAFKA_VERSION/libs"
STATE="$ADOPTE_LOCAL_DIR/kafka"
PORT="${KAFKA_PORT:-19092}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-19093}"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
PIDFILE="$STATE/kafka.pid"
LOGFILE="$STATE/kafka.log"
PID_PATTERN="kafka.Kafka $STATE/server.properties"

address() { echo "KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$PORT"; }

pom_stamp() { sha256sum "$POM" | cut -d' ' -f1; }

install() {
  # The stamp ties the cached jars to the pom that listed them.
  if [[ -f "$LIBS/.installed" && "$(<"$LIBS/.installed")" == "$(pom_stamp)" ]]; then
    log "jars already in $LIBS"
    return 0
  fi
  require java mvn
  local t0 tmp
  t0="$(now)"
  log "copying Kafka $KAFKA_VERSION jars from Maven Central into $LIBS"
  mkdir -p "$(dirname "$LIBS")"
  tmp="$(mktemp -d "$LIBS.tmp.XXXXXX")"
  if ! mvn -B -q -f "$POM" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$tmp" >"$tmp.mvn.log" 2>&1; then
    show_log "$tmp.mvn.log"
    rm -rf "$tmp" "$tmp.mvn.log"
    die "mvn dependency:copy-dependencies failed"
  fi
  rm -f "$tmp.mvn.log"
  ls "$tmp"/kafka_2.13-"$KAFKA_VERSION".jar >/dev/null || die "kafka_2.13-$KAFKA_VERSION.jar missing after copy"
  pom_stamp >"$tmp/.installed"
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
  log "installed $(find "$LIBS" -name '*.jar' | wc -l) jars in $(elapsed "$t0")"
}

write_config() {
  cat >"$STATE/server.properties" <<EOF
# Written by deploy/local/kafka.sh; rewritten at each start.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$STATE/data
num.partitions=3
auto.create.topics.enable=true
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
  cat >"$STATE/log4j.properties" <<'EOF'
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.org.apache.kafka.raft=WARN
log4j.logger.kafka.log.LogCleaner=WARN
EOF
}

# 16 random bytes, URL-safe base64 without padding; Kafka's own generator also
# avoids a leading '-', which its command line would take for an option.
cluster_id() {
  local id
  while :; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    [[ "$id" != -* ]] && break
  done
  echo "$id"
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
  require java
  local p
  for p in "$PORT" "$CONTROLLER_PORT"; do
    port_open "$p" && die "port $p on 127.0.0.1 is already in use (set KAFKA_PORT / KAFKA_CONTROLLER_PORT)"
  done
  write_config
  local java_opts=(-Xms256m -Xmx512m -XX:+UseG1GC -Djava.awt.headless=true
    "-Dlog4j.configuration=file:$STATE/log4j.properties")
  if [[ ! -f "$STATE/data/meta.properties" ]]; then
    log "formatting storage in $STATE/data"
    if ! java "${java_opts[@]}" -cp "$LIBS/*" kafka.tools.StorageTool format \
        -t "$(cluster_id)" -c "$STATE/server.properties" >"$STATE/format.log" 2>&1; then
      show_log "$STATE/format.log"
      die "storage format failed"
    fi
  fi
  local t0
  t0="$(now)"
  log "starting on 127.0.0.1:$PORT (controller 127.0.0.1:$CONTROLLER_PORT), log $LOGFILE"
  start_detached "$PIDFILE" "$LOGFILE" \
    java "${java_opts[@]}" -cp "$LIBS/*" kafka.Kafka "$STATE/server.properties"
  local deadline=$((SECONDS + START_TIMEOUT))
  until grep -q "Kafka Server started" "$LOGFILE" 2>/dev/null; do
    if ! pid_alive "$PIDFILE" "$PID_PATTERN"; then
      show_log "$LOGFILE"
      rm -f "$PIDFILE"
      die "the broker exited during startup"
    fi
    if ((SECONDS >= deadline)); then
      show_log "$LOGFILE"
      stop_pid "$PIDFILE" "$PID_PATTERN" 10
      die "not started after ${START_TIMEOUT}s"
    fi
    sleep 0.3
  done
  log "started (pid $(<"$PIDFILE")) in $(elapsed "$t0")"
  address | tee "$STATE/env"
}

stop() { stop_pid_service 30 "${1:-}"; }

status() { status_pid_service; }

dispatch "$@"
