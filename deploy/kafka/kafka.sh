#!/usr/bin/env bash
# Local single-node Apache Kafka (KRaft, broker+controller in one JVM) for SLA Timer
# development and integration tests. No Docker: the broker runs from Apache Kafka's
# own jars, resolved from Maven Central by deploy/kafka/pom.xml.
#
# Usage: deploy/kafka/kafka.sh <command> [args]
#   fetch                        resolve the jars into .local/kafka/libs (no-op when present)
#   up                           fetch, format storage once, start the broker, wait until it answers
#   down                         stop the broker (SIGTERM, then SIGKILL after a timeout)
#   status                       exit 0 if the broker runs and answers Kafka requests, 1 otherwise
#   create-topics NAME:PARTS...  create topics (replication factor 1) unless they exist
#   reset                        down, then delete the data dir (keeps the jars)
#
# Environment:
#   KAFKA_PORT             client listener port               (default 9092)
#   KAFKA_CONTROLLER_PORT  KRaft controller listener port     (default 9093)
#   KAFKA_DATA_DIR         data, config, pid and logs         (default <repo>/.local/kafka/data)
#   KAFKA_VERSION          Kafka release to resolve           (default: the one in pom.xml)
#   KAFKA_HEAP_OPTS        broker heap                        (default "-Xms256m -Xmx1g")
#   KAFKA_START_TIMEOUT    seconds `up` waits for the broker  (default 90)
#   KAFKA_STOP_TIMEOUT     seconds `down` waits before SIGKILL (default 30)
#   JAVA                   java binary                        (default: java on PATH)
#
# Everything listens on and advertises 127.0.0.1 only.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"

KAFKA_HOME="$REPO_ROOT/.local/kafka"
LIBS_DIR="$KAFKA_HOME/libs"
POM="$SCRIPT_DIR/pom.xml"
CONFIG_TEMPLATE="$SCRIPT_DIR/server.properties.in"
LOG4J_CONFIG="$SCRIPT_DIR/log4j2.yaml"

KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_DATA_DIR="${KAFKA_DATA_DIR:-$KAFKA_HOME/data}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx1g}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
KAFKA_STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
JAVA="${JAVA:-java}"

BOOTSTRAP="127.0.0.1:$KAFKA_PORT"
CONFIG_FILE="$KAFKA_DATA_DIR/server.properties"
LOG_DIRS="$KAFKA_DATA_DIR/kraft-combined-logs"
LOGS_DIR="$KAFKA_DATA_DIR/logs"
PID_FILE="$KAFKA_DATA_DIR/broker.pid"
OUT_FILE="$LOGS_DIR/kafka.out"
CLUSTER_ID_FILE="$KAFKA_DATA_DIR/cluster.id"

# Same GC settings as Kafka's bin/kafka-run-class.sh, with a smaller heap.
BROKER_JVM_OPTS=(
  -server
  -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35
  -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15
  -XX:+ExitOnOutOfMemoryError
  -Djava.awt.headless=true
)
# Short-lived CLIs: small heap, no C2 compiler -> noticeably faster start.
TOOL_JVM_OPTS=(
  -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1
  -Djava.awt.headless=true
)

log() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
  sed -n '6,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
}

validate_port() {
  [[ "$2" =~ ^[0-9]+$ ]] && (( $2 > 0 && $2 < 65536 )) || die "$1 must be a TCP port, got '$2'"
}
validate_port KAFKA_PORT "$KAFKA_PORT"
validate_port KAFKA_CONTROLLER_PORT "$KAFKA_CONTROLLER_PORT"
[[ "$KAFKA_PORT" != "$KAFKA_CONTROLLER_PORT" ]] || die "KAFKA_PORT and KAFKA_CONTROLLER_PORT must differ"

# Serialise state-changing commands (two test runners calling `up` at once, ...).
take_lock() {
  mkdir -p "$KAFKA_HOME"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$KAFKA_HOME/.kafka.sh.lock"
    flock -w 300 9 || die "timed out waiting for another kafka.sh to finish"
  fi
}

# ---------------------------------------------------------------- fetch

pom_version() {
  sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM" | head -n1
}

wanted_version() { printf '%s' "${KAFKA_VERSION:-$(pom_version)}"; }

libs_ready() {
  [[ -f "$LIBS_DIR/.complete" ]] && [[ "$(cat "$LIBS_DIR/.complete")" == "$(wanted_version)" ]]
}

