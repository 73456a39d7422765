#!/usr/bin/env bash
# The run command: installs what is missing, builds, starts kringd on the
# embedded default (RocksDB in a data folder, librdkafka's mock Kafka cluster
# in-process), streams a deterministic SYNTHETIC cohort over gRPC, prints the
# research read models (network size, outcomes, cost-benefit, funnel, sustained
# support), counts with kcat the messages on the topic, and shows the security
# model on one SYNTHETIC case with personal data: roles, an audited read with
# its purpose, erasure, the access log (docs/security.md). kringd runs with an
# identities file (a token per role, made by kringctl) and a master key.
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
# One token per role; the identities file holds only their SHA-256 hashes.
for role in partner researcher auditor operator; do
  "$BUILD_DIR/cli/kringctl" token new --role "$role" --name "demo-$role" --append-to "$DATA_DIR/identities" \
    >"$DATA_DIR/$role.token" 2>/dev/null
done
# The master key that wraps the per-case data keys: readable by its owner only.
(umask 077 && head -c 32 /dev/urandom >"$DATA_DIR/master.key")
# The cell key secret that perturbs the research figures (docs/research.md):
# fixed here, so that the demo prints the same figures on every run. A real
# installation keeps a random one (docs/operations.md, "The cell key secret").
(umask 077 && printf 'kring demo cell key secret: SYNTHETIC, never for real data' >"$DATA_DIR/cell.key")
"$BUILD_DIR/services/kringd" --data-dir "$DATA_DIR/store" --listen 127.0.0.1:0 --ready-file "$READY" \
  --identities "$DATA_DIR/identities" --embedded-kafka-in-production --master-key-file "$DATA_DIR/master.key" \
  --cell-key-file "$DATA_DIR/cell.key" >"$LOG" 2>&1 &
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
as() { local role="$1"; shift; "$BUILD_DIR/cli/kringctl" --server "$SERVER" --token-file "$DATA_DIR/$role.token" "$@"; }
COHORT_OUT="$(as partner cohort --cases "$CASES" --seed "$SEED")"
echo "$COHORT_OUT"
APPENDED="$(echo "$COHORT_OUT" | sed -n 's/.*events appended \([0-9]*\).*/\1/p')"
echo
KRINGCTL=(as researcher)
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
echo "(the embedded cluster, run here with --embedded-kafka-in-production: it keeps the newest ~5 MiB per"
echo " partition only and is readable without credentials — docs/operations.md, \"The embedded Kafka cluster\")"
# Every message carries its log position in the kring-global-position
# header: the check compares the set of positions on the topic with 1..N.
kcat -b "$BOOTSTRAP" -t "$TOPIC" -C -e -o beginning -q -f '%h\n' >"$DATA_DIR/topic-headers.txt"
python3 - "$DATA_DIR/topic-headers.txt" "$APPENDED" <<'PY'
import collections, sys
positions = []
for line in open(sys.argv[1]):
    for header in line.strip().split(","):
        key, _, value = header.partition("=")
        if key == "kring-global-position":
            positions.append(int(value))
appended = int(sys.argv[2])
counts = collections.Counter(positions)
missing = [p for p in range(1, appended + 1) if p not in counts]
twice = sorted(p for p, n in counts.items() if n > 1)
print(f"kcat consumed {len(positions)} messages; events appended: {appended}")
if missing or twice or len(counts) != appended:
    print(f"MISMATCH: {len(missing)} positions missing (first {missing[:5]}), {len(twice)} twice", file=sys.stderr)
    sys.exit(1)
print(f"OK: the topic holds log positions 1..{appended}, each exactly once (from each message's kring-global-position header).")
PY
echo
echo "== Security: one SYNTHETIC case with personal data (docs/security.md)"
NAME="SYNTHETIC Fatima Jansen-$SEED"
python3 - "$DATA_DIR/personal.ndjson" "$NAME" <<'PY'
import json, sys, uuid
event = {"event_id": str(uuid.uuid4()), "occurred_at": "2024-05-01T10:00:00Z",
         "case_referred": {"domain": "DOMAIN_YOUTH_PROTECTION", "legal_framework": "LEGAL_FRAMEWORK_JEUGDWET",
                           "referrer_kind": "REFERRER_KIND_MUNICIPALITY", "municipality_code": "GM0363"},
         "personal": {"fields": {"name": sys.argv[2], "address": "SYNTHETIC Kerkstraat 12, Zwolle"}}}
open(sys.argv[1], "w").write(json.dumps({"case_id": "DEMO-PERSONAL-1", "event": event}) + "\n")
PY
as partner append --file "$DATA_DIR/personal.ndjson" --no-progress
echo "-- a researcher may not read a case:"
as researcher --purpose "curiosity" case show DEMO-PERSONAL-1 2>&1 | tail -n 1 || true
echo "-- an auditor reads it, stating why (the personal part is opened):"
as auditor --purpose "demo: complaint 2026-17" case show DEMO-PERSONAL-1
echo "-- an operator erases its personal data:"
as operator erase --case DEMO-PERSONAL-1
echo "-- the auditor reads it again (the sealed part is erased, the history stays):"
as auditor --purpose "demo: complaint 2026-17, after erasure" case show DEMO-PERSONAL-1
as auditor --purpose "demo: integrity check" verify
echo "-- the access log (every audited read, with its purpose; reading it is logged too):"
as auditor --purpose "demo: access review" access-log
if grep -rqa -- "$NAME" "$DATA_DIR/store" "$LOG"; then
  echo "LEAK: the name was found in the data folder or the server log" >&2
  exit 1
fi
echo "OK: the name is in no file of the data folder (it was only ever stored sealed) and not in the server log."
echo
echo "== Stopping kringd (SIGTERM)"
stop_server
trap - EXIT
tail -n 6 "$LOG"
