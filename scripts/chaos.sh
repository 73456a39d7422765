#!/usr/bin/env bash
# The kill -9 loop (docs/operations.md, "Chaos runs"). Starts kringd on a data
# folder, runs clients on Append (unary) and AppendStream (bidi) that journal
# every acknowledgement and refusal, SIGKILLs kringd at random moments and
# restarts it on the same folder, --cycles times. Then it lets the clients
# finish (each batch without an answer is sent again with the same event ids
# until answered) and checks, through the audit and operations APIs of a
# last kringd (tests/chaos_tool.cc, `check`):
#   - every acknowledged event is stored exactly once, in its case, at the
#     position and version of its acknowledgement;
#   - positions 1..head and every case's versions 1..n have no gap;
#   - nothing is stored that was not acknowledged, and no event of a refused
#     batch is stored;
#   - the hash chain verifies over the whole log;
#   - every read model answers its research question exactly as after a clean
#     rebuild (OperationsService.Rebuild).
#
#   scripts/chaos.sh [--cycles N] [--clients N] [--seed S] [--data-dir DIR]
#                    [--build-dir DIR] [--catch-up-seconds N] [--tamper]
#
#   --cycles N     kills and restarts (default 10)
#   --clients N    client processes, half unary, half stream (default 4)
#   --seed S       seeds the kill moments and the cases (default: the clock; printed)
#   --data-dir DIR kringd's data folder, must not exist (default: a new folder in
#                  $TMPDIR, removed after a clean run, kept after a failed one)
#   --build-dir    where kringd and chaos_tool are built (default ./build)
#   --catch-up-seconds N  how long the check waits for the read models to reach
#                  the head (default 900; 20 with --tamper, whose deleted event
#                  holds them back)
#   --tamper       proves the checker: before the last start, deletes one
#                  acknowledged event from the stopped store (chaos_tool tamper);
#                  the run must then fail
#
# Exit: 0 when every check holds; 1 on any violation (the report names each);
# 2 on bad usage or when kringd does not start.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CYCLES=10
CLIENTS=4
SEED=""
DATA=""
BUILD="$ROOT/build"
TAMPER=0
CATCH_UP=""
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --cycles) CYCLES="$2"; shift 2 ;;
    --clients) CLIENTS="$2"; shift 2 ;;
    --seed) SEED="$2"; shift 2 ;;
    --data-dir) DATA="$2"; shift 2 ;;
    --build-dir) BUILD="$2"; shift 2 ;;
    --tamper) TAMPER=1; shift ;;
    --catch-up-seconds) CATCH_UP="$2"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "chaos: unknown option $1" >&2; usage ;;
  esac
done
[[ "$CYCLES" =~ ^[0-9]+$ && "$CLIENTS" =~ ^[1-9][0-9]*$ ]] || { echo "chaos: --cycles and --clients take numbers" >&2; exit 2; }
[ -n "$SEED" ] || SEED=$(( $(date +%s) % 100000 ))
[[ "$SEED" =~ ^[0-9]+$ ]] || { echo "chaos: --seed takes a number" >&2; exit 2; }
KRINGD="$BUILD/services/kringd"
TOOL="$BUILD/tests/chaos_tool"
for b in "$KRINGD" "$TOOL"; do
  [ -x "$b" ] || { echo "chaos: $b is missing; build it: ./scripts/build.sh kringd chaos_tool" >&2; exit 2; }
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/kring-chaos-XXXXXX")"
if [ -z "$DATA" ]; then
  DATA="$WORK/data"
elif [ -e "$DATA" ]; then
  echo "chaos: --data-dir $DATA exists; give a new folder" >&2
  exit 2
fi
JOURNALS="$WORK/journal"
mkdir -p "$JOURNALS"
STOP="$WORK/stop"
READY="$WORK/kringd.ready"
LOG="$WORK/kringd.log"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ADDR="127.0.0.1:$PORT"
RANDOM=$SEED
KRINGD_PID=""
CLIENT_PIDS=()

cleanup() {
  [ -n "$KRINGD_PID" ] && kill -9 "$KRINGD_PID" 2>/dev/null || true
  for p in "${CLIENT_PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

# Starts kringd in the background on the data folder, on the same port.
start_kringd() {
  rm -f "$READY"
  echo "--- start $(date -u +%T.%N)" >>"$LOG"
  "$KRINGD" --data-dir "$DATA" --listen "$ADDR" --ready-file "$READY" >>"$LOG" 2>&1 &
  KRINGD_PID=$!
}
# Waits (at most 120 s) until kringd is ready; exits 2 when it dies or stays unready.
wait_ready() {
  local waited=0
  while [ ! -s "$READY" ]; do
    if ! kill -0 "$KRINGD_PID" 2>/dev/null; then
      echo "chaos: kringd exited during start-up; the end of $LOG:" >&2
      tail -n 30 "$LOG" >&2
      trap - EXIT; cleanup; exit 2
    fi
    [ $waited -lt 1200 ] || { echo "chaos: kringd not ready after 120 s" >&2; tail -n 30 "$LOG" >&2; exit 2; }
    sleep 0.1
    waited=$((waited + 1))
  done
}
kill_kringd() {
  kill -9 "$KRINGD_PID" 2>/dev/null || true
  wait "$KRINGD_PID" 2>/dev/null || true
  KRINGD_PID=""
}
# A random number of milliseconds in [lo, hi].
random_ms() { echo $(( $1 + (RANDOM * 32768 + RANDOM) % ($2 - $1 + 1) )); }
sleep_ms() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }

started_at=$(date +%s)
echo "chaos: seed=$SEED cycles=$CYCLES clients=$CLIENTS data=$DATA work=$WORK" >&2
start_kringd
wait_ready
for ((k = 0; k < CLIENTS; k++)); do
  mode=unary
  [ $((k % 2)) -eq 1 ] && mode=stream
  "$TOOL" client --server "$ADDR" --journal "$JOURNALS/client-$k-$mode.journal" --client "$k" --mode "$mode" \
    --seed "$SEED" --stop-file "$STOP" >>"$WORK/clients.log" 2>&1 &
  CLIENT_PIDS+=($!)
done

# The kill moments: mostly while serving (0.3 to 3 s after it is ready), one
# in eight during start-up (recovery, read-model catch-up, relay start).
during_startup=0
for ((cycle = 1; cycle <= CYCLES; cycle++)); do
  if [ $cycle -gt 1 ]; then
    start_kringd
    if [ $((RANDOM % 8)) -eq 0 ]; then
      sleep_ms "$(random_ms 0 1500)"
      during_startup=$((during_startup + 1))
      kill_kringd
      continue
    fi
    wait_ready
  fi
  sleep_ms "$(random_ms 300 3000)"
  kill_kringd
  printf 'chaos: cycle %d/%d: kringd killed; %s acknowledged lines so far\n' "$cycle" "$CYCLES" \
    "$(cat "$JOURNALS"/*.journal | grep -c '^A' || true)" >&2
done

if [ $TAMPER -eq 1 ]; then
  victim=$(grep -h '^A' "$JOURNALS"/*.journal | awk 'NR==100 {print $4}')
  [ -n "$victim" ] || victim=$(grep -h '^A' "$JOURNALS"/*.journal | awk 'NR==1 {print $4}')
  echo "chaos: --tamper: deleting the acknowledged event at position $victim from the stopped store" >&2
  "$TOOL" tamper --events "$DATA/events" --delete-position "$victim" >&2
fi

# The last start: the clients finish what is in flight, then the check.
start_kringd
wait_ready
touch "$STOP"
client_failures=0
for p in "${CLIENT_PIDS[@]}"; do
  # Each client ends by itself: it stops taking cases and gives up after 180 s
  # without an answer.
  wait "$p" || client_failures=$((client_failures + 1))
done
CLIENT_PIDS=()
set +e
# A tampered store leaves a read model waiting for the deleted event: do not wait long.
catch_up=900
[ $TAMPER -eq 0 ] || catch_up=20
[ -z "$CATCH_UP" ] || catch_up="$CATCH_UP"
"$TOOL" check --server "$ADDR" --journal-dir "$JOURNALS" --catch-up-seconds "$catch_up" >"$WORK/check.out" 2>&1
check_rc=$?
set -e
kill -TERM "$KRINGD_PID"
kringd_rc=0
wait "$KRINGD_PID" || kringd_rc=$?
KRINGD_PID=""
grep -v '^{' "$WORK/check.out" >&2 || true
figures=$(grep '^{' "$WORK/check.out" | tail -n 1 || true)
[ -n "$figures" ] || figures='{}'
summary=$(python3 - "$figures" "$CYCLES" "$during_startup" "$(($(date +%s) - started_at))" <<'EOF'
import json, sys
f = json.loads(sys.argv[1])
print("cycles=%s kills_during_startup=%s seconds=%s cases=%s head=%s events_acknowledged=%s batches=%s retries=%s "
      "already_recorded=%s refused=%s reconnects=%s read_models_compared=%s violations=%s" % (
      sys.argv[2], sys.argv[3], sys.argv[4], f.get("cases"), f.get("head"), f.get("events_acknowledged"),
      f.get("batches"), f.get("retries"), f.get("already_recorded"), f.get("events_refused"), f.get("reconnects"),
      str(f.get("read_models_compared")).lower(), f.get("violations")))
EOF
)
echo "chaos: $summary" >&2
failed=0
if [ $check_rc -ne 0 ] || [ $client_failures -ne 0 ] || [ $kringd_rc -ne 0 ]; then
  echo "chaos: FAILED (check exit $check_rc, $client_failures client(s) failed, kringd's last stop exit $kringd_rc)." \
    "Kept: $WORK (journal/, check.out, kringd.log, clients.log) and $DATA" >&2
  failed=1
fi
if [ $failed -eq 0 ]; then
  rm -rf "$WORK"  # with the data folder when it was ours
  echo "chaos: PASSED" >&2
fi
exit $failed
