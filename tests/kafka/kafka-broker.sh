#!/usr/bin/env bash
# Run a real Apache Kafka broker (KRaft, no ZooKeeper) on 127.0.0.1 for tests.
# The broker jars come from Maven Central through pom.xml next to this script.
#
#   kafka-broker.sh fetch
#   kafka-broker.sh start <workdir> [--nodes N] [--base-port P]
#   kafka-broker.sh stop <workdir> [node-index]
#   kafka-broker.sh restart-node <workdir> <k>
#   kafka-broker.sh bootstrap <workdir>
#
# See README.md in this directory for details and environment variables.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
POM="$SCRIPT_DIR/pom.xml"

# Must match <kafka.version> in pom.xml (it is passed to mvn explicitly anyway).
KAFKA_VERSION="${KRING_KAFKA_VERSION:-3.9.2}"
JARS_DIR="${KRING_KAFKA_JARS:-${HOME:-/root}/.cache/kring/kafka-jars-$KAFKA_VERSION}"
START_TIMEOUT="${KRING_KAFKA_START_TIMEOUT:-90}"   # seconds, per start/restart
STOP_TIMEOUT="${KRING_KAFKA_STOP_TIMEOUT:-30}"     # seconds before SIGKILL
HEAP_OPTS="${KRING_KAFKA_HEAP_OPTS:--Xms128m -Xmx512m}"
EXTRA_JAVA_OPTS="${KRING_KAFKA_JAVA_OPTS:-}"
# Auto-picked ports come from below Linux's ephemeral range (32768+).
PORT_RANGE_LO=20000
PORT_RANGE_HI=32000

log() { printf 'kafka-broker.sh: %s\n' "$*" >&2; }
die() { printf 'kafka-broker.sh: ERROR: %s\n' "$*" >&2; exit 1; }

usage() {
  cat >&2 <<'EOF'
usage:
  kafka-broker.sh fetch
  kafka-broker.sh start <workdir> [--nodes N] [--base-port P]
  kafka-broker.sh stop <workdir> [node-index]
  kafka-broker.sh restart-node <workdir> <k>
  kafka-broker.sh bootstrap <workdir>
EOF
  exit 2
}

# ---------------------------------------------------------------- tooling ---

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root (or sudo) to run: $*"
  fi
}

APT_UPDATED=0
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "apt-get not available; please install: $*"
  local out
  out="$(mktemp)"
  if [ "$APT_UPDATED" = 0 ]; then
    log "running apt-get update"
    if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get update >"$out" 2>&1; then
      tail -n 20 "$out" >&2; rm -f "$out"; die "apt-get update failed"
    fi
    APT_UPDATED=1
  fi
  log "running apt-get install -y $*"
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >"$out" 2>&1; then
    tail -n 30 "$out" >&2; rm -f "$out"; die "apt-get install $* failed"
  fi
  rm -f "$out"
}

ensure_java() {
  command -v java >/dev/null 2>&1 || apt_install default-jre-headless
  command -v java >/dev/null 2>&1 || die "java still not found after apt-get install"
}

ensure_mvn() {
  if ! command -v mvn >/dev/null 2>&1; then
    if command -v java >/dev/null 2>&1; then apt_install maven
    else apt_install default-jre-headless maven
    fi
  fi
  command -v mvn >/dev/null 2>&1 || die "mvn still not found after apt-get install"
}

ensure_kcat() {
  command -v kcat >/dev/null 2>&1 || apt_install kcat
  command -v kcat >/dev/null 2>&1 || die "kcat still not found after apt-get install"
}

# ------------------------------------------------------------------ fetch ---

jars_ok() {
  [ -f "$JARS_DIR/.complete" ] && [ -f "$JARS_DIR/kafka_2.13-$KAFKA_VERSION.jar" ]
}

