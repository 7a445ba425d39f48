#!/usr/bin/env bash
# Local single-node Apache Kafka (KRaft, broker+controller in one JVM) for SLA Timer
# development and integration tests. No Docker: the broker runs from Apache Kafka's
# own jars, resolved from Maven Central by deploy/kafka/pom.xml.
#
# Two independent instances: the plain broker (`up`, PLAINTEXT on 9092) and a secure one
# (`up-secure`: TLS, SASL, mutual TLS and ACLs, its own ports and data dir).
#
# Usage: deploy/kafka/kafka.sh <command> [args]
#   fetch                        resolve the jars into .local/kafka/libs (no-op when present)
#   up                           fetch, format storage once, start the broker, wait until it answers
#   down                         stop the plain broker AND the secure one (SIGTERM, then SIGKILL)
#   status                       exit 0 if the broker runs and answers Kafka requests, 1 otherwise
#   create-topics NAME:PARTS...  create topics (replication factor 1) unless they exist
#   reset                        stop the plain broker, then delete its data dir (keeps the jars)
#   up-secure                    start the secure broker (makes its TLS files, users and default
#                                ACLs on first use), write .local/kafka/secure.env and secure-mtls.env
#   down-secure                  stop the secure broker only
#   status-secure                like status, for the secure broker
#   reset-secure                 down-secure, then delete its data dir (TLS files, users) and env files
#   add-user USER PASSWORD       secure broker: create/replace SCRAM-SHA-256 and -512 credentials
#   grant-worker USER APP_ID OUTPUT_PREFIX INPUT_TOPICS
#                                secure broker: allow USER (or User:...) what an SLA Timer worker with
#                                that app id, output prefix ('' for none) and comma-separated input
#                                topics needs (the list: worker_acls below)
#
# Environment (plain broker):
#   KAFKA_PORT             client listener port               (default 9092)
#   KAFKA_CONTROLLER_PORT  KRaft controller listener port     (default 9093)
#   KAFKA_DATA_DIR         data, config, pid and logs         (default <repo>/.local/kafka/data)
#   KAFKA_HEAP_OPTS        broker heap                        (default "-Xms256m -Xmx1g")
# Environment (secure broker):
#   KAFKA_SECURE_SASL_PORT        SASL_SSL: SCRAM-SHA-256/512, PLAIN      (default 9194)
#   KAFKA_SECURE_MTLS_PORT        SSL, client certificate required        (default 9195)
#   KAFKA_SECURE_INTERNAL_PORT    PLAINTEXT, inter-broker + admin tools   (default 9196)
#   KAFKA_SECURE_CONTROLLER_PORT  KRaft controller listener               (default 9197)
#   KAFKA_SECURE_DATA_DIR         data, tls/, credentials, pid, logs      (default <repo>/.local/kafka/secure)
#   KAFKA_SECURE_HEAP_OPTS        broker heap                             (default "-Xms128m -Xmx512m")
# Environment (both):
#   KAFKA_VERSION          Kafka release to resolve           (default: the one in pom.xml)
#   KAFKA_START_TIMEOUT    seconds `up` waits for the broker  (default 90)
#   KAFKA_STOP_TIMEOUT     seconds `down` waits before SIGKILL (default 30)
#   JAVA                   java binary                        (default: java on PATH)
#
# Everything listens on and advertises 127.0.0.1 only. The secure broker's INTERNAL listener
# is PLAINTEXT and its principal (User:ANONYMOUS) is a super user: anything on this machine
# that can reach 127.0.0.1:9196 administers that broker. Fine for a dev/test broker only.
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

KAFKA_SECURE_SASL_PORT="${KAFKA_SECURE_SASL_PORT:-9194}"
KAFKA_SECURE_MTLS_PORT="${KAFKA_SECURE_MTLS_PORT:-9195}"
KAFKA_SECURE_INTERNAL_PORT="${KAFKA_SECURE_INTERNAL_PORT:-9196}"
KAFKA_SECURE_CONTROLLER_PORT="${KAFKA_SECURE_CONTROLLER_PORT:-9197}"
KAFKA_SECURE_DATA_DIR="${KAFKA_SECURE_DATA_DIR:-$KAFKA_HOME/secure}"
KAFKA_SECURE_HEAP_OPTS="${KAFKA_SECURE_HEAP_OPTS:--Xms128m -Xmx512m}"
SECURE_ENV_FILE="$KAFKA_HOME/secure.env"
SECURE_MTLS_ENV_FILE="$KAFKA_HOME/secure-mtls.env"
# The worker whose ACLs `up-secure` grants to User:sla-timer (SASL user and mTLS client).
DEFAULT_WORKER_USER="sla-timer"
DEFAULT_WORKER_APP_ID="sla-timer"
DEFAULT_WORKER_PREFIX=""
DEFAULT_WORKER_INPUTS="ticket-events"

