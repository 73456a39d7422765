package kring_test

// Against a real kringd (internal/kringdtest: $KRINGD, embedded Kafka,
// identities with two partners), started once for this file's tests.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/kring-project/kring/clients/go/internal/kringdtest"
	"github.com/kring-project/kring/clients/go/kring"
	"github.com/kring-project/kring/clients/go/kringv1"
)

// The purpose the tests state for ReadCaseHead.
const purpose = "go client test"

// The batch limit of the test server: a whole case fits, 21 events do not.
const maxBatchEvents = 20

var (
	serverOnce sync.Once
	server     *kringdtest.Server
	serverErr  error
	serverDir  string
)

// kringd is the test server, started by the first test that needs it.
func kringd(t *testing.T) *kringdtest.Server {
	t.Helper()
	serverOnce.Do(func() {
		serverDir, serverErr = os.MkdirTemp("", "kring-go-test-")
		if serverErr == nil {
			server, serverErr = kringdtest.Start(serverDir, "--max-batch-events", fmt.Sprint(maxBatchEvents))
		}
	})
	if serverErr != nil {
		t.Fatal(serverErr)
	}
	return server
}

func TestMain(m *testing.M) {
	code := m.Run()
	if server != nil {
		if err := server.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "FAIL:", err)
			code = 1
		}
	}
	if code == 0 && serverDir != "" {
		os.RemoveAll(serverDir)
	}
	os.Exit(code)
}

// dial connects as partner (kringdtest.PartnerA or PartnerB) with opts.
func dial(t *testing.T, partner string, opts ...kring.Option) *kring.Client {
	t.Helper()
	srv := kringd(t)
	c, err := kring.Dial(srv.Address, append([]kring.Option{kring.WithToken(srv.Tokens[partner])}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// asError is err as a *kring.Error, or fails the test.
func asError(t *testing.T, err error) *kring.Error {
	t.Helper()
	var kerr *kring.Error
	if !errors.As(err, &kerr) {
		t.Fatalf("want a *kring.Error, got %T: %v", err, err)
	}
	return kerr
}

// appendPreparation stores a new case's first batch and returns the case id
// and the version it is at.
func appendPreparation(t *testing.T, ctx context.Context, c *kring.Client) (string, uint64) {
	t.Helper()
	caseID := kringdtest.CaseID()
	res, err := c.Append(ctx, caseID, kring.NoStream(), kringdtest.WholeCase()[0])
	if err != nil {
		t.Fatalf("preparation batch: %v", err)
	}
	return caseID, res.GetLastStreamVersion()
}

func TestAppendsAWholeCaseBatchByBatchWithExactVersions(t *testing.T) {
	ctx := testContext(t)
	c := dial(t, kringdtest.PartnerA)
	caseID := kringdtest.CaseID()
	expected := kring.NoStream()
	var version uint64
	var last *kringv1.Event
	for i, batch := range kringdtest.WholeCase() {
		res, err := c.Append(ctx, caseID, expected, batch)
		if err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		if res.GetAlreadyRecorded() {
			t.Fatalf("batch %d: a new batch came back already_recorded", i)
		}
		if res.GetFirstStreamVersion() != version+1 || res.GetLastStreamVersion() != version+uint64(len(batch)) {
			t.Fatalf("batch %d: versions %d-%d, want %d-%d", i, res.GetFirstStreamVersion(), res.GetLastStreamVersion(),
				version+1, version+uint64(len(batch)))
		}
		if got := res.GetLastGlobalPosition() - res.GetFirstGlobalPosition() + 1; got != uint64(len(batch)) {
			t.Fatalf("batch %d: positions %d-%d for %d events", i, res.GetFirstGlobalPosition(), res.GetLastGlobalPosition(), len(batch))
		}
		for j, e := range batch {
			if e.GetEventId() == "" {
				t.Fatalf("batch %d event %d: Append left the event id empty", i, j)
			}
		}
		version = res.GetLastStreamVersion()
		expected = kring.Exact(version)
		last = batch[len(batch)-1]
	}
	head, err := c.ReadCaseHead(ctx, caseID, purpose)
	if err != nil {
		t.Fatal(err)
	}
	if !head.GetExists() || head.GetVersion() != version || head.GetLastEventId() != last.GetEventId() || !head.GetClosed() {
		t.Fatalf("head %v, want exists, version %d, last event %s, closed", head, version, last.GetEventId())
	}
}

// lostAck stores the first Append as usual but tells the client it failed
// with UNAVAILABLE, as when the connection drops before the answer arrives.
type lostAck struct {
	dropped atomic.Bool
	stored  atomic.Pointer[kringv1.AppendResult]
	calls   atomic.Int32
}

func (l *lostAck) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn,
	invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	err := invoker(ctx, method, req, reply, cc, opts...)
	if method != kringv1.IngestService_Append_FullMethodName {
		return err
	}
	l.calls.Add(1)
	if err == nil && l.dropped.CompareAndSwap(false, true) {
		l.stored.Store(proto.Clone(reply.(*kringv1.AppendResult)).(*kringv1.AppendResult))
		return status.Error(codes.Unavailable, "test: the acknowledgement was lost")
	}
	return err
}

func TestARetryAfterALostAcknowledgementIsAlreadyRecordedWithTheSamePositions(t *testing.T) {
	ctx := testContext(t)
	lost := &lostAck{}
	var retries []codes.Code
	policy := kring.DefaultRetryPolicy()
	policy.InitialBackoff, policy.MaxBackoff = time.Millisecond, time.Millisecond
	policy.OnRetry = func(attempt int, err *kring.Error, wait time.Duration) { retries = append(retries, err.Code) }
	c := dial(t, kringdtest.PartnerA, kring.WithRetry(policy),
		kring.WithDialOptions(grpc.WithChainUnaryInterceptor(lost.intercept)))

	caseID := kringdtest.CaseID()
	batch := kringdtest.WholeCase()[0]
	res, err := c.Append(ctx, caseID, kring.NoStream(), batch)
	if err != nil {
		t.Fatalf("Append after a lost acknowledgement: %v", err)
	}
	stored := lost.stored.Load()
	if stored == nil || lost.calls.Load() != 2 || len(retries) != 1 || retries[0] != codes.Unavailable {
		t.Fatalf("want one stored attempt whose answer was lost and one retry; calls %d, retries %v", lost.calls.Load(), retries)
	}
	if !res.GetAlreadyRecorded() {
		t.Fatalf("the retry was stored again: %v (first attempt %v)", res, stored)
	}
	if res.GetFirstGlobalPosition() != stored.GetFirstGlobalPosition() || res.GetLastGlobalPosition() != stored.GetLastGlobalPosition() ||
		res.GetFirstStreamVersion() != stored.GetFirstStreamVersion() || res.GetLastStreamVersion() != stored.GetLastStreamVersion() {
		t.Fatalf("retry answered %v, the first attempt was stored at %v", res, stored)
	}
	head, err := c.ReadCaseHead(ctx, caseID, purpose)
	if err != nil {
		t.Fatal(err)
	}
	if head.GetVersion() != uint64(len(batch)) {
		t.Fatalf("case at version %d after one batch of %d events", head.GetVersion(), len(batch))
	}
}

func TestABadEventGivesAnErrorWithEveryFieldViolation(t *testing.T) {
	ctx := testContext(t)
	attempts := 0
	policy := kring.DefaultRetryPolicy()
	policy.OnRetry = func(int, *kring.Error, time.Duration) { attempts++ }
	c := dial(t, kringdtest.PartnerA, kring.WithRetry(policy))
	bad := &kringv1.Event{
		EventId:    "NOT-A-UUID",
		OccurredAt: kringdtest.Referral().GetOccurredAt(),
		Payload: &kringv1.Event_CaseReferred{CaseReferred: &kringv1.CaseReferred{
			MunicipalityCode:   "Amsterdam",
			PreferredLanguages: []string{"dutch language"},
		}},
	}
	_, err := c.Append(ctx, kringdtest.CaseID(), kring.NoStream(), []*kringv1.Event{bad})
	kerr := asError(t, err)
	if kerr.Code != codes.InvalidArgument || attempts != 0 {
		t.Fatalf("want INVALID_ARGUMENT, not retried; got %v after %d retries", kerr, attempts)
	}
	got := map[string]bool{}
	for _, v := range kerr.FieldViolations {
		if v.Description == "" {
			t.Errorf("violation of %s has no description", v.Field)
		}
		got[v.Field] = true
	}
	for _, field := range []string{
		"events[0].event_id",
		"events[0].case_referred.domain",
		"events[0].case_referred.legal_framework",
		"events[0].case_referred.referrer_kind",
		"events[0].case_referred.municipality_code",
		"events[0].case_referred.preferred_languages[0]",
	} {
		if !got[field] {
			t.Errorf("no field violation for %s; got %+v", field, kerr.FieldViolations)
		}
	}
	if len(kerr.FieldViolations) != 6 {
		t.Errorf("want 6 field violations, got %+v", kerr.FieldViolations)
	}
}

func TestABrokenCaseRuleGivesItsPreconditionViolation(t *testing.T) {
	ctx := testContext(t)
	c := dial(t, kringdtest.PartnerA)
	// A conference before any coordinator was assigned.
	batch := []*kringv1.Event{kringdtest.Referral(), kringdtest.WholeCase()[1][0]}
	_, err := c.Append(ctx, kringdtest.CaseID(), kring.NoStream(), batch)
	kerr := asError(t, err)
	if kerr.Code != codes.FailedPrecondition || len(kerr.PreconditionViolations) != 1 {
		t.Fatalf("want FAILED_PRECONDITION with one violation, got %v %+v", kerr, kerr.PreconditionViolations)
	}
	v := kerr.PreconditionViolations[0]
	if v.Type != "CONFERENCE_NEEDS_COORDINATOR" || v.Subject != "events[1].conference_held" {
		t.Fatalf("got violation %+v", v)
	}
}

func TestAWrongExpectedVersionIsAbortedWithTheCurrentVersion(t *testing.T) {
	ctx := testContext(t)
	c := dial(t, kringdtest.PartnerA)
	caseID, version := appendPreparation(t, ctx, c)

	_, err := c.Append(ctx, caseID, kring.Exact(2), []*kringv1.Event{kringdtest.Cost()})
	kerr := asError(t, err)
	if kerr.Code != codes.Aborted {
		t.Fatalf("want ABORTED, got %v", kerr)
	}
	current, ok := kerr.CurrentVersion()
	if !ok || current != version {
		t.Fatalf("CurrentVersion() = %d, %v; want %d (error %v, metadata %v)", current, ok, version, kerr, kerr.Metadata)
	}
	expected, ok := kerr.ExpectedVersion()
	if v, exact := expected.Version(); !ok || !exact || v != 2 {
		t.Fatalf("ExpectedVersion() = %v, %v; want 2", expected, ok)
	}
	if kerr.Domain != kring.ErrorDomain {
		t.Fatalf("ErrorInfo domain %q", kerr.Domain)
	}

	_, err = c.Append(ctx, caseID, kring.NoStream(), []*kringv1.Event{kringdtest.Cost()})
	kerr = asError(t, err)
	expected, ok = kerr.ExpectedVersion()
	if current, _ := kerr.CurrentVersion(); kerr.Code != codes.Aborted || !ok || !expected.IsNoStream() || current != version {
		t.Fatalf("no_stream on an existing case: %v, expected %v, current %d", kerr, expected, current)
	}

	// What the error says is enough to continue.
	if _, err := c.Append(ctx, caseID, kring.Exact(current), []*kringv1.Event{kringdtest.Cost()}); err != nil {
		t.Fatalf("append with the current version: %v", err)
	}
}

func TestReadCaseHeadOfOwnMissingAndOtherPartnersCases(t *testing.T) {
	ctx := testContext(t)
	a := dial(t, kringdtest.PartnerA)
	b := dial(t, kringdtest.PartnerB)
	caseID, version := appendPreparation(t, ctx, a)

	head, err := a.ReadCaseHead(ctx, caseID, purpose)
	if err != nil {
		t.Fatal(err)
	}
	if head.GetCaseId() != caseID || !head.GetExists() || head.GetVersion() != version || head.GetClosed() ||
		head.GetLastEventId() == "" || head.GetLastGlobalPosition() == 0 {
		t.Fatalf("own case: %v", head)
	}

	missing, err := a.ReadCaseHead(ctx, kringdtest.CaseID(), purpose)
	if err != nil {
		t.Fatal(err)
	}
	if missing.GetExists() || missing.GetVersion() != 0 {
		t.Fatalf("a case without events: %v", missing)
	}

	_, readErr := b.ReadCaseHead(ctx, caseID, purpose)
	_, appendErr := b.Append(ctx, caseID, kring.Any(), []*kringv1.Event{kringdtest.Cost()})
	r, w := asError(t, readErr), asError(t, appendErr)
	if r.Code != codes.PermissionDenied || r.Code != w.Code || r.Message != w.Message {
		t.Fatalf("another partner's case: read %v, append %v; want the same PERMISSION_DENIED", r, w)
	}
}

func TestTheStreamAcknowledgesEveryBatchInOrder(t *testing.T) {
	ctx := testContext(t)
	c := dial(t, kringdtest.PartnerA, kring.WithStreamWindow(8))
	s, err := c.OpenStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var acks []kring.Ack
	done := make(chan struct{})
	go func() {
		defer close(done)
		for a := range s.Acks() {
			acks = append(acks, a)
		}
	}()

	// 10 cases of 3 batches (more than the window), and one refused batch
	// in the middle.
	const cases = 10
	var ids []uint64
	refused := uint64(0)
	for i := 0; i < cases; i++ {
		caseID := kringdtest.CaseID()
		expected := kring.NoStream()
		var version uint64
		for _, batch := range kringdtest.WholeCase() {
			id, err := s.Send(ctx, caseID, expected, batch)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
			version += uint64(len(batch))
			expected = kring.Exact(version)
		}
		if i == cases/2 {
			bad := kringdtest.Cost()
			bad.OccurredAt = nil
			if refused, err = s.Send(ctx, caseID, kring.Any(), []*kringv1.Event{bad}); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, refused)
		}
	}
	if err := s.CloseSend(); err != nil {
		t.Fatal(err)
	}
	<-done
	if err := s.Err(); err != nil {
		t.Fatalf("stream ended with %v", err)
	}
	if len(acks) != len(ids) || len(s.Pending()) != 0 {
		t.Fatalf("%d acknowledgements for %d batches, %d pending", len(acks), len(ids), len(s.Pending()))
	}
	for i, a := range acks {
		if a.RequestID != ids[i] {
			t.Fatalf("acknowledgement %d is of request %d, want %d (in order)", i, a.RequestID, ids[i])
		}
		if a.RequestID == refused {
			if a.Err == nil || a.Err.Code != codes.InvalidArgument || len(a.Err.FieldViolations) != 1 ||
				a.Err.FieldViolations[0].Field != "events[0].occurred_at" {
				t.Fatalf("refused batch: %+v", a.Err)
			}
			continue
		}
		if a.Err != nil || a.Result == nil || a.Result.GetAlreadyRecorded() {
			t.Fatalf("batch %d: %v %v", a.RequestID, a.Err, a.Result)
		}
	}
}

func TestABatchOverTheLimitIsRefusedWithoutRetries(t *testing.T) {
	ctx := testContext(t)
	attempts := 0
	policy := kring.DefaultRetryPolicy()
	policy.OnRetry = func(int, *kring.Error, time.Duration) { attempts++ }
	c := dial(t, kringdtest.PartnerA, kring.WithRetry(policy))
	caseID, _ := appendPreparation(t, ctx, c)
	var batch []*kringv1.Event
	for range maxBatchEvents + 1 {
		batch = append(batch, kringdtest.Cost())
	}
	_, err := c.Append(ctx, caseID, kring.Any(), batch)
	kerr := asError(t, err)
	if kerr.Code != codes.ResourceExhausted || len(kerr.FieldViolations) == 0 || kerr.FieldViolations[0].Field != "events" {
		t.Fatalf("want RESOURCE_EXHAUSTED naming events, got %v %+v", kerr, kerr.FieldViolations)
	}
	if attempts != 0 || kerr.Attempts != 1 || kerr.Retryable() {
		t.Fatalf("a batch over a limit was retried (%d retries, %d attempts)", attempts, kerr.Attempts)
	}
}

func TestAnUnknownTokenIsUnauthenticated(t *testing.T) {
	ctx := testContext(t)
	c, err := kring.Dial(kringd(t).Address, kring.WithToken("krt_not-a-known-token"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Append(ctx, kringdtest.CaseID(), kring.NoStream(), []*kringv1.Event{kringdtest.Referral()})
	if kerr := asError(t, err); kerr.Code != codes.Unauthenticated || kerr.Attempts != 1 {
		t.Fatalf("got %v", kerr)
	}
}

func TestTLSWithATokenAndWithAClientCertificate(t *testing.T) {
	ctx := testContext(t)
	certs := t.TempDir()
	const certPartner = "go-partner-cert"
	if err := kringdtest.MakeCerts(certs, certPartner); err != nil {
		t.Fatal(err)
	}
	pem := func(name string) string { return certs + "/" + name }
	srv, err := kringdtest.StartWith(t.TempDir(), []string{"partner " + certPartner + " cert"},
		"--tls-cert", pem("server.pem"), "--tls-key", pem("server.key"), "--tls-client-ca", pem("ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := srv.Stop(); err != nil {
			t.Error(err)
		}
	}()

	serverOnly, err := kring.LoadTLSConfig(pem("ca.pem"), "", "")
	if err != nil {
		t.Fatal(err)
	}
	withCert, err := kring.LoadTLSConfig(pem("ca.pem"), pem(certPartner+".pem"), pem(certPartner+".key"))
	if err != nil {
		t.Fatal(err)
	}
	for name, opts := range map[string][]kring.Option{
		"token":              {kring.WithTLS(serverOnly), kring.WithToken(srv.Tokens[kringdtest.PartnerA])},
		"client certificate": {kring.WithTLS(withCert)},
	} {
		c, err := kring.Dial(srv.Address, opts...)
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.Append(ctx, kringdtest.CaseID(), kring.NoStream(), []*kringv1.Event{kringdtest.Referral()})
		c.Close()
		if err != nil || res.GetLastStreamVersion() != 1 {
			t.Errorf("over TLS with a %s: %v %v", name, res, err)
		}
	}

	// Without TLS the handshake fails: UNAVAILABLE, retried, then given up.
	plain, err := kring.Dial(srv.Address, kring.WithToken(srv.Tokens[kringdtest.PartnerA]),
		kring.WithRetry(kring.RetryPolicy{MaxAttempts: 2, InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	_, err = plain.Append(ctx, kringdtest.CaseID(), kring.NoStream(), []*kringv1.Event{kringdtest.Referral()})
	if kerr := asError(t, err); kerr.Code != codes.Unavailable || kerr.Attempts != 2 {
		t.Fatalf("plaintext to a TLS listener: %v", kerr)
	}
}