do_fetch() {
  if jars_ok; then
    printf '%s\n' "$JARS_DIR"
    return 0
  fi
  [ -f "$POM" ] || die "pom.xml not found next to the script ($POM)"
  mkdir -p "$(dirname "$JARS_DIR")"
  # Serialize concurrent first fetches (parallel test runs) on the same cache.
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$JARS_DIR.lock"
    flock 9
    if jars_ok; then exec 9>&-; printf '%s\n' "$JARS_DIR"; return 0; fi
  fi
  ensure_java
  ensure_mvn
  local tmp mlog start_s
  tmp="$(mktemp -d "$JARS_DIR.tmp.XXXXXX")"
  mlog="$tmp.mvn.log"
  start_s=$SECONDS
  log "fetching kafka_2.13 $KAFKA_VERSION and its runtime dependencies with Maven (first time only) ..."
  if ! mvn -q -B -f "$POM" -Dkafka.version="$KAFKA_VERSION" \
        dependency:copy-dependencies -DoutputDirectory="$tmp" -DincludeScope=runtime \
        >"$mlog" 2>&1; then
    {
      echo "---- mvn output (tail) ----"
      tail -n 40 "$mlog"
      echo "---------------------------"
    } >&2
    rm -rf "$tmp" "$mlog"
    die "mvn dependency:copy-dependencies failed for org.apache.kafka:kafka_2.13:$KAFKA_VERSION"
  fi
  rm -f "$mlog"
  [ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ] || { rm -rf "$tmp"; die "mvn succeeded but kafka_2.13-$KAFKA_VERSION.jar is missing"; }
  touch "$tmp/.complete"
  # Publish atomically; a concurrent fetch may have won the race, which is fine.
  if jars_ok; then
    rm -rf "$tmp"
  else
    rm -rf "$JARS_DIR"
    mv -T "$tmp" "$JARS_DIR" 2>/dev/null || { rm -rf "$tmp"; jars_ok || die "could not move jars into $JARS_DIR"; }
  fi
  log "fetched $(find "$JARS_DIR" -name '*.jar' | wc -l) jars in $((SECONDS - start_s)) s into $JARS_DIR"
  exec 9>&- 2>/dev/null || true
  printf '%s\n' "$JARS_DIR"
}

# ------------------------------------------------------------------ ports ---

# Every local TCP port in use (any state), from /proc (no ss/netstat needed).
used_ports() {
  local _sl la _rest
  cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
    while read -r _sl la _rest; do
      case "$la" in *:*) printf '%d\n' "0x${la##*:}";; esac
    done || true
}

ports_free() {  # ports_free FIRST COUNT
  local first=$1 count=$2 used p
  used=" $(used_ports | sort -un | tr '\n' ' ') "
  for ((p = first; p < first + count; p++)); do
    [ "$p" -le 65535 ] || return 1
    case "$used" in *" $p "*) return 1;; esac
  done
  return 0
}

pick_base_port() {  # pick_base_port COUNT
  local count=$1 i base
  for ((i = 0; i < 200; i++)); do
    base=$(( PORT_RANGE_LO + (RANDOM * 32768 + RANDOM) % (PORT_RANGE_HI - PORT_RANGE_LO - count) ))
    if ports_free "$base" "$count"; then echo "$base"; return 0; fi
  done
  die "could not find $count free consecutive TCP ports in $PORT_RANGE_LO-$PORT_RANGE_HI"
}

# ---------------------------------------------------------------- cluster ---

# Layout for N nodes with base port P:
#   node k (1..N) client listener   PLAINTEXT://127.0.0.1:(P + k - 1)
#   node k        controller        CONTROLLER://127.0.0.1:(P + N + k - 1)
broker_port()     { echo $(( BASE_PORT + $1 - 1 )); }
controller_port() { echo $(( BASE_PORT + NODES + $1 - 1 )); }

load_cluster() {  # load_cluster WORKDIR
  WORKDIR="$(cd "$1" 2>/dev/null && pwd)" || die "workdir $1 does not exist"
  [ -f "$WORKDIR/cluster.env" ] || die "$WORKDIR/cluster.env missing: no cluster was started in $WORKDIR"
  # shellcheck disable=SC1091
  . "$WORKDIR/cluster.env"
  JARS_DIR="${CLUSTER_JARS_DIR:-$JARS_DIR}"
}

node_dir() { echo "$WORKDIR/node-$1"; }
pid_file() { echo "$WORKDIR/node-$1.pid"; }
log_file() { echo "$WORKDIR/node-$1.log"; }

