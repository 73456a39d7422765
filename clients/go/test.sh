#!/usr/bin/env bash
# The Go client's checks, as ctest's go_client runs them: gofmt, go vet, and
# go test ./... (the generated code's freshness, the unit tests, and the tests
# against a real kringd, whose path is $KRINGD). Extra arguments go to
# go test, e.g. ./test.sh -run Stream -v.
set -euo pipefail
cd "$(dirname "$0")"
unformatted="$(gofmt -l .)"
if [ -n "$unformatted" ]; then
  echo "not gofmt-formatted (run gofmt -w clients/go):" >&2
  echo "$unformatted" >&2
  exit 1
fi
go vet ./...
go test -count=1 "$@" ./...
