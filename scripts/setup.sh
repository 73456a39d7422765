#!/usr/bin/env bash
# Installs what building and testing Kring needs on Debian 12, only when
# something is missing. Safe to run again. Sourced or executed.
set -euo pipefail

KRING_APT_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  librocksdb-dev librdkafka-dev libspdlog-dev libfmt-dev libgtest-dev libgmock-dev
  libbenchmark-dev libcli11-dev nlohmann-json3-dev libssl-dev
  kcat python3 clang-format
  # The fuzz target (scripts/fuzz.sh): clang, and libFuzzer's and the
  # sanitizers' runtimes (libclang_rt.fuzzer, .asan, .ubsan), which clang-14
  # only recommends.
  clang libclang-rt-14-dev
  # A real Apache Kafka broker for the end-to-end tests runs on Java; its jars
  # come from Maven Central (tests/kafka/kafka-broker.sh).
  openjdk-17-jre-headless maven
)

missing=()
for p in "${KRING_APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi
