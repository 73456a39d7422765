#!/usr/bin/env bash
# The run command: installs what is missing, builds, starts kringd on the
# embedded default (RocksDB in a data folder, librdkafka's mock Kafka cluster
# in-process), streams a deterministic SYNTHETIC cohort over gRPC, prints the
# research read models (network size, outcomes, cost-benefit, funnel, sustained
# support), and counts with kcat the messages on the topic.
#
#   KRING_DEMO_CASES   cases in the cohort (default 2000)
#   KRING_DEMO_SEED    cohort seed (default 1)
#   KRING_DEMO_DIR     data folder, emptied first (default ./demo-data)
set -euo pipefail
cd "$(dirname "$0")/.."
CASES="${KRING_DEMO_CASES:-2000}"
SEED="${KRING_DEMO_SEED:-1}"
DATA_DIR="${KRING_DEMO_DIR:-./demo-data}"
BUILD_DIR="${KRING_BUILD_DIR:-build}"

./scripts/setup.sh
./scripts/build.sh kringd kringctl

rm -rf "$DATA_DIR"
mkdir -p "$DATA_DIR"
READY="$DATA_DIR/ready.json"
LOG="$DATA_DIR/kringd.log"
"$BUILD_DIR/services/kringd" --data-dir "$DATA_DIR/store" --listen 127.0.0.1:0 --ready-file "$READY" >"$LOG" 2>&1 &
KRINGD=$!
stop_server() {
  if kill -0 "$KRINGD" 2>/dev/null; then
    kill -TERM "$KRINGD"
    wait "$KRINGD" || true
  fi
}
trap stop_server EXIT

for _ in $(seq 1 300); do
  [ -s "$READY" ] && break
  kill -0 "$KRINGD" 2>/dev/null || { echo "kringd failed to start:" >&2; cat "$LOG" >&2; exit 1; }
  sleep 0.1
done
[ -s "$READY" ] || { echo "kringd not ready after 30 s" >&2; cat "$LOG" >&2; exit 1; }
field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$READY" "$1"; }
SERVER="$(field grpc)"
BOOTSTRAP="$(field kafka_bootstrap)"
TOPIC="$(field topic)"

echo "== kringd is serving gRPC on $SERVER; embedded Kafka at $BOOTSTRAP (log: $LOG)"
echo
COHORT_OUT="$("$BUILD_DIR/cli/kringctl" --server "$SERVER" cohort --cases "$CASES" --seed "$SEED")"
echo "$COHORT_OUT"
APPENDED="$(echo "$COHORT_OUT" | sed -n 's/.*events appended \([0-9]*\).*/\1/p')"
echo
KRINGCTL=("$BUILD_DIR/cli/kringctl" --server "$SERVER")
echo "== Network size read model over the SYNTHETIC cohort"
"${KRINGCTL[@]}" network-size --group-by YEAR --wait-events "$APPENDED" --timeout 120
echo
echo "== Outcomes per referral cohort (intention to treat) and per held conference"
"${KRINGCTL[@]}" research outcomes --wait-events "$APPENDED" --timeout 120
echo
echo "== Cost-benefit with the built-in cost model (projections/cost_model.json)"
"${KRINGCTL[@]}" research cost-benefit --wait-events "$APPENDED" --timeout 120
echo
echo "== Funnel and the right to a plan"
"${KRINGCTL[@]}" research funnel --wait-events "$APPENDED" --timeout 120
echo
echo "== Two-year sustained support (Kaplan-Meier: first 12 rows and the last 2)"
"${KRINGCTL[@]}" research support --wait-events "$APPENDED" --timeout 120 | awk '
  /^Kaplan/ { km = 1; n = 0 } { if (!km) { print; next } }
  km && /^$/ { if (n > 15) { print "  ..."; for (i = n - 2; i <= n; i++) print rows[i] }; km = 0; print; next }
  km { n++; rows[n] = $0; if (n <= 14) print }'
echo
echo "== Kafka: reading topic $TOPIC with kcat (a real Kafka client)"
CONSUMED="$(kcat -b "$BOOTSTRAP" -t "$TOPIC" -C -e -o beginning -q -f '%o\n' | wc -l)"
echo "kcat consumed $CONSUMED messages; events appended: $APPENDED"
if [ "$CONSUMED" != "$APPENDED" ]; then
  echo "MISMATCH: the topic does not hold exactly the appended events" >&2
  exit 1
fi
echo "OK: every appended event is on the topic exactly once."
echo
echo "== Stopping kringd (SIGTERM)"
stop_server
trap - EXIT
tail -n 6 "$LOG"
