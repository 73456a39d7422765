package kring

import (
	"strconv"

	"github.com/kring-project/kring/clients/go/kringv1"
)

// ExpectedVersion is the optimistic-concurrency check of an append
// (docs/api.md, "ExpectedVersion"). The zero value is Any: no check.
type ExpectedVersion struct {
	kind    expectedKind
	version uint64
}

type expectedKind int

const (
	expectAny expectedKind = iota
	expectExact
	expectNoStream
)

// Any appends whatever version the case is at.
func Any() ExpectedVersion { return ExpectedVersion{} }

// NoStream appends only when the case has no events yet (a new case).
func NoStream() ExpectedVersion { return ExpectedVersion{kind: expectNoStream} }

// Exact appends only when the case is at exactly version v (0: the case must
// not exist yet). After a batch, the case is at its last_stream_version.
func Exact(v uint64) ExpectedVersion { return ExpectedVersion{kind: expectExact, version: v} }

// Version is the exact version expected; ok is false for Any and NoStream.
func (e ExpectedVersion) Version() (v uint64, ok bool) { return e.version, e.kind == expectExact }

// IsNoStream reports whether this is NoStream().
func (e ExpectedVersion) IsNoStream() bool { return e.kind == expectNoStream }

// IsAny reports whether this is Any() (no check).
func (e ExpectedVersion) IsAny() bool { return e.kind == expectAny }

// String is "any", "no_stream" or the decimal version.
func (e ExpectedVersion) String() string {
	switch e.kind {
	case expectExact:
		return strconv.FormatUint(e.version, 10)
	case expectNoStream:
		return "no_stream"
	}
	return "any"
}

// proto is the message sent in AppendRequest.expected_version (nil for Any:
// unset means "any").
func (e ExpectedVersion) proto() *kringv1.ExpectedVersion {
	switch e.kind {
	case expectExact:
		return &kringv1.ExpectedVersion{Kind: &kringv1.ExpectedVersion_Exact{Exact: e.version}}
	case expectNoStream:
		return &kringv1.ExpectedVersion{Kind: &kringv1.ExpectedVersion_NoStream{NoStream: true}}
	}
	return nil
}