# The instance the commands act on: the plain broker unless use_secure_instance ran.
use_plain_instance() {
  INSTANCE="Kafka broker"
  DATA_DIR="$KAFKA_DATA_DIR"
  CONFIG_TEMPLATE="$SCRIPT_DIR/server.properties.in"
  PROBE_PORT="$KAFKA_PORT"                       # kafka_answers probes this PLAINTEXT port
  INSTANCE_PORTS=("$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT")
  PORT_VARS="KAFKA_PORT / KAFKA_CONTROLLER_PORT"
  HEAP_OPTS="$KAFKA_HEAP_OPTS"
  LOCK_FILE="$KAFKA_HOME/.kafka.sh.lock"
  FOREIGN_BROKER_OK=1                            # a broker we did not start may serve `up`
  RENDER_SED=(
    -e "s|@KAFKA_PORT@|$KAFKA_PORT|g"
    -e "s|@KAFKA_CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g"
    -e "s|@KAFKA_DATA_DIR@|$KAFKA_DATA_DIR|g"
  )
  FORMAT_ARGS=()
  set_instance_paths
}

use_secure_instance() {
  INSTANCE="secure Kafka broker"
  DATA_DIR="$KAFKA_SECURE_DATA_DIR"
  CONFIG_TEMPLATE="$SCRIPT_DIR/server-secure.properties.in"
  PROBE_PORT="$KAFKA_SECURE_INTERNAL_PORT"
  INSTANCE_PORTS=("$KAFKA_SECURE_SASL_PORT" "$KAFKA_SECURE_MTLS_PORT" "$KAFKA_SECURE_INTERNAL_PORT" "$KAFKA_SECURE_CONTROLLER_PORT")
  PORT_VARS="KAFKA_SECURE_SASL_PORT / _MTLS_PORT / _INTERNAL_PORT / _CONTROLLER_PORT"
  HEAP_OPTS="$KAFKA_SECURE_HEAP_OPTS"
  LOCK_FILE="$KAFKA_HOME/.kafka-secure.sh.lock"
  FOREIGN_BROKER_OK=0                            # its credentials would not be ours
  RENDER_SED=()                                  # set by prepare_secure (needs the passwords)
  FORMAT_ARGS=()                                 # likewise (SCRAM users at format time)
  set_instance_paths
  TLS_DIR="$DATA_DIR/tls"
  CREDENTIALS_FILE="$DATA_DIR/credentials"
}

set_instance_paths() {
  BOOTSTRAP="127.0.0.1:$PROBE_PORT"
  CONFIG_FILE="$DATA_DIR/server.properties"
  LOG_DIRS="$DATA_DIR/kraft-combined-logs"
  LOGS_DIR="$DATA_DIR/logs"
  PID_FILE="$DATA_DIR/broker.pid"
  OUT_FILE="$LOGS_DIR/kafka.out"
  CLUSTER_ID_FILE="$DATA_DIR/cluster.id"
}

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
  sed -n '/^# Usage:/,/^# Environment (plain/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2
}

