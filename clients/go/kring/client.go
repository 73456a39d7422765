// Package kring is the Go partner library of Kring: it appends the events of
// Family Group Conference cases to kringd (IngestService), one batch at a
// time with retries that are safe, or many on a stream with one
// acknowledgement each, and reads the head of a case the partner may append
// to.
//
//	c, err := kring.Dial("kring.example.org:50051", kring.WithToken(token), kring.WithTLS(&tls.Config{}))
//	if err != nil { ... }
//	defer c.Close()
//	res, err := c.Append(ctx, "SYNTHETIC-0001", kring.NoStream(), events)
//
// Every error of a call is a *kring.Error (errors.As) with the gRPC code, the
// message and the structured details kringd sends: the field violations, the
// broken rule and, for a wrong expected version, the case's current version.
// The API is described in docs/api.md of the Kring repository; this
// package's README shows the common cases.
//
// A Client is safe for concurrent use by many goroutines.
package kring

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/kring-project/kring/clients/go/kringv1"
)

// Client is a connection to one kringd. Create it with Dial, end it with
// Close.
type Client struct {
	conn   *grpc.ClientConn
	ingest kringv1.IngestServiceClient
	opts   options
}

type options struct {
	token       string
	tls         *tls.Config
	retry       RetryPolicy
	window      int
	dialOptions []grpc.DialOption
}

// Option configures Dial.
type Option func(*options) error

// WithToken sends the bearer token (`kringctl token new --role partner`) on
// every call as the metadata "authorization: Bearer <token>". Without it,
// kringd in development mode (loopback, no --identities) takes the caller as
// the identity "local"; a server with an identities file answers
// UNAUTHENTICATED.
func WithToken(token string) Option {
	return func(o *options) error {
		if token == "" {
			return errors.New("kring: token: must not be empty")
		}
		for _, r := range token {
			if r <= ' ' || r > '~' {
				return errors.New("kring: token: must be printable ASCII without spaces")
			}
		}
		o.token = token
		return nil
	}
}

// WithTLS connects over TLS with this configuration (nil: the system's root
// CAs). Without it the connection is plaintext, which kringd accepts only on
// a loopback address. Put a client certificate in Certificates for mTLS.
func WithTLS(config *tls.Config) Option {
	return func(o *options) error {
		if config == nil {
			config = &tls.Config{}
		}
		o.tls = config
		return nil
	}
}

// WithRetry replaces DefaultRetryPolicy for Append and ReadCaseHead.
func WithRetry(p RetryPolicy) Option {
	return func(o *options) error {
		if err := p.check(); err != nil {
			return err
		}
		o.retry = p
		return nil
	}
}

// WithStreamWindow sets how many batches a Stream keeps unacknowledged at
// most (1 to 64, kringd's limit per stream). Default: 32, as kringctl.
func WithStreamWindow(n int) Option {
	return func(o *options) error {
		if n < 1 || n > 64 {
			return fmt.Errorf("kring: stream window: must be 1 to 64, got %d", n)
		}
		o.window = n
		return nil
	}
}

// WithDialOptions adds gRPC dial options (interceptors, keepalive, a
// custom dialer) after the ones this package sets.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) error {
		o.dialOptions = append(o.dialOptions, opts...)
		return nil
	}
}

// LoadTLSConfig builds a TLS configuration from PEM files: caFile is the CA
// that signed kringd's certificate (empty: the system's roots); certFile and
// keyFile a client certificate for mTLS (both or neither).
func LoadTLSConfig(caFile, certFile, keyFile string) (*tls.Config, error) {
	config := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("kring: ca file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kring: ca file: %s holds no PEM certificate", caFile)
		}
		config.RootCAs = pool
	}
	if (certFile == "") != (keyFile == "") {
		return nil, errors.New("kring: client certificate: give both the certificate and the key file, or neither")
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("kring: client certificate: %w", err)
		}
		config.Certificates = []tls.Certificate{cert}
	}
	return config, nil
}

// Dial returns a Client of the kringd at address ("host:port"). It does not
// wait for the connection: the first call connects, and a server that cannot
// be reached shows up as UNAVAILABLE (retried like any UNAVAILABLE).
func Dial(address string, opts ...Option) (*Client, error) {
	if address == "" {
		return nil, errors.New("kring: address: must be host:port")
	}
	o := options{retry: DefaultRetryPolicy(), window: 32}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	var dial []grpc.DialOption
	if o.tls != nil {
		dial = append(dial, grpc.WithTransportCredentials(credentials.NewTLS(o.tls)))
	} else {
		dial = append(dial, grpc.WithTransportCredentials(insecure.NewCredentials()))
	}
	if o.token != "" {
		dial = append(dial, grpc.WithPerRPCCredentials(bearerToken(o.token)))
	}
	dial = append(dial, o.dialOptions...)
	conn, err := grpc.NewClient(address, dial...)
	if err != nil {
		return nil, fmt.Errorf("kring: address: %w", err)
	}
	return &Client{conn: conn, ingest: kringv1.NewIngestServiceClient(conn), opts: o}, nil
}