cmd_fetch() {
  local version tmp
  version="$(wanted_version)"
  [[ -n "$version" ]] || die "cannot determine the Kafka version (pom.xml or KAFKA_VERSION)"
  if libs_ready; then
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || die "mvn (Apache Maven) is required to fetch the Kafka jars"
  mkdir -p "$KAFKA_HOME"
  tmp="$KAFKA_HOME/libs.tmp.$$"
  rm -rf "$tmp"
  log "resolving Apache Kafka $version jars from Maven Central into $LIBS_DIR ..."
  if ! mvn -q -B -f "$POM" \
      -Dkafka.version="$version" \
      dependency:copy-dependencies \
      -DincludeScope=runtime \
      -DoutputDirectory="$tmp" >"$KAFKA_HOME/fetch.log" 2>&1; then
    tail -n 40 "$KAFKA_HOME/fetch.log" >&2 || true
    rm -rf "$tmp"
    die "could not resolve Kafka $version jars (full output: $KAFKA_HOME/fetch.log)"
  fi
  compgen -G "$tmp/kafka_2.13-*.jar" >/dev/null || { rm -rf "$tmp"; die "kafka_2.13 jar missing after fetch"; }
  printf '%s' "$version" >"$tmp/.complete"
  rm -rf "$LIBS_DIR"
  mv "$tmp" "$LIBS_DIR"
  log "fetched $(find "$LIBS_DIR" -name '*.jar' | wc -l) jars ($(du -sh "$LIBS_DIR" | cut -f1))"
}

# ---------------------------------------------------------------- helpers

run_tool() { # run_tool MAIN_CLASS ARGS...  (a Kafka CLI from the fetched jars)
  local main="$1"; shift
  mkdir -p "$LOGS_DIR"
  "$JAVA" "${TOOL_JVM_OPTS[@]}" \
    -Dlog4j2.configurationFile="$LOG4J_CONFIG" \
    -Dkafka.logs.dir="$LOGS_DIR" -Dkafka.log.file=tools.log -Dkafka.root.level=WARN \
    -cp "$LIBS_DIR/*" "$main" "$@"
}

broker_pid() { # prints the pid of *our* broker if it is alive
  local pid
  [[ -f "$PID_FILE" ]] || return 1
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # Guard against a recycled pid: it must be a kafka.Kafka JVM on our config.
  if [[ -r "/proc/$pid/cmdline" ]]; then
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -F "kafka.Kafka $CONFIG_FILE" >/dev/null || return 1  # not -q: pipefail + SIGPIPE
  fi
  printf '%s' "$pid"
}

# True when something on 127.0.0.1:$KAFKA_PORT answers a Kafka ApiVersions request
# (v0, correlation id 7) with error_code 0. The broker only opens its client
# listener once it has joined the KRaft quorum and been unfenced, so this means
# "ready for clients", not just "port open". Pure bash: no JVM start per probe.
kafka_answers() {
  timeout 3 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    # size=14 | api_key=18 (ApiVersions) | api_version=0 | correlation_id=7 | client_id="prob"
    printf "\x00\x00\x00\x0e\x00\x12\x00\x00\x00\x00\x00\x07\x00\x04prob" >&3
    resp="$(head -c 10 <&3 | od -An -tx1 | tr -d " \n")"
    exec 3>&-
    # bytes 4..9: correlation_id 00000007, error_code 0000
    [[ "${resp:8:12}" == "000000070000" ]]
  ' _ "$KAFKA_PORT" 2>/dev/null
}

port_in_use() { # port_in_use PORT: something accepts TCP connections on 127.0.0.1:PORT
  timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null
}

render_config() {
  mkdir -p "$KAFKA_DATA_DIR" "$LOGS_DIR"
  sed -e "s|@KAFKA_PORT@|$KAFKA_PORT|g" \
      -e "s|@KAFKA_CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
      -e "s|@KAFKA_DATA_DIR@|$KAFKA_DATA_DIR|g" \
      "$CONFIG_TEMPLATE" >"$CONFIG_FILE.tmp"
  mv "$CONFIG_FILE.tmp" "$CONFIG_FILE"
}

new_cluster_id() { # Kafka Uuid: 16 random bytes, URL-safe base64 without padding, not starting with '-'
  local id
  while :; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    [[ "${#id}" == 22 && "${id:0:1}" != "-" ]] && { printf '%s' "$id"; return; }
  done
}

format_storage() {
  if [[ -f "$LOG_DIRS/meta.properties" ]]; then
    return 0
  fi
  if [[ ! -s "$CLUSTER_ID_FILE" ]]; then
    new_cluster_id >"$CLUSTER_ID_FILE"
  fi
  log "formatting KRaft storage in $LOG_DIRS (cluster id $(cat "$CLUSTER_ID_FILE"))"
  local out
  if ! out="$(run_tool kafka.tools.StorageTool format --ignore-formatted \
      --cluster-id "$(cat "$CLUSTER_ID_FILE")" --config "$CONFIG_FILE" 2>&1)"; then
    printf '%s\n' "$out" >&2
    die "formatting the storage failed"
  fi
}

tail_broker_log() {
  local f cause
  cause="$(grep -hE '^(Caused by: |[^ ]*Exception: )|\] ERROR ' "$OUT_FILE" "$LOGS_DIR/server.log" 2>/dev/null | tail -n 1 || true)"
  for f in "$OUT_FILE" "$LOGS_DIR/server.log"; do
    if [[ -s "$f" ]]; then
      log "---- last lines of $f ----"
      tail -n 30 "$f" >&2
    fi
  done
  [[ -z "$cause" ]] || log "last error: $cause"
}