validate_port() {
  [[ "$2" =~ ^[0-9]+$ ]] && (( $2 > 0 && $2 < 65536 )) || die "$1 must be a TCP port, got '$2'"
}
validate_port KAFKA_PORT "$KAFKA_PORT"
validate_port KAFKA_CONTROLLER_PORT "$KAFKA_CONTROLLER_PORT"
[[ "$KAFKA_PORT" != "$KAFKA_CONTROLLER_PORT" ]] || die "KAFKA_PORT and KAFKA_CONTROLLER_PORT must differ"
validate_port KAFKA_SECURE_SASL_PORT "$KAFKA_SECURE_SASL_PORT"
validate_port KAFKA_SECURE_MTLS_PORT "$KAFKA_SECURE_MTLS_PORT"
validate_port KAFKA_SECURE_INTERNAL_PORT "$KAFKA_SECURE_INTERNAL_PORT"
validate_port KAFKA_SECURE_CONTROLLER_PORT "$KAFKA_SECURE_CONTROLLER_PORT"
[[ "$(printf '%s\n' "$KAFKA_SECURE_SASL_PORT" "$KAFKA_SECURE_MTLS_PORT" "$KAFKA_SECURE_INTERNAL_PORT" \
      "$KAFKA_SECURE_CONTROLLER_PORT" | sort -u | wc -l)" == 4 ]] || die "the four KAFKA_SECURE_*_PORT must differ"

use_plain_instance

# Serialise state-changing commands (two test runners calling `up` at once, ...); one lock
# per instance, so `up-secure` does not wait for a plain `up` and the other way round.
take_lock() {
  mkdir -p "$KAFKA_HOME"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$LOCK_FILE"
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

# True when something on 127.0.0.1:$PROBE_PORT (the plain broker's client port, the secure
# broker's INTERNAL port) answers a Kafka ApiVersions request
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
  ' _ "$PROBE_PORT" 2>/dev/null
}

port_in_use() { # port_in_use PORT: something accepts TCP connections on 127.0.0.1:PORT
  timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null
}

render_config() {
  mkdir -p "$DATA_DIR" "$LOGS_DIR"
  (umask 077; sed "${RENDER_SED[@]}" "$CONFIG_TEMPLATE" >"$CONFIG_FILE.tmp")
  if grep -n '@[A-Z_]*@' "$CONFIG_FILE.tmp" >&2; then
    rm -f "$CONFIG_FILE.tmp"
    die "placeholders left unreplaced in $CONFIG_FILE (from $CONFIG_TEMPLATE)"
  fi
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
      --cluster-id "$(cat "$CLUSTER_ID_FILE")" --config "$CONFIG_FILE" "${FORMAT_ARGS[@]}" 2>&1)"; then
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
      die "the $INSTANCE exited during startup (see $OUT_FILE and $LOGS_DIR/server.log)"
    fi
    sleep 0.5
  done
  tail_broker_log
  die "the $INSTANCE (pid $pid) did not answer on $BOOTSTRAP within ${KAFKA_START_TIMEOUT}s; it is left running, stop it with: $0 down"
}

# ---------------------------------------------------------------- commands

# Start the selected instance unless it runs; returns once it answers on $BOOTSTRAP.
# The caller holds the lock. PREPARE (a function name) runs before the config is rendered.
start_instance() {
  local pid start=$SECONDS prepare="${1:-:}"
  if pid="$(broker_pid)"; then
    if kafka_answers; then
      log "$INSTANCE already running (pid $pid) on $BOOTSTRAP"
      return 0
    fi
    log "$INSTANCE (pid $pid) is running but not answering yet; waiting ..."
    wait_until_ready "$pid"
    log "$INSTANCE ready on $BOOTSTRAP (pid $pid)"
    return 0
  fi
  rm -f "$PID_FILE"
  if kafka_answers; then
    (( FOREIGN_BROKER_OK )) || die "a Kafka broker not started from $DATA_DIR already answers on $BOOTSTRAP; stop it or set $PORT_VARS"
    log "a Kafka broker not started by this script already answers on $BOOTSTRAP; using it"
    return 0
  fi
  local p
  for p in "${INSTANCE_PORTS[@]}"; do
    if port_in_use "$p"; then
      die "127.0.0.1:$p is already in use by another process (not a Kafka broker answering on $BOOTSTRAP); set $PORT_VARS"
    fi
  done
  command -v "$JAVA" >/dev/null 2>&1 || die "java (17+) is required"
  cmd_fetch
  "$prepare"
  render_config
  format_storage

  log "starting $INSTANCE (Kafka $(cat "$LIBS_DIR/.complete")) on ports ${INSTANCE_PORTS[*]} of 127.0.0.1 (data $DATA_DIR)"
  # shellcheck disable=SC2086  # HEAP_OPTS is a list of flags
  nohup "$JAVA" $HEAP_OPTS "${BROKER_JVM_OPTS[@]}" \
    -Dlog4j2.configurationFile="$LOG4J_CONFIG" \
    -Dkafka.logs.dir="$LOGS_DIR" -Dkafka.log.file=server.log -Dkafka.root.level=INFO \
    -cp "$LIBS_DIR/*" kafka.Kafka "$CONFIG_FILE" \
    >>"$OUT_FILE" 2>&1 </dev/null 9>&- &
  pid=$!
  printf '%s\n' "$pid" >"$PID_FILE"
  wait_until_ready "$pid"
  log "$INSTANCE ready on $BOOTSTRAP (pid $pid, $((SECONDS - start))s)"
}

