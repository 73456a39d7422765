#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs the whole suite
# through ctest (unit, fault-injection and end-to-end tests, including one
# against a real Apache Kafka broker fetched through Maven, and `fuzz_append`,
# which builds the libFuzzer target with clang into build-fuzz/ and runs it for
# a minute: scripts/fuzz.sh), the kill -9 loop for 10 cycles (`chaos_quick`:
# scripts/chaos.sh) and the ThreadSanitizer build and run of the concurrency
# tests (`tsan`: scripts/tsan.sh, into build-tsan).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/format.sh --check
./scripts/build.sh
BUILD_DIR="${KRING_BUILD_DIR:-build}"
# Tests start servers and brokers of their own; run them one at a time so
# their timing is not at the mercy of each other on two cores.
cd "$BUILD_DIR"
ctest --output-on-failure --timeout 600 "$@"
