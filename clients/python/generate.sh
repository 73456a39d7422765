#!/usr/bin/env bash
# Regenerates the checked-in gRPC/protobuf modules of kring_research from
# ../../proto (kring/v1/events.proto and kring/v1/research.proto), so that
# `pip install clients/python` needs no protoc.
#
#   clients/python/generate.sh            # into kring_research/_proto/
#   clients/python/generate.sh OUT_DIR    # into OUT_DIR/ (the freshness test)
#
# protoc writes `from kring.v1 import events_pb2`, an import of a top-level
# package `kring` that does not exist once installed. A sed step rewrites it to
# `from kring_research._proto.kring.v1 import events_pb2`, so the modules live
# inside the package and nothing touches sys.path. The descriptor pool still
# knows the files as "kring/v1/*.proto" (what the server's reflection says).
#
# Needs grpcio-tools (pip install -e 'clients/python[generate]'); its version is
# pinned in pyproject.toml so the output matches the checked-in files.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
proto_root="$here/../../proto"
out="${1:-$here/kring_research/_proto}"
python="${PYTHON:-python3}"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$python" -m grpc_tools.protoc -I "$proto_root" \
  --python_out="$tmp" --pyi_out="$tmp" --grpc_python_out="$tmp" \
  kring/v1/events.proto kring/v1/research.proto

mkdir -p "$out/kring/v1"
for f in events_pb2.py events_pb2.pyi research_pb2.py research_pb2.pyi research_pb2_grpc.py; do
  sed -e 's/^from kring\.v1 import /from kring_research._proto.kring.v1 import /' \
    "$tmp/kring/v1/$f" >"$out/kring/v1/$f"
done
# Empty package markers (regular packages, so setuptools finds them).
for d in "$out" "$out/kring" "$out/kring/v1"; do
  [ -f "$d/__init__.py" ] || : >"$d/__init__.py"
done