cmd_up() {
  take_lock
  start_instance
}

cmd_down() {
  local pid deadline
  take_lock
  if ! pid="$(broker_pid)"; then
    rm -f "$PID_FILE"
    log "$INSTANCE is not running"
    return 0
  fi
  log "stopping $INSTANCE (pid $pid) ..."
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
  log "$INSTANCE stopped"
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
  if [[ -d "$DATA_DIR" ]]; then
    log "deleting $DATA_DIR"
    rm -rf -- "$DATA_DIR"
  fi
}

# ---------------------------------------------------------------- secure broker

random_password() { od -An -tx1 -N16 /dev/urandom | tr -d ' \n'; }  # 128 bits, hex: safe in JAAS and configs

credential() { # credential USER -> its password from $CREDENTIALS_FILE
  local value
  value="$(sed -n "s/^$1=//p" "$CREDENTIALS_FILE" 2>/dev/null || true)"
  [[ -n "$value" ]] || die "no password for $1 in $CREDENTIALS_FILE (delete the secure broker with: $0 reset-secure)"
  printf '%s' "$value"
}

ensure_credentials() {
  mkdir -p "$DATA_DIR"
  chmod 700 "$DATA_DIR"
  if [[ -s "$CREDENTIALS_FILE" ]]; then
    return 0
  fi
  # The SCRAM users are written into the metadata when the storage is formatted; new
  # passwords for an already formatted storage would not match them.
  [[ ! -f "$LOG_DIRS/meta.properties" ]] \
    || die "$CREDENTIALS_FILE is missing but $LOG_DIRS is formatted; start afresh with: $0 reset-secure"
  log "generating passwords for the admin and $DEFAULT_WORKER_USER users in $CREDENTIALS_FILE"
  (umask 077; printf 'admin=%s\n%s=%s\n' "$(random_password)" "$DEFAULT_WORKER_USER" "$(random_password)" \
    >"$CREDENTIALS_FILE.tmp")
  mv "$CREDENTIALS_FILE.tmp" "$CREDENTIALS_FILE"
}

# openssl x509 -req for a leaf: sign_leaf NAME SUBJECT EXTENSIONS
sign_leaf() {
  local name="$1" subject="$2" extensions="$3"
  if [[ -s "$TLS_DIR/$name.key" && -s "$TLS_DIR/$name.crt" ]] \
      && openssl verify -CAfile "$TLS_DIR/ca.crt" "$TLS_DIR/$name.crt" >/dev/null 2>&1; then
    return 0  # present, signed by our CA and not expired
  fi
  log "creating the $name certificate ($subject) in $TLS_DIR"
  printf '%s\n' "$extensions" >"$TLS_DIR/$name.ext"
  openssl req -new -newkey rsa:2048 -nodes -keyout "$TLS_DIR/$name.key" -subj "$subject" \
    -out "$TLS_DIR/$name.csr" 2>/dev/null || die "openssl could not create the $name key"
  openssl x509 -req -in "$TLS_DIR/$name.csr" -CA "$TLS_DIR/ca.crt" -CAkey "$TLS_DIR/ca.key" \
    -set_serial "0x$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')" -days 825 -sha256 \
    -extfile "$TLS_DIR/$name.ext" -out "$TLS_DIR/$name.crt" 2>/dev/null \
    || die "openssl could not sign the $name certificate"
  rm -f "$TLS_DIR/$name.csr" "$TLS_DIR/$name.ext"
}

