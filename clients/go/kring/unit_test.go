package kring

// Without a server: how errors are read from their details, backoff, ids.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/kring-project/kring/clients/go/kringv1"
)

func mustAny(t *testing.T, m proto.Message) *anypb.Any {
	t.Helper()
	a, err := anypb.New(m)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestUnitErrorReadsEveryKindOfDetail(t *testing.T) {
	st, err := status.New(codes.Aborted, "expected_version: expected version 2, but the case is at version 6 (current_version=6)").
		WithDetails(
			&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
				{Field: "events[0].event_id", Description: "must be a lowercase UUID"},
				{Field: "events[1].occurred_at", Description: "is required"},
			}},
			&errdetails.PreconditionFailure{Violations: []*errdetails.PreconditionFailure_Violation{
				{Type: "ATTENDEE_NOT_INVITED", Subject: "events[0].conference_held.attendee_ids[1]", Description: "must be a participant"},
			}},
			&errdetails.ErrorInfo{Reason: "WRONG_EXPECTED_VERSION", Domain: "kring.v1",
				Metadata: map[string]string{"current_version": "6", "expected_version": "2"}},
		)
	if err != nil {
		t.Fatal(err)
	}
	e := errorFromCall(st.Err())
	if e.Code != codes.Aborted || e.Message != st.Message() {
		t.Fatalf("code/message: %v", e)
	}
	if len(e.FieldViolations) != 2 || e.FieldViolations[1] != (FieldViolation{"events[1].occurred_at", "is required"}) {
		t.Fatalf("field violations: %+v", e.FieldViolations)
	}
	if len(e.PreconditionViolations) != 1 || e.PreconditionViolations[0].Type != "ATTENDEE_NOT_INVITED" ||
		e.PreconditionViolations[0].Subject != "events[0].conference_held.attendee_ids[1]" {
		t.Fatalf("precondition violations: %+v", e.PreconditionViolations)
	}
	if v, ok := e.CurrentVersion(); !ok || v != 6 {
		t.Fatalf("CurrentVersion() = %d, %v", v, ok)
	}
	if v, ok := e.ExpectedVersion(); !ok || v.String() != "2" {
		t.Fatalf("ExpectedVersion() = %v, %v", v, ok)
	}
	if got := status.Convert(e); got.Code() != codes.Aborted || len(got.Details()) != 3 {
		t.Fatalf("GRPCStatus lost the details: %v", got)
	}
	if !IsCode(fmt.Errorf("outer: %w", e), codes.Aborted) {
		t.Fatal("IsCode does not see through wrapping")
	}
}

func TestUnitAnAcknowledgementsDetailsMakeTheSameError(t *testing.T) {
	details := []*anypb.Any{
		mustAny(t, &errdetails.ErrorInfo{Reason: "WRONG_EXPECTED_VERSION", Domain: "kring.v1",
			Metadata: map[string]string{"current_version": "4", "expected_version": "no_stream"}}),
	}
	e := errorFromAck(int32(codes.Aborted), "expected_version: the case must not exist yet", details)
	if v, ok := e.ExpectedVersion(); !ok || !v.IsNoStream() {
		t.Fatalf("ExpectedVersion() = %v, %v", v, ok)
	}
	if v, ok := e.CurrentVersion(); !ok || v != 4 {
		t.Fatalf("CurrentVersion() = %d, %v", v, ok)
	}
	if e.Error() != "kring: ABORTED: expected_version: the case must not exist yet" {
		t.Fatalf("Error() = %q", e.Error())
	}
}

func TestUnitVersionsNeedTheWrongExpectedVersionErrorInfo(t *testing.T) {
	e := &Error{Code: codes.Aborted, Reason: "SOMETHING_ELSE", Metadata: map[string]string{"current_version": "3"}}
	if _, ok := e.CurrentVersion(); ok {
		t.Fatal("CurrentVersion from an ErrorInfo of another reason")
	}
	e = &Error{Code: codes.Aborted, Reason: ReasonWrongExpectedVersion, Metadata: map[string]string{"current_version": "x"}}
	if _, ok := e.CurrentVersion(); ok {
		t.Fatal("CurrentVersion from a value that is no number")
	}
}

func TestUnitRetryableCodes(t *testing.T) {
	limit := &Error{Code: codes.ResourceExhausted, FieldViolations: []FieldViolation{{Field: "events"}}}
	for _, c := range []struct {
		err  *Error
		want bool
	}{
		{&Error{Code: codes.Unavailable}, true},
		{&Error{Code: codes.DeadlineExceeded}, true},
		{&Error{Code: codes.ResourceExhausted}, true}, // queue full, disk full
		{limit, false},
		{&Error{Code: codes.Aborted}, false},
		{&Error{Code: codes.InvalidArgument}, false},
		{&Error{Code: codes.FailedPrecondition}, false},
		{&Error{Code: codes.PermissionDenied}, false},
		{&Error{Code: codes.Internal}, false},
	} {
		if got := c.err.Retryable(); got != c.want {
			t.Errorf("%v with %d violations: Retryable() = %v", c.err.Code, len(c.err.FieldViolations), got)
		}
	}
}

