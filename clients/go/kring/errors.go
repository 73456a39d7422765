package kring

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"
)

// Reason and domain of the google.rpc.ErrorInfo that kringd attaches to an
// ABORTED append (the case is not at the expected version).
const (
	ReasonWrongExpectedVersion = "WRONG_EXPECTED_VERSION"
	ErrorDomain                = "kring.v1"
)

// FieldViolation is one entry of a google.rpc.BadRequest: a field path such
// as "events[3].conference_held.attendee_ids[2]" and the rule it breaks.
type FieldViolation struct {
	Field       string
	Description string
}

// PreconditionViolation is one entry of a google.rpc.PreconditionFailure:
// Type is the rule's stable name (e.g. "ATTENDEE_NOT_INVITED",
// docs/case-rules.md), Subject the field path, Description the rule in words.
type PreconditionViolation struct {
	Type        string
	Subject     string
	Description string
}

// Error is every error this package returns for a call that reached (or
// tried to reach) kringd: a refused batch, a refused read, or a transport
// failure. Use errors.As to get it:
//
//	var kerr *kring.Error
//	if errors.As(err, &kerr) && kerr.Code == codes.Aborted { ... }
//
// Messages from kringd name field paths and rules, never a value that was
// sent, so an Error is safe to log.
type Error struct {
	// Code is the gRPC status code (codes.InvalidArgument, codes.Aborted, ...).
	Code codes.Code
	// Message is the status message: the first violation as "field: rule".
	Message string
	// FieldViolations lists every entry of the google.rpc.BadRequest detail
	// (INVALID_ARGUMENT, RESOURCE_EXHAUSTED for a batch over a limit).
	FieldViolations []FieldViolation
	// PreconditionViolations lists every entry of the
	// google.rpc.PreconditionFailure detail (FAILED_PRECONDITION: a case rule
	// or an idempotency rule; Type names the rule).
	PreconditionViolations []PreconditionViolation
	// Reason, Domain and Metadata are the google.rpc.ErrorInfo detail, when
	// there is one (ABORTED: Reason "WRONG_EXPECTED_VERSION", Domain
	// "kring.v1", Metadata "current_version" and "expected_version"). Read
	// the versions with CurrentVersion and ExpectedVersion.
	Reason   string
	Domain   string
	Metadata map[string]string
	// Attempts is how many times the call was sent (more than 1 after
	// retries; 0 for an acknowledgement on a stream).
	Attempts int

	rpcStatus *status.Status
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "kring: %s: %s", codeName(e.Code), e.Message)
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (after %d attempts)", e.Attempts)
	}
	return b.String()
}

// GRPCStatus lets status.FromError and status.Code read the gRPC status
// (with its details) from an *Error.
func (e *Error) GRPCStatus() *status.Status {
	if e.rpcStatus != nil {
		return e.rpcStatus
	}
	return status.New(e.Code, e.Message)
}

// CurrentVersion is the case's version when the batch was refused for a
// wrong expected version (ABORTED), from the ErrorInfo metadata
// "current_version". ok is false when the error carries none.
func (e *Error) CurrentVersion() (version uint64, ok bool) {
	if e.Reason != ReasonWrongExpectedVersion {
		return 0, false
	}
	v, err := strconv.ParseUint(e.Metadata["current_version"], 10, 64)
	if err != nil {
		return 0, false
	}
	return v, true
}

// ExpectedVersion is the expectation the refused batch carried, from the
// ErrorInfo metadata "expected_version" (a decimal version, or "no_stream").
// ok is false when the error carries none.
func (e *Error) ExpectedVersion() (expected ExpectedVersion, ok bool) {
	if e.Reason != ReasonWrongExpectedVersion {
		return ExpectedVersion{}, false
	}
	s := e.Metadata["expected_version"]
	if s == "no_stream" {
		return NoStream(), true
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return ExpectedVersion{}, false
	}
	return Exact(v), true
}

// Retryable reports whether sending the same batch again may succeed:
// UNAVAILABLE, DEADLINE_EXCEEDED, and RESOURCE_EXHAUSTED unless the batch
// itself is over a limit (then a google.rpc.BadRequest names the field, and
// the same batch would be refused again).
func (e *Error) Retryable() bool {
	switch e.Code {
	case codes.Unavailable, codes.DeadlineExceeded:
		return true
	case codes.ResourceExhausted:
		return len(e.FieldViolations) == 0
	}
	return false
}

// IsCode reports whether err is (or wraps) an *Error with the given code.
func IsCode(err error, code codes.Code) bool {
	var kerr *Error
	return errors.As(err, &kerr) && kerr.Code == code
}

// errorFromStatus turns a gRPC status (with its details) into an *Error.
func errorFromStatus(s *status.Status) *Error {
	e := newError(s.Code(), s.Message(), s.Proto().GetDetails())
	e.rpcStatus = s
	return e
}

// errorFromCall turns whatever a gRPC call returned into an *Error.
func errorFromCall(err error) *Error {
	var kerr *Error
	if errors.As(err, &kerr) {
		return kerr
	}
	if _, isStatus := status.FromError(err); !isStatus &&
		(errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return errorFromStatus(status.FromContextError(err)) // CANCELLED, DEADLINE_EXCEEDED
	}
	return errorFromStatus(status.Convert(err))
}

// errorFromAck turns a refused AppendStream acknowledgement into an *Error.
func errorFromAck(code int32, message string, details []*anypb.Any) *Error {
	e := newError(codes.Code(code), message, details)
	e.rpcStatus = status.FromProto(&spb.Status{Code: code, Message: message, Details: details})
	return e
}

func newError(code codes.Code, message string, details []*anypb.Any) *Error {
	e := &Error{Code: code, Message: message}
	for _, d := range details {
		m, err := d.UnmarshalNew()
		if err != nil {
			continue // a detail of a type this client does not know
		}
		switch m := m.(type) {
		case *errdetails.BadRequest:
			for _, v := range m.GetFieldViolations() {
				e.FieldViolations = append(e.FieldViolations, FieldViolation{Field: v.GetField(), Description: v.GetDescription()})
			}
		case *errdetails.PreconditionFailure:
			for _, v := range m.GetViolations() {
				e.PreconditionViolations = append(e.PreconditionViolations,
					PreconditionViolation{Type: v.GetType(), Subject: v.GetSubject(), Description: v.GetDescription()})
			}
		case *errdetails.ErrorInfo:
			e.Reason, e.Domain, e.Metadata = m.GetReason(), m.GetDomain(), m.GetMetadata()
		}
	}
	return e
}

// codeName is the status code as kringd's docs write it: "INVALID_ARGUMENT".
func codeName(c codes.Code) string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return "CODE(" + strconv.Itoa(int(c)) + ")"
}

var codeNames = [...]string{
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
	"PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
	"UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
}

// CodeName returns the canonical name of a gRPC status code, as kringd's
// documentation and kringctl print it ("FAILED_PRECONDITION").
func CodeName(c codes.Code) string { return codeName(c) }