# TLS material in $TLS_DIR, made once (a file missing, or a certificate not signed by the CA
# or expired, is made again): ca.{key,crt}, server.{key,crt} + server.keystore.pem (key,
# certificate, CA: what the broker loads as a PEM keystore), client.{key,crt} for mutual TLS.
ensure_tls() {
  command -v openssl >/dev/null 2>&1 || die "openssl is required for the secure broker (bash deploy/tools/openssl.sh installs it)"
  mkdir -p "$TLS_DIR"
  chmod 700 "$TLS_DIR"
  (
    umask 077
    if [[ ! -s "$TLS_DIR/ca.key" || ! -s "$TLS_DIR/ca.crt" ]] \
        || ! openssl x509 -checkend 86400 -noout -in "$TLS_DIR/ca.crt" >/dev/null 2>&1; then
      log "creating a local certificate authority in $TLS_DIR"
      rm -f "$TLS_DIR"/*.crt "$TLS_DIR"/*.key "$TLS_DIR"/*.pem
      openssl req -x509 -new -newkey rsa:2048 -nodes -sha256 -days 3650 \
        -keyout "$TLS_DIR/ca.key" -out "$TLS_DIR/ca.crt" -subj "/CN=SLA Timer local Kafka CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -addext "subjectKeyIdentifier=hash" 2>/dev/null || die "openssl could not create the CA"
    fi
    sign_leaf server "/CN=localhost" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid,issuer"
    sign_leaf client "/CN=$DEFAULT_WORKER_USER" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid,issuer"
    cat "$TLS_DIR/server.key" "$TLS_DIR/server.crt" "$TLS_DIR/ca.crt" >"$TLS_DIR/server.keystore.pem.tmp"
    mv "$TLS_DIR/server.keystore.pem.tmp" "$TLS_DIR/server.keystore.pem"
  )
  chmod 644 "$TLS_DIR/ca.crt"
}

prepare_secure() {
  ensure_credentials
  ensure_tls
  local admin_pw worker_pw mechanism
  admin_pw="$(credential admin)"
  worker_pw="$(credential "$DEFAULT_WORKER_USER")"
  RENDER_SED=(
    -e "s|@SASL_PORT@|$KAFKA_SECURE_SASL_PORT|g"
    -e "s|@MTLS_PORT@|$KAFKA_SECURE_MTLS_PORT|g"
    -e "s|@INTERNAL_PORT@|$KAFKA_SECURE_INTERNAL_PORT|g"
    -e "s|@CONTROLLER_PORT@|$KAFKA_SECURE_CONTROLLER_PORT|g"
    -e "s|@TLS_DIR@|$TLS_DIR|g"
    -e "s|@DATA_DIR@|$DATA_DIR|g"
    -e "s|@ADMIN_PASSWORD@|$admin_pw|g"
    -e "s|@SLA_TIMER_PASSWORD@|$worker_pw|g"
  )
  FORMAT_ARGS=()  # only used when the storage is formatted, i.e. on first start
  for mechanism in SCRAM-SHA-256 SCRAM-SHA-512; do
    FORMAT_ARGS+=(--add-scram "$mechanism=[name=admin,password=$admin_pw]")
    FORMAT_ARGS+=(--add-scram "$mechanism=[name=$DEFAULT_WORKER_USER,password=$worker_pw]")
  done
}

# The least-privilege ACLs of one SLA Timer worker; the one place to extend them.
# worker_acls APP_ID OUTPUT_PREFIX INPUT_TOPICS(comma-separated) prints one line per
# AclCommand run: RESOURCE_TYPE PATTERN_TYPE OPERATIONS(comma-separated) NAME...
worker_acls() {
  local app="$1" p="$2" inputs="$3"
  # Input topics: consumed; Create so the worker may create a missing one.
  echo "topic literal Read,Describe,Create ${inputs//,/ }"
  # Its due-command topic: produced and consumed.
  echo "topic literal Read,Write,Describe,Create ${p}sla-timer-due"
  # Outputs and the dead-letter topic: produced only.
  echo "topic literal Write,Describe,Create ${p}sla-events ${p}sla-warnings ${p}sla-breaches ${p}ticket-events-dlq"
  # Faust's own topics: table changelogs (<app>-<table>-changelog), <app>-__assignor-__leader.
  echo "topic prefixed Read,Write,Describe,Create,DescribeConfigs ${app}-"
  # The consumer group (Faust's group id is the app id).
  echo "group literal Read,Describe ${app}"
}

valid_name() { [[ "$1" =~ ^[A-Za-z0-9._-]+$ ]]; }

secure_broker_answers() {
  kafka_answers || die "no secure Kafka broker answers on $BOOTSTRAP (run: $0 up-secure)"
}

# grant_acls PRINCIPAL APP_ID OUTPUT_PREFIX INPUT_TOPICS (arguments already validated)
grant_acls() {
  local principal="$1" rtype pattern ops names op name
  local -a args
  while read -r rtype pattern ops names; do
    args=(--bootstrap-server "$BOOTSTRAP" --add --allow-principal "$principal" --resource-pattern-type "$pattern")
    for op in ${ops//,/ }; do args+=(--operation "$op"); done
    for name in $names; do args+=("--$rtype" "$name"); done
    run_tool org.apache.kafka.tools.AclCommand "${args[@]}" >/dev/null \
      || die "granting $ops on $rtype(s) $names ($pattern) to $principal failed"
  done < <(worker_acls "$2" "$3" "$4")
  log "granted $principal the ACLs of an SLA Timer worker (app id '$2', output prefix '$3', inputs '$4')"
}

cmd_grant_worker() {
  (( $# == 4 )) || die "usage: $0 grant-worker USER APP_ID OUTPUT_PREFIX INPUT_TOPICS (OUTPUT_PREFIX may be '')"
  local user="$1" app="$2" prefix="$3" inputs="$4" principal topic
  if [[ "$user" == User:* ]]; then principal="$user"; else principal="User:$user"; fi
  [[ -n "${principal#User:}" && "$principal" != *$'\n'* ]] || die "bad user '$user'"
  valid_name "$app" || die "bad app id '$app' (letters, digits, . _ -)"
  [[ -z "$prefix" ]] || valid_name "$prefix" || die "bad output prefix '$prefix' (letters, digits, . _ -)"
  [[ -n "$inputs" ]] || die "no input topics"
  for topic in ${inputs//,/ }; do valid_name "$topic" || die "bad input topic '$topic'"; done
  libs_ready || cmd_fetch
  secure_broker_answers
  grant_acls "$principal" "$app" "$prefix" "$inputs"
}

cmd_add_user() {
  (( $# == 2 )) || die "usage: $0 add-user USER PASSWORD"
  local user="$1" password="$2"
  [[ "$user" != admin ]] || die "the admin user is made by up-secure (its password: $CREDENTIALS_FILE)"
  valid_name "$user" || die "bad user name '$user' (letters, digits, . _ -)"
  # ConfigCommand's value syntax: no separators, brackets, quotes or blanks in the password.
  if [[ -z "$password" || "$password" == *[[:space:]\,\=\[\]\'\"\\]* ]]; then
    die "the password may not be empty or contain , = [ ] quotes, backslashes or blanks"
  fi
  libs_ready || cmd_fetch
  secure_broker_answers
  # One run per mechanism: the broker refuses two credentials of one user in one request.
  local mechanism
  for mechanism in SCRAM-SHA-256 SCRAM-SHA-512; do
    run_tool kafka.admin.ConfigCommand --bootstrap-server "$BOOTSTRAP" --alter \
      --entity-type users --entity-name "$user" --add-config "$mechanism=[password=$password]" >/dev/null \
      || die "adding the $mechanism credentials of $user failed"
  done
  log "user $user: SCRAM-SHA-256 and SCRAM-SHA-512 credentials set (PLAIN users are fixed in the broker's config)"
}

write_env_file() { # write_env_file PATH LINE...  (mode 0600, replaced atomically)
  local path="$1"; shift
  (umask 077; printf '%s\n' "$@" >"$path.tmp")
  chmod 600 "$path.tmp"
  mv -f "$path.tmp" "$path"
}

write_secure_env_files() {
  write_env_file "$SECURE_ENV_FILE" \
    "SLA_KAFKA_BROKERS=127.0.0.1:$KAFKA_SECURE_SASL_PORT" \
    "SLA_KAFKA_SECURITY_PROTOCOL=SASL_SSL" \
    "SLA_KAFKA_SASL_MECHANISM=SCRAM-SHA-512" \
    "SLA_KAFKA_SASL_USERNAME=$DEFAULT_WORKER_USER" \
    "SLA_KAFKA_SASL_PASSWORD=$(credential "$DEFAULT_WORKER_USER")" \
    "SLA_KAFKA_SSL_CAFILE=$TLS_DIR/ca.crt"
  write_env_file "$SECURE_MTLS_ENV_FILE" \
    "SLA_KAFKA_BROKERS=127.0.0.1:$KAFKA_SECURE_MTLS_PORT" \
    "SLA_KAFKA_SECURITY_PROTOCOL=SSL" \
    "SLA_KAFKA_SSL_CAFILE=$TLS_DIR/ca.crt" \
    "SLA_KAFKA_SSL_CERTFILE=$TLS_DIR/client.crt" \
    "SLA_KAFKA_SSL_KEYFILE=$TLS_DIR/client.key"
}

wait_for_tls_ports() { # the INTERNAL listener answered; the TLS ones open at the same time
  local deadline=$((SECONDS + 30)) p
  for p in "$KAFKA_SECURE_SASL_PORT" "$KAFKA_SECURE_MTLS_PORT"; do
    until port_in_use "$p"; do
      (( SECONDS < deadline )) || die "the $INSTANCE answers on $BOOTSTRAP but not on 127.0.0.1:$p"
      sleep 0.2
    done
  done
}

cmd_up_secure() {
  local marker="$DATA_DIR/acls.granted" wanted
  take_lock
  start_instance prepare_secure
  wait_for_tls_ports
  # The default worker's ACLs, granted again only when worker_acls changed (ACLs persist
  # in the metadata; AclCommand costs a JVM start per line). Nothing is revoked.
  wanted="User:$DEFAULT_WORKER_USER $(worker_acls "$DEFAULT_WORKER_APP_ID" "$DEFAULT_WORKER_PREFIX" "$DEFAULT_WORKER_INPUTS")"
  if [[ "$(cat "$marker" 2>/dev/null || true)" != "$wanted" ]]; then
    grant_acls "User:$DEFAULT_WORKER_USER" "$DEFAULT_WORKER_APP_ID" "$DEFAULT_WORKER_PREFIX" "$DEFAULT_WORKER_INPUTS"
    printf '%s' "$wanted" >"$marker"
  fi
  write_secure_env_files
  log "SASL_SSL (SCRAM-SHA-256/512, PLAIN) on 127.0.0.1:$KAFKA_SECURE_SASL_PORT, mutual TLS on 127.0.0.1:$KAFKA_SECURE_MTLS_PORT, admin (PLAINTEXT) on $BOOTSTRAP"
  log "client settings: $SECURE_ENV_FILE (SASL_SSL, SCRAM-SHA-512, user $DEFAULT_WORKER_USER) and $SECURE_MTLS_ENV_FILE (mutual TLS)"
  log "CA certificate: $TLS_DIR/ca.crt; admin password: admin= line of $CREDENTIALS_FILE"
}

cmd_reset_secure() {
  cmd_down
  if [[ -d "$DATA_DIR" ]]; then
    log "deleting $DATA_DIR"
    rm -rf -- "$DATA_DIR"
  fi
  rm -f -- "$SECURE_ENV_FILE" "$SECURE_MTLS_ENV_FILE"
}

main() {
  local cmd="${1:-}"
  (( $# > 0 )) && shift
  case "$cmd" in
    fetch)         take_lock; cmd_fetch; log "jars ready in $LIBS_DIR (Kafka $(cat "$LIBS_DIR/.complete"))" ;;
    up|start)      cmd_up ;;
    down|stop)     cmd_down; (use_secure_instance; cmd_down) ;;
    status)        cmd_status ;;
    create-topics) cmd_create_topics "$@" ;;
    reset)         cmd_reset ;;
    up-secure)     use_secure_instance; cmd_up_secure ;;
    down-secure)   use_secure_instance; cmd_down ;;
    status-secure) use_secure_instance; cmd_status ;;
    reset-secure)  use_secure_instance; cmd_reset_secure ;;
    add-user)      use_secure_instance; cmd_add_user "$@" ;;
    grant-worker)  use_secure_instance; cmd_grant_worker "$@" ;;
    -h|--help|help) usage ;;
    *)             usage; exit 2 ;;
  esac
}

main "$@"