// Close ends the connection. Calls in progress fail with CANCELLED.
func (c *Client) Close() error { return c.conn.Close() }

// Conn is the underlying gRPC connection, e.g. for the other kring.v1
// services of package kringv1.
func (c *Client) Conn() *grpc.ClientConn { return c.conn }

// Append stores one batch (all or nothing, in this order) in the case
// caseID, when the case is at the expected version, and returns where it
// landed. It returns when the batch is on disk.
//
// Events without an event_id get a random UUID first (written into the
// event, so the caller sees it). Every attempt sends the same events with
// the same ids: when an attempt fails with UNAVAILABLE, DEADLINE_EXCEEDED or
// RESOURCE_EXHAUSTED (see Error.Retryable) the batch is sent again after a
// backoff, and a batch that was stored although its acknowledgement was lost
// comes back with AppendResult.already_recorded and its original positions.
// That is success: nothing is stored twice.
//
// A refused batch is an *Error: INVALID_ARGUMENT with FieldViolations,
// FAILED_PRECONDITION with PreconditionViolations (the rule), ABORTED with
// CurrentVersion, PERMISSION_DENIED for a case of another partner.
func (c *Client) Append(ctx context.Context, caseID string, expected ExpectedVersion,
	events []*kringv1.Event) (*kringv1.AppendResult, error) {
	req, err := newAppendRequest(caseID, expected, events)
	if err != nil {
		return nil, err
	}
	var res *kringv1.AppendResult
	err = c.opts.retry.do(ctx, func(ctx context.Context) error {
		var err error
		res, err = c.ingest.Append(ctx, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// ReadCaseHead returns the head of a case the caller may append to: whether
// it exists, its version (the exact expected version of the next append),
// its last event id and position, and whether it is closed. A case of
// another partner is refused as an append to it would be
// (PERMISSION_DENIED).
//
// kringd records every call in its access log with the stated purpose (sent
// as the metadata "kring-purpose"): 1 to 200 characters of printable ASCII
// saying why, e.g. "resume after ABORTED". Retried like Append.
func (c *Client) ReadCaseHead(ctx context.Context, caseID, purpose string) (*kringv1.CaseHead, error) {
	if err := checkPurpose(purpose); err != nil {
		return nil, err
	}
	ctx = metadata.AppendToOutgoingContext(ctx, PurposeMetadata, purpose)
	req := &kringv1.ReadCaseHeadRequest{CaseId: caseID}
	var head *kringv1.CaseHead
	err := c.opts.retry.do(ctx, func(ctx context.Context) error {
		var err error
		head, err = c.ingest.ReadCaseHead(ctx, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	return head, nil
}

// PurposeMetadata is the request metadata that states why case-level data
// is read (docs/security.md, the access log).
const PurposeMetadata = "kring-purpose"

func checkPurpose(purpose string) error {
	ok := len(purpose) >= 1 && len(purpose) <= 200
	for i := 0; ok && i < len(purpose); i++ {
		ok = purpose[i] >= ' ' && purpose[i] <= '~'
	}
	if !ok {
		const rule = "must be 1-200 characters of printable ASCII (why the case head is read)"
		return &Error{Code: codes.InvalidArgument, Message: "purpose: " + rule,
			FieldViolations: []FieldViolation{{Field: "purpose", Description: rule}}}
	}
	return nil
}

// newAppendRequest gives every event without an id a new UUID and builds the
// request that every attempt sends.
func newAppendRequest(caseID string, expected ExpectedVersion, events []*kringv1.Event) (*kringv1.AppendRequest, error) {
	for i, e := range events {
		if e == nil {
			return nil, &Error{Code: codes.InvalidArgument, Message: fmt.Sprintf("events[%d]: is nil", i),
				FieldViolations: []FieldViolation{{Field: fmt.Sprintf("events[%d]", i), Description: "is nil"}}}
		}
		if e.GetEventId() == "" {
			e.EventId = NewEventID()
		}
	}
	return &kringv1.AppendRequest{CaseId: caseID, ExpectedVersion: expected.proto(), Events: events}, nil
}

// NewEventID returns a random (version 4) UUID in the lowercase form kringd
// requires for event, correlation and causation ids.
func NewEventID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("kring: crypto/rand: " + err.Error()) // never fails on supported platforms
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

// bearerToken sends "authorization: Bearer <token>" on every call. It does
// not demand TLS: kringd itself allows plaintext only on loopback.
type bearerToken string

func (t bearerToken) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(t)}, nil
}

func (bearerToken) RequireTransportSecurity() bool { return false }
