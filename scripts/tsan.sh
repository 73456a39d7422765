#!/usr/bin/env bash
# Builds the concurrency tests with ThreadSanitizer (clang++ -fsanitize=thread)
# into ./build-tsan (or $KRING_TSAN_BUILD_DIR) and runs them: the event store
# (eventstore_test), its event-id memtable under lookups while one writer
# inserts (id_memtable_test), the relay (relay_test), the projection engine
# (projection_test) and the services' units (services_test).
#
#   scripts/tsan.sh [test binary…]   default: the five above
#
# `scripts/tsan.sh bad_input_test` also runs ingest under racing clients
# against an in-process server: it reports races that ThreadSanitizer cannot
# judge without an instrumented gRPC (docs/operations.md, "ThreadSanitizer").
#
# Debian's gRPC, abseil, protobuf, RocksDB and librdkafka are not instrumented;
# tests/tsan.supp lists the suppressions for races reported inside them, each
# with its reason, and never a Kring frame. Every report that remains fails the
# run: the script exits 1 and prints where the full reports are
# (<build dir>/tsan-logs/<binary>.log). docs/operations.md ("ThreadSanitizer")
# describes the run and its results.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${KRING_TSAN_BUILD_DIR:-build-tsan}"
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"
command -v clang++ >/dev/null || { echo "tsan: clang++ is missing (./scripts/setup.sh installs it)" >&2; exit 2; }
TESTS=("$@")
[ ${#TESTS[@]} -gt 0 ] || TESTS=(eventstore_test id_memtable_test relay_test projection_test services_test)

if [ ! -f "$BUILD_DIR/build.ninja" ] || ! grep -q '^KRING_TSAN:BOOL=ON' "$BUILD_DIR/CMakeCache.txt"; then
  # PRE_TEST discovery: the build does not run the instrumented binaries.
  # KRING_TSAN: the C11-threads shim for librdkafka (tests/testing/tsan_c11_threads.cc).
  cmake -S . -B "$BUILD_DIR" -G Ninja -DKRING_TSAN=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_CXX_FLAGS="-fsanitize=thread -fno-omit-frame-pointer" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=thread" \
    -DCMAKE_GTEST_DISCOVER_TESTS_DISCOVERY_MODE=PRE_TEST \
    -DKRING_BUILD_BENCH=OFF >&2
fi
ninja -C "$BUILD_DIR" -j "${KRING_BUILD_JOBS:-2}" "${TESTS[@]}" >&2

LOGS="$PWD/$BUILD_DIR/tsan-logs"
rm -rf "$LOGS"
mkdir -p "$LOGS"
# halt_on_error=0: collect every report of a run, not only the first.
# log_path: one file per process (kringd children included), <name>.<pid>.
# ignore_noninstrumented_modules=1: memcpy, memcmp and the like called from
# inside an uninstrumented library (RocksDB's write path, librdkafka) are not
# checked: that library's own synchronization is invisible anyway.
# die_after_fork=0: EventStoreTest.SigkillLosesNoAcknowledgedEvent forks a
# child that opens a store (threads) and is then killed; nothing is shared.
export TSAN_OPTIONS="suppressions=$PWD/tests/tsan.supp halt_on_error=0 second_deadlock_stack=1 die_after_fork=0 ignore_noninstrumented_modules=1 \
history_size=4 log_path=$LOGS/tsan ${KRING_TSAN_OPTIONS:-}"
failed=0
for t in "${TESTS[@]}"; do
  bin="$(find "$BUILD_DIR/tests" -maxdepth 1 -name "$t" -type f | head -n 1)"
  [ -n "$bin" ] || { echo "tsan: $t was not built" >&2; exit 2; }
  start=$(date +%s)
  set +e
  (cd "$BUILD_DIR/tests" && "./$t" --gtest_brief=1 >"$LOGS/$t.out" 2>&1)
  rc=$?
  set -e
  secs=$(($(date +%s) - start))
  reports=$(cat "$LOGS"/tsan.* 2>/dev/null | grep -c '^WARNING: ThreadSanitizer' || true)
  for f in "$LOGS"/tsan.*; do [ -e "$f" ] && cat "$f" >>"$LOGS/$t.log" && rm -f "$f"; done
  echo "tsan: $t exit=$rc reports=$reports seconds=$secs" >&2
  if [ "$rc" -ne 0 ] || [ "$reports" -ne 0 ]; then
    failed=1
    grep -E '^(\[  FAILED  \]|WARNING: ThreadSanitizer)' "$LOGS/$t.out" "$LOGS/$t.log" 2>/dev/null | sort | uniq -c | head -n 20 >&2 || true
  fi
done
if [ "$failed" -ne 0 ]; then
  echo "tsan: FAILED; the reports are in $LOGS/<test>.log, the test output in $LOGS/<test>.out" >&2
  exit 1
fi
echo "tsan: clean (${TESTS[*]})" >&2