wait_until_ready() { # wait_until_ready PID
  local pid="$1" deadline=$((SECONDS + KAFKA_START_TIMEOUT))
  while (( SECONDS < deadline )); do
    if kafka_answers; then
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$PID_FILE"
      tail_broker_log
      die "the Kafka broker exited during startup (see $OUT_FILE and $LOGS_DIR/server.log)"
    fi
    sleep 0.5
  done
  tail_broker_log
  die "the Kafka broker (pid $pid) did not answer on $BOOTSTRAP within ${KAFKA_START_TIMEOUT}s; it is left running, stop it with: $0 down"
}

# ---------------------------------------------------------------- commands

cmd_up() {
  local pid start=$SECONDS
  take_lock
  if pid="$(broker_pid)"; then
    if kafka_answers; then
      log "Kafka broker already running (pid $pid) on $BOOTSTRAP"
      return 0
    fi
    log "Kafka broker (pid $pid) is running but not answering yet; waiting ..."
    wait_until_ready "$pid"
    log "Kafka broker ready on $BOOTSTRAP (pid $pid)"
    return 0
  fi
  rm -f "$PID_FILE"
  if kafka_answers; then
    log "a Kafka broker not started by this script already answers on $BOOTSTRAP; using it"
    return 0
  fi
  local p
  for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
    if port_in_use "$p"; then
      die "127.0.0.1:$p is already in use by another process (not a Kafka broker answering on $BOOTSTRAP); set KAFKA_PORT / KAFKA_CONTROLLER_PORT"
    fi
  done
  command -v "$JAVA" >/dev/null 2>&1 || die "java (17+) is required"
  cmd_fetch
  render_config
  format_storage

  log "starting Kafka $(cat "$LIBS_DIR/.complete") on $BOOTSTRAP (controller 127.0.0.1:$KAFKA_CONTROLLER_PORT, data $KAFKA_DATA_DIR)"
  # shellcheck disable=SC2086  # KAFKA_HEAP_OPTS is a list of flags
  nohup "$JAVA" $KAFKA_HEAP_OPTS "${BROKER_JVM_OPTS[@]}" \
    -Dlog4j2.configurationFile="$LOG4J_CONFIG" \
    -Dkafka.logs.dir="$LOGS_DIR" -Dkafka.log.file=server.log -Dkafka.root.level=INFO \
    -cp "$LIBS_DIR/*" kafka.Kafka "$CONFIG_FILE" \
    >>"$OUT_FILE" 2>&1 </dev/null 9>&- &
  pid=$!
  printf '%s\n' "$pid" >"$PID_FILE"
  wait_until_ready "$pid"
  log "Kafka broker ready on $BOOTSTRAP (pid $pid, $((SECONDS - start))s)"
}

cmd_down() {
  local pid deadline
  take_lock
  if ! pid="$(broker_pid)"; then
    rm -f "$PID_FILE"
    log "Kafka broker is not running"
    return 0
  fi
  log "stopping Kafka broker (pid $pid) ..."
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + KAFKA_STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "broker did not stop within ${KAFKA_STOP_TIMEOUT}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$PID_FILE"
  log "Kafka broker stopped"
}

cmd_status() {
  local pid
  if pid="$(broker_pid)"; then
    if kafka_answers; then
      echo "running (pid $pid) on $BOOTSTRAP"
      return 0
    fi
    echo "starting or unresponsive (pid $pid) on $BOOTSTRAP"
    return 1
  fi
  if kafka_answers; then
    echo "running on $BOOTSTRAP (not started by this script)"
    return 0
  fi
  echo "not running"
  return 1
}

cmd_create_topics() {
  (( $# > 0 )) || die "usage: $0 create-topics NAME:PARTITIONS [NAME:PARTITIONS ...]"
  local spec name parts
  for spec in "$@"; do
    [[ "$spec" =~ ^([A-Za-z0-9._-]+):([0-9]+)$ ]] || die "bad topic spec '$spec' (want NAME:PARTITIONS)"
  done
  libs_ready || cmd_fetch
  kafka_answers || die "no Kafka broker answers on $BOOTSTRAP (run: $0 up)"
  for spec in "$@"; do
    name="${spec%:*}"
    parts="${spec##*:}"
    run_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" \
      --create --if-not-exists --topic "$name" \
      --partitions "$parts" --replication-factor 1 >/dev/null \
      || die "creating topic $name failed"
    log "topic $name ready ($parts partitions requested, replication factor 1)"
  done
}

cmd_reset() {
  cmd_down
  if [[ -d "$KAFKA_DATA_DIR" ]]; then
    log "deleting $KAFKA_DATA_DIR"
    rm -rf -- "$KAFKA_DATA_DIR"
  fi
}

main() {
  local cmd="${1:-}"
  (( $# > 0 )) && shift
  case "$cmd" in
    fetch)         take_lock; cmd_fetch; log "jars ready in $LIBS_DIR (Kafka $(cat "$LIBS_DIR/.complete"))" ;;
    up|start)      cmd_up ;;
    down|stop)     cmd_down ;;
    status)        cmd_status ;;
    create-topics) cmd_create_topics "$@" ;;
    reset)         cmd_reset ;;
    -h|--help|help) usage ;;
    *)             usage; exit 2 ;;
  esac
}

main "$@"
