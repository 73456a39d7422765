#!/usr/bin/env bash
# Regenerates the checked-in Go code of package kringv1 from ../../proto
# (every file of proto/kring/v1), so that `go get` users need no protoc.
#
#   clients/go/generate.sh            # into kringv1/
#   clients/go/generate.sh OUT_DIR    # into OUT_DIR/ (the freshness test)
#
# Needs protoc (Debian's protobuf-compiler, which also brings the
# google/protobuf/*.proto it includes) and Go. The two plugins are installed
# at the pinned versions below with `go install` from the Go module proxy, into
# a temporary GOBIN, so the output depends only on these versions and protoc's.
# protoc-gen-go must be the version of google.golang.org/protobuf in go.mod.
# The google.rpc types (BadRequest, PreconditionFailure, ErrorInfo) are not
# generated here: they come from google.golang.org/genproto/googleapis/rpc.
set -euo pipefail
PROTOC_GEN_GO_VERSION=v1.36.12
PROTOC_GEN_GO_GRPC_VERSION=v1.6.0
MODULE=github.com/kring-project/kring/clients/go

here="$(cd "$(dirname "$0")" && pwd)"
proto_root="$here/../../proto"
out="${1:-$here/kringv1}"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# `go install pkg@version` ignores the current module; GOFLAGS such as
# -mod=mod (set by ctest) do not apply to it and would be refused;
# -modcacherw keeps the module cache removable without root.
GOFLAGS=-modcacherw GOBIN="$tmp/bin" go install "google.golang.org/protobuf/cmd/protoc-gen-go@$PROTOC_GEN_GO_VERSION"
GOFLAGS=-modcacherw GOBIN="$tmp/bin" go install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@$PROTOC_GEN_GO_GRPC_VERSION"

mkdir -p "$tmp/gen"
(cd "$proto_root" && protoc -I . \
  --plugin=protoc-gen-go="$tmp/bin/protoc-gen-go" --plugin=protoc-gen-go-grpc="$tmp/bin/protoc-gen-go-grpc" \
  --go_out="$tmp/gen" --go_opt=module="$MODULE" \
  --go-grpc_out="$tmp/gen" --go-grpc_opt=module="$MODULE" \
  kring/v1/*.proto)

mkdir -p "$out"
rm -f "$out"/*.pb.go
cp "$tmp/gen/kringv1/"*.pb.go "$out/"
