#!/usr/bin/env bash
# Installs what building and testing Kring needs on Debian 12, only when
# something is missing. Safe to run again. Sourced or executed.
set -euo pipefail

KRING_APT_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  librocksdb-dev librdkafka-dev libspdlog-dev libfmt-dev libgtest-dev libgmock-dev
  libbenchmark-dev libcli11-dev nlohmann-json3-dev libssl-dev
  # kringd's allocator (services/CMakeLists.txt).
  libjemalloc-dev
  kcat python3 clang-format
  # ctest python_client_protobuf_range makes venvs (python3 -m venv needs
  # Debian's ensurepip).
  python3-venv
  # The fuzz target (scripts/fuzz.sh): clang, and libFuzzer's and the
  # sanitizers' runtimes (libclang_rt.fuzzer, .asan, .ubsan), which clang-14
  # only recommends.
  clang libclang-rt-14-dev
  # A real Apache Kafka broker for the end-to-end tests runs on Java; its jars
  # come from Maven Central (tests/kafka/kafka-broker.sh).
  openjdk-17-jre-headless maven
  # The Java partner client (clients/java, ctest java_client) compiles with
  # javac; Maven fetches protoc and the grpc-java plugin from Maven Central.
  # Its TLS test makes certificates with openssl (tests/testing/make_certs.sh).
  openjdk-17-jdk-headless openssl
  # Metrics: prometheus-cpp for kringd's /metrics endpoint; the Prometheus
  # server (and its promtool) for the scrape test and the alerting rules.
  prometheus-cpp-dev prometheus
  # deploy/ (tests/deploy_test.py): systemd-analyze verifies the systemd units.
  systemd
  # kringctl research report (tests/report_render_test.py): Debian's chromium
  # renders the HTML report headless to a PNG.
  chromium
  # bench/side_by_side (issue 16): libpq for its PostgreSQL client; the peer,
  # a throwaway PostgreSQL 15 cluster, for the bench and ctest side_by_side_quick.
  libpq-dev postgresql
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

# The researchers' Python client (clients/python) and its test dependencies
# (pytest; matplotlib for the plot tests; grpcio-tools for the generated-code
# check), for ctest's python_client test. Installed editable, only when
# something is missing.
# PIP_BREAK_SYSTEM_PACKAGES: Debian's own python3 is "externally managed".
KRING_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if ! python3 -c 'import kring_research, pandas, pytest, grpc, grpc_tools, matplotlib' 2>/dev/null; then
  echo "setup: installing the Python client (clients/python[test,plot,generate])" >&2
  if ! python3 -m pip --version >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-pip >&2
  fi
  PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install -q -e "$KRING_ROOT/clients/python[test,plot,generate]" >&2
fi

# The Kaplan–Meier check against lifelines (ctest km_lifelines,
# tests/km_lifelines_test.py): lifelines, numpy, pandas, pytest; and for
# tests/deploy_test.py PyYAML and kubernetes-validate (the Kubernetes JSON
# schemas, offline); for tests/stats_outside_test.py statsmodels (and scipy);
# pinned in tests/requirements.txt. Installed only when one is missing (PIP_BREAK_SYSTEM_PACKAGES:
# as above).
if ! python3 -c 'import lifelines, numpy, pandas, pytest, yaml, kubernetes_validate, statsmodels, scipy, PIL' 2>/dev/null; then
  echo "setup: installing the Python test packages (tests/requirements.txt)" >&2
  if ! python3 -m pip --version >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-pip >&2
  fi
  PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install -q -r "$KRING_ROOT/tests/requirements.txt" >&2
fi

# Go 1.26 or later for the Go partner client (clients/go, ctest go_client;
# gRPC-Go 1.85 needs it). The machine's go is used when it is new enough.
# Otherwise Debian's Go 1.19 (golang-1.19-go) downloads the toolchain module
# golang.org/toolchain from the Go module proxy, which is what Go's own
# toolchain switching fetches, into /usr/local/lib/kring-go, and
# /usr/local/bin/go and gofmt link to it.
KRING_GO_TOOLCHAIN=1.26.8
kring_go_new_enough() {
  local v major minor
  v="$(go env GOVERSION 2>/dev/null)" || return 1 # e.g. go1.26.8
  v="${v#go}"
  major="${v%%.*}"
  minor="${v#*.}"
  minor="${minor%%[!0-9]*}"
  [ "$major" -gt 1 ] 2>/dev/null || { [ "$major" = 1 ] && [ "${minor:-0}" -ge 26 ]; }
}
if ! kring_go_new_enough; then
  echo "setup: installing Go $KRING_GO_TOOLCHAIN from the Go module proxy (bootstrapped by Debian's golang-1.19-go)" >&2
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  if ! dpkg-query -W -f='${Status}' golang-1.19-go 2>/dev/null | grep -q "install ok installed"; then
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends golang-1.19-go >&2
  fi
  kring_go_module="golang.org/toolchain@v0.0.1-go$KRING_GO_TOOLCHAIN.linux-$(dpkg --print-architecture)"
  $SUDO env GOPATH=/usr/local/lib/kring-go GOFLAGS=-modcacherw GOTOOLCHAIN=local \
    /usr/lib/go-1.19/bin/go mod download "$kring_go_module" >&2
  kring_go_root="/usr/local/lib/kring-go/pkg/mod/$kring_go_module"
  # Module zips keep no file modes: make the tools executable again.
  $SUDO chmod +x "$kring_go_root"/bin/* "$kring_go_root"/pkg/tool/*/*
  $SUDO ln -sf "$kring_go_root/bin/go" "$kring_go_root/bin/gofmt" /usr/local/bin/
  kring_go_new_enough || {
    echo "setup: Go $KRING_GO_TOOLCHAIN is in /usr/local/bin, but an older go comes first on PATH ($(command -v go))" >&2
    exit 1
  }
fi