# Prints the pid of node k if its JVM is alive (and really is that node).
node_pid() {
  local f pid
  f="$(pid_file "$1")"
  [ -f "$f" ] || return 1
  pid="$(cat "$f" 2>/dev/null)" || return 1
  [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
  # Guard against pid reuse: the command line must name this node's marker.
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-Dkring.kafka.node=$(node_dir "$1") " || return 1
  # A zombie is not alive.
  [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ] || return 1
  echo "$pid"
}

log_tail() {  # log_tail k [lines]
  local f
  f="$(log_file "$1")"
  {
    echo "---- tail of $f ----"
    # Skip the long "KafkaConfig values:" dump (tab-indented key = value lines).
    if [ -f "$f" ]; then grep -avE $'^\t[A-Za-z0-9_.-]+ = ' "$f" | tail -n "${2:-40}"; else echo "(no log file)"; fi
    echo "----"
    # The cause of a failed start is usually well before the tail (the shutdown that follows is long).
    if [ -f "$f" ]; then
      echo "---- ERROR/FATAL lines since the last start of node $1 ----"
      awk '/^==== kafka-broker.sh: starting node/ { n = 0; delete keep } / (ERROR|FATAL) |Exception/ { keep[n++] = $0 } END { for (i = 0; i < n && i < 40; i++) print keep[i] }' "$f"
      echo "----"
    fi
  } >&2
}

write_configs() {
  local k voters="" minisr rf
  for ((k = 1; k <= NODES; k++)); do
    voters+="${voters:+,}$k@127.0.0.1:$(controller_port "$k")"
  done
  rf=$(( NODES < 3 ? NODES : 3 ))
  minisr=$(( NODES < 3 ? 1 : 2 ))

  cat >"$WORKDIR/log4j.properties" <<'EOF'
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.network.RequestChannel$=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.log.LogCleaner=WARN
log4j.logger.kafka.authorizer.logger=WARN
EOF

  printf '%s\n' 'log4j.rootLogger=WARN, stderr' \
    'log4j.appender.stderr=org.apache.log4j.ConsoleAppender' \
    'log4j.appender.stderr.Target=System.err' \
    'log4j.appender.stderr.layout=org.apache.log4j.PatternLayout' \
    'log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n' \
    >"$WORKDIR/log4j-tools.properties"

  for ((k = 1; k <= NODES; k++)); do
    mkdir -p "$(node_dir "$k")/data"
    cat >"$(node_dir "$k")/server.properties" <<EOF
# Generated by kafka-broker.sh for tests: combined broker+controller, loopback only.
process.roles=broker,controller
node.id=$k
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$(broker_port "$k"),CONTROLLER://127.0.0.1:$(controller_port "$k")
advertised.listeners=PLAINTEXT://127.0.0.1:$(broker_port "$k")
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$(node_dir "$k")/data

num.partitions=6
default.replication.factor=$NODES
min.insync.replicas=$minisr
auto.create.topics.enable=true
delete.topic.enable=true
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$minisr
transaction.state.log.num.partitions=10
group.initial.rebalance.delay.ms=0

# Small machine, quick failure detection for fault tests.
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=6000
replica.lag.time.max.ms=10000
log.segment.bytes=134217728
EOF
  done
}

# A KRaft cluster id: 16 random bytes, URL-safe base64 without padding (what
# `kafka-storage random-uuid` prints), not starting with '-'. Saves a JVM start.
new_cluster_id() {
  local id
  while :; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    case "$id" in -*|AAAAAAAAAAAAAAAAAAAAA[AB]) continue;; esac
    echo "$id"; return 0
  done
}

# Format every node's storage (kafka.tools.StorageTool, i.e. `kafka-storage
# format`), in parallel; each node's output goes to node-k.format.log.
format_storage() {  # format_storage CLUSTER_ID
  local cid=$1 k pids=() failed=0 f
  for ((k = 1; k <= NODES; k++)); do
    f="$(node_dir "$k").format.log"
    java -Xmx256m -cp "$JARS_DIR/*" -Dlog4j.configuration="file:$WORKDIR/log4j-tools.properties" \
      kafka.tools.StorageTool format -t "$cid" -c "$(node_dir "$k")/server.properties" \
      </dev/null >"$f" 2>&1 &
    pids[k]=$!
  done
  for ((k = 1; k <= NODES; k++)); do
    if ! wait "${pids[k]}"; then
      log "kafka.tools.StorageTool format failed for node $k:"
      cat "$(node_dir "$k").format.log" >&2
      failed=1
    fi
  done
  [ "$failed" = 0 ] || die "formatting KRaft storage in $WORKDIR failed"
}

start_node() {  # start_node k  (background JVM; pid into node-k.pid)
  local k=$1 nd pid
  nd="$(node_dir "$k")"
  printf '\n==== kafka-broker.sh: starting node %s at %s ====\n' "$k" "$(date '+%F %T')" >>"$(log_file "$k")"
  # shellcheck disable=SC2086
  setsid java -server $HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$WORKDIR/log4j.properties" \
    -Dkafka.logs.dir="$nd" \
    "-Dkring.kafka.node=$nd" \
    $EXTRA_JAVA_OPTS \
    -cp "$JARS_DIR/*" kafka.Kafka "$nd/server.properties" \
    </dev/null >>"$(log_file "$k")" 2>&1 &
  pid=$!
  echo "$pid" >"$(pid_file "$k")"
  # Until the background child has exec'd setsid/java its command line is this script's, so
  # node_pid would not recognise it yet and a busy machine could report it as exited. Wait for the
  # exec (or for the child to die, which wait_ready then reports).
  local i
  for ((i = 0; i < 200; i++)); do
    node_pid "$k" >/dev/null && return 0
    [ -d "/proc/$pid" ] || return 0
    sleep 0.05
  done
}

# Does the node's client port answer a metadata request showing WANT brokers?
metadata_ok() {  # metadata_ok k want
  local out
  out="$(timeout 10 kcat -L -b "127.0.0.1:$(broker_port "$1")" -m 5 2>/dev/null)" || return 1
  grep -qE "^ *$2 brokers:" <<<"$out"
}

wait_ready() {  # wait_ready "k1 k2 ..."  -> 0 ready, 1 timeout/died (message printed)
  local nodes=$1 deadline k all
  deadline=$(( SECONDS + START_TIMEOUT ))
  while :; do
    all=1
    for k in $nodes; do
      if ! node_pid "$k" >/dev/null; then
        log "node $k exited during start-up"
        log_tail "$k" 60
        return 1
      fi
      metadata_ok "$k" "$NODES" || all=0
    done
    [ "$all" = 1 ] && return 0
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "timed out after ${START_TIMEOUT}s waiting for node(s) $nodes to serve metadata with $NODES broker(s)"
      for k in $nodes; do log_tail "$k" 40; done
      return 1
    fi
    sleep 0.5
  done
}

stop_nodes() {  # stop_nodes "k1 k2 ..."  (SIGTERM, wait, SIGKILL)
  local nodes=$1 k pid pids="" deadline alive
  for k in $nodes; do
    if pid="$(node_pid "$k")"; then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=" $k:$pid"
    fi
  done
  [ -n "$pids" ] || return 0
  deadline=$(( SECONDS + STOP_TIMEOUT ))
  while :; do
    alive=""
    for kp in $pids; do
      [ -d "/proc/${kp#*:}" ] && [ "$(awk '{print $3}' "/proc/${kp#*:}/stat" 2>/dev/null)" != Z ] && alive+=" $kp"
    done
    [ -z "$alive" ] && break
    if [ "$SECONDS" -ge "$deadline" ]; then
      for kp in $alive; do
        log "node ${kp%%:*} (pid ${kp#*:}) did not stop within ${STOP_TIMEOUT}s; sending SIGKILL"
        kill -KILL "${kp#*:}" 2>/dev/null || true
      done
      sleep 0.5
      break
    fi
    sleep 0.2
  done
  for kp in $pids; do rm -f "$(pid_file "${kp%%:*}")"; done
}

all_nodes() { seq 1 "$NODES" | tr '\n' ' '; }

bootstrap_string() {
  local k s=""
  for ((k = 1; k <= NODES; k++)); do s+="${s:+,}127.0.0.1:$(broker_port "$k")"; done
  echo "$s"
}

# ------------------------------------------------------------- commands ---

cmd_start() {
  [ $# -ge 1 ] || usage
  local wd=$1; shift
  local nodes=1 base="" k pid auto_port=0 attempt out cid
  while [ $# -gt 0 ]; do
    case "$1" in
      --nodes) [ $# -ge 2 ] || usage; nodes=$2; shift 2;;
      --nodes=*) nodes=${1#*=}; shift;;
      --base-port) [ $# -ge 2 ] || usage; base=$2; shift 2;;
      --base-port=*) base=${1#*=}; shift;;
      *) die "unknown option for start: $1";;
    esac
  done
  [[ "$nodes" =~ ^[1-9][0-9]*$ ]] || die "--nodes must be a positive integer (got '$nodes')"
  [ -z "$base" ] || [[ "$base" =~ ^[0-9]+$ ]] || die "--base-port must be a number (got '$base')"

  mkdir -p "$wd" || die "cannot create workdir $wd"
  WORKDIR="$(cd "$wd" && pwd)"
  if [ -f "$WORKDIR/cluster.env" ]; then
    # shellcheck disable=SC1091
    ( . "$WORKDIR/cluster.env"; for ((k = 1; k <= NODES; k++)); do
        WORKDIR="$WORKDIR" NODES="$NODES" node_pid "$k" >/dev/null && exit 1; done; exit 0 ) ||
      die "a cluster is still running in $WORKDIR; run 'kafka-broker.sh stop $WORKDIR' first"
  fi

  JARS_DIR="$(do_fetch)"
  ensure_java
  ensure_kcat

  NODES=$nodes
  [ -n "$base" ] || auto_port=1

  for attempt in 1 2 3; do
    # Fresh state every start.
    rm -rf "$WORKDIR"/node-* "$WORKDIR/cluster.env" "$WORKDIR"/log4j*.properties
    [ "$attempt" -gt 1 ] || rm -f "$WORKDIR"/failed-attempt*.log
    if [ "$auto_port" = 1 ]; then
      BASE_PORT="$(pick_base_port $((2 * NODES)))"
    else
      BASE_PORT=$base
      [ "$BASE_PORT" -ge 1024 ] && [ $((BASE_PORT + 2 * NODES - 1)) -le 65535 ] ||
        die "--base-port $BASE_PORT out of range (need $((2 * NODES)) ports in 1024-65535)"
      ports_free "$BASE_PORT" $((2 * NODES)) ||
        die "ports $BASE_PORT-$((BASE_PORT + 2 * NODES - 1)) are not all free"
    fi

    write_configs
    cid="$(new_cluster_id)"
    cat >"$WORKDIR/cluster.env" <<EOF
NODES=$NODES
BASE_PORT=$BASE_PORT
CLUSTER_ID=$cid
KAFKA_VERSION=$KAFKA_VERSION
CLUSTER_JARS_DIR='$JARS_DIR'
BOOTSTRAP=$(bootstrap_string)
EOF
    format_storage "$cid"

    # If we are interrupted while waiting, do not leave JVMs behind.
    trap 'stop_nodes "$(all_nodes)"; exit 130' INT TERM HUP
    for ((k = 1; k <= NODES; k++)); do start_node "$k"; done
    log "started $NODES node(s) in $WORKDIR (Kafka $KAFKA_VERSION), waiting up to ${START_TIMEOUT}s for metadata ..."
    if wait_ready "$(all_nodes)"; then
      trap - INT TERM HUP
      log "cluster ready"
      bootstrap_string
      return 0
    fi
    stop_nodes "$(all_nodes)"
    if [ "$auto_port" = 1 ] && grep -qs "Address already in use" "$WORKDIR"/node-*.log && [ "$attempt" -lt 3 ]; then
      log "port collision (another process took a port); retrying with other ports"
      for ((k = 1; k <= NODES; k++)); do mv -f "$(log_file "$k")" "$WORKDIR/failed-attempt$attempt.node-$k.log" 2>/dev/null || true; done
      continue
    fi
    die "Kafka cluster in $WORKDIR failed to start (logs: $WORKDIR/node-*.log); all its nodes were stopped"
  done
}

cmd_stop() {
  [ $# -ge 1 ] && [ $# -le 2 ] || usage
  load_cluster "$1"
  if [ $# -eq 2 ]; then
    [[ "$2" =~ ^[0-9]+$ ]] && [ "$2" -ge 1 ] && [ "$2" -le "$NODES" ] || die "node index must be 1..$NODES (got '$2')"
    stop_nodes "$2"
    log "node $2 stopped"
  else
    stop_nodes "$(all_nodes)"
    log "all $NODES node(s) stopped"
  fi
}

cmd_restart_node() {
  [ $# -eq 2 ] || usage
  load_cluster "$1"
  local k=$2
  [[ "$k" =~ ^[0-9]+$ ]] && [ "$k" -ge 1 ] && [ "$k" -le "$NODES" ] || die "node index must be 1..$NODES (got '$k')"
  [ -f "$(node_dir "$k")/server.properties" ] || die "$(node_dir "$k")/server.properties missing"
  ensure_java
  ensure_kcat
  [ -f "$JARS_DIR/kafka_2.13-$KAFKA_VERSION.jar" ] || JARS_DIR="$(do_fetch)"
  stop_nodes "$k"
  trap 'stop_nodes "$k"; exit 130' INT TERM HUP
  start_node "$k"
  log "restarted node $k, waiting up to ${START_TIMEOUT}s for it to rejoin ..."
  if ! wait_ready "$k"; then
    stop_nodes "$k"
    die "node $k in $WORKDIR failed to restart (log: $(log_file "$k")); it was stopped"
  fi
  log "node $k is back"
  bootstrap_string
}

cmd_bootstrap() {
  [ $# -eq 1 ] || usage
  load_cluster "$1"
  bootstrap_string
}

[ $# -ge 1 ] || usage
cmd=$1; shift
case "$cmd" in
  fetch)        [ $# -eq 0 ] || usage; do_fetch;;
  start)        cmd_start "$@";;
  stop)         cmd_stop "$@";;
  restart-node) cmd_restart_node "$@";;
  bootstrap)    cmd_bootstrap "$@";;
  -h|--help|help) usage;;
  *) log "unknown command: $cmd"; usage;;
esac