func TestUnitBackoffDoublesWithinItsBounds(t *testing.T) {
	p := RetryPolicy{MaxAttempts: 10, InitialBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}
	for n, ceiling := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		ceiling *= time.Millisecond
		for range 50 {
			if b := p.backoff(n + 1); b < ceiling/2 || b > ceiling {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v]", n+1, b, ceiling/2, ceiling)
			}
		}
	}
}

func TestUnitUnavailableIsRetriedUntilTheAttemptsRunOut(t *testing.T) {
	// A loopback port nobody listens on: every attempt is UNAVAILABLE.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var retried []int
	policy := RetryPolicy{MaxAttempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond,
		OnRetry: func(attempt int, err *Error, _ time.Duration) { retried = append(retried, attempt) }}
	c, err := Dial(addr, WithRetry(policy))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = c.Append(ctx, "SYNTHETIC-1", NoStream(), []*kringv1.Event{{}})
	var kerr *Error
	if !errors.As(err, &kerr) || kerr.Code != codes.Unavailable || kerr.Attempts != 3 || len(retried) != 2 {
		t.Fatalf("got %v (retries %v)", err, retried)
	}
}

func TestUnitEventIDsAreLowercaseVersion4UUIDs(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 1000 {
		id := NewEventID()
		if !re.MatchString(id) || seen[id] {
			t.Fatalf("bad or repeated id %q", id)
		}
		seen[id] = true
	}
}

func TestUnitAppendRequestKeepsGivenIDsAndFillsMissingOnes(t *testing.T) {
	given := &kringv1.Event{EventId: "0b6f3f2e-6c1a-4d53-9a55-1f7f4c0b2d11"}
	missing := &kringv1.Event{}
	req, err := newAppendRequest("SYNTHETIC-1", Exact(0), []*kringv1.Event{given, missing})
	if err != nil {
		t.Fatal(err)
	}
	if given.EventId != "0b6f3f2e-6c1a-4d53-9a55-1f7f4c0b2d11" || missing.EventId == "" || req.Events[1].EventId != missing.EventId {
		t.Fatalf("ids: %q %q", given.EventId, missing.EventId)
	}
	if ev := req.GetExpectedVersion(); ev == nil || ev.GetKind() == nil || ev.GetExact() != 0 {
		t.Fatalf("Exact(0) must be sent as a set exact 0, got %v", ev)
	}
	if _, err := newAppendRequest("SYNTHETIC-1", Any(), []*kringv1.Event{nil}); !IsCode(err, codes.InvalidArgument) {
		t.Fatalf("nil event: %v", err)
	}
}

func TestUnitExpectedVersionsOnTheWire(t *testing.T) {
	if Any().proto() != nil {
		t.Fatal("Any must leave expected_version unset")
	}
	if !NoStream().proto().GetNoStream() {
		t.Fatal("NoStream must set no_stream true")
	}
	if Exact(7).proto().GetExact() != 7 {
		t.Fatal("Exact(7)")
	}
}

func TestUnitDialRefusesBadOptions(t *testing.T) {
	for name, opt := range map[string]Option{
		"token":  WithToken("two words"),
		"empty":  WithToken(""),
		"window": WithStreamWindow(65),
		"retry":  WithRetry(RetryPolicy{}),
	} {
		if _, err := Dial("127.0.0.1:1", opt); err == nil {
			t.Errorf("%s: Dial accepted it", name)
		}
	}
	if _, err := Dial(""); err == nil {
		t.Error("empty address accepted")
	}
}

func TestUnitReadCaseHeadNeedsAPrintablePurpose(t *testing.T) {
	c, err := Dial("127.0.0.1:1", WithRetry(RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, purpose := range []string{"", "two\nlines", "é", strings.Repeat("x", 201)} {
		_, err := c.ReadCaseHead(context.Background(), "SYNTHETIC-1", purpose)
		var kerr *Error
		if !errors.As(err, &kerr) || kerr.Code != codes.InvalidArgument || len(kerr.FieldViolations) != 1 ||
			kerr.FieldViolations[0].Field != "purpose" {
			t.Errorf("purpose %q: got %v", purpose, err)
		}
	}
}

func TestUnitAnEndedContextIsDeadlineExceededOrCancelled(t *testing.T) {
	if e := errorFromCall(context.DeadlineExceeded); e.Code != codes.DeadlineExceeded {
		t.Errorf("deadline: %v", e)
	}
	if e := errorFromCall(fmt.Errorf("waiting: %w", context.Canceled)); e.Code != codes.Canceled {
		t.Errorf("cancelled: %v", e)
	}
}
