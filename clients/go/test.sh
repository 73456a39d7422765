#!/usr/bin/env bash
# The Go client's checks, as ctest's go_client runs them: gofmt, go vet, and
# the tests of every package (the generated code's freshness, the unit tests,
# and the tests against a real kringd, whose path is $KRINGD); package kring,
# whose streams run goroutines, under the race detector. Extra arguments go
# to go test, e.g. ./test.sh -run Stream -v.
set -euo pipefail
cd "$(dirname "$0")"
unformatted="$(gofmt -l .)"
if [ -n "$unformatted" ]; then
  echo "not gofmt-formatted (run gofmt -w clients/go):" >&2
  echo "$unformatted" >&2
  exit 1
fi
go vet ./...
rc=0
go test -count=1 -race "$@" ./kring || rc=1
# shellcheck disable=SC2046 # one argument per package
go test -count=1 "$@" $(go list ./... | grep -v '/kring$') || rc=1
exit $rc
