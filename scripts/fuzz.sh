#!/usr/bin/env bash
# Builds the append fuzz target with clang (libFuzzer, AddressSanitizer,
# LeakSanitizer, UndefinedBehaviorSanitizer) into ./build-fuzz (or
# $KRING_FUZZ_BUILD_DIR) and runs it for [seconds] (default $KRING_FUZZ_SECONDS,
# else 60) from a copy of
# the checked-in seed corpus, so nothing is written into the repository.
# Exits non-zero on any crash, leak, timeout or sanitizer report; the input
# that caused it is kept in <build dir>/fuzz-artifacts/ (see fuzz/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN="${1:-${KRING_FUZZ_SECONDS:-60}}"
BUILD_DIR="${KRING_FUZZ_BUILD_DIR:-build-fuzz}"
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"
command -v clang++ >/dev/null || { echo "fuzz: clang++ is missing (./scripts/setup.sh installs it)" >&2; exit 2; }
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
    -DKRING_BUILD_TESTS=OFF -DKRING_BUILD_BENCH=OFF -DKRING_BUILD_FUZZ=ON >&2
fi
# Only the fuzz target and what it links, not the rest of Kring.
ninja -C "$BUILD_DIR" -j "${KRING_BUILD_JOBS:-2}" append_fuzzer >&2

ARTIFACTS="$PWD/$BUILD_DIR/fuzz-artifacts"
mkdir -p "$ARTIFACTS"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/kring-fuzz-XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
cp -r fuzz/corpus/append "$WORK/corpus"
mkdir -p "$WORK/tmp"

# The event store's folder goes under TMPDIR, removed with $WORK. Leak
# detection stays on (libFuzzer checks each input, LeakSanitizer the whole run
# at exit); undefined behaviour and sanitizer reports abort the run.
export TMPDIR="$WORK/tmp"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}"
echo "fuzz: append_fuzzer for ${SECONDS_TO_RUN}s from $(ls fuzz/corpus/append | wc -l) seeds" >&2
set +e
"$BUILD_DIR/fuzz/append_fuzzer" "$WORK/corpus" \
  -dict=fuzz/append.dict \
  -max_total_time="$SECONDS_TO_RUN" \
  -max_len=8192 \
  -timeout=30 \
  -rss_limit_mb=4096 \
  -detect_leaks=1 \
  -print_final_stats=1 \
  -artifact_prefix="$ARTIFACTS/" \
  >"$WORK/fuzz.log" 2>&1
rc=$?
set -e
# The start, the coverage milestones' last lines and the final statistics.
grep -E '^(INFO|#[0-9]+[[:space:]]+(INITED|DONE)|stat::|Done)' "$WORK/fuzz.log" >&2 || true
tail -n 3 "$WORK/fuzz.log" | grep -vE '^(stat::|Done)' >&2 || true
if [ $rc -ne 0 ] || grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|invariant broken' "$WORK/fuzz.log"; then
  echo "fuzz: FAILED (exit $rc). Log:" >&2
  tail -n 80 "$WORK/fuzz.log" >&2
  # Keep the whole log and the run's corpus: the store carries state from one
  # input to the next, so the inputs before the failing one may matter.
  kept="$ARTIFACTS/run-$(date +%Y%m%d-%H%M%S)"
  mkdir -p "$kept" && cp "$WORK/fuzz.log" "$kept/" && cp -rp "$WORK/corpus" "$kept/"
  echo "fuzz: the failing input is in $ARTIFACTS/, the log and corpus of the run in $kept/" >&2
  echo "fuzz: to reproduce, see fuzz/README.md" >&2
  exit 1
fi
echo "fuzz: OK, no crash, leak or sanitizer report" >&2
